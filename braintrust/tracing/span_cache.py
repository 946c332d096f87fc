"""What ``Eval``'s scorers read of their trial's trace without a round trip (0.48.1's span cache).

While an ``Eval`` with an experiment runs (``enable_cache=True``, the default), what each trial's
spans write (their first write, each ``log``, their end) is also kept here, in process, per
trace: ``trace.get_spans()`` answers from it with no flush and no request. As 0.48.1's cache, it
holds the fields ``input``, ``output``, ``metadata``, ``span_attributes``, ``error``,
``metrics`` and ``tags`` (merged as the destination merges them) with ``span_id`` and
``span_parents``; not ``expected``, ``scores`` or the rest.

Spans another process or a Braintrust function writes into a trace are not here, so, as in
0.48.1, exporting a span (``span.export()``, ``span.permalink()``, ``invoke`` under a span) or
``init_function`` turns the cache off for the rest of the process (``disable``): scorers then
read their trace back from where it is stored. A trial's spans are dropped once its scorers
are done (``untrack``), so a long run holds only the trials in flight.

Outside an ``Eval``, a span pays one check of ``recording`` when it starts.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from typing import Any, Iterator

__all__ = ["disable", "logged", "recording", "reset", "running", "spans", "started", "trial_root", "untrack"]

#: Evals running with the cache on (``SpanImpl`` checks this when a span starts).
recording = 0
#: Turned off for the rest of the process (``disable``).
disabled = False

#: The fields a cached span keeps (0.48.1's), besides its ids.
_FIELDS = ("input", "output", "metadata", "span_attributes", "error", "metrics", "tags")

_lock = threading.RLock()  # (a finalizer exporting a span may run while this thread holds it)
_traces: dict[str, "_Trace"] = {}  # root span id -> the trials' writes to it
_trial_root: contextvars.ContextVar[bool] = contextvars.ContextVar("braintrust_trial_root", default=False)


class _Trace:
    """One trace's writes, in the order they were made: (span, fields) pairs. Its spans refer to
    it: ``drop`` empties it for good (no reference cycle left behind, nothing more kept)."""

    __slots__ = ("writes", "trials")

    def __init__(self) -> None:
        self.writes: list[tuple[Any, dict[str, Any]]] | None = []
        self.trials = 0  # (trials under one root: an Eval run inside a current span)

    def drop(self) -> None:
        self.writes = None


def _drop_all() -> None:
    for trace in _traces.values():
        trace.drop()
    _traces.clear()


@contextlib.contextmanager
def running(enabled: bool) -> Iterator[None]:
    """An ``Eval``'s trials run within: their spans are cached if ``enabled``."""
    global recording
    if not enabled or disabled:
        yield
        return
    with _lock:
        recording += 1
    try:
        yield
    finally:
        with _lock:
            recording -= 1
            if not recording:
                _drop_all()


@contextlib.contextmanager
def trial_root() -> Iterator[None]:
    """The span started within is a trial's root: its trace is cached (``started``)."""
    token = _trial_root.set(True)
    try:
        yield
    finally:
        _trial_root.reset(token)


def started(span: Any, row: dict[str, Any]) -> "_Trace | None":
    """Called by a span starting while ``recording``: caches its first write if its trace is a
    trial's; the trace it joined (the span keeps it for its ``log`` calls), else None."""
    if disabled or span.ref.object_type != "experiment":  # (as 0.48.1: spans written to logs are not kept)
        return None
    trace = _traces.get(span.root_span_id)
    if trace is None:
        if not _trial_root.get():
            return None
        with _lock:
            trace = _traces.setdefault(span.root_span_id, _Trace())
    if _trial_root.get():
        trace.trials += 1
    logged(trace, span, row)
    return trace


def logged(trace: _Trace, span: Any, fields: dict[str, Any]) -> None:
    """A write to ``span`` (of ``trace``): a private copy of the cached fields is kept."""
    writes = trace.writes
    if writes is None:
        return
    kept = {name: _copied(fields[name]) for name in _FIELDS if fields.get(name) is not None}
    if kept:
        writes.append((span, kept))  # (list.append: safe beside a reader on another thread)


def untrack(root_span_id: str) -> None:
    """A trial's scorers are done: its trace's spans are dropped (with its last trial's)."""
    with _lock:
        trace = _traces.get(root_span_id)
        if trace is not None:
            trace.trials -= 1
            if trace.trials <= 0:
                del _traces[root_span_id]
                trace.drop()


def spans(root_span_id: str) -> list[dict[str, Any]] | None:
    """The trace's cached spans, in the order they started: each a new dict of ``span_id``, the
    cached fields it has and ``span_parents`` (0.48.1's field order); None when the cache cannot
    answer (off, or not a trial's trace in flight)."""
    trace = None if disabled else _traces.get(root_span_id)
    writes = trace.writes if trace is not None else None
    if writes is None:
        return None
    merged: dict[str, tuple[Any, dict[str, Any]]] = {}
    for span, fields in list(writes):
        entry = merged.get(span.span_id)
        if entry is None:
            merged[span.span_id] = (span, _copied(fields))
        else:
            _merge(entry[1], fields)
    if not merged:
        return None
    found = []
    for span, fields in merged.values():
        ended = span._ended_at
        if ended is not None:
            metrics = fields.setdefault("metrics", {})
            if isinstance(metrics, dict):
                metrics.setdefault("end", ended)  # (an end the span logged stands, as in 0.48.1)
        row: dict[str, Any] = {"span_id": span.span_id}
        for name in ("input", "output", "metadata"):
            if name in fields:
                row[name] = fields[name]
        if span.span_parents is not None:
            row["span_parents"] = list(span.span_parents)
        for name in ("span_attributes", "error", "metrics", "tags"):
            if name in fields:
                row[name] = fields[name]
        found.append(row)
    return found


def disable() -> None:
    """Off for the rest of the process (a span was exported, ``init_function`` was called):
    spans written elsewhere would be missing from it."""
    global disabled
    disabled = True
    with _lock:
        _drop_all()


def reset() -> None:
    """On again, empty (tests: a fresh process's state)."""
    global disabled
    disabled = False
    with _lock:
        _drop_all()


def _merge(into: dict[str, Any], later: dict[str, Any]) -> None:
    """The destination's merge: dicts recursively, top-level ``tags`` as a union, else replaced."""
    for name, value in later.items():
        existing = into.get(name)
        if name == "tags" and isinstance(existing, list) and isinstance(value, list):
            into[name] = existing + [tag for tag in value if tag not in existing]
        elif isinstance(existing, dict) and isinstance(value, dict):
            _merge_dicts(existing, value)
        else:
            into[name] = _copied(value)


def _merge_dicts(into: dict[str, Any], later: dict[str, Any]) -> None:
    for key, value in later.items():
        existing = into.get(key)
        if isinstance(existing, dict) and isinstance(value, dict):
            _merge_dicts(existing, value)
        else:
            into[key] = _copied(value)


def _copied(value: Any) -> Any:
    """A copy of a JSON-like value's dicts and lists (a write's fields are shared with its row,
    which later merges change in place)."""
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value
