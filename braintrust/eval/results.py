"""What an eval returns: ``EvalResult`` per trial, ``EvalResultWithSummary`` per evaluator, and
``EvalTimeoutError`` (which, unlike the public SDK's bare ``TimeoutError``, keeps what finished)."""

from __future__ import annotations

import dataclasses
from typing import Any, Generic, TypeVar

from braintrust.serializable import SerializableDataClass

Input = TypeVar("Input")
Output = TypeVar("Output")
Expected = TypeVar("Expected")


@dataclasses.dataclass
class EvalScorerArgs(SerializableDataClass, Generic[Input, Output, Expected]):
    """The arguments a scorer receives, as one object."""

    input: Input
    output: Output
    expected: Expected | None = None
    metadata: dict[str, Any] | None = None


@dataclasses.dataclass  # (no __slots__: as the public SDK's, vars() and extra attributes work; 48 bytes more each)
class EvalResult(SerializableDataClass, Generic[Input, Output, Expected]):
    """One trial of one case: its output and scores, or the error its task raised. Its fields are
    0.48.1's (``dataclasses.asdict``, ``fields`` and ``==`` see no others); ``trial_index`` (0-based)
    is an attribute beside them."""

    input: Input
    output: Output
    scores: dict[str, Any]
    classifications: dict[str, list[dict[str, Any]]] | None = None
    expected: Expected | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    error: BaseException | None = None
    exc_info: str | None = None
    origin: dict[str, Any] | None = None

    trial_index = 0  # (no annotation: not a field; the runner sets it on the trials after the first)


@dataclasses.dataclass
class EvalResultWithSummary(SerializableDataClass, Generic[Input, Output, Expected]):
    summary: Any
    results: list[EvalResult[Input, Output, Expected]]

    # (repr and str are the dataclass's, as 0.48.1's; IPython shows this shorter text.)
    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text('EvalResultWithSummary(summary="...", results=[...])')


class EvalTimeoutError(TimeoutError):
    """``Eval(timeout=...)`` expired. The cases that finished are in ``results`` (their rows were
    flushed); the ones still running were cancelled and logged with an error."""

    def __init__(self, message: str, results: list[EvalResult], *, eval_name: str | None = None, cancelled: int = 0, experiment: Any = None):
        super().__init__(message)
        self.results = results
        self.eval_name = eval_name
        self.cancelled = cancelled
        self.experiment = experiment
