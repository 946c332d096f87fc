"""``wrap_openai`` against 0.48.1's rows where the captures do not reach: a result's ``moderation``
verdict as metadata (chat completions plain and streamed, a streamed Responses call), the AI
proxy's cache header as the ``cached`` metric of calls made through ``with_raw_response`` /
``with_streaming_response``, and a chat answer's audio (plain and streamed) as an attachment.
Each expectation was checked by running the same calls with the public SDK 0.48.1 against the
same stub (tests/openai_stub.py)."""

from __future__ import annotations

import asyncio
import base64
import sys
from pathlib import Path

import openai
import pytest
from openai import AsyncOpenAI, OpenAI
from pydantic import BaseModel

import braintrust
from braintrust import wrap_openai

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from openai_stub import OpenAIStub  # noqa: E402

QUESTION = [{"role": "user", "content": "What is 2+2?"}]
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt stub"
USAGE = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}


@pytest.fixture
def logger(bt_logs):
    return braintrust.init_logger(project="qa4-openai")


def client_for(stub: OpenAIStub, cls=OpenAI):
    return wrap_openai(cls(api_key="sk-stub", base_url=stub.base_url, max_retries=0))


def moderated_answer(body):
    message = {"role": "assistant", "content": "4", "refusal": None}
    if body.get("audio"):
        message.update(content=None, audio={"id": "audio_1", "data": base64.b64encode(WAV).decode(),
                                            "expires_at": 1700000000, "transcript": "Four."})
    return {"id": "c", "object": "chat.completion", "created": 1, "model": body["model"], "moderation": {"flagged": False},
            "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}], "usage": USAGE}


def audio_chunks(body):
    """A streamed audio answer: its transcript and base64 data in pieces, a verdict on the last chunk."""
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": body["model"]}
    data = base64.b64encode(WAV).decode()
    deltas = [{"role": "assistant", "audio": {"id": "audio_1", "transcript": "Fo"}},
              {"audio": {"transcript": "ur.", "data": data[:8]}},
              {"audio": {"data": data[8:], "expires_at": 17}}]
    chunks = [{**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]} for delta in deltas]
    return chunks + [{**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "moderation": {"flagged": True}}]


def test_a_chat_answers_moderation_verdict_is_metadata_as_0_48_1_logs_it(bt_logs, logger):
    with OpenAIStub(chat_answer=moderated_answer) as stub:
        client_for(stub).chat.completions.create(model="m", messages=QUESTION)
    (row,) = bt_logs.rows()
    # (a model: logged without its fields left at None)
    assert row["metadata"] == {"model": "m", "provider": "openai", "moderation": {"flagged": False}}
    assert "cached" not in row["metrics"]  # (a plain call reads no headers, as in 0.48.1)


def test_a_streamed_answers_verdict_and_a_streamed_responses_verdict_are_metadata(bt_logs, logger):
    with OpenAIStub(chat_chunks=audio_chunks, responses_extra={"moderation": {"flagged": True}}) as stub:
        client = client_for(stub)
        list(client.chat.completions.create(model="m", messages=QUESTION, stream=True))
        list(client.responses.create(model="m", input="Capital of France?", stream=True))
    rows = bt_logs.by_name()
    assert rows["Chat Completion"]["metadata"]["moderation"] == {"flagged": True}
    assert rows["openai.responses.create"]["metadata"] == {"model": "m", "provider": "openai", "stream": True,
                                                           "moderation": {"flagged": True}}


