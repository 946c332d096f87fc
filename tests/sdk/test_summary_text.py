"""Summary text must be exactly what the public SDK prints from the same server answer."""

from __future__ import annotations

import json

import pytest

from braintrust.summary import DatasetSummary, DataSummary, ExperimentSummary, MetricSummary, ScoreSummary
from capture_compare import CAPTURES

URL = "http://127.0.0.1:PORT/app/recorder-org/p/recorder-experiments"


def summarize_answers(name: str) -> list[dict]:
    answers = []
    for line in (CAPTURES / f"{name}.jsonl").read_text().splitlines():
        request = json.loads(line)
        if request["path"].endswith("/summarize") and "/experiment/" in request["path"]:
            answers.append(request["response"])
    return answers


def printed_summaries(name: str) -> list[str]:
    text = (CAPTURES / f"{name}.out.txt").read_text()
    blocks = text.split("\n=========================SUMMARY=========================\n")[1:]
    return ["\n=========================SUMMARY=========================\n" + b.split("\nas_dict:")[0].rstrip("\n") for b in blocks]


def test_experiment_summaries_print_exactly_like_the_public_sdk():
    answers = summarize_answers("experiment")
    expected = printed_summaries("experiment")
    assert len(answers) == len(expected) == 2
    for answer, text in zip(answers, expected):
        name = answer["experiment_name"]
        summary = ExperimentSummary.from_api(answer, project_id="p", experiment_id="e", project_url=URL, experiment_url=f"{URL}/experiments/{name}")
        assert str(summary) == text


def test_as_dict_has_the_public_sdk_shape():
    answer = summarize_answers("experiment")[1]
    summary = ExperimentSummary.from_api(answer, project_id="p", experiment_id="e", project_url=URL, experiment_url=URL + "/experiments/candidate")
    data = summary.as_dict()
    assert data["comparison_experiment_name"] == "baseline"
    assert data["scores"]["exact"] == {
        "name": "exact", "_longest_score_name": 6, "score": 0.6666666666666666, "improvements": 1, "regressions": 1, "diff": 0.0,
    }
    assert data["comparison"]["status"] == "success"
    assert data["metrics"]["prompt_tokens"]["_longest_metric_name"] == 13


def test_unknown_keys_in_a_server_answer_are_ignored():
    score = ScoreSummary.from_api({"name": "x", "score": 0.5, "improvements": 0, "regressions": 0, "new_field": 1})
    metric = MetricSummary.from_api({"name": "m", "metric": 2, "unit": "s", "future": True})
    assert str(score) == "50.00% 'x' score"
    assert str(metric) == "2s m"


def test_score_line_formats():
    def line(**kw):
        s = ScoreSummary(**kw)
        ExperimentSummary("p", None, None, "e", None, None, None, scores={kw["name"]: s})
        return str(s)

    assert line(name="exact", score=0.05) == "05.00% 'exact' score"
    assert line(name="a", score=0.75, improvements=2, regressions=0, diff=0.25) == "75.00% (+25.00%) 'a' score\t(2 improvements, 0 regressions)"
    assert line(name="a", score=0.5, improvements=0, regressions=1, diff=-0.1) == "50.00% (-10.00%) 'a' score\t(0 improvements, 1 regressions)"


def test_skipped_comparison_text():
    summary = ExperimentSummary("p", None, None, "e", None, "http://x/e", None, comparison_status="skipped", comparison_reason="Score summarization was disabled")
    assert str(summary) == "\n=========================SUMMARY=========================\nSummary skipped: Score summarization was disabled\n\nSee results for e at http://x/e"


