"""QA (fourth round) of the local store under bad conditions: the database file deleted or
replaced while a process has it open, and a full disk. Real SQLite files, a real writer
process, a logger in a subprocess, ``braintrust replay`` as a command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from braintrust.delivery import local_backend
from braintrust.delivery.local_backend import LocalBackend
from braintrust.store.connection import StoreError
from braintrust.store.sqlite_store import LocalStore
from delivery_helpers import subprocess_env


class Deadline:
    def remaining(self) -> float:
        return 10.0

    def expired(self) -> bool:
        return False


def rows(prefix: str, count: int) -> list[dict]:
    return [{"id": f"{prefix}-{i}", "experiment_id": "e", "input": {"n": i}} for i in range(count)]


def export(backend: LocalBackend, batch: list[dict]):
    encoded = [json.dumps(row, separators=(",", ":")).encode() for row in batch]
    return backend.export(batch, encoded, Deadline())


def remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def stored_ids(path: Path) -> list[str]:
    with LocalStore(path) as store:
        return sorted(row["id"] for row in store.fetch_rows("experiment", "e")[0])


def test_a_write_to_a_store_deleted_while_open_is_refused_not_lost(tmp_path):
    """A process keeps its connection while the store file is deleted (`rm -rf .braintrust`, a
    cleanup fixture) or moved aside and made again. Its writes went on "succeeding" into the
    deleted file: rows counted as written, then gone when the process ended. Now each such
    write is refused with an error that names the file and what to do."""
    path = tmp_path / "store" / "braintrust.sqlite"
    store = LocalStore(path)
    store.write_rows(rows("before", 2))
    remove_database(path)
    with pytest.raises(StoreError, match="was deleted or replaced while this process had it open"):
        store.write_rows(rows("after", 2))
    with pytest.raises(StoreError, match="`braintrust replay` sends them"):
        store.write_rows(rows("after", 2))  # (every later write too, not only the first)

    with LocalStore(path) as fresh:  # another process makes the store again at that path
        fresh.write_rows(rows("new", 1))
    with pytest.raises(StoreError, match=str(path).replace("\\", "\\\\")):
        store.write_rows(rows("late", 1))
    store.close()
    assert stored_ids(path) == ["new-0"]


def test_a_store_replaced_under_the_writer_process_fails_the_batch_and_says_why(tmp_path, monkeypatch):
    """The same through the writer process: the batch fails whole (so it spills), with the
    reason, never accepted into the deleted file."""
    monkeypatch.setattr(local_backend, "WRITER_AFTER_ROWS", 0)
    path = tmp_path / ".braintrust" / "braintrust.sqlite"
    backend = LocalBackend(path)
    try:
        assert export(backend, rows("first", 1)).accepted == 1  # written here; starts the writer
        end = time.monotonic() + 20
        while backend._ready_writer() is None:
            assert time.monotonic() < end, "the writer process did not start"
            time.sleep(0.01)
        assert export(backend, rows("second", 3)).accepted == 3 and backend.rows_by_writer == 3
        path.rename(tmp_path / "aside.sqlite")
        Path(f"{path}-wal").rename(tmp_path / "aside.sqlite-wal")
        Path(f"{path}-shm").unlink()
        LocalStore(path).close()  # a new store in its place

        result = export(backend, rows("third", 4))
        assert (result.accepted, [reason for _, reason in result.failed]) == (0, ["local_store"] * 4)
        assert result.error.startswith("could not write 4 rows: the local Braintrust store ")
        assert "was deleted or replaced" in result.error and backend.rows_by_writer == 3
    finally:
        backend.close()
    assert stored_ids(path) == []
    assert stored_ids(tmp_path / "aside.sqlite") == ["first-0", "second-0", "second-1", "second-2"]


LOGGER = textwrap.dedent("""
    import shutil, sys, braintrust
    experiment = braintrust.init(project="p", experiment="nightly")
    for i in range(3):
        experiment.log(input={"i": i}, output=i, scores={"ok": 1}, id=f"early-{i}")
    print("first", experiment.flush().accepted, flush=True)
    shutil.rmtree(sys.argv[1])
    for i in range(5):
        experiment.log(input={"i": i}, output=i, scores={"ok": 1}, id=f"late-{i}")
    result = experiment.flush()
    print("second", result.produced, result.accepted, result.spilled, result.dropped, flush=True)
