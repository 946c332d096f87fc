"""Eval options and hooks held to 0.48.1's behaviour (found by running the same scripts under both
SDKs against the test server): a task replacing ``hooks["tags"]``, a scorer returning no scores,
an evaluator naming its project by id, and what ``stream`` receives."""

from __future__ import annotations

from braintrust import Eval
from braintrust.framework import BaseExperiment
from eval_support import stored_rows, trace_of


def test_tags_the_task_assigns_through_the_hooks_dict_are_the_cases_tags():
    """0.48.1 reads ``hooks.tags`` after the task: ``hooks["tags"] = [...]`` replaces the case's tags
    (they were ignored: the result and the row kept the case's own)."""

    def task(input, hooks):
        hooks["tags"] = ["replaced", input]
        return input

    def failing(input, hooks):
        hooks["tags"] = ["before-failing"]
        raise ValueError("no")

    result = Eval("qa2-hook-tags", data=[{"input": "a", "tags": ["orig"]}], task=task, scores=[lambda output: 1])
    assert result.results[0].tags == ["replaced", "a"]
    root, _ = trace_of(stored_rows(result), "a")
    assert root["tags"] == ["orig", "replaced", "a"]  # (logged tags are merged into the root's, as in Braintrust)

    result = Eval("qa2-hook-tags", data=[{"input": "b"}], task=failing, scores=[lambda output: 1])
    assert result.results[0].tags == ["before-failing"]
    root, _ = trace_of(stored_rows(result), "b")
    assert root["tags"] == ["before-failing"]


def test_a_scorer_returning_no_scores_logs_no_metadata_on_its_span():
    def nothing(output):
        return []

    result = Eval("qa2-empty-scores", data=[{"input": "a"}], task=lambda input: input, scores=[nothing])
    assert result.results[0].scores == {}
    _, spans = trace_of(stored_rows(result), "a")
    span = spans["nothing"]
    assert span["scores"] == {} and span["output"] == {}
    assert span.get("metadata") is None  # 0.48.1 logs none ({} was logged)


def test_stream_gets_no_event_the_task_did_not_report():
    events = []
    Eval("qa2-stream", data=[{"input": 1}, {"input": 2}], task=lambda input: input, scores=[lambda output: 1],
         stream=events.append)
    assert events == []  # (each case's output was sent as a json_delta event)


def test_an_evaluator_naming_its_project_by_id_runs_in_that_project(bt_env, capsys):
    """0.48.1 looks the project up by id, whatever the evaluator's name: the running line, the
    experiment's project and a ``BaseExperiment`` read are the id's project's (a project named after
    the evaluator was created, and the base experiment looked for there)."""
    first = Eval("qa2-real-project", data=[{"input": "a", "expected": "a"}], task=lambda input: input,
                 scores=[lambda output, expected: output == expected], experiment_name="baseline")
    project_id = first.summary.project_id
    capsys.readouterr()

    second = Eval("qa2-evaluator-name", project_id=project_id, data=BaseExperiment(name="baseline"),
                  task=lambda input: input + "!", scores=[lambda output, expected: output == expected],
                  experiment_name="by-id")
    err = capsys.readouterr().err
    assert "/p/qa2-real-project/experiments/by-id" in err, err
    assert [r.input for r in second.results] == ["a"] and second.results[0].expected == "a"
    assert second.summary.project_name == "qa2-real-project"
    assert [p["name"] for p in bt_env.projects()] == ["qa2-real-project"]
