"""Log records: ``logger.info(body)`` (and ``trace``, ``debug``, ``warn``, ``error``, ``fatal``,
``emit_log(body, level)``), one row each, as the public SDK writes them.

A record is a row of its own (span type ``log``, its level in ``span_attributes.log_level``, the
body as ``output``). Written while a span is current, it carries that span's ids, so it shows in
that trace; otherwise it joins a trace the logger keeps for its records outside spans. Keyword
parameters make the body a template: ``logger.info("user {user} failed", user=u)`` logs the
rendered text, and the template and each parameter under ``metadata`` (``braintrust.template``,
``braintrust.template.parameter.<name>``), so records group by template. A template that does not
render (a positional field, a format spec the value refuses) is logged as written; a name not
given stays as its ``{name}`` placeholder, as in 0.48.1.
"""

from __future__ import annotations

import time
from typing import Any

from braintrust import jsonsafe
from braintrust.tracing import context, ids, span_origin
from braintrust.tracing.record import validate_metadata
from braintrust.tracing.span import NOOP_SPAN, _enqueue, caller_location
from braintrust.tracing.timestamps import iso_utc

LOG_LEVELS = ("trace", "debug", "info", "warn", "error", "fatal")
TEMPLATE_KEY = "braintrust.template"
PARAMETER_PREFIX = "braintrust.template.parameter."


def render(body: Any, parameters: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The output, and the template's metadata (empty without parameters)."""
    if not parameters:
        return body, {}
    if not isinstance(body, str):
        raise TypeError("Log body must be a string when template parameters are provided")
    try:
        text = body.format_map(_KeepMissing(parameters))
    except Exception:  # (whatever a value's __format__ raises: the record is logged all the same)
        text = body
    return text, {TEMPLATE_KEY: body, **{PARAMETER_PREFIX + name: value for name, value in parameters.items()}}


class _KeepMissing(dict):
    """Template parameters; a name not given renders as its own placeholder."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


#: ``place`` of ``emit``: the span current now.
CURRENT_SPAN = object()


def span_place() -> tuple[str, str] | None:
    """``(span_id, root_span_id)`` of the current span, or None outside spans."""
    current = context.current_span_var.get()
    if current is None or current is NOOP_SPAN:
        return None
    return current.span_id, current.root_span_id


def emit(logger: Any, body: Any, level: str, metadata: Any, parameters: dict[str, Any],
         captured_at: float | None = None, place: Any = CURRENT_SPAN) -> str:
    """Queue one record on ``logger``; returns its row id. ``captured_at``: when it happened
    (default: now); ``place``: the ``span_place()`` it was written in (default: looked up now)."""
    output, template = render(body, parameters)  # (before the level: 0.48.1 refuses a bad body first)
    if level not in LOG_LEVELS:
        raise ValueError(f"Invalid log level {level!r}. Expected one of: {', '.join(LOG_LEVELS)}")
    fields: dict[str, Any] = {} if output is None else {"output": output}  # (no body: no output, as in 0.48.1)
    if metadata is not None or template:
        fields["metadata"] = {**(validate_metadata(metadata) if metadata is not None else {}), **template}
    data, size = jsonsafe.snapshot_fields(fields)
    now = time.time() if captured_at is None else captured_at
    if place is CURRENT_SPAN:
        place = span_place()
    if place is not None:
        span_id, root_span_id = place
    else:
        span_id, root_span_id = ids.span_id(logger._legacy_ids), logger._records_trace_id()
    caller = caller_location()
    caller["span_origin"] = span_origin.ORIGIN
    row_id = ids.row_id()
    row = {
        "id": row_id,
        "span_id": span_id,
        "root_span_id": root_span_id,
        "span_parents": None,
        "span_attributes": {"type": "log", "log_level": level, "exec_counter": ids.next_exec_counter()},
        "created": iso_utc(now),
        "context": caller,
        **data,
        "metrics": {"start": now, "end": now},
        "_is_merge": False,
    }
    _enqueue(logger.ref, row, size + 400)
    return row_id
