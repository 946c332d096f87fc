"""Local summaries: the comparison math against hand-computed expectations."""

from __future__ import annotations

from braintrust.local_compare import compare_experiments
from braintrust.summary import ExperimentSummary


def trace(trace_id, input, scores=None, start=0.0, end=1.0, child_scores=None, tokens=None):
    """A root row (and optionally one score span) of one trace."""
    rows = [{"id": f"{trace_id}-root", "root_span_id": trace_id, "span_id": f"{trace_id}-r", "span_parents": None,
             "input": input, "scores": scores or {}, "metrics": {"start": start, "end": end}}]
    if child_scores:
        rows.append({"id": f"{trace_id}-score", "root_span_id": trace_id, "span_id": f"{trace_id}-s",
                     "span_parents": [f"{trace_id}-r"], "scores": child_scores, "metrics": {"start": start, "end": end}})
    if tokens:
        rows.append({"id": f"{trace_id}-llm", "root_span_id": trace_id, "span_id": f"{trace_id}-l",
                     "span_parents": [f"{trace_id}-r"], "metrics": {"prompt_tokens": tokens, "start": start, "end": end}})
    return rows


def test_without_a_base_only_means_are_reported():
    rows = trace("t1", "a", {"exact": 1}) + trace("t2", "b", {"exact": 0}) + trace("t3", "c", {"exact": 1, "other": None})
    scores, metrics, _ = compare_experiments(rows, None)
    assert scores["exact"].score == 2 / 3
    assert scores["exact"].diff is None and scores["exact"].improvements == 0
    assert "other" not in scores or scores["other"].score is None
    assert metrics["duration"].metric == 1.0 and metrics["duration"].unit == "s"


def test_improvements_regressions_and_diff_match_hand_computation():
    # Base: a=1, b=1, c=0 -> mean 2/3.  Current: a=0, b=1, c=1 -> mean 2/3.
    # Per input: a regressed, c improved, b unchanged -> 1 improvement, 1 regression, diff 0.
    base = trace("b1", "a", {"exact": 1}, 0, 2) + trace("b2", "b", {"exact": 1}, 0, 2) + trace("b3", "c", {"exact": 0}, 0, 2)
    cur = trace("c1", "a", {"exact": 0}, 0, 1) + trace("c2", "b", {"exact": 1}, 0, 3) + trace("c3", "c", {"exact": 1}, 0, 1)
    scores, metrics, _ = compare_experiments(cur, base)
    exact = scores["exact"]
    assert (exact.score, exact.improvements, exact.regressions, exact.diff) == (2 / 3, 1, 1, 0.0)
    # Durations: base 2,2,2 (mean 2); current 1,3,1 (mean 5/3). Lower is better: a, c improved; b regressed.
    duration = metrics["duration"]
    assert (duration.improvements, duration.regressions) == (2, 1)
    assert abs(duration.diff - (5 / 3 - 2)) < 1e-12


def test_scores_on_score_spans_and_repeated_inputs_are_averaged():
    # Eval puts scores on score spans. Input "q" appears twice (trials): group mean is compared.
    base = trace("b1", "q", child_scores={"s": 0.5}) + trace("b2", "q", child_scores={"s": 0.5})
    cur = trace("c1", "q", child_scores={"s": 1.0}) + trace("c2", "q", child_scores={"s": 0.0}) + trace("c3", "new", child_scores={"s": 1.0})
    scores, _, coverage = compare_experiments(cur, base)
    s = scores["s"]
    assert s.score == 2 / 3
    # "new" has no base: the diff is over "q" alone (mean 0.5 vs 0.5), and says so
    assert s.diff == 0.0 and coverage is not None and (coverage.common, coverage.current, coverage.base) == (1, 2, 1)
    # group "q": 0.5 vs 0.5 -> unchanged; "new" has no base -> not counted
    assert (s.improvements, s.regressions) == (0, 0)


