"""``wrap_anthropic`` beyond the capture scenario (tests/sdk/test_public_sdk_captures.py): a
streamed tool call, the stream helper left early or failing in its block, async streams, no
logger. A real anthropic client talks to the loopback stub (tests/anthropic_stub.py)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from anthropic import Anthropic, AsyncAnthropic

import braintrust
from braintrust import NamedWrapper, wrap_anthropic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from anthropic_stub import AnthropicStub  # noqa: E402

QUESTION = [{"role": "user", "content": "What is 2+2?"}]
TOOLS = [{"name": "get_weather", "description": "Weather in a city", "input_schema": {"type": "object"}}]


@pytest.fixture
def stub():
    with AnthropicStub() as running:
        yield running


@pytest.fixture
def logger(bt_logs):
    return braintrust.init_logger(project="anthropic-tests")


def client_for(stub: AnthropicStub, cls=Anthropic):
    return wrap_anthropic(cls(api_key="sk-stub", base_url=stub.base_url, max_retries=0))


def test_a_streamed_tool_call_is_logged_as_the_message_it_builds(bt_logs, logger, stub):
    events = client_for(stub).messages.create(model="m", max_tokens=10, messages=QUESTION, tools=TOOLS, stream=True)
    assert [e.type for e in events][-1] == "message_stop"
    (row,) = bt_logs.rows()
    assert row["span_attributes"]["name"] == "anthropic.messages.stream"
    assert row["output"] == {"role": "assistant", "model": "m", "stop_reason": "tool_use", "content": [
        {"type": "text", "text": "The answer is 4."},
        {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Paris"}}]}
    assert row["metrics"]["tokens"] == 21.0 and row["metrics"]["prompt_tokens"] == 16.0
    assert row["metadata"]["tools"] == TOOLS and row["metadata"]["stream"] is True


def test_the_stream_helper_left_early_keeps_what_arrived(bt_logs, logger, stub):
    with client_for(stub).messages.stream(model="m", max_tokens=10, messages=QUESTION) as stream:
        assert next(iter(stream.text_stream)) == "The answer"
    (row,) = bt_logs.rows()
    assert row["output"]["content"] == [{"type": "text", "text": "The answer"}] and "error" not in row
    assert row["metrics"]["time_to_first_token"] >= 0 and row["metrics"]["prompt_tokens"] == 16.0


def test_an_error_in_the_stream_helpers_block_is_the_spans_and_is_raised(bt_logs, logger, stub):
    with pytest.raises(RuntimeError, match="parsing failed"):
        with client_for(stub).messages.stream(model="m", max_tokens=10, messages=QUESTION) as stream:
            stream.get_final_message()
            raise RuntimeError("parsing failed")
    (row,) = bt_logs.rows()
    assert row["error"] == "parsing failed" and row["output"]["content"] == [{"type": "text", "text": "The answer is 4."}]


def test_async_streams_both_ways(bt_logs, logger, stub):
    async def run():
        client = client_for(stub, AsyncAnthropic)
        events = [e.type async for e in await client.messages.create(model="m", max_tokens=10, messages=QUESTION, stream=True)]
        async with client.messages.stream(model="m", max_tokens=10, messages=QUESTION) as stream:
            final = await stream.get_final_message()
        return events, final

    events, final = asyncio.run(run())
    assert events[0] == "message_start" and final.content[0].text == "The answer is 4."
    created, helper = bt_logs.rows()
    for row in (created, helper):
        assert row["span_attributes"]["name"] == "anthropic.messages.stream"
        assert row["output"]["content"] == [{"type": "text", "text": "The answer is 4."}] and row["metrics"]["tokens"] == 21.0


def test_the_wrapped_client_passes_everything_else_through(bt_logs, logger, stub):
    raw = Anthropic(api_key="sk-stub", base_url=stub.base_url, max_retries=0)
    client = wrap_anthropic(raw)
    assert isinstance(client, NamedWrapper) and wrap_anthropic(client) is client
    assert client.api_key == "sk-stub" and client.models is raw.models
    client.with_options(timeout=5).messages.create(model="m", max_tokens=10, messages=QUESTION, metadata={"user_id": "u"})
    (row,) = bt_logs.rows()
    assert row["metadata"] == {"model": "m", "max_tokens": 10, "provider": "anthropic"}  # the request's metadata stays out
    assert stub.requests[-1][1]["metadata"] == {"user_id": "u"}


def test_messages_and_tools_given_as_generators_are_logged_and_still_sent(bt_logs, logger, stub):
    client_for(stub).messages.create(model="m", max_tokens=10, messages=(m for m in QUESTION), tools=(t for t in TOOLS))
    (row,) = bt_logs.rows()
    assert row["input"] == QUESTION and row["metadata"]["tools"] == TOOLS
    assert stub.requests[-1][1]["messages"] == QUESTION and stub.requests[-1][1]["tools"] == TOOLS


def test_something_else_is_returned_as_it_is_with_a_warning():
    thing = object()
    with pytest.warns(UserWarning, match=r"wrap_anthropic: object is not an Anthropic client"):
        assert wrap_anthropic(thing) is thing


def test_with_no_logger_calls_work_and_nothing_is_recorded(bt_logs, stub):
    reply = client_for(stub).messages.create(model="m", max_tokens=10, messages=QUESTION)
    assert reply.content[0].text == "The answer is 4."
    braintrust.flush()
    assert bt_logs.sent_rows() == []
