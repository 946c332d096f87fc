"""Quality gates (issue item 8): ``--braintrust-fail-under`` and ``--braintrust-max-regression``,
exit status 10 with a message naming the score, the value and the bar; ``--braintrust-gates-only``;
and two runs comparing (the second summary is against the first)."""

from __future__ import annotations

import json

import pytest

SUITE = '''
import os

import pytest
from pytest_braintrust import eval_case

FAILING = int(os.environ.get("FAILING", "0"))


def exact(output, expected):
    return 1.0 if output == expected else 0.0


@eval_case(scorers=[exact])
@pytest.mark.parametrize("n", range(4))
def test_case(braintrust_case, n):
    braintrust_case.expected = n
    braintrust_case.log_output(n if n >= FAILING else -1)
    assert n >= FAILING
'''


@pytest.fixture
def gated(bt):
    bt.pytester.makepyfile(test_suite_gates=SUITE)
    return bt


def test_fail_under(gated):
    gated.monkeypatch.setenv("FAILING", "2")  # pass = exact = 50%
    result = gated.run("--braintrust", "--braintrust-fail-under", "pass=0.8,exact=40%")
    assert result.ret == 10
    result.stdout.fnmatch_lines(
        [
            "gate FAILED: score 'pass' is 50.00%, which is below the bar of 80.00%",
            "gate PASSED: score 'exact' is 50.00%, which meets the bar of 40.00%",
            "*a quality gate failed; exit status 10*",
        ]
    )
    # Met bars: the exit status is pytest's own (1: two cases failed).
    result = gated.run("--braintrust", "--braintrust-fail-under", "pass=50%")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["gate PASSED: score 'pass' is 50.00%, which meets the bar of 50.00%"])


def test_unknown_score_fails_and_bad_values_are_usage_errors(gated):
    result = gated.run("--braintrust", "--braintrust-fail-under", "pas=0.5")
    assert result.ret == 10
    result.stdout.fnmatch_lines(["gate FAILED: --braintrust-fail-under: no score named 'pas' was logged in this run"])
    for value, message in (
        ("pass", "*should look like SCORE=VALUE*"),
        ("pass=high", "*'high' is not a number*"),
        ("pass=120%", "*outside 0..1*"),
    ):
        result = gated.run("--braintrust", "--braintrust-fail-under", value)
        assert result.ret == 4, value
        result.stderr.fnmatch_lines([message])


def test_a_repeated_gate_option_judges_every_value_and_an_empty_one_is_a_usage_error(gated):
    """Given twice, each option's gates all count (once, the last value silently replaced the
    first, so CI passed a run that failed the first bar, and a bad earlier value went unchecked);
    given empty (an unset variable), it is a usage error rather than the ini's gates or none."""
    gated.pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nbraintrust_fail_under = exact=0.1\n")
    gated.monkeypatch.setenv("FAILING", "1")
    result = gated.run("--braintrust", "--braintrust-fail-under", "exact=0.9", "--braintrust-fail-under", "pass=0.1")
    assert result.ret == 10
    result.stdout.fnmatch_lines(["gate FAILED: score 'exact' is 75.00%, which is below the bar of 90.00%"])
    result.stdout.fnmatch_lines(["gate PASSED: score 'pass' is *, which meets the bar of 10.00%"])
    result = gated.run("--braintrust", "--braintrust-fail-under", "pass=1.1", "--braintrust-fail-under", "exact=0.1")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*outside 0..1*"])
    for option in ("--braintrust-fail-under", "--braintrust-max-regression"):
        result = gated.run("--braintrust", f"{option}=")
        assert result.ret == 4, option
        result.stderr.fnmatch_lines([f"*{option}: an empty value names no gate; write SCORE=VALUE*"])


def test_gates_only(gated):
    gated.monkeypatch.setenv("FAILING", "1")
    result = gated.run("--braintrust", "--braintrust-gates-only", "--braintrust-fail-under", "pass=0.7")
    assert result.ret == 0  # a failing case only lowers the scores
    result = gated.run("--braintrust", "--braintrust-gates-only", "--braintrust-fail-under", "pass=0.9")
    assert result.ret == 10
    # An ordinary (non-case) test failing still fails the run.
    gated.pytester.makepyfile(test_suite_unit="def test_unit():\n    assert False\n")
    result = gated.run("--braintrust", "--braintrust-gates-only")
    assert result.ret == 1
    # Also when workers ran it (the controller, which decides the status, counts its report).
    result = gated.run_subprocess("--braintrust", "--braintrust-gates-only", "-n", "2")
    result.assert_outcomes(passed=3, failed=2)  # (a case, test_case[0], and the unit test)
    assert result.ret == 1