def test_a_subset_rerun_is_compared_on_the_inputs_both_ran():
    # A ``-k``/``--lf`` rerun of the two cases that passed: compared with all four cases of the
    # base, the mean would "improve" by 50 points although no case changed.
    base = (trace("b1", "a", {"exact": 1}, 0, 1) + trace("b2", "b", {"exact": 1}, 0, 1)
            + trace("b3", "c", {"exact": 0}, 0, 3) + trace("b4", "d", {"exact": 0}, 0, 3))
    cur = trace("c1", "a", {"exact": 1}, 0, 1) + trace("c2", "b", {"exact": 0.5}, 0, 1)
    scores, metrics, coverage = compare_experiments(cur, base)
    exact = scores["exact"]
    assert exact.score == 0.75  # this run's own mean, over all its cases
    assert (exact.diff, exact.improvements, exact.regressions) == (-0.25, 0, 1)
    assert metrics["duration"].diff == 0.0  # 1 s vs 1 s on a and b (the base's mean over all is 2 s)
    summary = ExperimentSummary("p", None, None, "run-2", None, None, "run-1", scores=scores, metrics=metrics, case_coverage=coverage)
    lines = str(summary).splitlines()
    assert lines[2:5] == [
        "run-2 compared to run-1:",
        "diffs over the 2 inputs in both (this run has 2, run-1 has 4)",
        "75.00% (-25.00%) 'exact' score\t(0 improvements, 1 regressions)",
    ]
    # the other way round (the next full run, against the subset run): the same two inputs
    scores, _, coverage = compare_experiments(base, cur)
    assert scores["exact"].diff == 0.25 and (coverage.common, coverage.current, coverage.base) == (2, 4, 2)


def test_no_input_in_common_means_nothing_to_compare():
    base = trace("b1", "a", {"exact": 1})
    cur = trace("c1", "z", {"exact": 0})
    scores, metrics, coverage = compare_experiments(cur, base)
    assert scores["exact"].diff is None and (scores["exact"].improvements, scores["exact"].regressions) == (0, 0)
    assert metrics["duration"].diff is None
    summary = ExperimentSummary("p", None, None, "run-2", None, None, "run-1", scores=scores, case_coverage=coverage)
    assert "no input in both: nothing to compare (this run has 1, run-1 has 1)" in str(summary)
    assert "(-)" not in str(summary)  # no diff is shown, not a zero one


def test_the_same_inputs_need_no_coverage_note():
    base = trace("b1", "a", {"exact": 1}) + trace("b2", "b", {"exact": 0})
    cur = trace("c2", "b", {"exact": 1}) + trace("c1", "a", {"exact": 1})
    assert compare_experiments(cur, base).coverage is None


def test_a_score_missing_from_the_base_has_no_diff():
    base = trace("b1", "a", {"exact": 1})
    cur = trace("c1", "a", {"exact": 1, "len_ok": 1})
    scores, _, _ = compare_experiments(cur, base)
    assert scores["len_ok"].diff is None and scores["exact"].diff == 0.0


def test_token_metrics_are_summed_per_trace_and_lower_is_better():
    base = trace("b1", "a", {"x": 1}, tokens=10) + trace("b2", "b", {"x": 1}, tokens=10)
    cur = trace("c1", "a", {"x": 1}, tokens=5) + trace("c2", "b", {"x": 1}, tokens=20)
    _, metrics, _ = compare_experiments(cur, base)
    tokens = metrics["prompt_tokens"]
    assert tokens.unit == "tok" and tokens.metric == 12.5 and tokens.diff == 2.5
    assert (tokens.improvements, tokens.regressions) == (1, 1)
    assert "estimated_cost" not in metrics  # cost appears only when logged


def test_printed_local_comparison():
    base = trace("b1", "a", {"exact": 1}, 0, 1) + trace("b2", "b", {"exact": 0}, 0, 1)
    cur = trace("c1", "a", {"exact": 1}, 0, 1) + trace("c2", "b", {"exact": 1}, 0, 1)
    scores, metrics, _ = compare_experiments(cur, base)
    summary = ExperimentSummary("p", None, None, "run-2", None, None, "run-1", scores=scores, metrics=metrics, local_hint="See results for run-2 in the local store")
    assert str(summary).splitlines()[2:4] == ["run-2 compared to run-1:", "100.00% (+50.00%) 'exact' score\t(1 improvements, 0 regressions)"]


def test_regressed_cases_are_named_by_their_root_span_and_kept_out_of_the_public_summary():
    def named(rows, name):
        rows[0]["span_attributes"] = {"name": name, "type": "eval"}
        return rows

    base = (named(trace("b1", "a", {"exact": 1}), "test_a") + named(trace("b2", "b", {"exact": 1}), "test_b")
            + trace("b3", "c", {"exact": 1}))
    cur = (named(trace("c1", "a", {"exact": 0}), "test_a") + named(trace("c2", "b", {"exact": 1}), "test_b")
           + trace("c3", "c", {"exact": 0}))
    scores, _, _ = compare_experiments(cur, base)
    assert scores["exact"].regressions == 2
    assert scores["exact"].regressed_cases == ["test_a", 'input "c"']  # an unnamed trace: by its input
    summary = ExperimentSummary("p", None, None, "e", None, None, "base", scores=scores)
    assert "test_a" not in str(summary) and "regressed_cases" not in summary.as_dict()["scores"]["exact"]
    from braintrust.summary import regression_lines

    assert regression_lines(summary) == ["'exact' regressed in 2 cases: test_a, input \"c\""]
    assert compare_experiments(cur, None)[0]["exact"].regressed_cases is None  # nothing to regress from


