"""The local store's writer process (``store.writer_process``) behind ``LocalBackend``: rows go
through it once it is ready, its errors read like in-process ones, and when it dies, hangs or
is inherited by a fork, rows are written in the logging process instead. Real processes."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from braintrust.delivery import local_backend
from braintrust.delivery.local_backend import LocalBackend
from braintrust.store import writer_process
from braintrust.store.sqlite_store import LocalStore
from delivery_helpers import FAULT_CHILD, sigterm_while_logging, subprocess_env


class FakeDeadline:
    def __init__(self, remaining: float = 10.0):
        self._remaining = remaining

    def remaining(self) -> float:
        return self._remaining

    def expired(self) -> bool:
        return self._remaining <= 0


DEADLINE = FakeDeadline()


def rows_of(prefix: str, count: int, pad: int = 100) -> list[dict]:
    return [{"id": f"{prefix}-{i}", "experiment_id": "e", "input": {"n": i, "pad": "x" * pad}} for i in range(count)]


def encode(rows):
    return [json.dumps(r, sort_keys=True, separators=(",", ":")).encode() for r in rows]


def export(backend: LocalBackend, rows: list[dict], deadline=DEADLINE):
    return backend.export(rows, encode(rows), deadline)


@pytest.fixture
def backend(tmp_path, monkeypatch):
    """A backend that starts its writer with its first batch; the writer is ready on return."""
    monkeypatch.setattr(local_backend, "WRITER_AFTER_ROWS", 0)
    backend = LocalBackend(tmp_path / ".braintrust" / "braintrust.sqlite")
    assert export(backend, rows_of("first", 1)).accepted == 1  # written here; starts the writer
    wait_until(lambda: backend._ready_writer() is not None, "the writer to be ready")
    yield backend
    backend.close()


def wait_until(condition, what: str, seconds: float = 20.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.01)


def stored(backend: LocalBackend) -> dict[str, dict]:
    with LocalStore(backend.store.path) as fresh:
        rows, _ = fresh.fetch_rows("experiment", "e")
    return {row["id"]: row for row in rows}


def test_batches_go_through_the_writer_once_it_is_ready(backend):
    writer = backend._writer
    assert writer.pid != os.getpid()
    assert os.getsid(writer.pid) != os.getsid(0)  # its own session: terminal signals miss it
    batches = [rows_of(f"b{n}", 50) for n in range(4)]
    for batch in batches:
        result = export(backend, batch)
        assert (result.accepted, result.failed, result.error) == (50, [], None)
    assert backend.rows_by_writer == 200
    rows = stored(backend)
    assert len(rows) == 201
    for batch in batches:
        for row in batch:
            assert rows[row["id"]]["input"] == row["input"]
    xacts = [x for (x,) in backend.store.connection().execute("SELECT xact_id FROM row_log ORDER BY seq")]
    assert xacts == sorted(xacts) and len(set(xacts)) == 5  # one transaction per batch


def test_a_request_larger_than_the_shared_buffer_grows_it(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_process, "BUFFER_BYTES", 4096)
    monkeypatch.setattr(local_backend, "WRITER_AFTER_ROWS", 0)
    with contextlib.closing(LocalBackend(tmp_path / "braintrust.sqlite")) as backend:
        export(backend, rows_of("first", 1))
        wait_until(lambda: backend._ready_writer() is not None, "the writer to be ready")
        for size in (20, 200, 30):  # ~60 KB, then ~600 KB, then a small one in the grown buffer
            assert export(backend, rows_of(f"big{size}", size, pad=3000)).accepted == size
        assert backend.rows_by_writer == 250
        rows = stored(backend)
        assert len(rows) == 251 and rows["big200-199"]["input"]["pad"] == "x" * 3000


def test_the_writer_reports_a_locked_store_within_the_deadline_and_goes_on(backend):
    rows = rows_of("locked", 3)
    blocker = sqlite3.connect(backend.store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        started = time.monotonic()
        result = export(backend, rows, FakeDeadline(0.3))
        took = time.monotonic() - started
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert result.accepted == 0 and result.failed == [(row, "local_store") for row in rows]
    assert "locked" in result.error and str(backend.store.path) in result.error
    assert took < 0.3 + writer_process.REPLY_GRACE_SECONDS
    assert export(backend, rows).accepted == 3 and backend.rows_by_writer == 3  # the same writer


def test_undecodable_bytes_fail_their_batch_in_the_writer_as_they_do_here(backend):
    rows = [{"id": "a", "experiment_id": "e"}, {"id": "b", "experiment_id": "e"}]
    result = backend.export(rows, [b'{"id":"a"}', b"\xff\xfe"], DEADLINE)
    assert result.accepted == 0 and result.failed == [(row, "local_store") for row in rows]
    assert "utf-8" in result.error
    assert export(backend, rows_of("after", 2)).accepted == 2 and backend.rows_by_writer == 2


def test_a_killed_writer_hands_its_work_back_to_this_process(backend, caplog):
    assert export(backend, rows_of("before", 10)).accepted == 10
    os.kill(backend._writer.pid, signal.SIGKILL)
    with caplog.at_level(logging.WARNING, logger="braintrust"):
        for n in range(3):
            assert export(backend, rows_of(f"after{n}", 10)).accepted == 10
    warnings = [r.getMessage() for r in caplog.records if "writer process" in r.getMessage()]
    assert len(warnings) == 1 and "exit code -9" in warnings[0], warnings
    assert backend.rows_by_writer == 10
    assert len(stored(backend)) == 41


def test_a_hung_writer_costs_no_more_than_the_deadline(backend, caplog):
    pid = backend._writer.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="braintrust"):
            result = export(backend, rows_of("hung", 5), FakeDeadline(0.3))
        took = time.monotonic() - started
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    assert result.accepted == 5  # written here once the writer missed its reply
    assert took < 0.3 + writer_process.REPLY_GRACE_SECONDS + 1.0  # (the kill and the write here)
    assert any("did not answer" in r.getMessage() for r in caplog.records)
    assert backend._writer.gone and len(stored(backend)) == 6


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")  # forking is the point
def test_a_forked_child_never_uses_its_parents_writer(backend):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            result = export(backend, rows_of("child", 100))
            code = 0 if result.accepted == 100 and backend.rows_by_writer == 0 else 2
        finally:
            os._exit(code)
    for n in range(5):
        assert export(backend, rows_of(f"parent{n}", 20)).accepted == 20
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert export(backend, rows_of("parent-after", 20)).accepted == 20
    assert backend.rows_by_writer == 120  # the parent's pipes still carry whole requests
    assert len(stored(backend)) == 1 + 100 + 120


def test_the_write_ahead_log_stays_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(writer_process, "CHECKPOINT_PAGES", 16)  # 256 KiB
    monkeypatch.setattr(local_backend, "WRITER_AFTER_ROWS", 0)
    with contextlib.closing(LocalBackend(tmp_path / "braintrust.sqlite")) as backend:
        export(backend, rows_of("first", 1))
        wait_until(lambda: backend._ready_writer() is not None, "the writer to be ready")
        wal = f"{backend.store.path}-wal"
        largest = 0
        for n in range(60):  # ~12 MB in 200 KB batches
            assert export(backend, rows_of(f"w{n}", 100, pad=2000)).accepted == 100
            largest = max(largest, os.stat(wal).st_size)
        # Four times the checkpoint size, plus up to two batches' pages (~350 KB each) written
        # before the log restarts; without checkpoints it would reach ~12 MB.
        assert largest < 4 * 16 * 16384 + 800_000
        assert backend.rows_by_writer == 6000


CHILD = textwrap.dedent(
    """
    import os, sys, time
    from braintrust.delivery import local_backend
    local_backend.WRITER_AFTER_ROWS = 0
    backend = local_backend.LocalBackend(sys.argv[1])
    row = {"id": "r", "experiment_id": "e"}
    backend.export([row], [b'{"experiment_id":"e","id":"r"}'], None or __import__("braintrust.delivery.deadline", fromlist=["Deadline"]).Deadline(10))
    while backend._ready_writer() is None:
        time.sleep(0.01)
    print(backend._writer.pid, flush=True)
    os.kill(os.getpid(), 9)
    """
)


def test_the_writer_exits_when_its_parent_dies(tmp_path):
    parent = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "braintrust.sqlite")],
        capture_output=True, text=True, timeout=60,
    )
    assert parent.returncode == -9, parent.stderr
    writer_pid = int(parent.stdout.split()[0])
    wait_until(lambda: not _running(writer_pid), "the orphaned writer to exit", seconds=10)


def test_a_writer_whose_parent_exits_while_it_starts_exits_quietly(tmp_path):
    """A process that exits right after its writer started (the last rows crossed
    WRITER_AFTER_ROWS) leaves no traceback on the terminal the writer shares with it."""
    script = (
        "import os, sys\n"
        "from braintrust.store.writer_process import WriterProcess\n"
        "print(WriterProcess(sys.argv[1]).pid, flush=True)\n"
        "os._exit(0)\n"  # before the writer is ready, without closing it
    )
    # (run() returns once the writer, which shares the captured stderr, has exited too)
    parent = subprocess.run([sys.executable, "-c", script, str(tmp_path / "braintrust.sqlite")],
                            capture_output=True, text=True, timeout=60)
    assert parent.returncode == 0
    assert parent.stderr == ""
    # The pipes close as the writer exits, a moment before the process is gone: allow 5 s.
    writer, deadline = int(parent.stdout.split()[0]), time.monotonic() + 5
    while _running(writer) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _running(writer)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the process table
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


# -- whole processes logging into the local store (tests/fault_child.py) -------------------------

def local_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return subprocess_env(BRAINTRUST_LOCAL="1", BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"),
                          PYTHONPATH=str(FAULT_CHILD.parent), **extra)


def row_log(tmp_path: Path) -> list[str]:
    with LocalStore(tmp_path / "store" / "braintrust.sqlite") as store:
        return [row_id for (row_id,) in store.connection().execute("SELECT id FROM row_log")]


def test_a_logger_writes_through_the_writer_and_loses_nothing(tmp_path):
    report_path = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, str(FAULT_CHILD), "flush", "20000", str(report_path)],
                          env=local_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(report_path.read_text())
    assert report["produced"] == report["accepted"] == 20000 and report["pending"] == 0
    assert report["rows_by_writer"] > 0  # past the first WRITER_AFTER_ROWS, once it was ready
    logged = row_log(tmp_path)
    assert sorted(logged) == sorted(report["ids"])  # every row once


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_logger_never_writes_a_row_twice(tmp_path):
    """Whether the writer is ready by the fork depends on timing; the backend-level test above
    forks with a ready writer."""
    report_path = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, str(FAULT_CHILD), "fork", "3000", str(report_path)],
                          env=local_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    parent = json.loads(report_path.read_text())
    child = json.loads((tmp_path / "report.json.child").read_text())
    assert parent["produced"] == parent["accepted"] == 6000 and child["produced"] == child["accepted"] == 3000
    logged = row_log(tmp_path)
    assert len(logged) == len(set(logged)) == 9000
    assert set(logged) == set(parent["ids"]) | set(child["ids"])


@pytest.mark.slow
def test_sigterm_while_the_writer_writes_exits_within_the_deadline_losing_nothing(tmp_path):
    env = local_env(tmp_path, BRAINTRUST_FLUSH_TIMEOUT="2")
    report, elapsed = sigterm_while_logging(env, tmp_path / "report.json", run_seconds=1.5)  # past WRITER_AFTER_ROWS
    assert elapsed < 2 + 1, f"exit took {elapsed:.1f}s after SIGTERM (deadline 2 s)"
    assert report["rows_by_writer"] > 0
    dropped = sum(report["dropped"].values())
    assert report["pending"] == 0 and report["produced"] == report["accepted"] + report["spilled"] + dropped
    logged = row_log(tmp_path)
    assert len(logged) == len(set(logged)) >= report["accepted"]
    # The signal may land inside a log() call after its row was queued, before the child noted its id.
    assert len(set(logged) - set(report["ids"])) <= 1


def test_a_writer_that_cannot_start_leaves_rows_to_this_process(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(local_backend, "WRITER_AFTER_ROWS", 0)
    monkeypatch.setattr(sys, "executable", "")  # an embedded interpreter, say
    with contextlib.closing(LocalBackend(tmp_path / "braintrust.sqlite")) as backend:
        with caplog.at_level(logging.WARNING, logger="braintrust"):
            for n in range(3):
                assert export(backend, rows_of(f"r{n}", 10)).accepted == 10
        warnings = [r.getMessage() for r in caplog.records if "writer process" in r.getMessage()]
        assert len(warnings) == 1 and "could not start" in warnings[0]
        assert backend.rows_by_writer == 0 and len(stored(backend)) == 30


def test_closing_does_not_wait_for_a_long_request_in_flight(backend):
    import threading

    blocker = sqlite3.connect(backend.store.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # the writer's next request waits up to its 10 s timeout
    results = []
    exporting = threading.Thread(target=lambda: results.append(export(backend, rows_of("late", 5))))
    try:
        exporting.start()
        time.sleep(0.3)  # the request is in flight
        started = time.monotonic()
        backend._writer.close(timeout_seconds=0.5)
        took = time.monotonic() - started
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    exporting.join(15)
    assert took < 0.5 + 0.5
    assert results and results[0].accepted == 5  # written here once the writer was gone
    assert backend.rows_by_writer == 0 and len(stored(backend)) == 6


def test_where_no_writer_process_can_run_rows_are_written_here_without_a_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(writer_process, "SUPPORTED", False)  # as on Windows
    monkeypatch.setattr(local_backend, "WRITER_AFTER_ROWS", 0)
    with contextlib.closing(LocalBackend(tmp_path / "braintrust.sqlite")) as backend:
        with caplog.at_level(logging.WARNING, logger="braintrust"):
            for n in range(3):
                assert export(backend, rows_of(f"r{n}", 10)).accepted == 10
        assert backend._writer is None and backend.rows_by_writer == 0
        assert len(stored(backend)) == 30
        assert not [r for r in caplog.records if "writer process" in r.getMessage()]
