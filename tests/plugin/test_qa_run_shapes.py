"""How a ``--braintrust`` run behaves under pytest's own run-shaping options: ``--lf`` and
``--sw`` reruns, ``-x``, deselection, and their xdist forms. Rows are read back from the local
store."""

from __future__ import annotations

import pytest

FAILING = '''
from pytest_braintrust import eval_case


@eval_case(input=1)
def test_fails():
    assert False


@eval_case(input=2)
def test_passes():
    pass
'''

ELSEWHERE = '''
from pytest_braintrust import eval_case


@eval_case(input=10)
def test_also_fails():
    assert False


@eval_case(input=11)
def test_also_passes():
    pass
'''

#: The plugins the runs here leave out (the cache plugin stays: ``--lf`` needs it).
LEAN = ("-p", "no:hypothesispytest", "-p", "no:benchmark")


def _run_with_cache(bt, *args: str) -> pytest.RunResult:
    from braintrust.delivery.runtime import reset_for_tests

    reset_for_tests()
    try:
        return bt.pytester.runpytest(*LEAN, "--braintrust", *args)
    finally:
        reset_for_tests()


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["in-process", "xdist"])
def test_lf_with_no_recorded_failure_selected_runs_the_suite_and_is_held_to_the_bars(bt, workers):
    """``--lf`` whose recorded failures are all outside the selection runs every selected test
    (pytest: "known failures not in selected tests"): that is no rerun of failures, so
    ``--braintrust-fail-under`` judges it. A ``--lf`` that does rerun failures is still exempt."""
    bt.pytester.makepyfile(test_suite_failing=FAILING, test_suite_elsewhere=ELSEWHERE)
    gate = ("--braintrust-fail-under", "pass=0.9")
    if workers:
        def run(*args: str) -> pytest.RunResult:
            bt.monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
            return bt.pytester.runpytest_subprocess(*LEAN, "--braintrust", *workers, *args, timeout=120)
    else:
        def run(*args: str) -> pytest.RunResult:
            return _run_with_cache(bt, *args)

    assert run("test_suite_failing.py").ret == 1  # records test_suite_failing.py::test_fails
    elsewhere = run("--lf", *gate, "test_suite_elsewhere.py")
    elsewhere.assert_outcomes(passed=1, failed=1)
    assert elsewhere.ret == 10, elsewhere.stdout.str()
    elsewhere.stdout.fnmatch_lines(["gate FAILED: score 'pass' is 50.00%, which is below the bar of 90.00%"])
    assert "not applied" not in elsewhere.stdout.str()

    rerun = run("--lf", *gate, "test_suite_failing.py")
    rerun.assert_outcomes(failed=1)
    assert rerun.ret == 1
    rerun.stdout.fnmatch_lines(["--braintrust-fail-under not applied: this run reran only the last failures (--lf)*"])
    names = sorted(row["span_attributes"]["name"] for e in bt.experiments() for row in bt.rows(e) if not row.get("span_parents"))
    assert names == ["test_also_fails", "test_also_passes", "test_fails", "test_fails", "test_passes"]


PARAM_MARKS = '''
import pytest
from pytest_braintrust import eval_case


@pytest.mark.parametrize("x", [
    pytest.param(1, marks=eval_case(expected=1, tags=["param"])),
    pytest.param(2, marks=eval_case(trials=3)),
    pytest.param(3, marks=eval_case(data=[{"input": 5}])),
    pytest.param(4, marks=pytest.mark.braintrust(tags="smoke")),
])
@eval_case(tags=["function"])
def test_params(x):
    return x


@eval_case(input=1)
def test_after():
    pass
'''

PARAM_PROBLEMS = {
    "test_params[2]": "trials= cannot be given in a pytest.param(...)'s marks, which apply after pytest has parametrized the test",
    "test_params[3]": "data= cannot be given in a pytest.param(...)'s marks",
    "test_params[4]": "tags= must be a list of strings, got the string 'smoke'",
}


@pytest.mark.parametrize("broken", sorted(PARAM_PROBLEMS))
def test_a_bad_eval_case_in_a_params_marks_stops_the_run_before_any_test(bt, broken):
    """``pytest.param(..., marks=...)`` marks apply after pytest has parametrized the test:
    ``trials=``/``data=`` there cannot take effect, and collection never saw a bad argument.
    Each is a usage error naming the case and the problem before any test runs, as a bad
    argument on the function is (not a case run without it, nor a run stopped halfway)."""
    bt.pytester.makepyfile(test_suite_params=PARAM_MARKS)
    others = [f"--deselect=test_suite_params.py::{name}" for name in PARAM_PROBLEMS if name != broken]
    result = bt.run("--braintrust", *others)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    error = result.stderr.str()
    assert f"ERROR: test_suite_params.py::{broken}: braintrust marker: " in error and PARAM_PROBLEMS[broken] in error
    result.assert_outcomes()
    assert bt.experiments() == []


