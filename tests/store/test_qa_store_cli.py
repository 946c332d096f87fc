"""The ``braintrust`` store commands on stores that are odd: from a newer version, damaged, full
of experiments, locked or written by another process meanwhile. Real stores, the command in a
subprocess."""

from __future__ import annotations

import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import pytest

from braintrust.store.sqlite_store import LocalStore
from delivery_helpers import subprocess_env
from test_qa_locked_store import lock_held

OLD = "2026-01-01T00:00:00+00:00"


def braintrust(*args: str, store: Path, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "braintrust", *args], cwd=store.parent,
                          env=subprocess_env(BRAINTRUST_LOCAL_DIR=str(store), PYTHONDONTWRITEBYTECODE="1", **env),
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def fill(store: Path, experiments: int, project: str = "p", backdated: bool = True) -> list[str]:
    """``experiments`` experiments of 3 rows each in ``project``; their ids, oldest first."""
    ids = []
    with LocalStore(store / "braintrust.sqlite") as local:
        project_id = local.get_or_create_project(project)["id"]
        for n in range(experiments):
            experiment = local.create_experiment(project_id, f"run-{n}")
            local.write_rows([{"id": f"r{i}", "experiment_id": experiment["id"], "input": i, "scores": {"ok": 1}}
                              for i in range(3)])
            ids.append(experiment["id"])
    if backdated:  # (prune keeps what was written to in the last minutes)
        with sqlite3.connect(store / "braintrust.sqlite") as conn:
            conn.execute("UPDATE experiments SET created = ?", (OLD,))
            conn.execute("UPDATE row_log SET created = ?", (OLD,))
        conn.close()
    return ids


def test_a_store_of_a_newer_version_is_left_byte_for_byte_as_it_was(tmp_path):
    """Even its journal mode: a newer version may keep its store out of WAL mode."""
    store = tmp_path / "store"
    fill(store, 1)
    database = store / "braintrust.sqlite"
    conn = sqlite3.connect(database)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    assert conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    conn.close()
    before = database.read_bytes()

    for command in (["list"], ["experiments"], ["compare"], ["prune", "--keep", "1"]):
        result = braintrust(*command, store=store)
        assert result.returncode == 1 and result.stdout == "", result
        assert f"{database} has schema version 99, newer than this pytest-braintrust understands" in result.stderr

    assert database.read_bytes() == before
    assert not Path(f"{database}-wal").exists()


def test_a_damaged_store_prints_nothing_but_the_error(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / "braintrust.sqlite").write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)
    result = braintrust("list", store=store)
    assert result.returncode == 1 and result.stdout == ""
    assert "cannot be read as a Braintrust store" in result.stderr and "move it aside" in result.stderr


def test_an_unknown_name_among_many_experiments_gets_a_short_error(tmp_path):
    store = tmp_path / "store"
    fill(store, 60, backdated=False)
    newest = ", ".join(f"run-{n}" for n in range(50, 60))
    for command, what in ((["show", "p", "nope"], "experiment"), (["compare", "p", "nope"], "experiment"),
                          (["compare", "p", "run-1", "nope"], "base experiment")):
        result = braintrust(*command, store=store)
        assert result.returncode == 1, result
        assert f"no {what} 'nope' in project 'p'; experiments: {newest} (and 50 older)." in result.stderr
        assert len(result.stderr) < 400, result.stderr


def test_the_viewers_answer_at_once_while_another_process_holds_the_write_lock(tmp_path):
    """A run stopped mid-write holds the lock: reading never waited for it (30 s per experiment
    whose rows were not folded yet, then "database is locked" and exit 1)."""
    store = tmp_path / "store"
    fill(store, 12, backdated=False)
    with lock_held(store / "braintrust.sqlite"):
        started = time.monotonic()
        results = {command: braintrust(command, store=store, timeout=25) for command in ("list", "experiments", "show", "compare")}
        took = time.monotonic() - started
    for command, result in results.items():
        assert result.returncode == 0, (command, result.stderr)
    assert "run-11  " in results["list"].stdout and "ok=100.00%" in results["experiments"].stdout
    assert "rows:     3" in results["show"].stdout
    assert took < 15, took


def test_prune_with_nothing_to_delete_does_not_wait_for_a_held_lock(tmp_path):
    store = tmp_path / "store"
    fill(store, 2)
    with lock_held(store / "braintrust.sqlite"):
        result = braintrust("prune", "--keep", "5", store=store, BRAINTRUST_LOCAL_BUSY_TIMEOUT="3")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Nothing to prune: no more than 5 experiments in each project.\n"


WRITER = """
import sys, pathlib
from braintrust.store.sqlite_store import LocalStore
store = LocalStore(sys.argv[1])
project = store.get_or_create_project("p")
experiment = store.create_experiment(project["id"], "live")
print(experiment["id"], flush=True)
batch = 0
while not pathlib.Path(sys.argv[2]).exists():
    store.write_rows([{"id": f"b{batch}-{i}", "experiment_id": experiment["id"], "input": i} for i in range(50)])
    batch += 1
print(batch, flush=True)
"""


