"""Which tests are cases, what ``@eval_case`` declares, and the row layout of one case
(issue items 1, 4 and 5), read back from the local store."""

from __future__ import annotations

import json
import re

import pytest
from plugin_helpers import tree

SUITE = '''
import pytest
from pytest_braintrust import eval_case


def exact(output, expected):
    return 1.0 if output == expected else 0.0


@eval_case(input={"q": "2+2"}, expected=4, metadata={"owner": "me"}, tags=["math"], scorers=[exact], name="adds")
def test_adds(braintrust_case):
    assert braintrust_case.input == {"q": "2+2"}
    assert braintrust_case.expected == 4
    braintrust_case.log_output(4)
    braintrust_case.log_metadata(model="m1")
    braintrust_case.score("style", 0.5)
    braintrust_case.check("short", False, "too long")


@pytest.mark.braintrust
@pytest.mark.parametrize("word, expected", [("a", "A"), ("bb", "BB")], ids=["one", "two"])
def test_upper(word, expected):
    return word.upper()


def test_requests_the_fixture(braintrust_case):
    braintrust_case.log(output="plain", metadata={"k": 1})


def test_unmarked():
    pass


@eval_case(metadata={"level": "class"}, tags=["cls"])
class TestInClass:
    def test_one(self):
        pass

    @eval_case(metadata={"extra": True}, tags=["fn"])
    def test_two(self, braintrust_case):
        assert braintrust_case.metadata == {"level": "class", "extra": True}
'''


def test_cases_rows_and_layout(bt):
    bt.pytester.makepyfile(test_suite=SUITE)
    result = bt.run("--braintrust", "--braintrust-project", "cases")
    result.assert_outcomes(passed=7)
    experiments = bt.experiments("cases")
    assert len(experiments) == 1
    rows = bt.rows(experiments[0])
    roots = {r["span_attributes"]["name"]: r for r in rows if not r.get("span_parents")}
    # Unmarked tests are untouched; the others are one root (type eval) each.
    assert sorted(roots) == [
        "adds",
        "test_one",
        "test_requests_the_fixture",
        "test_two",
        "test_upper[one]",
        "test_upper[two]",
    ]
    assert {r["span_attributes"]["type"] for r in roots.values()} == {"eval"}
    t = tree(rows)

    adds = roots["adds"]
    assert adds["input"] == {"q": "2+2"}
    assert adds["expected"] == 4
    assert adds["output"] == 4
    assert adds["tags"] == ["math"]
    assert adds["scores"] == {"pass": 1, "style": 0.5, "short": 0}
    assert adds["metadata"]["owner"] == "me" and adds["metadata"]["model"] == "m1"
    pytest_md = adds["metadata"]["pytest"]
    assert pytest_md["nodeid"] == "test_suite.py::test_adds"
    assert pytest_md["file"] == "test_suite.py"
    assert pytest_md["line"] == 9  # where pytest locates the test (its first decorator)
    assert pytest_md["outcome"] == "passed"
    assert pytest_md["duration"] >= 0
    assert "braintrust" in pytest_md["markers"]
    # Eval's layout: a task child and one score span per declared scorer.
    assert t.kinds(adds) == [("exact", "score"), ("task", "task")]
    task = t.child(adds, "task")
    assert task["input"] == {"q": "2+2"} and task["output"] == 4
    score = t.child(adds, "exact")
    assert score["scores"] == {"exact": 1}
    assert score["span_attributes"]["purpose"] == "scorer"

    # Parametrize values are the input (a param named "expected" is the case's expected);
    # the return value is the output.
    upper = roots["test_upper[two]"]
    assert upper["input"] == {"word": "bb"}
    assert upper["expected"] == "BB"
    assert upper["output"] == "BB"
    assert upper["metadata"]["pytest"]["parametrize_id"] == "two"
    assert sorted(upper["metadata"]["pytest"]["markers"]) == ["braintrust", "parametrize"]

    plain = roots["test_requests_the_fixture"]
    assert plain["output"] == "plain" and plain["metadata"]["k"] == 1
    assert plain["scores"] == {"pass": 1}

    # Class marks apply to every method; closer marks merge metadata and add tags.
    assert roots["test_one"]["metadata"]["level"] == "class"
    assert roots["test_one"]["tags"] == ["cls"]
    assert roots["test_two"]["metadata"]["extra"] is True
    assert sorted(roots["test_two"]["tags"]) == ["cls", "fn"]
    assert roots["test_two"]["metadata"]["pytest"]["nodeid"] == "test_suite.py::TestInClass::test_two"


