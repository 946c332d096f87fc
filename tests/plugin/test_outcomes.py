"""Every pytest outcome → the case's row (the table in pytest_braintrust/outcome.py), and
scorers: they run when the test fails, and their errors never change the outcome."""

from __future__ import annotations

from plugin_helpers import tree

SUITE = '''
import pytest
from pytest_braintrust import eval_case


@pytest.fixture
def broken_setup():
    raise RuntimeError("no database")


@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("cleanup failed")


def exact(output, expected):
    return 1.0 if output == expected else 0.0


def explodes(output):
    raise ValueError("scorer bug")


@eval_case(input=1)
def test_passed():
    pass


@eval_case(input=2, expected=3, scorers=[exact, explodes])
def test_failed(braintrust_case):
    braintrust_case.log_output(3)
    assert 1 + 1 == 3, "arithmetic is off"


@eval_case(input=3)
def test_setup_error(broken_setup):
    pass


@eval_case(input=4)
def test_teardown_error(broken_teardown):
    pass


@eval_case(input=5)
@pytest.mark.skip(reason="not today")
def test_skipped_mark():
    pass


@eval_case(input=6)
def test_skipped_inside():
    pytest.skip("no network")


@eval_case(input=7)
@pytest.mark.xfail(reason="known bug")
def test_xfailed():
    assert False


@eval_case(input=8)
@pytest.mark.xfail(reason="fixed already")
def test_xpassed():
    pass


@eval_case(input=9)
@pytest.mark.xfail(reason="strict", strict=True)
def test_xpassed_strict():
    pass


@eval_case(input=10, expected="ok", scorers=[exact, explodes])
def test_scorer_error_keeps_pass(braintrust_case):
    braintrust_case.log_output("ok")
'''


def test_outcome_table(bt):
    bt.pytester.makepyfile(test_suite_outcomes=SUITE)
    result = bt.run("--braintrust", "-rA", "test_suite_outcomes.py")
    result.assert_outcomes(passed=3, failed=2, errors=2, skipped=2, xfailed=1, xpassed=1)
    rows = bt.rows()
    roots = {r["span_attributes"]["name"]: r for r in rows if not r.get("span_parents")}
    assert len(roots) == 10

    def md(name):
        return roots[name]["metadata"]["pytest"]

    def expect(name, outcome, passed):
        assert md(name)["outcome"] == outcome, name
        assert roots[name]["scores"].get("pass") == passed, name

    expect("test_passed", "passed", 1)
    assert "error" not in roots["test_passed"]

    expect("test_failed", "failed", 0)
    error = roots["test_failed"]["error"]
    assert "arithmetic is off" in error
    assert "test_suite_outcomes.py:32" in error  # file:line of the failing assertion
    assert md("test_failed")["phase"] == "call"
    # Scorers ran although the test failed, and the broken one did not change the outcome.
    t = tree(rows)
    assert t.child(roots["test_failed"], "exact")["scores"] == {"exact": 1}
    assert "scorer bug" in roots["test_failed"]["metadata"]["scorer_errors"]["explodes"]
    assert "scorer bug" in t.child(roots["test_failed"], "explodes")["error"]

    expect("test_setup_error", "error", 0)
    assert md("test_setup_error")["phase"] == "setup"
    assert roots["test_setup_error"]["error"].startswith("error in setup: RuntimeError: no database")
    assert [c["span_attributes"]["name"] for c in t.children(roots["test_setup_error"])] == []  # no task ran

    expect("test_teardown_error", "error", 0)
    assert md("test_teardown_error")["phase"] == "teardown"
    assert "cleanup failed" in roots["test_teardown_error"]["error"]

    for name, reason in (("test_skipped_mark", "not today"), ("test_skipped_inside", "no network")):
        expect(name, "skipped", None)
        assert reason in md(name)["reason"]
        assert "error" not in roots[name]

    expect("test_xfailed", "xfailed", 0)
    assert md("test_xfailed")["reason"] == "known bug"
    assert "error" not in roots["test_xfailed"]

    expect("test_xpassed", "xpassed", 1)
    assert md("test_xpassed")["reason"] == "fixed already"

    expect("test_xpassed_strict", "failed", 0)
    assert "XPASS(strict)" in roots["test_xpassed_strict"]["error"]

    expect("test_scorer_error_keeps_pass", "passed", 1)
    assert roots["test_scorer_error_keeps_pass"]["metadata"]["scorer_errors"].keys() == {"explodes"}
    assert "error" not in roots["test_scorer_error_keeps_pass"]

    # The terminal summary counts the outcomes.
    result.stdout.fnmatch_lines(["10 eval cases: 2 passed, 2 failed, 2 error, 2 skipped, 1 xfailed, 1 xpassed"])


def test_an_error_raised_below_the_test_names_the_tests_line_and_where_it_was_raised(bt):
    bt.pytester.makepyfile(
        helpers="def parse(text):\n    return int(text)\n",
        test_suite_raised='''
        from pytest_braintrust import eval_case
        from helpers import parse


        @eval_case(input="x")
        def test_helper_raises(braintrust_case):
            parse(braintrust_case.input)


        @eval_case(input=1)
        def test_assert_here():
            assert 1 + 1 == 3, "arithmetic"
        ''',
    )
    bt.run("--braintrust").assert_outcomes(failed=2)
    roots = bt.roots()
    error = roots["test_helper_raises"]["error"]
    assert error.startswith("ValueError: invalid literal for int() with base 10: 'x'\n")
    assert error.endswith("test_suite_raised.py:7 (raised at " + str(bt.path / "helpers.py") + ":2)")
    here = roots["test_assert_here"]["error"]
    assert here.startswith("AssertionError: arithmetic") and here.endswith("test_suite_raised.py:12")
