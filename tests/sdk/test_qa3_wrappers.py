"""LLM client wrappers against 0.48.1 (third QA pass): Anthropic's tool runner and message threads
(``client.beta.messages.tool_runner`` / ``thread``), which 0.48.1 traces as a ``task`` span over
the run with the model calls and the tools' runs under it. The rows expected here are the ones
0.48.1 wrote for the same calls against the same stub (compared row by row when written).
A real anthropic client talks to the loopback stub (tests/anthropic_stub.py)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from anthropic import Anthropic, AsyncAnthropic, InternalServerError, beta_async_tool, beta_tool
from anthropic.lib.tools import BetaRunnableToolset, ToolError

import braintrust
from braintrust import traced, wrap_anthropic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from anthropic_stub import AnthropicStub, message_answer, message_stream  # noqa: E402

RUN = "anthropic.messages.tool_runner"
WEATHER_SCHEMA = {"additionalProperties": False, "required": ["city"], "type": "object",
                  "properties": {"city": {"description": "the city", "title": "City", "type": "string"}}}


class RunnerStub(AnthropicStub):
    """Answers a call of the first tool to a request with tools, and a plain answer to one carrying tool
    results (the runner's next turn); model ``boom`` is a 500."""

    def answer(self, handler, path, body):
        if body["model"] == "boom":
            error = {"type": "error", "error": {"type": "api_error", "message": "fell over"}}
            return handler.send(500, json.dumps(error).encode(), "application/json")
        last = body["messages"][-1]
        if isinstance(last.get("content"), list) and any(block.get("type") == "tool_result" for block in last["content"]):
            body = {**body, "tools": None}
        if body.get("stream"):
            return handler.send(200, message_stream(body).encode(), "text/event-stream")
        status, answer = message_answer(body)
        for block in answer["content"]:  # (a call of the tool the request gave; a toolset's member)
            if block["type"] == "tool_use" and body["tools"][0].get("type") == "browser_test":
                block.update(toolset_name="browser", name="navigate", input={"url": body["model"]})
            elif block["type"] == "tool_use":
                block["name"] = body["tools"][0]["name"]
        handler.send(status, json.dumps(answer).encode(), "application/json")


@pytest.fixture
def stub():
    with RunnerStub() as running:
        yield running


@pytest.fixture
def logger(bt_logs):
    return braintrust.init_logger(project="qa3-wrappers")


@beta_tool
def get_weather(city: str) -> str:
    """Weather in a city.

    Args:
        city: the city
    """
    return f"sunny in {city}"


@beta_tool
def broken_weather(city: str) -> str:
    """Weather in a city.

    Args:
        city: the city
    """
    raise ValueError("no weather today")


@beta_async_tool
async def async_weather(city: str) -> str:
    """Weather in a city.

    Args:
        city: the city
    """
    return f"sunny in {city}"


def client_for(stub, cls=Anthropic):
    return wrap_anthropic(cls(api_key="sk-stub", base_url=stub.base_url, max_retries=0))


def by_name(rows):
    named = {}
    for row in rows:
        named.setdefault(row["span_attributes"]["name"], []).append(row)
    return named


def test_a_tool_runner_is_a_task_span_over_its_model_calls_and_tool_runs(bt_logs, logger, stub):
    runner = client_for(stub).beta.messages.tool_runner(model="m", max_tokens=100, tools=[get_weather],
                                                        messages=[{"role": "user", "content": "Weather in Paris?"}])
    assert [message.stop_reason for message in runner] == ["tool_use", "end_turn"]
    assert runner.until_done().content[0].text == "The answer is 4."
    rows = bt_logs.rows()
    named = by_name(rows)
    assert sorted(named) == ["anthropic.messages.create", RUN, "get_weather"] and len(rows) == 4
    (run,) = named[RUN]
    assert run["span_attributes"]["type"] == "task" and run["span_parents"] is None
    assert run["input"] == [{"role": "user", "content": "Weather in Paris?"}]
    assert run["metadata"] == {"provider": "anthropic", "model": "m", "max_tokens": 100, "tools": [
        {"name": "get_weather", "description": "Weather in a city.", "input_schema": WEATHER_SCHEMA}]}
    assert run["output"] == {"role": "assistant", "model": "m", "stop_reason": "end_turn",
                             "content": [{"type": "text", "text": "The answer is 4."}]}
    assert run["context"]["span_origin"]["instrumentation"]["name"] == "anthropic-auto"
    (tool,) = named["get_weather"]
    assert tool["span_attributes"]["type"] == "tool" and tool["span_parents"] == [run["span_id"]]
    assert tool["input"] == {"city": "Paris"} and tool["output"] == "sunny in Paris"
    assert tool["metadata"] == {"provider": "anthropic"}
    first, second = sorted(named["anthropic.messages.create"], key=lambda row: row["metrics"]["start"])
    assert first["span_parents"] == second["span_parents"] == [run["span_id"]]
    assert first["metadata"]["thread"] == {"type": "create"} and first["output"]["stop_reason"] == "tool_use"
    assert second["metadata"]["thread"] == {"type": "continue", "previous_message_id": "msg_1"}
    assert second["input"] == [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny in Paris"}]}]
    assert first["metrics"]["tokens"] == 21.0 and second["metrics"]["time_to_first_token"] >= 0


def test_a_tool_runner_in_a_traced_function_nests_there_and_a_failing_tool_is_its_spans_error(bt_logs, logger, stub):
    @traced
    def ask():
        return client_for(stub).beta.messages.tool_runner(model="m", max_tokens=100, tools=[broken_weather],
                                                          messages=[{"role": "user", "content": "Weather?"}]).until_done()

    assert ask().stop_reason == "end_turn"
    named = by_name(bt_logs.rows())
    (outer,), (run,), (tool,) = named["ask"], named[RUN], named["broken_weather"]
    assert run["span_parents"] == [outer["span_id"]] and tool["span_parents"] == [run["span_id"]]
    assert "no weather today" in tool["error"] and "output" not in tool
    assert "error" not in run and run["output"]["stop_reason"] == "end_turn"
    assert all(row["span_parents"] == [run["span_id"]] for row in named["anthropic.messages.create"])


def test_a_failed_run_is_its_spans_error_and_a_closed_one_ends_without_output(bt_logs, logger, stub):
    client = client_for(stub)
    with pytest.raises(InternalServerError):
        client.beta.messages.tool_runner(model="boom", max_tokens=10, tools=[get_weather],
                                         messages=[{"role": "user", "content": "x"}]).until_done()
    runner = client.beta.messages.tool_runner(model="m", max_tokens=10, tools=[get_weather],
                                              messages=[{"role": "user", "content": "x"}])
    next(iter(runner))
    runner.close()
    runs = {row["metadata"]["model"]: row for row in by_name(bt_logs.rows())[RUN]}
    assert "fell over" in runs["boom"]["error"] and runs["boom"]["metrics"]["end"] >= runs["boom"]["metrics"]["start"]
    assert "output" not in runs["m"] and "error" not in runs["m"] and runs["m"]["metrics"]["end"] >= runs["m"]["metrics"]["start"]


def test_a_streaming_tool_runner_and_a_thread_are_traced_the_same_way(bt_logs, logger, stub):
    client = client_for(stub)
    runner = client.beta.messages.tool_runner(model="s", max_tokens=10, tools=[get_weather], stream=True,
                                              messages=[{"role": "user", "content": "x"}])
    for stream in runner:
        for _ in stream:
            pass
    thread = client.beta.messages.thread(model="t", max_tokens=10, tools=[get_weather], messages=[{"role": "user", "content": "x"}])
    assert thread.tool_runner().until_done().stop_reason == "end_turn"
    rows = bt_logs.rows()
    runs = {row["metadata"]["model"]: row for row in by_name(rows)[RUN]}
    assert runs["s"]["metadata"]["stream"] is True and runs["s"]["output"]["stop_reason"] == "end_turn"
    assert runs["t"]["input"] == [{"role": "user", "content": "x"}] and runs["t"]["output"]["stop_reason"] == "end_turn"
    for model, run in runs.items():
        children = [row for row in rows if row.get("span_parents") == [run["span_id"]]]
        names = sorted(row["span_attributes"]["name"] for row in children)
        expected = "anthropic.messages.stream" if model == "s" else "anthropic.messages.create"
        assert names == [expected, expected, "get_weather"], model


def test_an_async_tool_runner_and_thread(bt_logs, logger, stub):
    async def run():
        client = client_for(stub, AsyncAnthropic)
        runner = client.beta.messages.tool_runner(model="a", max_tokens=10, tools=[async_weather],
                                                  messages=[{"role": "user", "content": "x"}])
        reasons = [message.stop_reason async for message in runner]
        thread = client.beta.messages.thread(model="t", max_tokens=10, tools=[async_weather],
                                             messages=[{"role": "user", "content": "x"}])
        final = await thread.tool_runner().until_done()
        return reasons, final.stop_reason

    assert asyncio.run(run()) == (["tool_use", "end_turn"], "end_turn")
    rows = bt_logs.rows()
    runs = by_name(rows)[RUN]
    assert len(runs) == 2
    for run in runs:
        children = sorted(row["span_attributes"]["name"] for row in rows if row.get("span_parents") == [run["span_id"]])
        assert children == ["anthropic.messages.create", "anthropic.messages.create", "async_weather"]
        assert run["output"]["stop_reason"] == "end_turn"


def test_the_tools_given_stay_untraced_and_the_plain_messages_resource_has_no_runner(bt_logs, logger, stub):
    client = client_for(stub)
    client.beta.messages.tool_runner(model="m", max_tokens=10, tools=[get_weather],
                                     messages=[{"role": "user", "content": "x"}]).until_done()
    assert get_weather.call({"city": "Rome"}) == "sunny in Rome"  # (the caller's tool: no span)
    assert len(by_name(bt_logs.rows())["get_weather"]) == 1
    with pytest.raises(AttributeError):
        client.messages.tool_runner


class Browser(BetaRunnableToolset):
    """A toolset whose member ``navigate`` fails for a URL without a scheme."""

    toolset_name = "browser"

    def to_dict(self):
        return {"type": "browser_test", "name": "browser"}

    def call(self, context, name, input):
        if "://" not in input["url"]:
            raise ToolError(f"not a URL: {input['url']}")
        return f"{name}: opened {input['url']}"


def test_a_toolsets_member_calls_are_tool_spans_named_after_the_member(bt_logs, logger, stub):
    client = client_for(stub)
    for url in ("https://example.com", "example"):
        assert client.beta.messages.tool_runner(model=url, max_tokens=10, tools=[Browser()],
                                                messages=[{"role": "user", "content": "x"}]).until_done().stop_reason == "end_turn"
    named = by_name(bt_logs.rows())
    runs = {row["metadata"]["model"]: row for row in named[RUN]}
    tools = {row["input"]["url"]: row for row in named["navigate"]}
    good, bad = tools["https://example.com"], tools["example"]
    assert good["span_parents"] == [runs["https://example.com"]["span_id"]] and bad["span_parents"] == [runs["example"]["span_id"]]
    assert good["metadata"] == {"provider": "anthropic", "toolset_name": "browser", "tool_use_id": "toolu_1"}
    assert good["output"] == "navigate: opened https://example.com" and "error" not in good
    assert bad["output"] == bad["error"] == "not a URL: example"


def test_a_tool_run_eagerly_while_a_streamed_reply_is_read_is_the_runs(bt_logs, logger, stub):
    @traced
    def ask():
        runner = client_for(stub).beta.messages.tool_runner(model="e", max_tokens=10, tools=[get_weather], stream=True,
                                                            run_tools_eagerly=True, messages=[{"role": "user", "content": "x"}])
        texts = ["".join(reply.text_stream) for reply in runner]
        return texts, runner.until_done().stop_reason

    assert ask() == (["The answer is 4.", "The answer is 4."], "end_turn")
    named = by_name(bt_logs.rows())
    (outer,), (run,), (tool,) = named["ask"], named[RUN], named["get_weather"]
    assert run["span_parents"] == [outer["span_id"]] and tool["span_parents"] == [run["span_id"]]
    assert tool["output"] == "sunny in Paris" and run["output"]["stop_reason"] == "end_turn" and "error" not in run
    assert all(row["span_parents"] == [run["span_id"]] for row in named["anthropic.messages.stream"])


def test_time_to_first_token_is_taken_at_the_first_output_not_at_message_start(bt_logs, logger):
    with AnthropicStub() as plain:
        client = client_for(plain)
        question = [{"role": "user", "content": "x"}]
        stream = client.messages.create(model="closed", max_tokens=5, messages=question, stream=True)
        assert next(iter(stream)).type == "message_start"
        stream.close()
        with client.messages.stream(model="empty-block", max_tokens=5, messages=question) as helper:
            events = iter(helper)
            assert [next(events).type, next(events).type] == ["message_start", "content_block_start"]
        with client.messages.stream(model="text", max_tokens=5, messages=question) as helper:
            assert next(iter(helper.text_stream)) == "The answer"
    rows = {row["metadata"]["model"]: row for row in bt_logs.rows()}
    assert "time_to_first_token" not in rows["closed"]["metrics"] and rows["closed"]["metrics"]["prompt_tokens"] == 16.0
    assert "time_to_first_token" not in rows["empty-block"]["metrics"]
    assert 0 <= rows["text"]["metrics"]["time_to_first_token"] <= rows["text"]["metrics"]["end"] - rows["text"]["metrics"]["start"]
