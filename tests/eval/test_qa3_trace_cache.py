"""QA of 0.48.1's span cache in ``Eval``: scorers' ``trace.get_spans()`` answer from the spans
logged in this process, with no flush and no request, unless the cache is off (a span was
exported, ``init_function`` was called, ``enable_cache=False``); a run keeps only the trials in
flight. ``tests/data/captures/eval_trace_cache.jsonl`` (+ ``.out.txt``) is what 0.48.1 sent and
what its scorers saw."""

from __future__ import annotations

import asyncio
import json
import re
import runpy

import pytest

import braintrust
from braintrust.framework import Eval
from braintrust.tracing import span_cache
from capture_compare import CAPTURES

SCENARIO = CAPTURES / "scenario_eval_trace_cache.py"
SEEN = re.compile(r"^[a-z ]+ input=\d+ ")


def _seen_lines(printed: str) -> list[str]:
    return [line for line in printed.splitlines() if SEEN.match(line)]


def _without_ids(body: dict) -> dict:
    body = json.loads(json.dumps(body))
    ref = body["input"]["trace_ref"]
    ref["object_id"], ref["root_span_id"] = "<experiment id>", "<root span id>"
    return body


def test_scorers_read_the_trace_from_the_span_cache_as_0_48_1(bt_logs, capsys):
    """The capture's scenario on ours, against Braintrust: no ``/btql`` (each ``get_spans`` used
    to flush and send one), the other requests as 0.48.1's, and the scorers see what its
    scorers saw (the fields it caches, merged, in start order, filtered the same way)."""
    captured = [json.loads(line) for line in (CAPTURES / "eval_trace_cache.jsonl").read_text().splitlines()]
    runpy.run_path(str(SCENARIO), run_name="__main__")
    assert _seen_lines(capsys.readouterr().out) == (CAPTURES / "eval_trace_cache.out.txt").read_text().splitlines()
    bt_logs.flush()
    server = bt_logs.server

    def calls(requests):
        return [(method, re.sub(r"/v1/experiment/[^/]+/", "/v1/experiment/<id>/", path)) for method, path in requests if path != "/logs3"]

    assert calls((r.method, r.path) for r in server.requests) == calls((r["method"], r["path"]) for r in captured)
    assert server.requests_to("/btql", "POST") == []
    ours = [_without_ids(r.json) for r in server.requests_to("/function/invoke", "POST")]
    theirs = [_without_ids(r["body"]) for r in captured if r["path"] == "/function/invoke"]
    assert ours == theirs and len(ours) == 4


def test_scorers_read_the_trace_from_the_span_cache_in_the_local_store(capsys):
    """With no API key the cache answers the same (the store's read-back has ``expected``,
    ``scores``, ``created``...: 0.48.1's cache has not). ``get_thread`` needs Braintrust, so
    the lines that depend on it are left out."""
    runpy.run_path(str(SCENARIO), run_name="__main__")
    independent = re.compile(r"^(all|llm|tools|named|errors|metadata|none|sync) ")
    ours = [line for line in _seen_lines(capsys.readouterr().out) if independent.match(line)]
    theirs = [line for line in (CAPTURES / "eval_trace_cache.out.txt").read_text().splitlines() if independent.match(line)]
    assert ours == theirs and len(ours) == 29


def _trace_reader(found: list):
    async def tools(trace):
        spans = await trace.get_spans(["tool"])
        found.append([s.span_attributes["name"] for s in spans])
        return 1

    return tools


def _task(input):
    with braintrust.start_span(name="lookup", type="tool") as span:
        span.log(output=input)
    return input


def _export_a_span():
    with braintrust.init_logger(project="elsewhere").start_span(name="exported") as span:
        span.export()


def _permalink_of_a_span():
    with braintrust.init_logger(project="elsewhere").start_span(name="linked") as span:
        span.permalink()


def _init_function():
    braintrust.init_function("p", "some-scorer")


@pytest.mark.parametrize("turn_off", [_export_a_span, _permalink_of_a_span, _init_function])
def test_what_turns_the_cache_off_for_the_rest_of_the_process(bt_logs, turn_off):
    """As 0.48.1: once a span is exported (its trace may be written elsewhere) or a Braintrust
    function is set up as a task or scorer, every later ``get_spans`` reads back, one ``/btql``
    per call, the spans found the same."""
    found: list = []
    Eval("cache-on", data=[{"input": 1}], task=_task, scores=[_trace_reader(found)])
    assert bt_logs.server.requests_to("/btql", "POST") == []
    turn_off()
    Eval("cache-off", data=[{"input": 1}, {"input": 2}], task=_task, scores=[_trace_reader(found)])
    assert len(bt_logs.server.requests_to("/btql", "POST")) == 2
    assert found == [["lookup"]] * 3


