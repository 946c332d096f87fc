"""Every shape of pytest test as a case (QA round 3): where the marks come from, which
parameters are the input, trials and repetitions, and the tests that are not cases."""

from __future__ import annotations

import pytest


def test_every_shape_of_test_is_a_case_with_its_marks_and_parameters(bt):
    """Module, class (inherited, nested) and function marks combine on methods, static and
    class methods; parameters from ``pytest.param(id=)``, ``ids=`` callables, stacked
    parametrize, a fixture's ``params=``, indirect parametrization and a conftest's
    ``pytest_generate_tests`` are the input; async methods (pytest-asyncio, strict mode) and
    ``unittest`` methods return their output."""
    bt.pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nasyncio_mode = strict\n")
    bt.pytester.makeconftest(
        '''
        def pytest_generate_tests(metafunc):
            if "generated" in metafunc.fixturenames:
                metafunc.parametrize("generated", ["g1"])
        '''
    )
    bt.pytester.makepyfile(
        test_shapes='''
        import unittest
        import pytest
        from pytest_braintrust import eval_case

        pytestmark = eval_case(tags=["module"], metadata={"suite": "shapes"})

        @pytest.fixture(params=["small", "large"])
        def model(request):
            return request.param

        @pytest.fixture
        def shouted(request):
            return request.param.upper()

        @eval_case(input="class input", tags=["class"])
        class TestBase:
            def test_method(self):
                return "method"

            @staticmethod
            def test_static():
                return "static"

            @classmethod
            def test_class_method(cls):
                return "class method"

            class TestNested:
                def test_nested(self):
                    return "nested"

        class TestChild(TestBase):
            def test_own(self):
                return "own"

        @eval_case(expected="A")
        @pytest.mark.parametrize("q", [pytest.param("a", id="first")])
        def test_param_id(q):
            return q.upper()

        @pytest.mark.parametrize("q", ["b"], ids=lambda value: f"id_{value}")
        @eval_case
        def test_ids_callable(q):
            return q

        @eval_case
        @pytest.mark.parametrize("x", [1])
        @pytest.mark.parametrize("y", [2])
        def test_stacked(x, y):
            return x + y

        def test_fixture_params(model, braintrust_case):
            return model

        @eval_case
        @pytest.mark.parametrize("shouted", ["low"], indirect=True)
        def test_indirect(shouted):
            return shouted

        @eval_case(input="declared")
        def test_generated(generated):
            return generated

        @eval_case(input="async")
        @pytest.mark.asyncio
        class TestAsync:
            async def test_async_method(self):
                return "async"

        @eval_case(input="unittest")
        class TestUnit(unittest.IsolatedAsyncioTestCase):
            async def test_unit_async(self):
                return "unit async"

            def test_unit_sync(self):
                return "unit sync"
        ''',
    )
    result = bt.run("--braintrust")
    result.assert_outcomes(passed=19)
    rows = {r["metadata"]["pytest"]["nodeid"].split("::", 1)[1]: r for r in bt.rows() if not r.get("span_parents")}

    def row(nodeid: str) -> tuple:
        found = rows[nodeid]
        return found["input"], found.get("expected"), found["output"], sorted(found.get("tags") or [])

    for method in ("TestBase", "TestChild"):  # (the child's tests inherit the base's mark)
        assert row(f"{method}::test_method") == ("class input", None, "method", ["class", "module"])
        assert row(f"{method}::test_static") == ("class input", None, "static", ["class", "module"])
        assert row(f"{method}::test_class_method") == ("class input", None, "class method", ["class", "module"])
        assert row(f"{method}::TestNested::test_nested") == ("class input", None, "nested", ["class", "module"])
    assert row("TestChild::test_own") == ("class input", None, "own", ["class", "module"])
    assert row("test_param_id[first]") == ({"q": "a"}, "A", "A", ["module"])
    assert rows["test_param_id[first]"]["metadata"]["pytest"]["parametrize_id"] == "first"
    assert row("test_ids_callable[id_b]") == ({"q": "b"}, None, "b", ["module"])
    assert row("test_stacked[2-1]") == ({"x": 1, "y": 2}, None, 3, ["module"])
    assert row("test_fixture_params[small]") == ({"model": "small"}, None, "small", ["module"])
    assert row("test_fixture_params[large]") == ({"model": "large"}, None, "large", ["module"])
    assert row("test_indirect[low]") == ({"shouted": "low"}, None, "LOW", ["module"])  # (the parameter, not the fixture's value)
    assert row("test_generated[g1]") == ("declared", None, "g1", ["module"])
    assert rows["test_generated[g1]"]["metadata"]["params"] == {"generated": "g1"}
    assert row("TestAsync::test_async_method") == ("async", None, "async", ["module"])
    assert row("TestUnit::test_unit_async") == ("unittest", None, "unit async", ["module"])
    assert row("TestUnit::test_unit_sync") == ("unittest", None, "unit sync", ["module"])
    assert all(r["metadata"]["suite"] == "shapes" and r["scores"] == {"pass": 1} for r in rows.values())


