"""The public SDK's own framework tests, read as a specification: ``DictEvalHooks`` built as
0.48.1 builds it, and ``braintrust.framework.run_evaluator`` (run an evaluator with no report,
logging to a given experiment or to none)."""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass

import braintrust
from braintrust.framework import DictEvalHooks, EvalCase, Evaluator, run_evaluator

from eval_support import exact, stored_rows


def test_dict_eval_hooks_takes_the_public_positional_arguments():
    hooks = DictEvalHooks({"m": 1}, "exp", 2, ["t"])

    assert dict(hooks) == {"metadata": {"m": 1}, "expected": "exp", "trial_index": 2, "tags": ["t"]}
    assert isinstance(DictEvalHooks().cancel_event, threading.Event)


def test_dict_eval_hooks_copies_the_tags_it_is_given():
    given = ["a"]
    hooks = DictEvalHooks(tags=given)
    hooks.tags.append("b")
    hooks.tags = ("c",)

    assert given == ["a"]
    assert DictEvalHooks(tags=("x",)).tags == ["x"]
    assert hooks.tags == ["c"]


def _doubling_evaluator(project: str) -> Evaluator:
    return Evaluator(
        project_name=project, eval_name="doubling", experiment_name=None, metadata=None, task=lambda x: x * 2,
        scores=[exact], data=[EvalCase(input=1, expected=2, metadata={"k": "a"}), EvalCase(input=2, expected=4, metadata={"k": "b"})],
    )


def test_run_evaluator_logs_to_the_given_experiment():
    experiment = braintrust.init(project="qa9-run-evaluator", experiment="given")

    result = asyncio.run(run_evaluator(experiment, _doubling_evaluator("qa9-run-evaluator"), None, []))

    assert [(r.input, r.output, r.scores) for r in result.results] == [(1, 2, {"exact": 1.0}), (2, 4, {"exact": 1.0})]
    assert result.summary.experiment_name == "given"
    rows = stored_rows(result.summary.experiment_id)
    assert sorted((r["span_attributes"]["name"], r.get("output")) for r in rows if r["span_attributes"]["name"] != "exact") == [
        ("eval", 2), ("eval", 4), ("task", 2), ("task", 4),
    ]


@dataclass
class _Filter:  # (the shape of 0.48.1's framework.Filter)
    path: list
    pattern: re.Pattern


def test_run_evaluator_without_an_experiment_filters_and_summarizes_locally():
    result = asyncio.run(run_evaluator(None, _doubling_evaluator("qa9-local"), None, [_Filter(["metadata", "k"], re.compile("b"))]))

    assert [(r.input, r.output, r.scores) for r in result.results] == [(2, 4, {"exact": 1.0})]
    assert (result.summary.project_name, result.summary.experiment_id) == ("qa9-local", None)
    assert result.summary.scores["exact"].score == 1.0
