"""LLM calls in eval cases: a ``wrap_openai`` client in the code under test, and an autoevals LLM
judge as a declared scorer (autoevals wraps its client with ``braintrust.oai.wrap_openai``), each an
``llm`` span in the case's trace (the model is the loopback OpenAI stub, tests/openai_stub.py);
and spans any scorer starts, under its score span."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import autoevals
import pytest
from plugin_helpers import tree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from openai_stub import chat_answer  # noqa: E402
from openai_stub import OpenAIStub  # noqa: E402


@pytest.fixture(autouse=True)
def _autoevals_default_client():
    """A suite here sets autoevals' client (``autoevals.init``) in this process (pytester runs
    in-process): put back the default after each test, so later tests' judges do not call this
    test's stub, stopped by then."""
    yield
    autoevals.init(client=None)


def judge_or_answer(body: dict) -> dict:
    """The stub's answer, except to autoevals' judges, which get their tool call choosing "C"."""
    answer = chat_answer(body)[1]
    names = [t["function"]["name"] for t in body.get("tools") or []]
    if "select_choice" in names:
        arguments = json.dumps({"reasons": "The submission states the expert answer.", "choice": "C"})
        answer["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_j", "type": "function", "function": {"name": "select_choice", "arguments": arguments}}]}
        answer["choices"][0]["finish_reason"] = "tool_calls"
    return answer


def test_llm_calls_nest_under_the_task_and_the_judges_under_their_score_span(bt):
    bt.pytester.makepyfile(
        test_suite_llm='''
        import os

        import autoevals
        from openai import AsyncOpenAI, OpenAI
        from braintrust import wrap_openai
        from pytest_braintrust import eval_case

        stub = dict(api_key="sk-stub", base_url=os.environ["OPENAI_STUB_URL"], max_retries=0)
        client = wrap_openai(OpenAI(**stub))
        autoevals.init(client=AsyncOpenAI(**stub))  # scorers run through eval_async, as in Eval

        @eval_case(input="What is 2+2?", expected="4", scorers=[autoevals.Factuality(model="judge-model")])
        def test_answers(braintrust_case):
            messages = [{"role": "user", "content": braintrust_case.input}]
            return client.chat.completions.create(model="app-model", messages=messages).choices[0].message.content
        '''
    )
    with OpenAIStub(chat_answer=judge_or_answer) as stub:
        bt.monkeypatch.setenv("OPENAI_STUB_URL", stub.base_url)
        result = bt.run("--braintrust", "test_suite_llm.py")
    result.assert_outcomes(passed=1)
    rows = bt.rows()
    spans = tree(rows)
    root = bt.roots()["test_answers"]
    assert root["output"] == "The answer is 4." and root["scores"]["pass"] == 1

    app_call = spans.child(spans.child(root, "task"), "Chat Completion")
    assert app_call["span_attributes"]["type"] == "llm"
    assert app_call["input"] == [{"role": "user", "content": "What is 2+2?"}]
    assert app_call["metadata"] == {"model": "app-model", "provider": "openai"}
    assert app_call["metrics"]["tokens"] == 17 and app_call["output"][0]["message"]["content"] == "The answer is 4."

    score_span = spans.child(root, "Factuality")
    assert score_span["scores"] == {"Factuality": 1}
    judge_call = spans.child(score_span, "Chat Completion")
    assert judge_call["span_attributes"]["purpose"] == "scorer"  # autoevals' span_info, not sent to OpenAI
    assert all("span_info" not in body for _, body in stub.requests)
    assert judge_call["metadata"]["model"] == "judge-model"
    assert judge_call["metadata"]["tools"][0]["function"]["name"] == "select_choice"
    assert json.loads(judge_call["output"][0]["message"]["tool_calls"][0]["function"]["arguments"])["choice"] == "C"


def test_spans_a_scorer_starts_nest_under_its_score_span(bt):
    """Declared scorers, and ``run_scorers`` from an async test (which scores on a helper thread)."""
    bt.pytester.makepyfile(
        test_suite_scorer_spans='''
        import pytest
        from braintrust import traced
        from pytest_braintrust import eval_case

        @traced
        def ask_judge(output):
            return 1.0 if output else 0.0

        def judged(output):
            return ask_judge(output)

        @eval_case(input="q", scorers=[judged])
        def test_declared(braintrust_case):
            return "answer"

        @eval_case(input="r")
        @pytest.mark.asyncio
        async def test_scored_in_an_async_test(braintrust_case):
            assert braintrust_case.run_scorers("answer", scorers=[judged]) == {"judged": 1.0}
        '''
    )
    result = bt.run("--braintrust", "test_suite_scorer_spans.py")
    result.assert_outcomes(passed=2)
    spans = tree(bt.rows())
    for name, row in bt.roots().items():
        judge = spans.child(spans.child(row, "judged"), "ask_judge")
        assert judge["output"] == 1.0, name
