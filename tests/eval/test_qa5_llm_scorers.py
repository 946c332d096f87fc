"""autoevals' LLM judges against a loopback OpenAI stub that keeps connections alive, as the
real API does.

The README advises giving autoevals an ``AsyncOpenAI`` client (``autoevals.init(client=...)``):
``Eval`` and the plugin call scorers through ``eval_async``. The client keeps its connections
open, tied to the event loop that opened them. ``Eval`` runs a run's scorers on one loop (as
0.48.1 does, side by side), but the plugin ran each scorer on a fresh loop, so every scorer
after the first failed with "RuntimeError: Event loop is closed"."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import autoevals  # (imported here once: in-process pytester runs restore sys.modules)
import openai  # noqa: F401

from braintrust import Eval

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from openai_stub import MediaStubHandler  # noqa: E402
from openai_stub import OpenAIStub  # noqa: E402
from openai_stub import chat_answer  # noqa: E402


class KeepAliveHandler(MediaStubHandler):
    protocol_version = "HTTP/1.1"  # (the default HTTP/1.0 closes each connection after its answer)


class KeepAliveJudge(OpenAIStub):
    """Answers a chat completion offering autoevals' ``select_choice`` tool with a call choosing
    the first choice, over connections kept alive."""

    def __init__(self):
        super().__init__(chat_answer=self.judge)
        self._server.RequestHandlerClass = KeepAliveHandler
        self._server.handle_error = lambda request, address: None  # (a client dropping an idle connection)

    @staticmethod
    def judge(body):
        answer = chat_answer(body)[1]
        tool = (body.get("tools") or [{}])[0].get("function") or {}
        if tool.get("name") == "select_choice":
            choice = tool["parameters"]["properties"]["choice"]["enum"][0]
            call = {"name": "select_choice", "arguments": json.dumps({"reasons": "Polite enough.", "choice": choice})}
            answer["choices"][0]["message"] = {"role": "assistant", "content": None,
                                               "tool_calls": [{"id": "call_j", "type": "function", "function": call}]}
            answer["choices"][0]["finish_reason"] = "tool_calls"
        return answer


SUITE = '''
import autoevals
import pytest
from autoevals import LLMClassifier
from openai import AsyncOpenAI
from pytest_braintrust import eval_case

autoevals.init(client=AsyncOpenAI(max_retries=0))

def judge(name):
    return LLMClassifier(name=name, prompt_template="Is {{output}} " + name.lower() + "?",
                         choice_scores={"Y": 1, "N": 0}, model="gpt-4o")

@eval_case(input="What is 2+2?", expected="4", scorers=[judge("Polite"), judge("Brief")])
def test_declared(braintrust_case):
    return "4"

@eval_case(input="What is 3+3?")
@pytest.mark.asyncio
async def test_run_in_an_async_test(braintrust_case):
    assert braintrust_case.run_scorers("6", scorers=[judge("Polite"), judge("Clear")]) == {"Polite": 1, "Clear": 1}
'''


def test_a_shared_async_client_serves_every_case_scorer(pytester, monkeypatch):
    from braintrust.delivery.runtime import reset_for_tests
    from braintrust.store.sqlite_store import LocalStore

    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_suite_shared_client=SUITE)
    with KeepAliveJudge() as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-stub")
        reset_for_tests()
        try:
            result = pytester.runpytest("-p", "no:cacheprovider", "--braintrust", "test_suite_shared_client.py")
        finally:
            reset_for_tests()
            autoevals.init(client=None)  # (the suite set autoevals' process-wide client)
        judged = [body for path, body in stub.requests if path == "/v1/chat/completions"]
    result.assert_outcomes(passed=2)
    assert len(judged) == 4
    with LocalStore(Path(os.environ["BRAINTRUST_LOCAL_DIR"]) / "braintrust.sqlite") as store:
        [experiment] = store.list_experiments(None)
        rows, _ = store.fetch_rows("experiment", experiment["id"])
    spans = {r["span_id"]: r for r in rows if r.get("span_id")}
    roots = [r for r in spans.values() if not r.get("span_parents")]
    assert len(roots) == 2 and all("scorer_errors" not in (r.get("metadata") or {}) for r in roots), \
        [r["metadata"]["scorer_errors"] for r in roots if "scorer_errors" in (r.get("metadata") or {})]
    scored = sorted(name for r in spans.values() if r["span_attributes"].get("type") == "score" for name in r["scores"])
    assert scored == ["Brief", "Clear", "Polite", "Polite"]
    for call in (r for r in spans.values() if r["span_attributes"]["name"] == "Chat Completion"):
        parent = spans[call["span_parents"][0]]  # each judge's call under its score span, marked as scorer work
        assert parent["span_attributes"]["type"] == "score" and call["span_attributes"]["purpose"] == "scorer"
        assert call["metrics"]["tokens"] == 17


def test_eval_scores_every_case_with_a_shared_async_client(monkeypatch):
    """The same client and judges in ``Eval``: every case scored, as in 0.48.1 (run side by side)."""
    from openai import AsyncOpenAI

    with KeepAliveJudge() as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-stub")
        autoevals.init(client=AsyncOpenAI(max_retries=0))
        try:
            judges = [autoevals.LLMClassifier(name=name, prompt_template="Is {{output}} fine?", choice_scores={"Y": 1, "N": 0},
                                              model="gpt-4o") for name in ("Polite", "Brief")]
            result = Eval("qa5-llm-scorers", data=[{"input": f"q{i}"} for i in range(3)], task=lambda x: "four", scores=judges)
        finally:
            autoevals.init(client=None)
    assert [r.scores for r in result.results] == [{"Polite": 1, "Brief": 1}] * 3
    assert all("scorer_errors" not in (r.metadata or {}) for r in result.results)


def test_the_plugin_s_scorer_loop_keeps_the_caller_s_context_and_runs_a_nested_call():
    """One loop for every call, the caller's context inside it; a scorer's ``sys.exit`` is its
    error (it does not stop the loop), and a scorer on that loop that calls ``run_scorers``
    itself (it cannot wait on its own loop) gets a loop of its own instead of hanging."""
    import asyncio
    import contextvars
    import threading

    from pytest_braintrust.scoring import _SCORER_LOOP

    current = contextvars.ContextVar("current", default=None)

    async def seen():
        return current.get(), asyncio.get_running_loop()

    async def exits():
        sys.exit(3)

    async def nesting():
        return _SCORER_LOOP.run(seen())

    answers = {}

    def caller():
        current.set("score span")
        answers["first"] = _SCORER_LOOP.run(seen())
        try:
            _SCORER_LOOP.run(exits())
        except SystemExit as exc:
            answers["exit"] = exc.code
        answers["second"] = _SCORER_LOOP.run(seen())
        answers["nested"] = _SCORER_LOOP.run(nesting())

    thread = threading.Thread(target=caller, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "a scorer call never finished"
    assert answers["exit"] == 3
    (value, loop), (value_again, loop_again) = answers["first"], answers["second"]
    assert value == value_again == "score span" and loop is loop_again
    nested_value, nested_loop = answers["nested"]
    assert nested_value == "score span" and nested_loop is not loop
