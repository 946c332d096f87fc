"""W3C trace context for distributed tracing: ``span.inject(headers)`` on the calling side,
``start_span(parent=headers)`` (or ``@traced(parent=headers)``) on the receiving side.

What travels, as the public SDK sends it:

* ``traceparent: 00-<root_span_id>-<span_id>-01`` (the trace id is the root span id, 32 hex
  characters; the parent id the span id, 16). Spans with ``BRAINTRUST_LEGACY_IDS`` (UUIDs) do
  not fit that format: they inject nothing. Headers go under lowercase names, replacing the
  carrier's own in other cases.
* ``baggage: braintrust.parent=<kind>%3A<value>``, the object the trace is logged to:
  ``experiment_id``, ``project_id``, or ``project_name`` while the project's id is not known.
  Other baggage members in the carrier are kept.
* A span that continues a trace, and its children, pass on what they received: the
  ``traceparent``'s flags (``-00``, not sampled, stays so) and the ``tracestate`` header.

The receiving side continues the trace: its span has the trace's root id and the sender's span as
its parent, in the object the baggage names (else the current experiment, else the current
logger). A carrier without a valid ``traceparent`` carries no parent: the span starts as if none
was given, as in the public SDK; so does one whose ``braintrust.parent`` names no object, or that
has none with no current object to log to (both with a warning, as in the public SDK). Any
mapping works, with header names in any case (a web framework's request headers as they are). ``extract_trace_context(headers)`` keeps just the
trace-context headers (for ``parent=`` or ``parent_context``); ``inject_trace_context(carrier)``
injects the current span.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

from braintrust.delivery.backend import EXPERIMENT, PROJECT_LOGS, ObjectRef

log = logging.getLogger("braintrust")

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
_MAX_BAGGAGE_MEMBERS = 64  # W3C baggage limits
_MAX_BAGGAGE_BYTES = 8192


def inject(span: Any, carrier: dict | None) -> dict:
    """Add ``traceparent`` and ``baggage`` for ``span`` to ``carrier`` (a new dict if None), in place.
    Each header is written under its lowercase name, replacing the carrier's own in any other case
    (a forwarded ``Traceparent`` would otherwise travel beside the new one). A span whose ids do
    not fit a ``traceparent`` (``BRAINTRUST_LEGACY_IDS``) leaves the carrier as it is, as in 0.48.1."""
    headers = carrier if carrier is not None else {}
    if not (_HEX32.match(span.root_span_id or "") and _HEX16.match(span.span_id or "")):
        return headers
    flags, tracestate = getattr(span, "w3c_forward", None) or (SAMPLED, None)
    _set(headers, TRACEPARENT, f"00-{span.root_span_id}-{span.span_id}-{flags}")
    if tracestate:
        _set(headers, TRACESTATE, tracestate)
    baggage = _with_member(_get(headers, BAGGAGE), _parent_member(span.ref))
    if baggage:
        _set(headers, BAGGAGE, baggage)
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


def _set(headers: dict, name: str, value: str) -> None:
    """``headers[name] = value``, dropping the carrier's spellings of ``name`` in other cases."""
    for key in [k for k in headers if isinstance(k, str) and k != name and k.lower() == name]:
        del headers[key]
    headers[name] = value


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


def _with_member(baggage: Any, member: str | None) -> str | None:
    """``baggage`` with its ``braintrust.parent`` member replaced by ``member``: the other members
    kept as sent, in order (those without ``=`` dropped), within W3C's limits of 64 members and
    8192 bytes, ``member`` first to fit; None when nothing is left."""
    budget_members, budget_bytes = _MAX_BAGGAGE_MEMBERS, _MAX_BAGGAGE_BYTES
    if member is not None:
        budget_members, budget_bytes = budget_members - 1, budget_bytes - len(member) - 1
    kept: list[str] = []
    size = 0
    for raw in baggage.split(",") if isinstance(baggage, str) else ():
        m = raw.strip()
        if "=" not in m or unquote(m.split(";", 1)[0].partition("=")[0].strip()) == PARENT_MEMBER:
            continue
        cost = len(m.encode()) + (1 if kept else 0)
        if len(kept) >= budget_members or size + cost > budget_bytes:
            break
        kept.append(m)
        size += cost
    members = kept + ([member] if member is not None else [])
    return ",".join(members) or None


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
                 flags: str = SAMPLED, tracestate: str | None = None, invalid_parent: str | None = None):
        self.root_span_id = root_span_id
        self.span_id = span_id
        self.object_kind = object_kind
        self.object_value = object_value
        #: A ``braintrust.parent`` naming no object (``dataset_id:x``, ``project_id:``), as sent.
        self.invalid_parent = invalid_parent
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

    def route(self, fallback: ObjectRef | None) -> ObjectRef | None:
        """The object a span continuing this trace is logged to: the baggage's, else ``fallback``
        (the current experiment's or logger's). None, with a warning (as 0.48.1 gives), when the
        baggage's ``braintrust.parent`` names no object or there is nothing to fall back on: the
        span then starts as if no parent was given."""
        if self.invalid_parent is not None:
            log.warning(
                "Ignoring W3C trace context whose baggage has an invalid braintrust.parent %r (expected "
                "experiment_id:<id>, project_id:<id> or project_name:<name>): the span starts a new trace.",
                self.invalid_parent,
            )
            return None
        ref = self.ref() or fallback
        if ref is None:
            log.warning(
                "Ignoring W3C trace context with no braintrust.parent in its baggage: there is no current "
                "logger or experiment to log the trace to. Call init_logger() (or init()) before starting the "
                "span, or pass the caller's span.inject() headers whole."
            )
        return ref


def extract(headers: Mapping) -> RemoteParent | None:
    """The parent a W3C carrier names, or None when it has no valid ``traceparent``."""
    traceparent = _get(headers, TRACEPARENT)
    # (lowercase only: W3C and 0.48.1 take upper-case hex as invalid)
    match = _TRACEPARENT.match(traceparent.strip()) if isinstance(traceparent, str) else None
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or set(trace_id) == {"0"} or set(span_id) == {"0"}:
        return None  # invalid by the W3C rules
    kind = value = invalid = None
    parent = _parent_in(_get(headers, BAGGAGE))
    if parent:  # (an empty one is none)
        kind, _, value = parent.partition(":")
        if kind not in ("experiment_id", "project_id", "project_name") or not value:
            kind = value = None
            invalid = parent
    tracestate = _get(headers, TRACESTATE)
    return RemoteParent(trace_id, span_id, kind, value, flags,
                        tracestate if isinstance(tracestate, str) and tracestate else None, invalid)


def _parent_in(baggage: Any) -> str | None:
    """The (last) ``braintrust.parent`` value of a baggage header, percent-decoded, properties left out."""
    found = None
    for member in baggage.split(",") if isinstance(baggage, str) else ():
        key, eq, raw = member.split(";", 1)[0].partition("=")
        if eq and unquote(key.strip()) == PARENT_MEMBER:
            found = unquote(raw.strip())
    return found
