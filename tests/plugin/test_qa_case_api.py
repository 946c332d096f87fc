"""Adversarial checks of the case API: declared scorers that fail the way tests do, scores
named like the outcome, ``run_scorers`` called twice, feedback during the test, data files and
sources that are read wrong, and bad ``trials=`` on the marker."""

from __future__ import annotations

import json

from plugin_helpers import tree


def _score_spans(bt, case_name):
    rows = bt.rows()
    t = tree(rows)
    root = next(r for r in rows if not r.get("span_parents") and r["span_attributes"]["name"] == case_name)
    return root, [r for r in t.children(root) if r["span_attributes"].get("type") == "score"]


def test_a_scorer_that_calls_pytest_fail_or_skip_only_fails_itself(bt):
    bt.pytester.makepyfile(
        test_suite='''
        import sys
        import pytest
        from pytest_braintrust import eval_case

        def strict(output):
            pytest.fail("judge says no")

        def needs_key(output):
            pytest.skip("no judge key")

        def quits(output):
            sys.exit(3)

        def fine(output):
            return 1

        @eval_case(input="a", scorers=[strict, needs_key, quits, fine])
        def test_scored(braintrust_case):
            return "a"

        def test_after():
            pass
        '''
    )
    result = bt.run("--braintrust")
    result.assert_outcomes(passed=2)
    assert "INTERNALERROR" not in result.stdout.str()
    root, spans = _score_spans(bt, "test_scored")
    assert root["scores"] == {"pass": 1} and root["metadata"]["pytest"]["outcome"] == "passed"
    errors = root["metadata"]["scorer_errors"]
    assert sorted(errors) == ["needs_key", "quits", "strict"]
    assert "judge says no" in errors["strict"] and "no judge key" in errors["needs_key"]
    assert {s["span_attributes"]["name"]: s.get("scores") for s in spans}["fine"] == {"fine": 1}
    result.stdout.fnmatch_lines(["*scorer 'strict' failed in 1 case*judge says no*"])


def test_a_score_named_pass_never_changes_the_outcome(bt):
    bt.pytester.makepyfile(
        test_suite='''
        import braintrust
        from pytest_braintrust import eval_case

        def judge(output):
            return {"name": "pass", "score": 0}

        @eval_case(input="a", scorers=[judge])
        def test_scorer_named_pass(braintrust_case):
            return "a"

        @eval_case(input="a")
        def test_score_pass(braintrust_case):
            braintrust_case.score("pass", 1)

        @eval_case(input="a")
        def test_check_pass(braintrust_case):
            braintrust_case.check("pass", True)

        @eval_case(input="a")
        def test_log_pass(braintrust_case):
            braintrust.current_span().log(scores={"pass": 1})

        @eval_case(input="a")
        def test_feedback_pass(braintrust_case):
            braintrust_case.feedback(scores={"pass": 1})

        @eval_case(input="a")
        def test_set_pass(braintrust_case):
            braintrust_case.scores["pass"] = 1
            assert False, "really failed"
        '''
    )
    result = bt.run("--braintrust")
    result.assert_outcomes(passed=1, failed=5, errors=1)  # (test_set_pass: also an error at teardown)
    roots = bt.roots()
    scorer_named = roots["test_scorer_named_pass"]
    assert scorer_named["scores"] == {"pass": 1}
    assert "returned a score named 'pass'" in scorer_named["metadata"]["scorer_errors"]["judge"]
    for name in ("test_score_pass", "test_check_pass", "test_log_pass", "test_feedback_pass"):
        assert roots[name]["scores"] == {"pass": 0}, name
        assert roots[name]["error"].startswith("ValueError: score 'pass' is the test's outcome"), name
    # The message names the rule and the fix, at the test's own line.
    result.stdout.fnmatch_lines(["*score 'pass' is the test's outcome (1 passed, 0 failed)*another name*"])
    set_directly = roots["test_set_pass"]
    assert set_directly["scores"] == {"pass": 0}
    assert set_directly["metadata"]["refused_scores"] == {"pass": "1"}


def test_run_scorers_twice_counts_each_scorer_once_and_declared_ones_are_not_rerun(bt):
    bt.pytester.makepyfile(
        test_suite='''
        from pytest_braintrust import eval_case

        calls = []

        def exact(output, expected):
            calls.append(output)
            return output == expected

        def extra(output):
            return 0.5

        @eval_case(input="a", expected="a", scorers=[exact])
        def test_twice(braintrust_case):
            assert braintrust_case.run_scorers("draft") == {"exact": 0}
            assert braintrust_case.run_scorers("a") == {"exact": 1}

        @eval_case(input="a", expected="a", scorers=[exact])
        def test_declared_then_extra(braintrust_case):
            braintrust_case.run_scorers("a")
            braintrust_case.run_scorers("b", scorers=[extra])

        def test_calls():
            assert calls == ["draft", "a", "a"]
        '''
    )
    result = bt.run("--braintrust")
    result.assert_outcomes(passed=3)
    root, spans = _score_spans(bt, "test_twice")
    counted = [s for s in spans if s.get("scores")]
    assert [s["scores"] for s in counted] == [{"exact": 1}]
    superseded = [s for s in spans if not s.get("scores")]
    assert [s["metadata"]["superseded"] for s in superseded] == ["the scorer was run again on this case; its last run counts"]
    _, spans = _score_spans(bt, "test_declared_then_extra")
    assert sorted(s["span_attributes"]["name"] for s in spans) == ["exact", "extra"]


