"""Helpers for the delivery tests (``tests/delivery/``): a fake clock whose sleeps are
instant, processors wired to a ``MemoryBackend`` and a spill folder, spill-file readers, and
the invariant every processor test ends with, and a logging process stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from braintrust.config import DeliverySettings
from braintrust.delivery.backend import PROJECT_LOGS, ObjectRef
from braintrust.delivery.deadline import Deadline
from braintrust.delivery.http_client import HttpClient
from braintrust.delivery.memory_backend import MemoryBackend
from braintrust.delivery.processor import FlushResult, Processor
from braintrust.delivery.spill import SpillWriter


#: Kept in a child's environment: the test's own cache folders (conftest's isolation), so that
#: a child that loads prompts or parameters caches them there, not in the user's home folder.
CACHE_VARIABLES = ("BRAINTRUST_PROMPT_CACHE_DIR", "BRAINTRUST_PARAMETERS_CACHE_DIR")


def subprocess_env(**variables: str) -> dict[str, str]:
    """This process's environment without ``BRAINTRUST_*`` (a test's own settings must not leak
    into the child it starts) but for the cache folders, plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINTRUST_") or k in CACHE_VARIABLES}
    env.update(variables)
    return env


class FakeClock:
    """Real monotonic time plus whatever was "slept": requests take real time, sleeps none."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return time.monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.offset += seconds

    def deadline(self, seconds: float | None) -> Deadline:
        return Deadline(seconds, clock=self.now, sleeper=self.sleep)


def client_for(url: str, api_key: str = "test-api-key", **settings: Any) -> HttpClient:
    """An ``HttpClient`` trusting ``url``, with a seeded jitter."""
    client = HttpClient(api_key, DeliverySettings(**settings), rng=random.Random(0))
    client.trust(url)
    return client


def closed_port_url() -> str:
    """``http://127.0.0.1:PORT`` where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def project_ref(name: str = "delivery-tests") -> ObjectRef:
    return ObjectRef(PROJECT_LOGS, {"project_name": name})


def make_row(row_id: str | None = None, **fields: Any) -> dict[str, Any]:
    row = {"id": row_id or str(uuid.uuid4()), "span_id": "s" * 16, "root_span_id": "r" * 32, "_is_merge": False}
    row.update(fields)
    return row


def make_processor(tmp_path: Path, backend: MemoryBackend | None = None, budget_bytes: int = 500 * 1024 * 1024, **settings: Any):
    """(processor, backend, spill folder). ``settings`` are ``DeliverySettings`` fields."""
    backend = backend or MemoryBackend()
    spill_dir = tmp_path / "spill"
    processor = Processor(
        lambda: backend,
        lambda: SpillWriter(spill_dir, backend.describe(), budget_bytes),
        DeliverySettings(**settings),
    )
    return processor, backend, spill_dir


def assert_invariant(result: FlushResult) -> None:
    assert result.pending == 0, result.describe()
    assert result.produced == result.accepted + result.spilled + result.dropped_total, result.describe()
    assert sum(result.spilled_by_reason.values()) == result.spilled, result


def spill_documents(spill_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(Path(spill_dir).glob("spill-*.json"))]


def spilled_rows(spill_dir: Path) -> list[dict[str, Any]]:
    return [entry["row"] for doc in spill_documents(spill_dir) for entry in doc["rows"]]


def spilled_items(spill_dir: Path) -> int:
    return sum(doc["item_count"] for doc in spill_documents(spill_dir))


def in_forked_child(work) -> int:
    """Run ``work()`` in a forked child and return the child's exit code: 0 when it returned
    true, 1 when false, 2 when it raised (the child never returns into the test)."""
    import os

    pid = os.fork()
    if pid == 0:
        code = 2
        try:
            code = 0 if work() else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


FAULT_CHILD = Path(__file__).parent / "fault_child.py"


def sigterm_while_logging(env: dict[str, str], report_path: Path, run_seconds: float) -> tuple[dict[str, Any], float]:
    """Run ``fault_child.py loop`` with ``env`` for ``run_seconds``, send it SIGTERM, wait for it;
    returns its report and the seconds from the signal to its exit."""
    proc = subprocess.Popen([sys.executable, str(FAULT_CHILD), "loop", "0", str(report_path)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "LOGGING"
    time.sleep(run_seconds)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    return json.loads(report_path.read_text()), time.monotonic() - sent


#: Source to put at the top of a child process's script: its name lookups of
#: ``never-resolves.test`` never end (``getaddrinfo`` has no timeout that requests applies).
HANGING_RESOLVER = """
import socket, threading, time
_real_getaddrinfo = socket.getaddrinfo
def _lookup(host, *args, **kwargs):
    if host == "never-resolves.test":
        time.sleep(3600)
    return _real_getaddrinfo(host, *args, **kwargs)
socket.getaddrinfo = _lookup

def wait_until_held(lock, what, tries=250):
    # until another thread holds ``lock`` (the sender, inside a request that never ends)
    for _ in range(tries):
        if not lock.acquire(blocking=False):
            return
        lock.release()
        time.sleep(0.02)
    raise SystemExit(f"the sender never started {what}")

def wait_until_the_sender_logs_in():
    from braintrust.state import global_state
    wait_until_held(global_state()._lock, "its login")  # (a login holds it through its request)
"""
