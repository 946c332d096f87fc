"""``Eval`` with an API key, in process, against the loopback test server: registration bodies,
the comparison experiment passed to /summarize, BaseExperiment over the API, the printed URL."""

from __future__ import annotations

import pytest

from braintrust.framework import BaseExperiment, Eval


def upper(input):
    return input.upper()


def exact(output, expected):
    return output == expected


DATA = [{"input": "a", "expected": "A"}, {"input": "b", "expected": "B"}]


def test_eval_registers_runs_and_summarizes_over_the_api(bt_logs, capsys):
    server = bt_logs.server
    result = Eval("api-eval", data=DATA, task=upper, scores=[exact], experiment_name="first", metadata={"m": 1}, tags=["t"])
    captured = capsys.readouterr()
    assert f"Experiment first is running at {server.url}/app/test-org/p/api-eval/experiments/first" in captured.err
    assert f"See results for first at {server.url}/app/test-org/p/api-eval/experiments/first" in captured.out
    body = server.requests_to("/v1/experiment", "POST")[0].json
    assert body["name"] == "first" and body["ensure_new"] is True and body["public"] is False
    assert body["metadata"] == {"m": 1} and body["tags"] == ["t"]
    rows = server.rows("experiment", result.summary.experiment_id)
    assert sorted(r["span_attributes"]["name"] for r in rows) == ["eval", "eval", "exact", "exact", "task", "task"]
    assert result.summary.scores["exact"].score == 1.0


def test_base_experiment_name_becomes_base_exp_id_and_the_comparison(bt_logs):
    server = bt_logs.server
    first = Eval("api-eval", data=DATA, task=upper, scores=[exact], experiment_name="first")
    Eval("api-eval", data=DATA, task=lambda x: x, scores=[exact], experiment_name="second")
    third = Eval("api-eval", data=DATA, task=upper, scores=[exact], experiment_name="third", base_experiment_name="first")
    body = server.requests_to("/v1/experiment", "POST")[-1].json
    assert body["base_exp_id"] == first.summary.experiment_id
    summarize = [r for r in server.requests_to("/v1/experiment/*", "GET") if r.path.endswith("/summarize")][-1]
    assert summarize.query == {"summarize_scores": "true", "comparison_experiment_id": first.summary.experiment_id}
    assert third.summary.comparison_experiment_name == "first"


def test_base_experiment_data_over_the_api(bt_logs):
    server = bt_logs.server
    Eval("api-rerun", data=DATA, task=upper, scores=[exact], experiment_name="source")
    again = Eval("api-rerun", data=BaseExperiment(), task=upper, scores=[exact], experiment_name="rerun")
    assert sorted((r.input, r.expected, r.output) for r in again.results) == [("a", "A", "A"), ("b", "B", "B")]
    paths = [(r.method, r.path) for r in server.requests]
    assert ("POST", "/api/base_experiment/get_id") in paths
    assert any(method == "POST" and path.endswith("/fetch") and "/v1/experiment/" in path for method, path in paths)


def test_data_that_cannot_be_read_leaves_no_empty_experiment(bt_logs):
    """The cases are read before the experiment is created: an Eval refused for its data (or
    whose data function raises) leaves nothing that would become the next run's baseline."""
    server = bt_logs.server

    def broken_data():
        raise RuntimeError("the dataset file is missing")

    with pytest.raises(TypeError, match="data must be a list"):
        Eval("api-broken", data=None, task=upper, scores=[exact])
    with pytest.raises(RuntimeError, match="dataset file is missing"):
        Eval("api-broken", data=broken_data, task=upper, scores=[exact])
    assert server.requests_to("/v1/experiment", "POST") == []
    Eval("api-broken", data=DATA, task=upper, scores=[exact], experiment_name="good")
    assert [e["name"] for e in server.experiments()] == ["good"]
