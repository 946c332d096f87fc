"""Regressions found by a seeded chaos soak of the delivery promises (reliability.md): each is one
failing scenario cut down to a deterministic case, in a real process against the loopback server,
ending with the invariant produced == accepted + spilled + reported dropped."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from btserver import BraintrustTestServer, Step
from delivery_helpers import spilled_rows, subprocess_env

pytestmark = pytest.mark.slow

#: Child scripts' counts, written at exit (registered before braintrust's own exit hook, so it
#: runs after the exit-time flush) to the file ``report_file`` names.
REPORT_AT_EXIT = """def report():
    s = get_processor().stats()
    with open(report_file, "w") as handle:
        json.dump({"produced": s.produced, "accepted": s.accepted, "spilled": s.spilled,
                   "dropped": s.dropped, "pending": s.pending}, handle)

atexit.register(report)
"""

#: The queue holds one row and the server never answers, so every further row spills from the
#: logging (main) thread. The masking function, which the spill runs there, signals the process
#: once, on the row "stop": the signal's exception lands inside the spill write.
SIGNALLED_MID_SPILL = """
import atexit, json, os, signal, sys
import braintrust
from braintrust.delivery.runtime import get_processor

report_file, signum = sys.argv[1], getattr(signal, sys.argv[2])
signalled = []

{report_at_exit}
def mask(value):
    if value == "stop" and not signalled:
        signalled.append(True)
        os.kill(os.getpid(), signum)
    return value

braintrust.set_masking_function(mask)
logger = braintrust.init_logger(project="chaos")
try:
    for name in ["a", "b", "c", "stop", "after-1", "after-2"]:
        logger.log(input=name)
        print("LOGGED", name, flush=True)
except KeyboardInterrupt:
    print("INTERRUPTED", flush=True)
    sys.exit(130)
