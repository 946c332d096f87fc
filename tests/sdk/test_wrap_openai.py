"""``wrap_openai`` beyond the capture scenario (tests/sdk/test_public_sdk_captures.py): streams
left early or cut off, the Responses API streamed, what passes through, parameters that stay out,
and no logger at all; the per-endpoint helpers (``CompletionWrapper``...), ``prettify_params`` and
``AsyncResponseWrapper``. A real openai client talks to the loopback stub (tests/openai_stub.py)."""

from __future__ import annotations

import asyncio
import sys
import warnings
from pathlib import Path

import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from pydantic import BaseModel

import braintrust
from braintrust import NamedWrapper, wrap_openai
from braintrust.wrappers.calls import TracedAsyncStream
from braintrust.wrappers.openai import (
    AsyncResponseWrapper, CompletionWrapper, EmbeddingWrapper, ModerationWrapper, ResponsesWrapper, prettify_params,
    serialize_response_format,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from openai_stub import OpenAIStub  # noqa: E402

QUESTION = [{"role": "user", "content": "What is 2+2?"}]


@pytest.fixture
def stub():
    with OpenAIStub() as running:
        yield running


@pytest.fixture
def logger(bt_logs):
    return braintrust.init_logger(project="openai-tests")


def client_for(stub: OpenAIStub, cls=OpenAI):
    return wrap_openai(raw_client(stub, cls))


def raw_client(stub: OpenAIStub, cls=OpenAI):
    return cls(api_key="sk-stub", base_url=stub.base_url, max_retries=0)


class Answer(BaseModel):
    answer: str
    confident: bool


#: name -> (the helper given (create_fn, acreate_fn), the client's function it traces, a request, its span's name)
ENDPOINTS = {
    "chat": (CompletionWrapper, lambda c: c.chat.completions.create, {"model": "m", "messages": QUESTION, "seed": 3},
             "Chat Completion"),
    "chat streamed": (CompletionWrapper, lambda c: c.chat.completions.create,
                      {"model": "m", "messages": QUESTION, "stream": True, "stream_options": {"include_usage": True}},
                      "Chat Completion"),
    "responses": (ResponsesWrapper, lambda c: c.responses.create, {"model": "m", "input": "Capital of France?"},
                  "openai.responses.create"),
    "responses parse": (lambda create, acreate: ResponsesWrapper(create, acreate, name="openai.responses.parse"),
                        lambda c: c.responses.parse, {"model": "m", "input": "Capital of France?", "text_format": Answer},
                        "openai.responses.parse"),
    "embeddings": (EmbeddingWrapper, lambda c: c.embeddings.create, {"model": "e", "input": "hi"}, "Embedding"),
    "moderations": (ModerationWrapper, lambda c: c.moderations.create, {"input": "hi"}, "Moderation"),
}


def comparable(row: dict) -> dict:
    """A row without what differs from call to call: ids, timestamps, timings, the caller's line."""
    row = {key: value for key, value in row.items() if key not in ("_xact_id", "created", "id", "root_span_id", "span_id")}
    row["metrics"] = {key: key if key in ("start", "end", "time_to_first_token") else value for key, value in row["metrics"].items()}
    row["span_attributes"] = {key: value for key, value in row["span_attributes"].items() if key != "exec_counter"}
    row["context"] = {key: value for key, value in row["context"].items() if key != "caller_lineno"}
    return row


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_each_endpoint_helper_writes_the_row_the_wrapped_client_writes(bt_logs, logger, stub, endpoint):
    helper, function, request, name = ENDPOINTS[endpoint]
    by_helper = helper(function(raw_client(stub)), None).create(**request)
    by_client = function(client_for(stub))(**request)
    if request.get("stream"):
        by_helper, by_client = list(by_helper), list(by_client)
    assert by_helper == by_client
    helper_row, client_row = bt_logs.rows()
    assert helper_row["span_attributes"]["name"] == name and helper_row["output"]
    assert comparable(helper_row) == comparable(client_row)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_each_endpoint_helpers_acreate_writes_the_row_the_wrapped_async_client_writes(bt_logs, logger, stub, endpoint):
    helper, function, request, name = ENDPOINTS[endpoint]

    async def run():
        by_helper = await helper(None, function(raw_client(stub, AsyncOpenAI))).acreate(**request)
        by_client = await function(client_for(stub, AsyncOpenAI))(**request)
        if request.get("stream"):
            assert isinstance(by_helper, TracedAsyncStream)
            return [chunk async for chunk in by_helper], [chunk async for chunk in by_client]
        return by_helper, by_client

    by_helper, by_client = asyncio.run(run())
    assert by_helper == by_client
    helper_row, client_row = bt_logs.rows()
    assert helper_row["span_attributes"]["name"] == name and helper_row["output"]
    assert comparable(helper_row) == comparable(client_row)


def test_an_endpoint_helper_without_the_function_called_says_which_and_records_nothing(bt_logs, logger, stub):
    with pytest.raises(TypeError, match=r"^CompletionWrapper\.create: no create_fn was given \(it is None\)\. Fix: pass the sync"):
        CompletionWrapper(None, raw_client(stub, AsyncOpenAI).chat.completions.create).create(model="m", messages=QUESTION)
    with pytest.raises(TypeError, match=r"^EmbeddingWrapper\.acreate: no acreate_fn was given .* Fix: pass the async"):
        asyncio.run(EmbeddingWrapper(raw_client(stub).embeddings.create, None).acreate(model="e", input="hi"))
    with pytest.raises(TypeError, match=r"^ResponsesWrapper\.create: no create_fn"):
        ResponsesWrapper(None, None).create(model="m", input="hi")
    assert bt_logs.rows() == [] and stub.requests == []


def test_prettify_params_drops_what_was_not_given_keeps_none_and_serializes_a_model_class():
    params = {"model": "m", "temperature": openai.NOT_GIVEN, "seed": openai.omit, "user": None, "response_format": Answer}
    schema = {"type": "json_schema", "json_schema": {"name": "Answer", "schema": Answer.model_json_schema()}}
    assert prettify_params(params) == {"model": "m", "user": None, "response_format": schema}
    assert params == {"model": "m", "temperature": openai.NOT_GIVEN, "seed": openai.omit, "user": None, "response_format": Answer}
    assert prettify_params({"response_format": {"type": "json_object"}}) == {"response_format": {"type": "json_object"}}
    assert serialize_response_format(Answer) == schema

    class NotAModel:
        @staticmethod
        def model_json_schema():
            return {}

    instance = Answer(answer="4", confident=True)
    for value in (NotAModel, instance, dict, None, "json_object"):
        assert serialize_response_format(value) is value


def test_async_response_wrapper_is_a_transparent_proxy(stub):
    async def run():
        stream = await raw_client(stub, AsyncOpenAI).chat.completions.create(model="m", messages=QUESTION, stream=True)
        proxy = AsyncResponseWrapper(stream)
        assert isinstance(proxy, openai.AsyncStream) and isinstance(proxy, AsyncResponseWrapper)
        assert proxy.response is stream.response and str(proxy) == str(stream) and repr(proxy) == repr(stream)
        async with proxy as entered:
            assert entered is proxy
            first = await proxy.__anext__()
            rest = [chunk async for chunk in proxy]
        closed = stream.response.is_closed
        plain = AsyncResponseWrapper(3)
        async with plain as entered_plain:  # no context of its own
            assert entered_plain is plain and plain.real == 3 and isinstance(plain, int)
        with pytest.raises(TypeError, match="int is not an async iterable"):
            [x async for x in plain]
        return first, rest, closed

    first, rest, closed = asyncio.run(run())
    assert first.choices[0].delta.role == "assistant"
    assert "".join(chunk.choices[0].delta.content or "" for chunk in rest) == "The answer is 4." and closed


def test_a_stream_left_early_ends_its_span_with_what_arrived(bt_logs, logger, stub):
    stream = client_for(stub).chat.completions.create(model="m", messages=QUESTION, stream=True)
    first, second = next(stream), next(stream)
    assert first.choices[0].delta.role == "assistant" and second.choices[0].delta.content == "The answer"
    stream.close()
    (row,) = bt_logs.rows()
    assert row["span_attributes"] == {"name": "Chat Completion", "type": "llm", "exec_counter": row["span_attributes"]["exec_counter"]}
    assert row["output"][0]["message"] == {"role": "assistant", "content": "The answer", "tool_calls": None}
    assert row["output"][0]["finish_reason"] is None
    assert "error" not in row and row["metrics"]["end"] >= row["metrics"]["start"]
    assert 0 <= row["metrics"]["time_to_first_token"] <= row["metrics"]["end"] - row["metrics"]["start"]


def test_a_stream_cut_off_records_the_error_and_raises_it(bt_logs, logger):
    with OpenAIStub(cut_stream_after=2) as stub:
        stream = client_for(stub).chat.completions.create(model="m", messages=QUESTION, stream=True)
        with pytest.raises(Exception) as raised:
            for _ in stream:
                pass
    (row,) = bt_logs.rows()
    assert type(raised.value).__name__ in row["error"]
    assert row["output"][0]["message"]["content"] == "The answer"  # what arrived before the cut
    bt_logs.server.reset()
    with OpenAIStub(cut_stream_after=0) as stub:
        stream = client_for(stub).chat.completions.create(model="m", messages=QUESTION, stream=True)
        with pytest.raises(Exception):
            for _ in stream:
                pass
    (row,) = bt_logs.rows()
    assert row["error"] and "output" not in row  # (nothing arrived: no output, as 0.48.1 logs it)


def test_a_stream_used_as_a_context_manager(bt_logs, logger, stub):
    with client_for(stub).chat.completions.create(model="m", messages=QUESTION, stream=True) as stream:
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "The answer is 4."
    (row,) = bt_logs.rows()
    assert row["output"][0]["message"]["content"] == "The answer is 4." and row["output"][0]["finish_reason"] == "stop"
    assert "tokens" not in row["metrics"]  # no usage chunk was asked for


def test_raw_responses_stay_raw_and_their_failures_and_early_exits_end_the_span(bt_logs, logger, stub):
    """The capture (``openai_variants``) covers the answers; here, what else a caller meets."""
    client = client_for(stub)
    raw = client.chat.completions.with_raw_response.create(model="m", messages=QUESTION)
    assert isinstance(raw, openai._legacy_response.LegacyAPIResponse) and raw.status_code == 200
    assert raw.parse() is raw.parse()  # (the client's cache: the wrapper parsed it first, once)
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.with_raw_response.create(model="missing-model", messages=QUESTION)
    with client.chat.completions.with_streaming_response.create(model="m", messages=QUESTION) as unread:
        assert unread.status_code == 200  # (left without parse(): the span ends, with no output)
    stream = client.chat.completions.with_raw_response.create(model="m", messages=QUESTION, stream=True).parse()
    next(stream), next(stream)
    stream.close()
    parsed, failed, unread_row, early = bt_logs.rows()
    assert parsed["output"][0]["message"]["content"] == "The answer is 4." and "error" not in parsed
    assert "BadRequestError" in failed["error"] and "output" not in failed
    assert "output" not in unread_row and "error" not in unread_row and unread_row["metrics"]["end"] >= unread_row["metrics"]["start"]
    assert early["output"][0]["message"]["content"] == "The answer"  # what arrived before close()


def test_the_responses_api_streamed_and_async_logs_what_the_final_event_carries(bt_logs, logger, stub):
    async def run():
        client = client_for(stub, AsyncOpenAI)
        plain = await client.responses.create(model="m", input="Capital of France?")
        events = [e.type async for e in await client.responses.create(model="m", input="Capital of France?", stream=True)]
        return plain, events

    plain, events = asyncio.run(run())
    assert plain.output_text == "Paris." and events[-1] == "response.completed"
    unary, streamed = bt_logs.rows()
    assert streamed["output"] == unary["output"] == [{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                                                      "content": [{"type": "output_text", "text": "Paris.", "annotations": []}]}]
    assert unary["metadata"]["id"] == "resp_1"  # a plain call's result fields join its metadata; a stream's do not
    assert streamed["metadata"] == {"model": "m", "provider": "openai", "stream": True}
    assert streamed["metrics"]["tokens"] == unary["metrics"]["tokens"] == 12
    assert "time_to_first_token" in streamed["metrics"]


def test_the_stream_helpers_left_early_end_their_spans_with_what_arrived(bt_logs, logger, stub):
    async def run_async():
        async with client_for(stub, AsyncOpenAI).chat.completions.stream(model="m", messages=QUESTION) as helper:
            return (await helper.get_final_completion()).choices[0].message.content

    with client_for(stub).chat.completions.stream(model="m", messages=QUESTION) as helper:
        for event in helper:
            if event.type == "content.delta" and event.delta:
                break
    assert asyncio.run(run_async()) == "The answer is 4."
    early, whole = bt_logs.rows()
    assert early["metadata"] == whole["metadata"] == {"model": "m", "provider": "openai", "stream": True}
    assert early["output"][0]["message"]["content"] == "The answer" and early["output"][0]["finish_reason"] is None
    assert whole["output"][0]["message"]["content"] == "The answer is 4." and "error" not in early


def test_a_stream_closed_before_its_first_chunk_ends_its_span(bt_logs, logger, stub):
    client = client_for(stub)
    stream = client.chat.completions.create(model="m", messages=QUESTION, stream=True)
    stream.close()
    assert stream.response.is_closed
    with client.chat.completions.create(model="m", messages=QUESTION, stream=True):
        pass
    with client.chat.completions.stream(model="m", messages=QUESTION):
        pass
    with client.responses.stream(model="m", input="Capital of France?"):
        pass  # (an error in the block is the span's: tests/sdk/test_wrapped_streams.py)

    async def run_async():
        async_stream = await client_for(stub, AsyncOpenAI).chat.completions.create(model="m", messages=QUESTION, stream=True)
        await async_stream.close()

    asyncio.run(run_async())
    rows = bt_logs.rows()
    assert len(rows) == 5
    for row in rows:  # each ended, once, with nothing read
        assert row["metrics"]["end"] >= row["metrics"]["start"] and "output" not in row and "error" not in row


def test_an_async_stream_dropped_as_its_loop_ends_keeps_what_arrived_without_an_error(bt_logs, logger, stub):
    async def read_one():
        stream = await client_for(stub, AsyncOpenAI).chat.completions.create(model="m", messages=QUESTION, stream=True)
        async for _ in stream:
            break  # (and the stream is dropped: asyncio.run cancels the task that would close it)

    asyncio.run(read_one())
    (row,) = bt_logs.rows()
    assert "error" not in row and row["metrics"]["end"] >= row["metrics"]["start"]
    assert row["output"][0]["message"] == {"role": "assistant", "content": "", "tool_calls": None}


def test_the_stream_helpers_send_messages_given_as_a_generator(bt_logs, logger, stub):
    client = client_for(stub)
    with client.chat.completions.stream(model="m", messages=(m for m in QUESTION)) as stream:
        assert stream.get_final_completion().choices[0].message.content == "The answer is 4."
    (row,) = bt_logs.rows()
    assert stub.requests[-1][1]["messages"] == QUESTION and row["input"] == QUESTION


def test_parse_gives_the_caller_no_warning_of_the_wrappers(bt_logs, logger, stub):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reply = client_for(stub).chat.completions.parse(model="m", messages=QUESTION, response_format=Answer)
    assert reply.choices[0].message.parsed == Answer(answer="4", confident=True)
    assert [str(warning.message) for warning in caught] == []
    (row,) = bt_logs.rows()
    assert row["output"][0]["message"]["parsed"] == {"answer": "4", "confident": True} and "error" not in row


def test_parameters_that_are_not_model_settings_stay_out_of_metadata(bt_logs, logger, stub):
    client_for(stub).chat.completions.create(model="m", messages=QUESTION, temperature=openai.NOT_GIVEN, user="u-1",
                                             extra_headers={"X-Secret": "s"}, seed=3)
    (row,) = bt_logs.rows()
    assert row["metadata"] == {"model": "m", "seed": 3, "provider": "openai"}
    assert stub.requests[-1][1]["user"] == "u-1"  # sent all the same


def test_messages_given_as_a_generator_are_logged_and_still_sent(bt_logs, logger, stub):
    client_for(stub).chat.completions.create(model="m", messages=(m for m in QUESTION))
    (row,) = bt_logs.rows()
    assert row["input"] == QUESTION and stub.requests[-1][1]["messages"] == QUESTION


def test_the_wrapped_client_passes_everything_else_through(bt_logs, logger, stub):
    raw = OpenAI(api_key="sk-stub", base_url=stub.base_url, max_retries=0)
    client = wrap_openai(raw)
    # Wrapped in place, as 0.48.1 does: still an OpenAI client, and the caller's reference traces too.
    assert client is raw and isinstance(client, OpenAI) and wrap_openai(client) is client
    assert client.api_key == "sk-stub" and client.models is raw.models and client._client is raw._client
    raw.embeddings.create(model="through-the-original-reference", input="hi")
    assert [r["metadata"]["model"] for r in bt_logs.rows()] == ["through-the-original-reference"]
    bt_logs.server.reset()
    from braintrust.oai import NamedWrapper as FromOai, wrap_openai as wrap_from_oai

    assert FromOai is NamedWrapper and wrap_from_oai is wrap_openai
    client.with_options(timeout=5).embeddings.create(model="e", input="hi")
    (row,) = bt_logs.rows()
    assert row["span_attributes"]["name"] == "Embedding" and row["output"] == {"embedding_length": 3}
    assert row["metrics"]["tokens"] == 3 and "time_to_first_token" not in row["metrics"]


def test_a_call_that_cannot_be_traced_still_runs_with_a_warning(bt_logs, logger, stub):
    with pytest.warns(UserWarning, match=r"Chat Completion: this call is not traced \(ValueError: Unexpected log field"):
        reply = client_for(stub).chat.completions.create(model="m", messages=QUESTION, span_info={"colour": "red"})
    assert reply.choices[0].message.content == "The answer is 4."
    assert bt_logs.rows() == [] and "span_info" not in stub.requests[-1][1]


def test_something_else_is_returned_as_it_is_with_a_warning():
    thing = object()
    with pytest.warns(UserWarning, match=r"wrap_openai: object is not an OpenAI client of openai>=1.0"):
        assert wrap_openai(thing) is thing


def test_with_no_logger_calls_work_and_nothing_is_recorded(bt_logs, stub):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reply = client_for(stub).chat.completions.create(model="m", messages=QUESTION)
    assert reply.choices[0].message.content == "The answer is 4."
    braintrust.flush()
    assert bt_logs.sent_rows() == []


def test_a_result_of_an_unknown_shape_is_the_spans_error_not_the_callers(bt_logs, logger):
    class Completions:
        def create(self, **kwargs):
            return ["chunk-1", "chunk-2"] if kwargs.get("stream") else {"choices": "not a list", "usage": 7}

    class Resources:
        completions = Completions()

    class Client:
        chat = Resources()

    assert wrap_openai(Client()).chat.completions.create(model="m", messages=QUESTION) == {"choices": "not a list", "usage": 7}
    assert list(wrap_openai(Client()).chat.completions.create(model="m", messages=QUESTION, stream=True)) == ["chunk-1", "chunk-2"]
    plain, streamed = bt_logs.rows()
    assert plain["output"] == "not a list" and "error" not in plain  # read as far as it goes
    assert streamed["error"].startswith("the wrapper could not read this result (list): ")
    assert "AttributeError" in streamed["error"]
