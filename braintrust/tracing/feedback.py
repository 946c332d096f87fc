"""Feedback rows: scores/expected/tags merged into an existing row, plus an optional comment row."""

from __future__ import annotations

import datetime
from typing import Any

from braintrust import jsonsafe
from braintrust.delivery.backend import ObjectRef
from braintrust.tracing import ids
from braintrust.tracing.record import validate_metadata, validate_scores, validate_tags

_SOURCES = ("external", "app", "api")


def log_feedback(
    ref: ObjectRef,
    id: str,
    scores: dict | None = None,
    expected: Any = None,
    tags: list | None = None,
    comment: str | None = None,
    metadata: dict | None = None,
    source: str | None = None,
) -> None:
    """Attach feedback to row ``id`` of the object ``ref``."""
    from braintrust.tracing.span import _enqueue

    if not id or not isinstance(id, str):
        # (any other id names no row: the feedback could only be refused later, at delivery)
        raise ValueError(f"log_feedback needs the id of the row to attach feedback to (a non-empty string, "
                         f"as span.id or logger.log() returns it), got {id!r:.60}.")
    if scores is None and expected is None and tags is None and comment is None:
        raise ValueError("log_feedback needs at least one of scores, expected, tags or comment.")
    source = source or "external"
    if source not in _SOURCES:
        raise ValueError(f"source must be one of {', '.join(_SOURCES)}, got {source!r}.")
    audit_metadata = jsonsafe.snapshot(validate_metadata(metadata))[0] if metadata is not None else None
    update: dict[str, Any] = {}
    if scores is not None:
        update["scores"] = validate_scores(scores)
    if expected is not None:
        update["expected"] = expected
    if tags is not None:
        update["tags"] = validate_tags(tags)
    if update:
        data, size = jsonsafe.snapshot_fields(update)
        row = {"id": id, **data, "_audit_source": source, "_audit_metadata": audit_metadata, "_is_merge": True}
        _enqueue(ref, row, size + 200)
    if comment is not None:
        row = {
            "id": ids.row_id(),
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "origin": {"id": id},
            "comment": {"text": jsonsafe.snapshot(comment)[0]},
            "_audit_source": source,
            "_audit_metadata": audit_metadata,
        }
        _enqueue(ref, row, len(str(comment)) + 300)
