"""Module-level tracing functions: ``start_span``, ``update_span``, ``parent_context`` and
resolving a parent (current span, slug, experiment or logger) for a new span."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, Iterator

from braintrust import jsonsafe
from braintrust.delivery.backend import EXPERIMENT, PLAYGROUND_LOGS, PROJECT_LOGS, ObjectRef
from braintrust.forks import ChildSafeLock
from braintrust.state import check_state
from braintrust.tracing import context, w3c
from braintrust.tracing.record import validate_event
from braintrust.tracing.span import NOOP_SPAN, Span, SpanImpl, _enqueue, internal_options
from braintrust.tracing.span_components import SpanComponentsError, SpanComponentsV3, SpanComponentsV4, SpanObjectTypeV3

_TYPE_NAMES = {
    SpanObjectTypeV3.EXPERIMENT: EXPERIMENT,
    SpanObjectTypeV3.PROJECT_LOGS: PROJECT_LOGS,
    SpanObjectTypeV3.PLAYGROUND_LOGS: PLAYGROUND_LOGS,
}

_refs_lock = ChildSafeLock()
_refs_by_identity: dict[tuple, ObjectRef] = {}


def ref_for_components(components: Any) -> ObjectRef:
    """The (shared) ObjectRef that a decoded export slug points at. Only project logs may be
    named by ``compute_object_metadata_args``: an experiment or playground named so (no
    export writes one) is refused, as 0.48.1 refuses it, rather than resolved to a new object."""
    object_type = _TYPE_NAMES[SpanObjectTypeV3(components.object_type)]
    if components.object_id:
        identity: tuple = (object_type, "id", components.object_id)
    elif object_type != PROJECT_LOGS:
        raise SpanComponentsError(
            f"A span slug for {object_type} must carry its object_id; this one has only "
            "compute_object_metadata_args (which name project logs). Pass what span.export() or "
            "experiment.export() returned."
        )
    else:
        args = components.compute_object_metadata_args or {}
        identity = (object_type, "args", args.get("project_name"), args.get("project_id"))
    with _refs_lock:
        ref = _refs_by_identity.get(identity)
        if ref is None:
            ref = _new_ref_for(object_type, components)
            _refs_by_identity[identity] = ref
        return ref


def register_ref(ref: ObjectRef) -> None:
    """Let slugs that name an object already in use map back to the same ref."""
    if ref.object_type == PROJECT_LOGS:
        identity = (PROJECT_LOGS, "args", ref.create_args.get("project_name"), ref.create_args.get("project_id"))
        with _refs_lock:
            _refs_by_identity.setdefault(identity, ref)


def forget_refs() -> None:
    with _refs_lock:
        _refs_by_identity.clear()


def _new_ref_for(object_type: str, components: Any) -> ObjectRef:
    if components.object_id:
        field = {EXPERIMENT: "experiment_id", PROJECT_LOGS: "project_id", PLAYGROUND_LOGS: "prompt_session_id"}[object_type]
        ids = {field: components.object_id}
        if object_type in (PROJECT_LOGS, PLAYGROUND_LOGS):
            ids["log_id"] = "g" if object_type == PROJECT_LOGS else "x"
        create_args = {"project_id": components.object_id} if object_type == PROJECT_LOGS else {field: components.object_id}
        return ObjectRef(object_type, create_args, ids=ids)
    args = components.compute_object_metadata_args or {}
    return ObjectRef(object_type, {"project_name": args.get("project_name"), "project_id": args.get("project_id")})


def decode_slug(slug: Any, where: str) -> SpanComponentsV4:
    """The components of an exported slug; a ``SpanComponentsError`` (a ``ValueError``) that
    says where the slug was given and what it must be otherwise."""
    if not isinstance(slug, str):
        raise SpanComponentsError(
            f"{where} needs the string that span.export() returned, got {type(slug).__name__}."
        )
    try:
        return SpanComponentsV4.from_str(slug)
    except SpanComponentsError as exc:
        shown = slug if len(slug) <= 40 else slug[:40] + "..."
        raise SpanComponentsError(
            f"{where} {shown!r} is not an exported span: {exc} Pass what span.export(), "
            "logger.export() or experiment.export() returned, whole and unchanged."
        ) from exc.__cause__


def start_span_under_parent(parent: str | Mapping, *, fallback: ObjectRef | None, typed_root: bool = False,
                            **span_args: Any) -> SpanImpl | None:
    """Start a span under an explicit ``parent``: an exported slug (or its components), a span
    of this process, or W3C headers from ``span.inject()`` (logged to the object their baggage
    names, else to ``fallback``). None when the headers carry no valid ``traceparent`` (or the
    parent is the no-op span): the caller starts the span as without a parent.
    ``span_args``: those of ``start_span_under_slug`` (as is ``typed_root``)."""
    if isinstance(parent, str):
        return start_span_under_slug(parent, typed_root=typed_root, **span_args)
    if isinstance(parent, Span):  # a span of this process: its child (the no-op span: no parent)
        if parent is NOOP_SPAN or not parent.id:
            return None
        event = span_args.pop("event", None) or {}
        return parent.start_span(**span_args, **event)
    if isinstance(parent, (SpanComponentsV3, SpanComponentsV4)):
        return start_span_under_slug(parent.to_str(), typed_root=typed_root, **span_args)
    if not isinstance(parent, Mapping):
        raise ValueError(f"parent= must be an exported span (span.export()) or W3C headers (span.inject()), got {type(parent).__name__}.")
    remote = w3c.extract(parent)
    ref = None if remote is None else remote.route(fallback)
    if ref is None:
        return None
    span = SpanImpl(ref, parent_span_id=remote.span_id, root_span_id=remote.root_span_id, **span_args)
    span.w3c_forward = remote.forward
    return span


def start_span_under_slug(
    parent: str,
    *,
    name=None,
    type=None,
    span_attributes=None,
    start_time=None,
    propagated_event=None,
    event=None,
    typed_root: bool = False,
) -> SpanImpl:
    """Start a span whose parent is an exported slug (from ``span.export()`` elsewhere). Under
    an object's slug (no row) it is a root, of the object's root type ("eval", "task") only with
    ``typed_root`` (the object's own ``start_span``): 0.48.1's ``start_span`` gives it none."""
    components = decode_slug(parent, "parent=")
    ref = ref_for_components(components)
    if components.row_id:
        return SpanImpl(
            ref,
            name=name,
            type=type,
            span_attributes=span_attributes,
            start_time=start_time,
            parent_span_id=components.span_id,
            root_span_id=components.root_span_id,
            propagated_event=propagated_event if propagated_event is not None else components.propagated_event,
            event=event,
        )
    default_type = ("eval" if ref.object_type == EXPERIMENT else "task") if typed_root else None
    return SpanImpl(
        ref,
        name=name,
        type=type,
        span_attributes=span_attributes,
        start_time=start_time,
        propagated_event=propagated_event if propagated_event is not None else components.propagated_event,
        event=event,
        default_root_type=default_type,
    )


def start_span(
    name: str | None = None,
    type: Any = None,
    span_attributes: Mapping[str, Any] | None = None,
    start_time: float | None = None,
    set_current: bool | None = None,
    parent: str | Mapping | None = None,
    propagated_event: dict | None = None,
    state: Any = None,
    internal: dict | None = None,
    **event: Any,
) -> Span:
    """Start a span under, in order: an explicit ``parent`` (an exported slug, a span, or W3C
    headers from ``span.inject()``), the current span, a ``parent_context``, the current experiment, the
    current logger. With none of them the no-op span is returned and nothing is recorded. A
    ``parent`` given (even ``""``, or headers with no trace) leaves ``parent_context`` unused.
    ``internal``: options reserved for SDK integrations (``tracing.span.internal_options``)."""
    if state is not None:
        check_state(state, "start_span")
    if internal:
        with internal_options(internal):
            return start_span(name, type, span_attributes, start_time, set_current, parent, propagated_event, state, **event)
    kwargs = dict(name=name, type=type, span_attributes=span_attributes, start_time=start_time, propagated_event=propagated_event)
    span: Span | None = None
    if parent:  # "" counts as no parent, as in the public SDK
        owner = context.current_experiment_object() or context.current_logger_object()
        span = start_span_under_parent(parent, fallback=getattr(owner, "ref", None), event=event, **kwargs)
    if span is None:
        current = context.current_span_var.get()
        if current is not None and current is not NOOP_SPAN:
            span = current.start_span(**kwargs, **event)
        else:
            owner = context.current_experiment_object() or context.current_logger_object()
            # (an explicit parent, even "" or headers without a trace, overrides parent_context, as in 0.48.1)
            if parent is None and context.parent_var.get():
                span = start_span_under_parent(context.parent_var.get(), fallback=getattr(owner, "ref", None), event=event, **kwargs)
            if span is None:
                if owner is None:
                    return NOOP_SPAN
                span = owner.start_span(**kwargs, **event)
    if set_current is False and isinstance(span, SpanImpl):
        span._set_current_on_enter = False
    return span


def get_span_parent_object(parent: str | Mapping | None = None, state: Any = None) -> Any:
    """What a new top-level span would start under: the current span, else the ``parent`` (or
    the ``parent_context``) as span components (a slug decoded; W3C headers as the trace and
    span they name, in the object their baggage names or the current one's), else the current
    experiment, else the current logger, else ``NOOP_SPAN``."""
    check_state(state, "get_span_parent_object")
    current = context.current_span_var.get()
    if current is not None and current is not NOOP_SPAN:
        return current
    if parent is None:  # (an explicit parent, even "", overrides parent_context, as in 0.48.1)
        parent = context.parent_var.get()
    owner = context.current_experiment_object() or context.current_logger_object()
    if isinstance(parent, str) and parent:
        return decode_slug(parent, "parent=")
    if isinstance(parent, (Span, SpanComponentsV3, SpanComponentsV4)) and parent is not NOOP_SPAN:
        return parent
    if isinstance(parent, Mapping):
        components = _components_of_headers(parent, owner)
        if components is not None:
            return components
    return owner if owner is not None else NOOP_SPAN


def _components_of_headers(headers: Mapping, owner: Any) -> SpanComponentsV4 | None:
    """The span W3C headers name, as span components: in the object of their baggage, else in
    ``owner``'s; None without a valid ``traceparent`` or an object (``RemoteParent.route``)."""
    remote = w3c.extract(headers)
    if remote is None or remote.route(getattr(owner, "ref", None)) is None:
        return None
    kinds = {"experiment_id": (SpanObjectTypeV3.EXPERIMENT, remote.object_value, None),
             "project_id": (SpanObjectTypeV3.PROJECT_LOGS, remote.object_value, None),
             "project_name": (SpanObjectTypeV3.PROJECT_LOGS, None, {"project_name": remote.object_value})}
    if remote.object_kind in kinds:
        object_type, object_id, metadata_args = kinds[remote.object_kind]
    else:
        exported = SpanComponentsV4.from_str(owner.export())
        object_type, object_id, metadata_args = exported.object_type, exported.object_id, exported.compute_object_metadata_args
    # (row id: the public SDK's marker for a parent known only from trace context)
    return SpanComponentsV4(object_type=object_type, object_id=object_id, compute_object_metadata_args=metadata_args,
                            row_id=w3c.PROPAGATED_ROW_ID, span_id=remote.span_id, root_span_id=remote.root_span_id)


def update_span(exported: str, **event: Any) -> None:
    """Merge fields into a span that was exported (possibly in another process)."""
    if event.get("id") is not None:  # (the slug names the row; another id would be ignored)
        raise ValueError("Cannot specify id when updating a span with `update_span`. Use the output of `span.export()` instead.")
    components = decode_slug(exported, "update_span")
    if not components.row_id:
        raise ValueError("update_span needs a slug from span.export() (it has no row id); got an object slug.")
    ref = ref_for_components(components)
    # (the slug names the span: ids given beside it are dropped, as 0.48.1 drops them)
    given = {key: value for key, value in event.items() if key not in ("span_id", "root_span_id")}
    clean = {**dict.fromkeys(k for k, v in given.items() if v is None), **validate_event(given)}  # (None: sent as null, as 0.48.1)
    clean.pop("id", None)
    data, size = jsonsafe.snapshot_fields(clean)
    row = {"id": components.row_id, "root_span_id": components.root_span_id, "span_id": components.span_id, "_is_merge": True}
    row.update(data)
    _enqueue(ref, row, size + 200)


@contextlib.contextmanager
def parent_context(parent: str | Mapping | None, state: Any = None) -> Iterator[None]:
    """Within the block, spans with no current span start under ``parent``: an exported span
    (``span.export()``) or W3C trace-context headers (``extract_trace_context``, ``span.inject()``;
    without a valid ``traceparent`` they change nothing)."""
    check_state(state, "parent_context")
    token = context.parent_var.set(parent)
    try:
        yield
    finally:
        context.parent_var.reset(token)


def span_components_to_object_id(components: Any) -> str:
    """The object id a slug (or its decoded components) points at, logging in to resolve a
    project name if needed."""
    if isinstance(components, str):
        components = decode_slug(components, "span_components_to_object_id")
    if components.object_id:
        return components.object_id
    ref = ref_for_components(components)
    from braintrust.delivery.runtime import resolve_ref
    from braintrust.state import global_state

    state = global_state()
    if not ref.ids and not state.is_local() and not state.logged_in:
        state.login()  # a refused key or unknown org raises its ValueError here
    ids = resolve_ref(ref)
    for key in ("experiment_id", "project_id", "prompt_session_id"):
        if key in ids:
            return ids[key]
    raise ValueError("Could not resolve the slug's object id.")