def test_a_doctest_in_a_marked_module_is_untouched(bt):
    """``--doctest-modules`` collects a marked test module's docstrings too: pytest gives those
    items the module's marks, but a doctest is no eval case (no row, not counted), and a broken
    one still fails a ``--braintrust-gates-only`` run."""
    bt.pytester.makepyfile(
        test_documented='''
        from pytest_braintrust import eval_case

        pytestmark = eval_case(input="module")

        def helper():
            """
            >>> helper()
            2
            """
            return 1

        def test_case():
            """
            >>> 1 + 1
            2
            """
            return "out"
        '''
    )
    result = bt.run("--braintrust", "--doctest-modules", "--braintrust-gates-only")
    result.assert_outcomes(passed=2, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert [r["metadata"]["pytest"]["nodeid"] for r in bt.rows() if not r.get("span_parents")] == ["test_documented.py::test_case"]
    result.stdout.fnmatch_lines(["1 eval case: 1 passed"])


@pytest.mark.parametrize("argument", ["trials=3", "data=['a', 'b']"])
def test_trials_or_data_added_after_collection_are_refused_not_ignored(bt, argument):
    """A conftest that marks tests as cases in ``pytest_collection_modifyitems`` comes after
    pytest parametrized them: ``trials=``/``data=`` there would silently log one row instead of
    three trials or two records, so the run stops naming the argument and the fix."""
    bt.pytester.makeconftest(
        f'''
        from pytest_braintrust import eval_case

        def pytest_collection_modifyitems(items):
            for item in items:
                item.add_marker(eval_case({argument}))
        '''
    )
    bt.pytester.makepyfile(test_added="def test_answer():\n    return 1\n")
    result = bt.run("--braintrust")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*test_added.py::test_answer: braintrust marker: {argument.split('=')[0]}= cannot be added*module*"])


def test_pytest_repeat_marker_copies_are_trials_of_one_case(bt):
    """``@pytest.mark.repeat(3)`` makes copies as ``--count 3`` does: trials of one case (one
    ``case`` id, the node id without the copy's id), with or without ``--count``."""
    bt.pytester.makepyfile(
        test_repeated='''
        import pytest
        from pytest_braintrust import eval_case

        @eval_case
        @pytest.mark.repeat(3)
        def test_answer():
            return 1
        '''
    )
    for extra in ((), ("--count", "2")):
        result = bt.run("--braintrust", *extra)
        result.assert_outcomes(passed=3)
        experiment = sorted(bt.experiments(), key=lambda e: e["created"])[-1]
        pytest_md = sorted((r["metadata"]["pytest"] for r in bt.rows(experiment) if not r.get("span_parents")), key=lambda m: m["nodeid"])
        assert [(m["trial_index"], m["case"]) for m in pytest_md] == [(i, "test_repeated.py::test_answer") for i in range(3)]


def test_trials_repeated_with_count_are_distinct_trials_of_one_case(bt):
    """``trials=2`` under ``--count 2`` runs four copies of one case: four trial indexes, one
    ``case`` id (else two half-cases whose trials 0 and 1 each appear twice)."""
    bt.pytester.makepyfile(
        test_trials_count='''
        import pytest
        from pytest_braintrust import eval_case

        @eval_case(trials=2)
        @pytest.mark.parametrize("q", ["a"])
        def test_answer(q):
            return q
        '''
    )
    result = bt.run("--braintrust", "--count", "2")
    result.assert_outcomes(passed=4)
    pytest_md = [r["metadata"]["pytest"] for r in bt.rows() if not r.get("span_parents")]
    assert sorted(m["trial_index"] for m in pytest_md) == [0, 1, 2, 3]
    assert {m["case"] for m in pytest_md} == {"test_trials_count.py::test_answer[a]"}


def test_objects_inside_a_parameter_are_logged_without_their_addresses(bt):
    """A configuration dict (or tuple) holding a pipeline function or a client: its objects
    are named by the parameter's position, as a top-level object is, so runs compare."""
    bt.pytester.makepyfile(
        test_configs='''
        import pytest
        from pytest_braintrust import eval_case

        def rag(question):
            return question

        class Client:
            pass

        @eval_case
        @pytest.mark.parametrize("config", [{"pipeline": rag, "client": Client(), "k": 3}, (rag, 1)])
        def test_config(config):
            return 1
        '''
    )
    bt.run("--braintrust").assert_outcomes(passed=2)
    inputs = sorted((r["input"] for r in bt.rows() if not r.get("span_parents")), key=str)
    assert inputs == [
        {"config": ["<function rag #1>", 1]},
        {"config": {"client": "<test_configs.Client object #0>", "k": 3, "pipeline": "<function rag #0>"}},
    ]


def test_an_empty_parameter_set_logs_no_made_up_input(bt):
    """``parametrize("q", [])`` (cases read from an empty folder): pytest skips one ``[NOTSET]``
    item; its row has no input rather than ``{"q": 0}`` (the placeholder's enum value)."""
    bt.pytester.makepyfile(
        test_empty='''
        import pytest
        from pytest_braintrust import eval_case

        @eval_case
        @pytest.mark.parametrize("q", [])
        def test_answer(q):
            return q
        '''
    )
    bt.run("--braintrust").assert_outcomes(skipped=1)
    (root,) = [r for r in bt.rows() if not r.get("span_parents")]
    assert root["metadata"]["pytest"]["outcome"] == "skipped"
    assert root.get("input") is None
