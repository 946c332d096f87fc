"""``auto_instrument()`` in a process of its own (it changes the client classes for good): clients
made before and after it are traced, once per call even when wrapped again, sync and async; it
answers with 0.48.1's keys, and the integrations we do not trace answer False."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
#: What 0.48.1's ``auto_instrument()`` answers, in its order (probed; ``bedrock=`` answers as
#: ``bedrock_runtime``), for the integrations left on.
PUBLIC_KEYS = [
    "openai", "anthropic", "litellm", "ai_sdk", "pydantic_ai", "google_genai", "google_discoveryengine", "instructor",
    "openrouter", "mistral", "huggingface_hub", "transformers", "agno", "agentscope", "claude_agent_sdk", "cursor_sdk",
    "dspy", "adk", "langchain", "llamaindex", "openai_agents", "cohere", "autogen", "bedrock_runtime", "crewai",
    "strands", "temporal", "livekit_agents", "pipecat", "typesafe",
]

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
print(json.dumps(braintrust.auto_instrument(openai=False, bedrock=False)))
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
from braintrust.oai import patch_openai
print(patch_openai())  # (0.48.1's name for the OpenAI part: traced already, nothing changes)
print(braintrust.flush().ok)
"""


def test_clients_are_traced_once_per_call(bt_env, tmp_path):
    script = tmp_path / "auto.py"
    script.write_text(SCRIPT.format(tests=str(TESTS)))
    installed = tmp_path / "installed"  # an integration we do not trace, installed (as far as imports tell)
    (installed / "dspy").mkdir(parents=True)
    (installed / "dspy" / "__init__.py").write_text("")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(installed), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # Every integration left on answers, in 0.48.1's order: OpenAI and Anthropic traced, LiteLLM
    # not installed here (tests/sdk/test_litellm.py has it), the others never traced by this SDK.
    first = json.loads(lines[0])
    assert list(first) == [key for key in PUBLIC_KEYS if key != "dspy"]
    assert {key for key, traced in first.items() if traced} == {"openai", "anthropic"}
    assert list(json.loads(lines[1])) == PUBLIC_KEYS
    assert list(json.loads(lines[2])) == [key for key in PUBLIC_KEYS if key not in ("openai", "bedrock_runtime")]
    assert lines[3:] == ["_Chat", "True", "True", "True"]
    # The installed dspy is named once, when first left on (the first call left it out).
    warnings = [line for line in proc.stderr.splitlines() if "auto_instrument traces" in line]
    # (Where boto3 is installed, bedrock is named too: once, in the first call's warning.)
    assert [line for line in warnings if "dspy" in line] == [warnings[-1]], proc.stderr
    assert warnings[-1].endswith("dspy is installed and not traced (trace your own calls with @traced or start_span, "
                                 "or pass dspy=False to leave it out)."), proc.stderr
    rows = bt_env.rows("project_logs", bt_env.projects()[0]["id"])
    models = sorted((row["metadata"]["model"], row["span_attributes"]["name"]) for row in rows)
    assert models == [
        ("async-model", "Chat Completion"), ("beta-model", "Chat Completion"), ("claude-beta-model", "anthropic.messages.create"),
        ("claude-model", "anthropic.messages.create"), ("early-model", "Chat Completion"),
        ("embed-model", "Embedding"), ("late-model", "Chat Completion"), ("options-model", "Chat Completion"),
    ]


def test_unsupported_and_unknown_options_are_refused():
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import braintrust
        for options in ({"span_customizers": [object()]}, {"langchian": False}, {"openai": False, "anthropic": False, "span_customizers": []}):
            try:
                print(braintrust.auto_instrument(**options).get("openai", "left out"))
            except TypeError as exc:
                print(exc)
    """)], capture_output=True, text=True, timeout=60)
    assert proc.stdout.splitlines() == [
        "auto_instrument(span_customizers=...) is not supported by pytest-braintrust; change spans in your code with span.log(...) instead.",
        "auto_instrument() got an unexpected keyword argument 'langchian'",  # (as 0.48.1's signature refuses it)
        "left out",  # (an empty list of customizers has nothing to refuse)
    ]
