"""Spans: ``Span`` (the interface), ``SpanImpl``, the no-op span and the current-span helpers.

A span's row is its first write (at start), merged with every ``log`` and with ``metrics.end``
at its end. The span holds that row (``delivery.open_rows``) and queues it once, when it ends
(or earlier: at a flush, or before a write from elsewhere to the same row id); what is logged
after that is queued as merge rows. Every write is a JSON-safe snapshot taken at call time,
handed to the processor with the ``ObjectRef`` of the object it belongs to.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import sys
import time
import traceback
from collections.abc import Mapping
from typing import Any, Iterator
from urllib.parse import urlencode

from braintrust import jsonsafe
from braintrust.delivery import open_rows
from braintrust.delivery.backend import EXPERIMENT, PLAYGROUND_LOGS, PROJECT_LOGS, ObjectRef
from braintrust.span_types import span_type_value
from braintrust.tracing import context, ids, reentry, span_cache, span_origin
from braintrust.tracing.record import hide_refused_value, timed_metrics, validate_event
from braintrust.tracing.timestamps import iso_utc
from braintrust.tracing.span_components import SpanComponentsV3, SpanComponentsV4, SpanObjectTypeV3

NOOP_PERMALINK = "https://www.braintrust.dev/noop-span"

# What recorded a span (``context.span_origin``): the SDK's own tracing unless an integration,
# such as ``wrap_openai``, starts its spans under ``instrumented_by`` (None: ``span_origin.ORIGIN``).
_span_origin_var: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("braintrust_span_origin", default=None)


@contextlib.contextmanager
def instrumented_by(instrumentation: str) -> Iterator[None]:
    """Spans started within the block name ``instrumentation`` as what recorded them."""
    token = _span_origin_var.set(span_origin.instrumented(instrumentation))
    try:
        yield
    finally:
        _span_origin_var.reset(token)


@contextlib.contextmanager
def internal_options(internal: dict) -> Iterator[None]:
    """Apply ``start_span(internal=...)`` (reserved for SDK integrations): only ``instrumentation``
    (what recorded the span) is supported; other keys raise rather than being ignored."""
    unsupported = sorted(set(internal) - {"instrumentation"})
    if unsupported:
        raise ValueError(f"start_span(internal=...): {', '.join(map(repr, unsupported))} not supported by pytest-braintrust "
                         "(only 'instrumentation' is).")
    if internal.get("instrumentation"):
        with instrumented_by(internal["instrumentation"]):
            yield
    else:
        yield


_OBJECT_TYPE_CODES = {
    EXPERIMENT: SpanObjectTypeV3.EXPERIMENT,
    PROJECT_LOGS: SpanObjectTypeV3.PROJECT_LOGS,
    PLAYGROUND_LOGS: SpanObjectTypeV3.PLAYGROUND_LOGS,
}


_get_processor: Any = None


def processor() -> Any:
    """The process's delivery processor (its module imported on first use, then kept)."""
    global _get_processor
    if _get_processor is None:
        from braintrust.delivery.runtime import get_processor

        _get_processor = get_processor
    return _get_processor()


def _enqueue_now(ref: ObjectRef, row: dict[str, Any], approx_bytes: int) -> None:
    if reentry.collecting is not None and reentry.collecting_here():
        reentry.defer(lambda: processor().enqueue(ref, row, approx_bytes))
        return
    processor().enqueue(ref, row, approx_bytes)


def _enqueue(ref: ObjectRef, row: dict[str, Any], approx_bytes: int) -> None:
    """Queue a write; a row an open span holds with the same id is queued first."""
    if reentry.collecting is not None and reentry.collecting_here():
        reentry.defer(lambda: _enqueue(ref, row, approx_bytes))
        return
    if open_rows._held:
        open_rows.release_id(row.get("id"))
    _enqueue_now(ref, row, approx_bytes)