def test_ini_defaults(gated):
    gated.pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nbraintrust_fail_under = exact=0.9\n")
    gated.monkeypatch.setenv("FAILING", "1")
    result = gated.run("--braintrust")
    assert result.ret == 10
    result.stdout.fnmatch_lines(["gate FAILED: score 'exact' is 75.00%, which is below the bar of 90.00%"])
    # A mistake there names the ini key (not the option), and a bad boolean is a usage error, not a traceback.
    gated.pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nbraintrust_fail_under = exact=high\n")
    result = gated.run("--braintrust")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*braintrust_fail_under (in tox.ini): 'high' is not a number*"])
    gated.pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nbraintrust_gates_only = maybe\n")
    result = gated.run("--braintrust")
    assert result.ret == 4 and "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    # (pytest 9.2 checks ini booleans itself and says "invalid truth value 'maybe'" without the key;
    # earlier ones leave it to us: either way the message names the key)
    result.stderr.fnmatch_lines(["*braintrust_gates_only in tox.ini:*'maybe'*; write true or false.*"])


def test_max_regression_against_the_previous_run(gated):
    first = gated.run("--braintrust", "--braintrust-project", "gates", "--braintrust-max-regression", "pass=5%")
    assert first.ret == 0
    first.stdout.fnmatch_lines(["gate SKIPPED: score 'pass' has no baseline to compare with, so this gate was not checked"])
    assert "compared to" not in first.stdout.str()
    (baseline,) = gated.experiments("gates")

    gated.monkeypatch.setenv("FAILING", "1")  # pass 100% -> 75%
    second = gated.run("--braintrust", "--braintrust-project", "gates", "--braintrust-max-regression", "pass=0.3,exact=10%")
    assert second.ret == 10
    second.stdout.fnmatch_lines(
        [
            f"* compared to {baseline['name']}:",
            "75.00% (-25.00%) 'pass'  score*(0 improvements, 1 regressions)",
            "gate PASSED: score 'pass' dropped 25.00% against the baseline, within the allowed 30.00%",
            "gate FAILED: score 'exact' dropped 25.00% against the baseline, more than the allowed 10.00%",
        ]
    )
    # An explicit base experiment is compared with instead of the previous one.
    gated.monkeypatch.setenv("FAILING", "0")
    third = gated.run("--braintrust", "--braintrust-project", "gates", "--braintrust-base-experiment", baseline["name"])
    assert third.ret == 0
    third.stdout.fnmatch_lines([f"* compared to {baseline['name']}:", "100.00% (-) 'pass'  score*"])


def test_gates_judge_only_runs_where_an_eval_case_ran(gated):
    """IDEs collect with --collect-only, and -k may keep only ordinary tests: no eval case ran,
    so the gates (from the ini file, say) do not turn pytest's own status into 10."""
    gated.pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nbraintrust_fail_under = exact=0.9\n")
    gated.pytester.makepyfile(test_suite_unit="def test_unit():\n    assert True\n")
    collected = gated.run("--braintrust", "--collect-only")
    assert collected.ret == 0
    out = collected.stdout.str()
    assert "= Braintrust =" not in out and "\ngate " not in out and "\n0 eval cases" not in out
    assert not (gated.local_dir / "braintrust.sqlite").exists()  # no experiment either

    units_only = gated.run("--braintrust", "-k", "test_unit")
    assert units_only.ret == 0
    # (the eval cases were deselected: no advice on marking tests)
    units_only.stdout.fnmatch_lines(["0 eval cases", "(4 deselected tests not run)", "gates not applied: no eval case ran"])
    unmarked = gated.run("--braintrust", "test_suite_unit.py")
    unmarked.stdout.fnmatch_lines(["0 eval cases", "(a test is an eval case when marked @eval_case(...)*", "gates not applied: no eval case ran"])
    under_xdist = gated.run_subprocess("--braintrust", "-k", "test_unit", "-n", "2", "-p", "xdist")
    under_xdist.stdout.fnmatch_lines(["0 eval cases", "(4 deselected tests not run)"])
    nothing = gated.run("--braintrust", "-k", "no_such_test")
    assert nothing.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    # A marker another plugin adds with a wrong argument stops the run before any case: pytest
    # names the problem, and the section gives no advice on marking tests.
    gated.pytester.makeconftest(
        "import pytest\n"
        "def pytest_collection_modifyitems(items):\n"
        "    for item in items:\n"
        "        item.add_marker(pytest.mark.braintrust(metadata=['bad']))\n"
    )
    usage = gated.run("--braintrust", "test_suite_unit.py")
    assert usage.ret == pytest.ExitCode.USAGE_ERROR
    usage.stderr.fnmatch_lines(["*braintrust marker: metadata= must be a dict, got list*"])
    assert "0 eval cases" in usage.stdout.str() and "a test is an eval case when" not in usage.stdout.str()
    (gated.path / "conftest.py").unlink()

    gated.monkeypatch.setenv("FAILING", "1")
    assert gated.run("--braintrust").ret == 10  # with cases the gate judges as before


