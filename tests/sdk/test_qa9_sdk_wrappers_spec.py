"""The public SDK's own wrapper tests (``wrappers/test_openai.py``, ``test_anthropic.py``,
``test_litellm.py``) read as a specification, for what they check that earlier tests did not:
each difference from 0.48.1 found that way, confirmed by running the same calls through 0.48.1
against the loopback stubs.

- A request parameter given as None (``temperature=None``, ``stream_options=None``...) is logged
  as null in the span's metadata, as 0.48.1 logs it; only the clients' "not given" markers
  (``NOT_GIVEN``, ``omit``) stay out.
- Anthropic's ``thread`` parameter is logged with only the fields that name the thread (``type``,
  ``previous_message_id``), as 0.48.1 logs it.
- LiteLLM's inline (base64) images and files are logged as attachments, as wrap_openai logs them
  and as 0.48.1 logs LiteLLM's (it runs LiteLLM's input through OpenAI's attachment handling).
"""

from __future__ import annotations

import asyncio
import base64
import sys
import types
from pathlib import Path

import anthropic
import openai
import pytest
from openai import AsyncOpenAI, OpenAI

import braintrust
from braintrust import wrap_anthropic, wrap_litellm, wrap_openai

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from anthropic_stub import AnthropicStub  # noqa: E402
from openai_stub import OpenAIStub  # noqa: E402

QUESTION = [{"role": "user", "content": "What's 12 + 12?"}]


@pytest.fixture
def stub():
    with OpenAIStub() as running:
        yield running


@pytest.fixture
def logger(bt_logs):
    return braintrust.init_logger(project="qa9-wrappers-spec")


def _client(stub: OpenAIStub, cls=OpenAI):
    return wrap_openai(cls(api_key="sk-stub", base_url=stub.base_url, max_retries=0))


#: name -> (the client's function, a request with parameters given as None or not given, the metadata 0.48.1 logs)
NONE_PARAMS = {
    "chat": (lambda c: c.chat.completions.create,
             {"model": "m", "messages": QUESTION, "temperature": None, "max_tokens": None, "stream_options": None,
              "tools": None, "seed": None, "top_p": openai.NOT_GIVEN, "user": None},
             {"model": "m", "provider": "openai", "temperature": None, "max_tokens": None, "stream_options": None,
              "tools": None, "seed": None}),
    "responses": (lambda c: c.responses.create,
                  {"model": "m", "input": "Capital of France?", "instructions": None, "temperature": None,
                   "max_output_tokens": None, "tools": openai.NOT_GIVEN, "store": openai.NOT_GIVEN},
                  {"model": "m", "provider": "openai", "instructions": None, "temperature": None, "max_output_tokens": None}),
    "embeddings": (lambda c: c.embeddings.create, {"model": "e", "input": "hi", "dimensions": None, "encoding_format": openai.omit},
                   {"model": "e", "provider": "openai", "dimensions": None}),
}
# (the Responses API's result adds its own fields to the metadata: id, status...)
RESULT_FIELDS = ("id", "status", "created_at", "object")


@pytest.mark.parametrize("endpoint", NONE_PARAMS)
def test_a_parameter_given_as_none_is_logged_as_null_as_0_48_1_logs_it(bt_logs, logger, stub, endpoint):
    function, request, expected = NONE_PARAMS[endpoint]
    function(_client(stub))(**request)
    (row,) = bt_logs.rows()
    metadata = {key: value for key, value in row["metadata"].items() if key not in RESULT_FIELDS}
    assert metadata == expected


@pytest.mark.parametrize("endpoint", NONE_PARAMS)
def test_a_parameter_given_as_none_to_the_async_client_is_logged_as_null(bt_logs, logger, stub, endpoint):
    function, request, expected = NONE_PARAMS[endpoint]
    asyncio.run(function(_client(stub, AsyncOpenAI))(**request))
    (row,) = bt_logs.rows()
    metadata = {key: value for key, value in row["metadata"].items() if key not in RESULT_FIELDS}
    assert metadata == expected