print("CONTINUED", flush=True)
""".replace("{report_at_exit}", REPORT_AT_EXIT)


@pytest.mark.parametrize("signame, exit_code", [("SIGTERM", 128 + signal.SIGTERM), ("SIGINT", 130)])
def test_a_signal_that_lands_while_a_full_queue_spills_a_row_still_stops_the_process(tmp_path, signame, exit_code):
    """The spill of a full queue's row caught every exception, a signal's SystemExit or
    KeyboardInterrupt too: the process went on logging as if never told to stop (and counted the
    row as lost, ``spill_failed``). Now the row is spilled and the signal takes effect."""
    script = tmp_path / "child.py"
    script.write_text(SIGNALLED_MID_SPILL)
    report = tmp_path / "report.json"
    with BraintrustTestServer() as server:
        server.fail_always("POST", "/logs3", Step(hang=True))
        env = subprocess_env(
            BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url,
            BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"), BRAINTRUST_QUEUE_SIZE="1", BRAINTRUST_FLUSH_TIMEOUT="1",
        )
        proc = subprocess.Popen([sys.executable, str(script), str(report), signame], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            lines = []
            while not lines or lines[-1] not in ("LOGGED c\n", ""):
                lines.append(proc.stdout.readline())
            signalled_at = time.monotonic()  # (the next row's spill signals the process)
            stdout, stderr = proc.communicate(timeout=60)
            elapsed = time.monotonic() - signalled_at
        finally:
            proc.kill()
    stdout = "".join(lines) + stdout
    logged = [line.split()[1] for line in stdout.splitlines() if line.startswith("LOGGED")]
    assert "CONTINUED" not in stdout and logged == ["a", "b", "c"], stdout + stderr
    assert proc.returncode == exit_code, stderr
    assert "Traceback" not in stderr and "spill_failed" not in stderr, stderr
    assert elapsed < 1 + 1 + 2, f"exit took {elapsed:.1f}s (deadline 1 s; margin for a loaded machine 2 s)"
    result = json.loads(report.read_text())
    assert result["pending"] == 0 and result["dropped"] == {}, result
    assert result["produced"] == 4 == result["accepted"] + result["spilled"], result
    inputs = sorted(row["input"] for row in spilled_rows(tmp_path / "store" / "spill"))
    assert "stop" in inputs and len(inputs) == len(set(inputs)) == 4 - result["accepted"], inputs


# -- replaying a large spill file ------------------------------------------------------------------


def _api_backend(target: dict):
    from braintrust.config import DeliverySettings
    from braintrust.delivery.http_backend import HttpBackend
    from braintrust.state import BraintrustState

    state = BraintrustState()
    state.configure(app_url=target.get("app_url"))
    return HttpBackend(state, DeliverySettings())


def _spill_one_file(directory: Path, server, ids: list[str]) -> Path:
    from braintrust.delivery.spill import SpillWriter
    from delivery_helpers import make_row, project_ref

    writer = SpillWriter(directory, {"kind": "api", "app_url": server.url, "org_name": None})
    ref = project_ref("big")  # (one logger's rows)
    rows = [(ref, make_row(i, input={"i": i, "pad": "p" * 200})) for i in ids]
    return writer.write(rows, "deadline", masked=True, item_count=len(ids))


def test_replaying_a_large_spill_file_rewrites_it_a_bounded_number_of_times(bt_env, tmp_path, monkeypatch):
    """A spill at the flush deadline holds the whole queue in one file, and replay rewrote all of
    what was left of it after every accepted batch: quadratic (30,000 rows took 30 s here, 60,000
    outlasted the replay's 60 s timeout, run after run). Now a large file is cut into parts first."""
    from collections import Counter

    from braintrust.delivery import replay as replay_module

    monkeypatch.setenv("BRAINTRUST_DEFAULT_BATCH_SIZE", "10")
    ids = [f"r{i:05d}" for i in range(2000)]
    file_bytes = _spill_one_file(tmp_path, bt_env, ids).stat().st_size
    written: list[int] = []
    real_write = replay_module.write_private_file

    def counting_write(path, data):
        written.append(len(data))
        real_write(path, data)

    monkeypatch.setattr(replay_module, "write_private_file", counting_write)
    result = replay_module.replay(tmp_path, timeout_seconds=60, backend_factory=_api_backend)
    assert (result.rows_sent, result.rows_failed, result.files, result.files_done) == (2000, 0, 1, 1), result.errors
    received = Counter(row["id"] for body in bt_env.logs3_bodies for row in body["rows"])
    assert received == Counter(ids)
    assert sum(written) < 8 * file_bytes, f"{sum(written)} bytes written replaying a file of {file_bytes}"
    assert list(tmp_path.glob("spill-*.json")) == []


def test_a_replay_of_a_large_file_killed_midway_resends_at_most_the_batch_in_flight(bt_env, tmp_path):
    """README: a replay killed midway resends at most the batch in flight; a file cut into parts too."""
    import signal as signals
    from collections import Counter

    from braintrust.delivery.replay import replay

    ids = [f"r{i:04d}" for i in range(3000)]  # parts of 10 batches of 100 rows: 3 parts
    _spill_one_file(tmp_path, bt_env, ids)
    bt_env.script("POST", "/logs3", [Step(status=200)] * 12 + [Step(hang=True)])
    env = subprocess_env(BRAINTRUST_API_KEY=bt_env.api_key, BRAINTRUST_APP_URL=bt_env.url)
    process = subprocess.Popen([sys.executable, "-m", "braintrust", "replay", str(tmp_path), "--timeout", "30"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        limit = time.monotonic() + 20
        while len(bt_env.requests_to("/logs3")) < 13:
            assert time.monotonic() < limit, "the replay did not reach its 13th batch"
            time.sleep(0.02)
        process.send_signal(signals.SIGKILL)
        process.wait(timeout=10)
    finally:
        process.kill()
    accepted = [row["id"] for body in bt_env.logs3_bodies for row in body["rows"]]
    assert accepted == ids[:1200]
    left = [entry["row"]["id"] for path in sorted(tmp_path.glob("spill-*.json"))
            for entry in json.loads(path.read_text())["rows"]]
    assert left == ids[1200:]
    again = replay(tmp_path, timeout_seconds=30, backend_factory=_api_backend)
    assert (again.rows_sent, again.rows_failed) == (1800, 0), again.errors
    assert Counter(row["id"] for body in bt_env.logs3_bodies for row in body["rows"]) == Counter(ids)
    assert list(tmp_path.glob("spill-*.json")) == []


#: A SIGTERM lands while the main thread joins a logging thread: CPython 3.11 then counts that
#: thread as ended and runs the exit hooks (braintrust's exit-time flush) while it still logs.
LOGS_THROUGH_THE_EXIT_FLUSH = """
import atexit, json, os, signal, sys, threading, time
import braintrust
from braintrust.delivery.runtime import get_processor

report_file = sys.argv[1]

{report_at_exit}logger = braintrust.init_logger(project="chaos")

def work():
    for i in range(50):
        logger.log(input=i)
    os.kill(os.getpid(), signal.SIGTERM)
    until = time.monotonic() + 0.5  # (the exit-time flush waits 1.5 s for the hung server)
    while time.monotonic() < until:
        logger.log(input="during the exit flush")
        time.sleep(0.005)

worker = threading.Thread(target=work)
worker.start()
worker.join()
""".replace("{report_at_exit}", REPORT_AT_EXIT)


def test_rows_a_thread_logs_during_the_exit_flush_after_a_sigterm_are_spilled_not_lost(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(LOGS_THROUGH_THE_EXIT_FLUSH)
    report = tmp_path / "report.json"
    with BraintrustTestServer() as server:
        server.fail_always("POST", "/logs3", Step(hang=True))
        env = subprocess_env(
            BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url,
            BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"), BRAINTRUST_FLUSH_TIMEOUT="1.5",
        )
        proc = subprocess.run([sys.executable, str(script), str(report)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    result = json.loads(report.read_text())
    assert result["produced"] > 50 and result["pending"] == 0 and result["dropped"] == {}, result
    assert result["produced"] == result["accepted"] + result["spilled"], result
    inputs = [row["input"] for row in spilled_rows(tmp_path / "store" / "spill")]
    assert len(inputs) == result["spilled"] and "during the exit flush" in inputs


def test_a_signal_that_lands_as_a_held_row_is_queued_leaves_it_held_for_the_exit_flush():
    """SIGTERM's SystemExit (or Ctrl-C) raised inside the enqueue of a span's row as the span
    ends, before the processor counted it: the row was already out of the registry and of the
    holder, so the exit-time flush (``release_all``) had nothing to send and the row was lost
    uncounted (soak seed 8049). It is held again, and the next release queues it."""
    from braintrust.delivery import open_rows
    from braintrust.delivery.backend import ObjectRef

    queued = []
    interrupt = [True]

    def enqueue(ref, row, size):
        if interrupt[0]:
            interrupt[0] = False
            raise SystemExit(143)
        queued.append(row)

    ref = ObjectRef("project_logs", {"project_name": "p"})
    row_id = "row-interrupted-while-queued"
    held = open_rows.hold(ref, {"id": row_id, "input": 1}, 10, enqueue)
    assert held is not None
    try:
        with pytest.raises(SystemExit):
            held.release()
        assert open_rows._held.get(row_id) is held
        open_rows.release_all()
        assert [row["id"] for row in queued] == [row_id]
        assert row_id not in open_rows._held
    finally:
        open_rows.unregister(row_id, held)
