"""Scorers: calling convention, every return shape, naming, failures, ``error_score_handler``,
classifiers and autoevals' scorers used unchanged."""

from __future__ import annotations

import asyncio
import dataclasses
import functools

import pytest

from braintrust.framework import Eval, EvalCase, default_error_score_handler
from braintrust.score import Score, Scorer
from braintrust.eval.scorers import match_arguments, scorer_name, to_scores
from eval_support import exact, stored_rows, trace_of

ARGS = {"input": "in", "expected": "exp", "metadata": {"m": 1}, "output": "out", "trace": "TRACE", "id": "rid", "tags": ["t"]}


def call(fn):
    positional, keyword = match_arguments(fn, ARGS)
    return fn(*positional, **keyword)


# -- argument matching ------------------------------------------------------------------------------


def test_arguments_are_matched_by_name():
    assert call(lambda output, expected: (output, expected)) == ("out", "exp")
    assert call(lambda tags, id, trace: (tags, id, trace)) == (["t"], "rid", "TRACE")


def test_defaults_are_kept_for_parameters_no_argument_matches():
    assert call(lambda output, threshold=0.5: (output, threshold)) == ("out", 0.5)


def test_kwargs_receive_the_rest():
    received = call(lambda output, **kwargs: (output, kwargs))
    assert received == ("out", {"input": "in", "expected": "exp", "metadata": {"m": 1}, "trace": "TRACE", "id": "rid", "tags": ["t"]})


def test_leftover_required_parameters_take_the_next_unused_argument_in_order():
    assert call(lambda a, b: (a, b)) == ("in", "exp")
    assert call(lambda output, a, b: (output, a, b)) == ("out", "in", "exp")
    assert call(lambda a, b, c, d, e: (a, b, c, d, e)) == ("in", "exp", {"m": 1}, "out", "TRACE")


def test_positional_only_parameters():
    def scorer(output, x, /):
        return (output, x)

    assert call(scorer) == ("out", "in")


# -- return shapes ------------------------------------------------------------------------------------


class Obj:
    """Not a Score, but has name/score/metadata/as_dict."""

    def __init__(self, name, score, metadata=None):
        self.name, self.score, self.metadata = name, score, metadata or {}

    def as_dict(self):
        return {"name": self.name, "score": self.score, "metadata": self.metadata}


@pytest.mark.parametrize(
    "returned, expected",
    [
        (0.25, [("s", 0.25, {})]),
        (1, [("s", 1, {})]),
        (True, [("s", True, {})]),
        (False, [("s", False, {})]),
        (None, [("s", None, {})]),
        (Score(name="other", score=0.5, metadata={"k": 1}), [("other", 0.5, {"k": 1})]),
        (Obj("obj", 0.75, {"w": 2}), [("obj", 0.75, {"w": 2})]),
        ({"score": 0.5, "metadata": {"why": "half"}}, [("s", 0.5, {"why": "half"})]),
        ({"name": "named", "score": 0, "extra": "ignored"}, [("named", 0, {})]),
        ({"name": "x"}, [("x", None, {})]),  # (no score: null, as 0.48.1 logs it)
        ([Score(name="m1", score=1), {"name": "m2", "score": 0.25}], [("m1", 1, {}), ("m2", 0.25, {})]),
        ((Obj("t1", 0.1), Obj("t2", 0.2)), [("t1", 0.1, {}), ("t2", 0.2, {})]),
    ],
)
def test_return_shapes(returned, expected):
    assert [(s.name, s.score, s.metadata) for s in to_scores("s", returned)] == expected


@pytest.mark.parametrize(
    "returned, error",
    [
        ("0.5", TypeError),
        (object(), TypeError),
        ([{"score": 1}], TypeError),  # dicts inside a list need a name
        ([0.5], TypeError),
        (1.5, ValueError),
        (-0.1, ValueError),
        (float("nan"), ValueError),
        ({"score": 2}, ValueError),
        ({"no_score": 1}, ValueError),  # neither name nor score: no Score, as 0.48.1 says
        (Obj("o", 3), ValueError),
    ],
)
def test_bad_return_values_raise(returned, error):
    with pytest.raises(error):
        to_scores("s", returned)