@pytest.mark.parametrize("expression, selected", [
    ("braintrust", ["test_adds", "test_one", "test_requests_the_fixture", "test_two", "test_upper[one]", "test_upper[two]"]),
    ("not braintrust", ["test_unmarked"]),
])
def test_the_marker_expression_selects_every_case(bt, expression, selected):
    """``-m braintrust`` runs exactly the eval cases, a test that only requests the case fixture
    included, and ``-m "not braintrust"`` (a unit-test job) exactly the others; with or without
    ``--braintrust``."""
    bt.pytester.makepyfile(test_suite=SUITE)
    for args in ([], ["--braintrust"]):
        result = bt.run("-m", expression, "-v", *args)
        ran = sorted(re.findall(r"::(?:TestInClass::)?(\S+) PASSED", result.stdout.str()))
        assert ran == selected, result.stdout.str()
    if expression == "not braintrust":
        assert bt.experiments() == []  # (no case ran: no experiment)
        return
    roots = {row["span_attributes"]["name"] for row in bt.rows() if not row.get("span_parents")}
    assert roots == {"adds", "test_one", "test_requests_the_fixture", "test_two", "test_upper[one]", "test_upper[two]"}


def test_module_mark_and_trials(bt):
    bt.pytester.makepyfile(
        test_mod='''
        import pytest
        from pytest_braintrust import eval_case

        pytestmark = eval_case(tags=["module"])

        def test_plain():
            pass

        @eval_case(input="x", trials=3)
        def test_flaky(braintrust_case, braintrust_trial):
            braintrust_case.log_output(braintrust_trial)
            assert braintrust_trial != 2
        '''
    )
    result = bt.run("--braintrust", "-v")
    result.stdout.fnmatch_lines(
        [
            "*test_mod.py::test_flaky[[]trial-1[]] PASSED*",
            "*test_mod.py::test_flaky[[]trial-2[]] FAILED*",
            "*test_mod.py::test_flaky[[]trial-3[]] PASSED*",
        ]
    )
    result.assert_outcomes(passed=3, failed=1)
    # Default project: the rootdir's name.
    experiments = bt.experiments(bt.path.name)
    assert len(experiments) == 1
    roots = bt.roots(experiments[0])
    assert sorted(roots) == ["test_flaky[trial-1]", "test_flaky[trial-2]", "test_flaky[trial-3]", "test_plain"]
    assert roots["test_plain"]["tags"] == ["module"]
    for n in (1, 2, 3):
        row = roots[f"test_flaky[trial-{n}]"]
        assert row["input"] == "x"  # the trial number is not part of the input
        assert row["output"] == n
        assert row["metadata"]["pytest"]["trial_index"] == n - 1
        assert row["metadata"]["pytest"]["case"] == "test_mod.py::test_flaky"  # one id for every trial
    assert roots["test_flaky[trial-2]"]["scores"]["pass"] == 0
    assert "case" not in roots["test_plain"]["metadata"]["pytest"]


def test_the_closest_mark_chooses_the_scorers(bt):
    bt.pytester.makepyfile(
        test_suite_closest='''
        from pytest_braintrust import eval_case

        def module_scorer(output):
            return 1.0

        def function_scorer(output):
            return 0.5

        pytestmark = eval_case(scorers=[module_scorer], tags=["module"])

        @eval_case(input="f", scorers=[function_scorer], tags=["function"])
        def test_own_scorers():
            return "x"

        def test_module_scorers():
            return "y"
        '''
    )
    bt.run("--braintrust").assert_outcomes(passed=2)
    rows = bt.rows()
    roots = bt.roots()
    scorers = {
        name: sorted(r["span_attributes"]["name"] for r in rows if r["root_span_id"] == root["root_span_id"] and r["span_attributes"]["type"] == "score")
        for name, root in roots.items()
    }
    assert scorers == {"test_own_scorers": ["function_scorer"], "test_module_scorers": ["module_scorer"]}
    assert roots["test_own_scorers"]["tags"] == ["module", "function"]


def test_eval_case_written_bare_marks_the_test(bt):
    """``@eval_case`` without parentheses, as pytest's marks allow: the test must not vanish
    (it used to become a mark object, which pytest skips with only a warning)."""
    bt.pytester.makepyfile(
        test_suite_bare='''
        from pytest_braintrust import eval_case

        @eval_case
        def test_function():
            return "out"

        @eval_case
        class TestGroup:
            def test_method(self):
                pass
        '''
    )
    result = bt.run("--braintrust")
    result.assert_outcomes(passed=2)
    assert "cannot collect" not in result.stdout.str()
    roots = bt.roots()
    assert sorted(roots) == ["test_function", "test_method"]
    assert roots["test_function"]["output"] == "out"


