"""W3C trace context for distributed tracing: ``span.inject(headers)`` on the calling side,
``start_span(parent=headers)`` (or ``@traced(parent=headers)``) on the receiving side.

What travels, as the public SDK sends it:

* ``traceparent: 00-<root_span_id>-<span_id>-01`` (the trace id is the root span id, 32 hex
  characters; the parent id the span id, 16). Spans with ``BRAINTRUST_LEGACY_IDS`` (UUIDs) do
  not fit that format: they inject the baggage only.
* ``baggage: braintrust.parent=<kind>%3A<value>``, the object the trace is logged to:
  ``experiment_id``, ``project_id``, or ``project_name`` while the project's id is not known.
  Other baggage members in the carrier are kept.
* A span that continues a trace, and its children, pass on what they received: the
  ``traceparent``'s flags (``-00``, not sampled, stays so) and the ``tracestate`` header.

The receiving side continues the trace: its span has the trace's root id and the sender's span as
its parent, in the object the baggage names (else the current experiment, else the current
logger). A carrier without a valid ``traceparent`` carries no parent: the span starts as if none
was given, as in the public SDK. Any mapping works, with header names in any case (a web
framework's request headers as they are). ``extract_trace_context(headers)`` keeps just the
trace-context headers (for ``parent=`` or ``parent_context``); ``inject_trace_context(carrier)``
injects the current span.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

from braintrust.delivery.backend import EXPERIMENT, PROJECT_LOGS, ObjectRef

TRACEPARENT = "traceparent"
BAGGAGE = "baggage"
TRACESTATE = "tracestate"
SAMPLED = "01"
#: The row id of span components naming a parent known only from trace context (the public SDK's).
PROPAGATED_ROW_ID = "bt-propagation"
PARENT_MEMBER = "braintrust.parent"

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_HEX16 = re.compile(r"^[0-9a-f]{16}$")


def inject(span: Any, carrier: dict | None) -> dict:
    """Add ``traceparent`` and ``baggage`` for ``span`` to ``carrier`` (a new dict if None), in place."""
    headers = carrier if carrier is not None else {}
    flags, tracestate = getattr(span, "w3c_forward", None) or (SAMPLED, None)
    if _HEX32.match(span.root_span_id or "") and _HEX16.match(span.span_id or ""):
        headers[TRACEPARENT] = f"00-{span.root_span_id}-{span.span_id}-{flags}"
    if tracestate:
        headers[_key_in(headers, TRACESTATE)] = tracestate
    member = _parent_member(span.ref)
    if member is not None:
        # (into the carrier's own "Baggage" if it has one: one header, not two)
        name = _key_in(headers, BAGGAGE)
        headers[name] = _with_member(headers.get(name), member)
    return headers


def inject_trace_context(carrier: dict | None = None, span: Any = None) -> dict:
    """``span.inject(carrier)`` for ``span``, else the current span; with neither, the carrier as
    it is. Never raises: propagation must not break the request it rides on."""
    from braintrust.tracing.span import current_span

    headers = carrier if carrier is not None else {}
    try:
        return (span if span is not None else current_span()).inject(headers)
    except Exception:
        return headers


def extract_trace_context(headers: Mapping | None) -> dict[str, str] | None:
    """The trace-context headers of an incoming request (``traceparent``, and ``baggage`` and
    ``tracestate`` when present, as sent), for ``start_span(parent=...)`` or
    ``parent_context(...)``; None when there is no valid ``traceparent``."""
    if not headers or not isinstance(headers, Mapping) or extract(headers) is None:
        return None
    found = {name: _get(headers, name) for name in (TRACEPARENT, BAGGAGE, TRACESTATE)}
    return {name: value for name, value in found.items() if isinstance(value, str) and value}


def _key_in(headers: Mapping, name: str) -> Any:
    """The carrier's own spelling of header ``name`` (``Baggage``), else ``name``."""
    return next((k for k in headers if isinstance(k, str) and k.lower() == name), name)


def _parent_member(ref: ObjectRef) -> str | None:
    if ref.object_type == EXPERIMENT:
        from braintrust.delivery.runtime import resolve_ref

        experiment_id = (ref.ids or {}).get("experiment_id") or resolve_ref(ref).get("experiment_id")
        return _member("experiment_id", experiment_id)
    if ref.object_type == PROJECT_LOGS:
        project_id = (ref.ids or {}).get("project_id") or ref.create_args.get("project_id")
        if project_id:
            return _member("project_id", project_id)
        return _member("project_name", ref.create_args.get("project_name"))
    return None  # playground logs: no baggage form


def _member(kind: str, value: str | None) -> str | None:
    return f"{PARENT_MEMBER}={quote(f'{kind}:{value}', safe='')}" if value else None


def _with_member(baggage: Any, member: str) -> str:
    """``baggage`` with its ``braintrust.parent`` member replaced by ``member`` (others kept, in order)."""
    kept = [m.strip() for m in baggage.split(",")] if isinstance(baggage, str) else []
    kept = [m for m in kept if m and m.split("=", 1)[0].strip() != PARENT_MEMBER]
    return ",".join([*kept, member])


def _get(headers: Mapping, name: str) -> Any:
    """A header by name, in any case."""
    value = headers.get(name)
    if value is not None:
        return value
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return value
    return None


class RemoteParent:
    """What a W3C carrier names: the trace and span to continue, and the object (or None)."""

    def __init__(self, root_span_id: str, span_id: str, object_kind: str | None, object_value: str | None,
                 flags: str = SAMPLED, tracestate: str | None = None):
        self.root_span_id = root_span_id
        self.span_id = span_id
        self.object_kind = object_kind
        self.object_value = object_value
        #: What a span continuing this trace passes on when it injects: (flags, tracestate).
        self.forward = (flags, tracestate)

    def ref(self) -> ObjectRef | None:
        """The object from the baggage (shared with slugs naming the same object), or None."""
        from braintrust.tracing.api import ref_for_components
        from braintrust.tracing.span_components import SpanComponentsV4, SpanObjectTypeV3

        if self.object_kind == "experiment_id":
            return ref_for_components(SpanComponentsV4(object_type=SpanObjectTypeV3.EXPERIMENT, object_id=self.object_value))
        if self.object_kind == "project_id":
            return ref_for_components(SpanComponentsV4(object_type=SpanObjectTypeV3.PROJECT_LOGS, object_id=self.object_value))
        if self.object_kind == "project_name":
            return ref_for_components(SpanComponentsV4(
                object_type=SpanObjectTypeV3.PROJECT_LOGS,
                compute_object_metadata_args={"project_name": self.object_value, "project_id": None},
            ))
        return None


def extract(headers: Mapping) -> RemoteParent | None:
    """The parent a W3C carrier names, or None when it has no valid ``traceparent``."""
    traceparent = _get(headers, TRACEPARENT)
    match = _TRACEPARENT.match(traceparent.strip().lower()) if isinstance(traceparent, str) else None
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or set(trace_id) == {"0"} or set(span_id) == {"0"}:
        return None  # invalid by the W3C rules
    kind = value = None
    baggage = _get(headers, BAGGAGE)
    if isinstance(baggage, str):
        for member in baggage.split(","):
            key, _, raw = member.partition("=")
            if key.strip() == PARENT_MEMBER:
                kind, _, value = unquote(raw.split(";", 1)[0].strip()).partition(":")
                if kind not in ("experiment_id", "project_id", "project_name") or not value:
                    kind = value = None
    tracestate = _get(headers, TRACESTATE)
    return RemoteParent(trace_id, span_id, kind, value, flags, tracestate if isinstance(tracestate, str) and tracestate else None)

