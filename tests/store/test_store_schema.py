"""Creating the store: files, modes, WAL, schema version, default location."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from braintrust.store import location
from braintrust.store.connection import SCHEMA_VERSION, StoreError
from braintrust.store.sqlite_store import LocalStore


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_store_creates_private_folder_and_files(tmp_path):
    path = tmp_path / "deep" / ".braintrust" / "braintrust.sqlite"
    store = LocalStore(path)
    store.get_or_create_project("p")  # first use opens the database
    assert _mode(path.parent) == 0o700
    for suffix in ("", "-wal", "-shm"):
        assert os.path.exists(f"{path}{suffix}"), suffix
        assert _mode(f"{path}{suffix}") == 0o600, suffix
    store.close()


def test_a_new_store_folder_is_kept_out_of_git(tmp_path):
    """The store holds test data: like .pytest_cache, a .braintrust folder we create ignores
    itself, whether the store or a spill created it; a folder that existed is left as it is."""
    import subprocess

    from braintrust.delivery.spill import ensure_private_dir

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    LocalStore(tmp_path / ".braintrust" / "braintrust.sqlite").list_projects()
    ensure_private_dir(tmp_path / "sub" / ".braintrust" / "spill")  # rows spilled before any store
    (tmp_path / "mine").mkdir()
    LocalStore(tmp_path / "mine" / "braintrust.sqlite").list_projects()  # BRAINTRUST_LOCAL_DIR=mine
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=tmp_path,
                            capture_output=True, text=True, check=True).stdout
    assert ".braintrust" not in status and "mine/braintrust.sqlite" in status
    assert (tmp_path / ".braintrust" / ".gitignore").read_text() == location.GITIGNORE
    assert not (tmp_path / "mine" / ".gitignore").exists()


def test_modes_are_private_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        store = LocalStore(tmp_path / "s" / "braintrust.sqlite")
        store.list_projects()
    finally:
        os.umask(old)
    assert _mode(tmp_path / "s") == 0o700
    assert _mode(tmp_path / "s" / "braintrust.sqlite") == 0o600
    store.close()


def test_an_existing_store_folder_is_tightened_but_other_folders_are_not(tmp_path):
    made_by_someone_else = tmp_path / ".braintrust"
    made_by_someone_else.mkdir(mode=0o755)
    os.chmod(made_by_someone_else, 0o755)
    LocalStore(made_by_someone_else / "braintrust.sqlite").list_projects()
    assert _mode(made_by_someone_else) == 0o700
    chosen = tmp_path / "shared"
    chosen.mkdir()
    os.chmod(chosen, 0o755)
    LocalStore(chosen / "braintrust.sqlite").list_projects()
    assert _mode(chosen) == 0o755
    assert _mode(chosen / "braintrust.sqlite") == 0o600


def test_wal_mode_and_schema_version(tmp_path):
    store = LocalStore(tmp_path / "braintrust.sqlite")
    conn = store.connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 10_000
    version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
    assert int(version) == SCHEMA_VERSION
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"projects", "experiments", "datasets", "row_log", "object_rows", "objects",
            "resolved_refs", "spilled_batches", "meta"} <= tables
    store.close()


def test_reopening_keeps_data_and_does_not_reapply_schema(tmp_path):
    path = tmp_path / "braintrust.sqlite"
    with LocalStore(path) as store:
        project = store.get_or_create_project("p")
    with LocalStore(path) as again:
        assert again.get_project(name="p") == project


def test_a_newer_schema_is_refused_with_a_fix(tmp_path):
    path = tmp_path / "braintrust.sqlite"
    LocalStore(path).list_projects()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer.*BRAINTRUST_LOCAL_DIR"):
        LocalStore(path).list_projects()


def test_a_file_that_is_not_a_store_is_refused_with_a_fix_and_left_alone(tmp_path):
    path = tmp_path / "braintrust.sqlite"
    path.write_bytes(b"\x00junk" * 1000)
    with pytest.raises(StoreError, match="cannot be read as a Braintrust store .*move it aside.*BRAINTRUST_LOCAL_DIR"):
        LocalStore(path).list_projects()
    assert path.read_bytes() == b"\x00junk" * 1000


def test_another_programs_sqlite_database_is_refused_and_left_exactly_as_it_was(tmp_path):
    path = tmp_path / "braintrust.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE foo (x)")
    os.chmod(path, 0o644)
    before = path.read_bytes()
    with pytest.raises(StoreError, match=r"is an SQLite database but not a Braintrust store \(its tables: foo\).*left as it is"):
        LocalStore(path).list_projects()
    assert path.read_bytes() == before and path.stat().st_mode & 0o777 == 0o644  # (not even tightened)
    assert not Path(f"{path}-wal").exists()
    text = tmp_path / "notes.txt"
    text.write_text("hi\n")
    os.chmod(text, 0o644)
    with pytest.raises(StoreError, match="cannot be read as a Braintrust store"):
        LocalStore(text).list_projects()
    assert text.stat().st_mode & 0o777 == 0o644


def test_default_path_follows_location(tmp_path, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_LOCAL_DIR", str(tmp_path / "custom"))
    store = LocalStore()
    assert store.path == location.database_path()
    assert store.path == (tmp_path / "custom" / "braintrust.sqlite").resolve()
    store.get_or_create_project("p")
    assert store.path.is_file()
    store.close()


def test_spill_bookkeeping(tmp_path):
    store = LocalStore(tmp_path / "braintrust.sqlite")
    store.record_spill("/spill/a.json", "http_5xx", 3, 300, ref_key="k", object_type="experiment")
    store.record_spill("/spill/b.json", "deadline", 1, 10)
    assert [s["path"] for s in store.list_spills(replayed=False)] == ["/spill/a.json", "/spill/b.json"]
    store.mark_spill_replayed("/spill/a.json", "1000000000000000007")
    (done,) = store.list_spills(replayed=True)
    assert done["path"] == "/spill/a.json" and done["replay_xact_id"] == "1000000000000000007"
    assert done["row_count"] == 3 and done["reason"] == "http_5xx"
    store.close()


def test_a_new_store_has_large_pages_and_an_old_one_keeps_its_own(tmp_path):
    from braintrust.store.connection import PAGE_SIZE

    new = tmp_path / "new" / "braintrust.sqlite"
    store = LocalStore(new)
    store.list_projects()
    store.close()
    with sqlite3.connect(new) as db:
        assert db.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE == 16384

    old = tmp_path / "old" / "braintrust.sqlite"
    old.parent.mkdir()
    with sqlite3.connect(old) as db:  # made by an earlier version: default pages, WAL
        db.execute("PRAGMA page_size = 4096")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    store = LocalStore(old)
    store.get_or_create_project("p")
    store.close()
    with sqlite3.connect(old) as db:
        assert db.execute("PRAGMA page_size").fetchone()[0] == 4096
        assert db.execute("SELECT count(*) FROM projects").fetchone()[0] == 1