def test_score_dataclass():
    score = Score(name="a", score=0.5)
    assert score.metadata == {} and score.as_dict() == {"name": "a", "score": 0.5, "metadata": {}}
    assert Score.from_dict({"name": "a", "score": 1}).score == 1
    assert dataclasses.fields(Score)[0].name == "name"
    with pytest.raises(ValueError):
        Score(name="a", score=1.1)


def test_every_shape_in_one_eval_logs_like_the_public_sdk():
    def many(output):
        return [Score(name="m1", score=1), {"name": "m2", "score": 0.25, "metadata": {"x": 1}}]

    result = Eval(
        "shapes",
        data=[{"input": "hi", "expected": "HI"}],
        task=lambda x: x.upper(),
        scores=[exact, lambda output: output.isupper(), lambda output: None, many, lambda: {"score": 0.5}],
    )
    assert result.results[0].scores == {"exact": 1.0, "scorer_1": True, "scorer_2": None, "m1": 1, "m2": 0.25, "scorer_4": 0.5}
    _, spans = trace_of(stored_rows(result), "hi")
    assert spans["scorer_1"]["output"] == {"score": True} and spans["scorer_1"]["scores"] == {"scorer_1": 1}
    assert spans["scorer_2"]["output"] == {"score": None} and spans["scorer_2"]["scores"] == {"scorer_2": None}
    assert spans["many"]["output"] == {"m1": {"score": 1}, "m2": {"score": 0.25}}
    assert spans["many"]["metadata"] == {"m1": {}, "m2": {"x": 1}}
    assert spans["many"]["scores"] == {"m1": 1, "m2": 0.25}
    # None is skipped in the summary (not a zero)
    assert "scorer_2" not in result.summary.scores


# -- naming -----------------------------------------------------------------------------------------


class Named:
    def _name(self):
        return "custom-name"

    def __call__(self, output):
        return 1


class Plain:
    def __call__(self, output):
        return 1


class WithEval:
    """A class with ``eval``: passed uninstantiated, constructed with no arguments."""

    def eval(self, output, expected=None, **kwargs):
        return Score(name="with-eval", score=1 if output == expected else 0)


class AsyncScorer(Scorer):
    async def _run_eval_async(self, output, expected=None, **kwargs):
        await asyncio.sleep(0)
        return Score(name=self._name(), score=0.5)

    def _run_eval_sync(self, output, expected=None, **kwargs):  # pragma: no cover - eval_async is used
        raise AssertionError("Eval must await eval_async")


def test_scorer_names():
    def fn(output):
        return 1

    assert scorer_name(fn, 0) == "fn"
    assert scorer_name(lambda output: 1, 3) == "scorer_3"
    assert scorer_name(Named(), 0) == "custom-name"
    assert scorer_name(Plain(), 0) == "Plain"
    assert scorer_name(functools.partial(fn), 1) == "partial"


def test_scorer_objects_classes_and_async_scorers():
    async def async_fn(output, expected):
        await asyncio.sleep(0)
        return output == expected

    result = Eval(
        "scorer-kinds",
        data=[{"input": "a", "expected": "a"}],
        task=lambda x: x,
        scores=[Named(), Plain(), WithEval, AsyncScorer, AsyncScorer(), async_fn],
    )
    assert result.results[0].scores == {"custom-name": 1, "Plain": 1, "with-eval": 1, "AsyncScorer": 0.5, "async_fn": True}
    names = sorted(spans for spans in trace_of(stored_rows(result), "a")[1])
    assert names == sorted(["task", "custom-name", "Plain", "WithEval", "AsyncScorer", "async_fn"])


# -- failures -----------------------------------------------------------------------------------------