@pytest.mark.parametrize("option", ["--setup-only", "--setup-plan", "--fixtures", "--fixtures-per-test"])
def test_a_run_that_only_sets_up_logs_nothing_and_leaves_no_baseline(gated, option):
    """No test body runs: an experiment of 'skipped' cases with no scores would become the next
    run's baseline, so none is created, here or by the xdist controller. (Listing fixtures runs
    no test either: no "0 eval cases" section with advice on marking tests.)"""
    result = gated.run("--braintrust", option, "-v")
    assert result.ret == 0
    if option in ("--setup-only", "--setup-plan"):  # (the others print no header)
        result.stdout.fnmatch_lines([f"braintrust: {option} runs no test, so nothing is logged and no experiment is created"])
    assert "= Braintrust =" not in result.stdout.str()
    assert not (gated.local_dir / "braintrust.sqlite").exists()

    under_xdist = gated.run_subprocess("--braintrust", option, "-n", "2", "-p", "xdist")
    assert under_xdist.ret == 0, under_xdist.stdout.str()
    assert not (gated.local_dir / "braintrust.sqlite").exists()


def test_showing_the_cache_logs_nothing(gated):
    from braintrust.delivery.runtime import reset_for_tests

    reset_for_tests()
    try:  # (the other runs of these tests turn the cache plugin off)
        result = gated.pytester.runpytest("-p", "no:hypothesispytest", "--braintrust", "--cache-show")
    finally:
        reset_for_tests()
    assert result.ret == 0
    assert "= Braintrust =" not in result.stdout.str()
    assert not (gated.local_dir / "braintrust.sqlite").exists()


def test_a_run_stopped_early_by_maxfail_is_not_judged_by_the_gates(bt):
    """``-x``: the cases that ran before the stop are not the suite; pytest's 1 stands."""
    bt.pytester.makepyfile(
        test_suite_stops='''
        from pytest_braintrust import eval_case


        @eval_case(input=1)
        def test_fails_first():
            assert False


        @eval_case(input=2)
        def test_never_runs():
            pass
        ''',
    )
    result = bt.run("--braintrust", "-x", "--braintrust-fail-under", "pass=0.9")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["gates not applied: the run stopped early (stopping after 1 failures)"])
    assert "gate FAILED" not in result.stdout.str()


def test_a_case_that_stops_the_run_with_status_0_is_not_judged_by_the_gates(bt):
    """``pytest.exit(..., returncode=0)`` in a case: status 0, but the suite did not run through."""
    bt.pytester.makepyfile(
        test_suite_exits='''
        import pytest
        from pytest_braintrust import eval_case


        @eval_case(input=1)
        def test_first():
            pass


        @eval_case(input=2)
        def test_stops():
            pytest.exit("enough", returncode=0)
        ''',
    )
    result = bt.run("--braintrust", "-p", "no:randomly", "--braintrust-fail-under", "nosuch=0.9")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["gates not applied: a case stopped the run (pytest.exit)"])


def test_gates_over_several_projects_name_each_one_and_tell_close_values_apart(bt):
    bt.pytester.makepyfile(
        test_suite_projects='''
        from pytest_braintrust import eval_case


        def exact(output, expected):
            return 1.0 if output == expected else 0.0


        @eval_case(input="a", expected="A", scorers=[exact])
        def test_default():
            return "A"


        @eval_case(input="b", expected="B", scorers=[exact], project="other-proj")
        def test_other():
            return "b"
        ''',
    )
    result = bt.run("--braintrust", "--braintrust-project", "main-proj", "--braintrust-fail-under", "exact=0.9,pass=0.999999",
                    "--braintrust-json", "report.json")
    assert result.ret == 10
    result.stdout.fnmatch_lines([
        "gate PASSED: project 'main-proj' (experiment '*'): score 'exact' is 100.00%, which meets the bar of 90.00%",
        "gate FAILED: project 'other-proj' (experiment '*'): score 'exact' is 0.00%, which is below the bar of 90.00%",
        "gate PASSED: project 'main-proj' (experiment '*'): score 'pass' is 100.0000%, which meets the bar of 99.9999%",
    ])
    gates = json.loads((bt.pytester.path / "report.json").read_text())["gates"]
    assert sorted((g["project"], g["score"], g["passed"]) for g in gates) == [
        ("main-proj", "exact", True), ("main-proj", "pass", True), ("other-proj", "exact", False), ("other-proj", "pass", True)]


