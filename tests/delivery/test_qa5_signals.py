"""Signals and exit paths in real processes: a script stopped while its exit-time flush waits on
a Braintrust that does not answer. Every test ends with the invariant (produced == accepted +
spilled + dropped) and a wall-clock bound."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from btserver import BraintrustTestServer, Step
from delivery_helpers import spilled_rows, subprocess_env

pytestmark = pytest.mark.slow

#: Long enough that waiting it out would fail the time bounds below.
FLUSH_TIMEOUT = 30

#: Logs until stopped; says EXITING as its exit hooks start (its hook runs before braintrust's).
LOGGING_SCRIPT = textwrap.dedent("""
    import atexit, time
    import braintrust

    logger = braintrust.init_logger(project="signals")
    logger.log(input="first")
    atexit.register(print, "EXITING", flush=True)
    print("LOGGING", flush=True)
    i = 0
    while True:
        logger.log(input={"i": i}, output="y" * 100)
        i += 1
        if i % 100 == 0:
            time.sleep(0.001)
""")

ROWS_LINE = re.compile(r"(\d+) row writes, (\d+) accepted, (\d+) spilled")


def start_logging_child(server: BraintrustTestServer, tmp_path: Path, flush_timeout: float = FLUSH_TIMEOUT) -> subprocess.Popen:
    script = tmp_path / "logging_child.py"
    script.write_text(LOGGING_SCRIPT)
    env = subprocess_env(
        BRAINTRUST_API_KEY=server.api_key,
        BRAINTRUST_APP_URL=server.url,
        BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"),
        BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR=str(tmp_path / "spill"),
        BRAINTRUST_FLUSH_TIMEOUT=str(flush_timeout),
    )
    proc = subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "LOGGING"
    return proc


def wait_for_line(proc: subprocess.Popen, expected: str, timeout: float = 20) -> None:
    assert proc.stdout is not None
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        line = proc.stdout.readline()
        if line.strip() == expected:
            return
        if not line:
            break
    raise AssertionError(f"the child never printed {expected!r}")


def test_second_sigterm_during_the_exit_flush_spills_the_rows_and_ends_the_process(tmp_path):
    """A supervisor that SIGTERMs again while the exit-time flush waits on a silent Braintrust
    (``docker stop``, a CI runner's retry): the process ends at once, every row spilled and
    counted in the rows line. It used to die mid-flush, every queued row lost without a word."""
    with BraintrustTestServer() as server:
        server.script("POST", "/logs3", [Step(hang=True)] * 100)
        proc = start_logging_child(server, tmp_path)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        wait_for_line(proc, "EXITING")
        time.sleep(0.3)  # (the exit-time flush is waiting on the server now)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=FLUSH_TIMEOUT + 10)
        elapsed = time.monotonic() - sent

    assert elapsed < FLUSH_TIMEOUT / 2, f"waited out the flush deadline ({elapsed:.1f} s): {stderr}"
    assert proc.returncode == -signal.SIGTERM, stderr
    assert "Traceback" not in stderr, stderr
    counts = ROWS_LINE.search(stderr)
    assert counts, stderr
    produced, accepted, spilled = map(int, counts.groups())
    assert accepted == 0 and produced == spilled > 1, stderr
    assert "interrupted" in stderr, stderr
    assert len(spilled_rows(tmp_path / "spill")) == produced


def test_one_sigterm_waits_for_the_exit_flush_deadline_and_spills(tmp_path):
    """The first SIGTERM alone still gives the flush its deadline (here a short one) and spills
    what a silent Braintrust did not take."""
    with BraintrustTestServer() as server:
        server.script("POST", "/logs3", [Step(hang=True)] * 100)
        proc = start_logging_child(server, tmp_path, flush_timeout=2)
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
        elapsed = time.monotonic() - sent

    assert 1.5 <= elapsed < 15, stderr
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    counts = ROWS_LINE.search(stderr)
    assert counts, stderr
    produced, accepted, spilled = map(int, counts.groups())
    assert produced == accepted + spilled and spilled > 0, stderr
    assert len(spilled_rows(tmp_path / "spill")) == spilled


#: A sync ``Eval`` whose tasks run on worker threads; says STARTED from its first task.
EVAL_SCRIPT = textwrap.dedent("""
    import threading, time
    from braintrust import Eval

    started = threading.Event()

    def task(x):
        if not started.is_set():
            started.set()
            print("STARTED", flush=True)
        time.sleep(0.05)
        return x

    Eval("signals-eval", data=lambda: [{"input": i, "expected": i} for i in range(2000)], task=task,
         scores=[lambda input, output, expected: 1.0])
""")


def test_sigterm_during_a_sync_eval_flushes_what_finished(tmp_path):
    """``Eval`` makes its experiment on a worker thread, where ``init`` cannot install the
    SIGTERM handler, and its rows are logged by worker threads: a cancelled CI job's SIGTERM
    killed it at once, rows neither sent nor spilled nor reported. It now ends as ``init``'s
    handler promises: the run is cancelled, what finished is flushed and said, exit 143."""
    script = tmp_path / "eval_child.py"
    script.write_text(EVAL_SCRIPT)
    with BraintrustTestServer() as server:
        env = subprocess_env(
            BRAINTRUST_API_KEY=server.api_key,
            BRAINTRUST_APP_URL=server.url,
            BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"),
            BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR=str(tmp_path / "spill"),
        )
        proc = subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for_line(proc, "STARTED")
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=40)
        elapsed = time.monotonic() - sent
        received = len(server.rows())

    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert elapsed < 20, stderr
    assert "Traceback" not in stderr, stderr
    finished = re.search(r"was interrupted: (\d+) of 2000 trials had finished", stderr)
    assert finished, stderr
    assert received >= int(finished.group(1)) > 0, stderr
    assert "not every row was delivered" not in stderr, stderr
