"""The local store while another process holds its write lock and does not let go (a run
stopped mid-write, a stuck tool): writers wait the whole busy timeout once, then briefly, in
every process, until the lock is released; readers do not wait for it at all."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from braintrust.store.sqlite_store import LocalStore
from delivery_helpers import subprocess_env

QUIET = ("-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:hypothesispytest", "-p", "no:benchmark")
HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()  # until the test closes our stdin
conn.execute("ROLLBACK")
"""


@contextmanager
def lock_held(database: Path) -> Iterator[None]:
    """Another process holds the store's write lock inside the block."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(database)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.stdin.close()
        holder.wait(10)


def timed_write(store: LocalStore, experiment_id: str, row_id: str) -> tuple[float, str]:
    """Seconds a write took and its error ("" when it got through)."""
    started = time.monotonic()
    try:
        store.write_rows([{"id": row_id, "experiment_id": experiment_id, "input": row_id}])
        error = ""
    except Exception as exc:
        error = str(exc)
    return time.monotonic() - started, error


def make_store(path: Path) -> str:
    with LocalStore(path) as store:
        project = store.get_or_create_project("p")
        experiment = store.create_experiment(project["id"], "e")
        store.write_rows([{"id": "before", "experiment_id": experiment["id"]}])
        return experiment["id"]


WRITE_IN_ANOTHER_PROCESS = """
import sys, time
from braintrust.store.sqlite_store import LocalStore
store = LocalStore(sys.argv[1], timeout_seconds=float(sys.argv[2]))
started = time.monotonic()
try:
    store.write_rows([{"id": "other-process", "experiment_id": sys.argv[3]}])
    print("written", time.monotonic() - started)
except Exception as exc:
    print("failed", time.monotonic() - started, exc)
"""


def test_a_stuck_lock_is_waited_for_once_then_briefly_by_every_process_until_it_is_released(tmp_path):
    database = tmp_path / "braintrust.sqlite"
    experiment = make_store(database)
    store = LocalStore(database, timeout_seconds=3)
    with lock_held(database):
        first, error = timed_write(store, experiment, "one")
        assert 2.5 < first < 5, first
        assert "database is locked (another process held its write lock for the whole 3 s wait" in error, error
        second, error = timed_write(store, experiment, "two")
        assert second < 2, second  # (the whole 3 s again without the fix)
        assert "still holds its write lock" in error, error
        other = subprocess.run([sys.executable, "-c", WRITE_IN_ANOTHER_PROCESS, str(database), "3", experiment],
                               capture_output=True, text=True, timeout=30)
        kind, seconds, *_ = other.stdout.split()
        assert kind == "failed" and float(seconds) < 2, other.stdout + other.stderr
    took, error = timed_write(store, experiment, "three")  # released: writes go through again, at once
    assert error == "" and took < 1
    assert not Path(f"{database}-locked").exists()
    assert sorted(r["id"] for r in store.fetch_rows("experiment", experiment)[0]) == ["before", "three"]
    store.close()


def test_a_stale_mark_of_a_lock_long_released_costs_nothing(tmp_path):
    database = tmp_path / "braintrust.sqlite"
    experiment = make_store(database)
    mark = Path(f"{database}-locked")
    mark.touch()
    with LocalStore(database, timeout_seconds=3) as store:
        took, error = timed_write(store, experiment, "after")
    assert error == "" and took < 1 and not mark.exists()


def test_reads_do_not_wait_for_a_held_write_lock(tmp_path):
    """Reads fold the row log into a table, which takes the write lock; with the lock held they
    fold in memory instead, at once, and give the same rows."""
    database = tmp_path / "braintrust.sqlite"
    experiment = make_store(database)
    with LocalStore(database) as writer:
        writer.write_rows([{"id": f"r{i}", "experiment_id": experiment, "input": i} for i in range(5)])
    with lock_held(database), LocalStore(database) as reader:  # (the default 30 s busy timeout)
        started = time.monotonic()
        rows, _ = reader.fetch_rows("experiment", experiment)
        count = reader.count_rows("experiment", experiment)
        took = time.monotonic() - started
    assert took < 2, took
    assert sorted(r["id"] for r in rows) == ["before", "r0", "r1", "r2", "r3", "r4"] and count == 6


def test_the_busy_timeout_is_configurable_and_a_bad_value_is_named(tmp_path, monkeypatch):
    from braintrust.store.connection import StoreError

    monkeypatch.setenv("BRAINTRUST_LOCAL_BUSY_TIMEOUT", "2.5")
    with LocalStore(tmp_path / "braintrust.sqlite") as store:
        assert store.connection().execute("PRAGMA busy_timeout").fetchone()[0] == 2500
    monkeypatch.setenv("BRAINTRUST_LOCAL_BUSY_TIMEOUT", "soon")
    store = LocalStore(tmp_path / "braintrust.sqlite")  # (said by every use, as the store's other errors)
    with pytest.raises(StoreError, match="BRAINTRUST_LOCAL_BUSY_TIMEOUT='soon' is not a number; set it to e.g. 30.0"):
        store.list_projects()


def test_a_bad_busy_timeout_stops_the_run_before_any_test_and_says_why(tmp_path):
    """A malformed ``BRAINTRUST_LOCAL_BUSY_TIMEOUT`` once let the run pass with every row spilled;
    it is a usage error naming the variable and the fix, before any test runs (and logs)."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n')
    (folder / "test_suite.py").write_text(SUITE)
    env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(folder / ".braintrust"), PYTHONDONTWRITEBYTECODE="1",
                         BRAINTRUST_LOCAL_BUSY_TIMEOUT="-3")
    run = subprocess.run([sys.executable, "-m", "pytest", *QUIET, "-q", "--braintrust"], cwd=folder, env=env,
                         capture_output=True, text=True, timeout=60)
    output = run.stdout + run.stderr
    assert run.returncode == 4, output
    assert "BRAINTRUST_LOCAL_BUSY_TIMEOUT='-3' must be at least 0.001; unset it to use the default 30.0" in output, output
    assert "passed" not in output and not list(folder.rglob("*.sqlite")) and not list(folder.rglob("spill/*")), output