def test_a_file_run_alone_is_compared_with_the_last_run_of_that_file(gated):
    """One file at a time into one project (the rootdir's): the previous experiment is the other
    file's, with no case in common; the summary and the regression gate use the last run of
    this file's cases instead."""
    gated.pytester.makepyfile(test_suite_other="""
        import pytest

        @pytest.mark.braintrust
        @pytest.mark.parametrize("word", ["x", "y"])
        def test_other(word):
            pass
    """)
    gates_file = "test_suite_gates.py"
    assert gated.run("--braintrust", gates_file).ret == 0
    (first,) = gated.experiments()
    assert gated.run("--braintrust", "test_suite_other.py").ret == 0
    gated.monkeypatch.setenv("FAILING", "1")
    again = gated.run("--braintrust", gates_file, "--braintrust-max-regression", "pass=10%")
    assert again.ret == 10
    again.stdout.fnmatch_lines(
        [
            f"* compared to {first['name']}:",
            "75.00% (-25.00%) 'exact' score*(0 improvements, 1 regressions)",
            "gate FAILED: score 'pass' dropped 25.00% against the baseline, more than the allowed 10.00%",
        ]
    )
    assert "in both" not in again.stdout.str()


def test_trials_of_a_case_without_input_are_compared_as_one_case(bt):
    """``@eval_case(trials=2)`` with no input: another trial failing this time is the same case
    at the same 50%, not one improvement and one regression."""
    bt.pytester.makepyfile(test_suite_trials="""
        import os
        from pytest_braintrust import eval_case

        @eval_case(trials=2)
        def test_flaky(braintrust_trial):
            assert braintrust_trial != int(os.environ["FAILING_TRIAL"])
    """)
    bt.monkeypatch.setenv("FAILING_TRIAL", "1")
    assert bt.run("--braintrust").ret == 1
    bt.monkeypatch.setenv("FAILING_TRIAL", "2")
    again = bt.run("--braintrust")
    again.stdout.fnmatch_lines(["50.00% (-) 'pass' score*(0 improvements, 0 regressions)"])
    bt.monkeypatch.setenv("FAILING_TRIAL", "0")  # (trial numbers start at 1: none fails)
    fixed = bt.run("--braintrust")
    fixed.stdout.fnmatch_lines(["100.00% (+50.00%) 'pass' score*(1 improvements, 0 regressions)",
                                "'pass' improved in 1 case: test_flaky"])


def test_a_subset_rerun_is_compared_and_gated_on_the_cases_both_ran(gated):
    """``-k``/``--lf`` reruns: comparing 2 failing cases with all 4 of the last run would show a
    50-point drop and fail the regression gate, though no case changed. The full run after the
    rerun is compared with the last full run, not with the subset (``braintrust.baseline``)."""
    gated.monkeypatch.setenv("FAILING", "2")  # n=0,1 fail; n=2,3 pass: pass 50%
    assert gated.run("--braintrust", "--braintrust-project", "gates").ret == 1
    (full,) = gated.experiments("gates")

    step = gated.pytester.path / "step.md"
    gated.monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    rerun = gated.run("--braintrust", "--braintrust-project", "gates", "-k", "0 or 1", "--braintrust-max-regression", "pass=10%")
    gated.monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert rerun.ret == 1  # the two cases still fail; the gate passes
    assert f"diffs over the 2 inputs in both (this run has 2, {full['name']} has 4)" in step.read_text()
    assert "selected part of the suite" not in rerun.stdout.str()  # (the note is for Braintrust's comparisons)
    rerun.stdout.fnmatch_lines(
        [
            f"* compared to {full['name']}:",
            f"diffs over the 2 inputs in both (this run has 2, {full['name']} has 4)",
            "00.00% (-) 'pass'  score*(0 improvements, 0 regressions)",
            "gate PASSED: score 'pass' changed by 0.00% against the baseline on the 2 inputs both ran, within the allowed 10.00%",
        ]
    )
    subset = gated.experiments("gates")[-1]
    assert subset["name"] != full["name"]

    # Fixed: the next full run is compared with the last run of every case, not with the subset.
    gated.monkeypatch.setenv("FAILING", "0")
    gated.monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    fixed = gated.run("--braintrust", "--braintrust-project", "gates", "--braintrust-json", "report.json")
    assert fixed.ret == 0
    fixed.stdout.fnmatch_lines([f"* compared to {full['name']}:", "100.00% (+50.00%) 'pass'  score*(2 improvements, 0 regressions)"])
    assert "inputs in both" not in fixed.stdout.str()
    fixed.stdout.fnmatch_lines(["'pass' improved in 2 cases: test_case[[]0[]], test_case[[]1[]]"])  # the cases that were fixed
    assert "- ✅ 'pass' improved in 2 cases: test_case[0], test_case[1]" in step.read_text()
    import json

    (entry,) = json.loads((gated.pytester.path / "report.json").read_text())["experiments"]
    assert entry["comparison_experiment"] == full["name"]
    assert entry.get("compared_inputs") is None
    assert entry["scores"]["pass"]["improved_cases"] == ["test_case[0]", "test_case[1]"]
    assert entry["scores"]["pass"]["regressed_cases"] == []


