"""The LLM wrappers against what 0.48.1 logs where the capture scenarios do not reach: an
Anthropic stream's thinking signature and citations, ``messages.parse`` (structured outputs),
message batches, and no pydantic serializer warning for an answer the client's types do not
expect. Real clients talk to loopback stubs; the expected rows are those 0.48.1 wrote for the same
calls against the same answers (run side by side against the test server)."""

from __future__ import annotations

import asyncio
import json
import sys
import warnings
from pathlib import Path

import pytest
from anthropic import Anthropic, AsyncAnthropic
from openai import OpenAI
from pydantic import BaseModel

import braintrust
from braintrust import wrap_anthropic, wrap_openai

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from loopback_stub import LoopbackStub, StubHandler  # noqa: E402
from openai_stub import OpenAIStub  # noqa: E402

QUESTION = [{"role": "user", "content": "What is 2+2?"}]
CITATION = {"type": "char_location", "cited_text": "sky is blue", "document_index": 0, "document_title": "Doc",
            "start_char_index": 0, "end_char_index": 11, "file_id": None}
STRUCTURED = '{"answer": "4", "confident": true}'
BATCH = {"id": "msgbatch_1", "type": "message_batch", "processing_status": "in_progress",
         "request_counts": {"processing": 2, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
         "ended_at": None, "created_at": "2024-01-01T00:00:00Z", "expires_at": "2024-01-02T00:00:00Z",
         "archived_at": None, "cancel_initiated_at": None, "results_url": None}
DIAGNOSTICS = {"cache_miss_reason": {"type": "model_changed", "cache_missed_input_tokens": 120}}
RESULT_LINE = {"custom_id": "r1", "result": {"type": "succeeded", "message": {
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude", "content": [{"type": "text", "text": "4"}],
    "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}}}}


def _events(events: list[dict]) -> bytes:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def _thinking_stream(model: str, diagnostics: dict | None = None) -> bytes:
    """A streamed answer with a thinking block (its signature in a delta of its own), a redacted
    one and a text block with two citations."""
    start = {"id": "msg_2", "type": "message", "role": "assistant", "model": model, "content": [],
             "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 3, "output_tokens": 1}, "diagnostics": diagnostics}
    return _events([
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me "}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "think."}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig1"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "redacted_thinking", "data": "abc"}},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {"type": "text", "text": "", "citations": None}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "citations_delta", "citation": CITATION}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "Blue"}},
        {"type": "content_block_delta", "index": 2, "delta": {"type": "citations_delta", "citation": {**CITATION, "cited_text": "x"}}},
        {"type": "content_block_stop", "index": 2},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": {"output_tokens": 5}},
        {"type": "message_stop"},
    ])


class _Handler(StubHandler):
    def do_GET(self):  # a batch (with where its results are), then its results as JSON lines
        if self.path.endswith("/results"):
            return self.send(200, (json.dumps(RESULT_LINE) + "\n").encode(), "application/binary")
        url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/messages/batches/msgbatch_1/results"
        self.send(200, json.dumps({**BATCH, "results_url": url}).encode(), "application/json")


class AnthropicAnswers(LoopbackStub):
    """Streams: thinking and citations; messages: a structured answer; batches: ``BATCH`` (a
    batch of model ``bad``: a 400). A request with ``diagnostics`` gets ``DIAGNOSTICS``."""

    def __init__(self):
        super().__init__()
        self._server.RequestHandlerClass = _Handler

    def answer(self, handler, path, body):
        if "/batches" in path:
            if body["requests"][0]["params"]["model"] == "bad":
                error = {"type": "error", "error": {"type": "invalid_request_error", "message": "bad batch"}}
                return handler.send(400, json.dumps(error).encode(), "application/json")
            return handler.send(200, json.dumps(BATCH).encode(), "application/json")
        if body.get("stream"):
            diagnostics = DIAGNOSTICS if body.get("diagnostics") else None
            return handler.send(200, _thinking_stream(body["model"], diagnostics), "text/event-stream")
        message = {"id": "msg_1", "type": "message", "role": "assistant", "model": body["model"],
                   "content": [{"type": "text", "text": STRUCTURED}], "stop_reason": "end_turn", "stop_sequence": None,
                   "usage": {"input_tokens": 3, "output_tokens": 4}, **({"diagnostics": DIAGNOSTICS} if body.get("diagnostics") else {})}
        handler.send(200, json.dumps(message).encode(), "application/json")


