"""The SDK under load: memory stays bounded and every row ends accepted, spilled or reported
dropped, with real processes (the loopback server, signals) where exit behaviour is at stake."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from braintrust import masking
from braintrust.delivery import policy, spill
from braintrust.delivery.memory_backend import MemoryBackend
from braintrust.delivery.replay import replay
from btserver import BraintrustTestServer, Step
from delivery_helpers import assert_invariant, make_processor, make_row, project_ref, spilled_items, spilled_rows, subprocess_env

TESTS = Path(__file__).parent.parent
ROOT = TESTS.parent


@pytest.fixture(autouse=True)
def outside_pytest_policy(monkeypatch):
    monkeypatch.setattr(policy, "queue_full_wait_seconds", 0.0)
    masking.set_masking_function(None)
    yield
    masking.set_masking_function(None)


def test_rows_spilled_from_a_full_queue_are_not_held_in_memory_by_the_thousand(tmp_path):
    """A stuck sender and rows of 1 MB: rows a full queue spills went to a buffer of up to 1000
    rows before reaching the disk, so 5 MB rows held gigabytes there (no byte bound at all)."""
    processor, backend, spill_dir = make_processor(tmp_path, queue_max_bytes=2 * 1024 * 1024)
    ref = project_ref()
    backend.block()
    processor.enqueue(ref, make_row("in-flight"), 100)
    assert backend.export_started.wait(2)
    megabyte = "m" * (1024 * 1024)
    for i in range(40):
        processor.enqueue(ref, make_row(f"big-{i}", output=megabyte), len(megabyte) + 200)
    spilled = processor.stats().spilled_by_reason["queue_full"]
    assert spilled >= 35
    # What is not on disk yet is bounded by bytes, not by 1000 rows.
    buffered = spilled - spilled_items(spill_dir)
    assert buffered * len(megabyte) <= spill.BUFFERED_BYTES_PER_FILE + len(megabyte), buffered
    backend.release()
    result = processor.flush(timeout=5)
    assert_invariant(result)
    assert result.spilled == spilled and result.accepted == 41 - spilled
    rows = spilled_rows(spill_dir)
    assert sorted(row["id"] for row in rows) == sorted({row["id"] for row in rows})
    assert len(rows) == spilled and all(row["output"] == megabyte for row in rows)
    processor.close()
    target = MemoryBackend()
    replayed = replay(spill_dir, timeout_seconds=5, backend_factory=lambda _: target)
    assert replayed.rows_sent == spilled and replayed.rows_failed == 0
    assert {row["id"] for row in target.rows()} == {row["id"] for row in rows}


# -- SIGTERM while worker threads log -------------------------------------------------------------

#: Logs ROWS rows on worker threads only (the main thread makes the logger and waits), writes the
#: ids to IDS, then prints READY. ``pool``: a thread pool that finishes (``experiment``: the
#: same into an experiment); ``stuck``: a non-daemon
#: worker that then waits forever on a queue. At exit (after braintrust's flush) the counts go
#: to REPORT.
SIGTERM_CHILD = """
import atexit, json, os, queue, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
mode, rows, ids_file, report_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]

def report():
    from braintrust.delivery.runtime import get_processor
    s = get_processor().stats()
    with open(report_file, "w") as f:
        json.dump({"produced": s.produced, "accepted": s.accepted, "spilled": s.spilled,
                   "dropped": s.dropped, "pending": s.pending}, f)

atexit.register(report)  # (registered first: runs after braintrust's exit-time flush)
import braintrust
if mode == "experiment":  # (as Eval does: the experiment made on the main thread)
    logger, mode = braintrust.init(project="sigterm-load"), "pool"
else:
    logger = braintrust.init_logger(project="sigterm-load")

def log(i):
    return logger.log(input={"i": i}, output="x" * 100, scores={})

if mode == "pool":
    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(log, range(rows)))
else:
    done, jobs = threading.Event(), queue.Queue()
    ids = []
    def worker():
        ids.extend(log(i) for i in range(rows))
        done.set()
        jobs.get()  # waits for work that never comes
    threading.Thread(target=worker).start()
    done.wait()
with open(ids_file, "w") as f:
    json.dump(ids, f)