def test_a_parameter_named_input_is_the_input_itself(bt):
    """``parametrize("input, expected", ...)`` reads as the case's input and expected: the input
    is the value, not ``{"input": value}``; other parameters (a fixture's) go to metadata."""
    bt.pytester.makepyfile(
        test_suite_input_param='''
        import pytest
        from pytest_braintrust import eval_case

        class Client:
            pass

        @pytest.fixture(params=["gpt", "claude"])
        def model(request):
            return request.param

        @eval_case()
        @pytest.mark.parametrize("input, expected", [("hi", "HI")])
        def test_upper(braintrust_case, input, expected, model):
            assert braintrust_case.input == "hi"
            return input.upper()

        @eval_case()
        @pytest.mark.parametrize("input", [Client()])
        def test_object(input):
            pass
        '''
    )
    bt.run("--braintrust").assert_outcomes(passed=3)
    roots = bt.roots()
    gpt = roots["test_upper[gpt-hi-HI]"]
    assert (gpt["input"], gpt["expected"], gpt["output"]) == ("hi", "HI", "HI")
    assert gpt["metadata"]["params"] == {"model": "gpt"}
    assert roots["test_upper[claude-hi-HI]"]["metadata"]["params"] == {"model": "claude"}
    obj = roots["test_object[input0]"]
    assert obj["input"] == "<test_suite_input_param.Client object #0>"  # comparable across runs
    assert "params" not in obj["metadata"]


def test_pytest_repeat_copies_are_trials_of_one_case(bt):
    """pytest-repeat's ``--count`` parametrizes a private fixture: its step number is the trial,
    not part of the input (else every copy would be a different case to compare)."""
    bt.pytester.makepyfile(
        test_suite_repeat='''
        import pytest
        from pytest_braintrust import eval_case

        @eval_case()
        @pytest.mark.parametrize("q", ["a", "b"])
        def test_q(braintrust_case, q):
            assert braintrust_case.input == {"q": q}
            return q.upper()
        '''
    )
    result = bt.run("--braintrust", "--count", "3")
    result.assert_outcomes(passed=6)
    (experiment,) = bt.experiments(bt.path.name)
    roots = bt.roots(experiment)
    assert len(roots) == 6
    for name, row in roots.items():
        q, step, _ = name[len("test_q["):-1].split("-")
        assert row["input"] == {"q": q} and row["output"] == q.upper()
        assert row["metadata"]["pytest"]["trial_index"] == int(step) - 1
        assert row["metadata"]["pytest"]["case"] == f"test_suite_repeat.py::test_q[{q}]"


def test_objects_as_parameters_are_stable_inputs_and_stay_the_tests_own(bt):
    """Parametrizing over clients or pipeline functions: the value that cannot be deep-copied (a
    lock inside) is no internal error, the fixture's input holds the objects themselves, and the
    logged input names them without a memory address, so a second run compares with the first."""
    bt.pytester.makepyfile(
        test_suite_objects='''
        import threading
        import pytest
        from pytest_braintrust import eval_case


        class Client:
            def __init__(self, name):
                self.name, self.lock = name, threading.Lock()


        def rag_v1(q):
            return q


        @eval_case()
        @pytest.mark.parametrize("pipeline", [pytest.param(rag_v1, id="rag_v1"), len])
        @pytest.mark.parametrize("client", [Client("a"), Client("b")], ids=["a", "b"])
        def test_objects(braintrust_case, client, pipeline):
            assert braintrust_case.input == {"client": client, "pipeline": pipeline}
            return pipeline(client.name)
        '''
    )
    first = bt.run("--braintrust", "--braintrust-project", "objects")
    second = bt.run("--braintrust", "--braintrust-project", "objects")
    first.assert_outcomes(passed=4)
    second.assert_outcomes(passed=4)
    assert "diffs over" not in second.stdout.str()  # the same four inputs as the first run
    earlier, later = bt.experiments("objects")
    inputs = sorted(json.dumps(row["input"], sort_keys=True) for row in bt.roots(earlier).values())
    assert inputs == sorted(json.dumps(row["input"], sort_keys=True) for row in bt.roots(later).values())
    assert bt.roots(later)["test_objects[a-rag_v1]"]["input"] == {
        "client": "<test_suite_objects.Client object #0>", "pipeline": "<function rag_v1 #0>"}
    assert bt.roots(later)["test_objects[b-len]"]["input"] == {
        "client": "<test_suite_objects.Client object #1>", "pipeline": "<built-in function len>"}  # (no address: as it is)


