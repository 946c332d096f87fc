"""Fault tests in real processes against the loopback server. Every test ends with the
invariant: produced == accepted + spilled + reported dropped, and what the server holds is
exactly what was accepted (no loss, nothing twice)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from btserver import BraintrustTestServer, Step
from delivery_helpers import sigterm_while_logging, subprocess_env

CHILD = Path(__file__).parent.parent / "fault_child.py"
pytestmark = pytest.mark.slow


def child_env(server: BraintrustTestServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    return subprocess_env(
        BRAINTRUST_API_KEY=server.api_key,
        BRAINTRUST_APP_URL=server.url,
        BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"),
        PYTHONPATH=str(Path(__file__).parent.parent),
        **extra,
    )


def run_child(mode: str, rows: int, server: BraintrustTestServer, tmp_path: Path, timeout: float = 60, **extra: str):
    report = tmp_path / "report.json"
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(CHILD), mode, str(rows), str(report)],
        env=child_env(server, tmp_path, **extra), capture_output=True, text=True, timeout=timeout,
    )
    elapsed = time.monotonic() - started
    assert report.exists(), proc.stderr
    return proc, json.loads(report.read_text()), elapsed


def received_ids(server: BraintrustTestServer) -> list[str]:
    return [row["id"] for body in server.logs3_bodies if isinstance(body.get("rows"), list) for row in body["rows"]]


def assert_invariant(report: dict) -> None:
    dropped = sum(report["dropped"].values())
    assert report["pending"] == 0
    assert report["produced"] == report["accepted"] + report["spilled"] + dropped, report


def test_500_three_times_then_200_delivers_everything(tmp_path):
    with BraintrustTestServer() as server:
        server.script("POST", "/logs3", [Step(status=500)] * 3)
        proc, report, _ = run_child("flush", 50, server, tmp_path)
        assert_invariant(report)
        assert report["accepted"] == 50 and report["spilled"] == 0
        assert sorted(set(received_ids(server))) == sorted(report["ids"])
        assert len(server.rows()) == 50


def test_429_retry_after_is_honoured(tmp_path):
    with BraintrustTestServer() as server:
        server.script("POST", "/logs3", [Step(status=429, retry_after="1")])
        proc, report, _ = run_child("flush", 20, server, tmp_path)
        assert_invariant(report)
        assert report["accepted"] == 20
        attempts = server.requests_to("/logs3", "POST")
        assert attempts[1].time - attempts[0].time >= 0.95


def test_413_splits_the_batch_and_delivers_everything(tmp_path):
    with BraintrustTestServer() as server:
        server.script("POST", "/logs3", [Step(status=413)])
        proc, report, _ = run_child("flush", 80, server, tmp_path)
        assert_invariant(report)
        assert report["accepted"] == 80 and report["spilled"] == 0
        assert len(server.rows()) == 80


def test_401_stops_sending_spills_and_reports_one_error(tmp_path):
    with BraintrustTestServer() as server:
        server.fail_always("POST", "/logs3", Step(status=401))
        proc, report, _ = run_child("flush", 300, server, tmp_path)
        assert_invariant(report)
        assert report["accepted"] == 0 and report["spilled"] == 300
        assert len(server.requests_to("/logs3", "POST")) == 1  # stopped after the first refusal
        errors = [line for line in proc.stderr.splitlines() if "answered 401" in line]
        assert len(errors) == 1 and "refused the API key" in errors[0], proc.stderr
        assert "300 spilled" in proc.stderr
        assert server.api_key not in proc.stderr


def test_server_down_exits_within_deadline_then_replays_exactly_once(tmp_path):
    server = BraintrustTestServer().start()
    url = server.url
    server.stop()
    try:
        env = {"BRAINTRUST_FLUSH_TIMEOUT": "2"}
        proc, report, elapsed = run_child("exit", 40, server, tmp_path, **env)
        assert proc.returncode == 0
        assert elapsed < 2 + 1 + 1.5, f"took {elapsed:.1f}s (deadline 2 s; interpreter start allowance 1.5 s)"
        assert_invariant(report)
        assert report["spilled"] == 40 and report["accepted"] == 0
        spill_dir = tmp_path / "store" / "spill"
        files = list(spill_dir.glob("spill-*.json"))
        assert files and all(oct(f.stat().st_mode & 0o777) == "0o600" for f in files)
        assert oct(spill_dir.stat().st_mode & 0o777) == "0o700"
        assert server.api_key not in "".join(f.read_text() for f in files)

        server.start()
        assert server.url == url
        replay = [sys.executable, "-m", "braintrust.cli.main", "replay", str(spill_dir)]
        first = subprocess.run(replay, env=child_env(server, tmp_path), capture_output=True, text=True, timeout=60)
        assert first.returncode == 0, first.stderr
        assert "replayed 40 rows from" in first.stdout
        assert "1 object registered (found, or created once)" in first.stdout  # (the logger's project)
        assert sorted(received_ids(server)) == sorted(report["ids"])
        second = subprocess.run(replay, env=child_env(server, tmp_path), capture_output=True, text=True, timeout=60)
        assert second.returncode == 0 and "nothing to replay" in second.stdout
        assert len(received_ids(server)) == 40
        assert len(server.projects()) == 1
    finally:
        server.stop()


def test_sigterm_mid_run_exits_within_deadline_with_every_row_delivered_or_spilled(tmp_path):
    with BraintrustTestServer() as server:
        server.fail_always("POST", "/logs3", Step(delay_seconds=0.05))
        env = child_env(server, tmp_path, BRAINTRUST_FLUSH_TIMEOUT="2")
        report, elapsed = sigterm_while_logging(env, tmp_path / "report.json", run_seconds=1.0)
        assert elapsed < 2 + 1, f"exit took {elapsed:.1f}s after SIGTERM (deadline 2 s)"
        assert report["produced"] > 100
        assert_invariant(report)
        received = set(received_ids(server))
        assert received <= set(report["ids"])
        # A request still in flight at the deadline is spilled too (replay is idempotent: stable ids).
        assert report["accepted"] <= len(received) <= report["accepted"] + report["spilled"]


def test_ctrl_c_during_the_exit_time_flush_spills_at_once(tmp_path):
    """Braintrust hangs; a script ends and its exit-time flush waits (up to the deadline, 60 s
    here). Ctrl-C: the undelivered rows are spilled at once, one line says so, no traceback."""
    import signal

    with BraintrustTestServer() as server:
        server.fail_always("POST", "/logs3", Step(hang=True))
        report = tmp_path / "report.json"
        proc = subprocess.Popen(
            [sys.executable, str(CHILD), "exit-announced", "30", str(report)],
            env=child_env(server, tmp_path, BRAINTRUST_FLUSH_TIMEOUT="60"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert proc.stdout.readline().strip() == "EXITING"
            time.sleep(0.3)  # inside the flush's wait
            proc.send_signal(signal.SIGINT)
            interrupted_at = time.monotonic()
            _, stderr = proc.communicate(timeout=30)
        finally:
            proc.kill()
        assert time.monotonic() - interrupted_at < 5, stderr
        assert "Traceback" not in stderr and "braintrust: exit-time flush interrupted; the rows not delivered were spilled" in stderr
        assert "interrupted: 30" in stderr  # the warning counts them by reason
        result = json.loads(report.read_text())
        assert_invariant(result)
        assert result["spilled"] == 30 and result["accepted"] == 0


def test_forked_child_logs_and_flushes_without_duplicates_or_deadlock(tmp_path):
    with BraintrustTestServer() as server:
        proc, parent, _ = run_child("fork", 100, server, tmp_path, timeout=60)
        assert proc.returncode == 0, proc.stderr
        child = json.loads((tmp_path / "report.json.child").read_text())
        assert_invariant(parent)
        assert_invariant(child)
        ids = received_ids(server)
        assert len(ids) == len(set(ids)), "a row was sent twice"
        assert set(child["ids"]) <= set(ids)
        assert set(parent["ids"]) <= set(ids)
        assert len(ids) == 300


LOGS_FROM_AN_EARLIER_ATEXIT_HANDLER = """
import atexit
import braintrust