class Answer(BaseModel):
    answer: str
    confident: bool


@pytest.fixture
def stub():
    with AnthropicAnswers() as running:
        yield running


@pytest.fixture
def logger(bt_logs):
    return braintrust.init_logger(project="qa2-llm-wrappers")


def client_for(stub, cls=Anthropic):
    return wrap_anthropic(cls(api_key="sk-stub", base_url=stub.url, max_retries=0))


# -- an Anthropic stream: every kind of delta --------------------------------------------------


STREAMED_CONTENT = [
    {"type": "thinking", "thinking": "Let me think.", "signature": "sig1"},
    {"type": "redacted_thinking", "data": "abc"},
    {"type": "text", "text": "Blue", "citations": [
        {k: v for k, v in CITATION.items() if v is not None},
        {k: v for k, v in CITATION.items() if v is not None} | {"cited_text": "x"}]},
]


def test_a_streamed_answer_keeps_its_thinking_signature_and_citations(bt_logs, logger, stub):
    """0.48.1 builds a stream=True answer with the client's own accumulator: the signature comes
    in a signature_delta and each citation in a citations_delta (ours dropped both)."""
    for _ in client_for(stub).messages.create(model="m", max_tokens=10, messages=QUESTION, stream=True):
        pass

    async def run():
        events = await client_for(stub, AsyncAnthropic).messages.create(model="m", max_tokens=10, messages=QUESTION, stream=True)
        async for _ in events:
            pass

    asyncio.run(run())
    rows = bt_logs.rows()
    assert [row["output"]["content"] for row in rows] == [STREAMED_CONTENT] * 2
    assert all(row["output"]["stop_reason"] == "end_turn" for row in rows)


def test_the_stream_helper_logs_the_same_content(bt_logs, logger, stub):
    with client_for(stub).messages.stream(model="m", max_tokens=10, messages=QUESTION) as stream:
        stream.get_final_message()
    (row,) = bt_logs.rows()
    assert row["output"]["content"] == STREAMED_CONTENT


def test_a_cache_miss_reason_is_metadata(bt_logs, logger, stub):
    client = client_for(stub)
    asked = {"previous_message_id": "msg_0"}
    client.messages.create(model="m", max_tokens=10, messages=QUESTION, diagnostics=asked)
    for _ in client.messages.create(model="m", max_tokens=10, messages=QUESTION, stream=True, diagnostics=asked):
        pass
    client.messages.create(model="m", max_tokens=10, messages=QUESTION)
    plain, streamed, without = bt_logs.rows()
    for row in (plain, streamed):
        assert row["metadata"]["diagnostics"] == asked
        assert (row["metadata"]["cache_miss_reason"], row["metadata"]["cache_missed_input_tokens"]) == ("model_changed", 120)
    assert "cache_miss_reason" not in without["metadata"]


# -- messages.parse ------------------------------------------------------------------------------


def test_messages_parse_is_an_llm_span_with_the_parsed_output(bt_logs, logger, stub):
    client = client_for(stub)
    parsed = client.messages.parse(model="m", max_tokens=50, messages=QUESTION, output_format=Answer, system="Be terse.")
    assert parsed.parsed_output == Answer(answer="4", confident=True)
    schema = {"format": {"type": "json_schema", "schema": Answer.model_json_schema()}}
    assert client.messages.parse(model="m", max_tokens=50, messages=QUESTION, output_config=schema).parsed_output is None
    first, second = bt_logs.rows()
    assert first["span_attributes"] == {"name": "anthropic.messages.parse", "type": "llm", "exec_counter": first["span_attributes"]["exec_counter"]}
    assert first["input"] == QUESTION + [{"role": "system", "content": "Be terse."}]
    assert first["metadata"] == {"provider": "anthropic", "model": "m", "max_tokens": 50, "output_format": f"{__name__}.Answer"}
    assert first["output"] == {"role": "assistant", "model": "m", "stop_reason": "end_turn",
                               "content": [{"type": "text", "text": STRUCTURED}], "parsed_output": {"answer": "4", "confident": True}}
    assert first["metrics"]["tokens"] == 7.0 and first["metrics"]["time_to_first_token"] >= 0
    assert second["metadata"]["output_config"] == schema and "parsed_output" not in second["output"]


