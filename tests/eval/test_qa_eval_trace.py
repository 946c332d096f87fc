"""QA of ``Eval``'s data and trace handling: the scorers' ``trace`` argument, data read midway,
output printed by tasks while the progress bar is shown."""

from __future__ import annotations

import asyncio
import io
import sys

import pytest

from braintrust.framework import Eval


def test_get_spans_reads_each_trials_trace_alone_never_the_whole_experiment(bt_logs):
    """Each ``get_spans`` used to read the whole experiment (``/v1/experiment/{id}/fetch``): N
    scorers, N full reads, quadratic in cases. Each trace is now read alone, with the BTQL
    query 0.48.1 sends when its span cache cannot answer (``tests/data/captures/eval_trace.jsonl``;
    here it is off: ``enable_cache=False``), and each scorer gets its own trace."""
    server = bt_logs.server
    count = 24
    arrived: list = []

    async def own_trace(input, trace):
        arrived.append(input)
        while len(arrived) < count:  # every trial asks at once
            await asyncio.sleep(0.001)
        spans = await trace.get_spans()
        names = sorted(s.span_attributes["name"] for s in spans)
        return names == ["eval", "task"] and all(s.input == input for s in spans)

    result = Eval("trace-reads", data=[{"input": i} for i in range(count)], task=lambda x: x, scores=[own_trace], enable_cache=False)
    assert [r.scores for r in result.results] == [{"own_trace": True}] * count
    experiment_id = result.summary.experiment_id
    assert server.requests_to(f"/v1/experiment/{experiment_id}/fetch", "POST") == []
    queries = [request.json["query"] for request in server.requests_to("/btql", "POST")]
    assert len(queries) == count
    traced = [q["filter"]["children"][0]["right"]["value"] for q in queries]
    assert len(set(traced)) == count
    assert {q["from"]["args"][0]["value"] for q in queries} == {experiment_id}


def test_get_spans_sends_the_query_0_48_1_sends(bt_logs, capsys):
    """The capture's scenario (0.48.1 with its span cache off) run on ours: the same ``/btql``
    bodies, ids aside, and the same spans found."""
    import json
    import runpy

    from capture_compare import CAPTURES

    def bodies(requests):
        found = []
        for body in requests:
            query = body["query"]
            query["filter"]["children"][0]["right"]["value"] = "<root span id>"
            query["from"]["args"][0]["value"] = "<experiment id>"
            found.append(body)
        return found

    captured = [json.loads(line) for line in (CAPTURES / "eval_trace.jsonl").read_text().splitlines()]
    theirs = bodies([r["body"] for r in captured if r["path"] == "/btql"])
    runpy.run_path(str(CAPTURES / "scenario_eval_trace.py"), run_name="__main__")
    ours = bodies([request.json for request in bt_logs.server.requests_to("/btql", "POST")])
    assert ours == theirs and len(ours) == 2
    assert capsys.readouterr().out.count("'eval', 'lookup', 'spans_seen', 'task']") == 2


def test_get_spans_from_a_sync_scorer_on_its_own_loop_beside_async_ones():
    """``get_spans`` is async only, so a sync scorer runs it with ``asyncio.run`` on its thread:
    reads shared by the eval's loop must not leave that loop's call waiting forever."""

    async def on_the_loop(trace):
        return len(await trace.get_spans()) == 2

    def on_a_thread(trace):
        return len(asyncio.run(trace.get_spans())) == 2

    result = Eval("trace-threads", data=[{"input": i} for i in range(8)], task=lambda x: x,
                  scores=[on_the_loop, on_a_thread], trial_count=2, timeout=30, enable_cache=False)  # (the reads, not the span cache)
    assert [r.scores for r in result.results] == [{"on_the_loop": True, "on_a_thread": True}] * 16

def test_get_spans_without_an_experiment_says_so_rather_than_answer_no_spans():
    """Under ``no_send_logs`` no span is recorded: ``get_spans()`` used to answer ``[]``, which
    a scorer takes for a trace without any (a "no tool called" check passing or failing silently)."""

    async def tool_calls(trace):
        return len(await trace.get_spans(["tool"]))

    result = Eval("trace-local", data=[{"input": 1}], task=lambda x: x, scores=[tool_calls], no_send_logs=True)
    (case,) = result.results
    assert case.scores == {}
    assert "trace.get_spans() reads the trial's spans back from the eval's experiment" in case.metadata["scorer_errors"]["tool_calls"]


class _Terminal(io.StringIO):
    """stdout and stderr of a terminal: one screen."""

    def isatty(self):
        return True

    def screen(self):
        """The lines as a terminal shows them (``\\r`` goes back to the line's start)."""
        lines, line, column = [], [], 0
        for char in self.getvalue():
            if char == "\n":
                lines.append("".join(line).rstrip())
                line, column = [], 0
            elif char == "\r":
                column = 0
            else:
                line[column:column + 1] = [char]
                column += 1
        return lines + ["".join(line).rstrip()]


def test_what_a_task_prints_goes_above_the_progress_bar(monkeypatch):
    """A task's ``print`` used to land at the end of the bar's line ("[####--] 2/4said 1")."""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setattr(sys, "stderr", terminal)

    def task(input):
        print("said", input)
        print("partly", end="")  # (a line ends in a later write)
        print(" done", flush=True)
        return input

    Eval("printing", data=[{"input": i} for i in range(4)], task=task, scores=[lambda output: 1], no_send_logs=True,
         max_concurrency=1)
    assert sys.stdout is terminal and sys.stderr is terminal  # (put back once the bar closed)
    monkeypatch.undo()
    screen = terminal.screen()
    assert sorted(line for line in screen if "said" in line) == ["said 0", "said 1", "said 2", "said 3"], screen
    assert screen.count("partly done") == 4, screen
    bars = [line for line in screen if "(tasks)" in line]
    assert bars == ["printing (tasks): [########################] 4/4"], screen


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes are Python 3.11+")
def test_data_that_fails_midway_says_where_it_failed_and_that_nothing_ran():
    """Cases are all read before any trial runs: data that raises after some items fails the
    call with its own exception, which now says which evaluator's data it came from and how far
    the reading got (it used to be the bare ``ValueError``, from one of several evaluators)."""

    def rows():
        yield {"input": 1}
        yield {"input": 2}
        raise ValueError("line 3 is not JSON")

    with pytest.raises(ValueError, match="line 3 is not JSON") as raised:
        Eval("midway", data=rows, task=lambda x: x, scores=[lambda output: 1])
    assert raised.value.__notes__ == ["(raised reading the data of evaluator midway, after 2 cases: no trial ran)"]
