"""Typed code written for 0.48.1 runs here: its eval types are generic over the same type variables.

0.48.1's ``braintrust.framework`` aliases and classes (``EvalData[Input, Expected]``,
``EvalTask[Input, Output, Expected]``, ``EvalResult[Input, Output, Expected]``, ...) take type
arguments, and annotations written with them are evaluated when a module is imported (without
``from __future__ import annotations``). Subscripting ours with a different count is a TypeError
at import, so an eval file typed for 0.48.1 would not load at all.
"""

from __future__ import annotations

import importlib.util
import textwrap

import pytest

import braintrust
import braintrust.framework as framework

#: An eval module as typed code for 0.48.1 writes it (checked there: it imports and scores [0, 1]).
TYPED_EVAL = '''
from braintrust import EvalCase, Score
from braintrust.framework import (
    AsyncScorerLike, ErrorScoreHandler, EvalData, EvalHooks, EvalResult, EvalResultWithSummary,
    EvalScorer, EvalScorerArgs, EvalTask, SyncScorerLike,
)


def cases() -> EvalData[str, str]:
    return [EvalCase(input="a", expected="A"), EvalCase(input="b", expected="x")]


def upper(input: str, hooks: EvalHooks[str]) -> str:
    return input.upper()


task: EvalTask[str, str, str] = upper


def exact(input: str, output: str, expected: str | None = None) -> Score:
    return Score(name="exact", score=float(output == expected))


scorers: list[EvalScorer[str, str, str]] = [exact]
sync_like: SyncScorerLike[str, str, str] = exact
async_like: AsyncScorerLike[str, str, str] | None = None
on_error: ErrorScoreHandler[str, str] | None = None
scorer_args: type[EvalScorerArgs[str, str, str]] = EvalScorerArgs


def exact_scores(result: EvalResultWithSummary[str, str, str]) -> list[float]:
    trials: list[EvalResult[str, str, str]] = result.results
    return sorted(trial.scores["exact"] for trial in trials)
'''

#: A custom reporter as typed code for 0.48.1 writes it.
TYPED_REPORTER = '''
from braintrust import Reporter
from braintrust.framework import EvalResultWithSummary, Evaluator, ReporterDef


def report_eval(evaluator: Evaluator[str, str, str], result: EvalResultWithSummary[str, str, str],
                verbose: bool, jsonl: bool) -> bool:
    return True


def report_run(results: list[bool], verbose: bool, jsonl: bool) -> bool:
    return all(results)


reporter: ReporterDef[str, str, str, bool] = Reporter("typed", report_eval=report_eval, report_run=report_run)
'''


def _import(tmp_path, name: str, source: str):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_eval_module_typed_for_0481_imports_and_runs(bt_env, tmp_path):
    typed = _import(tmp_path, "qa6_typed_eval", TYPED_EVAL)
    result = braintrust.Eval("qa6-typed", data=typed.cases, task=typed.task, scores=typed.scorers,
                             experiment_name="typed", summarize_scores=False)
    assert typed.exact_scores(result) == [0.0, 1.0]
    assert sorted(trial.output for trial in result.results) == ["A", "B"]


@pytest.mark.parametrize(("name", "count"), [
    ("EvalData", 2), ("EvalTask", 3), ("EvalScorer", 3), ("ErrorScoreHandler", 2), ("EvalCase", 2),
    ("EvalHooks", 1), ("EvalResult", 3), ("EvalResultWithSummary", 3), ("EvalScorerArgs", 3),
    ("SyncScorerLike", 3), ("AsyncScorerLike", 3),
])
def test_framework_generics_take_as_many_type_arguments_as_in_0481(name, count):
    generic = getattr(framework, name)
    assert len(generic.__parameters__) == count
    generic[(str,) * count] if count > 1 else generic[str]  # (raises TypeError on a wrong count)


def test_sync_scorer_like_still_recognizes_a_scorer_function():
    def scorer(input, output, expected=None):
        return 1

    assert isinstance(scorer, framework.SyncScorerLike)
    assert isinstance(framework.EvalScorerArgs(input=1, output=2, expected=3), framework.EvalScorerArgs)


def test_a_reporter_module_typed_for_0481_imports(tmp_path):
    typed = _import(tmp_path, "qa6_typed_reporter", TYPED_REPORTER)
    assert typed.reporter.name == "typed"
    assert typed.reporter.report_run([True], verbose=False, jsonl=False) is True


def test_evaluator_takes_three_type_arguments_as_in_0481():
    assert len(framework.Evaluator.__parameters__) == 3
    framework.Evaluator[str, str, str]


def test_reporter_def_takes_four_type_arguments_as_in_0481():
    assert len(framework.ReporterDef.__parameters__) == 4
    framework.ReporterDef[str, str, str, bool]