def test_the_proxy_cache_header_of_a_raw_response_is_the_cached_metric(bt_logs, logger):
    with OpenAIStub(headers={"x-bt-cached": "HIT"}) as stub:
        client = client_for(stub)
        with braintrust.start_span(name="raw"):
            client.chat.completions.with_raw_response.create(model="m", messages=QUESTION).parse()
        with braintrust.start_span(name="raw stream"):
            list(client.chat.completions.with_raw_response.create(model="m", messages=QUESTION, stream=True).parse())
        with braintrust.start_span(name="streaming response"):
            with client.chat.completions.with_streaming_response.create(model="m", messages=QUESTION) as response:
                response.parse()
        with braintrust.start_span(name="client-level"):
            client.with_raw_response.chat.completions.create(model="m", messages=QUESTION).parse()
        with braintrust.start_span(name="responses"):
            client.responses.with_raw_response.create(model="m", input="hi").parse()
        with braintrust.start_span(name="embeddings"):
            client.embeddings.with_raw_response.create(model="e", input="hi").parse()
        with braintrust.start_span(name="plain"):
            client.chat.completions.create(model="m", messages=QUESTION)

        async def run():
            aclient = client_for(stub, AsyncOpenAI)
            with braintrust.start_span(name="async raw"):
                (await aclient.chat.completions.with_raw_response.create(model="m", messages=QUESTION)).parse()

        asyncio.run(run())
    rows = bt_logs.rows()
    parents = {row["span_id"]: row["span_attributes"]["name"] for row in rows}
    cached = {parents[row["span_parents"][0]]: row["metrics"].get("cached") for row in rows if row.get("span_parents")}
    assert cached == {"raw": 1, "raw stream": 1, "streaming response": 1, "client-level": 1, "responses": 1,
                      "embeddings": 1, "plain": None, "async raw": 1}


@pytest.mark.parametrize("value, cached", [("true", 1), ("MISS", 0)])
def test_the_older_cache_header_counts_too_and_a_miss_is_zero(bt_logs, logger, value, cached):
    with OpenAIStub(headers={"x-cached": value}) as stub:
        client_for(stub).chat.completions.with_raw_response.create(model="m", messages=QUESTION)
    (row,) = bt_logs.rows()
    assert row["metrics"]["cached"] == cached


def audio_of(row) -> dict:
    return row["output"][0]["message"]["audio"]


def test_a_chat_answers_audio_is_an_attachment_typed_by_the_format_asked_for(bt_logs, logger):
    with OpenAIStub(chat_answer=moderated_answer) as stub:
        client_for(stub).chat.completions.create(model="m", messages=QUESTION, modalities=["text", "audio"],
                                                 audio={"voice": "alloy", "format": "wav"})
    (row,) = bt_logs.rows()
    audio = audio_of(row)
    reference = audio["file"]["file_data"]
    assert {k: v for k, v in audio.items() if k != "file"} == {
        "id": "audio_1", "expires_at": 1700000000, "transcript": "Four.", "mime_type": "audio/wav",
        "audio_size_bytes": len(WAV)}
    assert audio["file"]["filename"] == reference["filename"] == "generated_audio.wav"
    assert reference["type"] == "braintrust_attachment" and reference["content_type"] == "audio/wav"
    assert "data" not in audio  # (not the base64 in the row)
    assert bt_logs.server.attachment_data(reference["key"]) == WAV


@pytest.mark.parametrize("audio, media_type, filename", [
    ({"voice": "alloy", "format": "pcm16"}, "audio/pcm", "generated_audio.pcm"),
    ({"voice": "alloy"}, "application/octet-stream", "generated_audio.bin"),
])
def test_a_streamed_audio_answer_is_put_together_as_one_attachment(bt_logs, logger, audio, media_type, filename):
    with OpenAIStub(chat_chunks=audio_chunks) as stub:
        chunks = list(client_for(stub).chat.completions.create(model="m", messages=QUESTION, stream=True, audio=audio))
    assert len(chunks) == 4
    (row,) = bt_logs.rows()
    logged = audio_of(row)
    assert {k: v for k, v in logged.items() if k != "file"} == {
        "id": "audio_1", "expires_at": 17, "transcript": "Four.", "mime_type": media_type, "audio_size_bytes": len(WAV)}
    assert logged["file"]["filename"] == filename
    assert logged["file"]["file_data"]["content_type"] == media_type
    assert bt_logs.server.attachment_data(logged["file"]["file_data"]["key"]) == WAV
    assert row["output"][0]["message"]["content"] is None


def test_audio_data_that_is_not_base64_stays_as_it_is(bt_logs, logger):
    def answer(body):
        reply = moderated_answer(body)
        reply["choices"][0]["message"]["audio"]["data"] = "not base64!"
        return reply

    with OpenAIStub(chat_answer=answer) as stub:
        client_for(stub).chat.completions.create(model="m", messages=QUESTION, audio={"voice": "alloy", "format": "mp3"})
    (row,) = bt_logs.rows()
    assert audio_of(row) == {"id": "audio_1", "expires_at": 1700000000, "transcript": "Four.", "data": "not base64!"}