def test_improved_cases_are_named_too():
    def named(rows, name):
        rows[0]["span_attributes"] = {"name": name, "type": "eval"}
        return rows

    base = named(trace("b1", "a", {"exact": 0}), "test_a") + named(trace("b2", "b", {"exact": 1}), "test_b")
    cur = named(trace("c1", "a", {"exact": 1}), "test_a") + named(trace("c2", "b", {"exact": 0}), "test_b")
    scores, _, _ = compare_experiments(cur, base)
    assert (scores["exact"].improved_cases, scores["exact"].regressed_cases) == (["test_a"], ["test_b"])
    from braintrust.summary import improvement_lines

    summary = ExperimentSummary("p", None, None, "e", None, None, "base", scores=scores)
    assert improvement_lines(summary) == ["'exact' improved in 1 case: test_a"]


def test_traces_without_input_are_told_apart_by_name():
    """``@pytest.mark.braintrust`` tests that declare no input log none: grouped as one null
    input, one failing test would make every such test "regress"."""
    def named(rows, name):
        rows[0]["span_attributes"] = {"name": name, "type": "eval"}
        return rows

    base = [row for n in "abc" for row in named(trace(f"b{n}", None, {"pass": 1}), f"test_{n}")]
    cur = [row for n in "abc" for row in named(trace(f"c{n}", None, {"pass": 0 if n == "b" else 1}), f"test_{n}")]
    scores, _, coverage = compare_experiments(cur, base)
    assert (scores["pass"].regressions, scores["pass"].regressed_cases) == (1, ["test_b"])
    assert coverage is None  # the same three cases ran
    # A test that is new (or renamed) has no baseline, like a new input.
    renamed = named(trace("cz", None, {"pass": 0}), "test_z")
    scores, _, coverage = compare_experiments(cur[:1] + renamed, base)
    assert scores["pass"].regressions == 0 and (coverage.common, coverage.current, coverage.base) == (1, 2, 3)


def test_trials_without_input_are_one_case():
    """``@eval_case(trials=3)`` with no input: the trials ``test_x[trial-N]`` are one case
    (``metadata.pytest.case``), compared by their mean, not copy by copy."""
    def trial(trace_id, n, passed):
        rows = trace(trace_id, None, {"pass": passed})
        rows[0]["span_attributes"] = {"name": f"test_x[trial-{n}]", "type": "eval"}
        rows[0]["metadata"] = {"pytest": {"trial_index": n - 1, "case": "test_x"}}
        return rows

    base = trial("b1", 1, 1) + trial("b2", 2, 0)
    cur = trial("c1", 1, 0) + trial("c2", 2, 1)  # the other trial failed this time: the same 50%
    scores, _, coverage = compare_experiments(cur, base)
    assert (scores["pass"].diff, scores["pass"].improvements, scores["pass"].regressions) == (0.0, 0, 0)
    assert coverage is None
    worse = trial("d1", 1, 0) + trial("d2", 2, 0)
    scores, _, _ = compare_experiments(worse, base)
    assert scores["pass"].regressions == 1 and scores["pass"].regressed_cases == ["test_x"]


def test_tests_without_input_are_told_apart_by_node_id():
    """Two input-less tests of one name in two files are two cases (``metadata.pytest.nodeid``):
    one regressing is not averaged with the other; the summary names it by its node id, since
    its name is not its own."""
    def test(trace_id, nodeid, passed):
        rows = trace(trace_id, None, {"pass": passed})
        rows[0]["span_attributes"] = {"name": nodeid.rsplit("::", 1)[-1], "type": "eval"}
        rows[0]["metadata"] = {"pytest": {"nodeid": nodeid}}
        return rows

    base = test("b1", "retrieval/test_quality.py::test_smoke", 1) + test("b2", "generation/test_quality.py::test_smoke", 1)
    cur = test("c1", "retrieval/test_quality.py::test_smoke", 1) + test("c2", "generation/test_quality.py::test_smoke", 0)
    scores, _, coverage = compare_experiments(cur, base)
    assert (scores["pass"].improvements, scores["pass"].regressions) == (0, 1) and coverage is None
    assert scores["pass"].regressed_cases == ["generation/test_quality.py::test_smoke"]
