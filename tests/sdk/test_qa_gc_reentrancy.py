"""Span ends and writes that happen inside the garbage collector, and other re-entrancy in the
tracing core. The collector runs wherever memory is allocated, so on a thread that may hold a
lock a write takes; a finalizer that writes there (an abandoned ``@traced`` generator's
``GeneratorExit``, a user's ``__del__``) once waited for that lock forever. Each script runs in
a subprocess with a timeout, so a hang fails the test; rows go to the loopback server."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from braintrust.tracing import reentry

pytestmark = pytest.mark.skipif(
    not reentry.HOOKED, reason="CPython 3.11: no gc hook (see braintrust.tracing.reentry.HOOKED); these run on 3.10, 3.12 and 3.13"
)

PRELUDE = """
import asyncio, gc, sys, threading
import braintrust
from braintrust.delivery.runtime import get_processor

logger = braintrust.init_logger(project="gc")

@braintrust.traced
def numbers():
    yield 1
    yield 2

@braintrust.traced
async def async_numbers():
    yield 1
    yield 2

def abandon_in_cycle():
    g = numbers()
    next(g)
    box = [g]
    box.append(box)

def abandon_async_in_cycle():
    g = async_numbers()
    try:
        g.asend(None).send(None)  # (stepped by hand: no event loop finalizes it)
    except StopIteration:
        pass
    box = [g]
    box.append(box)
"""


def run(script: str, timeout: float = 20) -> str:
    try:
        proc = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(script)], env=dict(os.environ),
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail("the process hung (a deadlock ending a span inside the garbage collector)")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def ended(rows, name):
    mine = [row for row in rows if row["span_attributes"]["name"] == name]
    assert mine and all(row["metrics"]["end"] >= row["metrics"]["start"] for row in mine)
    return mine


@pytest.mark.parametrize("abandon", ["abandon_in_cycle", "abandon_async_in_cycle"])
def test_a_traced_generator_collected_while_its_thread_holds_the_queue_lock_ends_its_span(bt_logs, abandon):
    out = run(f"""
    gc.disable()
    {abandon}()
    with get_processor()._lock:  # (as when the collector runs while this thread queues a row)
        gc.collect()
    print(braintrust.flush().ok)
    """)
    assert out == "True"
    (row,) = ended(bt_logs.server.rows("project_logs"), "async_numbers" if "async" in abandon else "numbers")
    assert "output" not in row and "error" not in row  # (abandoned: not an error, no output)


def test_traced_generators_collected_anywhere_while_threads_log_never_deadlock(bt_logs):
    """Not arranged: with a low threshold the collector runs at arbitrary allocations of three
    logging threads, some of them inside the queue's lock or a held row's."""
    out = run("""
    gc.set_threshold(7)
    def work():
        for i in range(200):
            abandon_in_cycle()
            for j in range(5):
                logger.log(input=i, output=j)
    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    gc.set_threshold(700)
    gc.collect()
    print(braintrust.flush().ok)
    """)
    assert out == "True"
    rows = bt_logs.server.rows("project_logs")
    assert len(ended(rows, "numbers")) == 600 and len(rows) == 600 + 3000


def test_a_user_finalizer_logging_to_a_span_whose_row_its_thread_is_merging_into_does_not_deadlock(bt_logs):
    out = run("""
    span = logger.start_span(name="held")
    class Noisy:
        def __del__(self):
            span.log(metadata={"from": "__del__"})
            span.end()
    def drop():
        noisy = Noisy()
        noisy.me = noisy
    gc.disable()
    drop()
    with span._open.lock:  # (as when the collector runs while this thread merges into the row)
        gc.collect()
    print(braintrust.flush().ok)
    """)
    assert out == "True"
    (row,) = ended(bt_logs.server.rows("project_logs"), "held")
    assert row["metadata"] == {"from": "__del__"}


def test_a_user_finalizer_ending_a_deferred_span_its_thread_is_making_real_does_not_deadlock(bt_logs):
    out = run("""
    from braintrust.tracing.deferred import DeferredSpan
    span = DeferredSpan(logger.ref, "case", "eval", {"input": 1}, {})
    class Noisy:
        def __del__(self):
            span.log(output=2)
            span.end()
    def drop():
        noisy = Noisy()
        noisy.me = noisy
    gc.disable()
    drop()
    with span.lock:  # (as when the collector runs while this thread makes the span real)
        gc.collect()
    print(braintrust.flush().ok)
    """)
    assert out == "True"
    (row,) = ended(bt_logs.server.rows("project_logs"), "case")
    assert (row["input"], row["output"]) == (1, 2)


def test_a_user_finalizer_calling_logger_log_while_its_thread_holds_the_queue_lock_does_not_deadlock(bt_logs):
    """``logger.log`` of a resolved logger encodes and queues at once (its fast path): from a
    finalizer run by the collector, that queueing is deferred too."""
    out = run("""
    logger.log(input="first")
    braintrust.flush()  # (the project's ids are known from here: the fast path)

    class LogsWhenCollected:
        def __del__(self):
            logger.log(input="from a finalizer")

    gc.disable()
    cycle = LogsWhenCollected()
    cycle.me = cycle
    del cycle
    with get_processor()._lock:
        gc.collect()
    print(braintrust.flush().ok)
    """)
    assert out == "True"
    assert sorted(row["input"] for row in bt_logs.server.rows("project_logs")) == ["first", "from a finalizer"]
