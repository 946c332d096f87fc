"""Run-level QA (third pass): the exit status and the Braintrust section at the edges of a run:
--braintrust-gates-only beside a case whose own marks are wrong, a run pytest ends with an
internal error, score names given twice on one case."""

from __future__ import annotations

import json

import pytest

from braintrust.gates import GATE_FAILED_EXIT_CODE

BAD_PARAM_MARK_SUITE = '''
import json

import pytest

from braintrust.gates import GATE_FAILED_EXIT_CODE
from pytest_braintrust import eval_case

@eval_case()
@pytest.mark.parametrize("x", [pytest.param(1, marks=pytest.mark.braintrust(trials="x")), 2])
def test_param(x):
    pass
'''


def test_gates_only_does_not_forgive_a_bad_param_mark_under_xdist(bt):
    """Without xdist a wrong braintrust mark in a ``pytest.param`` stops the run before any test
    (usage error); under xdist the case errors at setup instead, and --braintrust-gates-only took
    that for a low score: exit 0, with a suite that needs fixing."""
    bt.pytester.makepyfile(test_suite_param=BAD_PARAM_MARK_SUITE)
    result = bt.run_subprocess("--braintrust", "--braintrust-project", "gates-only", "--braintrust-gates-only", "-n", "1")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines(["*trials= must be a whole number >= 1, got 'x'*"])
    assert "exit status 0" not in result.stdout.str()


