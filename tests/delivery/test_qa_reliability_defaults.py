"""reliability.md line by line: its defaults table, each ``BRAINTRUST_*`` variable honoured end
to end, and each fault promise exercised in a real process against the loopback server (or a
server that answers a byte at a time). Every process test ends with the invariant and a
wall-clock bound; spill files say why each row was not delivered."""

from __future__ import annotations

import email.utils
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from btserver import BraintrustTestServer, Step
from braintrust.config import DEFAULT_MAX_REQUEST_BYTES, DeliverySettings
from braintrust.delivery import policy
from braintrust.delivery.http_client import HttpClient
from delivery_helpers import closed_port_url, spill_documents, subprocess_env

CHILD = Path(__file__).parent.parent / "fault_child.py"
pytestmark = pytest.mark.slow

DELIVERY_VARIABLES = (
    "BRAINTRUST_FLUSH_TIMEOUT", "BRAINTRUST_NUM_RETRIES", "BRAINTRUST_HTTP_TIMEOUT", "BRAINTRUST_QUEUE_SIZE",
    "BRAINTRUST_DEFAULT_BATCH_SIZE", "BRAINTRUST_MAX_REQUEST_SIZE", "BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR",
)


# -- the defaults table ---------------------------------------------------------------------------


def test_the_defaults_are_the_documented_ones(monkeypatch):
    for name in DELIVERY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    settings = DeliverySettings.from_env()
    assert settings.flush_timeout_seconds == 10.0
    assert settings.attempts_per_batch == 5
    assert (settings.backoff_initial_seconds, settings.backoff_max_seconds) == (0.5, 8.0)
    assert (settings.connect_timeout_seconds, settings.read_timeout_seconds) == (5.0, 30.0)
    assert (settings.queue_max_rows, settings.queue_max_bytes) == (100_000, 256 * 1024 * 1024)
    assert policy.PYTEST_QUEUE_FULL_WAIT_SECONDS == 0.1
    assert settings.batch_max_rows == 100
    assert settings.max_request_bytes is None and DEFAULT_MAX_REQUEST_BYTES == 6 * 1024 * 1024
    assert settings.spill_dir is None  # (the local store's spill/)
    assert settings.spill_budget_bytes == 500 * 1024 * 1024


def test_backoff_doubles_from_half_a_second_with_20_percent_jitter_up_to_8_seconds():
    client = HttpClient("k" * 20, DeliverySettings())
    for attempt, base in enumerate([0.5, 1, 2, 4, 8, 16, 2**40], start=1):
        waits = [client.backoff_seconds(attempt) for _ in range(200)]
        assert min(base * 0.8, 8) <= min(waits) and max(waits) <= min(base * 1.2, 8)


def test_each_variable_sets_its_setting(monkeypatch, tmp_path):
    values = {
        "BRAINTRUST_FLUSH_TIMEOUT": "2.5", "BRAINTRUST_NUM_RETRIES": "0", "BRAINTRUST_HTTP_TIMEOUT": "7",
        "BRAINTRUST_QUEUE_SIZE": "12", "BRAINTRUST_DEFAULT_BATCH_SIZE": "3", "BRAINTRUST_MAX_REQUEST_SIZE": "2048",
        "BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR": str(tmp_path / "spills"),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = DeliverySettings.from_env()
    assert settings.flush_timeout_seconds == 2.5 and settings.attempts_per_batch == 1
    assert settings.read_timeout_seconds == 7 and settings.connect_timeout_seconds == 5.0
    assert settings.queue_max_rows == 12 and settings.batch_max_rows == 3 and settings.max_request_bytes == 2048
    assert settings.spill_dir == (tmp_path / "spills").resolve()


# -- faults, in a real process --------------------------------------------------------------------


def run_child(mode: str, rows: int, server: BraintrustTestServer, tmp_path: Path, timeout: float = 60, **extra: str):
    """(process, report, seconds, spilled row writes by reason) of ``fault_child.py``."""
    report = tmp_path / "report.json"
    env = subprocess_env(
        BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url, BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"),
        PYTHONPATH=str(Path(__file__).parent.parent), **extra,
    )
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(CHILD), mode, str(rows), str(report)], env=env,
                          capture_output=True, text=True, timeout=timeout)
    elapsed = time.monotonic() - started
    assert report.exists(), proc.stderr
    reasons: dict[str, int] = {}
    for document in spill_documents(tmp_path / "store" / "spill"):
        reasons[document["reason"]] = reasons.get(document["reason"], 0) + document["item_count"]
    return proc, json.loads(report.read_text()), elapsed, reasons


