"""The ``braintrust_case`` fixture (issue item 5): output, metadata, scores, soft checks, declared
scorers (autoevals included), feedback, the span; return values as output without pytest's
warning; async tests; spans of the code under test nesting under the case."""

from __future__ import annotations

from plugin_helpers import tree


def test_case_fixture_logs_scores_checks_feedback_and_spans(bt):
    bt.pytester.makepyfile(
        test_suite_fixture='''
        import braintrust
        from autoevals import ExactMatch, Levenshtein
        from pytest_braintrust import eval_case


        def shouting(output):
            return {"name": "shouting", "score": 1.0 if output.isupper() else 0.0, "metadata": {"len": len(output)}}


        @braintrust.traced
        def greet(name):
            with braintrust.start_span(name="lookup", type="tool") as span:
                span.log(output={"known": True})
            return "hello " + name


        @eval_case(input="world", expected="hello world", scorers=[ExactMatch, Levenshtein(), shouting], metadata={"suite": "fx"})
        def test_everything(braintrust_case, braintrust_span):
            assert braintrust_span is braintrust_case.span
            output = greet(braintrust_case.input)
            braintrust_case.log_output(output)
            braintrust_case.log(metadata={"model": "m"}, tags=["extra"], scores={"manual": 0.25})
            assert braintrust_case.check("polite", "please" in output, "no please") is False
            assert braintrust_case.check("short", len(output) < 20) is True
            braintrust_case.feedback(comment="looks right", scores={"human": 1})
            with braintrust_case.start_span(name="custom", type="function") as span:
                span.log(output=1)


        @eval_case(input="x", expected="declared")
        def test_explicit_scorers(braintrust_case):
            braintrust_case.log(expected="X")
            scores = braintrust_case.run_scorers("X", scorers=[ExactMatch()])
            assert scores == {"ExactMatch": 1}
        '''
    )
    result = bt.run("--braintrust")
    result.assert_outcomes(passed=2)
    rows = bt.rows()
    roots = {r["span_attributes"]["name"]: r for r in rows if r.get("span_attributes") and not r.get("span_parents")}
    t = tree(rows)
    root = roots["test_everything"]
    assert root["output"] == "hello world"
    assert root["metadata"]["suite"] == "fx" and root["metadata"]["model"] == "m"
    assert root["tags"] == ["extra"]
    # pass, the logged score, the soft checks, the feedback score: all on the root.
    assert root["scores"] == {"pass": 1, "manual": 0.25, "polite": 0, "short": 1, "human": 1}
    assert root["metadata"]["score_metadata"] == {"polite": {"message": "no please"}}
    # Declared scorers (autoevals classes and instances, plain functions): one score span each.
    assert t.kinds(root) == [("ExactMatch", "score"), ("Levenshtein", "score"), ("custom", "function"), ("shouting", "score"), ("task", "task")]
    assert t.child(root, "ExactMatch")["scores"] == {"ExactMatch": 1}
    assert t.child(root, "Levenshtein")["scores"] == {"Levenshtein": 1}
    assert t.child(root, "shouting")["scores"] == {"shouting": 0}
    assert t.child(root, "shouting")["metadata"] == {"len": 11}
    # The code under test nests under the task span.
    task = t.child(root, "task")
    greet = t.child(task, "greet")
    assert greet["input"] == {"name": "world"} and greet["output"] == "hello world"
    assert t.child(greet, "lookup")["span_attributes"]["type"] == "tool"
    # Feedback: the comment row points at the case's row.
    comments = [r for r in rows if r.get("comment")]
    assert [(c["comment"]["text"], c["origin"]["id"]) for c in comments] == [("looks right", root["id"])]

    explicit = roots["test_explicit_scorers"]
    assert t.kinds(explicit) == [("ExactMatch", "score"), ("task", "task")]
    assert explicit["output"] == "X" and explicit["expected"] == "X"