def test_gates_only_does_not_forgive_a_bad_unittest_marker(bt):
    """A unittest method's wrong marker errors at its setup (pytest does not parametrize such
    methods): a mistake in the suite, not a failing case, so gates-only keeps exit 1; a plain
    failing case beside it is still forgiven when it is the only failure."""
    bt.pytester.makepyfile(
        test_suite_unittest='''
        import unittest
        import pytest

        class Cases(unittest.TestCase):
            @pytest.mark.braintrust(trials=3)
            def test_trials(self):
                pass

            @pytest.mark.braintrust()
            def test_fails(self):
                assert False
        '''
    )
    args = ("--braintrust", "--braintrust-project", "gates-only", "--braintrust-gates-only")
    result = bt.run(*args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines(["*cannot be used on a unittest.TestCase method*"])
    forgiven = bt.run(*args, "-k", "test_fails")
    assert forgiven.ret == pytest.ExitCode.OK, forgiven.stdout.str()


def test_an_internal_error_still_prints_the_braintrust_section(bt):
    """pytest calls ``pytest_terminal_summary`` only for its own statuses: after an internal
    error (another plugin's bug, exit 3) the cases logged, the rows sent and why the gates were
    not applied went untold."""
    bt.pytester.makeconftest(
        '''
        def pytest_runtest_logfinish(nodeid, location):
            if nodeid.endswith("test_b"):
                raise RuntimeError("a plugin's bug")
        '''
    )
    bt.pytester.makepyfile(
        test_suite_internal='''
        from pytest_braintrust import eval_case

        @eval_case()
        def test_a():
            pass

        @eval_case()
        def test_b():
            assert False

        @eval_case()
        def test_c():
            pass
        '''
    )
    result = bt.run("--braintrust", "--braintrust-project", "internal", "--braintrust-fail-under", "pass=0.9")
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR, result.stdout.str()
    result.stdout.fnmatch_lines([
        "INTERNALERROR> RuntimeError: a plugin's bug",
        "*= Braintrust =*",
        "2 eval cases: 1 passed, 1 failed",
        "gates not applied: the run ended with exit status 3 (internal error)",
        "rows: 4 sent, 0 spilled, 0 dropped*",
    ])
    assert len(bt.rows()) == 4


def test_pytest_exit_with_its_own_status_still_prints_the_braintrust_section(bt):
    """``pytest.exit(msg, returncode=7)`` ends the run with a status pytest writes no summary
    for: the Braintrust section is printed all the same, once."""
    bt.pytester.makepyfile(
        test_suite_exit='''
        import pytest
        from pytest_braintrust import eval_case

        @eval_case()
        def test_a():
            pass

        @eval_case()
        def test_b():
            pytest.exit("maintenance window", returncode=7)
        '''
    )
    result = bt.run("--braintrust", "--braintrust-project", "exit-seven")
    assert result.ret == 7, result.stdout.str()
    result.stdout.fnmatch_lines(["*= Braintrust =*", "2 eval cases: 1 passed, 1 interrupted", "rows: * sent, 0 spilled, 0 dropped*"])
    assert result.stdout.str().count("= Braintrust =") == 1


DUPLICATE_SCORES_SUITE = '''
from braintrust import Score
from pytest_braintrust import eval_case

def accuracy(output, expected):
    return 1.0

def strict_accuracy(output, expected):
    return Score(name="accuracy", score=0.0)

@eval_case(input="a", expected="a", scorers=[accuracy, strict_accuracy])
def test_two_scorers():
    return "a"

@eval_case(input="b", expected="b", scorers=[accuracy])
def test_check_and_scorer(braintrust_case):
    braintrust_case.check("accuracy", False)
    return "b"

@eval_case(input="c", expected="c", scorers=[accuracy])
def test_scorer_run_twice(braintrust_case):
    braintrust_case.run_scorers("c")
    braintrust_case.run_scorers("c")
'''


def _score_spans(bt):
    return {(r["span_attributes"]["name"], r["root_span_id"]): r.get("scores") for r in bt.rows()
            if r["span_attributes"].get("type") == "score"}


def test_a_score_name_given_twice_on_a_case_is_told(bt):
    """Two scorers (or a soft check and a scorer) giving one score name: as in ``Eval`` (0.48.1)
    each keeps its own on its span, and the experiment's average mixes them; ``Eval`` here warns
    naming both, the plugin said nothing. A scorer run again on the case is no second giver."""
    bt.pytester.makepyfile(test_suite_dupes=DUPLICATE_SCORES_SUITE)
    result = bt.run("--braintrust", "--braintrust-project", "dupes")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines([
        "test_suite_dupes.py::test_two_scorers",
        "*test_suite_dupes.py:*: ScoreNameWarning: score 'accuracy' is given by both scorer 'accuracy' and scorer "
        "'strict_accuracy'*give the scores distinct names*",
        "test_suite_dupes.py::test_check_and_scorer",
        "*ScoreNameWarning: score 'accuracy' is given by both the test (braintrust_case.check/score/log) and scorer 'accuracy'*",
    ])
    assert "test_scorer_run_twice" not in result.stdout.str().split("warnings summary")[1]
    roots = bt.roots()
    spans = _score_spans(bt)
    two = roots["test_two_scorers"]["root_span_id"]
    assert spans[("accuracy", two)] == {"accuracy": 1.0} and spans[("strict_accuracy", two)] == {"accuracy": 0.0}
    assert roots["test_check_and_scorer"]["scores"]["accuracy"] == 0


def test_a_score_name_given_twice_under_an_error_filter_fails_that_scorer(bt):
    """With ``filterwarnings = error`` (common in CI) the warning raised inside pytest's report
    hook, an INTERNALERROR losing the run; the later scorer fails instead, naming the problem."""
    bt.pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nfilterwarnings = error\n")
    bt.pytester.makepyfile(test_suite_dupes=DUPLICATE_SCORES_SUITE)
    result = bt.run("--braintrust", "--braintrust-project", "dupes")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert "INTERNALERROR" not in result.stdout.str()
    result.stdout.fnmatch_lines([
        "scorer 'accuracy' failed in 1 case (test_check_and_scorer: ValueError: score 'accuracy' is given by both*",
        "scorer 'strict_accuracy' failed in 1 case (test_two_scorers: ValueError: score 'accuracy' is given by both*",
    ])
    assert set(bt.roots()["test_two_scorers"]["metadata"]["scorer_errors"]) == {"strict_accuracy"}


def test_the_json_summary_says_why_the_gates_were_not_applied(bt):
    """A run stopped by ``-x`` is not judged (the terminal says why); the JSON summary had only
    ``"gates": []``, which a CI script reads as no gate given, or every gate met."""
    bt.pytester.makepyfile(
        test_suite_stop='''
        from pytest_braintrust import eval_case

        @eval_case()
        def test_a_fails():
            assert False

        @eval_case()
        def test_b_never_runs():
            pass
        '''
    )
    args = ("--braintrust", "--braintrust-project", "stopped", "--braintrust-json=summary.json", "--braintrust-fail-under", "pass=0.9")
    result = bt.run(*args, "-x")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    document = json.loads((bt.path / "summary.json").read_text())
    assert document["gates"] == [] and document["gates_skipped"].startswith("gates not applied: the run stopped early")
    result.stdout.fnmatch_lines([document["gates_skipped"]])
    judged = bt.run(*args)
    assert judged.ret == GATE_FAILED_EXIT_CODE, judged.stdout.str()
    document = json.loads((bt.path / "summary.json").read_text())
    assert document["gates_skipped"] is None and [g["passed"] for g in document["gates"]] == [False]


def test_a_stepwise_resume_is_not_held_to_the_suite_bar(bt, monkeypatch):
    """``--sw`` resumes at the last failure, leaving out the tests that passed before it: as for
    a ``--lf`` rerun, the average of what it ran is not the suite's, and --braintrust-fail-under
    failed the fixed run with exit 10 (here 20% against a suite at 47%). A --sw run that skips
    nothing is the whole suite, and is judged."""
    from braintrust.delivery.runtime import reset_for_tests

    bt.pytester.makepyfile(
        test_suite_sw='''
        import os
        from pytest_braintrust import eval_case

        @eval_case()
        def test_a(braintrust_case):
            braintrust_case.score("quality", 1.0)

        @eval_case()
        def test_b(braintrust_case):
            braintrust_case.score("quality", 0.2)
            assert os.environ.get("FIXED")

        @eval_case()
        def test_c(braintrust_case):
            braintrust_case.score("quality", 0.2)
        '''
    )

    def run(*args: str) -> pytest.RunResult:
        reset_for_tests()
        try:  # (with the cache plugin, which stepwise needs and the other runs turn off)
            return bt.pytester.runpytest("-p", "no:hypothesispytest", "-p", "no:benchmark", "--braintrust",
                                         "--braintrust-project", "sw", "--braintrust-fail-under", "quality=0.4", *args)
        finally:
            reset_for_tests()

    assert run("--sw").ret == pytest.ExitCode.INTERRUPTED  # (stopped at test_b: not judged)
    monkeypatch.setenv("FIXED", "1")
    resumed = run("--sw")
    assert resumed.ret == pytest.ExitCode.OK, resumed.stdout.str()
    resumed.stdout.fnmatch_lines([
        "2 eval cases: 2 passed",
        "--braintrust-fail-under not applied: this run resumed at the last failure (--sw), leaving out the tests "
        "that passed before it; a run of the whole suite applies it",
    ])
    whole = run("--sw")
    assert whole.ret == pytest.ExitCode.OK, whole.stdout.str()
    whole.stdout.fnmatch_lines(["gate PASSED: score 'quality' is 46.67%, which meets the bar of 40.00%"])


def test_a_soft_check_after_the_scorers_gave_its_name_is_told(bt):
    """``run_scorers()`` in the test, then a ``check``/``score`` of a name a scorer gave: both are
    logged and the average mixes them, so the test's line is told (as for a scorer after a check)."""
    bt.pytester.makepyfile(test_suite_after='''
from pytest_braintrust import eval_case

def accuracy(output, expected):
    return 1.0

@eval_case(input=1, expected=1, scorers=[accuracy])
def test_check_after_scorers(braintrust_case):
    braintrust_case.run_scorers(output=1)
    braintrust_case.check("accuracy", False)

@eval_case(input=1, expected=1, scorers=[accuracy])
def test_score_after_scorers(braintrust_case):
    braintrust_case.run_scorers(output=1)
    braintrust_case.score("accuracy", 0.5)

@eval_case(input=1, expected=1, scorers=[accuracy])
def test_other_name(braintrust_case):
    braintrust_case.run_scorers(output=1)
    braintrust_case.check("exact", True)
''')
    result = bt.run("--braintrust", "--braintrust-project", "after")
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    warnings_part = result.stdout.str().split("warnings summary")[1]
    result.stdout.fnmatch_lines([
        "test_suite_after.py::test_check_after_scorers",
        "*test_suite_after.py:9: ScoreNameWarning: score 'accuracy' is given by both scorer 'accuracy' and the test*",
        "test_suite_after.py::test_score_after_scorers",
        "*test_suite_after.py:14: ScoreNameWarning: score 'accuracy' is given by both scorer 'accuracy' and the test*",
    ])
    assert "test_other_name" not in warnings_part
    assert bt.roots()["test_check_after_scorers"]["scores"]["accuracy"] == 0
