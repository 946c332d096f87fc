"""``EvalHooks``: what a task declared as ``task(input, hooks)`` receives; the events its
``report_progress`` sends, as the evaluator's ``stream`` callback gets them."""

from __future__ import annotations

import abc
import threading
import warnings
from typing import Any, Callable, Generic, Literal, TypedDict, TypeVar

Output = TypeVar("Output")


class TaskProgressEvent(TypedDict):
    """What a task reports through ``hooks.report_progress``."""

    format: Literal["llm", "code", "global", "graph", "topic_map", "simulation"]
    output_type: Literal["completion", "score", "facet", "classification", "any"]
    event: Literal["reasoning_delta", "text_delta", "json_delta", "error", "console", "start", "done", "progress"]
    data: str


class _SSEProgressFields(TaskProgressEvent):
    id: str
    object_type: str
    name: str


class SSEProgressEvent(_SSEProgressFields, total=False):
    """What the evaluator's ``stream`` callback receives: the event, with the case's root span
    ``id``, ``object_type`` ``"task"``, the evaluator's ``name`` and (from a dataset) the case's
    ``origin``."""

    origin: dict[str, Any]


class EvalHooks(abc.ABC, Generic[Output]):
    """The per-trial handle given to a two-parameter task."""

    @property
    @abc.abstractmethod
    def metadata(self) -> dict[str, Any]:
        """The case's metadata (a mutable copy): what the task adds is logged on the root span."""

    @property
    @abc.abstractmethod
    def tags(self) -> list[str]:
        """The case's tags (a mutable list): what the task adds is logged on the root span."""

    @property
    @abc.abstractmethod
    def expected(self) -> Output | None:
        """The case's expected output."""

    @property
    @abc.abstractmethod
    def trial_index(self) -> int:
        """0-based index of this trial of the case."""

    @property
    @abc.abstractmethod
    def span(self) -> Any:
        """The task span: log to it, or start child spans under it."""

    @property
    @abc.abstractmethod
    def parameters(self) -> dict[str, Any]:
        """The evaluator's resolved ``parameters``."""

    @property
    def cancel_event(self) -> Any:
        """Set when the evaluation is cancelled or times out: a long task can check
        ``hooks.cancel_event.is_set()`` and stop (a task on a thread cannot be stopped otherwise).
        The ``cancel_event`` given to ``Eval``, else one of its own."""
        return None

    @abc.abstractmethod
    def report_progress(self, progress: dict[str, Any]) -> None:
        """Send an event to the evaluator's ``stream`` callback (if any)."""

    @abc.abstractmethod
    def meta(self, **info: Any) -> None:
        """Deprecated: add to ``metadata``."""


class DictEvalHooks(dict, EvalHooks[Output]):  # type: ignore[misc]
    """The hooks a task gets. As 0.48.1's, it is also a dict: ``metadata`` (when given),
    ``expected`` (when not None), ``trial_index`` and ``tags`` are its keys, so
    ``hooks["metadata"]`` and ``hooks.get("expected")`` work as they do there."""

    def __init__(
        self,
        metadata: dict[str, Any] | None = None,
        expected: Any = None,
        trial_index: int = 0,
        tags: list[str] | None = None,
        report_progress: Callable[[dict[str, Any]], None] | None = None,
        parameters: dict[str, Any] | None = None,
        cancel_event: Any = None,
    ):
        # (0.48.1's parameters, in its order: each may be given by position)
        super().__init__()
        if metadata is not None:
            self["metadata"] = metadata
        if expected is not None:
            self["expected"] = expected
        self["trial_index"] = trial_index
        # A copy, so what the task adds does not change the caller's list; any other value is kept
        # as given (a string is not split into tags), as in 0.48.1.
        self["tags"] = [] if tags is None else list(tags) if isinstance(tags, (list, tuple, set)) else tags
        self._parameters = parameters
        self._report_progress = report_progress
        self._span: Any = None
        self._cancel_event = cancel_event if cancel_event is not None else threading.Event()

    @property
    def metadata(self) -> dict[str, Any]:
        return self.get("metadata")  # type: ignore[return-value]

    @property
    def tags(self) -> list[str]:
        return self["tags"]

    @tags.setter
    def tags(self, value: list[str] | None) -> None:
        tags = [] if value is None else list(value)
        if isinstance(self.get("tags"), list):
            self["tags"][:] = tags  # (in place: a dict(hooks) taken earlier sees it too)
        else:
            self["tags"] = tags

    @property
    def expected(self) -> Any:
        return self.get("expected")

    @property
    def trial_index(self) -> int:
        return self.get("trial_index", 0)

    @property
    def span(self) -> Any:
        return self._span

    def set_span(self, span: Any) -> None:
        self._span = span

    @property
    def cancel_event(self) -> Any:
        return self._cancel_event

    @property
    def parameters(self) -> dict[str, Any] | None:
        return self._parameters

    def report_progress(self, progress: dict[str, Any]) -> None:
        if self._report_progress is not None:
            self._report_progress(progress)

    def meta(self, **info: Any) -> None:
        warnings.warn("meta() is deprecated. Use the metadata field directly instead.", DeprecationWarning, stacklevel=2)
        if self.get("metadata") is None:
            self["metadata"] = {}
        self["metadata"].update(info)

    def __repr__(self) -> str:
        return f"EvalHooks(trial_index={self.trial_index}, metadata={self.metadata!r}, tags={self.tags!r})"
