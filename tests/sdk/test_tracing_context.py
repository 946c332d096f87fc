"""The current span follows asyncio tasks, copied contexts in threads, and generators."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import braintrust
from braintrust import NOOP_SPAN, current_span, start_span, traced


@pytest.fixture
def logger(bt_logs):
    return braintrust.init_logger(project="context-tests")


def _children_of(rows, parent_row):
    return sorted(r["span_attributes"]["name"] for r in rows if r.get("span_parents") == [parent_row["span_id"]])


def test_asyncio_gather_nests_each_task_under_its_own_parent(bt_logs, logger):
    @traced
    async def leaf(tag):
        await asyncio.sleep(0.001)
        current_span().log(metadata={"tag": tag})
        return tag

    @traced
    async def branch(tag):
        # Interleaved with the other branch: each leaf must still land under its own branch.
        results = await asyncio.gather(leaf(f"{tag}-1"), leaf(f"{tag}-2"))
        await asyncio.sleep(0.001)
        return results

    @traced
    async def trunk():
        return await asyncio.gather(branch("a"), branch("b"))

    assert asyncio.run(trunk()) == [["a-1", "a-2"], ["b-1", "b-2"]]
    rows = bt_logs.rows()
    assert len(rows) == 7
    (root,) = [r for r in rows if r["span_attributes"]["name"] == "trunk"]
    branches = [r for r in rows if r["span_attributes"]["name"] == "branch"]
    assert all(b["span_parents"] == [root["span_id"]] for b in branches)
    for b in branches:
        tag = b["input"]["tag"]
        leaves = [r for r in rows if r.get("span_parents") == [b["span_id"]]]
        assert sorted(leaf["metadata"]["tag"] for leaf in leaves) == [f"{tag}-1", f"{tag}-2"]
    assert {r["root_span_id"] for r in rows} == {root["root_span_id"]}


def test_tasks_created_inside_a_span_inherit_it(bt_logs, logger):
    async def main():
        with start_span(name="parent") as parent:
            task = asyncio.create_task(_child_task())
        # The task started while "parent" was current, even though it runs after the block.
        await task
        return parent

    async def _child_task():
        await asyncio.sleep(0)
        with start_span(name="task-child"):
            pass

    parent = asyncio.run(main())
    rows = bt_logs.by_name()
    assert rows["task-child"]["span_parents"] == [parent.span_id]


def test_thread_with_copied_context_nests_under_the_current_span(bt_logs, logger):
    @traced
    def in_thread(n):
        return n * 2

    with start_span(name="outer") as outer:
        results = []
        ctx = contextvars.copy_context()
        thread = threading.Thread(target=lambda: results.append(ctx.run(in_thread, 4)))
        thread.start()
        thread.join()
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(contextvars.copy_context().run, in_thread, i) for i in range(2)]
            results += [f.result() for f in futures]
    assert sorted(results) == [0, 2, 8]
    rows = bt_logs.rows()
    workers = [r for r in rows if r["span_attributes"]["name"] == "in_thread"]
    assert len(workers) == 3
    assert all(r["span_parents"] == [outer.span_id] for r in workers)
    assert current_span() is NOOP_SPAN


def test_thread_without_copied_context_starts_a_new_trace(bt_logs, logger):
    with start_span(name="outer") as outer:
        seen = []
        thread = threading.Thread(target=lambda: seen.append(current_span()))
        thread.start()
        thread.join()
        thread = threading.Thread(target=lambda: start_span(name="orphan").end())
        thread.start()
        thread.join()
    assert seen == [NOOP_SPAN]
    rows = bt_logs.by_name()
    assert rows["orphan"]["span_parents"] is None
    assert rows["orphan"]["root_span_id"] != outer.root_span_id


def test_current_span_is_restored_after_nested_blocks(bt_logs, logger):
    with start_span(name="a") as a:
        with start_span(name="b") as b:
            assert current_span() is b
            with start_span(name="c") as c:
                assert current_span() is c
            assert current_span() is b
        assert current_span() is a
    assert current_span() is NOOP_SPAN
    rows = bt_logs.by_name()
    assert rows["c"]["span_parents"] == [rows["b"]["span_id"]]


def test_generator_steps_see_their_span_and_callers_see_theirs(bt_logs, logger):
    inside = []

    @traced
    def produce():
        for i in range(2):
            inside.append(current_span())
            with start_span(name=f"step-{i}"):
                pass
            yield i

    with start_span(name="consumer") as consumer:
        for _ in produce():
            assert current_span() is consumer
            with start_span(name="consumer-work"):
                pass
    rows = bt_logs.rows()
    (producer,) = [r for r in rows if r["span_attributes"]["name"] == "produce"]
    assert producer["span_parents"] == [consumer.span_id]
    steps = [r for r in rows if r["span_attributes"]["name"].startswith("step-")]
    assert [s["span_parents"] for s in steps] == [[producer["span_id"]]] * 2
    work = [r for r in rows if r["span_attributes"]["name"] == "consumer-work"]
    assert [w["span_parents"] for w in work] == [[consumer.span_id]] * 2
    assert {s.id for s in inside} == {producer["id"]}


def test_async_generator_consumed_from_another_task(bt_logs, logger):
    @traced
    async def source():
        for i in range(2):
            with start_span(name=f"emit-{i}"):
                pass
            yield i

    async def main():
        agen = source()
        first = await asyncio.create_task(agen.__anext__())
        rest = [x async for x in agen]
        return [first, *rest]

    assert asyncio.run(main()) == [0, 1]
    rows = bt_logs.rows()
    (src,) = [r for r in rows if r["span_attributes"]["name"] == "source"]
    emits = [r for r in rows if r["span_attributes"]["name"].startswith("emit-")]
    assert [e["span_parents"] for e in emits] == [[src["span_id"]]] * 2
    assert src["output"] == [0, 1]


def test_span_opened_across_a_yield_stays_current_in_the_generator(bt_logs, logger):
    @traced
    def chunks():
        with start_span(name="inner") as inner:
            yield 1
            assert current_span() is inner
            with start_span(name="after-resume"):
                pass
            yield 2

    with start_span(name="caller") as caller:
        for _ in chunks():
            assert current_span() is caller
    rows = bt_logs.by_name()
    assert rows["inner"]["span_parents"] == [rows["chunks"]["span_id"]]
    assert rows["after-resume"]["span_parents"] == [rows["inner"]["span_id"]]


def test_async_span_opened_across_a_yield_stays_current(bt_logs, logger):
    @traced
    async def chunks():
        with start_span(name="inner") as inner:
            yield 1
            await asyncio.sleep(0.001)
            assert current_span() is inner
            with start_span(name="after-resume"):
                pass
            yield 2

    async def main():
        with start_span(name="caller") as caller:
            async for _ in chunks():
                assert current_span() is caller
                await asyncio.sleep(0)

    asyncio.run(main())
    rows = bt_logs.by_name()
    assert rows["inner"]["span_parents"] == [rows["chunks"]["span_id"]]
    assert rows["after-resume"]["span_parents"] == [rows["inner"]["span_id"]]
    assert rows["chunks"]["span_parents"] == [rows["caller"]["span_id"]]


def test_cancelling_a_traced_coroutine_and_async_generator(bt_logs, logger):
    @traced
    async def slow():
        await asyncio.sleep(10)

    @traced
    async def slow_stream():
        yield 1
        await asyncio.sleep(10)
        yield 2

    async def consume():
        async for _ in slow_stream():
            pass

    async def main():
        for coro in (slow(), consume()):
            task = asyncio.create_task(coro)
            await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert current_span() is NOOP_SPAN

    asyncio.run(main())
    rows = bt_logs.by_name()
    for name in ("slow", "slow_stream"):
        assert "CancelledError" in rows[name]["error"]
        assert "end" in rows[name]["metrics"]
