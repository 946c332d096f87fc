"""``@traced``: what each kind of decorated function records, against the loopback server."""

from __future__ import annotations

import asyncio
import logging

import pytest

import braintrust
from braintrust import current_span, traced


@pytest.fixture
def logger(bt_logs):
    return braintrust.init_logger(project="traced-tests")


def test_bare_decorator_logs_bound_arguments_output_and_function_type(bt_logs, logger):
    @traced
    def add(a, b=2, *rest, **options):
        return a + b

    assert add(1, 5, 7, scale=3) == 6
    assert add(4) == 6
    rows = bt_logs.rows()
    assert len(rows) == 2
    first, second = rows
    assert first["span_attributes"]["name"] == "add"
    assert first["span_attributes"]["type"] == "function"
    # Arguments are bound to parameter names; defaults not passed are not logged.
    assert first["input"] == {"a": 1, "b": 5, "rest": [7], "options": {"scale": 3}}
    assert second["input"] == {"a": 4}
    assert first["output"] == 6
    assert first["span_parents"] is None
    assert first["metrics"]["end"] >= first["metrics"]["start"]
    assert "error" not in first


def test_decorator_arguments_name_type_attributes_and_event_fields(bt_logs, logger):
    @traced(name="step-one", type="tool", span_attributes={"team": "search"}, metadata={"model": "m1"}, tags=["t"])
    def step(x):
        return x * 2

    assert step(21) == 42
    row = bt_logs.by_name()["step-one"]
    assert row["span_attributes"]["type"] == "tool"
    assert row["span_attributes"]["team"] == "search"
    assert isinstance(row["span_attributes"]["exec_counter"], int)
    assert row["metadata"] == {"model": "m1"}
    assert row["tags"] == ["t"]
    assert row["input"] == {"x": 21}
    assert row["output"] == 42


def test_span_type_enum_is_accepted(bt_logs, logger):
    @traced(type=braintrust.SpanTypeAttribute.LLM)
    def call():
        return "ok"

    call()
    assert bt_logs.by_name()["call"]["span_attributes"]["type"] == "llm"


def test_notrace_io_logs_neither_input_nor_output(bt_logs, logger):
    @traced(notrace_io=True)
    def secret(password):
        return password[::-1]

    assert secret("hunter2") == "2retnuh"
    row = bt_logs.by_name()["secret"]
    assert "input" not in row and "output" not in row
    assert row["metrics"]["end"] >= row["metrics"]["start"]


def test_exception_is_logged_as_traceback_and_reraised(bt_logs, logger):
    @traced
    def explode(x):
        raise ValueError(f"bad {x}")

    with pytest.raises(ValueError, match="bad 3"):
        explode(3)
    row = bt_logs.by_name()["explode"]
    assert row["input"] == {"x": 3}
    assert "output" not in row
    assert row["error"].startswith("Traceback (most recent call last):")
    assert "ValueError: bad 3" in row["error"]
    assert "explode" in row["error"]
    assert "end" in row["metrics"]


def test_nesting_sets_span_parents_and_root_span_id(bt_logs, logger):
    @traced
    def leaf(x):
        return x + 1

    @traced
    def middle(x):
        return leaf(x) * 2

    @traced
    def top(x):
        return middle(x) + leaf(x)

    assert top(1) == 6
    rows = bt_logs.rows()
    by_name: dict = {}
    for row in rows:
        by_name.setdefault(row["span_attributes"]["name"], []).append(row)
    (root,) = by_name["top"]
    (mid,) = by_name["middle"]
    leaves = by_name["leaf"]
    assert root["span_parents"] is None
    assert mid["span_parents"] == [root["span_id"]]
    assert sorted(leaf["span_parents"][0] for leaf in leaves) == sorted([mid["span_id"], root["span_id"]])
    assert {row["root_span_id"] for row in rows} == {root["root_span_id"]}
    assert len(root["root_span_id"]) == 32


def test_current_span_inside_body_is_the_function_span(bt_logs, logger):
    seen = {}

    @traced
    def work():
        span = current_span()
        seen["span"] = span
        span.log(metadata={"inside": True})
        return 1

    assert current_span() is braintrust.NOOP_SPAN
    work()
    assert current_span() is braintrust.NOOP_SPAN
    row = bt_logs.by_name()["work"]
    assert seen["span"].id == row["id"]
    assert row["metadata"] == {"inside": True}


def test_async_function(bt_logs, logger):
    @traced
    async def fetch(url, retries=1):
        await asyncio.sleep(0)
        current_span().log(metadata={"url": url})
        return {"status": 200}

    assert asyncio.run(fetch("http://x", retries=3)) == {"status": 200}
    row = bt_logs.by_name()["fetch"]
    assert row["input"] == {"url": "http://x", "retries": 3}
    assert row["output"] == {"status": 200}
    assert row["metadata"] == {"url": "http://x"}
    assert row["span_attributes"]["type"] == "function"


