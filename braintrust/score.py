"""``Score`` (what a scorer returns), ``Classification`` (what a classifier returns) and
``Scorer`` (a base class for scorer objects).

``from braintrust.score import Score`` is the public import path; ``Score`` is also exported
from ``braintrust`` itself. Scorers may equally return a bare number, a bool, ``None``, a dict
or a list; ``braintrust.eval.scorers`` turns every shape into ``Score`` objects.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from abc import ABC, abstractmethod
from numbers import Integral, Number
from typing import Any, Mapping, Protocol, TypedDict, TypeVar, runtime_checkable

from braintrust.serializable import SerializableDataClass


def plain_score_value(value: Any) -> Any:
    """``value`` as a plain bool, int or float when it is another kind of number (``Decimal``,
    ``Fraction``, numpy's scalars, ``np.bool_`` included): logged as given, those would be written
    as text (``"0.5"``, ``"1/3"``) or refused. Anything else is returned as it is."""
    kind = type(value)
    if kind is float or kind is int or kind is bool or value is None:
        return value
    if hasattr(value, "dtype") and getattr(value, "shape", None) == () and callable(getattr(value, "item", None)):
        value = value.item()  # a numpy (or similar) scalar: its Python value
    if isinstance(value, bool):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Number) and not isinstance(value, complex):
        return float(value)
    return value


def check_score_value(name: Any, value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is None, a bool or a number in [0, 1]."""
    if value is None or isinstance(value, bool):
        return
    if not isinstance(value, Number) or isinstance(value, complex):
        raise ValueError(f"score {name!r} must be a number between 0 and 1 (or None to skip), got {value!r}")
    if math.isnan(value) or value < 0 or value > 1:
        raise ValueError(f"score {name!r} ({value}) must be between 0 and 1")


#: 0.48.1's warning (a ``UserWarning``) when a ``Score`` is made with ``error=``.
ERROR_FIELD_DEPRECATED = (
    "The error field is deprecated, as errors are now propagated to the caller. The field will be removed in a future "
    "version of the library"
)


@dataclasses.dataclass
class Score(SerializableDataClass):
    """One named score in [0, 1] (``None`` = skipped), with optional metadata (``None`` is kept:
    its scorer span then logs none, as 0.48.1's). ``error``: deprecated, as in the public SDK (a
    warning says so); kept on the object, not logged."""

    name: str
    score: float | None = None
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    error: Exception | None = None

    def __post_init__(self) -> None:
        self.score = plain_score_value(self.score)
        check_score_value(self.name, self.score)
        if self.error is not None:
            warnings.warn(ERROR_FIELD_DEPRECATED, stacklevel=3)

    def as_dict(self) -> dict[str, Any]:
        """``name``, ``score`` and ``metadata`` (as given), whatever a subclass adds, as 0.48.1's."""
        return {"name": self.name, "score": self.score, "metadata": self.metadata}


@dataclasses.dataclass
class Classification(SerializableDataClass):
    """One outcome of a classifier (``Eval(classifiers=...)``): ``id`` is machine-readable;
    ``name`` defaults to the classifier's; ``label`` and ``metadata`` are optional."""

    id: str
    name: str | None = None
    label: str | None = None
    metadata: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        # (0.48.1's checks and messages: a classifier's result that fails them is refused)
        if not isinstance(self.id, str) or not self.id:
            raise ValueError("classification id must be a non-empty string")
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise ValueError("classification name must be a non-empty string when provided")
        if self.label is not None and not isinstance(self.label, str):
            raise ValueError("classification label must be a string when provided")

    def as_dict(self) -> dict[str, Any]:
        """The fields that are set, ``id`` always."""
        return {"id": self.id, **{k: v for k, v in (("name", self.name), ("label", self.label), ("metadata", self.metadata)) if v is not None}}

    def as_item(self) -> dict[str, Any]:
        """As it is logged under the classifier's name in ``classifications``: without ``name``."""
        item = self.as_dict()
        item.pop("name", None)
        return item


class Scorer(ABC):
    """Base class for scorer objects: implement ``_run_eval_sync`` (and optionally
    ``_run_eval_async``). ``Eval`` awaits ``eval_async``; a class deriving from this may be passed
    to ``scores=`` uninstantiated (it is constructed with no arguments)."""

    async def eval_async(self, output: Any, expected: Any = None, **kwargs: Any) -> Score:
        return await self._run_eval_async(output, expected, **kwargs)

    def eval(self, output: Any, expected: Any = None, **kwargs: Any) -> Score:
        return self._run_eval_sync(output, expected, **kwargs)

    def __call__(self, output: Any, expected: Any = None, **kwargs: Any) -> Score:
        return self.eval(output, expected, **kwargs)

    async def _run_eval_async(self, output: Any, expected: Any = None, **kwargs: Any) -> Score:
        return self._run_eval_sync(output, expected, **kwargs)

    def _name(self) -> str:
        return self.__class__.__name__

    @abstractmethod
    def _run_eval_sync(self, output: Any, expected: Any = None, **kwargs: Any) -> Score: ...


class ScoreLike(Protocol):
    """What ``Eval`` takes as a score: ``Score`` or any object with these (autoevals' own)."""

    @property
    def name(self) -> str: ...

    @property
    def score(self) -> float | None: ...

    @property
    def metadata(self) -> dict[str, Any]: ...

    def as_dict(self) -> Any: ...


class _ScoreValue(TypedDict):
    score: float | None


class ScoreDict(_ScoreValue, total=False):
    """A scorer's result as a dict; ``name`` defaults to the scorer's."""

    name: str
    metadata: dict[str, Any]


class _NamedScoreValue(_ScoreValue):
    name: str


class NamedScoreDict(_NamedScoreValue, total=False):
    """A scorer's result as a dict with its name (needed when a scorer returns several)."""

    metadata: dict[str, Any]


class _ClassificationId(TypedDict):
    id: str


class ClassificationItem(_ClassificationId, total=False):
    """A classification as it is logged under its classifier's name (``Classification.as_item``)."""

    label: str
    metadata: dict[str, Any]


def is_score(obj: object) -> bool:
    """``obj`` looks like a score: it has ``name``, ``score``, ``metadata`` and ``as_dict``."""
    return all(hasattr(obj, attribute) for attribute in ("name", "score", "metadata", "as_dict"))


def is_classification(obj: object) -> bool:
    """``obj`` looks like a classification: it has ``id``, ``metadata`` and ``as_dict``."""
    return all(hasattr(obj, attribute) for attribute in ("id", "metadata", "as_dict"))


def is_scorer(obj: object) -> bool:
    """``obj`` can be a scorer: a class with a scorer's methods, an object with ``eval`` or
    ``eval_async``, or any callable."""
    if isinstance(obj, type):
        return any(hasattr(obj, method) for method in ("eval", "eval_async", "_run_eval_sync", "_run_eval_async"))
    return hasattr(obj, "eval") or hasattr(obj, "eval_async") or callable(obj)


__all__ = ["Classification", "ClassificationItem", "NamedScoreDict", "Score", "ScoreDict", "ScoreLike", "Scorer",
           "is_classification", "is_score", "is_scorer"]


Input = TypeVar("Input")
Output = TypeVar("Output")
Expected = TypeVar("Expected")


# (generic over the same three types as 0.48.1's, so annotations like SyncScorerLike[str, str, str] work)
@runtime_checkable
class SyncScorerLike(Protocol[Input, Output, Expected]):
    """Anything ``Eval`` can call as a synchronous scorer: ``scorer(input=..., output=..., expected=...)``."""

    def __call__(self, input: Input, output: Output, expected: Expected | None = None, **kwargs: Any) -> Any: ...


@runtime_checkable
class AsyncScorerLike(Protocol[Input, Output, Expected]):
    """A scorer object ``Eval`` awaits through ``eval_async``."""

    async def eval_async(self, output: Output, expected: Expected | None = None, **kwargs: Any) -> Any: ...
