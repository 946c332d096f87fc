"""``auto_instrument()`` in a process of its own (it changes the client classes for good): clients
made before and after it are traced, once per call even when wrapped again, sync and async, and
the integrations we do not trace answer False."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

SCRIPT = """
import asyncio, json, sys
sys.path.insert(0, {tests!r})
import braintrust
from anthropic_stub import AnthropicStub
from openai_stub import OpenAIStub

openai_stub, anthropic_stub = OpenAIStub().start(), AnthropicStub().start()
import openai, anthropic
early = openai.OpenAI(api_key="sk", base_url=openai_stub.base_url, max_retries=0)
print(json.dumps(braintrust.auto_instrument(litellm=True, dspy=False)))
print(json.dumps(braintrust.auto_instrument()))
logger = braintrust.init_logger(project="auto")
question = [{{"role": "user", "content": "2+2?"}}]
late = openai.OpenAI(api_key="sk", base_url=openai_stub.base_url, max_retries=0)
early.chat.completions.create(model="early-model", messages=question)
late.chat.completions.create(model="late-model", messages=question)
late.beta.chat.completions.create(model="beta-model", messages=question)
assert braintrust.wrap_openai(late) is late
braintrust.wrap_openai(late).embeddings.create(model="embed-model", input="x")
late.with_options(timeout=5).chat.completions.create(model="options-model", messages=question)
azure = openai.AzureOpenAI(api_key="sk", azure_endpoint=openai_stub.base_url, api_version="2024-06-01", max_retries=0)
print(type(azure.chat).__name__)
asyncio.run(openai.AsyncOpenAI(api_key="sk", base_url=openai_stub.base_url, max_retries=0)
            .chat.completions.create(model="async-model", messages=question))
claude = anthropic.Anthropic(api_key="sk", base_url=anthropic_stub.base_url, max_retries=0)
claude.messages.create(model="claude-model", max_tokens=10, messages=question)
claude.beta.messages.create(model="claude-beta-model", max_tokens=10, messages=question)
print(late.chat.completions.with_raw_response is not None)
print(braintrust.flush().ok)
"""


def test_clients_are_traced_once_per_call(bt_env, tmp_path):
    script = tmp_path / "auto.py"
    script.write_text(SCRIPT.format(tests=str(TESTS)))
    proc = subprocess.run([sys.executable, str(script)], env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert json.loads(lines[0]) == {"openai": True, "anthropic": True, "litellm": False, "dspy": False}
    assert json.loads(lines[1]) == {"openai": True, "anthropic": True}
    assert lines[2:] == ["_Chat", "True", "True"]
    rows = bt_env.rows("project_logs", bt_env.projects()[0]["id"])
    models = sorted((row["metadata"]["model"], row["span_attributes"]["name"]) for row in rows)
    assert models == [
        ("async-model", "Chat Completion"), ("beta-model", "Chat Completion"), ("claude-beta-model", "anthropic.messages.create"),
        ("claude-model", "anthropic.messages.create"), ("early-model", "Chat Completion"),
        ("embed-model", "Embedding"), ("late-model", "Chat Completion"), ("options-model", "Chat Completion"),
    ]


def test_unsupported_options_are_refused():
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import braintrust
        try:
            braintrust.auto_instrument(span_customizers=[object()])
        except TypeError as exc:
            print(exc)
    """)], capture_output=True, text=True, timeout=60)
    assert "span_customizers=...) is not supported" in proc.stdout