class Answer(BaseModel):
    answer: str
    confident: bool


def json_chunks(body):
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": body["model"]}
    deltas = [{"role": "assistant", "content": "{\"answer\": \"4\","}, {"content": " \"confident\": true}"}]
    return [{**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]} for delta in deltas] + [
        {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]


#: The strict schema the client sends for ``Answer`` (what 0.48.1 records, from the helper's request).
STRICT_SCHEMA = {"name": "Answer", "strict": True, "schema": {
    "type": "object", "title": "Answer", "additionalProperties": False, "required": ["answer", "confident"],
    "properties": {"answer": {"title": "Answer", "type": "string"}, "confident": {"title": "Confident", "type": "boolean"}}}}


def test_a_stream_helper_records_the_request_it_sends_as_0_48_1_does(bt_logs, logger):
    with OpenAIStub(chat_chunks=json_chunks) as stub:
        client = client_for(stub)
        with client.chat.completions.stream(model="m", messages=QUESTION, response_format=Answer) as stream:
            parsed = stream.get_final_completion().choices[0].message.parsed
        with client.responses.stream(model="m", input="Capital?", text={"verbosity": "low"}, text_format=Answer,
                                     span_info={"name": "named", "metadata": {"case": 1}}) as events:
            final = events.get_final_response()
        sent = [body for _, body in stub.requests]
    assert parsed == Answer(answer="4", confident=True) and final.output_parsed == Answer(answer="Paris", confident=True)
    assert "span_info" not in sent[1]
    rows = bt_logs.by_name()
    chat, responses = rows["Chat Completion"], rows["named"]
    assert chat["metadata"]["response_format"] == {"type": "json_schema", "json_schema": STRICT_SCHEMA}
    assert sent[0]["response_format"] == chat["metadata"]["response_format"]
    assert responses["metadata"] == {"model": "m", "provider": "openai", "stream": True, "case": 1,
                                     "text": {"verbosity": "low", "format": {"type": "json_schema", **STRICT_SCHEMA}}}
    assert chat["output"][0]["message"]["content"] == "{\"answer\": \"4\", \"confident\": true}"


def test_a_stream_helper_whose_request_fails_records_the_error_and_one_never_entered_nothing(bt_logs, logger):
    with OpenAIStub() as stub:
        client = client_for(stub)
    # (the stub is gone: the request fails to connect)
    client.responses.stream(model="m", input="never entered")
    with pytest.raises(openai.APIConnectionError):
        with client.chat.completions.stream(model="m", messages=QUESTION, temperature=0):
            pass
    (row,) = bt_logs.rows()
    assert row["metadata"] == {"model": "m", "provider": "openai", "stream": True, "temperature": 0}
    assert "APIConnectionError" in row["error"]


def test_an_async_stream_helper_records_the_request_it_sends(bt_logs, logger):
    async def run():
        with OpenAIStub() as stub:
            async with client_for(stub, AsyncOpenAI).responses.stream(model="m", input="x", text_format=Answer) as events:
                return (await events.get_final_response()).output_parsed

    assert asyncio.run(run()) == Answer(answer="Paris", confident=True)
    (row,) = bt_logs.rows()
    assert row["metadata"]["text"] == {"format": {"type": "json_schema", **STRICT_SCHEMA}}
    assert "text_format" not in row["metadata"]
    assert row["output"][0]["content"][0]["text"] == "{\"answer\": \"Paris\", \"confident\": true}"


def test_a_stream_helper_resuming_a_stored_response_records_nothing_as_in_0_48_1(bt_logs, logger):
    async def resume_async(stub):
        async with client_for(stub, AsyncOpenAI).responses.stream(response_id="resp_8") as events:
            return (await events.get_final_response()).id

    with OpenAIStub() as stub:
        with client_for(stub).responses.stream(response_id="resp_9") as events:
            resumed = events.get_final_response().id
        resumed_async = asyncio.run(resume_async(stub))
        client_for(stub).responses.create(model="m", input="traced")
        paths = [path for path, _ in stub.requests]
    assert (resumed, resumed_async) == ("resp_9", "resp_8")
    assert paths[:2] == ["/v1/responses/resp_9?stream=true", "/v1/responses/resp_8?stream=true"]
    (row,) = bt_logs.rows()  # (only the create call's)
    assert row["input"] == "traced"
