"""The numbers in local summaries and gates at their edges, against expectations computed
independently (exact fractions), and the gate messages that report them."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from fractions import Fraction

import pytest

from braintrust.gates import evaluate, parse_fraction, parse_gates, verdict
from braintrust.local_compare import compare_experiments
from braintrust.summary import ExperimentSummary, MetricSummary, ScoreSummary


def root(trace_id, input, scores=None, metadata=None, name="eval"):
    row = {"id": f"{trace_id}-r", "root_span_id": trace_id, "span_id": f"{trace_id}-r", "span_parents": None,
           "input": input, "scores": scores or {}, "metrics": {"start": 0.0, "end": 1.0},
           "span_attributes": {"name": name, "type": "eval"}}
    if metadata is not None:
        row["metadata"] = metadata
    return row


def score_span(trace_id, n, scores):
    return {"id": f"{trace_id}-s{n}", "root_span_id": trace_id, "span_id": f"{trace_id}-s{n}",
            "span_parents": [f"{trace_id}-r"], "scores": scores, "span_attributes": {"name": f"scorer{n}", "type": "score"}}


def exact_mean(values):
    """The mean on paper: of the decimals written (0.1 is one tenth), exactly."""
    return sum(v if isinstance(v, Fraction) else Fraction(str(v)) for v in values) / len(values)


def summary(scores, metrics=None):
    return ExperimentSummary("p", None, None, "e", None, None, None, scores=scores, metrics=metrics or {})


# --- scores per trace, then over traces ---------------------------------------------------


def test_scores_are_averaged_per_trace_then_over_the_traces_that_have_them():
    rows = [
        root("t1", "a", {"acc": 1}), score_span("t1", 1, {"acc": 0}), score_span("t1", 2, {"acc": 0.5, "tone": 0.2}),
        root("t2", "b", {"acc": None}), score_span("t2", 1, {"acc": 0.25}),
        root("t3", "c", {"acc": None}),  # (no value: not in the mean)
    ]
    base = [root("b1", "a", {"acc": 1, "gone": 1})]
    scores, _, _ = compare_experiments(rows, base)
    per_trace = [exact_mean([1, 0, 0.5]), exact_mean([0.25])]
    assert scores["acc"].score == pytest.approx(float(exact_mean(per_trace)), abs=1e-15)
    assert scores["tone"].score == 0.2  # only one trace has it
    assert "gone" not in scores  # a score only the base logged is not this run's
    # ("a" in both: 0.5 against 1)
    assert scores["acc"].diff == pytest.approx(float(exact_mean([exact_mean([1, 0, 0.5])]) - 1), abs=1e-15)
    assert scores["tone"].diff is None  # the base never logged it


def test_trials_are_compared_with_a_single_trial_base_as_one_case():
    def trial(trace_id, k, value):
        metadata = {"pytest": {"nodeid": f"test_t.py::test_x[trial-{k}]", "case": "test_t.py::test_x", "trial_index": k - 1}}
        return root(trace_id, None, {"acc": value}, metadata, name=f"test_x[trial-{k}]")

    base = [root("b1", None, {"acc": 1.0}, {"pytest": {"nodeid": "test_t.py::test_x"}}, name="test_x")]
    current = [trial("c1", 1, 0.0), trial("c2", 2, 1.0), trial("c3", 3, 1.0)]
    scores, _, coverage = compare_experiments(current, base)
    acc = scores["acc"]
    assert coverage is None  # the same case on both sides
    assert acc.score == float(exact_mean([0, 1, 1]))
    assert (acc.improvements, acc.regressions) == (0, 1)
    assert acc.diff == pytest.approx(float(exact_mean([0, 1, 1]) - 1), abs=1e-15)
    assert acc.regressed_cases == ["test_x"]


# --- floating error is no change ----------------------------------------------------------


@pytest.mark.parametrize(
    "current, base",
    [
        ({"a": [0.1, 0.2], "b": [0.0]}, {"a": [0.15], "b": [0.0]}),  # a trace's mean of 0.1 and 0.2 against 0.15
        ({"a": [0.1], "b": [0.2]}, {"a": [0.3], "b": [0.0]}),  # 0.1 + 0.2 against 0.3 + 0.0
        ({"a": [0.3], "b": [0.0]}, {"a": [0.1], "b": [0.2]}),  # the other way round
    ],
)
def test_means_equal_but_for_rounding_have_no_diff(current, base):
    def rows(prefix, values_by_input):
        found = []
        for input, values in values_by_input.items():
            trace_id = f"{prefix}-{input}"
            found.append(root(trace_id, input, {"acc": values[0]}))
            found += [score_span(trace_id, n, {"acc": v}) for n, v in enumerate(values[1:], 1)]
        return found

    exact = exact_mean([exact_mean(v) for v in current.values()])
    exact_base = exact_mean([exact_mean(v) for v in base.values()])
    assert exact == exact_base  # (on paper, nothing changed overall)

    scores, _, _ = compare_experiments(rows("c", current), rows("b", base))
    acc = scores["acc"]
    assert acc.diff == 0
    line = str(summary({"acc": acc}))
    assert "(-) 'acc' score" in line, line


CURRENT_AND_BASE = """
import braintrust