def assert_invariant(report: dict, reasons: dict[str, int]) -> None:
    assert report["pending"] == 0, report
    assert report["produced"] == report["accepted"] + report["spilled"] + sum(report["dropped"].values()), report
    assert sum(reasons.values()) == report["spilled"], (reasons, report)


def logs3_posts(server: BraintrustTestServer) -> list:
    return server.requests_to("/logs3", "POST")


#: Interpreter start, imports and login: allowed on top of what a test waits for.
START_SECONDS = 2.5


@pytest.mark.parametrize("step, reason, attempts", [
    (Step(status=503), "http_5xx", 3),
    (Step(status=500), "http_5xx", 3),
    (Step(reset=True), "connection", 3),
    (Step(status=400), "http_4xx", 1),
    (Step(status=403), "auth", 1),
], ids=["503", "500", "reset", "400", "403"])
def test_a_failing_logs3_is_tried_as_often_as_documented_then_spilled_and_reported_once(tmp_path, step, reason, attempts):
    """``BRAINTRUST_NUM_RETRIES=2``: three attempts, 0.5 s then 1 s apart (±20 %); a 4xx once."""
    with BraintrustTestServer() as server:
        server.fail_always("POST", "/logs3", step)
        proc, report, elapsed, reasons = run_child("flush", 20, server, tmp_path, BRAINTRUST_NUM_RETRIES="2")
        assert_invariant(report, reasons)
        assert reasons == {reason: 20} and report["accepted"] == 0, proc.stderr
        times = [request.time for request in logs3_posts(server)]
    assert len(times) == attempts
    gaps = [later - earlier for earlier, later in zip(times, times[1:])]
    for gap, base in zip(gaps, [0.5, 1.0]):
        assert base * 0.8 - 0.05 <= gap <= base * 1.2 + 0.3, gaps
    assert proc.stderr.count("not every row was delivered") == 1, proc.stderr
    assert "20 spilled" in proc.stderr and server.api_key not in proc.stderr


def test_a_server_that_never_answers_times_out_at_the_read_timeout_and_is_retried(tmp_path):
    with BraintrustTestServer() as server:
        server.fail_always("POST", "/logs3", Step(hang=True))
        proc, report, elapsed, reasons = run_child(
            "flush", 10, server, tmp_path, BRAINTRUST_HTTP_TIMEOUT="0.3", BRAINTRUST_NUM_RETRIES="1",
        )
        assert_invariant(report, reasons)
        assert reasons == {"timeout": 10}, proc.stderr
        assert len(logs3_posts(server)) == 2
    flush_seconds = json.loads(proc.stdout.splitlines()[-1])["flush_seconds"]
    assert 0.3 + 0.4 + 0.3 - 0.1 <= flush_seconds < 3, flush_seconds


def test_retry_after_past_the_flush_deadline_spills_at_once(tmp_path):
    with BraintrustTestServer() as server:
        server.fail_always("POST", "/logs3", Step(status=429, retry_after="30"))
        proc, report, elapsed, reasons = run_child("exit", 10, server, tmp_path, BRAINTRUST_FLUSH_TIMEOUT="2")
        assert_invariant(report, reasons)
        assert reasons == {"deadline": 10} and len(logs3_posts(server)) == 1, proc.stderr
    assert elapsed < 2 + START_SECONDS


def test_retry_after_as_an_http_date_is_honoured(tmp_path):
    with BraintrustTestServer() as server:
        retry_at = int(time.time() + 3)  # (an HTTP-date counts whole seconds)
        server.script("POST", "/logs3", [Step(status=503, retry_after=email.utils.formatdate(retry_at, usegmt=True))])
        proc, report, elapsed, reasons = run_child("flush", 10, server, tmp_path)
        assert_invariant(report, reasons)
        assert report["accepted"] == 10 and not reasons, proc.stderr
        first, second = logs3_posts(server)[:2]
    assert first.status == 503 and second.time >= retry_at - 0.05


def test_a_name_that_does_not_resolve_is_a_connection_error_and_spills(tmp_path):
    with BraintrustTestServer() as server:
        proc, report, elapsed, reasons = run_child(
            "flush", 10, server, tmp_path, BRAINTRUST_API_URL="http://braintrust-qa.invalid", BRAINTRUST_NUM_RETRIES="1",
        )
    assert_invariant(report, reasons)
    assert reasons == {"connection": 10}, proc.stderr
    assert "braintrust-qa.invalid" in proc.stderr
    assert elapsed < 10 + START_SECONDS


def test_a_tls_error_is_not_retried_and_spills_as_tls(tmp_path):
    with BraintrustTestServer() as server:
        https_url = server.url.replace("http://", "https://")
        proc, report, elapsed, reasons = run_child("flush", 10, server, tmp_path, BRAINTRUST_API_URL=https_url)
    assert_invariant(report, reasons)
    assert reasons == {"tls": 10}, proc.stderr
    assert elapsed < START_SECONDS + 1  # (no backoff: a TLS error is not retried)


