"""The public SDK's ``braintrust.framework`` module: the ``Eval`` API under its old import path.

``from braintrust.framework import default_error_score_handler`` is how the public SDK exposes
that handler (it is not exported from ``braintrust`` itself). Custom reporters and typed eval
code import more from here, as in 0.48.1: ``report_failures``, ``default_reporter``, the summary
and object classes, ``Metadata``.
"""

from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, TypeVar, Union

from braintrust.eval.api import Eval, EvalAsync, default_error_score_handler
from braintrust.eval.cases import BaseExperiment, EvalCase
from braintrust.eval.evaluator import Evaluator
from braintrust.eval.hooks import DictEvalHooks, EvalHooks, SSEProgressEvent, TaskProgressEvent
from braintrust.eval.reporters import Reporter, ReporterDef, default_reporter, report_failures
from braintrust.eval.results import EvalResult, EvalResultWithSummary, EvalScorerArgs, EvalTimeoutError
from braintrust.eval.threads import set_thread_pool_max_workers
from braintrust.git import GitMetadataSettings, RepoInfo
from braintrust.objects.dataset import Dataset
from braintrust.objects.experiment import Experiment, init_experiment
from braintrust.parameters.remote import RemoteEvalParameters
from braintrust.parameters.schema import EvalParameters
from braintrust.score import AsyncScorerLike, Classification, Score, Scorer, SyncScorerLike
from braintrust.span_types import SpanTypeAttribute
from braintrust.summary import ExperimentSummary, MetricSummary, ScoreSummary
from braintrust.tracing.span import Span

Input = TypeVar("Input")
Output = TypeVar("Output")
Expected = TypeVar("Expected")
#: A case's or an eval's ``metadata=``.
Metadata = Mapping[str, Any]
#: The default reporter's ``report_eval``: the summary, or the failures when a task raised (False then).
report_evaluator_result = default_reporter.report_eval

#: What ``data=`` accepts (see ``braintrust.eval.cases``).
EvalData = Union[
    Iterable[Any],
    Iterator[Any],
    AsyncIterator[Any],
    Callable[[], Union[Iterable[Any], Iterator[Any], AsyncIterator[Any], Awaitable[Iterable[Any]]]],
    type,
    BaseExperiment,
]
#: ``task(input)`` or ``task(input, hooks)``, sync or async.
EvalTask = Callable[..., Any]
#: A function, a ``Scorer`` instance or class, or any object with ``eval``/``eval_async``.
EvalScorer = Any

__all__ = [
    "AsyncScorerLike",
    "BaseExperiment",
    "Classification",
    "Dataset",
    "DictEvalHooks",
    "Eval",
    "EvalAsync",
    "EvalCase",
    "EvalData",
    "EvalHooks",
    "EvalParameters",
    "EvalResult",
    "EvalResultWithSummary",
    "EvalScorer",
    "EvalScorerArgs",
    "EvalTask",
    "EvalTimeoutError",
    "Evaluator",
    "Expected",
    "Experiment",
    "ExperimentSummary",
    "GitMetadataSettings",
    "Input",
    "Metadata",
    "MetricSummary",
    "Output",
    "RemoteEvalParameters",
    "RepoInfo",
    "Reporter",
    "ReporterDef",
    "SSEProgressEvent",
    "Score",
    "ScoreSummary",
    "Scorer",
    "Span",
    "SpanTypeAttribute",
    "SyncScorerLike",
    "TaskProgressEvent",
    "default_error_score_handler",
    "default_reporter",
    "init_experiment",
    "report_evaluator_result",
    "report_failures",
    "set_thread_pool_max_workers",
]