def test_async_messages_parse_is_traced(bt_logs, logger, stub):
    async def run():
        return await client_for(stub, AsyncAnthropic).messages.parse(model="m", max_tokens=50, messages=QUESTION, output_format=Answer)

    assert asyncio.run(run()).parsed_output.confident is True
    (row,) = bt_logs.rows()
    assert row["span_attributes"]["name"] == "anthropic.messages.parse"
    assert row["output"]["parsed_output"] == {"answer": "4", "confident": True}


# -- message batches -------------------------------------------------------------------------------


def _requests(*models: str):
    return [{"custom_id": f"r{i}", "params": {"model": model, "max_tokens": 5, "messages": QUESTION}} for i, model in enumerate(models, 1)]


def test_batches_create_and_results_are_task_spans(bt_logs, logger, stub):
    client = client_for(stub)
    assert client.messages.batches.create(requests=_requests("claude", "haiku")).id == "msgbatch_1"
    assert [r.custom_id for r in client.messages.batches.results("msgbatch_1")] == ["r1"]
    assert client.messages.batches.retrieve("msgbatch_1").id == "msgbatch_1"  # (not traced)
    with pytest.raises(Exception, match="bad batch"):
        client.messages.batches.create(requests=_requests("bad"))
    created, results, failed = bt_logs.rows()
    assert created["span_attributes"]["name"] == "anthropic.messages.batches.create" and created["span_attributes"]["type"] == "task"
    assert created["input"] == [{"custom_id": "r1"}, {"custom_id": "r2"}]
    assert created["metadata"] == {"provider": "anthropic", "num_requests": 2, "models": ["claude", "haiku"]}
    assert created["output"] == {"id": "msgbatch_1", "processing_status": "in_progress", "request_counts": BATCH["request_counts"]}
    assert set(created["metrics"]) == {"start", "end"}
    assert results["span_attributes"] == {"name": "anthropic.messages.batches.results", "type": "task",
                                          "exec_counter": results["span_attributes"]["exec_counter"]}
    assert results["input"] == {"message_batch_id": "msgbatch_1"} and results["output"] == {"type": "jsonl_stream"}
    assert results["metadata"] == {"provider": "anthropic"}
    assert failed["metadata"]["model"] == "bad" and "bad batch" in failed["error"] and "output" not in failed


def test_async_batches_and_a_generator_of_requests_still_sent(bt_logs, logger, stub):
    async def run():
        client = client_for(stub, AsyncAnthropic)
        await client.messages.batches.create(requests=(r for r in _requests("claude")))
        results = await client.messages.batches.results(message_batch_id="msgbatch_1")
        return [r.custom_id async for r in results]

    assert asyncio.run(run()) == ["r1"]
    assert [len(body["requests"]) for path, body in stub.requests if "/batches" in path] == [1]
    created, results = bt_logs.rows()
    assert created["metadata"] == {"provider": "anthropic", "num_requests": 1, "model": "claude"}
    assert results["input"] == {"message_batch_id": "msgbatch_1"}


# -- pydantic serializer warnings ----------------------------------------------------------------------