""")


def test_rows_logged_after_the_store_folder_was_deleted_spill_and_replay_into_the_new_store(tmp_path):
    """End to end: a logger whose store folder is deleted mid-run. produced == accepted +
    spilled, and `braintrust replay` puts the spilled rows into the store made again there,
    under an experiment of the same name."""
    store = tmp_path / "project" / ".braintrust"
    env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(store), PYTHONDONTWRITEBYTECODE="1")
    run = subprocess.run([sys.executable, "-c", LOGGER, str(store)], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["first 3", "second 8 3 5 {}"], run.stdout + run.stderr
    assert "was deleted or replaced while this process had it open" in run.stderr

    replayed = subprocess.run([sys.executable, "-m", "braintrust", "replay"], cwd=tmp_path / "project", env=env,
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    with LocalStore(store / "braintrust.sqlite") as fresh:
        project = fresh.get_project(name="p")
        experiment = fresh.get_experiment(project_id=project["id"], name="nightly")
        ids = sorted(row["id"] for row in fresh.fetch_rows("experiment", experiment["id"])[0])
    assert ids == [f"late-{i}" for i in range(5)]


def test_a_full_disk_is_named_with_its_fix(tmp_path):
    """SQLite's "database or disk is full" was followed by the fix for a missing or read-only
    folder ("check that the folder exists, is writable and is on a local disk"). Now it says to
    free space or move the store, and how the spilled rows come back. (The limit on the
    database's pages is SQLite's own way to make its disk full.)"""
    path = tmp_path / "store" / "braintrust.sqlite"
    backend = LocalBackend(path)
    try:
        assert export(backend, rows("small", 1)).accepted == 1
        conn = backend.store.connection()
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")
        big = [{"id": f"big-{i}", "experiment_id": "e", "input": "x" * 100_000} for i in range(5)]
        result = export(backend, big)
    finally:
        backend.close()
    assert (result.accepted, len(result.failed)) == (0, 5)
    assert "database or disk is full; free space on the disk that holds the store" in result.error
    assert "`braintrust replay` sends the spilled rows" in result.error
    assert stored_ids(path) == ["small-0"]


def test_a_version_1_store_on_a_read_only_mount_is_still_read(tmp_path):
    """README: a store in a folder this process cannot write is still read by the commands. A
    store made before attachments (schema version 1) was upgraded on open, a write: on a
    read-only mount `braintrust list` and `show` failed with "attempt to write a readonly
    database". Now it is read as it is."""
    from test_qa_store_cli import read_only_folder_command

    store = tmp_path / "store"
    with LocalStore(store / "braintrust.sqlite") as local:
        project = local.get_or_create_project("p")
        experiment = local.create_experiment(project["id"], "old-run")
        local.write_rows([{"id": "r1", "experiment_id": experiment["id"], "input": 1, "scores": {"ok": 1}}])
        conn = local.connection()
        conn.execute("DROP TABLE attachments")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = (store / "braintrust.sqlite").read_bytes()
    env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(store), PYTHONDONTWRITEBYTECODE="1")
    outputs = {}
    for command in (["list"], ["show", "p", "old-run"], ["attachment", "abc"]):
        wrapped = read_only_folder_command(store, [sys.executable, "-m", "braintrust", *command])
        if wrapped is None:
            pytest.skip("no way to make a folder read-only here")
        outputs[command[0]] = subprocess.run(wrapped, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    store.chmod(0o700)
    attachment = outputs.pop("attachment")  # (no attachments table: none found, said so)
    assert attachment.returncode == 1 and "no attachment with a key starting 'abc'" in attachment.stderr, attachment.stderr
    for name, done in outputs.items():
        assert done.returncode == 0, (name, done.stderr)
    assert "old-run" in outputs["list"].stdout and "rows:     1" in outputs["show"].stdout
    assert (store / "braintrust.sqlite").read_bytes() == before
    with LocalStore(store / "braintrust.sqlite") as local:  # where it can be written, it is upgraded
        assert local.get_attachment("nothing") is None
        assert local.connection().execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
