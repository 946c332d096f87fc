"""One local store, several processes: pytest runs writing it at once (with xdist workers and
the helper writer process) while ``braintrust show`` reads it, in a folder whose path has spaces
and non-ASCII letters; and a store file that a killed process left damaged."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

from braintrust.store.sqlite_store import LocalStore

QUIET = ("-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:hypothesispytest", "-p", "no:benchmark")

SUITE = '''
import pytest
from pytest_braintrust import eval_case


@eval_case()
@pytest.mark.parametrize("n", range(N))
def test_case(n, braintrust_case):
    for step in range(SPANS):
        braintrust_case.span.start_span(name=f"step-{step}").end()
    return n
'''


def make_project(folder: Path, cases: int, spans: int) -> None:
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text('[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n')
    (folder / "test_suite.py").write_text(SUITE.replace("range(N)", f"range({cases})").replace("range(SPANS)", f"range({spans})"))


def environment(store_dir: Path) -> dict[str, str]:
    return {**os.environ, "BRAINTRUST_LOCAL_DIR": str(store_dir), "PYTHONDONTWRITEBYTECODE": "1"}


def pytest_process(folder: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pytest", *QUIET, "-q", "--braintrust", *args], cwd=folder, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen, timeout: float = 60) -> str:
    try:
        output = process.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"hung: {process.args}") from None
    assert process.returncode == 0, output
    return output


def roots(store: LocalStore, experiment_id: str) -> list[str]:
    rows, cursor, names = [], None, []
    while True:
        page, cursor = store.fetch_rows("experiment", experiment_id, cursor=cursor)
        rows.extend(page)
        if not cursor:
            break
    names = [r["span_attributes"]["name"] for r in rows if not r.get("span_parents")]
    return sorted(names)


def test_runs_writing_one_store_at_once_while_it_is_read(tmp_path):
    """Two runs (one of them with two xdist workers) of 2,000+ rows each, so each process hands
    its rows to a writer process, write one store at once while ``braintrust show`` reads it:
    every row arrives, every reader succeeds, and the files stay private."""
    folder = tmp_path / "a project" / "évals 評価"
    store_dir = folder / ".braintrust"
    make_project(folder, cases=200, spans=10)  # 2,400 rows a run
    env = environment(store_dir)
    runs = [pytest_process(folder, env, "--braintrust-project", "one"),
            pytest_process(folder, env, "--braintrust-project", "two", "-n", "2")]
    failed_reads, reads = [], 0
    while any(run.poll() is None for run in runs):
        if (store_dir / "braintrust.sqlite").exists():
            reads += 1
            show = subprocess.run([sys.executable, "-m", "braintrust", "show", "--limit", "1"], cwd=folder, env=env,
                                  capture_output=True, text=True, timeout=30)
            if show.returncode != 0 and "has no experiment" not in show.stdout + show.stderr:
                failed_reads.append(show.stdout + show.stderr)
        time.sleep(0.1)
    outputs = [finish(run) for run in runs]
    assert reads and failed_reads == []
    for output in outputs:
        assert "rows: 2400 sent, 0 spilled, 0 dropped" in output, output
    with LocalStore(store_dir / "braintrust.sqlite") as store:
        for project in ("one", "two"):
            (experiment,) = store.list_experiments(store.get_project(name=project)["id"])
            assert roots(store, experiment["id"]) == sorted(f"test_case[{n}]" for n in range(200))
        assert store.connection().execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert stat.S_IMODE(store_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((store_dir / "braintrust.sqlite").stat().st_mode) == 0o600


def test_a_damaged_store_spills_the_rows_of_every_worker_into_one_experiment(tmp_path):
    """A store file cut short (a killed process, a full disk): an xdist run names the file and
    the fix, spills every row, and after the file is moved aside the replay makes one experiment
    of the run in the new store (not one per worker)."""
    folder = tmp_path / "project with spaces"
    store_dir = folder / ".braintrust"
    make_project(folder, cases=6, spans=0)
    env = environment(store_dir)
    finish(pytest_process(folder, env, "--braintrust-project", "damaged"))
    database = store_dir / "braintrust.sqlite"
    with open(database, "r+b") as file:
        file.truncate(database.stat().st_size // 2)

    output = finish(pytest_process(folder, env, "--braintrust-project", "damaged", "-n", "2"))
    assert "rows: 0 sent, 12 spilled, 0 dropped" in output, output
    assert f"{database} cannot be read as a Braintrust store" in output, output
    assert "move it aside (a new store is then made in its place)" in output, output
    spill = store_dir / "spill"
    assert len({path.name.split("-")[2] for path in spill.glob("spill-*.json")}) == 2, output  # (both workers spilled)

    database.rename(tmp_path / "damaged.sqlite")
    replay = subprocess.run([sys.executable, "-m", "braintrust", "replay", str(spill)], cwd=folder, env=env,
                            capture_output=True, text=True, timeout=60)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    with LocalStore(database) as store:
        experiments = store.list_experiments()
        assert len(experiments) == 1, [e["name"] for e in experiments]
        assert roots(store, experiments[0]["id"]) == sorted(f"test_case[{n}]" for n in range(6))


def test_a_store_locked_by_a_stuck_process_spills_within_the_deadline(tmp_path):
    """Another process holds the store's write lock and never lets go (stopped mid-write): the
    run does not wait for it past the flush deadline, and its rows spill, with the file named."""
    folder = tmp_path / "locked"
    store_dir = folder / ".braintrust"
    make_project(folder, cases=3, spans=0)
    env = {**environment(store_dir), "BRAINTRUST_FLUSH_TIMEOUT": "2"}
    finish(pytest_process(folder, env, "--braintrust-project", "locked"))
    holder = sqlite3.connect(store_dir / "braintrust.sqlite", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        output = finish(pytest_process(folder, env, "--braintrust-project", "locked"), timeout=30)
        took = time.monotonic() - started
    finally:
        holder.rollback()
        holder.close()
    assert took < 15, output
    assert "rows: 0 sent, 6 spilled, 0 dropped" in output, output
    assert f"the local Braintrust store {store_dir / 'braintrust.sqlite'}: database is locked" in output, output