def test_feedback_expected_given_during_the_test_stays_on_the_row(bt):
    bt.pytester.makepyfile(
        test_suite='''
        from pytest_braintrust import eval_case

        def exact(output, expected):
            return output == expected

        @eval_case(input="a", expected="a", scorers=[exact])
        def test_corrected(braintrust_case):
            braintrust_case.feedback(expected="b", comment="the reference was wrong")
            return "b"
        '''
    )
    bt.run("--braintrust").assert_outcomes(passed=1)
    root, spans = _score_spans(bt, "test_corrected")
    assert root["expected"] == "b"
    assert [s["scores"] for s in spans] == [{"exact": 1}]


def test_jsonl_with_bom_crlf_blank_lines_line_separators_and_no_final_newline(bt):
    records = [{"id": "bom", "input": "a"}, {"id": "sep", "input": "line\u2028break\x85next"}, {"id": "last", "input": "z"}]
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in records]
    (bt.path / "cases.jsonl").write_bytes(b"\xef\xbb\xbf" + lines[0] + b"\r\n\r\n  \r\n" + lines[1] + b"\r\n" + lines[2])
    bt.pytester.makepyfile(
        test_suite='''
        from pytest_braintrust import eval_case

        @eval_case(data="cases.jsonl")
        def test_case(braintrust_case):
            return braintrust_case.input
        '''
    )
    bt.run("--braintrust").assert_outcomes(passed=3)
    roots = bt.roots()
    assert sorted(roots) == ["test_case[bom]", "test_case[last]", "test_case[sep]"]
    assert roots["test_case[sep]"]["input"] == "line\u2028break\x85next"


def test_jsonl_that_is_not_utf8_names_the_line(bt):
    (bt.path / "cases.jsonl").write_bytes(b'{"input": "a"}\n{"input": "caf\xe9"}\n')
    bt.pytester.makepyfile(
        test_suite='''
        from pytest_braintrust import eval_case

        @eval_case(data="cases.jsonl")
        def test_case(braintrust_case):
            pass
        '''
    )
    result = bt.run("--braintrust")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*cases.jsonl:2: not valid UTF-8 (byte 0xe9 at column 15); save the file as UTF-8."])
    assert "UnicodeDecodeError" not in result.stdout.str()


def test_a_generator_source_on_a_module_mark_feeds_every_test(bt):
    bt.pytester.makepyfile(
        test_suite='''
        from pytest_braintrust import eval_case

        def records():
            yield {"input": "q1"}
            yield {"input": "q2"}

        pytestmark = eval_case(data=records())

        def test_one(braintrust_case):
            pass

        def test_two(braintrust_case):
            pass
        '''
    )
    bt.run("--braintrust").assert_outcomes(passed=4)
    assert sorted(bt.roots()) == ["test_one[q1]", "test_one[q2]", "test_two[q1]", "test_two[q2]"]


def test_a_data_callable_returning_nothing_is_named(bt):
    bt.pytester.makepyfile(
        test_suite='''
        from pytest_braintrust import eval_case

        def load_cases():
            cases = [{"input": "a"}]  # (forgot to return them)

        @eval_case(data=load_cases)
        def test_case(braintrust_case):
            pass
        '''
    )
    result = bt.run("--braintrust")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*test_case: data=load_cases must return a list, a .jsonl path or a Dataset; load_cases() returned NoneType."])


def test_a_repeated_record_id_never_takes_another_records_id(bt):
    bt.pytester.makepyfile(
        test_suite='''
        from pytest_braintrust import eval_case

        @eval_case(data=[{"id": "x", "input": 1}, {"id": "x", "input": 2}, {"id": "x-2", "input": 3}])
        def test_case(braintrust_case):
            pass
        '''
    )
    bt.run("--braintrust").assert_outcomes(passed=3)
    roots = bt.roots()
    assert {name: row["input"] for name, row in roots.items()} == {"test_case[x]": 1, "test_case[x-3]": 2, "test_case[x-2]": 3}


def test_bad_trials_on_the_marker_fail_collection_naming_the_argument(bt):
    bt.pytester.makepyfile(
        test_suite='''
        import pytest

        @pytest.mark.braintrust(input="a", trials={trials})
        def test_case(braintrust_case):
            pass
        '''.replace("{trials}", "0"),
        test_other='''
        import pytest

        @pytest.mark.braintrust(input="a", trials=True)
        def test_case(braintrust_case):
            pass
        ''',
        test_text='''
        import pytest

        @pytest.mark.braintrust(input="a", trials="3")
        def test_case(braintrust_case):
            pass
        ''',
    )
    result = bt.run("--braintrust")
    assert result.ret != 0
    result.stdout.fnmatch_lines_random([
        "*test_suite.py::test_case: braintrust marker: trials= must be a whole number >= 1, got 0.",
        "*test_other.py::test_case: braintrust marker: trials= must be a whole number >= 1, got True.",
        "*test_text.py::test_case: braintrust marker: trials= must be a whole number >= 1, got '3'.",
    ])
    assert "TypeError" not in result.stdout.str()
