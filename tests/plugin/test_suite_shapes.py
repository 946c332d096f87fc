"""Unusual but legitimate suite shapes: each case's row says what pytest said about the test."""

from __future__ import annotations

import pytest
from plugin_helpers import tree


def test_xfail_before_the_body_and_a_teardown_error_after_a_failure_or_skip_are_on_the_row(bt):
    """``xfail(run=False)`` and ``pytest.xfail()`` in a fixture are xfailed (as pytest counts
    them), not skipped; a fixture's teardown error after a failed or skipped body is not lost."""
    bt.pytester.makepyfile(
        test_suite_phases='''
        import pytest
        from pytest_braintrust import eval_case


        @pytest.fixture
        def flaky_backend():
            pytest.xfail("backend flaky")


        @pytest.fixture
        def broken_cleanup():
            yield
            raise RuntimeError("cleanup failed")


        @eval_case(input="notrun")
        @pytest.mark.xfail(run=False, reason="crashes the interpreter")
        def test_not_run():
            pass


        @eval_case(input="fixture")
        def test_xfail_in_fixture(flaky_backend):
            pass


        @eval_case(input="fails")
        def test_fails(broken_cleanup):
            assert False, "wrong answer"


        @eval_case(input="skips")
        def test_skips(broken_cleanup):
            pytest.skip("no network")
        ''',
    )
    result = bt.run("--braintrust")
    result.assert_outcomes(failed=1, skipped=1, xfailed=2, errors=2)
    roots = bt.roots()

    for name, reason in (("test_not_run", "[NOTRUN] crashes the interpreter"), ("test_xfail_in_fixture", "backend flaky")):
        pytest_md = roots[name]["metadata"]["pytest"]
        assert (pytest_md["outcome"], pytest_md["reason"], roots[name]["scores"]) == ("xfailed", reason, {"pass": 0}), name

    failed = roots["test_fails"]
    assert failed["metadata"]["pytest"]["outcome"] == "failed" and failed["scores"] == {"pass": 0}
    assert failed["error"].startswith("AssertionError: wrong answer")
    assert "error in teardown: RuntimeError: cleanup failed" in failed["error"]

    skipped = roots["test_skips"]
    assert skipped["metadata"]["pytest"]["outcome"] == "error" and skipped["scores"] == {"pass": 0}
    assert skipped["error"].startswith("error in teardown: RuntimeError: cleanup failed")
    result.stdout.fnmatch_lines(["4 eval cases: 1 failed, 1 error, 2 xfailed"])


def test_a_failed_unittest_subtest_fails_its_case(bt):
    """``self.subTest`` failures are reported as subtests while the method itself passes; the
    case is failed with their errors, as a test using pytest's ``subtests`` fixture is."""
    bt.pytester.makepyfile(
        test_suite_unittest_subtests='''
        import unittest
        from pytest_braintrust import eval_case


        @eval_case(input="digits")
        class TestDigits(unittest.TestCase):
            def test_small(self):
                for i in range(3):
                    with self.subTest(i=i):
                        self.assertLess(i, 2)

            def test_all_small(self):
                for i in range(2):
                    with self.subTest(i=i):
                        self.assertLess(i, 2)
        ''',
    )
    bt.run("--braintrust")
    roots = bt.roots()
    small = roots["test_small"]
    assert small["metadata"]["pytest"]["outcome"] == "failed" and small["scores"] == {"pass": 0}
    assert small["metadata"]["pytest"]["subtests"] == {"passed": 2, "failed": 1}
    assert small["error"].startswith("contains 1 failed subtest\nsubtest failed: (i=2): AssertionError: 2 not less than 2")
    passing = roots["test_all_small"]
    assert passing["metadata"]["pytest"]["outcome"] == "passed" and passing["scores"] == {"pass": 1}
    assert "error" not in passing


@pytest.mark.parametrize("logging", [True, False])
def test_a_case_returning_an_awaitable_nothing_awaited_fails(bt, logging):
    """A sync test that returns a coroutine (an async test under a plain decorator) never ran its
    body: pytest fails it, and so does a case, with or without ``--braintrust``."""
    bt.pytester.makepyfile(
        test_suite_awaitable='''
        import asyncio
        import functools
        from pytest_braintrust import eval_case


        def with_timeout(function):
            @functools.wraps(function)
            def wrapper(*args, **kwargs):
                return asyncio.wait_for(function(*args, **kwargs), 1)
            return wrapper


        @eval_case(input="q")
        @with_timeout
        async def test_answers():
            assert False, "the body never runs"
        ''',
    )
    result = bt.run("-W", "ignore::RuntimeWarning", *(["--braintrust"] if logging else []))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*test_answers*returned a coroutine*"])
    if logging:
        row = bt.roots()["test_answers"]
        assert row["metadata"]["pytest"]["outcome"] == "failed" and "output" not in row
        assert "returned a coroutine" in row["error"]