def test_prune_while_another_process_writes_loses_none_of_its_rows(tmp_path):
    store = tmp_path / "store"
    old = fill(store, 20)
    database = store / "braintrust.sqlite"
    stop = tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(database), str(stop)], stdout=subprocess.PIPE, text=True,
                              env=subprocess_env())
    live = writer.stdout.readline().strip()
    result = braintrust("prune", "--keep", "2", store=store)
    stop.touch()
    batches = int(writer.stdout.readline())
    assert writer.wait(60) == 0
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Deleted 19 experiments (p: 19), kept the newest 2 of each project"), result.stdout
    with LocalStore(database) as local:
        assert [e["name"] for e in local.list_experiments()] == ["run-19", "live"]
        assert batches > 0 and local.count_rows("experiment", live) == batches * 50
        assert all(local.count_rows("experiment", gone) == 0 for gone in old[:19])
        assert local.connection().execute("PRAGMA integrity_check").fetchone() == ("ok",)


def read_only_folder_command(folder: Path, command: list[str]) -> list[str] | None:
    """``command`` run where ``folder`` cannot be written: a read-only bind mount in a mount
    namespace of its own (root, who may write any folder), else the folder made 0500; None when
    neither can be had."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        return command
    if shutil.which("unshare") is None:
        return None
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    if probe.returncode != 0:
        return None
    where = shlex.quote(str(folder))
    return ["unshare", "-m", "sh", "-c", f"mount --bind {where} {where} && mount -o remount,bind,ro {where} {where} && "
            f"exec {shlex.join(command)}"]


def test_a_store_in_a_folder_that_cannot_be_written_is_read_and_prune_says_why_it_cannot(tmp_path):
    """A store copied from CI to a read-only place, or another user's: SQLite could not open it
    ("unable to open database file", naming neither the file nor a fix)."""
    store = tmp_path / "store"
    fill(store, 3)
    before = (store / "braintrust.sqlite").read_bytes()
    env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(store), PYTHONDONTWRITEBYTECODE="1")
    outputs = {}
    for command in (["list"], ["show"], ["experiments"], ["prune", "--keep", "1"]):
        wrapped = read_only_folder_command(store, [sys.executable, "-m", "braintrust", *command])
        if wrapped is None:
            pytest.skip("no way to make a folder read-only here")
        outputs[command[0]] = subprocess.run(wrapped, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    store.chmod(0o700)
    for name in ("list", "show", "experiments"):
        assert outputs[name].returncode == 0, (name, outputs[name].stderr)
    assert "run-2  " in outputs["list"].stdout and "ok=100.00%" in outputs["experiments"].stdout
    assert "rows:     3" in outputs["show"].stdout
    prune = outputs["prune"]
    assert prune.returncode == 1 and "braintrust prune: nothing was deleted" in prune.stderr
    assert f"{store / 'braintrust.sqlite'} cannot be written here" in prune.stderr, prune.stderr
    assert (store / "braintrust.sqlite").read_bytes() == before


def test_names_with_control_or_wide_characters_keep_tables_on_their_lines_and_aligned(tmp_path):
    """A name with a newline split its table row, an escape sequence reached the terminal, and
    wide characters (CJK, emoji) pushed the next columns out of line."""
    store = tmp_path / "store"
    with LocalStore(store / "braintrust.sqlite") as local:
        project = local.get_or_create_project("p")
        for name in ("plain", "two\nlines", "bell\x1b]0;title\x07", "評価 🚀", "quote's \"dq\""):
            local.create_experiment(project["id"], name)
    result = braintrust("list", store=store)
    assert result.returncode == 0 and "\x1b" not in result.stdout and "\x07" not in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("  experiment  ")]
    assert len(rows) == 5, result.stdout
    assert "  experiment  two\\nlines  " in result.stdout and "bell\\x1b]0;title\\x07" in result.stdout

    def column_of_date(line: str) -> int:
        before = line[: line.index(" 20")]
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in before)

    assert len({column_of_date(line) for line in rows}) == 1, rows


def test_damage_found_while_reading_names_the_store_and_the_fix(tmp_path):
    """Damage in the middle of the file passes the checks made on opening; the read that meets
    it said only "braintrust: database disk image is malformed"."""
    store = tmp_path / "store"
    with LocalStore(store / "braintrust.sqlite") as local:
        project = local.get_or_create_project("p")
        for n in range(2):
            experiment = local.create_experiment(project["id"], f"run-{n}")
            local.write_rows([{"id": f"r{i}", "experiment_id": experiment["id"], "input": i, "output": "x" * 1000,
                               "scores": {"ok": 1}} for i in range(1000)])
        local.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    database = store / "braintrust.sqlite"
    size = database.stat().st_size
    with open(database, "r+b") as file:
        file.seek(size * 2 // 5)
        file.write(b"\xff" * (size * 2 // 5))
    for command in ("experiments", "compare"):
        result = braintrust(command, store=store)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert f"braintrust: {database} cannot be read as a Braintrust store (database disk image is malformed)" \
            in result.stderr, result.stderr
        assert "move it aside" in result.stderr


def test_a_store_whose_schema_version_is_not_a_number_is_named_as_damaged(tmp_path):
    store = tmp_path / "store"
    fill(store, 1)
    database = store / "braintrust.sqlite"
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE meta SET value = 'two' WHERE key = 'schema_version'")
    conn.close()
    before = database.read_bytes()
    result = braintrust("list", store=store)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert (f"braintrust: {database} cannot be read as a Braintrust store (its schema version is 'two', not a number): "
            "it is damaged") in result.stderr, result.stderr
    assert database.read_bytes() == before
