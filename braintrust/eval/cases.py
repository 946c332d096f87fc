"""Eval cases and every form ``data=`` may take.

``data`` may be a list, any iterable or iterator, a generator, an async generator (or any async
iterable), a zero-argument function returning one of these (sync or async, called once), a class
(instantiated with no arguments, then iterated), a ``Dataset`` (its records; with their provenance
as ``origin`` when the ``Dataset`` is ``data`` itself, not a function's result, as in 0.48.1) or
``BaseExperiment`` (resolved by the runner, which needs the experiment first).
Each item is an ``EvalCase`` or a dict with the same keys; unknown keys are ignored. A sync
iterable is read on the event loop's thread (a generator may use objects bound to the thread that
made them, such as a ``sqlite3`` connection), handing the loop back between items that take their
time, so a timeout or Ctrl-C stops a slow generator after the item it is reading. A data function
is called there too, as the public SDK calls it: one that takes long to return holds up what else
runs on that loop (the trials of another ``EvalAsync``); an async function does not.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import re
import time
from typing import Any, Generic, Iterable, Mapping, Sequence, TypeVar

from braintrust.serializable import SerializableDataClass

Input = TypeVar("Input")
Output = TypeVar("Output")


@dataclasses.dataclass
class EvalCase(SerializableDataClass, Generic[Input, Output]):
    """One case: the task's ``input``, optionally the ``expected`` output, ``metadata`` and ``tags``.

    ``id``, ``_xact_id`` and ``created`` are a dataset record's provenance; ``upsert_id`` fixes the
    root row id (trial 0; later trials derive theirs from it); ``trial_count`` overrides the
    evaluator's ``trial_count`` for this case.
    """

    input: Input
    expected: Output | None = None
    metadata: Mapping[str, Any] | None = None
    tags: Sequence[str] | None = None
    trial_count: int | None = None
    id: str | None = None
    _xact_id: str | None = None
    created: str | None = None
    origin: dict[str, Any] | None = None
    upsert_id: str | None = None


_CASE_FIELDS = tuple(f.name for f in dataclasses.fields(EvalCase))


@dataclasses.dataclass
class BaseExperiment:
    """``data=BaseExperiment()``: the rows of another experiment of the same project as cases
    (``name=None``: the new experiment's base experiment)."""

    name: str | None = None


def to_case(item: Any, position: int) -> EvalCase:
    """An ``EvalCase`` from a case or a dict (unknown keys ignored)."""
    if isinstance(item, EvalCase):
        return item
    if isinstance(item, dict):
        if "input" not in item:
            raise TypeError(
                f"data item {position} has no 'input' key (keys: {', '.join(map(repr, item))}); every case "
                "needs one, e.g. {'input': ..., 'expected': ...}"
            )
        return EvalCase(**{k: v for k, v in item.items() if k in _CASE_FIELDS and isinstance(k, str)})
    fields = {name: getattr(item, name) for name in _CASE_FIELDS if hasattr(item, name)}
    if "input" in fields and not isinstance(item, (str, bytes)):
        return EvalCase(**fields)  # another SDK's EvalCase, a namedtuple-like object...
    raise TypeError(
        f"data item {position} is a {type(item).__name__}, not an EvalCase or a dict with an 'input' "
        f"key: {item!r:.200}"
    )


def is_dataset(data: Any) -> bool:
    from braintrust.objects.dataset import Dataset

    return isinstance(data, Dataset)


def dataset_case(record: dict[str, Any], dataset_id: str) -> EvalCase:
    """A dataset record as a case, with ``origin`` pointing back at the record."""
    origin = {
        "object_type": "dataset",
        "object_id": dataset_id,
        "id": record.get("id"),
        "_xact_id": record.get("_xact_id"),
        "created": record.get("created"),
    }
    return EvalCase(
        input=record.get("input"),
        expected=record["expected"] if "expected" in record else record.get("output"),  # (use_output=True names it "output")
        metadata=record.get("metadata"),
        tags=record.get("tags"),
        id=record.get("id"),
        _xact_id=record.get("_xact_id"),
        created=record.get("created"),
        origin=origin,
    )


async def resolve_data(data: Any, run_blocking: Any, read: list[EvalCase] | None = None) -> tuple[list[EvalCase], Any]:
    """All cases of ``data`` (and the ``Dataset`` it came from, if any).

    ``run_blocking(fn)`` runs a blocking call (dataset fetches) off the event loop. Cases are
    appended to ``read`` (when given) as they are read, so a caller that stops waiting can tell
    how many were.
    """
    given_dataset = is_dataset(data)
    for _ in range(8):  # a function may return a class whose instances iterate, ...
        if inspect.isclass(data):
            data = data()
            continue
        if inspect.isawaitable(data) and not _is_iterable(data):
            data = await data
            continue
        if is_dataset(data) or _is_iterable(data) or not callable(data):
            break
        data = data()
        if inspect.isawaitable(data):
            data = await data
    if is_dataset(data):
        dataset = data
        records = await run_blocking(lambda: list(dataset.fetch()))
        dataset_id = await run_blocking(lambda: dataset.id)
        cases = [dataset_case(record, dataset_id) for record in records]
        if not given_dataset:
            # Returned by a data function: its records, as 0.48.1 iterates them, with no ``origin``
            # (0.48.1 links a dataset to the experiment and its cases only when given as ``data``).
            return [dataclasses.replace(case, origin=None) for case in cases], None
        return cases, dataset
    cases: list[EvalCase] = read if read is not None else []
    if hasattr(data, "__aiter__"):
        async for item in data:
            cases.append(to_case(item, len(cases)))
        return cases, None
    if not _is_iterable(data):
        raise TypeError(
            f"data must be a list, an iterable, an async iterable, a function or class returning one, "
            f"a Dataset or BaseExperiment(); got {type(data).__name__}."
        )
    iterator = iter(data)
    try:
        handed_back = time.monotonic()
        for item in iterator:
            cases.append(to_case(item, len(cases)))
            if time.monotonic() - handed_back >= HAND_BACK_SECONDS:
                await _hand_back()
                handed_back = time.monotonic()
    except BaseException:
        if inspect.isgenerator(iterator):  # stopped (timeout, Ctrl-C, a bad item): its finally runs now
            iterator.close()
        raise
    return cases, None


#: How long reading a sync iterable may keep the event loop before handing it back between items.
HAND_BACK_SECONDS = 0.1


async def _hand_back() -> None:
    """Let the loop run what fell due (a timeout, a Ctrl-C handler), and take the cancellation
    it asks for. (A timeout reaches the task it cancels a loop iteration or two after it falls
    due, so a bare ``sleep(0)``, after which this task runs first, could miss it: a 1 ms sleep
    lets the loop go round.)"""
    await asyncio.sleep(0.001)


def _is_iterable(value: Any) -> bool:
    if isinstance(value, (str, bytes, dict)):
        return False
    return hasattr(value, "__iter__") or hasattr(value, "__aiter__")


# -- filters (``braintrust eval --filter path=regex``) -------------------------------------------


def value_at(case: EvalCase, path: str) -> tuple[bool, Any]:
    """The value at a dotted path of a case (``metadata.priority``, ``input.name``, ``tags.0``)."""
    current: Any = case.as_dict()
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, (list, tuple)) and part.lstrip("-").isdigit() and -len(current) <= int(part) < len(current):
            current = current[int(part)]
        elif not isinstance(current, (dict, list, tuple)) and hasattr(current, part) and not part.startswith("_"):
            current = getattr(current, part)
        else:
            return False, None
    return True, current


def case_matches(case: EvalCase, filters: Iterable[tuple[str, re.Pattern[str]]]) -> bool:
    """True when every ``(dotted_path, regex)`` matches: the value at the path as a string (JSON
    if it is not one), matched from its start (``re.match``) as the public CLI does. A missing
    or None value matches nothing, as there."""
    for path, pattern in filters:
        found, value = value_at(case, path)
        if not found or value is None:
            return False
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        if pattern.match(text) is None:
            return False
    return True
