"""``unittest.TestCase`` methods as eval cases: what pytest does not do for them
(``pytest_generate_tests`` checks a test function's marks; pytest calls a test function itself,
unittest calls a method) the plugin does at their setup and call."""

from __future__ import annotations

import sys

import pytest


BAD_MARKS = '''
import unittest

import pytest
from pytest_braintrust import eval_case


class TestMarks(unittest.TestCase):
    @pytest.mark.braintrust(input="x", metadata="oops")
    def test_bad_metadata(self):
        pass

    @pytest.mark.braintrust(inputs="x")
    def test_unknown_argument(self):
        pass

    @eval_case(input="ok")
    def test_good(self):
        pass


def test_plain():
    pass
'''


@pytest.mark.parametrize("logging", [True, False])
def test_a_bad_marker_argument_on_a_unittest_method_errors_that_test_only(bt, logging):
    """A test function's bad marker argument is a collection error of its module; a unittest
    method's (never seen by ``pytest_generate_tests``) errors that test at setup, naming the
    argument and the fix, while the other tests run and, with ``--braintrust``, are logged."""
    bt.pytester.makepyfile(test_suite_unittest_bad_marks=BAD_MARKS)
    result = bt.run(*(["--braintrust"] if logging else []))
    result.assert_outcomes(passed=2, errors=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*ERROR at setup of TestMarks.test_bad_metadata*",
        "*test_bad_metadata: braintrust marker: metadata= must be a dict, got str 'oops'.",
        "*ERROR at setup of TestMarks.test_unknown_argument*",
        "*test_unknown_argument: unknown braintrust marker argument(s) [[]'inputs'[]]; known: [[]'data', *",
    ])
    result.stdout.no_fnmatch_line("*UsageError*")
    if not logging:
        return
    roots = bt.roots()
    assert sorted(roots) == ["test_bad_metadata", "test_good", "test_unknown_argument"]
    bad = roots["test_bad_metadata"]
    assert bad["metadata"]["pytest"]["outcome"] == "error" and bad["scores"] == {"pass": 0}
    assert "metadata= must be a dict" in bad["error"]
    assert "unknown braintrust marker argument(s) ['inputs']" in roots["test_unknown_argument"]["error"]
    assert roots["test_good"]["input"] == "ok" and roots["test_good"]["scores"] == {"pass": 1}


RETURNS = '''
import unittest

from pytest_braintrust import eval_case


class TestReturns(unittest.TestCase):
    @eval_case(input="q")
    def test_returns(self):
        return {"answer": 42}

    @eval_case(input="logged")
    def test_logs_and_returns(self):
        import braintrust

        braintrust.current_span().log(output="logged output")
        return "returned"

    @eval_case(input="skipped")
    @unittest.skip("not today")
    def test_skipped(self):
        return "never"

    @eval_case(input="known bug")
    @unittest.expectedFailure
    def test_known_bug(self):
        self.assertEqual(1, 2)


class TestAsyncReturns(unittest.IsolatedAsyncioTestCase):
    @eval_case(input="a")
    async def test_async_returns(self):
        return "async answer"


class TestNotACase(unittest.TestCase):
    def test_returns_without_a_mark(self):
        return "not an output"
'''


def test_a_unittest_case_method_s_return_value_is_its_output(bt):
    """As for a test function, a case's unittest method (sync or ``IsolatedAsyncioTestCase``'s
    async) returns its output unless it logged one, without Python's DeprecationWarning about a
    test method returning a value; skip and expectedFailure decorators still apply; a method that
    is not a case keeps unittest's warning."""
    bt.pytester.makepyfile(test_suite_unittest_returns=RETURNS)
    result = bt.run("--braintrust", "-W", "error::DeprecationWarning")
    if sys.version_info >= (3, 11):  # (unittest warns about a returned value from 3.11 on)
        result.assert_outcomes(passed=3, failed=1, skipped=1, xfailed=1)
        result.stdout.fnmatch_lines(["E * DeprecationWarning: It is deprecated to return a value that is not None from a test case (<bound method TestNotACase.*"])
        assert result.stdout.str().count("DeprecationWarning: It is deprecated to return a value") == 1
    else:
        result.assert_outcomes(passed=4, skipped=1, xfailed=1)
    roots = bt.roots()
    assert roots["test_returns"]["output"] == {"answer": 42} and roots["test_returns"]["scores"] == {"pass": 1}
    assert roots["test_logs_and_returns"]["output"] == "logged output"
    assert roots["test_async_returns"]["output"] == "async answer"
    assert roots["test_async_returns"]["scores"] == {"pass": 1}
    assert roots["test_skipped"]["metadata"]["pytest"]["outcome"] == "skipped" and "output" not in roots["test_skipped"]
    assert roots["test_known_bug"]["metadata"]["pytest"]["outcome"] == "xfailed"
    assert "test_returns_without_a_mark" not in roots
