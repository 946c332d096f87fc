"""The tracing API held to 0.48.1: a span that ended while still current (no ``unset_current``,
a pool thread's earlier task) is not the parent of later spans; ``@traced(type=None)`` types its
span as ``start_span`` does; a field ``@traced`` cannot log is refused where it is written; a
``@traced`` context manager's block nests under its span; a traced generator given arguments it
cannot take ends its span with the error."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib

import pytest

import braintrust
from braintrust import NOOP_SPAN, current_span, start_span


def test_a_span_made_current_and_ended_without_unset_current_is_no_later_traces_parent(bt_logs):
    logger = braintrust.init_logger(project="qa3-tracing")
    forgotten = start_span(name="forgotten")
    forgotten.set_current()
    forgotten.end()  # (no unset_current: every later span became its child)
    assert current_span() is NOOP_SPAN
    with start_span(name="next-request"):
        pass
    with logger.start_span(name="logger-span"):
        pass
    rows = bt_logs.by_name()
    for name in ("next-request", "logger-span"):
        assert rows[name]["span_parents"] is None, name
        assert rows[name]["root_span_id"] != forgotten.root_span_id, name


def test_a_plain_pool_threads_task_leaving_its_span_current_is_not_the_next_tasks_parent(bt_logs):
    braintrust.init_logger(project="qa3-tracing")

    def first():
        span = start_span(name="first-task")
        span.set_current()  # (the worker thread's context outlives the task)
        span.end()

    def second():
        with start_span(name="second-task") as span:
            return span.root_span_id

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(first).result()
        pool.submit(second).result()
    rows = bt_logs.by_name()
    assert rows["second-task"]["span_parents"] is None
    assert rows["second-task"]["root_span_id"] != rows["first-task"]["root_span_id"]


def test_a_span_ended_inside_its_with_block_gives_way_to_the_span_current_before_it(bt_logs):
    braintrust.init_logger(project="qa3-tracing")
    with start_span(name="outer") as outer:
        with start_span(name="inner") as inner:
            inner.end()
            assert current_span() is outer
            with start_span(name="after-inner-ended"):
                pass
        assert current_span() is outer
    assert current_span() is NOOP_SPAN
    rows = bt_logs.by_name()
    assert rows["after-inner-ended"]["span_parents"] == [outer.span_id]
    assert rows["inner"]["span_parents"] == [outer.span_id]


def test_traced_with_type_none_types_its_span_as_start_span_does_not_as_function(bt_logs):
    braintrust.init_logger(project="qa3-tracing")

    def make(span_type):  # (a helper passing its caller's type through, None by default)
        return braintrust.traced(name=f"typed-{span_type}", type=span_type)(lambda: 1)

    make(None)()
    with start_span(name="parent"):
        braintrust.traced(name="child-typed-none", type=None)(lambda: 2)()
        braintrust.traced(name="child-untyped")(lambda: 3)()
    rows = bt_logs.by_name()
    assert rows["typed-None"]["span_attributes"]["type"] == "task"  # (a root's default, as in 0.48.1)
    assert "type" not in rows["child-typed-none"]["span_attributes"]
    assert rows["child-untyped"]["span_attributes"]["type"] == "function"


def test_a_traced_field_the_span_cannot_log_is_refused_where_the_decorator_is_written(bt_logs):
    braintrust.init_logger(project="qa3-tracing")
    with pytest.raises(ValueError, match=r"@traced on 'handler': Unexpected log field\(s\) \['metdata'\]"):

        @braintrust.traced(metdata={"route": "/a"})
        def handler():
            return 1

    with pytest.raises(ValueError, match="@traced on 'scored'.*scores"):
        braintrust.traced(name="scored", scores="high")(lambda: 1)

    @braintrust.traced(metadata={"route": "/b"})
    def fine():
        return 2

    assert fine() == 2
    assert bt_logs.by_name()["fine"]["metadata"] == {"route": "/b"}


def test_a_traced_context_manager_nests_its_blocks_spans_under_its_own(bt_logs):
    braintrust.init_logger(project="qa3-tracing")

    @contextlib.contextmanager
    @braintrust.traced
    def stage(label):
        yield label

    @contextlib.asynccontextmanager
    @braintrust.traced
    async def astage(label):
        yield label

    async def run_async():
        async with astage("a"):
            with start_span(name="in-async-block"):
                pass

    with start_span(name="outer") as outer:
        with stage("s"):
            braintrust.traced(name="in-block")(lambda: 1)()
        with pytest.raises(ZeroDivisionError):
            with stage("failing"):
                1 / 0
        assert current_span() is outer
        asyncio.run(run_async())
        assert current_span() is outer
    rows = bt_logs.rows()
    stages = {r["input"]["label"]: r for r in rows if r["span_attributes"]["name"] in ("stage", "astage")}
    by_name = {r["span_attributes"]["name"]: r for r in rows}
    assert by_name["in-block"]["span_parents"] == [stages["s"]["span_id"]]
    assert by_name["in-async-block"]["span_parents"] == [stages["a"]["span_id"]]
    assert "ZeroDivisionError" in stages["failing"]["error"]
    assert all(s["span_parents"] == [outer.span_id] for s in stages.values())


def test_a_traced_generator_called_with_arguments_it_cannot_take_ends_its_span_with_the_error(bt_logs):
    braintrust.init_logger(project="qa3-tracing")

    @braintrust.traced
    def numbers(n):
        yield from range(n)

    @braintrust.traced
    async def anumbers(n):
        yield n

    async def consume():
        return [x async for x in anumbers(1, 2)]

    with pytest.raises(TypeError):
        list(numbers())
    with pytest.raises(TypeError):
        asyncio.run(consume())
    rows = bt_logs.by_name()
    for name in ("numbers", "anumbers"):
        assert "TypeError" in rows[name]["error"], name
        assert rows[name]["metrics"].get("end"), name


def test_a_span_current_again_after_out_of_order_unsets_can_still_be_unset():
    """``a.set_current(); b.set_current(); a.unset_current(); b.unset_current()`` makes ``a``
    current again (``b``'s token restores it); ``a.unset_current()`` then did nothing, and ``a``
    stayed every later span's parent. Now it leaves no span current, as in 0.48.1."""
    import braintrust
    from braintrust.tracing.span import NOOP_SPAN

    logger = braintrust.init_logger(project="out-of-order")
    a = logger.start_span(name="a")
    b = logger.start_span(name="b")
    a.set_current()
    b.set_current()
    a.unset_current()
    b.unset_current()
    assert braintrust.current_span() is a
    a.unset_current()
    assert braintrust.current_span() is NOOP_SPAN
    later = braintrust.start_span(name="later")
    assert later.root_span_id != a.root_span_id
    for span in (later, b, a):
        span.end()