def test_a_chat_call_with_tools_and_stream_options_none_logs_it_as_null(bt_logs, logger, stub):
    # The public test_openai_parallel_tool_calls passes stream_options=None when not streaming.
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}]
    _client(stub).chat.completions.create(model="m", messages=QUESTION, tools=tools, temperature=0, stream=False,
                                          stream_options=None)
    (row,) = bt_logs.rows()
    assert row["metadata"] == {"model": "m", "provider": "openai", "tools": tools, "temperature": 0, "stream": False,
                               "stream_options": None}
    assert row["output"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"


def test_an_anthropic_thread_is_logged_with_the_fields_that_name_it(bt_logs, logger):
    thread = {"type": "continue", "previous_message_id": "msg_0", "note": "not part of the thread's name"}
    with AnthropicStub() as stub:
        client = wrap_anthropic(anthropic.Anthropic(api_key="sk-stub", base_url=stub.url, max_retries=0))
        client.beta.messages.create(model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}], thread=thread)
        with client.beta.messages.stream(model="m", max_tokens=5, messages=[{"role": "user", "content": "hi"}],
                                         thread={"type": "create"}) as stream:
            stream.get_final_message()
    created, streamed = sorted(bt_logs.rows(), key=lambda row: row["metrics"]["start"])
    assert created["metadata"]["thread"] == {"type": "continue", "previous_message_id": "msg_0"}
    assert streamed["metadata"]["thread"] == {"type": "create"}
    assert thread["note"]  # (the caller's dict is left as it was)


PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==")
PDF = b"%PDF-1.0 a small document"


def _data_url(content_type: str, data: bytes) -> str:
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"


def test_litellms_inline_images_and_files_are_logged_as_attachments(bt_logs, logger):
    # LiteLLM itself is not installed here (tests/sdk/test_litellm.py runs the real one in a
    # virtual environment of its own); its functions take these arguments and answer OpenAI's shapes.
    sent = []

    def completion(model=None, messages=(), **kwargs):
        sent.append(messages)
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": "red"}}]}

    def responses(model=None, input=None, **kwargs):
        sent.append(input)
        return {"id": "resp_1", "output": [{"type": "message", "content": [{"type": "output_text", "text": "red"}]}]}

    litellm = wrap_litellm(types.SimpleNamespace(completion=completion, responses=responses))
    messages = [{"role": "user", "content": [
        {"type": "text", "text": "What color?"},
        {"type": "image_url", "image_url": {"url": _data_url("image/png", PNG)}},
        {"type": "file", "file": {"file_data": _data_url("application/pdf", PDF), "filename": "report.pdf"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]
    litellm.completion(model="gpt-4o-mini", messages=messages)
    response_input = [{"role": "user", "content": [{"type": "input_image", "image_url": _data_url("image/png", PNG)}]}]
    litellm.responses(model="gpt-4o-mini", input=response_input)
    assert sent == [messages, response_input]  # (what LiteLLM is given is unchanged)

    completion_row, response_row = sorted(bt_logs.rows(), key=lambda row: row["metrics"]["start"])
    text, image, document, by_url = completion_row["input"][0]["content"]
    assert text == {"type": "text", "text": "What color?"} and by_url == messages[0]["content"][3]
    image_ref, document_ref = image["image_url"]["url"], document["file"]["file_data"]
    assert (image_ref["type"], image_ref["content_type"], image_ref["filename"]) == ("braintrust_attachment", "image/png", "image.png")
    assert (document_ref["content_type"], document_ref["filename"]) == ("application/pdf", "report.pdf")
    [[part]] = [message["content"] for message in response_row["input"]]
    assert part["type"] == "image_url" and part["image_url"]["url"]["content_type"] == "image/png"
    assert bt_logs.server.attachment_data(image_ref["key"]) == PNG
    assert bt_logs.server.attachment_data(document_ref["key"]) == PDF
    assert "base64" not in str(completion_row) + str(response_row)