def test_under_xdist_a_bad_eval_case_in_a_params_marks_errors_that_case(bt):
    """A usage error raised on an xdist worker at collection is an internal error with the
    message lost: there each such case errors at setup naming the problem, and the others run
    (a param's valid marks merging with the function's as usual)."""
    bt.pytester.makepyfile(test_suite_params=PARAM_MARKS)
    result = bt.run_subprocess("--braintrust", "-n", "2")
    result.assert_outcomes(passed=2, errors=3)
    roots = bt.roots()
    assert sorted(roots) == ["test_after", "test_params[1]", "test_params[2]", "test_params[3]", "test_params[4]"]
    assert roots["test_params[1]"]["expected"] == 1
    assert roots["test_params[1]"]["tags"] == ["param", "function"]
    for name, problem in PARAM_PROBLEMS.items():
        assert roots[name]["metadata"]["pytest"]["outcome"] == "error", name
        assert roots[name]["scores"] == {"pass": 0}, name
        assert roots[name]["error"].startswith(f"error in setup: Failed: test_suite_params.py::{name}: braintrust marker: "), name
        assert problem in roots[name]["error"], name
    assert roots["test_after"]["metadata"]["pytest"]["outcome"] == "passed"


@pytest.mark.parametrize("stop", ["--sw", "xdist -x"])
def test_a_run_stopped_by_stepwise_or_xdist_maxfail_says_it_stopped_early(bt, stop):
    """``--sw`` and ``-n 2 -x`` end with pytest's status 2 ("Interrupted: ..."), but nobody
    pressed Ctrl-C: the gates are not applied because the run stopped early, and the summary
    says that, with pytest's reason. The cases that ran are logged; those never run are not."""
    bt.pytester.makepyfile(test_suite_failing=FAILING)
    if stop == "--sw":
        result = _run_with_cache(bt, "-p", "no:randomly", "--sw", "--braintrust-fail-under", "pass=0.9")
        reason = "Test failed, continuing from this test next run."
    else:
        bt.monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
        result = bt.pytester.runpytest_subprocess(*LEAN, "-p", "no:cacheprovider", "--braintrust", "-n", "2", "-x",
                                                  "--braintrust-fail-under", "pass=0.9", timeout=120)
        reason = "stopping after 1 failures"
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert f"gates not applied: the run stopped early ({reason})" in result.stdout.lines
    assert "gate FAILED" not in result.stdout.str()
    roots = bt.roots()
    assert roots["test_fails"]["metadata"]["pytest"]["outcome"] == "failed"
    assert all(row["metadata"]["pytest"]["outcome"] == "passed" for name, row in roots.items() if name != "test_fails")


def test_lf_after_a_collection_error_reruns_that_file_and_is_exempt_from_the_bars(bt):
    """A file that failed to collect is recorded by its path; once fixed, ``--lf`` reruns its
    tests alone (pytest's "rerun previous 2 failures"): a rerun, not the suite."""
    bt.pytester.makepyfile(test_suite_elsewhere=ELSEWHERE, test_suite_failing="import no_such_module_here\n")
    assert _run_with_cache(bt).ret == pytest.ExitCode.INTERRUPTED  # (the collection error)
    bt.pytester.makepyfile(test_suite_failing=FAILING)
    rerun = _run_with_cache(bt, "--lf", "--braintrust-fail-under", "pass=0.9")
    rerun.assert_outcomes(passed=1, failed=1, deselected=2)
    assert rerun.ret == 1
    rerun.stdout.fnmatch_lines(["--braintrust-fail-under not applied: this run reran only the last failures (--lf)*"])


def test_gates_only_keeps_pytests_status_when_x_stopped_the_run(bt):
    """``--braintrust-gates-only`` turns failing cases into status 0, but ``-x`` stopping on
    one means the tests after it never ran (a failing unit test among them): pytest's 1 stands.
    A run that went through still gets its 0."""
    bt.pytester.makepyfile(
        test_suite_units='''
        from pytest_braintrust import eval_case


        @eval_case(input=1)
        def test_case_fails():
            assert False


        def test_unit_fails():
            assert False
        ''',
    )
    stopped = bt.run("--braintrust", "--braintrust-gates-only", "-p", "no:randomly", "-x")
    stopped.assert_outcomes(failed=1)
    assert stopped.ret == pytest.ExitCode.TESTS_FAILED
    assert bt.roots()["test_case_fails"]["metadata"]["pytest"]["outcome"] == "failed"
    through = bt.run("--braintrust", "--braintrust-gates-only", "-k", "case")
    through.assert_outcomes(failed=1, deselected=1)
    assert through.ret == pytest.ExitCode.OK
