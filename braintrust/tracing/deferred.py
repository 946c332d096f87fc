"""``DeferredSpan``: a span whose row is built once, when it ends, unless it is used first.

For spans an owner opens and closes on the caller's behalf, most of which nobody touches in
between (the pytest plugin's case and task spans: one pair per test). It records its ids, start
time, exec counter and first fields (validated and snapshotted at once, as ``SpanImpl`` does),
and ``finish`` builds the row in one piece, merging the last fields into the first, and queues
it: no ``SpanImpl``, no held ``OpenRow``, no second snapshot.

It is a ``Span`` all the same. Children (``start_span``, ``@traced`` code under it while it is
current) are real spans that only need its ids. Anything else that needs a real span (``log``,
``export``, feedback, ...) turns it into one (``real``): a ``SpanImpl`` with the same ids,
start, creation time, caller and exec counter, so its row is the one it would have had.

Like a ``SpanImpl``'s held row, it is in the ``open_rows`` registry until it ends: a flush (the
exit flush included) or a write from elsewhere to its row id queues its row as it is so far
(it becomes real, with its first write queued), and what follows travels as merges.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from braintrust import jsonsafe, masking
from braintrust.delivery import open_rows
from braintrust.delivery.backend import ObjectRef
from braintrust.span_types import span_type_value
from braintrust.tracing import ids, reentry
from braintrust.tracing.record import hide_refused_value, merge_row_into, timed_metrics, validate_event
from braintrust.tracing.span import CurrentTokens, Span, SpanImpl, _enqueue_now, first_row, internal_options, processor

__all__ = ["DeferredSpan"]


class DeferredSpan(open_rows.Holder, CurrentTokens, Span):
    """A root span (``parent=None``) or a child of another ``DeferredSpan``, on ``ref``.

    ``caller`` is the ``context`` the row names as where the span started (the owner knows it
    better than the stack does: the plugin passes the test function's location). ``legacy``:
    ``ids.legacy_ids()`` if the owner read it already (a child uses its parent's)."""

    __braintrust_placeholder__ = "<span>"

    def __init__(
        self,
        ref: ObjectRef,
        name: str,
        type: Any,
        event: dict[str, Any],
        caller: dict[str, Any],
        parent: "DeferredSpan | None" = None,
        legacy: bool | None = None,
    ):
        self.ref = ref
        self.name = name
        self.propagated_event = None
        if parent is not None:
            legacy = parent._legacy
        elif legacy is None:
            legacy = ids.legacy_ids()
        self._legacy = legacy
        self.id = ids.row_id()
        self.span_id = ids.span_id(legacy)
        if parent is not None:
            self.root_span_id = parent.root_span_id
            self.span_parents: list[str] | None = [parent.span_id]
        else:
            self.root_span_id = self.span_id if legacy else ids.trace_id(legacy)
            self.span_parents = None
        self._type = span_type_value(type)
        self._exec_counter = ids.next_exec_counter()
        self.caller = caller
        self._start = time.time()
        self._fields, self._size = jsonsafe.snapshot_fields(validate_event(event))
        self._real: SpanImpl | None = None
        self._ended_at: float | None = None
        self._context_tokens: list[Any] = []
        self.lock = threading.Lock()
        self._held = open_rows.register(self.id, self)
        if not self._held:  # too many rows held: become real now (its first write is queued)
            self._become_real("queue")

    # -- becoming real -------------------------------------------------------------------------

    @property
    def real(self) -> SpanImpl:
        """The ``SpanImpl`` this span is from now on (made on first use)."""
        with self.lock:
            if self._real is None:
                self._become_real("hold" if self._ended_at is None else "none")
            return self._real  # type: ignore[return-value]

    def _become_real(self, first_write: str) -> None:
        if self._held:
            open_rows.unregister(self.id, self)
            self._held = False
        self._real = SpanImpl(
            self.ref,
            name=self.name,
            type=self._type,
            start_time=self._start,
            parent_span_id=self.span_parents[0] if self.span_parents else None,
            root_span_id=self.root_span_id,
            event=self._fields,
            row_id=self.id,
            span_id=self.span_id,
            parent_legacy=self._legacy,
            created=self._start,
            caller=self.caller,
            exec_counter=self._exec_counter,
            first_write=first_write,
        )

    def _release_locked(self) -> None:
        """A flush, or a write from elsewhere to this row: queue the row as it is now."""
        if self._real is None:
            self._become_real("queue")
        elif self._real._open is not None:
            self._real._open.release()

    def _forget_after_fork(self) -> None:
        # The parent queues this row; in the child it is real, and what it logs travels as merges.
        self.lock = threading.Lock()
        self._held = False
        if self._real is None:
            self._become_real("none")
        else:
            self._real._open = None

    # -- the owner's end -----------------------------------------------------------------------

    def finish(self, fields: dict[str, Any], end_time: float | None = None) -> float:
        """Log ``fields`` (validated here) and end the span: one row, queued once."""
        clean = validate_event(fields)
        if reentry.collecting_here():  # (``lock`` may be this thread's: see reentry)
            end = end_time or time.time()
            reentry.defer(lambda: self.finish(clean, end))
            return end
        with self.lock:
            if self._ended_at is not None:
                return self._ended_at
            real = self._real
            if real is None:
                self._ended_at = self._queue_row(clean, end_time or time.time())
                return self._ended_at
        if clean:
            real.log(**clean)
        self._ended_at = real.end(end_time)
        return self._ended_at

    def _queue_row(self, clean: dict[str, Any], end: float) -> float:
        """Queue the row, ended at ``end`` unless it logged its own (returned: the end it has)."""
        attributes: dict[str, Any] = {"name": self.name}
        if self._type is not None:
            attributes["type"] = self._type
        attributes["exec_counter"] = self._exec_counter
        row = first_row(self, attributes, self._start, self.caller)
        row.update(self._fields)
        if self._held:
            open_rows.unregister(self.id, self)
            self._held = False
        ref = self.ref
        # Once the object is resolved the row is encoded at once, from the caller's values (the
        # bytes freeze them), as Logger.log does; before that they are snapshotted first.
        encode_now = bool(ref.ids) and masking.get_masking_function() is None
        size = self._size + 400
        if clean:
            if not encode_now:
                clean, extra = jsonsafe.snapshot_fields(clean)
                size += extra
            merge_row_into(row, {**clean, "_is_merge": True})  # (row's dicts are this span's own)
        row["metrics"] = timed_metrics(row.get("metrics"), self._start, end)
        logged_end = row["metrics"]["end"]
        row["_is_merge"] = open_rows.forked(self.id)
        if encode_now:
            row.update(ref.ids)
            encoded = jsonsafe.encode_fresh(row, clean)  # (its other fields were snapshotted as it started)
            if encoded is not None:
                processor().enqueue_encoded(ref, row, encoded)
                return logged_end
            row, size = jsonsafe.snapshot_fields(row)  # orjson and the snapshot would differ: snapshot it all
            size += 400
        _enqueue_now(ref, row, size)
        return logged_end

    # -- Span ----------------------------------------------------------------------------------

    def start_span(self, name=None, type=None, span_attributes=None, start_time=None, set_current=None,
                   parent=None, propagated_event=None, internal=None, **event) -> Span:
        if internal:
            with internal_options(internal):
                return self.start_span(name, type, span_attributes, start_time, set_current, parent, propagated_event, **event)
        real = self._real
        if real is not None or parent:
            return (real or self.real).start_span(
                name=name, type=type, span_attributes=span_attributes, start_time=start_time,
                set_current=set_current, parent=parent, propagated_event=propagated_event, **event,
            )
        # A child needs only this span's ids: this one stays deferred.
        return SpanImpl(
            self.ref, name=name, type=type, span_attributes=span_attributes, start_time=start_time,
            parent_span_id=self.span_id, root_span_id=self.root_span_id,
            propagated_event=propagated_event, event=event, parent_legacy=self._legacy,
        )

    def log(self, **event: Any) -> None:
        __tracebackhide__ = hide_refused_value
        if reentry.collecting_here():
            clean = validate_event(event)
            reentry.defer(lambda: self.real.log(**clean))
            return
        self.real.log(**event)

    def log_feedback(self, **event: Any) -> None:
        self.real.log_feedback(**event)

    def set_attributes(self, name=None, type=None, span_attributes=None) -> None:
        if reentry.collecting_here():
            reentry.defer(lambda: self.real.set_attributes(name=name, type=type, span_attributes=span_attributes))
        else:
            self.real.set_attributes(name=name, type=type, span_attributes=span_attributes)
        if name is not None:
            self.name = name

    def export(self) -> str:
        return self.real.export()

    def link(self) -> str:
        return self.real.link()

    def permalink(self) -> str:
        return self.real.permalink()

    def end(self, end_time: float | None = None) -> float:
        return self.finish({}, end_time)

    def flush(self) -> None:
        from braintrust.delivery.runtime import flush

        flush()

    def __enter__(self) -> "DeferredSpan":
        self.set_current()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc is not None:
                self.real.log_error(exc_type, exc, tb)
            self.end()
        finally:
            self.unset_current()

    def __repr__(self) -> str:
        state = "real" if self._real is not None else "deferred"
        return f"DeferredSpan(name={self.name!r}, id={self.id!r}, span_id={self.span_id!r}, {state})"