def test_eval_case_rejects_bad_arguments(bt):
    bt.pytester.makepyfile(
        test_bad='''
        import pytest
        from pytest_braintrust import eval_case

        def test_trials():
            with pytest.raises(ValueError, match="trials"):
                eval_case(trials=0)

        @pytest.mark.braintrust(inputs=1)
        def test_typo():
            pass
        '''
    )
    result = bt.run("--braintrust")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*unknown braintrust marker argument*inputs*"])


@pytest.mark.parametrize(
    "arguments, message",
    [
        ("scorers=['Factuality']", "scorers= takes functions or scorer objects (e.g. autoevals' Factuality), got 'Factuality' (str); pass the scorer itself, not its name."),
        ("scorers=exact", "scorers= must be a list of scorers, got function (write scorers=[exact])."),
        ("tags='smoke'", "tags= must be a list of strings, got the string 'smoke' (write tags=['smoke'])."),
        ("metadata=['model', 'gpt']", "metadata= must be a dict, got list ['model', 'gpt']."),
        ("metadata={1: 'gpt'}", "metadata= keys must be strings, got 1 (write '1')."),
        ("input='x', data=[{'input': 'a'}]", "input= cannot be used with data=; drop it (each data record has its own input and expected)."),
        ("input='x', expected='y', data=[{'input': 'a'}]", "input= and expected= cannot be used with data=; drop them (each data record has its own input and expected)."),
        ("name=3", "name= must be a string, got 3."),
    ],
)
def test_a_bad_declaration_fails_collection_naming_the_argument_and_the_fix(bt, arguments, message):
    """Both forms: ``eval_case(...)`` fails where it is written; the marker at collection. Either
    way no test of the module runs (a declaration that is quietly ignored would log wrong data)."""
    bt.pytester.makepyfile(
        test_declared=f'''
        from pytest_braintrust import eval_case

        def exact(output, expected):
            return output == expected

        @eval_case({arguments})
        def test_declared():
            pass
        ''',
        test_marked=f'''
        import pytest

        def exact(output, expected):
            return output == expected

        @pytest.mark.braintrust({arguments})
        def test_marked():
            pass
        ''',
    )
    result = bt.run("--braintrust")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # collection errors
    result.stdout.fnmatch_lines([f"E   ValueError: eval_case: {message}"])
    result.stdout.fnmatch_lines([f"test_marked.py::test_marked: braintrust marker: {message}"])
    assert bt.experiments() == []


def test_a_subclass_mark_overrides_its_base_class_mark(bt):
    """pytest lists a class's marks base class first; a subclass's ``@eval_case`` is closer to its
    tests than its base's, so what the subclass declares wins (as a function's mark beats its class's)."""
    bt.pytester.makepyfile(
        test_suite_inherited='''
        from pytest_braintrust import eval_case

        @eval_case(input="base input", expected="base", metadata={"level": "base", "kept": 1}, tags=["base"])
        class TestBase:
            def test_answer(self, braintrust_case):
                return braintrust_case.input

        @eval_case(input="sub input", metadata={"level": "sub"}, tags=["sub"])
        class TestSub(TestBase):
            pass

        @eval_case(expected="mid")
        class TestMiddle(TestBase):
            pass

        class TestLeaf(TestMiddle):
            pass
        '''
    )
    bt.run("--braintrust").assert_outcomes(passed=4)
    roots = [r for r in bt.rows() if r["span_attributes"]["type"] == "eval"]
    by_class = {r["metadata"]["pytest"]["nodeid"].split("::")[1]: r for r in roots}
    assert set(by_class) == {"TestBase", "TestSub", "TestMiddle", "TestLeaf"}, by_class.keys()
    base, sub, middle, leaf = (by_class[name] for name in ("TestBase", "TestSub", "TestMiddle", "TestLeaf"))
    assert (base["input"], base["expected"], base["output"]) == ("base input", "base", "base input")
    assert (sub["input"], sub["expected"], sub["output"]) == ("sub input", "base", "sub input")
    assert sub["metadata"]["level"] == "sub" and sub["metadata"]["kept"] == 1
    assert sub["tags"] == ["base", "sub"]
    assert (middle["input"], middle["expected"]) == ("base input", "mid")
    assert (leaf["input"], leaf["expected"]) == ("base input", "mid")