def caller_location() -> dict[str, Any]:
    """The first stack frame outside the ``braintrust`` package."""
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not (module == "braintrust" or module.startswith("braintrust.")):
            code = frame.f_code
            return {
                "caller_functionname": code.co_name,
                "caller_filename": code.co_filename,
                "caller_lineno": frame.f_lineno,
            }
        frame = frame.f_back
    return {}


def first_row(span: Any, attributes: dict[str, Any], created: float, caller: dict[str, Any]) -> dict[str, Any]:
    """The fields a span's first write starts with (``span``: its ids; ``created``: its start)."""
    return {
        "id": span.id,
        "span_id": span.span_id,
        "root_span_id": span.root_span_id,
        "span_parents": span.span_parents,
        "span_attributes": attributes,
        "created": iso_utc(created),
        "context": {**caller, "span_origin": _span_origin_var.get() or span_origin.ORIGIN},
    }


def checked_attributes(span_attributes: Any) -> Mapping[str, Any]:
    """``span_attributes`` if it is a mapping, else a ``TypeError`` that says so (``dict.update``'s
    own error named neither the argument nor the fix)."""
    if not isinstance(span_attributes, Mapping):
        raise TypeError(f"span_attributes must be a dict (such as {{'type': 'llm'}}), got {type(span_attributes).__name__} "
                        f"{span_attributes!r:.50}.")
    return span_attributes


def _deep_merged(base: dict[str, Any], update: dict[str, Any], union_tags: bool = False) -> dict[str, Any]:
    """``update`` merged into a copy of ``base`` (dicts recursively; the caller's dicts untouched).
    ``union_tags``: a top-level ``tags`` list in both is their union (base's first), as 0.48.1
    merges a propagated event's tags with a span's own."""
    out = dict(base)
    for key, value in update.items():
        existing = out.get(key)
        if isinstance(existing, dict) and isinstance(value, dict):
            out[key] = _deep_merged(existing, value)
        elif union_tags and key == "tags" and isinstance(existing, list) and isinstance(value, list):
            out[key] = _union(existing + value)
        else:
            out[key] = value
    return out


