"""The one place that knows the row schema: validating logged fields and merging partial rows.

A span produces a first-write row and later merge rows (``_is_merge: true``); before rows are
sent, rows with the same key are merged here exactly as the server would merge them.
"""

from __future__ import annotations

import math
from numbers import Number
from typing import Any

#: Fields a user may pass to ``log`` (plus ``inputs``, a deprecated alias of ``input``).
LOGGABLE_FIELDS = (
    "input",
    "output",
    "expected",
    "error",
    "scores",
    "metadata",
    "metrics",
    "tags",
    "id",
    "dataset_record_id",
    "origin",
    "classifications",
    "span_attributes",
)

OBJECT_ID_FIELDS = ("org_id", "project_id", "experiment_id", "dataset_id", "prompt_session_id", "log_id")
_KEEP_EARLIEST = ("created", "span_id", "root_span_id", "span_parents", "_parent_id")


def hide_refused_value(excinfo: Any) -> bool:
    """pytest leaves the frames that set ``__tracebackhide__`` to this out of a failing test's
    traceback when the error is a refused value (a ``ValueError``, raised here): the test's own
    line and the message say what to fix. Any other error keeps them; ``--fulltrace`` shows all."""
    return excinfo is not None and isinstance(excinfo.value, ValueError)


__tracebackhide__ = hide_refused_value  # (every frame of this module: the checks)

_EVENT_FIELDS = frozenset(LOGGABLE_FIELDS) | {"created", "span_parents", "allow_concurrent_with_spans"}
_NUMBER_TYPES = (int, float)  # exact types: bool is not among them


def validate_event(event: dict[str, Any]) -> dict[str, Any]:
    """Check the fields of a ``log`` call and return a cleaned copy (None values dropped).

    Raises ``ValueError`` naming the field and the rule, synchronously, as the public SDK does.
    """
    if not event:  # (a span ended with nothing more to log)
        return {}
    if "inputs" in event:
        if event.get("input") is not None:
            raise ValueError("Pass either input or the deprecated inputs, not both.")
        event = {**event, "input": event["inputs"]}
        del event["inputs"]
    if not _EVENT_FIELDS.issuperset(event):
        unknown = set(event) - _EVENT_FIELDS
        raise ValueError(f"Unexpected log field(s) {sorted(unknown)}; allowed: {', '.join(LOGGABLE_FIELDS)}.")
    clean = {k: v for k, v in event.items() if v is not None}
    if "scores" in clean:
        clean["scores"] = validate_scores(clean["scores"])
    if "metadata" in clean:
        clean["metadata"] = validate_metadata(clean["metadata"])
    if "metrics" in clean:
        clean["metrics"] = validate_metrics(clean["metrics"])
    if "tags" in clean:
        clean["tags"] = validate_tags(clean["tags"])
    return clean


def validate_metrics(metrics: Any) -> dict[str, Any]:
    """``metrics`` checked; another kind of number (``Decimal``, ``Fraction``, a numpy scalar) is
    made a plain one (in a copy), as written as given it would reach the server as text."""
    if not isinstance(metrics, dict):
        raise ValueError(f"metrics must be a dict of numbers, got {type(metrics).__name__}.")
    converted = None
    for name, value in metrics.items():
        if type(name) is str and type(value) in _NUMBER_TYPES:
            continue  # the common case, without the slow isinstance(value, Number)
        if not isinstance(name, str):
            raise ValueError(f"metric names must be strings, got {name!r}.")
        if value is None:
            continue
        from braintrust.score import plain_score_value

        plain = plain_score_value(value)
        if type(plain) not in _NUMBER_TYPES and type(plain) is not bool:  # (a bool is a number, as in the public SDK; a complex is not)
            raise ValueError(f"metric {name!r} must be a number, got {value!r}.")
        if plain is not value:
            converted = converted if converted is not None else dict(metrics)
            converted[name] = plain
    return metrics if converted is None else converted


def timed_metrics(given: Any, start: float, end: float | None = None) -> dict[str, Any]:
    """A row's ``metrics``: ``given`` (the caller's) with ``start`` (and ``end``), except that a
    ``start`` or ``end`` the caller gave (not None) is kept, as 0.48.1 keeps them (back-filled logs)."""
    metrics: dict[str, Any] = {"start": start} if end is None else {"start": start, "end": end}
    if given:
        for name, value in given.items():
            if value is not None or (name != "start" and name != "end"):
                metrics[name] = value
    return metrics