def test_a_span_exported_by_the_task_turns_the_cache_off_midway(bt_logs):
    """The first trial's task exports its span: its scorer and every later one read back."""
    found: list = []

    def task(input):
        if input == 1:
            braintrust.current_span().export()
        return _task(input)

    Eval("cache-midway", data=[{"input": 1}, {"input": 2}], task=task, scores=[_trace_reader(found)], max_concurrency=1)
    assert len(bt_logs.server.requests_to("/btql", "POST")) == 2
    assert found == [["lookup"]] * 2


def test_enable_cache_false_reads_the_trace_back(bt_logs):
    found: list = []
    Eval("no-cache", data=[{"input": 1}], task=_task, scores=[_trace_reader(found)], enable_cache=False)
    Eval("cache", data=[{"input": 1}], task=_task, scores=[_trace_reader(found)])
    assert len(bt_logs.server.requests_to("/btql", "POST")) == 1  # (the second Eval's cache is on)
    assert found == [["lookup"]] * 2


def test_a_long_run_keeps_only_the_trials_in_flight():
    """Each trial's cached spans are dropped once its scorers are done: memory does not grow
    with the number of cases; none is left once the run ends, and spans outside it are not kept."""
    held: list[int] = []

    async def counted(input, trace):
        held.append(len(span_cache._traces))
        await asyncio.sleep(0)
        return len(await trace.get_spans()) == 3

    result = Eval("cache-bounded", data=[{"input": i} for i in range(120)], task=_task, scores=[counted], max_concurrency=4)
    assert [r.scores for r in result.results] == [{"counted": True}] * 120
    assert 1 <= max(held) <= 4
    assert span_cache._traces == {} and span_cache.recording == 0
    with braintrust.init_logger(project="after").start_span(name="outside") as span:
        span.log(output=1)
    assert span._cached_trace is None and span_cache._traces == {}


def test_each_call_gets_its_own_copies():
    """0.48.1 reads its cache from a file: a scorer changing what it got changes nothing for
    the next call, nor for what is stored."""

    async def mutates(trace):
        (span,) = await trace.get_spans(["tool"])
        span.output.append("changed")
        span.metrics["end"] = 0
        return 1

    async def reads(trace):
        (span,) = await trace.get_spans(["tool"])
        return span.output == [1] and span.metrics["end"] > 0

    def task(input):
        with braintrust.start_span(name="lookup", type="tool") as span:
            span.log(output=[input])
        return input

    result = Eval("cache-copies", data=[{"input": 1}], task=task, scores=[mutates, reads])
    assert result.results[0].scores == {"mutates": 1, "reads": True}


def test_spans_written_to_project_logs_under_the_trial_are_not_cached(bt_logs):
    """A logger's span started under the task is in the trial's trace but written to the
    project's logs: 0.48.1 caches experiment spans only, so its scorer does not see it."""
    found: list = []

    def task(input):
        logger = braintrust.init_logger(project="side-logs")
        with logger.start_span(name="logged", type="tool") as span:
            span.log(output=input)
        return _task(input)

    Eval("cache-logs", data=[{"input": 1}], task=task, scores=[_trace_reader(found)])
    assert found == [["lookup"]]
    assert bt_logs.server.requests_to("/btql", "POST") == []


def test_a_scorer_sees_the_scorer_spans_started_before_its_own_read():
    """0.48.1 starts each scorer's span when that scorer starts: the first scorer, reading its
    trace before it awaits anything, sees its own span and not the later scorers' (ours
    started every scorer span first, so it also saw spans 0.48.1 had not started yet)."""
    seen: dict = {}

    def reader(name):
        async def scorer(trace):
            spans = await trace.get_spans(include_scorers=True, filters={"span_type": ["score"]})
            seen[name] = [s.span_attributes["name"] for s in spans]
            return 1

        scorer.__name__ = name
        return scorer

    Eval("cache-scorer-spans", data=[{"input": 1}], task=lambda x: x, scores=[reader("first"), reader("second")])
    assert seen == {"first": ["first"], "second": ["first", "second"]}
