"""``get_prompt_versions``: every version of a prompt, as Braintrust's audit log has them.

The request is the public SDK's: ``POST {api}/btql`` with a query over ``project_prompts(<project
id>)`` filtered to the prompt's id, ``audit_log: true``. Each entry whose action is ``upsert`` or
``merge`` is a version; its ``_xact_id`` is answered in the 16-hex-digit form the UI shows, which
``load_prompt(version=...)`` accepts. Prompts live only in Braintrust: with no API key this fails
with what to do.
"""

from __future__ import annotations

from typing import Any

from braintrust.delivery.deadline import Deadline
from braintrust.state import global_state
from braintrust.xact_ids import prettify_xact

__all__ = ["get_prompt_versions"]

DEADLINE_SECONDS = 60.0
VERSION_ACTIONS = ("upsert", "merge")

_NO_KEY = (
    "get_prompt_versions reads a prompt's history from the Braintrust API, and no API key is set: "
    "set BRAINTRUST_API_KEY (prompts are not kept in the local store)."
)


def _versions_query(project_id: str, prompt_id: str) -> dict[str, Any]:
    literal = lambda value: {"op": "literal", "value": value}  # noqa: E731
    return {
        "from": {"op": "function", "name": {"op": "ident", "name": ["project_prompts"]}, "args": [literal(project_id)]},
        "select": [{"op": "star"}],
        "filter": {"op": "eq", "left": {"op": "ident", "name": ["id"]}, "right": literal(prompt_id)},
    }


def get_prompt_versions(project_id: str, prompt_id: str) -> list[str]:
    """The versions of prompt ``prompt_id`` in project ``project_id``, oldest first as the audit
    log lists them, each as the 16-hex-digit version string ``load_prompt(version=...)`` takes.

    Raises ``ValueError`` without an API key, for a refused request, or for an answer that is not
    an audit log; the transport's errors when Braintrust cannot be reached."""
    from braintrust.delivery.http_client import HttpError  # (imports requests)

    for name, value in (("project_id", project_id), ("prompt_id", prompt_id)):
        if not isinstance(value, str) or not value:
            raise ValueError(f"get_prompt_versions: {name} must be a non-empty string (the id, not a name), got {value!r}.")
    state = global_state()
    if not state.api_key():
        raise ValueError(_NO_KEY)
    deadline = Deadline(DEADLINE_SECONDS)
    state.login(deadline)
    body = {"query": _versions_query(project_id, prompt_id), "audit_log": True, "use_columnstore": False, "brainstore_realtime": True}
    try:
        response = state.http_client().request("POST", f"{state.api_url}/btql", deadline, json_body=body,
                                               headers={"Accept-Encoding": "gzip"})
    except HttpError as exc:
        raise ValueError(f"Braintrust refused the versions of prompt {prompt_id}: {exc}") from None
    try:
        entries = response.json().get("data")
    except (ValueError, AttributeError):
        entries = None
    if not isinstance(entries, list):
        raise ValueError(f"Braintrust answered the versions of prompt {prompt_id} without a 'data' list.")
    versions = []
    for entry in entries:
        audit = entry.get("audit_data") if isinstance(entry, dict) else None
        if not isinstance(audit, dict) or audit.get("action") not in VERSION_ACTIONS:
            continue
        try:
            versions.append(prettify_xact(entry["_xact_id"]))
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"Braintrust answered a version of prompt {prompt_id} without a valid '_xact_id': "
                             f"{str(entry)[:200]}") from None
    return versions
