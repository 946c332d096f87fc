"""``wrap_litellm`` / ``patch_litellm`` with the real LiteLLM, against the OpenAI stub.

LiteLLM cannot join the test extra: the newest releases need a ``certifi`` newer than the package
index here holds, and the one pip settles on (1.106) needs ``openai<3``, while the wrappers'
tests use openai 3. So these tests make a virtual environment of their own with LiteLLM 1.106.2
(the version the capture was recorded with; and ``mcp``, which its ``responses()`` imports
without requiring it) and run this checkout's ``braintrust`` there,
through ``PYTHONPATH``. The rows must be the public SDK's (tests/data/captures/litellm.jsonl,
recorded with LiteLLM 1.106.2 beside 0.48.1), but for the error a failed call records.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from btserver import BraintrustTestServer
from capture_compare import CAPTURES, capture_rows, diff, merge_like_server, normalize
from delivery_helpers import subprocess_env
from venvs import venv_with

ROOT = Path(__file__).resolve().parents[2]
#: LiteLLM, and the package its ``responses()`` imports without requiring it.
PACKAGES = ("litellm==1.106.2", "mcp==2.3.0")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def litellm_env(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A Python with LiteLLM installed, and the variables that make it import this checkout's
    braintrust. (Only those: the rest of the environment is read per test, after the isolation
    fixture has cleared CI's variables, which a module-scoped fixture runs before.)"""
    folder = tmp_path_factory.mktemp("litellm")
    python = venv_with(folder, *PACKAGES)
    packages = folder / "packages"
    packages.mkdir()
    (packages / "braintrust").symlink_to(ROOT / "braintrust")
    return python, {"PYTHONPATH": str(packages), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


def run(python: Path, variables: dict[str, str], script: Path, server: BraintrustTestServer, cwd: Path) -> subprocess.CompletedProcess:
    env = subprocess_env(**variables, BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url, BRAINTRUST_LOCAL_DIR=str(cwd / "store"))
    return subprocess.run([str(python), str(script)], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_rows_match_public_sdk(litellm_env, tmp_path):
    """completion (plain, streamed, failing), text_completion, responses (plain, streamed),
    embedding, moderation, a call under @traced, acompletion (plain, streamed), aresponses and
    patch_litellm(): the public SDK's spans."""
    python, variables = litellm_env
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run(python, variables, CAPTURES / "scenario_litellm.py", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        rows = server.rows()
    failed = [row for row in rows if (row.get("metadata") or {}).get("model") == "openai/missing-model"]
    assert len(failed) == 1
    assert "NotFoundError" in failed[0].pop("error")  # (0.48.1 records no error)
    streamed = [row for row in rows if row["span_attributes"]["name"] == "Response" and row["metadata"].get("stream")]
    assert len(streamed) == 1
    assert streamed[0]["output"] == [{"id": "msg_1", "type": "message", "status": "completed", "content": [{"text": "Paris."}]}]
    streamed[0]["output"][0].update(id=None, type=None, status=None)  # (0.48.1 logs nulls: LiteLLM's item.get() answers None)
    theirs = normalize(merge_like_server(capture_rows("litellm")))
    assert normalize(rows) == theirs, diff(normalize(rows), theirs)
    assert "async stream: The answer is 4." in proc.stdout and "patched: The answer is 4." in proc.stdout


WRAPPING = """
import asyncio, json, sys
sys.path.insert(0, {tests!r})
import braintrust, litellm
from openai_stub import OpenAIStub

stub = OpenAIStub().start()
common = {{"api_base": stub.base_url, "api_key": "sk-stub"}}
question = [{{"role": "user", "content": "2+2?"}}]
original = litellm.completion
logger = braintrust.init_logger(project="litellm-wrapping")

proxy = braintrust.LiteLLMWrapper(litellm)
proxy.completion(model="openai/via-proxy", messages=question, **common)
print("module untouched by the proxy:", litellm.completion is original)
print("proxy passes the rest through:", proxy.get_llm_provider is litellm.get_llm_provider)

assert braintrust.wrap_litellm(litellm) is litellm
traced = litellm.completion
braintrust.wrap_litellm(litellm)
print("wrapping twice keeps one wrapper:", litellm.completion is traced)
litellm.completion(model="openai/wrapped", messages=question, **common)
for chunk in litellm.text_completion(model="openai/gpt-4o-mini", prompt="Say hi", stream=True, **common):
    pass
asyncio.run(litellm.aembedding(model="openai/async-embedding", input=["x"], **common))
asyncio.run(litellm.amoderation(model="openai/async-moderation", input="x", **common))

braintrust.unpatch_litellm()
print("unpatched:", litellm.completion is original)
litellm.completion(model="openai/after-unpatch", messages=question, **common)
traced = braintrust.auto_instrument()  # (LiteLLM on by default, as in 0.48.1)
print("auto_instrument:", json.dumps({{name: traced[name] for name in ("openai", "anthropic", "litellm")}}))
litellm.completion(model="openai/auto", messages=question, **common)
braintrust.flush()
"""


def test_wrapping_the_proxy_unpatching_and_auto_instrument(litellm_env, tmp_path):
    python, variables = litellm_env
    script = tmp_path / "wrapping.py"
    script.write_text(textwrap.dedent(WRAPPING.format(tests=str(ROOT / "tests"))))
    with BraintrustTestServer() as server:
        proc = run(python, variables, script, server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        rows = server.rows()
    assert proc.stdout.splitlines() == [
        "module untouched by the proxy: True",
        "proxy passes the rest through: True",
        "wrapping twice keeps one wrapper: True",
        "unpatched: True",
        'auto_instrument: {"openai": true, "anthropic": false, "litellm": true}',  # (no anthropic there)
    ]
    spans = {row["metadata"]["model"]: row for row in rows}
    # "auto": auto_instrument patched the OpenAI client too, whose with_raw_response LiteLLM calls
    # under its own Completion; 0.48.1 records that call as the same second span (probed)
    assert sorted(spans) == ["auto", "openai/async-embedding", "openai/async-moderation", "openai/auto", "openai/gpt-4o-mini",
                             "openai/via-proxy", "openai/wrapped"]  # (none after unpatching)
    assert spans.pop("auto")["span_attributes"]["name"] == "Chat Completion"
    rows = list(spans.values())
    assert {row["span_attributes"]["name"] for row in rows} == {"Completion", "Embedding", "Moderation"}
    assert all(row["metadata"]["provider"] == "openai" for row in rows)
    streamed = spans["openai/gpt-4o-mini"]
    assert streamed["output"] == [{"index": 0, "text": "The answer is 4.", "logprobs": None, "finish_reason": "stop"}]
    assert streamed["metadata"]["stream"] is True and "time_to_first_token" in streamed["metrics"]
    assert spans["openai/async-embedding"]["output"] == {"embedding_length": 3}
    assert spans["openai/async-moderation"]["output"][0]["flagged"] is False


USAGE_CASES = [  # (LiteLLM usage, 0.48.1's metrics for it: its _parse_metrics_from_usage, probed)
    ({"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25, "cache_creation_input_tokens": 8, "cache_read_input_tokens": 6},
     {"prompt_tokens": 20, "completion_tokens": 5, "tokens": 25, "prompt_cache_creation_tokens": 8, "prompt_cached_tokens": 6}),
    ({"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25, "prompt_tokens_details": {"cached_tokens": 6, "cache_write_tokens": 8}},
     {"prompt_tokens": 20, "completion_tokens": 5, "tokens": 25, "prompt_cached_tokens": 6, "prompt_cache_creation_tokens": 8}),
    ({"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25, "cache_creation_input_tokens": 8, "cache_creation": {"ephemeral_5m_input_tokens": 3, "ephemeral_1h_input_tokens": 5}},
     {"prompt_tokens": 20, "completion_tokens": 5, "tokens": 25, "prompt_cache_creation_5m_tokens": 3, "prompt_cache_creation_1h_tokens": 5}),
    ({"prompt_tokens": 20, "prompt_tokens_details": {"cached_tokens": 2, "cache_creation_token_details": {"ephemeral_5m_input_tokens": 7}}},
     {"prompt_tokens": 20, "prompt_cached_tokens": 2, "prompt_cache_creation_5m_tokens": 7}),
    ({"input_tokens": 10, "output_tokens": 2, "total_tokens": 12, "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 1}, "cost": 2.7e-06},
     {"prompt_tokens": 10, "completion_tokens": 2, "tokens": 12, "prompt_cached_tokens": 0, "completion_reasoning_tokens": 1, "cost": 2.7e-06}),
    ({},
     {}),
]


@pytest.mark.parametrize("usage, metrics", USAGE_CASES)
def test_usage_becomes_the_public_sdks_metrics(usage, metrics):
    """Provider cache reads and writes (Anthropic's names, OpenAI's details, the 5-minute / 1-hour
    breakdown that replaces the total), the Responses API's names, LiteLLM's cost. Runs here,
    without LiteLLM: usage is plain data."""
    from braintrust.wrappers.litellm import usage_metrics

    assert usage_metrics(usage) == metrics


def test_an_async_stream_closed_with_aclose_ends_its_span(bt_logs):
    """LiteLLM's async streams close with ``aclose()`` (they have no ``close()``): through the
    traced stream it closes LiteLLM's and ends the span with what arrived. Runs here, on a
    stand-in module with LiteLLM's async stream shape."""
    import asyncio
    import types

    import braintrust
    from braintrust.wrappers.litellm import wrap_litellm

    class Stream:  # (LiteLLM's CustomStreamWrapper: __aiter__/__anext__ and aclose)
        closed = False

        def __init__(self):
            self.chunks = iter([{"choices": [{"delta": {"role": "assistant", "content": "The answer"}}]},
                                {"choices": [{"delta": {"content": " is 4."}}]}])

        def __aiter__(self):
            return self

        async def __anext__(self):
            try:
                return next(self.chunks)
            except StopIteration:
                raise StopAsyncIteration from None

        async def aclose(self):
            self.closed = True

    async def acompletion(**kwargs):
        return Stream()

    module = wrap_litellm(types.SimpleNamespace(acompletion=acompletion, get_llm_provider=lambda model: (model, "openai")))
    braintrust.init_logger(project="litellm-tests")

    async def run():
        stream = await module.acompletion(model="m", messages=[{"role": "user", "content": "2+2?"}], stream=True)
        first = await stream.__anext__()
        await stream.aclose()
        return first, stream.closed, bt_logs.rows()  # (read while the stream is still held: aclose() ended the span)

    first, closed, (row,) = asyncio.run(run())
    assert first["choices"][0]["delta"]["content"] == "The answer" and closed
    assert row["metrics"]["end"] >= row["metrics"]["start"] and "error" not in row
    assert row["output"][0]["message"]["content"] == "The answer"
