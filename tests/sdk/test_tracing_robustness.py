"""Tracing under stress: a span current in several tasks at once, runaway recursion (in traced
code and in code that logs), the SDK failing while it records a ``@traced`` call (the
function's own result or error goes on), and traced generators that share their caller's
context as plain ones do."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars

import pytest

import braintrust
from braintrust import NOOP_SPAN, current_span, traced
from braintrust.delivery import open_rows
from braintrust.tracing.span import SpanImpl


@pytest.fixture
def logger(bt_logs):
    return braintrust.init_logger(project="robustness-tests")


def test_a_span_entered_in_concurrent_tasks_restores_each_tasks_own_current_span(bt_logs, logger):
    shared = logger.start_span("shared")

    async def worker(i):
        with logger.start_span(f"outer{i}") as outer:
            with shared:
                await asyncio.sleep(0.01 * i)  # task 1 leaves the block while task 2 is inside
            assert current_span() is outer
            with braintrust.start_span(f"after{i}"):
                pass

    async def main():
        await asyncio.gather(worker(1), worker(2))

    asyncio.run(main())
    shared.end()
    rows = bt_logs.by_name()
    for i in (1, 2):
        assert rows[f"after{i}"]["span_parents"] == [rows[f"outer{i}"]["span_id"]]


def _pad(k, call):
    return call() if k == 0 else _pad(k - 1, call)


def test_runaway_recursion_raises_recursion_error_and_ends_every_span(bt_logs, logger):
    @traced
    def walk(n):
        yield n
        yield from walk(n + 1)

    # Padding frames move the point where the stack runs out through the SDK's own code.
    for k in range(4):

        @traced
        def rec(n):
            return _pad(k, lambda: rec(n + 1))

        with pytest.raises(RecursionError):
            rec(0)
        assert current_span() is NOOP_SPAN
    with pytest.raises(RecursionError):  # (not a ValueError from the SDK)
        list(walk(0))
    assert current_span() is NOOP_SPAN
    assert open_rows.open_count() == 0
    rows = bt_logs.rows()
    assert len(rows) > 500
    assert all(row["metrics"].get("end") for row in rows)


def test_logging_in_runaway_recursion_raises_recursion_error(bt_logs, logger):
    """A row built from a snapshot of its fields near the stack's end (``dataset.insert``,
    ``logger.log``): the recursion's own error, not a TypeError from a row built of the
    snapshot's placeholder text (a dataset's insert gave one at 8 of these 60 depths)."""
    dataset = braintrust.init_dataset(project="robustness-tests", name="deep")
    for k in range(60):  # (padding frames move where the stack runs out through the SDK's code)

        def log_deeper(n):
            dataset.insert(input={"n": [n, {"a": n}]}, expected=n)
            logger.log(input={"n": [n, {"a": n}]}, output=n)
            return _pad(k, lambda: log_deeper(n + 1))

        with pytest.raises(RecursionError):
            log_deeper(0)


def test_a_failure_while_recording_keeps_the_functions_result_and_error(bt_logs, logger, monkeypatch):
    def broken(self, *args, **kwargs):
        raise RuntimeError("recording failed")

    monkeypatch.setattr(SpanImpl, "log", broken)
    monkeypatch.setattr(SpanImpl, "log_error", broken)

    @traced
    def ok():
        return 42

    @traced
    def bad():
        raise KeyError("mine")

    @traced
    def gen():
        yield 1
        raise KeyError("mine")

    assert ok() == 42
    with pytest.raises(KeyError, match="mine") as raised:
        bad()
    assert raised.value.__context__ is None
    with pytest.raises(KeyError, match="mine"):
        list(gen())
    assert current_span() is NOOP_SPAN
    rows = bt_logs.by_name()
    assert set(rows) == {"ok", "bad", "gen"}
    assert all(row["metrics"].get("end") for row in rows.values())


_request_id = contextvars.ContextVar("request_id", default=None)


def test_a_traced_generator_shares_its_callers_context_variables(bt_logs, logger):
    @contextlib.contextmanager
    @traced
    def request(request_id):
        token = _request_id.set(request_id)
        try:
            yield
        finally:
            _request_id.reset(token)

    @traced
    async def arequest(request_id):
        _request_id.set(request_id)
        yield

    with braintrust.start_span("caller") as caller:
        with request("r1"):
            assert _request_id.get() == "r1"  # as without @traced
            in_block = current_span()  # (a context manager's span is current in its block, as in 0.48.1)
        assert _request_id.get() is None
        assert current_span() is caller

        async def consume():
            async for _ in arequest("r2"):
                assert _request_id.get() == "r2"
            assert current_span() is caller

        asyncio.run(consume())
    rows = bt_logs.by_name()
    assert rows["request"]["span_parents"] == [rows["caller"]["span_id"]]
    assert rows["request"]["span_id"] == in_block.span_id
    assert rows["arequest"]["span_parents"] == [rows["caller"]["span_id"]]