RETURNS = '''
import pytest
from pytest_braintrust import eval_case


@eval_case(input=1)
def test_returns():
    return {"answer": 42}


@eval_case(input=2)
def test_logs_and_returns(braintrust_case):
    braintrust_case.log_output("logged")
    return "returned"


@pytest.mark.braintrust
@pytest.mark.parametrize("n", [3])
def test_parametrized_returns(n):
    return n * 2


class TestMethods:
    @eval_case(input=4)
    def test_method_returns(self):
        return "from a method"
'''


def test_return_value_is_output_without_warning(bt):
    bt.pytester.makepyfile(test_suite_returns=RETURNS)
    result = bt.run("--braintrust", "-W", "error::pytest.PytestReturnNotNoneWarning")
    result.assert_outcomes(passed=4)
    roots = bt.roots()
    assert roots["test_returns"]["output"] == {"answer": 42}
    assert roots["test_logs_and_returns"]["output"] == "logged"  # a logged output wins
    assert roots["test_parametrized_returns[3]"]["output"] == 6
    assert roots["test_method_returns"]["output"] == "from a method"
    assert tree(bt.rows()).child(roots["test_returns"], "task")["output"] == {"answer": 42}


def test_async_tests_and_traced_code(bt):
    bt.pytester.makepyfile(
        test_suite_async='''
        import asyncio
        import braintrust
        import pytest
        from pytest_braintrust import eval_case


        @braintrust.traced
        async def fetch(q):
            await asyncio.sleep(0)
            with braintrust.start_span(name="inner"):
                pass
            return q.upper()


        async def upper_scorer(output, expected):
            await asyncio.sleep(0)
            return 1.0 if output == expected else 0.0


        @pytest.mark.asyncio
        @eval_case(input="abc", expected="ABC", scorers=[upper_scorer])
        async def test_async(braintrust_case):
            out = await fetch(braintrust_case.input)
            results = await asyncio.gather(fetch("x"), fetch("y"))
            assert results == ["X", "Y"]
            return out


        @pytest.mark.asyncio
        @eval_case(input="q", expected="Q", scorers=[upper_scorer])
        async def test_async_explicit_scoring(braintrust_case):
            braintrust_case.log_output("Q")
            assert braintrust_case.run_scorers() == {"upper_scorer": 1}
        '''
    )
    result = bt.run("--braintrust", "-W", "error::pytest.PytestReturnNotNoneWarning")
    result.assert_outcomes(passed=2)
    rows = bt.rows()
    t = tree(rows)
    roots = {r["span_attributes"]["name"]: r for r in rows if not r.get("span_parents")}
    assert sorted(roots) == ["test_async", "test_async_explicit_scoring"]
    root = roots["test_async"]
    assert root["output"] == "ABC"
    assert root["scores"]["pass"] == 1
    assert t.child(root, "upper_scorer")["scores"] == {"upper_scorer": 1}
    task = t.child(root, "task")
    fetches = [c for c in t.children(task) if c["span_attributes"]["name"] == "fetch"]
    assert sorted(f["output"] for f in fetches) == ["ABC", "X", "Y"]
    for f in fetches:
        assert [c["span_attributes"]["name"] for c in t.children(f)] == ["inner"]
    explicit = roots["test_async_explicit_scoring"]
    assert [c["span_attributes"]["name"] for c in t.children(explicit) if c["span_attributes"].get("type") == "score"] == ["upper_scorer"]