SUITE = '''
import pytest
from pytest_braintrust import eval_case


@eval_case()
@pytest.mark.parametrize("n", range(6))
def test_case(n, braintrust_case):
    return n
'''


def test_an_xdist_run_on_a_stuck_store_waits_once_and_spills_every_row(tmp_path):
    """The known gap: under ``-n 2`` a worker waited the whole busy timeout to create the
    experiment, then every worker waited again at the final flush. Now the wait happens once,
    every row spills, and the summary names the store and the lock."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "pyproject.toml").write_text('[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n')
    (folder / "test_suite.py").write_text(SUITE)
    store_dir = folder / ".braintrust"
    env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(store_dir), PYTHONDONTWRITEBYTECODE="1", BRAINTRUST_LOCAL_BUSY_TIMEOUT="8")
    command = [sys.executable, "-m", "pytest", *QUIET, "-q", "--braintrust", "--braintrust-project", "stuck"]
    started = time.monotonic()
    first = subprocess.run([*command, "-n", "2"], cwd=folder, env=env, capture_output=True, text=True, timeout=60)
    unlocked = time.monotonic() - started  # (what starting xdist's workers costs on this machine now)
    assert "rows: 12 sent, 0 spilled, 0 dropped" in first.stdout, first.stdout + first.stderr
    with lock_held(store_dir / "braintrust.sqlite"):
        started = time.monotonic()
        run = subprocess.run([*command, "-n", "2"], cwd=folder, env=env, capture_output=True, text=True, timeout=90)
        took = time.monotonic() - started
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "rows: 0 sent, 12 spilled, 0 dropped" in output, output
    assert f"{store_dir / 'braintrust.sqlite'}: database is locked (another process" in output, output
    assert "find the process that holds the store (another test run?)" in output, output
    assert "is writable and is on a local disk" not in output, output  # (advice for another problem)
    # One whole wait (8 s) beyond an unlocked run, not one more per worker at the flush (~19 s).
    assert took < unlocked + 8 + 5, (took, unlocked, output)


def test_a_mark_older_than_its_lifetime_is_not_believed_and_goes(tmp_path):
    database = tmp_path / "braintrust.sqlite"
    experiment = make_store(database)
    mark = Path(f"{database}-locked")
    mark.touch()
    old = time.time() - 3600
    os.utime(mark, (old, old))
    with LocalStore(database, timeout_seconds=3) as store, lock_held(database):
        took, error = timed_write(store, experiment, "during")
    assert 2.5 < took < 5 and "for the whole 3 s wait" in error  # a whole wait: the old mark said nothing
    assert mark.exists() and mark.stat().st_mtime > old + 3000  # (made again by that wait)