def test_a_last_failed_rerun_is_not_held_to_the_bars_on_averages(gated):
    """``--lf`` reruns the failing cases alone: their averages (0% here) are not the suite's, so
    ``--braintrust-fail-under`` is not applied (the summary says so) while the regression gate,
    which compares only the inputs both runs had, still is; the next full run is judged again."""
    from braintrust.delivery.runtime import reset_for_tests

    def run(*args: str):
        reset_for_tests()
        try:  # (with the cache plugin, which the other runs of these tests turn off)
            return gated.pytester.runpytest("-p", "no:hypothesispytest", "-p", "no:benchmark", "--braintrust",
                                            "--braintrust-project", "lf", "--braintrust-fail-under", "pass=0.8",
                                            "--braintrust-max-regression", "pass=10%", *args)
        finally:
            reset_for_tests()

    gated.monkeypatch.setenv("FAILING", "2")  # n=0,1 fail: pass 50%
    assert run().ret == 10
    rerun = run("--lf")
    assert rerun.ret == 1  # pytest's own: the two cases still fail
    rerun.stdout.fnmatch_lines([
        "*2 eval cases: 2 failed*",
        "gate PASSED: score 'pass' changed by 0.00% against the baseline on the 2 inputs both ran, within the allowed 10.00%",
        "--braintrust-fail-under not applied: this run reran only the last failures (--lf); a run of the whole suite applies it",
    ])
    assert "gate FAILED" not in rerun.stdout.str()
    again = run()
    assert again.ret == 10
    again.stdout.fnmatch_lines(["gate FAILED: score 'pass' is 50.00%, which is below the bar of 80.00%"])


def test_with_braintrust_a_subset_run_says_the_server_compares_whole_experiments(gated, bt_server):
    """With a key the comparison is Braintrust's, over whole experiments: a ``-k`` run says so
    (and how to compare like with like), rather than showing its diffs as if they were fair."""
    gated.monkeypatch.setenv("BRAINTRUST_API_KEY", bt_server.api_key)
    gated.monkeypatch.setenv("BRAINTRUST_APP_URL", bt_server.url)
    assert gated.run("--braintrust", "--braintrust-project", "remote-gates").ret == 0
    full = gated.run("--braintrust", "--braintrust-project", "remote-gates")
    subset = gated.run("--braintrust", "--braintrust-project", "remote-gates", "-k", "0 or 1")

    assert "selected part of the suite" not in full.stdout.str()
    subset.stdout.fnmatch_lines([
        "note: this run selected part of the suite (-k '0 or 1'); Braintrust compares it with the whole of *, so its "
        "diffs (and --braintrust-max-regression) may count cases this run did not run; to compare like with like, "
        "pass --braintrust-base-experiment with a run of the same selection"
    ])


def test_the_gate_status_is_none_of_pytests_own():
    """pytest 9.2 took 6 (``MAX_WARNINGS_ERROR``), the gates' status before: a failed gate must
    stay distinguishable from every status pytest itself gives."""
    from braintrust.gates import GATE_FAILED_EXIT_CODE

    assert GATE_FAILED_EXIT_CODE == 10
    assert GATE_FAILED_EXIT_CODE not in {int(code) for code in pytest.ExitCode}