def _union(items: list[Any]) -> list[Any]:
    """``items`` without repeats, in first-seen order (tags are strings; anything else is
    refused by validation after the merge, so is compared by its ``repr`` only to get there)."""
    seen: set[str] = set()
    out = []
    for item in items:
        key = repr(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _sent_time(value: Any) -> Any:
    """A start or end time as 0.48.1 sends it: NaN and the infinities as the strings it writes for
    them (JSON has no token for them; the encoder would write null)."""
    return jsonsafe.snapshot(value)[0] if value.__class__ is float and not math.isfinite(value) else value


class Span:
    """The interface every span offers; ``SpanImpl`` records, ``NoopSpan`` does nothing."""

    id: str
    name: str
    span_id: str
    root_span_id: str

    def log(self, **event: Any) -> None:
        raise NotImplementedError

    def log_feedback(self, **event: Any) -> None:
        raise NotImplementedError

    def start_span(self, name=None, type=None, span_attributes=None, start_time=None, set_current=None, parent=None, internal=None, **event) -> "Span":
        raise NotImplementedError

    def export(self) -> str:
        raise NotImplementedError

    def inject(self, carrier: dict | None = None) -> dict:
        """W3C trace-context headers (``traceparent``, ``baggage``) for this span, added to
        ``carrier`` (a new dict if None): send them, and the receiving service's
        ``start_span(parent=headers)`` continues this trace (``braintrust.tracing.w3c``)."""
        from braintrust.tracing.w3c import inject

        return inject(self, carrier)

    def link(self) -> str:
        raise NotImplementedError

    def permalink(self) -> str:
        raise NotImplementedError

    def end(self, end_time: float | None = None) -> float:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def close(self, end_time: float | None = None) -> float:
        return self.end(end_time)

    def set_attributes(self, name=None, type=None, span_attributes=None) -> None:
        raise NotImplementedError

    def set_current(self) -> None:
        raise NotImplementedError

    def unset_current(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> "Span":
        raise NotImplementedError

    def __exit__(self, exc_type, exc_value, tb) -> None:
        raise NotImplementedError


class NoopSpan(Span):
    """A span that records nothing: what ``start_span`` returns when nothing is being logged."""

    id = ""
    name = ""
    span_id = ""
    root_span_id = ""
    span_parents = None
    propagated_event = None
    __braintrust_placeholder__ = "<span>"

    def log(self, **event: Any) -> None:
        pass

    def log_feedback(self, **event: Any) -> None:
        pass

    def start_span(self, name=None, type=None, span_attributes=None, start_time=None, set_current=None, parent=None, internal=None, **event) -> "Span":
        return self

    def export(self) -> str:
        return ""

    def inject(self, carrier: dict | None = None) -> dict:
        return carrier if carrier is not None else {}

    def link(self) -> str:
        return NOOP_PERMALINK

    def permalink(self) -> str:
        return NOOP_PERMALINK

    def end(self, end_time: float | None = None) -> float:
        return end_time if end_time is not None else time.time()

    def flush(self) -> None:
        pass

    def set_attributes(self, name=None, type=None, span_attributes=None) -> None:
        pass

    def set_current(self) -> None:
        pass

    def unset_current(self) -> None:
        pass

    def __enter__(self) -> "Span":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        pass

    def __repr__(self) -> str:
        return "NOOP_SPAN"


NOOP_SPAN = NoopSpan()


class CurrentTokens:
    """``set_current``/``unset_current`` for a span that keeps its tokens in ``_context_tokens``."""

    _context_tokens: list[Any]

    def set_current(self) -> None:
        self._context_tokens.append(context.current_span_var.set(self))

    def unset_current(self) -> None:
        # The newest token set in this context: the span may be current in several at once
        # (``with span:`` in concurrent tasks), each restoring its own previous span.
        tokens = self._context_tokens
        if tokens:  # (the usual case first: the newest token, set in this context)
            try:
                context.current_span_var.reset(tokens[-1])
            except ValueError:
                pass
            else:
                tokens.pop()
                return
        for token in reversed(self._context_tokens[:]):
            try:
                context.current_span_var.reset(token)
            except ValueError:  # (set in another context)
                continue
            self._context_tokens.remove(token)
            return
        if self._context_tokens and context.current_span_var.get() is self:
            # Set in another context (e.g. a generator resumed elsewhere): best effort.
            old = self._context_tokens.pop().old_value
            context.current_span_var.set(None if old is contextvars.Token.MISSING else old)
        elif not self._context_tokens and context.current_span_var.get() is self:
            # Current again only because a span made current after it was unset after it
            # (set a, set b, unset a, unset b): unsetting it leaves no span current, as in 0.48.1,
            # rather than leaving it current for good.
            context.current_span_var.set(None)


class SpanImpl(CurrentTokens, Span):
    """A recording span, attached to an object (``ref``) and, for children, to a parent span."""

    __braintrust_placeholder__ = "<span>"
    #: For a span continuing a W3C trace (and its children): the flags and ``tracestate`` its
    #: ``inject()`` passes on (``braintrust.tracing.w3c``).
    w3c_forward: tuple[str, str | None] | None = None
    #: The trace of an Eval's trial this span writes to, kept for its scorers (``tracing.span_cache``).
    _cached_trace: Any = None

    def __init__(
        self,
        ref: ObjectRef,
        *,
        name: str | None = None,
        type: Any = None,
        span_attributes: dict[str, Any] | None = None,
        start_time: float | None = None,
        parent_span_id: str | None = None,
        root_span_id: str | None = None,
        propagated_event: dict[str, Any] | None = None,
        event: dict[str, Any] | None = None,
        default_root_type: str | None = None,
        row_id: str | None = None,
        span_id: str | None = None,
        parent_legacy: bool | None = None,
        created: float | None = None,
        caller: dict[str, Any] | None = None,
        exec_counter: int | None = None,
        first_write: str = "hold",
    ):
        """``created``, ``caller`` and ``exec_counter`` stand for the moment and the place the
        span really started (a ``DeferredSpan`` that becomes real later). ``first_write``: "hold"
        the row until the span ends (``delivery.open_rows``), "queue" it at once, or "none" (it
        was written elsewhere: everything this span logs travels as merges)."""
        self.ref = ref
        self.propagated_event = propagated_event
        event = dict(event or {})
        # A child names itself as its parent did (BRAINTRUST_LEGACY_IDS is read once per trace).
        legacy = self._legacy = parent_legacy if parent_legacy is not None else ids.legacy_ids()
        given_id = event.pop("id", None)
        if given_id is not None and not isinstance(given_id, str):
            # (else the destination refuses it later, with the rows batched alongside it)
            raise ValueError(f"a span's id must be a string, got {given_id!r:.60}.")
        self.id = row_id or given_id or ids.row_id()
        self.span_id = span_id or ids.span_id(legacy)
        if parent_span_id is not None:
            self.root_span_id = root_span_id or parent_span_id
            self.span_parents: list[str] | None = [parent_span_id]
        else:
            # Legacy ids: a trace is named after its root span (as the public SDK does).
            self.root_span_id = root_span_id or (self.span_id if legacy else ids.trace_id(legacy))
            self.span_parents = None
        self._ended_at: float | None = None
        self._logged_end: float | None = None  # a metrics.end the span was given
        self._context_tokens: list[Any] = []
        now = time.time() if created is None else created
        if caller is None:
            caller = caller_location()
        if name is None:
            if self.span_parents is None:
                name = "root"
            elif caller:
                # "<function>:<file name>:<line>", as the public SDK names an unnamed child.
                filename = os.path.basename(caller["caller_filename"])
                name = caller["caller_functionname"] + (f":{filename}:{caller['caller_lineno']}" if filename else "")
            else:
                name = "subspan"
        attributes: dict[str, Any] = {"name": name}
        type_value = span_type_value(type)
        if type_value is None and self.span_parents is None:
            type_value = default_root_type
        if type_value is not None:
            attributes["type"] = type_value
        attributes["exec_counter"] = exec_counter if exec_counter is not None else ids.next_exec_counter()
        if span_attributes:
            attributes.update(checked_attributes(span_attributes))
        self.name = name
        if propagated_event:
            # Deep-merged into the event; on a conflict the propagated value wins (as in the
            # public SDK), so every descendant carries it.
            event = _deep_merged(event, jsonsafe.snapshot(propagated_event)[0], union_tags=True)
        clean = validate_event(event)
        row = first_row(self, attributes, now, caller)
        row["_is_merge"] = False
        data, size = jsonsafe.snapshot_fields(clean)
        if isinstance(data.get("span_attributes"), dict):
            # (a propagated event's, such as a scorer's purpose: added to the span's own, as in 0.48.1)
            data["span_attributes"] = _deep_merged(attributes, data["span_attributes"])
        row.update(data)
        row["metrics"] = timed_metrics(data.get("metrics"), _sent_time(start_time) if start_time is not None else now)
        self._logged_end = row["metrics"].get("end")
        self._set_current_on_enter = True
        if span_cache.recording:
            self._cached_trace = span_cache.started(self, row)
        if first_write == "none":
            self._open = None
            return
        if first_write == "hold":
            # The processor registers the exit-time flush, which queues held rows: a process
            # whose only spans never end must still send them. (Not inside a collection: the
            # runtime's lock may be held by the code it interrupted; see ``reentry``.)
            if reentry.collecting is None or not reentry.collecting_here():
                processor()
            self._open = open_rows.hold(ref, row, size + 400, _enqueue_now)
        else:
            self._open = None
        if self._open is None:
            if first_write == "queue" and open_rows.forked(self.id):  # (a deferred span held at a fork)
                row["_is_merge"] = True
            _enqueue_now(ref, row, size + 400)

    # -- logging -----------------------------------------------------------------------------

    def _merge_row(self, fields: dict[str, Any], size: int) -> None:
        if self._cached_trace is not None:
            span_cache.logged(self._cached_trace, self, fields)
        held = self._open
        if reentry.collecting is not None and reentry.collecting_here():  # (the held row's lock: see reentry)
            reentry.defer(lambda: self._write(held, fields, size))
        else:
            self._write(held, fields, size)

    def _write(self, held: Any, fields: dict[str, Any], size: int) -> None:
        """Merge into the held row (the one held when the write was made), else queue a merge."""
        if held is not None and held.merge(fields, size):
            return
        row = {
            "id": self.id,
            "span_id": self.span_id,
            "root_span_id": self.root_span_id,
            "span_parents": self.span_parents,
            "_is_merge": True,
        }
        row.update(fields)
        _enqueue_now(self.ref, row, size + 200)

    def log(self, **event: Any) -> None:
        """Merge fields into this span's row (input, output, expected, scores, metadata, ...)."""
        __tracebackhide__ = hide_refused_value
        clean = validate_event(event)
        if clean.pop("id", self.id) != self.id:  # (0.48.1 raises a TypeError; dropping it would lose what was meant)
            raise ValueError(f"span.log(id=...): a span's row id is set when it starts (start_span(..., id=...)); "
                             f"this span's is {self.id!r}.")
        if not clean:
            return
        data, size = jsonsafe.snapshot_fields(clean)
        if data.get("metrics") and data["metrics"].get("end") is not None:
            self._logged_end = data["metrics"]["end"]  # (end() keeps it, as 0.48.1 does)
        self._merge_row(data, size)

    def log_feedback(self, **event: Any) -> None:
        from braintrust.tracing.feedback import log_feedback

        log_feedback(self.ref, id=self.id, **event)

    def set_attributes(self, name=None, type=None, span_attributes=None) -> None:
        attributes = dict(checked_attributes(span_attributes) if span_attributes else {})
        if name is not None:
            attributes["name"] = name
            self.name = name
        if type is not None:
            attributes["type"] = span_type_value(type)
        if attributes:
            data, size = jsonsafe.snapshot_fields(attributes)
            self._merge_row({"span_attributes": data}, size)

    def start_span(
        self,
        name=None,
        type=None,
        span_attributes=None,
        start_time=None,
        set_current=None,
        parent=None,
        propagated_event=None,
        internal=None,
        **event,
    ) -> "SpanImpl":
        if internal:
            with internal_options(internal):
                return self.start_span(name, type, span_attributes, start_time, set_current, parent, propagated_event, **event)
        if parent:
            from braintrust.tracing.api import start_span_under_parent

            span = start_span_under_parent(
                parent, fallback=self.ref, name=name, type=type, span_attributes=span_attributes,
                start_time=start_time, propagated_event=propagated_event, event=event,
            )
            if span is not None:
                if set_current is False:
                    span._set_current_on_enter = False
                return span
        child = SpanImpl(
            self.ref,
            name=name,
            type=type,
            span_attributes=span_attributes,
            start_time=start_time,
            parent_span_id=self.span_id,
            root_span_id=self.root_span_id,
            propagated_event=propagated_event if propagated_event is not None else self.propagated_event,
            event=event,
            parent_legacy=self._legacy,
        )
        if self.w3c_forward is not None:
            child.w3c_forward = self.w3c_forward
        if set_current is False:
            child._set_current_on_enter = False
        return child

    def end(self, end_time: float | None = None) -> float:
        """End the span once; later calls return the first end time."""
        if self._ended_at is None:
            # An end the span logged itself (metrics.end) stands; else end_time, or now (as in 0.48.1).
            self._ended_at = self._logged_end or end_time or time.time()
            held, self._open = self._open, None
            if reentry.collecting is not None and reentry.collecting_here():
                reentry.defer(lambda: self._write_end(held))
            else:
                self._write_end(held)
        return self._ended_at

    def _write_end(self, held: Any) -> None:
        end = {"metrics": {"end": _sent_time(self._ended_at)}}
        if held is None or not held.finish(end, 40):
            self._write(None, end, 40)

    def flush(self) -> None:
        from braintrust.delivery.runtime import flush

        flush()

    # -- identity and links ------------------------------------------------------------------

    def _components(self, cls: type = SpanComponentsV4) -> Any:
        object_type = _OBJECT_TYPE_CODES.get(self.ref.object_type, SpanObjectTypeV3.PROJECT_LOGS)
        object_id = object_id_of(self.ref)
        if object_id is None and self.ref.object_type != PROJECT_LOGS:
            # Only project logs can be named by project; an experiment must be registered first.
            from braintrust.delivery.runtime import resolve_ref

            resolve_ref(self.ref)
            object_id = object_id_of(self.ref)
        kwargs: dict[str, Any] = dict(
            object_type=object_type,
            row_id=self.id,
            span_id=self.span_id,
            root_span_id=self.root_span_id,
            propagated_event=self.propagated_event,
        )
        if object_id is not None:
            kwargs["object_id"] = object_id
        else:
            kwargs["compute_object_metadata_args"] = {
                "project_name": self.ref.create_args.get("project_name"),
                "project_id": self.ref.create_args.get("project_id"),
            }
        return cls(**kwargs)

    def export(self) -> str:
        """A slug other processes can pass as ``parent=`` (V4, or V3 with legacy ids)."""
        slug = self._components(SpanComponentsV3 if ids.legacy_ids() else SpanComponentsV4).to_str()
        self._first_write_as_merge()
        if not span_cache.disabled:  # (its trace may now be written elsewhere, as in 0.48.1)
            span_cache.disable()
        return slug

    def _first_write_as_merge(self) -> None:
        """Once exported, another process may write to this row (``update_span(slug)``) before
        the span ends and queues its held row: that first write then travels as a merge, which
        the destination inserts or merges into, so it cannot erase the other process's fields."""
        held = self._open
        if held is not None and reentry.collecting_here():
            reentry.defer(self._first_write_as_merge)
        elif held is not None:
            with held.lock:
                if held.row is not None:
                    held.row["_is_merge"] = True

    def permalink(self) -> str:
        from braintrust.tracing.links import ERROR_LINK, object_link

        if not span_cache.disabled:  # (0.48.1's permalink exports the span)
            span_cache.disable()
        try:
            return object_link(self.ref, row_id=self.id, resolve=True)
        except Exception as exc:  # permalinks never raise
            return ERROR_LINK + urlencode({"msg": str(exc)})

    def link(self) -> str:
        from braintrust.tracing.links import ERROR_LINK, span_link

        try:
            return span_link(self.ref, row_id=self.id)
        except Exception as exc:
            return ERROR_LINK + urlencode({"msg": str(exc)})

    # -- context -----------------------------------------------------------------------------

    def set_current(self) -> None:
        if self._set_current_on_enter:  # (as 0.48.1's: a span started with set_current=False never is)
            super().set_current()

    def __enter__(self) -> "SpanImpl":
        self.set_current()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc is not None:
                self.log_error(exc_type, exc, tb)
            self.end()
        finally:
            self.unset_current()

    def log_error(self, exc_type: Any, exc: BaseException, tb: Any) -> None:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        self._merge_row({"error": text}, len(text))

    def __repr__(self) -> str:
        return f"SpanImpl(name={self.name!r}, id={self.id!r}, span_id={self.span_id!r}, root_span_id={self.root_span_id!r})"


def object_id_of(ref: ObjectRef) -> str | None:
    """The object's id if already known (never triggers a login)."""
    if ref.ids:
        for key in ("experiment_id", "project_id", "dataset_id", "prompt_session_id"):
            if key in ref.ids:
                return ref.ids[key]
    if ref.object_type == PROJECT_LOGS:
        return ref.create_args.get("project_id")
    if ref.object_type == EXPERIMENT:
        return ref.create_args.get("experiment_id")
    return None


def current_span() -> Span:
    """The span of the current context, or ``NOOP_SPAN``."""
    span = context.current_span_var.get()
    return span if span is not None else NOOP_SPAN


__all__ = ["NOOP_SPAN", "NoopSpan", "Span", "SpanImpl", "current_span", "caller_location"]
