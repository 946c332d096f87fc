"""Credentials kept out of the error a wrapped LLM call logs (README: "API keys and
``Authorization`` values in it are replaced by ``[redacted]``"; 0.48.1 logs no error there).
Real clients talk to loopback stubs; the rows are the ones the test server received."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anthropic
import openai
import pytest

import braintrust
from braintrust import wrap_anthropic, wrap_openai

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from loopback_stub import LoopbackStub  # noqa: E402
from openai_stub import OpenAIStub  # noqa: E402

QUESTION = [{"role": "user", "content": "What is 2+2?"}]
# Neither starts with "sk-" nor follows "Bearer": only knowing the value can hide it.
CLIENT_KEY = "azQA8clientKEY0123456789abcdef"
HEADER_KEY = "hdrQA8headerKEY0123456789"


class RefusingStub(LoopbackStub):
    """Answers every request 401, its message quoting the credential it was sent, as providers
    and proxies do ("Incorrect API key provided: ...")."""

    def answer(self, handler, path, body):
        sent = handler.headers.get("x-api-key") or handler.headers.get("Authorization", "").removeprefix("Bearer ")
        error = {"type": "authentication_error", "message": f"Incorrect API key provided: {sent}"}
        handler.send(401, json.dumps({"type": "error", "error": error}).encode(), "application/json")


@pytest.fixture
def logger(bt_logs):
    return braintrust.init_logger(project="qa8-secrets")


def only_error_row(bt_logs) -> dict:
    braintrust.flush()
    [row] = [row for row in bt_logs.rows() if row.get("error")]
    return row


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_client_key_the_provider_echoes_is_not_in_the_logged_error(bt_logs, logger, provider):
    # Without the fix the client was never found (a bound method of a decorated function
    # unwraps to the plain function), so only keys shaped like "sk-..." were hidden.
    with RefusingStub() as stub:
        if provider == "openai":
            client = wrap_openai(openai.OpenAI(api_key=CLIENT_KEY, base_url=f"{stub.url}/v1", max_retries=0))
            call = lambda: client.chat.completions.create(model="m", messages=QUESTION)  # noqa: E731
        else:
            client = wrap_anthropic(anthropic.Anthropic(api_key=CLIENT_KEY, base_url=stub.url, max_retries=0))
            call = lambda: client.messages.create(model="m", max_tokens=5, messages=QUESTION)  # noqa: E731
        with pytest.raises(Exception, match=CLIENT_KEY):  # (the caller's exception is unchanged)
            call()
    row = only_error_row(bt_logs)
    assert "Incorrect API key provided: [redacted]" in row["error"]
    assert CLIENT_KEY[4:-4] not in json.dumps(row)


@pytest.mark.parametrize("where", ["extra_headers", "default_headers"])
def test_a_credential_in_a_header_the_caller_sets_is_not_in_the_logged_error(bt_logs, logger, where):
    # A value read from a file keeps its newline: the HTTP library's error quotes the header
    # value, under whatever name it was sent ("api-key", or "Authorization: Token ...").
    value = f"Token {HEADER_KEY}\n" if where == "extra_headers" else f"{HEADER_KEY}\n"
    headers = {"extra_headers": {"Authorization": value}} if where == "extra_headers" else {}
    with OpenAIStub() as stub:
        client = wrap_openai(openai.OpenAI(api_key="k", base_url=stub.base_url, max_retries=0,
                                           default_headers={"api-key": value} if where == "default_headers" else None))
        with pytest.raises(Exception) as raised:
            client.chat.completions.create(model="m", messages=QUESTION, **headers)
    assert HEADER_KEY in f"{raised.value} {raised.value.__cause__}"
    row = only_error_row(bt_logs)
    assert "Illegal header value b'[redacted]" in row["error"]
    assert HEADER_KEY[4:-4] not in json.dumps(row)
