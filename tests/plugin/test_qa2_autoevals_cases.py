"""autoevals' judges as a case's scorers: the spans a scorer starts (the judge's Responses call and
its tool call, a ``@traced`` helper) carry the score span's ``purpose: "scorer"``, as ``Eval`` marks
them (0.48.1 propagates it to a scorer's descendants); ours left them unmarked."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import autoevals  # (imported once here, not again by each in-process run (pytester restores sys.modules)
import openai  # noqa: F401
from plugin_helpers import tree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from openai_stub import OpenAIStub  # noqa: E402
from openai_stub import responses_answer  # noqa: E402


class JudgeStub(OpenAIStub):
    """Answers a Responses call offering autoevals' ``select_choice`` tool with that tool's call
    (choice "C")."""

    def answer(self, handler, path, body):
        tools = body.get("tools") or []
        if path == "/v1/responses" and tools and tools[0].get("name") == "select_choice":
            answer = responses_answer(body)
            answer["output"] = [{"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "select_choice",
                                 "arguments": json.dumps({"reasons": "Same answer.", "choice": "C"}), "status": "completed"}]
            return handler.send(200, json.dumps(answer).encode(), "application/json")
        return super().answer(handler, path, body)


def test_spans_under_a_case_scorer_are_marked_as_scorer_work(bt):
    bt.pytester.makepyfile(
        test_suite_judges='''
        import pytest
        from autoevals import Factuality
        from braintrust import traced
        from pytest_braintrust import eval_case

        @traced
        def count_words(text):
            return len(text.split())

        def brevity(output):
            return 1.0 if count_words(output) < 5 else 0.0

        @eval_case(input="What is 2+2?", expected="4", scorers=[Factuality(), brevity])
        def test_declared(braintrust_case):
            return "4"

        @eval_case(input="What is 2+2?", expected="4")
        @pytest.mark.asyncio
        async def test_run_in_an_async_test(braintrust_case):
            assert braintrust_case.run_scorers("4", scorers=[Factuality, brevity]) == {"Factuality": 1, "brevity": 1.0}
        '''
    )
    autoevals.init(client=None)  # (autoevals' default client, whatever another test in this process set)
    with JudgeStub() as stub:
        bt.monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        bt.monkeypatch.setenv("OPENAI_API_KEY", "sk-stub")
        result = bt.run("--braintrust", "test_suite_judges.py")
    result.assert_outcomes(passed=2)
    spans = tree(bt.rows())
    for name, root in bt.roots().items():
        factuality = spans.child(root, "Factuality")
        assert factuality["scores"] == {"Factuality": 1} and factuality["metadata"] == {"choice": "C", "rationale": "Same answer."}
        judge = spans.child(factuality, "openai.responses.create")
        nested = [judge, spans.child(judge, "select_choice"), spans.child(spans.child(root, "brevity"), "count_words")]
        for span in nested:
            assert span["span_attributes"]["purpose"] == "scorer", (name, span["span_attributes"])
        assert judge["span_attributes"]["type"] == "llm"
        assert "purpose" not in spans.child(root, "task")["span_attributes"]