def test_a_function_or_class_given_as_input_is_the_input(bt):
    """``eval_case(input=pipeline)`` declares the input; only a lone positional function or
    class is ``@eval_case`` written bare."""
    bt.pytester.makepyfile(
        test_suite_callable_input='''
        from pytest_braintrust import eval_case


        def pipeline(text):
            return text.upper()


        class Query:
            pass


        @eval_case(input=pipeline)
        def test_pipeline(braintrust_case):
            return braintrust_case.input("x")


        @eval_case(input=Query, expected="q")
        def test_class(braintrust_case):
            assert braintrust_case.input is Query
            return "q"


        @eval_case("2+2", "4")
        def test_positional(braintrust_case):
            return str(eval(braintrust_case.input))
        ''',
    )
    bt.run("--braintrust").assert_outcomes(passed=3)
    roots = bt.roots()
    assert roots["test_pipeline"]["output"] == "X" and "pipeline" in roots["test_pipeline"]["input"]
    assert (roots["test_class"]["expected"], roots["test_class"]["output"]) == ("q", "q")
    assert (roots["test_positional"]["input"], roots["test_positional"]["expected"], roots["test_positional"]["output"]) == ("2+2", "4", "4")


def test_parameters_beside_a_declared_input_or_data_are_kept_in_the_metadata(bt):
    """A question asked of several models (``input=`` or ``data=`` with ``parametrize("model")``):
    the parameters that are not the input are recorded under ``metadata.params``, as beside a
    parameter named ``input``, rather than lost from the rows."""
    bt.pytester.makepyfile(
        test_suite_models='''
        import pytest
        from pytest_braintrust import eval_case


        @eval_case(input="2+2", expected="4")
        @pytest.mark.parametrize("model", ["small", "large"])
        def test_declared(model):
            return "4"


        @eval_case(data=[{"input": "a", "expected": "A"}])
        @pytest.mark.parametrize("model", ["small"])
        def test_data(braintrust_case, model):
            return "A"


        @eval_case()
        @pytest.mark.parametrize("question", ["q"])
        def test_params_are_the_input(question):
            return question
        ''',
    )
    bt.run("--braintrust").assert_outcomes(passed=4)
    roots = bt.roots()
    for name, model in (("test_declared[small]", "small"), ("test_declared[large]", "large")):
        assert (roots[name]["input"], roots[name]["metadata"]["params"]) == ("2+2", {"model": model})
    assert (roots["test_data[a-small]"]["input"], roots["test_data[a-small]"]["metadata"]["params"]) == ("a", {"model": "small"})
    inputs_only = roots["test_params_are_the_input[q]"]
    assert inputs_only["input"] == {"question": "q"} and "params" not in inputs_only["metadata"]


def test_a_case_skipped_in_its_body_is_not_scored(bt):
    """``pytest.skip()`` in the test: no score, as for a skip mark, rather than its declared
    scorers scoring the missing output 0 and lowering the averages (an xfail is still scored)."""
    bt.pytester.makepyfile(
        test_suite_skips='''
        import pytest
        from pytest_braintrust import eval_case


        def exact(output, expected):
            return output == expected


        @eval_case(input="a", expected="A", scorers=[exact])
        def test_answers():
            return "A"


        @eval_case(input="b", expected="B", scorers=[exact])
        def test_offline():
            pytest.skip("no network")


        @eval_case(input="c", expected="C", scorers=[exact])
        @pytest.mark.xfail(reason="known bug")
        def test_known_bug():
            assert False
        ''',
    )
    result = bt.run("--braintrust", "--braintrust-fail-under", "exact=0.5")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*50.00% 'exact' score*"])
    rows = bt.rows()
    roots = bt.roots()
    t = tree(rows)
    assert t.kinds(roots["test_offline"]) == [("task", "task")] and not roots["test_offline"].get("scores")
    assert t.child(roots["test_known_bug"], "exact")["scores"] == {"exact": 0}


def test_data_or_trials_on_a_unittest_class_are_refused_rather_than_ignored(bt):
    """pytest does not parametrize ``unittest.TestCase`` methods: ``data=`` or ``trials=`` there
    would log one case without its records' inputs, so the method errors naming the fix."""
    bt.pytester.makepyfile(
        test_suite_unittest_data='''
        import unittest
        from pytest_braintrust import eval_case


        @eval_case(data=[{"input": "a"}, {"input": "b"}])
        class TestData(unittest.TestCase):
            def test_records(self):
                pass


        class TestTrials(unittest.TestCase):
            @eval_case(input="t", trials=3)
            def test_trials(self):
                pass

            @eval_case(input="u")
            def test_plain(self):
                pass
        ''',
    )
    result = bt.run("--braintrust")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(["*ERROR at setup of TestData.test_records*", "eval_case(data=...) cannot be used on a unittest.TestCase*"])
    roots = bt.roots()
    for name, argument in (("test_records", "data="), ("test_trials", "trials=")):
        assert roots[name]["metadata"]["pytest"]["outcome"] == "error", name
        assert f"eval_case({argument}...) cannot be used on a unittest.TestCase" in roots[name]["error"], name
    assert roots["test_plain"]["input"] == "u" and roots["test_plain"]["scores"] == {"pass": 1}