def test_wrong_values_are_refused_in_the_test_and_the_run_goes_on(bt):
    """``braintrust_case.log`` checks tags, metadata and scores as ``span.log`` does: a wrong
    value fails that test at its line with a message naming the rule (it once stopped the whole
    run with an INTERNALERROR when the case ended). Values set directly on the case's attributes
    fail the test at teardown, and the row keeps them as text."""
    bt.pytester.makepyfile(
        test_suite_wrong='''
        from pytest_braintrust import eval_case

        @eval_case(input="a")
        def test_tag_not_a_string(braintrust_case):
            braintrust_case.log(tags=[1])

        @eval_case(input="b")
        def test_tags_as_a_string(braintrust_case):
            braintrust_case.log(tags="smoke")

        @eval_case(input="c")
        def test_metadata_not_a_dict(braintrust_case):
            braintrust_case.log(metadata=["x"])

        @eval_case(input="d")
        def test_score_out_of_range(braintrust_case):
            braintrust_case.log(output="kept", scores={"quality": 7})

        @eval_case(input="e", tags=["declared"])
        def test_changed_directly(braintrust_case):
            braintrust_case.tags.append(1)
            braintrust_case.metadata[2] = "two"
            braintrust_case.scores["quality"] = 7
            braintrust_case.scores["fine"] = 0.5

        @eval_case(input="f")
        def test_after_them():
            pass
        '''
    )
    result = bt.run("--braintrust")
    assert "INTERNALERROR" not in result.stdout.str()
    result.assert_outcomes(passed=2, failed=4, errors=1)  # (test_changed_directly passed its call, erred at teardown)
    result.stdout.fnmatch_lines([
        "*ERROR at teardown of test_changed_directly*",
        "braintrust_case.tags: tags must be strings, got 1. braintrust_case.metadata: metadata keys must be strings, got 2."
        " braintrust_case.scores: score 'quality' must be between 0 and 1, got 7.*",
        "*ValueError: tags must be strings, got 1.",
        "*ValueError: tags must be a list of unique strings, got the string 'smoke' (write tags=[[]'smoke'[]]).",
        "*ValueError: metadata must be a dict, got list.",
        "*ValueError: score 'quality' must be between 0 and 1, got 7.",
    ])
    roots = bt.roots()
    assert set(roots) == {"test_tag_not_a_string", "test_tags_as_a_string", "test_metadata_not_a_dict",
                          "test_score_out_of_range", "test_changed_directly", "test_after_them"}
    refused = roots["test_score_out_of_range"]
    assert "output" not in refused and "quality" not in refused["scores"]  # (nothing of the refused call)
    assert "test_suite_wrong.py:17" in refused["error"]
    changed = roots["test_changed_directly"]
    assert changed["tags"] == ["declared", "1"]
    assert changed["metadata"]["2"] == "two" and changed["metadata"]["refused_scores"] == {"quality": "7"}
    assert changed["scores"] == {"pass": 0, "fine": 0.5}
    assert changed["metadata"]["pytest"]["phase"] == "teardown"
    assert roots["test_after_them"]["scores"] == {"pass": 1}


def test_a_value_set_directly_is_kept_when_the_run_stops_in_that_test(bt):
    bt.pytester.makepyfile(
        test_suite_stop='''
        import pytest
        from pytest_braintrust import eval_case

        @eval_case(input="a")
        def test_stops(braintrust_case):
            braintrust_case.tags.append(1)
            pytest.exit("stop here")
        '''
    )
    result = bt.run("--braintrust")
    assert "INTERNALERROR" not in result.stdout.str()
    (root,) = bt.roots().values()
    assert root["tags"] == ["1"] and root["metadata"]["pytest"]["outcome"] == "interrupted"


def test_a_refused_value_fails_at_the_tests_line_without_the_sdks_frames(bt):
    """pytest shows a refused value's failure at the test's own line with the message, not the
    SDK's validation code below it (``--fulltrace`` still shows every frame)."""
    bt.pytester.makepyfile(
        test_suite_refused='''
        import braintrust
        from pytest_braintrust import eval_case

        @eval_case(input="a")
        def test_on_the_case(braintrust_case):
            braintrust_case.score("quality", 7)

        @eval_case(input="b")
        def test_on_the_current_span(braintrust_case):
            braintrust.current_span().log(scores={"quality": 8})

        @eval_case(input="c")
        def test_on_a_child_span(braintrust_case):
            with braintrust.start_span(name="step") as span:
                span.log(metadata=["x"])

        @eval_case(input="d")
        def test_on_the_experiment(braintrust_case):
            braintrust.log(input="d", output="x", scores={"quality": 9})

        @eval_case(input="e")
        def test_a_scorer_by_name(braintrust_case):
            braintrust_case.run_scorers("x", scorers=["Factuality"])
        '''
    )
    result = bt.run("--braintrust")
    result.assert_outcomes(failed=5)
    output = result.stdout.str()
    for line, message in [
        ('braintrust_case.score("quality", 7)', "ValueError: score 'quality' must be between 0 and 1, got 7."),
        ('braintrust.current_span().log(scores={"quality": 8})', "ValueError: score 'quality' must be between 0 and 1, got 8."),
        ('span.log(metadata=[[]"x"[]])', "ValueError: metadata must be a dict, got list."),
        ('braintrust.log(input="d", output="x", scores={"quality": 9})', "ValueError: score 'quality' must be between 0 and 1, got 9."),
        ('braintrust_case.run_scorers("x", scorers=[[]"Factuality"[]])',
         "ValueError: run_scorers: scorers= takes functions or scorer objects (e.g. autoevals' Factuality), got 'Factuality' (str);"
         " pass the scorer itself, not its name."),
    ]:
        result.stdout.fnmatch_lines([f">*{line}", f"E*{message}"], consecutive=True)
    assert "record.py" not in output and "def validate_" not in output and "session.py" not in output, output
    assert "scorer 'str' failed" not in output  # (a scorer given by name is the test's mistake, not a scorer's failure)

    full = bt.run("--braintrust", "--fulltrace")
    assert "record.py" in full.stdout.str()


