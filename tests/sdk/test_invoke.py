"""``invoke`` beyond the capture (test_public_sdk_captures.py): errors that say what to do, headers,
values that are not JSON, streams read once but valued after, and the SSE parser's rules."""

from __future__ import annotations

import datetime

import pytest
import requests

import braintrust
from braintrust import BraintrustInvokeError, BraintrustStream, BraintrustTextChunk, init_function, invoke
from braintrust.functions.stream import server_sent_events


def test_without_a_key_it_says_what_to_do():
    with pytest.raises(ValueError, match="invoke calls a function hosted in Braintrust, and no API key is set"):
        invoke(project_name="p", slug="echo", input=1)


def test_the_function_must_be_named(bt_env):
    with pytest.raises(ValueError, match="which function to call"):
        invoke(slug="echo", input=1)
    assert bt_env.requests_to("/function/invoke") == []


def test_failures_keep_their_kind(bt_env):
    with pytest.raises(BraintrustInvokeError, match="deliberately broken"):
        invoke(project_name="p", slug="fail", input=1)
    with pytest.raises(requests.HTTPError, match="function 'nope': POST /function/invoke answered 404"):
        invoke(project_name="p", slug="nope", input=1)
    assert len(bt_env.requests_to("/function/invoke")) == 2  # never retried: a function may have effects
    bt_env.stop()
    with pytest.raises(BraintrustInvokeError, match="could not invoke function 'echo'"):
        invoke(project_name="p", slug="echo", input=1)


def test_project_and_org_headers_and_values_that_are_not_json(bt_env):
    when = datetime.datetime(2026, 11, 23, 12, 0)
    assert invoke(project_id="proj-1", slug="echo", input={"when": when}, org_name="test-org") == {"when": "2026-11-23T12:00:00"}
    [call] = bt_env.requests_to("/function/invoke")
    assert call.headers["x-bt-project-id"] == "proj-1" and call.headers["x-bt-org-name"] == "test-org"
    assert call.body.decode().startswith('{"api_version": 1, "input": {"when": ')  # keys sorted


def test_a_stream_read_once_still_has_its_final_value(bt_env):
    stream = invoke(project_name="p", slug="shout", input="abc def", stream=True)
    kinds = [chunk.type for chunk in stream]
    assert kinds[:2] == ["console", "progress"] and set(kinds[2:]) == {"text_delta"}
    assert list(stream) == []
    assert stream.final_value() == "ABC DEF"  # (the public SDK answers None here)
    other = invoke(project_name="p", slug="classify", input="good", stream=True)
    copied = other.copy()
    assert copied.final_value() == other.final_value() == {"label": "positive", "score": 0.9}
    assert BraintrustStream([BraintrustTextChunk("a"), BraintrustTextChunk("b")]).final_value() == "ab"
    assert BraintrustStream([]).final_value() is None


def test_init_function_is_an_eval_task_and_scorer_as_in_the_public_sdk(bt_env):
    echo = init_function("p", "echo")
    assert echo("x") == "x" and echo(a=1) == {"a": 1}
    assert echo("x", object()) == "x"  # (a task: Eval passes its hooks after the input)
    assert echo.__name__ == "init_function-p-echo-latest"  # (a scorer's score name)

    def one(output):
        return 1.0

    result = braintrust.Eval("p", data=[{"input": "q"}], task=echo, scores=[one])
    assert [(r.output, r.error) for r in result.results] == [("q", None)]


def test_the_parent_is_the_current_span(bt_env):
    logger = braintrust.init_logger(project="p")
    with logger.start_span(name="outer") as span:
        invoke(project_name="p", slug="echo", input=1)
        assert bt_env.requests_to("/function/invoke")[-1].json["parent"] == span.export()
    invoke(project_name="p", slug="echo", input=1, parent="explicit-slug")
    assert bt_env.requests_to("/function/invoke")[-1].json["parent"] == "explicit-slug"


def test_server_sent_events_follow_the_standard():
    lines = ["event: a", "data: 1", "data:2", ": a comment", "id: 7", "", "", "data: plain", "", "event: last", "data: x"]
    assert list(server_sent_events(lines)) == [("a", "1\n2"), ("message", "plain"), ("last", "x")]


def test_invoke_async_runs_in_the_callers_span_and_streams_with_async_for(bt_env):
    """``invoke_async``: the same answer as ``invoke``, the caller's current span as the parent
    (the worker thread runs in the caller's context), and a stream read with ``async for`` /
    ``final_value_async()`` while the event loop keeps running."""
    import asyncio

    logger = braintrust.init_logger(project="p")

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        running = asyncio.create_task(ticker())
        with logger.start_span(name="outer") as span:
            answer = await braintrust.invoke_async(project_name="p", slug="echo", input={"a": 1})
            parent = bt_env.requests_to("/function/invoke")[-1].json["parent"]
            stream = await braintrust.invoke_async(project_name="p", slug="shout", input="abc def", stream=True)
            kinds = [chunk.type async for chunk in stream]
            other = await braintrust.invoke_async(project_name="p", slug="classify", input="good", stream=True)
            final = await other.final_value_async()
        running.cancel()
        return answer, parent, span.export(), kinds, stream.final_value(), final, ticks

    answer, parent, exported, kinds, text, final, ticks = asyncio.run(main())
    assert answer == {"a": 1} and parent == exported
    assert kinds[:2] == ["console", "progress"] and text == "ABC DEF"
    assert final == {"label": "positive", "score": 0.9}
    assert ticks > 0  # (the loop ran while the calls waited on their threads)