def log_at_exit():  # registered before the first row, so it runs after braintrust's exit-time flush
    braintrust.init_logger(project="late").log(input="from atexit")

atexit.register(log_at_exit)
braintrust.init_logger(project="late").log(input="while running")
"""


@pytest.mark.parametrize("destination", ["server", "local store"])
def test_a_row_logged_by_an_atexit_handler_that_runs_after_the_exit_flush_is_delivered(tmp_path, destination):
    """``atexit`` runs its handlers last-registered first: one registered before braintrust's
    (added at the first row) logs after the exit-time flush. That row is flushed at once."""
    with BraintrustTestServer() as server:
        env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"))
        if destination == "server":
            env.update(BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url)
        proc = subprocess.run([sys.executable, "-c", LOGS_FROM_AN_EARLIER_ATEXIT_HANDLER], env=env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        if destination == "server":
            inputs = sorted(row["input"] for row in server.rows("project_logs"))
    if destination == "local store":
        from braintrust.store.sqlite_store import LocalStore

        store = LocalStore(tmp_path / "store" / "braintrust.sqlite")
        try:
            rows, _ = store.fetch_rows("project_logs", store.get_project(name="late")["id"])
        finally:
            store.close()
        inputs = sorted(row["input"] for row in rows)
    assert inputs == ["from atexit", "while running"], proc.stderr
