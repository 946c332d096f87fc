"""autoevals' scorers in ``Eval``, held to 0.48.1 where a side-by-side run of both SDKs against the
test server and a loopback OpenAI stub found ours different: every span a scorer starts (an LLM
judge's call, its tool call, a ``@traced`` helper) carries the score span's ``purpose: "scorer"``,
which 0.48.1 propagates to a scorer's descendants. autoevals' default judge model (gpt-5-mini)
goes through the Responses API, where autoevals passes no ``span_info`` of its own: ours left
those spans unmarked. And ``trace.get_thread()``, which autoevals' ``{{thread}}`` templates call,
was missing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import autoevals
from eval_support import stored_rows
from openai import OpenAI

import braintrust
from braintrust import Eval, start_span, traced, wrap_openai

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from openai_stub import OpenAIStub  # noqa: E402
from openai_stub import chat_answer  # noqa: E402
from openai_stub import responses_answer  # noqa: E402


class JudgeStub(OpenAIStub):
    """Answers a Responses call offering autoevals' ``select_choice`` tool with that tool's call,
    choosing the last choice offered; a chat completion offering it, likewise."""

    def __init__(self):
        super().__init__(chat_answer=self.chat_judge)

    @staticmethod
    def chat_judge(body):
        answer = chat_answer(body)[1]
        tools = body.get("tools") or []
        if tools and tools[0]["function"]["name"] == "select_choice":
            choice = tools[0]["function"]["parameters"]["properties"]["choice"]["enum"][-1]
            call = {"name": "select_choice", "arguments": json.dumps({"reasons": "It says 4.", "choice": choice})}
            answer["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": [{"id": "call_j", "type": "function", "function": call}]}
            answer["choices"][0]["finish_reason"] = "tool_calls"
        return answer

    def answer(self, handler, path, body):
        tools = body.get("tools") or []
        if path == "/v1/responses" and tools and tools[0].get("name") == "select_choice":
            choice = tools[0]["parameters"]["properties"]["choice"]["enum"][-1]
            answer = responses_answer(body)
            answer["output"] = [{"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "select_choice",
                                 "arguments": json.dumps({"reasons": "It says 4.", "choice": choice}), "status": "completed"}]
            return handler.send(200, json.dumps(answer).encode(), "application/json")
        return super().answer(handler, path, body)


def by_name(rows):
    return {r["span_attributes"]["name"]: r for r in rows}


def test_spans_under_a_scorer_are_marked_as_scorer_work(monkeypatch):
    @traced
    def count_words(text):
        return len(text.split())

    def brevity(output):
        return 1.0 if count_words(output) < 5 else 0.0

    def tone(output):
        with start_span(name="classify_tone"):
            return braintrust.Classification(id="plain", name="tone")

    with JudgeStub() as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-stub")
        result = Eval("qa2-autoevals", data=[{"input": "What is 2+2?", "expected": "4"}], task=lambda x: "four",
                      scores=[autoevals.Factuality(), brevity], classifiers=[tone])
    assert result.results[0].scores == {"Factuality": 1, "brevity": 1.0}
    spans = by_name(stored_rows(result))
    score = spans["Factuality"]
    assert score["span_attributes"]["type"] == "score" and score["metadata"] == {"choice": "E", "rationale": "It says 4."}
    judge = spans["openai.responses.create"]
    assert judge["span_parents"] == [score["span_id"]] and judge["span_attributes"]["type"] == "llm"
    assert spans["select_choice"]["span_parents"] == [judge["span_id"]]
    assert spans["count_words"]["span_parents"] == [spans["brevity"]["span_id"]]
    assert spans["classify_tone"]["span_parents"] == [spans["tone"]["span_id"]]
    for name in ("openai.responses.create", "select_choice", "count_words", "classify_tone"):
        assert spans[name]["span_attributes"]["purpose"] == "scorer", name
    for name in ("eval", "task"):
        assert "purpose" not in spans[name]["span_attributes"], name


def test_a_propagated_events_span_attributes_join_each_spans_own(bt_logs):
    """As 0.48.1 writes them (run side by side): the propagated values are added to the span's
    name, type and exec_counter, winning a conflict, in the span that propagates them and in its
    descendants. Ours replaced the whole of ``span_attributes`` (the name and type were lost)."""
    experiment = braintrust.init("qa2-autoevals", experiment="propagated")
    propagated = {"span_attributes": {"purpose": "x", "type": "tool"}, "metadata": {"m": 1}}
    with experiment.start_span(name="top", span_attributes={"type": "task", "a": 1}, propagated_event=propagated) as top:
        with start_span(name="child", span_attributes={"purpose": "mine"}) as child:
            child.log(output=1)
        with top.start_span(name="other", propagated_event={"span_attributes": {"other": 2}}):
            pass
    experiment.flush()
    rows = by_name(bt_logs.rows("experiment", experiment.id))
    attributes = {name: {k: v for k, v in row["span_attributes"].items() if k != "exec_counter"} for name, row in rows.items()}
    assert attributes == {
        "top": {"name": "top", "type": "tool", "a": 1, "purpose": "x"},
        "child": {"name": "child", "type": "tool", "purpose": "x"},
        "other": {"name": "other", "other": 2},
    }
    assert all(isinstance(row["span_attributes"]["exec_counter"], int) for row in rows.values())
    assert rows["child"]["metadata"] == {"m": 1} and "metadata" not in rows["other"]


def test_a_thread_template_gets_the_trace_s_conversation_from_braintrust(bt_env, monkeypatch):
    """autoevals' ``{{thread}}`` templates call ``trace.get_thread()``, which ours lacked (the
    judge failed with autoevals' "trace must implement async get_thread"). As 0.48.1 (run side by
    side): the project's default preprocessor is invoked once per trace, with no parent."""
    classifier = autoevals.LLMClassifier(name="Coherent", prompt_template="Turns: {{thread_count}}\n{{thread}}\nCoherent?",
                                         choice_scores={"Y": 1, "N": 0}, model="gpt-4o", use_cot=False)

    async def turns(trace):
        return len(await trace.get_thread()) / 2

    with JudgeStub() as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-stub")
        client = wrap_openai(OpenAI(max_retries=0))

        def task(question):
            return client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": question}]).choices[0].message.content

        result = Eval("qa2-autoevals", data=[{"input": "What is 2+2?"}], task=task, scores=[classifier, turns])
        judge_prompt = [body for _, body in stub.requests if body.get("tools")][0]["messages"][0]["content"]
    assert result.results[0].scores == {"Coherent": 0, "turns": 1.0}, result.results[0].metadata
    assert judge_prompt.startswith("Turns: 2\nUser:\n  What is 2+2?\n\nAssistant:\n  The answer is 4.\nCoherent?")
    invoked = bt_env.requests_to("/function/invoke")
    assert [request.json for request in invoked] == [{
        "api_version": 1, "function_type": "preprocessor", "global_function": "project_default", "mode": "json",
        "input": {"trace_ref": {"object_type": "experiment", "object_id": result.summary.experiment_id,
                                "root_span_id": stored_root_span_id(bt_env, result)}},
        "metadata": None, "parent": "", "stream": False, "tags": None,
    }]


def stored_root_span_id(server, result):
    return [r for r in server.rows("experiment", result.summary.experiment_id) if not r.get("span_parents")][0]["root_span_id"]


def test_get_thread_in_the_local_store_says_why_there_is_none():
    async def turns(trace):
        return len(await trace.get_thread())

    result = Eval("qa2-autoevals", data=[{"input": "q"}], task=lambda x: "a", scores=[turns])
    error = result.results[0].metadata["scorer_errors"]["turns"]
    assert error.strip().splitlines()[-1] == (
        "RuntimeError: trace.get_thread() runs a Braintrust preprocessor on the trial's trace, and this eval's trace is in the "
        "local store (no BRAINTRUST_API_KEY): run the eval against Braintrust, or score without the thread (e.g. with trace.get_spans()).")