def bad_scorer(output):
    raise ValueError("scorer exploded")


def test_failing_scorer_is_recorded_and_other_scorers_still_run(capsys):
    result = Eval("failures", data=[{"input": "ok", "expected": "ok"}], task=lambda x: x, scores=[exact, bad_scorer, lambda: "nonsense", lambda: 7])
    r = result.results[0]
    assert r.error is None and r.scores == {"exact": 1.0}
    assert set(r.metadata["scorer_errors"]) == {"bad_scorer", "scorer_2", "scorer_3"}
    assert r.metadata["scorer_errors"]["bad_scorer"].rstrip().endswith("ValueError: scorer exploded")
    assert "TypeError" in r.metadata["scorer_errors"]["scorer_2"] and "ValueError" in r.metadata["scorer_errors"]["scorer_3"]
    err = capsys.readouterr()
    assert "Found exceptions for the following scorers: bad_scorer, scorer_2, scorer_3 [ValueError('scorer exploded'), " in err.err
    assert "=====SUMMARY=====" in err.out  # a scorer failure is not a failed eval
    root, spans = trace_of(stored_rows(result), "ok")
    assert root["metadata"]["scorer_errors"]["bad_scorer"].rstrip().endswith("ValueError: scorer exploded")
    assert spans["bad_scorer"]["error"].rstrip().endswith("ValueError: scorer exploded")
    assert "scores" not in spans["bad_scorer"] and "output" not in spans["bad_scorer"]
    assert spans["exact"]["scores"] == {"exact": 1.0}


def test_a_scorer_failing_in_every_case_is_printed_once_then_counted(capsys):
    """A broken judge (no API key, say) must not print one line per case: its first failure is
    printed as usual, and the count comes once, after the cases."""

    def sometimes(input):
        if input % 2:
            raise RuntimeError(f"odd input {input}")
        return 1.0

    result = Eval("repeated-failures", data=[{"input": i, "expected": i} for i in range(6)], task=lambda x: x,
                  scores=[exact, bad_scorer, sometimes])
    assert all(set(r.metadata["scorer_errors"]) >= {"bad_scorer"} for r in result.results)  # every case keeps its own
    err = capsys.readouterr().err
    printed = [line for line in err.splitlines() if line.startswith("Found exceptions for the following scorers:")]
    # Each scorer's first failure (cases run concurrently: both may come in one case's line).
    assert 1 <= len(printed) <= 2 and "bad_scorer" in printed[0] and any("sometimes" in line for line in printed)
    assert "braintrust: scorer 'bad_scorer' of evaluator repeated-failures failed in 6 of 6 cases (the first error is above" in err
    assert "braintrust: scorer 'sometimes' of evaluator repeated-failures failed in 3 of 6 cases" in err


def test_repeated_failures_count_cases_not_trials(capsys):
    """With trials, the line counts the cases a scorer failed in (and, beside them, the trials):
    failing in all 3 trials of one case is "1 of 2 cases (3 of 6 trials)", not "3 cases"."""

    def first_case_only(input):
        if input == 0:
            raise RuntimeError("no score for case 0")
        return 1.0

    Eval("trial-failures", data=[{"input": 0}, {"input": 1}], task=lambda x: x, scores=[first_case_only], trial_count=3)
    err = capsys.readouterr().err
    assert "braintrust: scorer 'first_case_only' of evaluator trial-failures failed in 1 of 2 cases (3 of 6 trials) (the first" in err

    Eval("trial-failures", data=[{"input": 0}], task=lambda x: x, scores=[first_case_only, bad_scorer], trial_count=2)
    err = capsys.readouterr().err
    assert "scorer 'first_case_only' of evaluator trial-failures failed in 1 of 1 case (2 of 2 trials)" in err
    assert "scorer 'bad_scorer' of evaluator trial-failures failed in 1 of 1 case (2 of 2 trials)" in err


def flaky_task(input):
    if input == "boom":
        raise RuntimeError("task exploded")
    return input