print("READY", flush=True)
time.sleep(60)
"""


def sigterm_child(tmp_path: Path, server: BraintrustTestServer, mode: str, rows: int, **env: str):
    """Run SIGTERM_CHILD until READY, SIGTERM it; (return code, seconds to exit, ids, report or None)."""
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(SIGTERM_CHILD))
    ids_file, report_file = tmp_path / "ids.json", tmp_path / "report.json"
    environment = subprocess_env(
        BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url,
        BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"), PYTHONPATH=f"{ROOT}{':'}{TESTS}", **env,
    )
    proc = subprocess.Popen([sys.executable, str(script), mode, str(rows), str(ids_file), str(report_file)],
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "READY", proc.communicate(timeout=10)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    elapsed = time.monotonic() - sent
    report = json.loads(report_file.read_text()) if report_file.exists() else None
    return proc.returncode, elapsed, json.loads(ids_file.read_text()), report, stderr


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["pool", "experiment"])
def test_sigterm_flushes_rows_logged_only_on_worker_threads(tmp_path, mode):
    """The SIGTERM handler was installed by the first row's thread, and only on the main thread:
    with every row logged on a pool's threads there was none, so SIGTERM killed the process with
    its queued rows, neither sent nor spilled nor reported."""
    with BraintrustTestServer() as server:
        returncode, elapsed, ids, report, stderr = sigterm_child(tmp_path, server, mode, 300)
        received = {row["id"] for row in server.rows()}
    assert report is not None, f"killed without its exit-time flush (exit code {returncode}): {stderr}"
    assert returncode == 128 + signal.SIGTERM and elapsed < 5, (returncode, elapsed, stderr)
    assert report["pending"] == 0 and report["produced"] == report["accepted"] + report["spilled"] + sum(report["dropped"].values())
    assert report["accepted"] == 300 and set(ids) <= received


@pytest.mark.slow
@pytest.mark.parametrize("server_hangs", [False, True], ids=["server-up", "server-hangs"])
def test_sigterm_ends_a_process_whose_non_daemon_thread_never_ends(tmp_path, server_hangs):
    """SIGTERM unwound the main thread, then Python waited forever for a worker blocked on a queue
    before its exit-time flush (the signal's default action would have ended it at once). Now
    the worker gets the flush deadline to end, then the rows are flushed and the process ends."""
    with BraintrustTestServer() as server:
        if server_hangs:
            server.fail_always("POST", "/logs3", Step(hang=True))
        returncode, elapsed, ids, _, stderr = sigterm_child(tmp_path, server, "stuck", 200, BRAINTRUST_FLUSH_TIMEOUT="0.5")
        received = {row["id"] for row in server.rows()}
    assert returncode == -signal.SIGTERM, (returncode, stderr)
    # The worker's grace, the flush (and its in-flight grace), then the end.
    assert elapsed < 0.5 + 0.5 + 0.5 + 1.0, elapsed
    spilled = {row["id"] for row in spilled_rows(tmp_path / "store" / "spill")} if server_hangs else set()
    assert set(ids) <= received | spilled, "rows lost"
    assert len(received if not server_hangs else spilled) == 200


# -- the local store locked by another process ----------------------------------------------------

STORE_CHILD = """
import atexit, json, sys, time
report_file = sys.argv[1]

def report():
    from braintrust.delivery.runtime import get_processor
    s = get_processor().stats()
    with open(report_file, "w") as f:
        json.dump({"produced": s.produced, "accepted": s.accepted, "spilled": s.spilled,
                   "dropped": s.dropped, "pending": s.pending}, f)

atexit.register(report)  # (registered first: runs after braintrust's exit-time flush)
import braintrust
logger = braintrust.init_logger(project="locked-store")
for i in range(50):
    logger.log(input={"i": i})
time.sleep(0.3)  # the sender is now waiting for the store's write lock
print("EXITING", flush=True)
"""


#: Python 3.12.0 and 3.12.1 cannot start a thread at interpreter exit, where the store's last
#: connections are closed on a thread of their own: there they are closed in place (as before).
NO_THREADS_AT_EXIT = sys.version_info[:3] in ((3, 12, 0), (3, 12, 1))


@pytest.mark.slow
@pytest.mark.skipif(NO_THREADS_AT_EXIT, reason="Python 3.12.0/3.12.1 start no thread at exit (see NO_THREADS_AT_EXIT)")
def test_the_exit_is_not_held_by_a_sender_waiting_for_a_locked_store(tmp_path):
    """Another process holds the store's write lock: the exit-time flush spills at its deadline,
    but closing the store's connections at exit then waited for the sender's, busy in SQLite's
    lock wait (30 s by default), so the process took that long to end."""
    import sqlite3

    store = tmp_path / "store"
    env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(store), PYTHONPATH=f"{ROOT}:{TESTS}",
                         BRAINTRUST_FLUSH_TIMEOUT="0.5", BRAINTRUST_LOCAL_BUSY_TIMEOUT="8")
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(STORE_CHILD))
    subprocess.run([sys.executable, str(script), str(tmp_path / "first.json")], env=env, check=True, capture_output=True, timeout=30)
    holder = sqlite3.connect(store / "braintrust.sqlite", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "report.json")], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "EXITING"
        started = time.monotonic()
        try:
            proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
        elapsed = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["pending"] == 0 and report["produced"] == 50 == report["spilled"], report
    # The flush deadline, the in-flight grace, and at most a short wait for the connections.
    assert elapsed < 0.5 + 0.5 + 0.5 + 0.5, elapsed
    assert spilled_items(store / "spill") == 50
