"""``wrap_anthropic`` beyond the capture scenario (tests/sdk/test_public_sdk_captures.py): a
streamed tool call, the stream helper left early or failing in its block, async streams, no
logger; ``TracedMessageStream`` on a span of the caller's. A real anthropic client talks to the
loopback stub (tests/anthropic_stub.py)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import pytest
from anthropic import Anthropic, AsyncAnthropic

import braintrust
from braintrust import NamedWrapper, wrap_anthropic
from braintrust.wrappers.anthropic import TracedMessageStream

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
    # (its traceback, as 0.48.1 logs an error leaving a span's block)
    assert row["error"].strip().splitlines()[-1] == "RuntimeError: parsing failed"
    assert row["output"]["content"] == [{"type": "text", "text": "The answer is 4."}]


def test_a_stream_closed_before_its_first_event_ends_its_span(bt_logs, logger, stub):
    stream = client_for(stub).messages.create(model="m", max_tokens=10, messages=QUESTION, stream=True)
    stream.close()
    assert stream.response.is_closed
    (row,) = bt_logs.rows()
    assert row["metrics"]["end"] >= row["metrics"]["start"] and "output" not in row and "error" not in row


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
    from braintrust.wrappers.anthropic import wrap_anthropic_client

    with pytest.warns(DeprecationWarning, match=r"wrap_anthropic_client\(\) is deprecated"):  # (0.48.1's old name)
        assert isinstance(wrap_anthropic_client(raw), NamedWrapper)


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


# -- TracedMessageStream -----------------------------------------------------------------------

REQUEST = {"model": "m", "max_tokens": 10, "messages": QUESTION, "tools": TOOLS}


def raw_client(stub: AnthropicStub, cls=Anthropic):
    return cls(api_key="sk-stub", base_url=stub.base_url, max_retries=0)


def callers_span():
    """The span a caller of TracedMessageStream starts for its request."""
    return braintrust.start_span(name="anthropic.messages.stream", span_attributes={"type": "llm"}, input=QUESTION)


def logged(row: dict) -> dict:
    """What TracedMessageStream logs: the output, and the metrics but their times."""
    metrics = {key: value for key, value in row["metrics"].items() if key not in ("start", "end", "time_to_first_token")}
    return {"output": row["output"], "metrics": metrics, "error": row.get("error")}


def test_a_traced_message_stream_logs_what_the_stream_helper_logs_when_read_to_the_end(bt_logs, logger, stub):
    with client_for(stub).messages.stream(**REQUEST) as stream:
        by_helper = "".join(stream.text_stream)
    started = time.time() - 100  # the request's start, as the caller measured it
    with raw_client(stub).messages.stream(**REQUEST) as stream:
        traced = TracedMessageStream(stream, callers_span(), started)
        by_traced = "".join(traced.text_stream)
        helper_row, traced_row = bt_logs.rows()  # ended already: its events ran out
    assert by_traced == by_helper == "The answer is 4."
    assert logged(traced_row) == logged(helper_row) and traced_row["output"]["stop_reason"] == "tool_use"
    assert traced_row["output"]["content"][1]["input"] == {"city": "Paris"} and traced_row["metrics"]["tokens"] == 21.0
    assert traced_row["metrics"]["time_to_first_token"] >= 100 > helper_row["metrics"]["time_to_first_token"]
    assert traced_row["input"] == QUESTION and traced_row["span_attributes"]["name"] == "anthropic.messages.stream"


def test_a_traced_async_message_stream_logs_what_the_async_stream_helper_logs(bt_logs, logger, stub):
    async def run():
        async with client_for(stub, AsyncAnthropic).messages.stream(**REQUEST) as stream:
            by_helper = await stream.get_final_message()
        async with raw_client(stub, AsyncAnthropic).messages.stream(**REQUEST) as stream:
            traced = TracedMessageStream(stream, callers_span(), time.time())
            by_traced = await traced.get_final_message()
        async with raw_client(stub, AsyncAnthropic).messages.stream(**REQUEST) as stream:
            traced = TracedMessageStream(stream, callers_span(), time.time())
            events = [event.type async for event in traced]
        return by_helper, by_traced, events

    by_helper, by_traced, events = asyncio.run(run())
    assert by_traced == by_helper and events[0] == "message_start" and events[-1] == "message_stop"
    helper_row, final_row, iterated_row = bt_logs.rows()
    assert logged(final_row) == logged(iterated_row) == logged(helper_row) and helper_row["output"]["content"]
    assert final_row["metrics"]["time_to_first_token"] >= 0 and iterated_row["metrics"]["time_to_first_token"] >= 0


class RecordingSpan:
    def __init__(self):
        self.logs: list[dict] = []
        self.ends = 0

    def log(self, **fields):
        self.logs.append(fields)

    def end(self):
        self.ends += 1


def test_a_traced_message_stream_ends_its_span_once_however_it_is_read_and_closed(stub):
    span = RecordingSpan()
    with raw_client(stub).messages.stream(**REQUEST) as stream:
        with TracedMessageStream(stream, span, time.time()) as traced:
            assert traced.get_final_text() == "The answer is 4."
            assert span.ends == 1 and [event.type for event in traced] == []  # read to its end already
            assert traced.current_message_snapshot is stream.current_message_snapshot  # passes through
            assert traced.response is stream.response and isinstance(traced, NamedWrapper)
            traced.close()
    assert span.ends == 1 and len(span.logs) == 1
    assert [block.type for block in span.logs[0]["output"]["content"]] == ["text", "tool_use"]
    assert span.logs[0]["output"]["content"][0].text == "The answer is 4."


def test_a_traced_message_stream_closed_early_keeps_what_arrived(stub):
    span = RecordingSpan()
    with raw_client(stub).messages.stream(**REQUEST) as stream:
        start = time.time()
        traced = TracedMessageStream(stream, span, start)
        assert [next(iter(traced)).type, next(traced).type, next(traced).type] == [
            "message_start", "content_block_start", "content_block_delta"]
        assert span.ends == 0
        events_read_after = time.time() - start
        time.sleep(0.3)  # the first token's time is the first text's, not the close's
        traced.close()
        assert span.ends == 1
    (fields,) = span.logs
    assert fields["output"]["role"] == "assistant" and "stop_reason" not in fields["output"]
    assert [(block.type, block.text) for block in fields["output"]["content"]] == [("text", "The answer")]
    assert fields["metrics"]["prompt_tokens"] == 16.0 and 0 <= fields["metrics"]["time_to_first_token"] <= events_read_after
    assert "error" not in fields


def test_an_error_in_a_traced_message_streams_block_is_the_spans_and_is_raised(stub):
    async def run(span):
        async with raw_client(stub, AsyncAnthropic).messages.stream(**REQUEST) as stream:
            async with TracedMessageStream(stream, span, time.time()) as traced:
                await traced.__anext__()
                raise RuntimeError("parsing failed")

    sync_span, async_span = RecordingSpan(), RecordingSpan()
    with pytest.raises(RuntimeError, match="parsing failed"):
        with raw_client(stub).messages.stream(**REQUEST) as stream:
            with TracedMessageStream(stream, sync_span, time.time()) as traced:
                next(traced)
                raise RuntimeError("parsing failed")
    with pytest.raises(RuntimeError, match="parsing failed"):
        asyncio.run(run(async_span))
    for span in (sync_span, async_span):
        (fields,) = span.logs
        assert span.ends == 1 and fields["output"]["content"] == []
        assert fields["error"].strip().splitlines()[-1] == "RuntimeError: parsing failed"


def test_usage_details_are_named_as_the_public_sdk_names_them():
    from braintrust.wrappers.anthropic import usage_metadata, usage_metrics

    usage = {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 2, "cache_creation_input_tokens": 4,
             "cache_creation": {"ephemeral_5m_input_tokens": 1, "ephemeral_1h_input_tokens": 3},
             "server_tool_use": {"web_search_requests": 2}, "output_tokens_details": {"thinking_tokens": 3},
             "service_tier": "standard", "inference_geo": None}
    assert usage_metrics(usage) == {
        "prompt_tokens": 16.0, "completion_tokens": 5.0, "tokens": 21.0, "prompt_cached_tokens": 2.0,
        "prompt_cache_creation_5m_tokens": 1.0, "prompt_cache_creation_1h_tokens": 3.0,  # (they replace the total)
        "completion_reasoning_tokens": 3.0, "server_tool_use_web_search_requests": 2.0,
    }
    assert usage_metadata(usage) == {"usage_service_tier": "standard"}
    assert usage_metrics({"input_tokens": 1, "cache_creation_input_tokens": 2})["prompt_cache_creation_tokens"] == 2.0
