"""Links to objects and rows: Braintrust app URLs, or the local store for offline runs."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from braintrust.config import url_without_credentials
from braintrust.delivery.backend import EXPERIMENT, PROJECT_LOGS, ObjectRef

ERROR_LINK = "https://www.braintrust.dev/error-generating-link?"
NOOP_LINK = "https://www.braintrust.dev/noop-span"


def object_link(ref: ObjectRef, row_id: str | None = None, resolve: bool = True) -> str:
    """``{app_url}/app/{org}/object?object_type=..&object_id=..&id=..`` for the API; for the
    local store a ``file://`` URL of the database with the same query. Without ``resolve``
    (``span.link()``) nothing is asked of Braintrust but an experiment's id, as 0.48.1's links
    name the experiment (local-store links always name their object); project logs not yet
    resolved get ``/p/{project}/logs?oid=``, and with no org known yet (no login, no
    ``BRAINTRUST_ORG_NAME``) the link says so, as 0.48.1's does."""
    from braintrust.delivery.runtime import resolve_ref
    from braintrust.state import global_state
    from braintrust.tracing.span import object_id_of

    state = global_state()
    object_id = object_id_of(ref)
    # (the local store is asked nothing over the network: its links always name the object)
    if object_id is None and (resolve or ref.object_type == EXPERIMENT or state.is_local()):
        resolve_ref(ref)
        object_id = object_id_of(ref)
    query = {"object_type": ref.object_type, "object_id": object_id}
    if row_id is not None:
        query["id"] = row_id
    if state.is_local():
        from braintrust.store.location import database_path

        return database_path().as_uri() + "?" + urlencode(query)
    if resolve and not state.logged_in:
        state.login()
    org = state.org_name or state.requested_org()
    if not org:
        return ERROR_LINK + urlencode({"msg": "login-or-provide-org-name"})
    if object_id is None:
        project = ref.create_args.get("project_name") or ""
        suffix = f"?oid={quote(row_id)}" if row_id else ""
        return f"{state.app_public_url()}/app/{quote(org)}/p/{quote(project)}/logs{suffix}"
    return f"{state.app_public_url()}/app/{quote(org)}/object?" + urlencode(query)


def span_link(ref: ObjectRef, row_id: str) -> str:
    """``span.link()``: ``object_link`` without asking Braintrust anything, with 0.48.1's answers
    where it has none: a project-logs span with no current logger in this process (a span
    continued from another process's slug, a logger made with ``set_current=False``) gets the
    no-op link, an experiment span with no org known (once its experiment is resolved, which
    logs in) says ``provide-app-url-or-org-name``, and one whose experiment cannot be resolved
    (the login or the registration failed) says ``resolve-experiment-id``."""
    from braintrust.delivery.runtime import resolve_ref
    from braintrust.state import global_state
    from braintrust.tracing.context import current_logger_object
    from braintrust.tracing.span import object_id_of

    state = global_state()
    if not state.is_local():  # (local-store links need neither)
        if ref.object_type == PROJECT_LOGS and current_logger_object() is None:
            return NOOP_LINK
        if ref.object_type == EXPERIMENT:
            if object_id_of(ref) is None:
                try:
                    resolve_ref(ref)
                except Exception:  # (0.48.1: a link names no failure, only what it lacks)
                    pass
            if not (state.org_name or state.requested_org()):
                return ERROR_LINK + urlencode({"msg": "provide-app-url-or-org-name"})
            if object_id_of(ref) is None:
                return ERROR_LINK + urlencode({"msg": "resolve-experiment-id"})
    return object_link(ref, row_id=row_id, resolve=False)


def permalink(slug: str, org_name: str | None = None, app_url: str | None = None) -> str:
    """A link to the row an exported span slug names (an object link for object slugs)."""
    from braintrust.tracing.api import ref_for_components
    from braintrust.tracing.span_components import SpanComponentsV4

    if not slug:
        return NOOP_LINK
    if app_url:
        app_url = url_without_credentials(app_url).rstrip("/")  # (links never carry credentials)
    try:
        components = SpanComponentsV4.from_str(slug)
        if org_name and app_url and components.object_id:
            # Everything is known: no login needed.
            from braintrust.tracing.api import _TYPE_NAMES
            from braintrust.tracing.span_components import SpanObjectTypeV3

            query = {"object_type": _TYPE_NAMES[SpanObjectTypeV3(components.object_type)], "object_id": components.object_id}
            if components.row_id:
                query["id"] = components.row_id
            return f"{app_url}/app/{quote(org_name)}/object?" + urlencode(query)
        ref = ref_for_components(components)
        link = object_link(ref, row_id=components.row_id, resolve=True)
    except Exception as exc:
        return ERROR_LINK + urlencode({"msg": str(exc)})
    if app_url or org_name:
        from braintrust.state import global_state

        state = global_state()
        default_prefix = f"{state.app_public_url()}/app/{quote(state.org_name or '')}/"
        prefix = f"{app_url or state.app_public_url()}/app/{quote(org_name or state.org_name or '')}/"
        link = link.replace(default_prefix, prefix, 1)
    return link