def test_dataset_summary_text_matches_capture():
    text = (CAPTURES / "dataset.out.txt").read_text() if (CAPTURES / "dataset.out.txt").exists() else None
    summary = DatasetSummary(
        project_name="recorder-datasets", dataset_name="greetings",
        project_url="http://127.0.0.1:PORT/app/recorder-org/p/recorder-datasets",
        dataset_url="http://127.0.0.1:PORT/app/recorder-org/p/recorder-datasets/datasets/greetings",
        data_summary=DataSummary(new_records=3, total_records=2),
    )
    expected = (
        "\n=========================SUMMARY=========================\nTotal records: 2 (3 new or updated records)\n"
        "See results for all datasets in recorder-datasets at http://127.0.0.1:PORT/app/recorder-org/p/recorder-datasets\n"
        "See results for greetings at http://127.0.0.1:PORT/app/recorder-org/p/recorder-datasets/datasets/greetings"
    )
    assert str(summary) == expected
    if text is not None:
        assert expected in text


def _public_as_dict() -> dict:
    """What the public SDK's ``summary.as_dict()`` printed in the experiment capture."""
    import ast

    line = next(l for l in (CAPTURES / "experiment.out.txt").read_text().splitlines() if l.startswith("as_dict: "))
    return ast.literal_eval(line[len("as_dict: "):])


def test_comparison_and_the_dict_round_trip_like_the_public_sdk():
    public = _public_as_dict()
    summary = ExperimentSummary.from_dict(public)  # as code reading a stored summary does
    assert summary.comparison.status == "success" and summary.comparison.scores == public["comparison"]["scores"]
    deep = ExperimentSummary.from_dict_deep(public)
    assert isinstance(deep.comparison.scores["exact"], ScoreSummary) and deep.scores["exact"].improvements == 1
    assert deep.as_dict() == public and json.loads(deep.as_json()) == public
    assert str(deep) == printed_summaries("experiment")[1]
    skipped = ExperimentSummary("p", None, None, "e", None, None, None, comparison_status="skipped", comparison_reason="disabled")
    assert (skipped.comparison.status, skipped.comparison.reason) == ("skipped", "disabled")
    assert ExperimentSummary.from_dict(skipped.as_dict()).comparison.as_dict() == {"reason": "disabled", "status": "skipped"}


def test_the_other_public_dataclasses_serialize_as_the_public_sdks_do():
    from braintrust import EvalCase, RepoInfo, Score

    with pytest.warns(UserWarning, match="error field is deprecated"):  # (as 0.48.1 warns)
        judged = Score(name="judge", score=None, error=TimeoutError("slow"))
    assert judged.as_dict() == {"name": "judge", "score": None, "metadata": {}}
    assert Score.from_dict({"name": "s", "score": 1, "added_later": True}) == Score(name="s", score=1)
    assert EvalCase.from_dict({"input": 1, "expected": 2, "other": 3}).as_dict()["expected"] == 2
    assert json.loads(RepoInfo(commit="abc", dirty=True).as_json())["dirty"] is True
    dataset = DatasetSummary("p", "d", "u", "v", DataSummary(new_records=1, total_records=2))
    again = DatasetSummary.from_dict_deep(dataset.as_dict())
    assert again.data_summary == DataSummary(new_records=1, total_records=2) and str(again) == str(dataset)
    assert DatasetSummary.from_dict(dataset.as_dict()).data_summary == {"new_records": 1, "total_records": 2}


def test_a_summary_is_made_as_0_48_1_makes_one():
    """Its eighth argument is the comparison (a reporter building its own summary passes it)."""
    from braintrust import ScoreSummary, SummarySkipped, SummarySuccess

    score = ScoreSummary(name="s", score=0.5, diff=None, improvements=0, regressions=0)
    made = ExperimentSummary("p", None, None, "e", None, None, None, SummarySuccess(scores={"s": score}, metrics={}))
    assert made.scores == {"s": score} and made.comparison == SummarySuccess(scores={"s": score}, metrics={})
    skipped = ExperimentSummary("p", None, None, "e", None, None, None, SummarySkipped(reason="Score summarization was disabled"))
    assert skipped.as_dict() == {  # (0.48.1's, field for field)
        "project_name": "p", "project_id": None, "experiment_id": None, "experiment_name": "e", "project_url": None,
        "experiment_url": None, "comparison_experiment_name": None,
        "comparison": {"reason": "Score summarization was disabled", "status": "skipped"}, "scores": {}, "metrics": {}}