def test_an_answer_the_clients_types_do_not_expect_gives_the_caller_no_serializer_warning(bt_logs, logger):
    """The stub's MCP call carries its error as a string where the client's type is an object
    (as when the API is newer than the client): logging it as 0.48.1 does, without pydantic's
    serializer warning on the caller's screen."""
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}]
    with OpenAIStub() as openai_stub, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client = wrap_openai(OpenAI(api_key="sk-stub", base_url=openai_stub.base_url, max_retries=0))
        client.responses.create(model="gpt-4o-mini", input="Weather?", tools=tools)
        bt_logs.flush()
    assert [str(w.message) for w in caught if "serializ" in str(w.message).lower()] == []
    rows = {row["span_attributes"]["name"]: row for row in bt_logs.rows()}
    assert rows["openai.responses.create"]["output"][-1] == {"type": "mcp_call", "id": "mcp_1", "server_label": "wiki", "name": "ask",
                                                             "arguments": "{\"q\": \"rain\"}", "error": "{\"code\": 503}"}


# -- a Responses stream without a terminal event ----------------------------------------------------


def _response_events_ending_in_an_error() -> bytes:
    """A Responses stream that starts a reasoning item, a message (text in two deltas, an
    annotation) and a function call, then ends on an ``error`` event (no ``response.completed``)."""
    events = [
        {"type": "response.created", "response": {"id": "resp_1", "object": "response", "created_at": 1, "status": "in_progress",
                                                  "model": "m", "output": [], "parallel_tool_calls": True, "tool_choice": "auto",
                                                  "tools": []}},
        {"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning", "id": "rs_1", "summary": []}},
        {"type": "response.output_item.done", "output_index": 0,
         "item": {"type": "reasoning", "id": "rs_1", "summary": [], "status": "completed"}},
        {"type": "response.output_item.added", "output_index": 1,
         "item": {"type": "message", "id": "msg_1", "status": "in_progress", "role": "assistant", "content": []}},
        {"type": "response.content_part.added", "item_id": "msg_1", "output_index": 1, "content_index": 0,
         "part": {"type": "output_text", "text": "", "annotations": []}},
        {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": "Par", "logprobs": []},
        {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": "is", "logprobs": []},
        {"type": "response.output_text.annotation.added", "item_id": "msg_1", "output_index": 1, "content_index": 0, "annotation_index": 0,
         "annotation": {"type": "url_citation", "url": "https://x", "title": "x", "start_index": 0, "end_index": 1}},
        {"type": "response.output_item.added", "output_index": 2,
         "item": {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": "", "status": "in_progress"}},
        {"type": "response.function_call_arguments.delta", "item_id": "fc_1", "output_index": 2, "delta": "{}"},
        {"type": "error", "code": "rate_limit", "message": "slow down", "param": None},
    ]
    return _events([{**event, "sequence_number": n} for n, event in enumerate(events)])


class ResponsesEndingInAnError(LoopbackStub):
    def answer(self, handler, path, body):
        handler.send(200, _response_events_ending_in_an_error(), "text/event-stream")


def test_a_responses_stream_without_a_terminal_event_logs_the_items_it_started(bt_logs, logger):
    """0.48.1 rebuilds the output from the item events when no ``response.completed`` came (ours
    logged no output at all)."""
    with ResponsesEndingInAnError() as responses_stub:
        client = wrap_openai(OpenAI(api_key="sk-stub", base_url=f"{responses_stub.url}/v1", max_retries=0))
        assert [event.type for event in client.responses.create(model="m", input="hi", stream=True)][-1] == "error"
    rows = {row["span_attributes"]["name"]: row for row in bt_logs.rows()}
    row, tool = rows["openai.responses.create"], rows["function_call"]
    assert row["output"] == [
        {"id": "rs_1", "type": "reasoning", "status": "completed"},
        {"id": "msg_1", "type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": "Paris",
             "annotations": [{"type": "url_citation", "url": "https://x", "title": "x", "start_index": 0, "end_index": 1}]}]},
        {"id": "fc_1", "type": "function_call"},
    ]
    assert "error" not in row  # (the client raises nothing: the error event is the caller's to read)
    # the function call started is a tool span, as 0.48.1 logs it
    assert tool["span_attributes"]["type"] == "tool" and tool["metadata"] == {"tool_id": "fc_1", "tool_type": "function_call"}
    assert tool["span_parents"] == [row["span_id"]]
