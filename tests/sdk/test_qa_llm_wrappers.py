"""Adversarial checks of the LLM wrappers: the client-level ``with_raw_response`` /
``with_streaming_response``, a client both wrapped and auto-instrumented, ``auto_instrument`` with
a LiteLLM that does not import, provider keys kept out of logged errors, and LiteLLM's functions
called with positional arguments. Real clients talk to the loopback stubs."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

import braintrust
from braintrust import wrap_openai
from braintrust.wrappers.litellm import wrap_litellm

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from openai_stub import OpenAIStub  # noqa: E402

QUESTION = [{"role": "user", "content": "What is 2+2?"}]
ANSWER = "The answer is 4."


@pytest.fixture
def stub():
    with OpenAIStub() as running:
        yield running


@pytest.fixture
def logger(bt_logs):
    return braintrust.init_logger(project="qa-llm-wrappers")


def client_for(stub: OpenAIStub, cls=OpenAI, api_key: str = "sk-stub"):
    return wrap_openai(cls(api_key=api_key, base_url=stub.base_url, max_retries=0))


def answers(row: dict) -> list:
    return [choice["message"]["content"] for choice in row.get("output") or []]


# -- the client-level raw responses --------------------------------------------------------------


def test_client_level_raw_responses_are_traced_and_stay_raw(bt_logs, logger, stub):
    client = client_for(stub)
    raw = client.with_raw_response.chat.completions.create(model="raw", messages=QUESTION)
    assert isinstance(raw, openai._legacy_response.LegacyAPIResponse)
    assert raw.headers["content-type"] == "application/json" and raw.parse().choices[0].message.content == ANSWER
    with client.with_streaming_response.chat.completions.create(model="streaming", messages=QUESTION) as response:
        assert isinstance(response, openai._response.APIResponse)
        assert response.parse().choices[0].message.content == ANSWER
    with client.with_streaming_response.chat.completions.create(model="unread", messages=QUESTION) as response:
        assert response.status_code == 200  # (left without reading the body)
    raw_stream = client.with_raw_response.chat.completions.create(model="raw-stream", messages=QUESTION, stream=True)
    assert isinstance(raw_stream, openai._legacy_response.LegacyAPIResponse)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in raw_stream.parse() if chunk.choices) == ANSWER
    rows = {row["metadata"]["model"]: row for row in bt_logs.rows()}
    assert set(rows) == {"raw", "streaming", "unread", "raw-stream"}
    assert not any(row.get("error") for row in rows.values())
    assert answers(rows["raw"]) == answers(rows["streaming"]) == answers(rows["raw-stream"]) == [ANSWER]
    assert rows["unread"].get("output") is None and rows["unread"]["metrics"]["end"]


def test_async_client_level_raw_responses_are_traced_and_stay_raw(bt_logs, logger, stub):
    client = client_for(stub, AsyncOpenAI)

    async def run():
        raw = await client.with_raw_response.chat.completions.create(model="raw", messages=QUESTION)
        assert raw.parse().choices[0].message.content == ANSWER
        async with client.with_streaming_response.chat.completions.create(model="streaming", messages=QUESTION) as response:
            assert isinstance(response, openai._response.AsyncAPIResponse)
            assert (await response.parse()).choices[0].message.content == ANSWER

    asyncio.run(run())
    rows = {row["metadata"]["model"]: row for row in bt_logs.rows()}
    assert answers(rows["raw"]) == answers(rows["streaming"]) == [ANSWER]
    assert not any(row.get("error") for row in rows.values())


# -- credentials never reach a row ---------------------------------------------------------------


def test_a_failed_calls_error_does_not_carry_the_clients_api_key(bt_logs, logger, stub):
    # A key read from a file keeps its newline; the HTTP library's error quotes the bad header.
    client = client_for(stub, api_key="sk-SECRETKEY123456\n")
    # (openai's APIConnectionError around the HTTP library's error; the bare error when an
    # in-process pytester run earlier re-imported the HTTP library, whose classes then differ)
    with pytest.raises(Exception) as raised:
        client.chat.completions.create(model="m", messages=QUESTION)
    assert "SECRETKEY" in f"{raised.value} {raised.value.__cause__}"  # (the caller's exception is unchanged)
    [row] = bt_logs.rows()
    assert "Illegal header value" in row["error"] and "SECRETKEY" not in json.dumps(row)


def test_a_litellm_error_does_not_carry_the_api_key_argument(bt_logs, logger):
    def completion(model=None, messages=(), api_key=None, **kwargs):
        raise ValueError(f"could not authenticate with {api_key}")

    litellm = wrap_litellm(types.SimpleNamespace(completion=completion))
    with pytest.raises(ValueError, match="with mykey-0123456789$"):
        litellm.completion(model="gpt-4o", messages=QUESTION, api_key="mykey-0123456789")
    [row] = bt_logs.rows()
    assert "could not authenticate with [redacted]" in row["error"] and "mykey" not in json.dumps(row)


# -- LiteLLM's positional arguments --------------------------------------------------------------


def test_litellm_calls_with_positional_arguments_log_their_input_and_model(bt_logs, logger):
    def completion(model, messages=(), stream=None, **kwargs):
        return {"choices": [{"index": 0, "message": {"role": "assistant", "content": f"{model}: {len(messages)}"}}]}

    def embedding(model, input=(), **kwargs):
        return {"data": [{"embedding": [0.5, 0.25]}]}

    def get_llm_provider(model):
        return model, "openai", None, None

    litellm = wrap_litellm(types.SimpleNamespace(completion=completion, embedding=embedding, get_llm_provider=get_llm_provider))
    assert litellm.completion("gpt-4o", QUESTION)["choices"][0]["message"]["content"] == "gpt-4o: 1"
    assert litellm.embedding("text-embedding-3-small", ["hi"])["data"][0]["embedding"] == [0.5, 0.25]
    with pytest.raises(TypeError, match="multiple values"):  # (as the function itself would have)
        litellm.completion("gpt-4o", model="gpt-4o")
    completion_row, embedding_row, failed_row = bt_logs.rows()
    assert completion_row["input"] == QUESTION
    assert completion_row["metadata"] == {"model": "gpt-4o", "provider": "openai"}
    assert embedding_row["input"] == ["hi"] and embedding_row["metadata"]["model"] == "text-embedding-3-small"
    assert "multiple values" in failed_row["error"]


# -- auto_instrument with clients wrapped already, and a LiteLLM that does not import ------------

SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import anthropic, openai
import braintrust
from anthropic_stub import AnthropicStub
from openai_stub import OpenAIStub

openai_stub, anthropic_stub = OpenAIStub().start(), AnthropicStub().start()
logger = braintrust.init_logger(project="auto")
question = [{{"role": "user", "content": "2+2?"}}]
gpt = braintrust.wrap_openai(openai.OpenAI(api_key="sk", base_url=openai_stub.base_url, max_retries=0))
claude = braintrust.wrap_anthropic(anthropic.Anthropic(api_key="sk", base_url=anthropic_stub.base_url, max_retries=0))
traced = braintrust.auto_instrument(bedrock=False)
print({{key: traced[key] for key in ("openai", "anthropic", "litellm")}})
gpt.chat.completions.create(model="gpt-model", messages=question)
gpt.embeddings.create(model="embed-model", input="x")
claude.messages.create(model="claude-model", max_tokens=10, messages=question)
claude.beta.messages.create(model="claude-beta-model", max_tokens=10, messages=question)
print(braintrust.flush().ok)
"""


def test_auto_instrument_after_wrapping_records_one_span_per_call_and_survives_a_broken_litellm(bt_env, tmp_path):
    script = tmp_path / "auto.py"
    script.write_text(SCRIPT.format(tests=str(TESTS)))
    installed = tmp_path / "installed"  # a LiteLLM that fails to import (an openai it does not support, say)
    installed.mkdir()
    (installed / "litellm.py").write_text("raise AttributeError(\"module 'openai' has no attribute 'OpenAIError'\")\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(installed), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["{'openai': True, 'anthropic': True, 'litellm': False}", "True"]
    assert "auto_instrument could not trace litellm (AttributeError: module 'openai' has no attribute 'OpenAIError')" in proc.stderr
    assert "Traceback" not in proc.stderr
    models = sorted(row["metadata"]["model"] for row in bt_env.rows())
    assert models == ["claude-beta-model", "claude-model", "embed-model", "gpt-model"]

