"""LocalBackend: resolving objects, exporting batches, failures, fork safety."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from braintrust.delivery.backend import BackendError, ObjectRef
from braintrust.delivery.local_backend import LocalBackend
from braintrust.store.sqlite_store import LocalStore


class FakeDeadline:
    def __init__(self, remaining: float = 10.0, expired: bool = False):
        self._remaining, self._expired = remaining, expired

    def remaining(self) -> float:
        return self._remaining

    def expired(self) -> bool:
        return self._expired

    def sleep(self, seconds: float) -> bool:
        return not self._expired


DEADLINE = FakeDeadline()


def encode(rows):
    return [json.dumps(r, sort_keys=True, separators=(",", ":")).encode() for r in rows]


@pytest.fixture
def backend(tmp_path):
    backend = LocalBackend(tmp_path / ".braintrust" / "braintrust.sqlite")
    yield backend
    backend.close()


def test_label_and_describe(backend, tmp_path):
    assert backend.label == str(tmp_path / ".braintrust")
    assert backend.describe() == {"kind": "local", "path": str(tmp_path / ".braintrust" / "braintrust.sqlite")}
    assert backend.max_batch_bytes(DEADLINE) >= 64 * 1024 * 1024


def test_resolve_project_logs(backend):
    ref = ObjectRef("project_logs", {"project_name": "demo"})
    ids = backend.resolve(ref, DEADLINE)
    assert ids == {"project_id": ref.info["project_id"], "log_id": "g"} == ref.ids
    assert ref.info["project_name"] == "demo"
    by_id = ObjectRef("project_logs", {"project_id": ids["project_id"]})
    assert backend.resolve(by_id, DEADLINE) == ids


def test_resolve_experiment_with_all_arguments(backend):
    base = ObjectRef("experiment", {"project_name": "demo", "experiment_name": "base"})
    backend.resolve(base, DEADLINE)
    ref = ObjectRef("experiment", {
        "project_name": "demo", "experiment_name": "run", "description": "d", "metadata": {"m": 1},
        "tags": ["t"], "base_experiment": "base", "dataset_id": "ds", "dataset_version": "1000000000000000001",
        "repo_info": {"branch": "main"}, "public": True,
    })
    ids = backend.resolve(ref, DEADLINE)
    stored = backend.store.get_experiment(ids["experiment_id"])
    assert stored["name"] == ref.info["experiment_name"] == "run"
    assert stored["base_exp_id"] == ref.info["base_exp_id"] == base.ids["experiment_id"]
    assert ref.info["project_name"] == "demo" and ref.info["project_id"] == stored["project_id"]
    assert (stored["metadata"], stored["tags"], stored["public"]) == ({"m": 1}, ["t"], True)
    assert stored["dataset_id"] == "ds" and stored["repo_info"] == {"branch": "main"}
    same_name = ObjectRef("experiment", {"project_name": "demo", "experiment_name": "run"})
    assert backend.resolve(same_name, DEADLINE) != ids and same_name.info["experiment_name"] == "run-1"
    reuse = ObjectRef("experiment", {"project_name": "demo", "experiment_name": "run", "ensure_new": False})
    assert backend.resolve(reuse, DEADLINE) == ids


def test_resolving_the_same_ref_again_never_creates_twice(backend, tmp_path):
    ref = ObjectRef("experiment", {"project_name": "demo"})
    ids = backend.resolve(ref, DEADLINE)
    replayed = ObjectRef.from_json({**ref.to_json(), "ids": None})  # e.g. a replay in a new process
    other = LocalBackend(tmp_path / ".braintrust" / "braintrust.sqlite")
    assert other.resolve(replayed, DEADLINE) == ids
    assert len(other.store.list_experiments()) == 1
    other.close()


def test_resolve_dataset(backend):
    ref = ObjectRef("dataset", {"project_name": "demo", "dataset_name": "qa", "description": "q"})
    ids = backend.resolve(ref, DEADLINE)
    assert backend.store.get_dataset(ids["dataset_id"])["description"] == "q"
    assert ref.info["dataset_name"] == "qa"
    again = ObjectRef("dataset", {"project_name": "demo", "dataset_name": "qa"})
    assert backend.resolve(again, DEADLINE) == ids


def test_resolve_failure_is_a_backend_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    backend = LocalBackend(blocker / "braintrust.sqlite")
    with pytest.raises(BackendError) as caught:
        backend.resolve(ObjectRef("project_logs", {"project_name": "p"}), DEADLINE)
    assert caught.value.reason == "local_store"
    assert str(blocker) in str(caught.value) and "BRAINTRUST_LOCAL_DIR" in str(caught.value)


def test_a_damaged_store_file_is_a_backend_error_naming_the_file_once_with_its_fix(tmp_path):
    path = tmp_path / "braintrust.sqlite"
    path.write_text("not a database")
    backend = LocalBackend(path)
    with pytest.raises(BackendError) as caught:
        backend.resolve(ObjectRef("project_logs", {"project_name": "p"}), DEADLINE)
    assert str(caught.value) == (
        f"could not open or create the project_logs: {path} cannot be read as a Braintrust store (file is not a "
        "database): it is damaged or is some other file; move it aside (a new store is then made in its place) "
        "or set BRAINTRUST_LOCAL_DIR to another folder."
    )


def test_export_writes_the_batch(backend):
    ref = ObjectRef("experiment", {"project_name": "demo"})
    eid = backend.resolve(ref, DEADLINE)["experiment_id"]
    rows = [{"id": f"r{i}", "experiment_id": eid, "input": i, "_is_merge": False} for i in range(5)]
    rows.append({"id": "r0", "experiment_id": eid, "output": "done", "_is_merge": True})
    result = backend.export(rows, encode(rows), DEADLINE)
    assert (result.accepted, result.failed, result.error) == (6, [], None)
    stored, _ = backend.store.fetch_rows("experiment", eid)
    assert [r["id"] for r in stored] == [f"r{i}" for i in range(5)]
    assert stored[0]["output"] == "done"


def test_export_reports_rows_without_an_object(backend):
    good = {"id": "ok", "dataset_id": "d"}
    bad = {"id": "lost", "input": 1}
    result = backend.export([good, bad], encode([good, bad]), DEADLINE)
    assert result.accepted == 1
    assert result.failed == [(bad, "local_store")]
    assert "names no object" in result.error


def test_export_when_the_store_is_locked_fails_every_row(backend):
    rows = [{"id": f"r{i}", "experiment_id": "e"} for i in range(3)]
    backend.export(rows[:1], encode(rows[:1]), DEADLINE)  # create the store
    blocker = sqlite3.connect(backend.store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        result = backend.export(rows, encode(rows), FakeDeadline(remaining=0.2))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert result.accepted == 0
    assert result.failed == [(row, "local_store") for row in rows]
    assert "locked" in result.error and str(backend.store.path) in result.error
    assert "\n" not in result.error
    expired = backend.export(rows, encode(rows), FakeDeadline(remaining=0.0, expired=True))
    assert expired.failed == [(row, "deadline") for row in rows]


def test_export_of_undecodable_bytes_fails_the_batch_without_raising(backend):
    rows = [{"id": "a", "experiment_id": "e"}, {"id": "b", "experiment_id": "e"}]
    result = backend.export(rows, [b'{"id":"a"}', b"\xff\xfe"], DEADLINE)
    assert result.accepted == 0 and result.failed == [(row, "local_store") for row in rows]
    assert "utf-8" in result.error
    assert backend.store.count_rows("experiment", "e") == 0


def test_resolve_waits_no_longer_than_the_deadline(backend):
    backend.resolve(ObjectRef("project_logs", {"project_name": "p"}), DEADLINE)
    blocker = sqlite3.connect(backend.store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(BackendError, match="locked"):
            backend.resolve(ObjectRef("experiment", {"project_name": "p"}), FakeDeadline(remaining=0.2))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert backend.store.connection().execute("PRAGMA busy_timeout").fetchone()[0] == 30_000


def test_export_into_an_unusable_folder_fails_every_row(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    backend = LocalBackend(blocker / ".braintrust" / "braintrust.sqlite")
    rows = [{"id": "r", "experiment_id": "e"}]
    result = backend.export(rows, encode(rows), DEADLINE)
    assert result.failed == [(rows[0], "local_store")] and str(blocker) in result.error


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")  # forking is the point
def test_a_forked_child_writes_through_its_own_connection(backend):
    rows = [{"id": "parent-before", "experiment_id": "e"}]
    assert backend.export(rows, encode(rows), DEADLINE).accepted == 1  # parent connection is open
    pid = os.fork()
    if pid == 0:  # child: must not reuse the parent's connection
        code = 1
        try:
            child = [{"id": f"child-{i}", "experiment_id": "e"} for i in range(100)]
            result = backend.export(child, encode(child), DEADLINE)
            code = 0 if result.accepted == 100 and not result.failed else 2
        finally:
            os._exit(code)
    rows = [{"id": f"parent-{i}", "experiment_id": "e"} for i in range(100)]
    assert backend.export(rows, encode(rows), DEADLINE).accepted == 100
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    more = [{"id": "parent-after", "experiment_id": "e"}]
    assert backend.export(more, encode(more), DEADLINE).accepted == 1
    assert backend.store.count_rows("experiment", "e") == 202
    assert backend.store.connection().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with LocalStore(backend.store.path) as fresh:
        assert fresh.count_rows("experiment", "e") == 202


def test_a_flush_writes_a_whole_chunk_in_one_transaction(tmp_path):
    """Local batches are not cut at the configured 100 rows: each is a round trip to the
    store's writer process, and one transaction per chunk is what SQLite does best."""
    from braintrust.delivery.local_backend import MIN_BATCH_ROWS
    from delivery_helpers import make_processor, make_row, project_ref

    backend = LocalBackend(tmp_path / "braintrust.sqlite")
    assert backend.max_batch_rows(100) == MIN_BATCH_ROWS and backend.max_batch_rows(5000) == 5000
    processor, _, _ = make_processor(tmp_path, backend, sync_flush=True)
    ref = project_ref()
    for i in range(1500):
        processor.enqueue(ref, make_row(f"r{i}", input=i), 100)
    result = processor.flush(10)
    assert result.accepted == 1500
    xacts = backend.store.connection().execute("SELECT COUNT(DISTINCT xact_id), COUNT(*) FROM row_log").fetchone()
    assert xacts == (1, 1500)
    processor.close()
