"""The public SDK's ``braintrust.framework`` module: the ``Eval`` API under its old import path.

``from braintrust.framework import default_error_score_handler`` is how the public SDK exposes
that handler (it is not exported from ``braintrust`` itself). Custom reporters and typed eval
code import more from here, as in 0.48.1: ``report_failures``, ``default_reporter``, the summary
and object classes, ``Metadata``.
"""

from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping, Optional, Sequence, TypeVar, Union

from braintrust.eval.api import Eval, EvalAsync, default_error_score_handler, run_evaluator
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

# The aliases below are generic over the same type variables, in the same order, as 0.48.1's, so
# annotations written for it (``EvalData[str, str]``, ``EvalTask[str, str, str]``) work here too.
_Case = Union[EvalCase[Input, Expected], Mapping[str, Any]]
_Cases = Union[Iterable[_Case], Iterator[_Case], AsyncIterator[_Case]]
#: What ``data=`` accepts (see ``braintrust.eval.cases``); generic over ``Input, Expected``.
EvalData = Union[_Cases, Callable[[], Union[_Cases, Awaitable[_Cases]]], type, BaseExperiment, Dataset]
#: ``task(input)`` or ``task(input, hooks)``, sync or async; generic over ``Input, Output, Expected``.
EvalTask = Union[
    Callable[[Input], Union[Output, Awaitable[Output]]],
    Callable[[Input, EvalHooks[Expected]], Union[Output, Awaitable[Output]]],
]
#: A function, a ``Scorer`` instance or class, or any object with ``eval``/``eval_async``; generic
#: over ``Input, Output, Expected``.
EvalScorer = Union[
    SyncScorerLike[Input, Output, Expected],
    AsyncScorerLike[Input, Output, Expected],
    type,
    Callable[[Input, Output, Expected], Any],
]
#: ``Eval(error_score_handler=...)``: called with the root span, the case and the scorer names.
ErrorScoreHandler = Callable[[Span, EvalCase[Input, Expected], Sequence[str]], Optional[dict[str, float]]]

__all__ = [
    "AsyncScorerLike",
    "BaseExperiment",
    "Classification",
    "Dataset",
    "DictEvalHooks",
    "Eval",
    "EvalAsync",
    "ErrorScoreHandler",
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
    "run_evaluator",
    "set_thread_pool_max_workers",
]