def test_a_proxy_that_refuses_spills_with_the_error_and_keeps_the_deadline(tmp_path):
    with BraintrustTestServer() as server:
        proxy = closed_port_url()
        proc, report, elapsed, reasons = run_child(
            "exit", 10, server, tmp_path, HTTP_PROXY=proxy, HTTPS_PROXY=proxy, http_proxy=proxy, https_proxy=proxy,
            NO_PROXY="", no_proxy="", BRAINTRUST_FLUSH_TIMEOUT="2", BRAINTRUST_NUM_RETRIES="1",
        )
        assert not server.requests_to("/api/apikey/login")  # (everything went to the proxy)
    assert_invariant(report, reasons)
    assert reasons == {"connection": 10}, proc.stderr
    assert "ProxyError" in proc.stderr
    assert elapsed < 2 + START_SECONDS


def test_the_batch_size_variable_sets_the_rows_per_request(tmp_path):
    with BraintrustTestServer() as server:
        proc, report, elapsed, reasons = run_child("flush", 20, server, tmp_path, BRAINTRUST_DEFAULT_BATCH_SIZE="7")
        assert_invariant(report, reasons)
        sizes = [len(body["rows"]) for body in server.logs3_bodies]
    assert report["accepted"] == 20 and sum(sizes) == 20 and max(sizes) <= 7, sizes


def test_the_queue_size_variable_bounds_the_queue_outside_pytest(tmp_path):
    """A hanging server: past ``BRAINTRUST_QUEUE_SIZE`` rows spill at once (``queue_full``)."""
    with BraintrustTestServer() as server:
        server.fail_always("POST", "/logs3", Step(hang=True))
        proc, report, elapsed, reasons = run_child(
            "exit", 3000, server, tmp_path, BRAINTRUST_QUEUE_SIZE="50", BRAINTRUST_FLUSH_TIMEOUT="1",
        )
    assert_invariant(report, reasons)
    assert reasons.get("queue_full", 0) > 2000 and report["accepted"] == 0, reasons
    assert elapsed < 1 + 0.5 + START_SECONDS


class TrickleServer:
    """Answers every request with a 200 whose body comes one byte every 0.1 s (a minute in all)."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._stop = threading.Event()
        self.requests: list[bytes] = []
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> "TrickleServer":
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                self.requests.append(conn.recv(65536).split(b"\r\n", 1)[0])
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 600\r\n\r\n")
                for _ in range(600):
                    if self._stop.wait(0.1):
                        return
                    conn.sendall(b" ")
            except OSError:
                pass


#: Python 3.12.0 and 3.12.1 cannot start a thread at interpreter exit, so an exit-time flush on
#: the exiting thread (``BRAINTRUST_SYNC_FLUSH``) sends there, bounded per wait only.
NO_THREADS_AT_EXIT = sys.version_info[:3] in ((3, 12, 0), (3, 12, 1))


@pytest.mark.parametrize("sync_flush", ["0", "1"])
def test_a_server_answering_a_byte_at_a_time_cannot_stretch_the_exit(tmp_path, sync_flush):
    """Each wait for bytes is short, so the read timeout never fires: before the fix, a flush on
    the caller's thread (``BRAINTRUST_SYNC_FLUSH``) waited for the whole answer, a minute here."""
    if sync_flush == "1" and NO_THREADS_AT_EXIT:
        pytest.skip("Python 3.12.0/3.12.1 start no thread at exit: the exit-time request is bounded per wait only")
    with BraintrustTestServer() as server, TrickleServer() as trickle:
        proc, report, elapsed, reasons = run_child(
            "exit", 10, server, tmp_path, BRAINTRUST_API_URL=trickle.url, BRAINTRUST_FLUSH_TIMEOUT="1",
            BRAINTRUST_SYNC_FLUSH=sync_flush,
        )
        assert trickle.requests  # (it was asked, and answered slowly)
    assert_invariant(report, reasons)
    assert reasons == {"deadline": 10}, proc.stderr
    assert elapsed < 1 + 0.5 + START_SECONDS, f"took {elapsed:.1f}s with a flush deadline of 1 s"


ATTACHMENT_CHILD = """
import braintrust
from braintrust import Attachment

logger = braintrust.init_logger(project="attachments")
logger.log(input={"file": Attachment(data=b"abc" * 1000, filename="a.txt", content_type="text/plain")}, output=1)
"""


