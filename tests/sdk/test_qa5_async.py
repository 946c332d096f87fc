"""Async code, cancellation and timeouts held to 0.48.1 (differential checks: the same scripts run
under both SDKs against the test server, the rows compared with ``tests/capture_compare.py``).

An ``Eval`` task that is an async generator function fails its case with 0.48.1's ``TypeError``
(ours logged the unstarted generator's repr as the output, and scored it). What already matched
is pinned too: a ``@traced`` coroutine or async generator cancelled by ``asyncio.wait_for`` ends
its span with ``CancelledError`` as the error; ``gather(return_exceptions=True)`` and a
``TaskGroup`` record each failing child on its own span; sibling tasks do not see each other's
current span."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

import braintrust
from braintrust import EvalAsync, start_span, traced

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from anthropic_stub import AnthropicStub  # noqa: E402

#: 0.48.1's error for an async generator function given as the task (it awaits what the task returns).
AWAIT_ERROR = "TypeError: object async_generator can't be used in 'await' expression"


async def _answers(input):
    yield input * 2


class _StreamingModel:
    """A callable object whose ``__call__`` is an async generator."""

    async def __call__(self, input):
        yield input * 2


def _always(output):
    return 1


@pytest.mark.parametrize("task", [_answers, _StreamingModel()], ids=["function", "callable-object"])
def test_an_async_generator_task_fails_its_case_as_in_0_48_1(bt_env, task):
    result = asyncio.run(EvalAsync("qa5-async", data=[{"input": 1}], task=task, scores=[_always],
                                   experiment_name="agen-task", summarize_scores=False))
    (case,) = result.results
    assert isinstance(case.error, TypeError)
    assert "returned an async generator" in str(case.error) and "return the output" in str(case.error)
    assert case.output is None and not case.scores
    braintrust.flush()
    rows = {r["span_attributes"]["name"]: r for r in bt_env.rows("experiment")}
    assert set(rows) == {"eval", "task"}  # (no score span: a failed task is not scored, as there)
    for name in ("eval", "task"):
        assert rows[name]["error"].strip().splitlines()[-1].startswith(AWAIT_ERROR)
        assert "output" not in rows[name] and "async_generator object" not in str(rows[name])


def test_an_async_generator_task_fails_under_the_sync_eval_too(bt_env):
    result = braintrust.Eval("qa5-async", data=[{"input": 1}], task=_answers, scores=[_always],
                             experiment_name="agen-task-sync", summarize_scores=False)
    (case,) = result.results
    assert str(case.error).startswith(AWAIT_ERROR.split(": ", 1)[1])


def test_cancelled_traced_coroutines_and_generators_end_with_cancelled_error(bt_logs):
    braintrust.init_logger(project="qa5-async")

    @traced
    async def slow(x):
        await asyncio.sleep(5)

    @traced
    async def slow_items(n):
        for i in range(n):
            await asyncio.sleep(5)
            yield i

    async def consume():
        async for _ in slow_items(3):
            pass

    async def main():
        for awaitable in (slow(1), consume()):
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(awaitable, 0.02)

    asyncio.run(main())
    rows = bt_logs.by_name()
    for name, arguments in (("slow", {"x": 1}), ("slow_items", {"n": 3})):
        row = rows[name]
        assert row["error"].strip().splitlines()[-1] == "asyncio.exceptions.CancelledError"
        assert row["input"] == arguments and "output" not in row
        assert row["metrics"]["end"] >= row["metrics"]["start"]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.TaskGroup is new in Python 3.11")
def test_failing_children_of_gather_and_task_groups_are_each_their_spans_error(bt_logs):
    braintrust.init_logger(project="qa5-async")

    @traced
    async def child(name, fails):
        await asyncio.sleep(0.001)
        if fails:
            raise ValueError(f"{name} broke")
        return name

    async def main():
        gathered = await asyncio.gather(child("g1", True), child("g2", False), return_exceptions=True)
        assert [type(x) for x in gathered] == [ValueError, str]
        with pytest.raises(ExceptionGroup):
            async with asyncio.TaskGroup() as group:
                group.create_task(child("t1", True))
                group.create_task(child("t2", False))

    asyncio.run(main())
    rows = {r["input"]["name"]: r for r in bt_logs.rows()}
    for name in ("g1", "t1"):
        assert rows[name]["error"].strip().splitlines()[-1] == f"ValueError: {name} broke"
        assert "output" not in rows[name]
    for name in ("g2", "t2"):
        assert rows[name]["output"] == name and "error" not in rows[name]
    assert all(r.get("span_parents") is None for r in rows.values())  # (each a trace of its own, as there)


def test_sibling_tasks_do_not_see_each_others_current_span(bt_logs):
    braintrust.init_logger(project="qa5-async")

    async def sibling(name, delay):
        with start_span(name=name) as span:
            await asyncio.sleep(delay)  # (the other sibling opens its span meanwhile)
            assert braintrust.current_span().id == span.id
            with start_span(name=f"{name}-child"):
                pass

    async def main():
        await asyncio.gather(sibling("a", 0.02), sibling("b", 0.01))

    asyncio.run(main())
    rows = bt_logs.by_name()
    for name in ("a", "b"):
        assert rows[f"{name}-child"]["span_parents"] == [rows[name]["span_id"]]
        assert rows[name].get("span_parents") is None


def test_an_error_leaving_an_async_stream_helpers_block_is_logged_as_0_48_1_logs_it(bt_logs):
    """0.48.1 logs the traceback of the exception that left a ``messages.stream(...)`` block (its
    last line ``TimeoutError``); ours logged ``str(exc)``, which for ``asyncio.wait_for``'s
    ``TimeoutError()`` is empty: the span's error said nothing."""
    from anthropic import AsyncAnthropic

    braintrust.init_logger(project="qa5-async")

    async def main(base_url):
        client = braintrust.wrap_anthropic(AsyncAnthropic(api_key="sk-stub", base_url=base_url, max_retries=0))
        with pytest.raises(asyncio.TimeoutError):
            async with client.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "hi"}]) as stream:
                await asyncio.wait_for(asyncio.sleep(5), 0.01)  # (a deadline on the caller's own work)
                await stream.get_final_message()

    with AnthropicStub() as stub:
        asyncio.run(main(stub.base_url))
    (row,) = bt_logs.rows()
    # (``asyncio.exceptions.TimeoutError`` on Python 3.10, where it is not yet the builtin)
    assert row["error"].strip().splitlines()[-1] in ("TimeoutError", "asyncio.exceptions.TimeoutError")
