"""QA of ``pytest --braintrust`` beside pytest 9's features: ``--max-warnings`` (9.2) with
``--braintrust-gates-only``, the ``subtests`` fixture's messages in a case's error, native
``[tool.pytest]`` TOML config for the plugin's ini keys."""

from __future__ import annotations

import pytest

PYTEST_VERSION = tuple(int(part) for part in pytest.__version__.split(".")[:2])

needs_9_2 = pytest.mark.skipif(PYTEST_VERSION < (9, 2), reason="--max-warnings is pytest 9.2's")
needs_9 = pytest.mark.skipif(PYTEST_VERSION < (9, 0), reason="the subtests fixture and [tool.pytest] are pytest 9's")

WARNING_CASES = '''
import warnings
from pytest_braintrust import eval_case

@eval_case(input="a")
def test_warns(braintrust_case):
    warnings.warn("careful", UserWarning)
    return "a"

@eval_case(input="b")
def test_bad(braintrust_case):
    assert braintrust_case.input == "good"
'''


def _root_errors(bt) -> dict[str, str | None]:
    return {r["span_attributes"]["name"]: r.get("error") for r in bt.rows() if not r.get("span_parents")}


@needs_9_2
@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_gates_only_with_too_many_warnings_says_pytest_sets_status_6(bt, xdist):
    """``--braintrust-gates-only`` turns a run with failed cases to status 0; pytest 9.2 then
    checks ``--max-warnings`` on that 0 and exits 6. The Braintrust section must not promise 0."""
    bt.pytester.makepyfile(test_suite_warns=WARNING_CASES)
    run = bt.run_subprocess if xdist else bt.run
    result = run("--braintrust", "--braintrust-gates-only", "--max-warnings", "0", *xdist)
    assert result.ret == pytest.ExitCode.MAX_WARNINGS_ERROR
    result.stdout.fnmatch_lines([
        "braintrust: --braintrust-gates-only: failing eval cases lower the scores but do not fail the run; "
        "exit status 0, but pytest's --max-warnings sets exit status 6 (1 warnings > 0)",
    ])
    assert "; exit status 0\n" not in result.stdout.str()


@needs_9_2
@pytest.mark.parametrize("limit", [("--max-warnings", "1"), ("-o", "max_warnings=1")], ids=["option", "ini"])
def test_gates_only_within_the_warnings_limit_still_says_exit_status_0(bt, limit):
    bt.pytester.makepyfile(test_suite_warns=WARNING_CASES)
    result = bt.run("--braintrust", "--braintrust-gates-only", *limit)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["braintrust: --braintrust-gates-only: *do not fail the run; exit status 0"])
    assert "--max-warnings sets" not in result.stdout.str()


@needs_9_2
def test_gates_only_with_the_ini_warnings_limit_exceeded_says_status_6(bt):
    bt.pytester.makepyfile(test_suite_warns=WARNING_CASES)
    result = bt.run("--braintrust", "--braintrust-gates-only", "-o", "max_warnings=0")
    assert result.ret == pytest.ExitCode.MAX_WARNINGS_ERROR
    result.stdout.fnmatch_lines(["*exit status 0, but pytest's --max-warnings sets exit status 6 (1 warnings > 0)"])


@needs_9_2
def test_a_failed_gate_keeps_status_10_whatever_the_warnings_limit(bt):
    bt.pytester.makepyfile(test_suite_warns=WARNING_CASES)
    result = bt.run("--braintrust", "--braintrust-fail-under", "pass=0.9", "--max-warnings", "0")
    assert result.ret == 10
    result.stdout.fnmatch_lines(["braintrust: a quality gate failed; exit status 10"])


SUBTEST_CASES = '''
import unittest
from pytest_braintrust import eval_case

@eval_case(input="abc")
def test_letters(subtests, braintrust_case):
    for letter in "abc":
        with subtests.test(msg=f"letter {letter}", i=letter):
            assert letter == "a", f"no {letter} please"
    return "A"

@eval_case(input="u")
class TestNumbers(unittest.TestCase):
    def test_numbers(self):
        for i in range(2):
            with self.subTest("number", i=i):
                self.assertEqual(i, 0)
'''


@needs_9
@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_failed_subtests_error_names_the_subtest_as_pytest_does(bt, xdist):
    """Each failed subtest's error in the case's row says which subtest it was (its ``msg`` and
    keyword arguments, as pytest's ``SUBFAILED[letter b] (i='b')``), for the fixture's subtests
    and unittest's ``subTest`` alike: else two failures of one loop read the same."""
    bt.pytester.makepyfile(test_suite_subtests=SUBTEST_CASES)
    run = bt.run_subprocess if xdist else bt.run
    result = run("--braintrust", *xdist)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    errors = _root_errors(bt)
    assert "subtest failed: [letter b] (i='b'): AssertionError: no b please" in errors["test_letters"]
    assert "subtest failed: [letter c] (i='c'): AssertionError: no c please" in errors["test_letters"]
    assert "subtest failed: [number] (i=1): AssertionError: 1 != 0" in errors["test_numbers"]


@needs_9
@pytest.mark.parametrize("xdist", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_subtests_are_neither_extra_cases_nor_extra_outcomes(bt, xdist):
    """A case with failed subtests is one failed case in every count; a plain test's subtests
    beside it count nowhere."""
    bt.pytester.makepyfile(test_suite_subtests=SUBTEST_CASES + '''
def test_plain(subtests):
    with subtests.test(msg="p"):
        assert False
''')
    run = bt.run_subprocess if xdist else bt.run
    result = run("--braintrust", "--braintrust-json=out.json", *xdist)
    result.stdout.fnmatch_lines(["2 eval cases: 2 failed"])
    import json

    cases = json.loads((bt.path / "out.json").read_text())["cases"]
    assert cases["total"] == 2 and cases["failed"] == 2 and cases["passed"] == 0


@needs_9
def test_native_toml_config_types_for_the_ini_keys(bt):
    """``[tool.pytest]`` (pytest 9's native TOML): a bool key takes a TOML bool, the gate keys a
    string; a list where a string belongs is a usage error naming the key, not a traceback."""
    (bt.path / "tox.ini").unlink()  # (the bt fixture's ini)
    bt.pytester.makepyfile(test_suite_warns=WARNING_CASES)
    head = '[tool.pytest]\nasyncio_default_fixture_loop_scope = "function"\n'
    (bt.path / "pyproject.toml").write_text(
        head + 'braintrust_project = "native"\nbraintrust_gates_only = true\nbraintrust_fail_under = "pass=0.4"\n')
    result = bt.run("--braintrust")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["gate PASSED: score 'pass' is 50.00%, which meets the bar of 40.00%"])
    assert list(bt.projects()) == ["native"]

    (bt.path / "pyproject.toml").write_text(head + 'braintrust_fail_under = ["pass=0.4"]\n')
    result = bt.run("--braintrust")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert "braintrust_fail_under" in result.stderr.str()
