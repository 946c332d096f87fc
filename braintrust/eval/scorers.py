"""How scorers are named, called and what their return values mean.

* **Name**: ``obj._name()`` if defined, else ``__name__``, else the type's name; lambdas are
  ``scorer_<index in the list>``.
* **Resolution**: a class defining ``eval``, ``eval_async`` or ``_run_eval_sync`` (autoevals'
  scorers, ``braintrust.score.Scorer``) is instantiated with no arguments; anything else is used as
  given. An object with ``eval_async`` is awaited through it.
* **Arguments**: ``input, expected, metadata, output, trace, id, tags`` are matched to parameter
  names; parameters with defaults keep them; ``**kwargs`` receives the rest; a required parameter
  whose name matches none of them gets the next unused argument in that order (so ``def s(a, b)``
  receives ``a=input, b=expected``).
* **Return values**: see ``to_scores`` (and ``to_classifications`` for classifiers).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Iterable, Mapping
from numbers import Number
from typing import Any, Callable

from braintrust.score import Classification, Score, check_score_value, plain_score_value

#: The arguments a scorer may receive, in the order leftover parameters are filled.
SCORER_ARGUMENTS = ("input", "expected", "metadata", "output", "trace", "id", "tags")


def resolve_scorer(scorer: Any) -> Any:
    if inspect.isclass(scorer) and any(hasattr(scorer, m) for m in ("eval", "eval_async", "_run_eval_sync")):
        return scorer()
    return scorer


def scorer_name(scorer: Any, index: int) -> str:
    named = getattr(scorer, "_name", None)
    if callable(named) and not inspect.isclass(scorer):
        try:
            name = named()
        except Exception:
            name = None
        if isinstance(name, str) and name:
            return name
    name = getattr(scorer, "__name__", None)
    if isinstance(name, str) and name:
        return f"scorer_{index}" if name == "<lambda>" else name
    return type(scorer).__name__


@functools.lru_cache(maxsize=256)
def _cached_signature(fn: Callable) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def _signature(fn: Callable) -> inspect.Signature | None:
    """``inspect.signature`` is slow and a scorer is called once per case: cache it."""
    try:
        return _cached_signature(fn)
    except TypeError:  # an unhashable callable
        try:
            return inspect.signature(fn)
        except (TypeError, ValueError):
            return None


def match_arguments(fn: Callable, available: dict[str, Any], order: tuple[str, ...] = SCORER_ARGUMENTS) -> tuple[list[Any], dict[str, Any]]:
    """``(positional, keyword)`` arguments for calling ``fn`` with the arguments ``available``
    (0.48.1's convention, for scorers and reporters alike): each parameter named like one gets
    it; a required parameter named like none gets the next unused one in ``order``; a parameter
    with a default keeps it; ``**kwargs`` gets the rest; what ``fn`` does not take is left out."""
    signature = _signature(fn)
    if signature is None:
        return [], dict(available)
    params = list(signature.parameters.values())
    values: dict[str, Any] = {}
    used: set[str] = set()
    passable = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    for param in params:
        if param.kind in passable and param.name in available:
            values[param.name] = available[param.name]
            used.add(param.name)
    unused = [name for name in order if name in available and name not in used]
    for param in params:
        if param.kind not in passable or param.name in values or param.default is not inspect.Parameter.empty:
            continue
        if not unused:
            break  # the call then fails with the usual TypeError, recorded as the scorer's error
        name = unused.pop(0)
        values[param.name] = available[name]
        used.add(name)
    positional: list[Any] = []
    keyword: dict[str, Any] = {}
    for param in params:
        if param.name not in values:
            continue
        if param.kind is inspect.Parameter.POSITIONAL_ONLY:
            positional.append(values[param.name])
        else:
            keyword[param.name] = values[param.name]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        for name in order:
            if name in available and name not in used and name not in keyword:
                keyword[name] = available[name]
    return positional, keyword


def scorer_callable(scorer: Any) -> tuple[Callable, bool]:
    """The function to call and whether it is async."""
    eval_async = getattr(scorer, "eval_async", None)
    if eval_async is not None and callable(eval_async) and not inspect.isclass(scorer):
        return eval_async, True
    eval_sync = getattr(scorer, "eval", None)
    if not callable(scorer) and eval_sync is not None and callable(eval_sync):
        return eval_sync, is_async_callable(eval_sync)
    return scorer, is_async_callable(scorer)


def is_async_callable(fn: Any) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)
    return call is not None and not inspect.isfunction(fn) and inspect.iscoroutinefunction(call)


# -- return values --------------------------------------------------------------------------------


def _is_score_like(value: Any) -> bool:
    return not isinstance(value, (dict, str, bytes)) and hasattr(value, "name") and hasattr(value, "score")


def _from_object(value: Any, scorer: str) -> Score:
    name = getattr(value, "name")
    score = plain_score_value(getattr(value, "score"))
    metadata = getattr(value, "metadata", {})  # (None stays None: the span then logs no metadata, as in 0.48.1)
    if not isinstance(name, str):
        raise TypeError(f"scorer {scorer!r} returned a score whose name is {name!r}; a score's name must be a string")
    check_score_value(name, score)
    if isinstance(value, Score) and score is value.score:
        return value
    result = Score.__new__(Score)  # keep the value as given (e.g. True), validated above
    result.name, result.score, result.metadata = name, score, metadata
    return result


def _from_dict(value: dict, default_name: str | None, scorer: str) -> Score:
    name = value.get("name", default_name)
    if name is None:
        raise TypeError(f"scorer {scorer!r} returned a list containing a dict without a 'name': {value!r:.200}")
    # (a name but no "score": a null score, skipped in the averages, as 0.48.1 logs it)
    return _from_object(_Plain(name, value.get("score"), value.get("metadata", {})), scorer)


class _Plain:
    __slots__ = ("name", "score", "metadata")

    def __init__(self, name: Any, score: Any, metadata: Any):
        self.name, self.score, self.metadata = name, score, metadata


def to_scores(name: str, result: Any) -> list[Score]:
    """What a scorer returned, as scores.

    number → ``Score(name, n)``; bool → kept (logged as 1/0); ``None`` → a skipped score;
    ``Score`` or any object with ``name``/``score`` (``metadata``) → as is; dict → needs ``score``,
    takes the scorer's name when it has no ``name``; list/iterable of those (dicts must be named) →
    several scores, each with its own name. Anything else → ``TypeError``; a value outside
    [0, 1] → ``ValueError``. Other kinds of numbers (``Decimal``, numpy's) become plain ones.
    """
    result = plain_score_value(result)
    if result is None:
        return [_from_object(_Plain(name, None, {}), name)]
    if isinstance(result, bool) or (isinstance(result, Number) and not isinstance(result, complex)):
        return [_from_object(_Plain(name, result, {}), name)]
    if isinstance(result, dict):
        if "name" not in result and "score" not in result:  # (0.48.1's message: it makes no Score of it)
            raise ValueError(f"When returning a dict, it must be a valid Score object. Got: {result}")
        return [_from_dict(result, name, name)]
    if _is_score_like(result):
        return [_from_object(result, name)]
    if isinstance(result, (str, bytes)) or not hasattr(result, "__iter__"):
        raise TypeError(
            f"scorer {name!r} returned {type(result).__name__} {result!r:.100}; a scorer must return a number "
            "in [0, 1], a bool, None, a Score, a dict with 'score', or a list of Scores/named dicts"
        )
    scores: list[Score] = []
    for item in result:
        if isinstance(item, dict):
            scores.append(_from_dict(item, None, name))
        elif _is_score_like(item):
            scores.append(_from_object(item, name))
        else:
            raise TypeError(f"scorer {name!r} returned a list containing {type(item).__name__} {item!r:.100}; expected Scores or dicts with 'name' and 'score'")
    if len({score.name for score in scores}) < len(scores):
        # (its span logs one value per name: the others would be lost without a word)
        repeated = sorted({score.name for score in scores if sum(other.name == score.name for other in scores) > 1})
        raise ValueError(f"scorer {name!r} returned several scores named {', '.join(map(repr, repeated))}; give each score a distinct name")
    return scores


def scorer_propagated_event(parent: Any) -> dict[str, Any]:
    """The ``propagated_event`` of a scorer's (or classifier's) span under ``parent``: the
    parent's, plus ``purpose: "scorer"``, so every span the scorer starts (an LLM judge's calls,
    a ``@traced`` helper) is marked as scorer work, as in 0.48.1."""
    inherited = getattr(parent, "propagated_event", None) or {}
    return {**inherited, "span_attributes": {**(inherited.get("span_attributes") or {}), "purpose": "scorer"}}


def span_fields(scores: list[Score]) -> dict[str, Any]:
    """What a score span logs: ``output``, ``metadata`` (as 0.48.1: none for no scores or for
    one score whose metadata is None; each score's, None included, for several) and ``scores``."""
    if not scores:
        return {"output": {}, "scores": {}}
    if len(scores) == 1:
        only = scores[0]
        fields = {"output": {"score": only.score}, "scores": {only.name: only.score}}
        if only.metadata is not None:
            fields["metadata"] = only.metadata
        return fields
    return {
        "output": {s.name: {"score": s.score} for s in scores},
        "metadata": {s.name: s.metadata for s in scores},
        "scores": {s.name: s.score for s in scores},
    }


# -- classifiers ----------------------------------------------------------------------------------


def to_classifications(name: str, result: Any) -> list[Classification] | None:
    """What a classifier returned, as ``Classification`` objects named (by default) after it.

    ``None`` → none (and the classifier's span logs no output); a ``Classification`` or a dict
    with ``id`` (``name``, ``label``, ``metadata`` optional; other keys ignored) → one; a list or
    any other iterable of those → several. Anything else → ``ValueError``, as the public SDK says it.
    """
    if result is None:
        return None
    items = list(result) if isinstance(result, Iterable) and not isinstance(result, (str, bytes, Mapping)) else [result]
    return [_classification(item, name) for item in items]


def _classification(value: Any, name: str) -> Classification:
    if isinstance(value, Mapping) and value:
        fields = {k: value[k] for k in ("id", "name", "label", "metadata") if k in value}
        invalid = f"When returning structured classifier results, each classification must be a valid Classification object. Got: {value}"
        if fields.get("id") is None:
            raise ValueError(invalid)
        try:
            classification = Classification(**fields)
        except (TypeError, ValueError) as error:
            raise ValueError(invalid) from error
    elif isinstance(value, Classification):
        classification = value
    else:
        raise ValueError(f"When returning structured classifier results, each classification must be a non-empty object. Got: {value}")
    return classification if classification.name else dataclasses.replace(classification, name=name)


def classification_span_fields(classifications: list[Classification]) -> dict[str, Any]:
    """What a classifier span logs: ``output`` (one classification, or each name's: one, or a
    list of several) and ``metadata`` (the same way; none when there is no classification)."""
    if len(classifications) == 1:
        only = classifications[0]
        return {"output": only.as_item(), **({"metadata": only.metadata} if only.metadata is not None else {})}
    output: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    for c in classifications:
        for grouped, value in ((output, c.as_item()), (metadata, c.metadata)):
            if c.name not in grouped:
                grouped[c.name] = value
            elif isinstance(grouped[c.name], list):
                grouped[c.name].append(value)
            else:
                grouped[c.name] = [grouped[c.name], value]
    return {"output": output, **({"metadata": metadata} if metadata else {})}