def test_failing_task_skips_scorers_and_prints_the_failure_report(capsys):
    result = Eval("failures", data=[{"input": "ok", "expected": "ok"}, {"input": "boom", "expected": "boom"}], task=flaky_task, scores=[exact], experiment_name="task-fails")
    ok, boom = result.results
    assert ok.error is None and ok.scores == {"exact": 1.0}
    assert isinstance(boom.error, RuntimeError) and boom.output is None and boom.scores == {}
    assert boom.exc_info.rstrip().endswith("RuntimeError: task exploded")
    captured = capsys.readouterr()
    assert "SUMMARY" not in captured.out
    lines = captured.err.splitlines()
    assert "\x1b[91mEvaluator failures [experiment_name=task-fails] failed with 1 error\x1b[0m" in lines
    assert "RuntimeError: task exploded\x1b[0m" in lines
    assert lines[-1] == "\x1b[91mAdd --verbose to see full stack traces.\x1b[0m"
    rows = stored_rows(result)
    root, spans = trace_of(rows, "boom")
    assert root["error"].rstrip().endswith("RuntimeError: task exploded")
    assert "output" not in root
    assert set(spans) == {"task"}
    assert spans["task"]["error"].rstrip().endswith("RuntimeError: task exploded")


def test_a_task_raising_a_base_exception_fails_its_trial_on_the_root_row_too():
    class Abort(BaseException):
        pass

    def task(x):
        if x == "boom":
            raise Abort("aborted")
        return x

    result = Eval("failures", data=[{"input": "ok", "expected": "ok"}, {"input": "boom", "expected": "boom"}], task=task, scores=[exact])
    assert [type(r.error).__name__ for r in result.results] == ["NoneType", "Abort"]
    root, spans = trace_of(stored_rows(result), "boom")
    assert root["error"].rstrip().endswith("Abort: aborted") and spans["task"]["error"].rstrip().endswith("Abort: aborted")


def test_a_task_raising_cancelled_error_itself_does_not_say_the_eval_was_cancelled():
    async def task(x):
        if x == "boom":
            raise asyncio.CancelledError()
        return x

    result = Eval("failures", data=[{"input": "ok", "expected": "ok"}, {"input": "boom", "expected": "boom"}], task=task, scores=[exact])
    error = result.results[1].error
    assert isinstance(error, asyncio.CancelledError) and "the eval was not cancelled" in str(error)
    assert "the eval was not cancelled" in trace_of(stored_rows(result), "boom")[0]["error"]


def test_default_error_score_handler_scores_unhandled_scorers_zero():
    result = Eval(
        "failures",
        data=[{"input": "ok", "expected": "ok"}, {"input": "boom", "expected": "boom"}],
        task=flaky_task,
        scores=[exact, bad_scorer],
        error_score_handler=default_error_score_handler,
    )
    assert [r.scores for r in result.results] == [{"bad_scorer": 0, "exact": 1.0}, {"exact": 0, "bad_scorer": 0}]
    rows = stored_rows(result)
    assert trace_of(rows, "ok")[0]["scores"] == {"bad_scorer": 0}
    assert trace_of(rows, "boom")[0]["scores"] == {"exact": 0, "bad_scorer": 0}
    assert result.summary.scores["exact"].score == 0.5


def test_custom_error_score_handler_and_one_that_raises(capsys):
    calls = []

    def handler(root_span, case, unhandled):
        calls.append((case.input, list(unhandled)))
        return {name: 0.1 for name in unhandled}

    result = Eval("failures", data=[{"input": "boom"}], task=flaky_task, scores=[exact], error_score_handler=handler)
    assert calls == [("boom", ["exact"])] and result.results[0].scores == {"exact": 0.1}

    def broken(root_span, case, unhandled):
        raise KeyError("handler bug")

    result = Eval("failures", data=[{"input": "boom"}], task=flaky_task, scores=[exact], error_score_handler=broken)
    assert result.results[0].scores == {}
    assert "error_score_handler raised" in capsys.readouterr().err