@pytest.mark.skipif(NO_THREADS_AT_EXIT, reason="Python 3.12.0/3.12.1 start no thread at exit (see NO_THREADS_AT_EXIT)")
def test_an_attachment_upload_answered_a_byte_at_a_time_cannot_stretch_the_exit(tmp_path):
    with BraintrustTestServer() as server, TrickleServer() as trickle:
        server.fail_always("POST", "/attachment", Step(status=200, body={"signedUrl": f"{trickle.url}/upload", "headers": {}}))
        env = subprocess_env(
            BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url, BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"),
            BRAINTRUST_FLUSH_TIMEOUT="1", BRAINTRUST_SYNC_FLUSH="1",
        )
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-c", ATTACHMENT_CHILD], env=env, capture_output=True, text=True, timeout=60)
        elapsed = time.monotonic() - started
        assert trickle.requests and trickle.requests[0].startswith(b"PUT /upload"), proc.stderr
        assert len(server.rows()) == 1  # the row was delivered; only the bytes could not be
    assert elapsed < 1 + 0.5 + START_SECONDS, f"took {elapsed:.1f}s with a flush deadline of 1 s"
    assert "1 spilled" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert [document.get("reason") for document in spill_documents(tmp_path / "store" / "spill")] == ["deadline"]


MEMORY_CHILD = """
import json, sys, time
import braintrust
from braintrust.delivery.runtime import get_processor

def resident() -> int:
    return int(open("/proc/self/statm").read().split()[1]) * 4096

logger = braintrust.init_logger(project="memory")
logger.log(input=0, output=0)
braintrust.flush()  # logged in, the project known: from now on rows are queued encoded
before = resident()
for i in range(int(sys.argv[1])):
    logger.log(input={"i": i}, output="ok", scores={"s": 1})
processor = get_processor()
print(json.dumps({"grown": resident() - before, "queued_bytes": processor._queued_bytes, "rows": len(processor._queue)}))
braintrust.flush(timeout=0)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_queues_byte_count_is_close_to_the_memory_it_holds(tmp_path):
    """A server that hangs fills the queue. Each small row encoded by orjson kept its 4-8 KB first
    buffer: 40,000 queued rows counted as 26 MB held 190 MB (with 100,000 rows, the default
    bound, far past the 256 MB one)."""
    with BraintrustTestServer() as server:
        server.script("POST", "/logs3", [Step(status=200)])
        server.fail_always("POST", "/logs3", Step(hang=True))
        env = subprocess_env(
            BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url, BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"),
            BRAINTRUST_QUEUE_SIZE="40000",
        )
        proc = subprocess.run([sys.executable, "-c", MEMORY_CHILD, "40000"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    measured = json.loads(proc.stdout)
    assert measured["rows"] > 35_000, measured
    assert measured["grown"] < 3 * measured["queued_bytes"], measured


# -- Retry-After beyond what the system's timers hold ---------------------------------------------


@pytest.mark.parametrize("retry_after", ["1e10", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_a_retry_after_beyond_the_systems_timers_waits_for_the_flush_without_an_error(bt_env, tmp_path, caplog, retry_after):
    """The sender, with no flush deadline yet, slept as long as asked: 317 years overflowed the
    timer, and the batch spilled as ``internal_error`` with a traceback."""
    from braintrust.delivery.http_backend import HttpBackend
    from braintrust.delivery.processor import Processor
    from braintrust.delivery.spill import SpillWriter
    from braintrust.state import BraintrustState
    from delivery_helpers import make_row, project_ref

    bt_env.script("POST", "/logs3", [Step(status=429, retry_after=retry_after)])
    settings = DeliverySettings()
    processor = Processor(lambda: HttpBackend(BraintrustState(), settings),
                          lambda: SpillWriter(tmp_path / "spill", {"kind": "api"}), settings)
    processor.enqueue(project_ref(), make_row("r0"), 100)
    waited_until = time.monotonic() + 5
    while not bt_env.requests_to("/logs3", "POST") and time.monotonic() < waited_until:
        time.sleep(0.02)
    time.sleep(0.2)  # (the sender reads the answer and starts its wait)
    started = time.monotonic()
    result = processor.close(timeout=1)
    assert time.monotonic() - started < 1.5
    assert result.spilled_by_reason == {"deadline": 1}, result.errors
    assert result.produced == result.accepted + result.spilled + result.dropped_total and result.pending == 0
    assert "Traceback" not in caplog.text and "unexpectedly" not in caplog.text


def test_a_flush_given_a_timeout_beyond_the_systems_timers_still_delivers(bt_env):
    import braintrust

    braintrust.init_logger(project="long-timeout").log(input=1, output=1)
    result = braintrust.flush(timeout=1e12)
    assert result.accepted == 1 and result.ok, result.describe()
    assert len(bt_env.rows()) == 1
