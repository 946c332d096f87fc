"""The public SDK's ``braintrust.framework`` module: the ``Eval`` API under its old import path.

``from braintrust.framework import default_error_score_handler`` is how the public SDK exposes
that handler (it is not exported from ``braintrust`` itself).
"""

from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Iterator, TypeVar, Union

from braintrust.eval.api import Eval, EvalAsync, default_error_score_handler
from braintrust.eval.cases import BaseExperiment, EvalCase
from braintrust.eval.evaluator import Evaluator
from braintrust.eval.hooks import EvalHooks, SSEProgressEvent, TaskProgressEvent
from braintrust.eval.reporters import Reporter, ReporterDef
from braintrust.eval.results import EvalResult, EvalResultWithSummary, EvalScorerArgs, EvalTimeoutError
from braintrust.eval.threads import set_thread_pool_max_workers
from braintrust.parameters.remote import RemoteEvalParameters
from braintrust.parameters.schema import EvalParameters
from braintrust.score import Score, Scorer

Input = TypeVar("Input")
Output = TypeVar("Output")

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
    "BaseExperiment",
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
    "Input",
    "Output",
    "RemoteEvalParameters",
    "Reporter",
    "ReporterDef",
    "SSEProgressEvent",
    "Score",
    "Scorer",
    "TaskProgressEvent",
    "default_error_score_handler",
    "set_thread_pool_max_workers",
]