def test_attachments_logged_in_cases_are_stored_once_also_under_xdist(bt):
    """An attachment a case logs (or returns) is written as its reference, its bytes go to the
    local store once, and the summary counts them, alone and with ``-n 2``."""
    bt.pytester.makepyfile(
        test_suite_files='''
        import pytest
        from braintrust import Attachment, JSONAttachment
        from pytest_braintrust import eval_case

        SHARED = Attachment(data=b"shared rubric", filename="rubric.txt", content_type="text/plain")

        @eval_case(input={"q": "draw"})
        def test_draws(braintrust_case):
            braintrust_case.log(output={"image": Attachment(data=b"png!", filename="out.png", content_type="image/png")},
                                metadata={"rubric": SHARED})

        @pytest.mark.parametrize("n", [1, 2])
        @eval_case()
        def test_returns(n):
            return JSONAttachment({"n": n}, filename=f"r{n}.json")
        '''
    )
    for args in ((), ("-n", "2")):
        result = bt.run_subprocess("--braintrust", "-p", "no:randomly", *args)
        assert result.ret == 0, result.stdout.str()
        result.stdout.fnmatch_lines(["rows: * sent, 0 spilled, 0 dropped; attachments: * stored (flush *s)"])
        experiment = bt.experiments()[-1]
        roots = bt.roots(experiment)
        image = roots["test_draws"]["output"]["image"]
        assert image["type"] == "braintrust_attachment" and image["filename"] == "out.png"
        returned = roots["test_returns[1]"]["output"]
        with bt.store() as store:
            assert store.get_attachment(image["key"])["data"] == b"png!"
            assert store.get_attachment(returned["key"])["data"] == b'{"n": 1}'
    with bt.store() as store:
        stored = store.connection().execute("SELECT filename, COUNT(*) FROM attachments GROUP BY filename").fetchall()
    # each run stores its own attachments; the module-level one once per process that logged it
    assert dict(stored)["out.png"] == 2 and dict(stored)["r1.json"] == 2


def test_the_case_span_injects_its_trace_for_a_service_the_test_calls(bt):
    """``braintrust_span.inject()`` (the case's root span, written late by the plugin) and the
    current span's (the task's) give W3C headers: a service that receives them continues the
    case's trace, under the span that injected them (tests/sdk/test_distributed_tracing.py)."""
    bt.pytester.makepyfile(test_suite_w3c='''
        import braintrust
        from pytest_braintrust import eval_case


        def service(headers):
            with braintrust.start_span(name="service", parent=headers) as span:
                span.log(output="served")


        @eval_case(input="q")
        def test_calls_a_service(braintrust_span):
            service(braintrust.current_span().inject())
            service(braintrust_span.inject())
    ''')
    result = bt.run("--braintrust")
    assert result.ret == 0, result.stdout.str()
    rows = bt.rows()
    by_span_id = {r["span_id"]: r for r in rows}
    root = bt.roots()["test_calls_a_service"]
    services = [r for r in rows if r["span_attributes"]["name"] == "service"]
    assert len(services) == 2 and {r["root_span_id"] for r in services} == {root["root_span_id"]}
    parents = sorted(by_span_id[r["span_parents"][0]]["span_attributes"]["name"] for r in services)
    assert parents == ["task", "test_calls_a_service"]