def test_async_function_exception(bt_logs, logger):
    @traced
    async def broken():
        await asyncio.sleep(0)
        raise KeyError("missing")

    with pytest.raises(KeyError):
        asyncio.run(broken())
    row = bt_logs.by_name()["broken"]
    assert "KeyError: 'missing'" in row["error"]


def test_generator_output_is_the_list_of_yielded_items(bt_logs, logger):
    spans_seen = []

    @traced
    def count(n):
        for i in range(n):
            spans_seen.append(current_span())
            yield {"i": i}

    gen = count(3)
    assert current_span() is braintrust.NOOP_SPAN
    first = next(gen)
    # Between steps, the caller's context is untouched.
    assert current_span() is braintrust.NOOP_SPAN
    rest = list(gen)
    assert [first, *rest] == [{"i": 0}, {"i": 1}, {"i": 2}]
    row = bt_logs.by_name()["count"]
    assert row["input"] == {"n": 3}
    assert row["output"] == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert {span.id for span in spans_seen} == {row["id"]}


def test_generator_return_value_is_preserved(bt_logs, logger):
    @traced
    def gen():
        yield 1
        return "done"

    def consumer():
        result = yield from gen()
        return result

    collected = []
    g = consumer()
    try:
        while True:
            collected.append(next(g))
    except StopIteration as stop:
        assert stop.value == "done"
    assert collected == [1]
    assert bt_logs.by_name()["gen"]["output"] == [1]


def test_generator_exception_logs_error_and_partial_output(bt_logs, logger):
    @traced
    def flaky():
        yield "a"
        yield "b"
        raise RuntimeError("stream broke")

    with pytest.raises(RuntimeError):
        list(flaky())
    row = bt_logs.by_name()["flaky"]
    assert "RuntimeError: stream broke" in row["error"]
    assert row["output"] == ["a", "b"]


def test_async_generator(bt_logs, logger):
    @traced(name="agen")
    async def ticks(n):
        for i in range(n):
            await asyncio.sleep(0)
            current_span().log(metadata={f"tick{i}": True})
            yield i

    async def main():
        return [x async for x in ticks(3)]

    assert asyncio.run(main()) == [0, 1, 2]
    row = bt_logs.by_name()["agen"]
    assert row["output"] == [0, 1, 2]
    assert row["input"] == {"n": 3}
    assert row["metadata"] == {"tick0": True, "tick1": True, "tick2": True}


def test_async_generator_exception(bt_logs, logger):
    @traced
    async def fails():
        yield 1
        raise ValueError("agen failed")

    async def main():
        return [x async for x in fails()]

    with pytest.raises(ValueError):
        asyncio.run(main())
    row = bt_logs.by_name()["fails"]
    assert "ValueError: agen failed" in row["error"]


@pytest.mark.parametrize(
    "limit, n, expected",
    [
        (None, 5, [0, 1, 2, 3, 4]),  # default 1000
        ("3", 3, [0, 1, 2]),  # exactly at the limit: logged
        ("3", 4, None),  # over the limit: output not logged
        ("0", 5, None),  # 0: never logged
        ("-1", 1500, list(range(1500))),  # -1: unlimited
    ],
)
def test_generator_item_limit(bt_logs, logger, monkeypatch, caplog, limit, n, expected):
    if limit is not None:
        monkeypatch.setenv("BRAINTRUST_MAX_GENERATOR_ITEMS", limit)

    @traced
    def items():
        yield from range(n)

    with caplog.at_level(logging.WARNING, logger="braintrust"):
        assert list(items()) == list(range(n))
    row = bt_logs.by_name()["items"]
    if expected is None:
        assert "output" not in row
    else:
        assert row["output"] == expected
    over = limit == "3" and n == 4
    assert any("BRAINTRUST_MAX_GENERATOR_ITEMS" in r.getMessage() for r in caplog.records) == over


