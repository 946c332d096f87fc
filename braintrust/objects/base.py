"""What loggers and experiments share: root spans, merges into existing rows, feedback, flush."""

from __future__ import annotations

from typing import Any, Mapping

from braintrust import jsonsafe
from braintrust.delivery.backend import ObjectRef
from braintrust.delivery.runtime import flush as flush_all
from braintrust.tracing.api import start_span_under_parent
from braintrust.tracing.context import current_span_var
from braintrust.tracing.feedback import log_feedback as _log_feedback
from braintrust.tracing.record import validate_event
from braintrust.tracing.span import SpanImpl, _enqueue, internal_options


class RowsObject:
    """An object that holds traces (project logs, an experiment). Subclasses set ``ref`` and
    the type of the root spans they start (``ROOT_SPAN_TYPE``)."""

    ROOT_SPAN_TYPE = "task"
    ref: ObjectRef

    @property
    def logging_state(self) -> Any:
        """The process's ``BraintrustState`` (this SDK keeps one)."""
        from braintrust.state import global_state

        return global_state()

    def log_feedback(
        self,
        id: str,
        scores: Any = None,
        expected: Any = None,
        tags: Any = None,
        comment: str | None = None,
        metadata: Any = None,
        source: str | None = None,
    ) -> None:
        _log_feedback(self.ref, id=id, scores=scores, expected=expected, tags=tags, comment=comment, metadata=metadata, source=source)

    def start_span(
        self,
        name: str | None = None,
        type: Any = None,
        span_attributes: Mapping[str, Any] | None = None,
        start_time: float | None = None,
        set_current: bool | None = None,
        parent: Any = None,
        propagated_event: dict | None = None,
        span_id: str | None = None,
        root_span_id: str | None = None,
        internal: dict | None = None,
        **event: Any,
    ) -> SpanImpl:
        """Start a root span here (or under ``parent``: an exported slug, or W3C headers). Under a
        current span it is that span's child (``root_span_id`` then ignored), as in 0.48.1."""
        if internal:
            with internal_options(internal):
                return self.start_span(name=name, type=type, span_attributes=span_attributes, start_time=start_time,
                                       set_current=set_current, parent=parent, propagated_event=propagated_event,
                                       span_id=span_id, root_span_id=root_span_id, **event)
        span = None
        if parent:
            span = start_span_under_parent(
                parent, fallback=self.ref, typed_root=True, name=name, type=type, span_attributes=span_attributes,
                start_time=start_time, propagated_event=propagated_event, event=event,
            )
        if span is None:
            current = current_span_var.get()
            if current is not None and current.span_id:
                # Under a current span (of any object), as in 0.48.1: its child, written here, of
                # this object's root type unless given one.
                span = SpanImpl(
                    self.ref, name=name, type=self.ROOT_SPAN_TYPE if type is None else type, span_attributes=span_attributes, start_time=start_time,
                    propagated_event=propagated_event, event=event, span_id=span_id,
                    parent_span_id=current.span_id, root_span_id=current.root_span_id,
                    parent_legacy=getattr(current, "_legacy", None),
                )
            else:
                span = SpanImpl(
                    self.ref, name=name, type=type, span_attributes=span_attributes, start_time=start_time,
                    propagated_event=propagated_event, event=event, default_root_type=self.ROOT_SPAN_TYPE,
                    span_id=span_id, root_span_id=root_span_id,
                )
        if set_current is False:
            span._set_current_on_enter = False
        return span

    def update_span(self, id: str, **event: Any) -> None:
        """Merge fields into row ``id``; ``span_id`` and ``root_span_id`` (both or neither, as
        in 0.48.1) go on the merge with them."""
        if not id or not isinstance(id, str):
            raise ValueError(f"update_span needs the id of the row to update (a non-empty string, as span.id or "
                             f"logger.log() returns it), got {id!r:.60}.")
        given = {key: event.pop(key) for key in ("span_id", "root_span_id") if key in event}
        span_ids = {key: value for key, value in given.items() if value is not None}
        if len(span_ids) == 1:
            raise ValueError("both root_span_id and span_id must be set, or neither")
        if any(not isinstance(value, str) for value in span_ids.values()):
            raise ValueError(f"update_span: span_id and root_span_id must be strings (span.span_id, span.root_span_id), got {span_ids!r:.120}.")
        clean = {**dict.fromkeys(k for k, v in event.items() if v is None), **validate_event(event)}  # (a field given as None is sent as null, clearing it, as 0.48.1 does)
        clean.pop("id", None)
        data, size = jsonsafe.snapshot_fields(clean)
        _enqueue(self.ref, {"id": id, **span_ids, **data, "_is_merge": True}, size + 200)

    def flush(self) -> Any:
        return flush_all()

    def __enter__(self) -> Any:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.flush()
