"""Summaries with no API key: the second eval of a project is compared with the first in the
local store (hand-computed expectations), and the local ``no_send_logs`` summary."""

from __future__ import annotations

import os
import re

from braintrust.framework import Eval
from braintrust.score import Score

INPUTS = ["a", "b", "c", "d"]


def run(name, exact_by_input, length, extra=False):
    def exact(input):
        return exact_by_input[input]

    def len_score(output):
        return Score(name="len", score=length)

    scores = [exact, lambda output: {"name": "half", "score": 0.5}, len_score]
    if extra:
        scores.append(lambda output: Score(name="extra", score=1))
    return Eval("summaries", data=[{"input": i} for i in INPUTS], task=lambda x: x, scores=scores, experiment_name=name)


def test_second_run_is_compared_with_the_first(capsys):
    # baseline: exact a=1 b=0 c=1 d=0 (50%), half 50%, len 25%
    first = run("baseline", {"a": 1, "b": 0, "c": 1, "d": 0}, 0.25)
    first_out = capsys.readouterr().out
    store = os.path.join(os.environ["BRAINTRUST_LOCAL_DIR"], "braintrust.sqlite")
    assert re.fullmatch(
        r"\n=========================SUMMARY=========================\n"
        r"50\.00% 'exact' score\n50\.00% 'half'  score\n25\.00% 'len'   score\n\n"
        r"\d+\.\d\ds duration\n\n"
        rf"See results for baseline in the local store at {re.escape(store)} \(run `braintrust show summaries baseline`\)\n",
        first_out,
    ), first_out
    assert first.summary.comparison_experiment_name is None

    # candidate: exact a=1 b=1 c=0 d=0 -> still 50% (diff 0 prints "(-)"), b improved, c regressed;
    # half unchanged; len 25% -> 75% on all four inputs; extra is new (no diff).
    second = run("candidate", {"a": 1, "b": 1, "c": 0, "d": 0}, 0.75, extra=True)
    out = capsys.readouterr().out
    lines = out.split("\n")
    assert lines[:8] == [
        "",
        "=========================SUMMARY=========================",
        "candidate compared to baseline:",
        "50.00% (-) 'exact' score\t(1 improvements, 1 regressions)",
        "50.00% (-) 'half'  score\t(0 improvements, 0 regressions)",
        "75.00% (+50.00%) 'len'   score\t(4 improvements, 0 regressions)",
        "100.00% 'extra' score",
        "",
    ]
    assert re.fullmatch(r"\d+\.\d\ds \((-|[+-]\d\d\.\d\d%)\) 'duration'\t\(\d improvements, \d regressions\)", lines[8]), lines[8]
    assert lines[9:] == ["", f"See results for candidate in the local store at {store} (run `braintrust show summaries candidate`)", ""]

    scores = second.summary.scores
    assert (scores["exact"].score, scores["exact"].diff, scores["exact"].improvements, scores["exact"].regressions) == (0.5, 0, 1, 1)
    assert scores["len"].diff == 0.5 and scores["extra"].diff is None
    assert second.summary.comparison_experiment_name == "baseline"


def test_base_experiment_name_picks_the_comparison():
    run("one", {"a": 0, "b": 0, "c": 0, "d": 0}, 0)
    run("two", {"a": 1, "b": 1, "c": 1, "d": 1}, 1)
    result = Eval(
        "summaries", data=[{"input": i} for i in INPUTS], task=lambda x: x, scores=[lambda input: 1],
        experiment_name="three", base_experiment_name="one",
    )
    assert result.summary.comparison_experiment_name == "one"


def test_no_send_logs_summary_text(capsys):
    result = Eval(
        "recorder-local",
        data=[{"input": 1, "expected": 1}, {"input": 2, "expected": 3}, {"input": 3, "expected": 3}],
        task=lambda x: x,
        scores=[lambda output, expected: output == expected, lambda output: Score(name="half", score=0.5), lambda output: None],
        no_send_logs=True,
    )
    expected = "\n=========================SUMMARY=========================\n66.67% 'scorer_0' score\n50.00% 'half'     score\n\n"
    assert repr(str(result.summary)) == repr(expected)
    assert capsys.readouterr().out == expected + "\n"
    assert result.summary.as_dict() == {
        "project_name": "recorder-local", "project_id": None, "experiment_id": None, "experiment_name": "recorder-local",
        "project_url": None, "experiment_url": None, "comparison_experiment_name": None,
        "comparison": {
            "scores": {
                "scorer_0": {"name": "scorer_0", "_longest_score_name": 8, "score": 2 / 3, "improvements": 0, "regressions": 0, "diff": None},
                "half": {"name": "half", "_longest_score_name": 8, "score": 0.5, "improvements": 0, "regressions": 0, "diff": None},
            },
            "metrics": {}, "status": "success",
        },
        "scores": {
            "scorer_0": {"name": "scorer_0", "_longest_score_name": 8, "score": 2 / 3, "improvements": 0, "regressions": 0, "diff": None},
            "half": {"name": "half", "_longest_score_name": 8, "score": 0.5, "improvements": 0, "regressions": 0, "diff": None},
        },
        "metrics": {},
    }