def test_unittest_methods_and_anyio_tests_are_cases(bt):
    """Cases that pytest runs without its own function call: a ``unittest.TestCase`` method (its
    failure mapped like an assertion's), and an async test run by anyio's plugin rather than
    pytest-asyncio (its return value is the output there too)."""
    bt.pytester.makepyfile(
        test_suite_other_runners='''
        import unittest

        import braintrust
        import pytest
        from pytest_braintrust import eval_case


        class TestBot(unittest.TestCase):
            @pytest.mark.braintrust(input="hi", expected="hello")
            def test_greets(self):
                braintrust.current_span().log(output="hello")

            @eval_case(input="x")
            def test_fails(self):
                self.assertEqual(1, 2)


        @pytest.fixture
        def anyio_backend():
            return "asyncio"


        @pytest.mark.anyio
        @eval_case(input={"q": 1}, expected=2)
        async def test_anyio_returns(braintrust_case):
            with braintrust.start_span(name="inner"):
                pass
            return braintrust_case.input["q"] + 1
        '''
    )
    result = bt.run("--braintrust")
    result.assert_outcomes(passed=2, failed=1)
    rows = bt.rows()
    t = tree(rows)
    roots = {r["span_attributes"]["name"]: r for r in rows if not r.get("span_parents")}
    assert sorted(roots) == ["test_anyio_returns", "test_fails", "test_greets"]
    assert roots["test_greets"]["output"] == "hello" and roots["test_greets"]["scores"]["pass"] == 1
    failed = roots["test_fails"]
    assert failed["scores"]["pass"] == 0 and failed["metadata"]["pytest"]["outcome"] == "failed"
    assert "AssertionError: 1 != 2" in failed["error"]
    assert "AssertionError: 1 != 2" in t.child(failed, "task")["error"]
    anyio_root = roots["test_anyio_returns"]
    assert anyio_root["output"] == 2 and anyio_root["scores"]["pass"] == 1
    assert [c["span_attributes"]["name"] for c in t.children(t.child(anyio_root, "task"))] == ["inner"]


def test_the_case_span_answers_the_whole_span_interface(bt):
    """``braintrust_span`` (a deferred span until something needs a real one): renaming and
    attributes, link and permalink, export, flush, and the task span used as a context manager
    by code that expects a span."""
    bt.pytester.makepyfile(
        test_suite_span_interface='''
        import braintrust
        from pytest_braintrust import eval_case


        @eval_case(input="q")
        def test_span_interface(braintrust_span):
            braintrust_span.set_attributes(name="renamed case", span_attributes={"team": "search"})
            assert braintrust_span.name == "renamed case"
            assert isinstance(braintrust_span.link(), str)
            assert isinstance(braintrust_span.permalink(), str)
            assert isinstance(braintrust_span.export(), str)
            braintrust_span.flush()
            with braintrust.current_span() as task:  # (the task span; leaving the block ends it)
                task.log(metrics={"inside": 1}, metadata={"to_the_case": True})
            braintrust_span.log(output="a")
        '''
    )
    result = bt.run("--braintrust")
    result.assert_outcomes(passed=1)
    rows = bt.rows()
    roots = [row for row in rows if not row.get("span_parents")]
    assert [row["span_attributes"]["name"] for row in roots] == ["renamed case"]
    root = roots[0]
    assert root["span_attributes"]["team"] == "search" and root["span_attributes"]["type"] == "eval"
    assert root["output"] == "a" and root["scores"]["pass"] == 1
    assert root["metadata"]["to_the_case"] is True  # (a case's field, logged on the task span, goes to the case)
    task = tree(rows).child(root, "task")
    assert task["metrics"]["inside"] == 1 and task["metrics"]["end"] >= task["metrics"]["start"]