def test_async_generator_item_limit(bt_logs, logger, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_MAX_GENERATOR_ITEMS", "2")

    @traced
    async def many():
        for i in range(3):
            yield i

    async def main():
        return [x async for x in many()]

    assert asyncio.run(main()) == [0, 1, 2]
    assert "output" not in bt_logs.by_name()["many"]


def test_generator_abandoned_early_still_ends_the_span(bt_logs, logger):
    @traced
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    gen = endless()
    assert [next(gen), next(gen)] == [0, 1]
    gen.close()
    row = bt_logs.by_name()["endless"]
    assert "end" in row["metrics"]
    assert "error" not in row


def test_without_logger_function_runs_and_nothing_is_sent(bt_env):
    @traced
    def plain(x):
        assert current_span() is braintrust.NOOP_SPAN
        return x

    @traced
    def gen():
        yield 1

    assert plain(5) == 5
    assert list(gen()) == [1]
    braintrust.flush()
    assert bt_env.requests == []


def test_decorated_function_keeps_its_metadata(logger):
    @traced
    def documented(a: int) -> int:
        """Docs."""
        return a

    assert documented.__name__ == "documented"
    assert documented.__doc__ == "Docs."
    assert documented.__wrapped__(3) == 3


def test_traced_methods_bind_self(bt_logs, logger):
    class Agent:
        @traced
        def act(self, goal):
            return f"did {goal}"

    assert Agent().act("x") == "did x"
    row = bt_logs.by_name()["act"]
    assert row["input"]["goal"] == "x"
    assert isinstance(row["input"]["self"], str)  # an arbitrary object becomes its str()


def test_generator_send_throw_and_close_reach_the_wrapped_generator(bt_logs, logger):
    events = []

    @traced
    def echo():
        try:
            received = None
            while True:
                try:
                    received = yield received
                except KeyError:
                    events.append("handled KeyError")
                    received = "recovered"
        finally:
            events.append("finally ran")

    gen = echo()
    assert next(gen) is None
    assert gen.send("ping") == "ping"
    assert gen.throw(KeyError("k")) == "recovered"
    gen.close()
    assert events == ["handled KeyError", "finally ran"]
    row = bt_logs.by_name()["echo"]
    assert "error" not in row and "end" in row["metrics"]


def test_async_generator_asend_and_aclose(bt_logs, logger):
    events = []

    @traced
    async def echo():
        try:
            received = None
            while True:
                received = yield received
        finally:
            events.append("finally ran")

    async def main():
        agen = echo()
        assert await agen.asend(None) is None
        assert await agen.asend("x") == "x"
        await agen.aclose()

    asyncio.run(main())
    assert events == ["finally ran"]
    row = bt_logs.by_name()["echo"]
    assert "error" not in row and "end" in row["metrics"]


def test_positional_span_arguments(bt_logs, logger):
    @traced("named-positionally", "llm")
    def f():
        return 1

    @traced("only-name")
    def g():
        return 2

    f(), g()
    rows = bt_logs.by_name()
    assert rows["named-positionally"]["span_attributes"]["type"] == "llm"
    assert rows["only-name"]["span_attributes"]["type"] == "function"
    with pytest.raises(TypeError):
        traced("a", name="b")


def test_type_in_span_attributes_is_kept(bt_logs, logger):
    @traced(span_attributes={"type": "tool"})
    def tool():
        return 1

    tool()
    assert bt_logs.by_name()["tool"]["span_attributes"]["type"] == "tool"


def test_parent_and_set_current_arguments(bt_logs, logger):
    with logger.start_span(name="remote-parent") as remote:
        pass
    slug = remote.export()

    @traced(parent=slug)
    def child():
        return 1

    @traced(set_current=False)
    def detached():
        assert current_span() is braintrust.NOOP_SPAN
        return 2

    with braintrust.start_span(name="local"):
        child()
    detached()
    rows = bt_logs.by_name()
    assert rows["child"]["span_parents"] == [remote.span_id]
    assert rows["detached"]["output"] == 2


def test_wrappers_keep_the_function_kind():
    import inspect

    @traced
    def f():
        pass

    @traced
    async def a():
        pass

    @traced
    def g():
        yield

    @traced
    async def ag():
        yield

    assert not inspect.iscoroutinefunction(f) and not inspect.isgeneratorfunction(f)
    assert inspect.iscoroutinefunction(a)
    assert inspect.isgeneratorfunction(g)
    assert inspect.isasyncgenfunction(ag)


def test_notrace_io_generator(bt_logs, logger):
    @traced(notrace_io=True)
    def gen():
        yield from range(3)

    assert list(gen()) == [0, 1, 2]
    row = bt_logs.by_name()["gen"]
    assert "input" not in row and "output" not in row


def test_propagated_event_reaches_descendants(bt_logs, logger):
    @traced
    def inner():
        return 1

    own = {"own": True, "session": "mine"}
    with braintrust.start_span(name="top", propagated_event={"metadata": {"session": "s1"}}) as top:
        with top.start_span(name="mid", metadata=own):
            inner()
    assert own == {"own": True, "session": "mine"}  # the caller's dict is not modified
    rows = bt_logs.by_name()
    assert rows["top"]["metadata"] == {"session": "s1"}
    assert rows["mid"]["metadata"] == {"session": "s1", "own": True}
    assert rows["inner"]["metadata"] == {"session": "s1"}