def test_invalid_metadata_from_the_task_is_the_trials_error_not_the_runs():
    def task(input, hooks):
        hooks.metadata[1] = "non-string key"
        return input

    result = Eval("failures", data=[{"input": "x"}, {"input": "y", "tags": ["dup", "dup"]}], task=task, scores=[lambda output: 1])
    assert all(isinstance(r.error, ValueError) for r in result.results)
    assert len(stored_rows(result)) >= 2


# -- classifiers -----------------------------------------------------------------------------------


def test_classifiers_log_classifications_on_the_root():
    def sentiment(output):
        return {"id": "positive", "label": "Positive", "metadata": {"p": 0.9}}

    result = Eval("classify", data=[{"input": "great"}], task=lambda x: x, classifiers=[sentiment])
    assert result.results[0].classifications == {"sentiment": [{"id": "positive", "label": "Positive", "metadata": {"p": 0.9}}]}
    root, spans = trace_of(stored_rows(result), "great")
    assert root["classifications"] == {"sentiment": [{"id": "positive", "label": "Positive", "metadata": {"p": 0.9}}]}
    assert spans["sentiment"]["span_attributes"]["type"] == "classifier"
    assert spans["sentiment"]["span_attributes"]["purpose"] == "scorer"


def test_scores_or_classifiers_are_required_and_an_empty_list_runs_the_task_only():
    with pytest.raises(ValueError, match=r"Eval needs scores= \(a list of scorers, or \[\] to run the task only\) or classifiers="):
        Eval("x", data=[], task=lambda x: x)
    result = Eval("outputs-only", data=[{"input": 1}], task=lambda x: x + 1, scores=[])  # as the public SDK allows
    assert (result.results[0].output, result.results[0].scores) == (2, {})
    root, spans = trace_of(stored_rows(result), 1)
    assert root["output"] == 2 and set(spans) == {"task"}


# -- autoevals ----------------------------------------------------------------------------------------


def test_autoevals_deterministic_scorers_work_unchanged():
    autoevals = pytest.importorskip("autoevals")
    result = Eval(
        "autoevals",
        data=[
            EvalCase(input="q1", expected="hello"),
            EvalCase(input="q2", expected="world"),
        ],
        task=lambda x: {"q1": "hello", "q2": "word"}[x],
        scores=[autoevals.ExactMatch, autoevals.Levenshtein(), autoevals.ExactMatch()],
    )
    first, second = result.results
    assert first.scores == {"ExactMatch": 1, "Levenshtein": 1.0}
    assert second.scores["ExactMatch"] == 0
    assert second.scores["Levenshtein"] == pytest.approx(0.8)
    _, spans = trace_of(stored_rows(result), "q2")
    assert spans["Levenshtein"]["scores"] == {"Levenshtein": pytest.approx(0.8)}


def test_autoevals_numeric_and_json_scorers():
    autoevals = pytest.importorskip("autoevals")
    result = Eval(
        "autoevals",
        data=[EvalCase(input=1, expected={"a": 1, "b": "x"})],
        task=lambda x: {"a": 1, "b": "x"},
        scores=[autoevals.JSONDiff, lambda output, expected: autoevals.NumericDiff()(output=output["a"], expected=expected["a"])],
    )
    assert result.results[0].scores == {"JSONDiff": 1.0, "NumericDiff": 1.0}


def test_importing_autoevals_with_our_package(monkeypatch):
    import importlib
    import sys

    pytest.importorskip("autoevals")
    # (the modules of before are put back after: other tests hold them, and a second copy in
    # sys.modules kept state, autoevals' client, apart from theirs)
    for name in [m for m in sys.modules if m == "autoevals" or m.startswith("autoevals.")]:
        monkeypatch.delitem(sys.modules, name)
    autoevals = importlib.import_module("autoevals")
    assert autoevals.ExactMatch()(output="a", expected="a").score == 1