def validate_scores(scores: Any) -> dict[str, Any]:
    if not isinstance(scores, dict):
        raise ValueError(f"scores must be a dict of name -> number in [0, 1], got {type(scores).__name__}.")
    out: dict[str, Any] = {}
    for name, value in scores.items():
        if type(name) is str and type(value) in _NUMBER_TYPES and 0 <= value <= 1:
            out[name] = value  # the common case (NaN fails the range test and is refused below)
            continue
        if not isinstance(name, str):
            raise ValueError(f"score names must be strings, got {name!r}.")
        if value is None:
            out[name] = None
            continue
        if type(value) not in _NUMBER_TYPES:
            from braintrust.score import plain_score_value

            value = plain_score_value(value)  # (a Decimal, Fraction or numpy number: logged as a plain one)
        if isinstance(value, bool):
            out[name] = 1 if value else 0
            continue
        if not isinstance(value, Number) or isinstance(value, complex):
            # (a scorer's result, ``Score(...)``, passed whole: its number is its ``.score``)
            hint = " (a scorer's result: pass its .score)" if isinstance(getattr(value, "score", None), Number) else ""
            raise ValueError(f"score {name!r} must be a number in [0, 1] or None, got {value!r}{hint}.")
        if math.isnan(value) or value < 0 or value > 1:
            raise ValueError(f"score {name!r} must be between 0 and 1, got {value!r}.")
        out[name] = value
    return out


def validate_metadata(metadata: Any) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        converted = _object_to_dict(metadata)
        if converted is None:
            raise ValueError(f"metadata must be a dict, got {type(metadata).__name__}.")
        metadata = converted
    for key in metadata:
        if not isinstance(key, str):
            raise ValueError(f"metadata keys must be strings, got {key!r}.")
    return metadata


def validate_tags(tags: Any) -> list[str]:
    if isinstance(tags, str):
        raise ValueError(f"tags must be a list of unique strings, got the string {tags!r:.60} (write tags=[{tags!r:.60}]).")
    if not isinstance(tags, (list, tuple, set, frozenset)):
        raise ValueError(f"tags must be a list of unique strings, got {type(tags).__name__}.")
    seen: list[str] = []
    for tag in tags:
        if not isinstance(tag, str):
            raise ValueError(f"tags must be strings, got {tag!r}.")
        if tag in seen:
            raise ValueError(f"tags must be unique, {tag!r} appears twice.")
        seen.append(tag)
    return seen


def _object_to_dict(value: Any) -> dict[str, Any] | None:
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    dump = getattr(value, "model_dump", None) or getattr(value, "dict", None)
    if callable(dump):
        try:
            result = dump()
        except Exception:
            return None
        return result if isinstance(result, dict) else None
    return None


def row_key(row: dict[str, Any]) -> tuple:
    """The object id fields (in ``OBJECT_ID_FIELDS`` order) and the row id."""
    get = row.get
    return (get("org_id"), get("project_id"), get("experiment_id"), get("dataset_id"), get("prompt_session_id"), get("log_id"), get("id"))


def copy_dicts(value: Any) -> Any:
    """Copy the dict tree of a row (merging mutates dicts in place, never lists)."""
    if isinstance(value, dict):
        return {k: copy_dicts(v) for k, v in value.items()}
    return value


def deep_merge(target: dict[str, Any], update: dict[str, Any]) -> None:
    """Merge ``update`` into ``target`` in place: dicts recursively, everything else replaced."""
    for key, value in update.items():
        existing = target.get(key)
        if isinstance(existing, dict) and isinstance(value, dict):
            deep_merge(existing, value)
        else:
            target[key] = value


def merge_row_into(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """Apply a later row to an earlier row with the same key; returns the resulting row."""
    if not later.get("_is_merge"):
        return later
    merged = earlier
    was_replace = not earlier.get("_is_merge")
    kept = {k: earlier[k] for k in _KEEP_EARLIEST if k in earlier}
    earlier_tags = earlier.get("tags")
    for key, value in later.items():
        if key == "tags" and isinstance(value, list) and isinstance(earlier_tags, list):
            merged["tags"] = earlier_tags + [t for t in value if t not in earlier_tags]
            continue
        existing = merged.get(key)
        if isinstance(existing, dict) and isinstance(value, dict):
            deep_merge(existing, value)
        else:
            merged[key] = value
    merged.update(kept)
    if was_replace:
        merged.pop("_is_merge", None)
    return merged