def log(name, values):
    experiment = braintrust.init(project="qa7-math", experiment=name)
    for input, value in values:
        experiment.log(input=input, output=input, scores={"acc": value})
    experiment.flush()

log("base", [("a", 0.1), ("b", 0.2)])
log("current", [("a", 0.3), ("b", 0.0)])
"""


def test_braintrust_gate_reads_a_rounding_difference_as_no_change(tmp_path):
    # 0.3 + 0.0 is a hair below 0.1 + 0.2 in floating point: not a drop of "0.00%"
    env = {**_clean_env(), "BRAINTRUST_LOCAL_DIR": str(tmp_path / "store")}
    made = subprocess.run([sys.executable, "-c", textwrap.dedent(CURRENT_AND_BASE)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    gate = subprocess.run([sys.executable, "-m", "braintrust", "gate", "qa7-math", "current", "--base", "base",
                           "--max-regression", "acc=0"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert "15.00% (-) 'acc' score\t(1 improvements, 1 regressions)" in gate.stdout, gate.stdout
    assert "gate PASSED: score 'acc' changed by 0.00% against the baseline, within the allowed 0.00%" in gate.stdout


def _clean_env():
    import os

    drop = ("BRAINTRUST_API_KEY", "BRAINTRUST_APP_URL", "BRAINTRUST_API_URL", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS")
    return {k: v for k, v in os.environ.items() if k not in drop}


# --- gates ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["70%", "70.0%", "0.7", " 0.70 ", "7e-1"])
def test_a_bar_means_the_same_however_it_is_written(text):
    assert parse_fraction(text, "--braintrust-fail-under") == 0.7


def test_a_bar_of_minus_zero_is_zero():
    for text in ("-0", "-0%", "-0.0%"):
        value = parse_fraction(text, "--braintrust-max-regression")
        assert value == 0 and math.copysign(1.0, value) == 1.0, text
    scores = {"acc": ScoreSummary("acc", score=0.5, improvements=0, regressions=0, diff=-0.25)}
    (result,) = evaluate((), parse_gates("acc=-0%", "--braintrust-max-regression"), [summary(scores)])
    assert "the allowed 0.00%" in result.message and "-0.00%" not in result.message


@pytest.mark.parametrize("text", ["101%", "1.5", "-5%", "-0.01", "nan", "inf"])
def test_a_bar_outside_zero_to_one_is_refused_naming_it(text):
    with pytest.raises(ValueError, match=r"--braintrust-max-regression: .* is outside 0\.\.1"):
        parse_gates(f"acc={text}", "--braintrust-max-regression")


def test_a_mean_equal_to_its_bar_but_for_rounding_meets_it():
    rows = [root(f"t{i}", i, {"acc": 0.7}) for i in range(3)]
    scores, _, _ = compare_experiments(rows, None)
    assert exact_mean([0.7] * 3) == Fraction("0.7")  # (on paper, exactly the bar)
    assert scores["acc"].score < 0.7  # (in floating point, a hair below)
    for text in ("70%", "70.0%", "0.7"):
        (result,) = evaluate(parse_gates(f"acc={text}", "--braintrust-fail-under"), (), [summary(scores)])
        assert result.passed, result.message
        assert result.message == "score 'acc' is 70.00%, which meets the bar of 70.00%"


def test_a_regression_just_past_its_allowance_is_shown_with_the_decimals_that_tell_them_apart():
    scores = {"acc": ScoreSummary("acc", score=0.5, improvements=0, regressions=1, diff=-0.05000001)}
    (result,) = evaluate((), parse_gates("acc=5%", "--braintrust-max-regression"), [summary(scores)])
    assert not result.passed
    assert result.message == "score 'acc' dropped 5.000001% against the baseline, more than the allowed 5.000000%"
    # within the tolerance it meets the allowance, shown as equal
    scores["acc"].diff = -0.05 - 1e-12
    (result,) = evaluate((), parse_gates("acc=5%", "--braintrust-max-regression"), [summary(scores)])
    assert result.passed and result.message == "score 'acc' dropped 5.00% against the baseline, within the allowed 5.00%"


def test_regression_gates_without_a_baseline_or_without_the_score_in_it_are_skipped():
    base = [root("b1", "a", {"other": 1.0})]
    current = [root("c1", "a", {"acc": 0.5, "other": 1.0})]
    for base_rows in (None, base):
        scores, metrics, coverage = compare_experiments(current, base_rows)
        found = summary(scores, metrics)
        found.case_coverage = coverage
        (result,) = evaluate((), parse_gates("acc=5%", "--braintrust-max-regression"), [found])
        assert verdict(result) == "SKIPPED", result.message
        assert "no baseline to compare with" in result.message


def test_a_gate_naming_a_metric_says_it_is_a_metric():
    rows = [root("t1", "a", {"acc": 1.0})]
    scores, metrics, _ = compare_experiments(rows, None)
    assert "duration" in metrics
    found = summary(scores, metrics)
    for option in ("--braintrust-fail-under", "--braintrust-max-regression"):
        fail_under = parse_gates("duration=0.5", option) if option.endswith("under") else ()
        max_regression = () if fail_under else parse_gates("duration=0.5", option)
        (result,) = evaluate(fail_under, max_regression, [found])
        assert not result.passed
        assert result.message.startswith(f"{option}: 'duration' is a metric, not a score"), result.message
    # a name that is neither still says no such score was logged
    (result,) = evaluate(parse_gates("acx=0.5", "--braintrust-fail-under"), (), [found])
    assert result.message == "--braintrust-fail-under: no score named 'acx' was logged in this run"


def test_printed_percentages_round_as_the_public_sdk_prints_them():
    # 0.48.1: f"{score * 100:05.2f}%", "+"/"-" and abs(diff) the same way; a diff of 0 is "(-)"
    cases = [(0.99995, None, "100.00% 'acc' score"), (0.05, None, "05.00% 'acc' score"),
             (0.5, -0.00004, "50.00% (-00.00%) 'acc' score\t(0 improvements, 0 regressions)"),
             (0.5, 0.0, "50.00% (-) 'acc' score\t(0 improvements, 0 regressions)")]
    for value, diff, expected in cases:
        score = ScoreSummary("acc", score=value, improvements=0, regressions=0, diff=diff)
        assert str(summary({"acc": score})).splitlines()[2] == expected
    metric = MetricSummary("duration", metric=1.005, unit="s", improvements=0, regressions=0)
    assert str(metric) == f"{1.005:.2f}s duration"
