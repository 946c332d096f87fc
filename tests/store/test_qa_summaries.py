"""Local summaries checked against hand computations, on experiments built in a real local store
(``braintrust.init``, ``Eval``, rows written straight into the store, ``pytest --braintrust``):
which cases match, the improvement and regression counts, the diffs, the names of the cases that
changed, the baseline, and ``braintrust compare`` agreeing with the pytest summary."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import braintrust
from braintrust import Eval
from braintrust.baseline import compare_with_base, default_baseline
from braintrust.cli.compare_command import compare
from braintrust.delivery.backend import EXPERIMENT
from braintrust.local_compare import group_traces
from braintrust.store.sqlite_store import LocalStore
from braintrust.summary import regression_lines


def store() -> LocalStore:
    return LocalStore(Path(os.environ["BRAINTRUST_LOCAL_DIR"]) / "braintrust.sqlite")


def logged_run(name: str, cases: list[tuple[object, dict]], project: str = "qa"):
    """An experiment of one root row per case (``(input, scores)``), and its summary."""
    experiment = braintrust.init(project=project, experiment=name)
    for value, scores in cases:
        experiment.log(input=value, output="out", scores=scores)
    return experiment.summarize()


def test_trial_scores_in_another_order_are_no_change():
    # Three trials of one input scoring 0.1, 0.2, 0.3, then 0.3, 0.2, 0.1: the same mean (0.2),
    # so 0 improvements, 0 regressions and no diff; summed in row order the two means differed
    # by one rounding error (0.6000000000000001 vs 0.6), counted as a regression.
    logged_run("first", [("q", {"judge": 0.1}), ("q", {"judge": 0.2}), ("q", {"judge": 0.3})])
    summary = logged_run("second", [("q", {"judge": 0.3}), ("q", {"judge": 0.2}), ("q", {"judge": 0.1})])
    judge = summary.scores["judge"]
    assert (judge.improvements, judge.regressions, judge.diff, judge.regressed_cases) == (0, 0, 0.0, [])
    assert "20.00% (-) 'judge' score\t(0 improvements, 0 regressions)" in str(summary)


def test_an_integral_float_input_is_the_same_input_as_the_int():
    # JSON has one number type: {"x": 1} read back from a dataset may be {"x": 1.0}. One case,
    # which regressed (1 -> 0), not two different inputs with nothing to compare.
    logged_run("ints", [({"x": 1, "k": [2, "a"]}, {"s": 1}), (3, {"s": 1})])
    summary = logged_run("floats", [({"k": [2.0, "a"], "x": 1.0}, {"s": 0}), (3.0, {"s": 1})])
    assert summary.case_coverage is None
    s = summary.scores["s"]
    assert (s.score, s.diff, s.improvements, s.regressions) == (0.5, -0.5, 0, 1)
    # (not an integral float: a different input)
    summary = logged_run("halves", [({"k": [2.5, "a"], "x": 1}, {"s": 1}), (3, {"s": 1})])
    assert (summary.case_coverage.common, summary.case_coverage.current, summary.case_coverage.base) == (1, 2, 2)


def test_the_baseline_is_the_full_run_even_when_its_inputs_were_floats():
    ints = [{"n": n} for n in range(4)]
    logged_run("full", [({"n": float(n)}, {"s": 1}) for n in range(4)])  # (a dataset read back: floats)
    for n in range(8):
        logged_run(f"rerun-{n}", [({"n": 1}, {"s": 1})])  # -k reruns of one case: "full" is the 10th run back
    other = braintrust.init(project="another", experiment="everything")  # another project's: never a baseline
    for value in ints:
        other.log(input=value, output="out", scores={"s": 0})
    other.flush()
    with store() as local:
        empty = local.create_experiment(local.get_or_create_project("qa")["id"], "crashed")  # an empty experiment
        summary = logged_run("full-again", [(value, {"s": 1}) for value in ints])
        now = local.list_experiments(local.get_or_create_project("qa")["id"])[-1]
        assert empty["name"] == "crashed" and default_baseline(local, now["id"])["name"] == "full"
    assert summary.comparison_experiment_name == "full" and summary.case_coverage is None
    assert summary.scores["s"].diff == 0.0


def test_eval_cases_that_regressed_are_named_by_input_when_only_some_inputs_match():
    # Eval's roots are all named "eval": one matched case is not "eval", it is its input.
    def exact(output, expected):
        return 1.0 if output == expected else 0.0

    Eval("qa", data=[{"input": "a", "expected": "a"}, {"input": "b", "expected": "b"}], task=lambda x: x, scores=[exact],
         experiment_name="first")
    result = Eval("qa", data=[{"input": "a", "expected": "x"}, {"input": "café ☕", "expected": "x"}], task=lambda x: x,
                  scores=[exact], experiment_name="second")
    exact_summary = result.summary.scores["exact"]
    assert (exact_summary.regressions, exact_summary.regressed_cases) == (1, ['input "a"'])
    assert result.summary.case_coverage.common == 1
    # A non-ASCII input is cut after 40 of its characters, not of its JSON escapes; shown escaped,
    # as pytest shows test ids (a terminal may not take every character).
    Eval("qa", data=[{"input": "café ☕", "expected": "café ☕"}, {"input": "z", "expected": "z"}], task=lambda x: x,
         scores=[exact], experiment_name="third", base_experiment_name="second")
    with store() as local:
        third = local.list_experiments(local.get_or_create_project("qa")["id"])[-1]
        comparison, base = compare_with_base(local, third["id"])
    assert base["name"] == "second" and comparison.scores["exact"].improved_cases == ['input "caf\\xe9 \\u2615"']


def test_two_long_inputs_alike_at_the_start_are_two_named_cases():
    # Both regressed: two cases named, not one name twice collapsed into one.
    first, second = "How do I " + "x" * 60 + " (first)", "How do I " + "x" * 60 + " (second)"
    logged_run("before", [(first, {"s": 1}), (second, {"s": 1})])
    summary = logged_run("after", [(first, {"s": 0}), (second, {"s": 0})])
    s = summary.scores["s"]
    label = 'input "How do I ' + "x" * 30 + "..."  # (the first 40 characters of its JSON)
    assert s.regressions == 2 and s.regressed_cases == [label, label + " (2)"]
    assert regression_lines(summary) == [f"'s' regressed in 2 cases: {label}, {label} (2)"]


def test_huge_inputs_are_matched_and_their_keys_stay_small():
    # Matching keeps a key per trace of both experiments in memory: not the whole input.
    document = "lorem ipsum " * 100_000  # 1.2 MB
    cases = [({"doc": document, "q": n}, {"s": 1}) for n in range(3)]
    logged_run("big", cases)
    summary = logged_run("big-again", cases[:2] + [(cases[2][0], {"s": 0})])
    assert summary.case_coverage is None
    assert (summary.scores["s"].regressions, summary.scores["s"].regressed_cases) == (1, ['input {"doc":"lorem ipsum lorem ipsum lorem ip...'])
    with store() as local:
        now = local.list_experiments()[-1]
        keys = group_traces(local.summary_rows(EXPERIMENT, now["id"])).keys()
    assert len(keys) == 3 and max(len(key) for key in keys) < 300


def write_traces(local: LocalStore, name: str, traces: list[tuple[object, float]], roots: bool = True) -> str:
    """An experiment of traces (input, score on a scorer span), written straight into the store;
    ``roots=False``: only the scorer rows (the root rows were never written, as when a worker died)."""
    experiment = local.create_experiment(local.get_or_create_project("qa")["id"], name)
    rows = []
    for n, (value, score) in enumerate(traces):
        trace = f"{name}-{n}"
        if roots:
            rows.append({"id": trace, "span_id": trace, "root_span_id": trace, "span_parents": None, "experiment_id": experiment["id"],
                         "input": value, "span_attributes": {"name": f"case-{n}"}, "metrics": {"start": 0.0, "end": 1.0}})
        rows.append({"id": f"{trace}-score", "span_id": f"{trace}-s", "root_span_id": trace, "span_parents": [trace],
                     "experiment_id": experiment["id"], "input": {"input": value}, "span_attributes": {"name": "exact"},
                     "scores": {"exact": score}})
    local.write_rows(rows)
    return experiment["id"]


def test_traces_whose_root_row_is_missing_are_never_matched(tmp_path):
    with LocalStore(tmp_path / "braintrust.sqlite") as local:
        write_traces(local, "whole", [("a", 1), ("b", 1)])
        # The same two cases, and a trace whose root was never written: in this run's mean, but it
        # is not a third input, nor compared with anything.
        partial = write_traces(local, "partial", [("a", 1), ("b", 1)])
        local.write_rows([{"id": "lost-score", "span_id": "lost-s", "root_span_id": "lost", "span_parents": ["lost"],
                           "experiment_id": partial, "scores": {"exact": 0}}])
        comparison, base = compare_with_base(local, partial)
        exact = comparison.scores["exact"]
        assert base["name"] == "whole" and comparison.coverage is None
        assert (exact.score, exact.diff, exact.improvements, exact.regressions) == (2 / 3, 0.0, 0, 0)
        # Only child rows on both sides: no input is known, so nothing is compared (it was one
        # made-up case, "input ", that regressed).
        write_traces(local, "rootless", [("a", 1), ("b", 1)], roots=False)
        again = write_traces(local, "rootless-again", [("a", 0), ("b", 1)], roots=False)
        comparison, base = compare_with_base(local, again)
        exact = comparison.scores["exact"]
        assert base["name"] == "rootless" and (exact.score, exact.diff, exact.regressions, exact.regressed_cases) == (0.5, None, 0, [])
        assert comparison.coverage.describe("rootless") == "no input in both: nothing to compare (this run has 0, rootless has 0)"


SUITE = '''
import os
from pytest_braintrust import eval_case

JUDGE = [0.1, 0.2, 0.3] if os.environ["QA_RUN"] == "1" else [0.3, 0.2, 0.1]


def judge(output):
    return JUDGE[output]


@eval_case(input="q", scorers=[judge], trials=3)
def test_judge(braintrust_case):
    return braintrust_case.trial_index


@eval_case(input={"n": 1.0 if os.environ["QA_RUN"] == "1" else 1})
def test_number(braintrust_case):
    assert os.environ["QA_RUN"] == "1"
'''


def test_pytest_summary_and_braintrust_compare_agree(pytester, monkeypatch):
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_suite=SUITE)
    for run in ("1", "2"):
        monkeypatch.setenv("QA_RUN", run)
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--braintrust", f"--braintrust-json={pytester.path / f'run{run}.json'}")
    output = result.stdout.str()
    # judge: trials 0.3, 0.2, 0.1 against 0.1, 0.2, 0.3: the same mean. pass: test_number failed
    # (its input {"n": 1} is the {"n": 1.0} of the first run): 3/4 against 4/4.
    assert "20.00% (-) 'judge' score\t(0 improvements, 0 regressions)" in output
    assert "75.00% (-25.00%) 'pass'  score\t(0 improvements, 1 regressions)" in output
    assert "'pass' regressed in 1 case: test_number" in output and "judge' regressed" not in output
    reported = json.loads((pytester.path / "run2.json").read_text())["experiments"][0]
    out, err = io.StringIO(), io.StringIO()
    with store() as local:
        assert compare(local, None, None, None, out, err, as_json=True) == 0
    compared = json.loads(out.getvalue())
    assert compared["comparison_experiment_name"] == reported["comparison_experiment"]
    for name, score in reported["scores"].items():
        mine = compared["scores"][name]
        assert (mine["score"], mine["diff"], mine["improvements"], mine["regressions"], mine["regressed_cases"]) == (
            score["score"], score["diff"], score["improvements"], score["regressions"], score["regressed_cases"])
    assert "compared_inputs" not in compared and "compared_inputs" not in reported
