"""Prompts and other functions of the test server (braintrust-api.md §12): versions,
environments, lookups. As in Braintrust, a prompt is a function: ``/v1/prompt`` reads the ones
with ``prompt_data``, ``/v1/function`` reads them all (saved parameters, for ``load_parameters``).

Every write makes a new version whose ``_xact_id`` comes from the row store's counter, so a
prompt's versions sort like the service's. A prompt's id derives from its project and slug, so a
scenario that writes the same prompts in the same order sees the same ids and versions each run. Reads answer the latest version unless ``version``
(an ``_xact_id``, or its 16-hex-digit "pretty" form as ``get_prompt_versions`` answers it) or ``environment`` (a name set with :meth:`PromptRegistry.set_environment`)
picks another. Prompt objects carry every field the SDKs require.
"""

from __future__ import annotations

import copy
import threading
from typing import Callable

from braintrust.xact_ids import load_pretty_xact

from .objects import USER_ID, ApiError, created_now, stable_id

#: Fields a prompt write may set; the rest of a prompt object is the server's.
WRITABLE_FIELDS = ("name", "slug", "description", "prompt_data", "function_data", "tags", "metadata", "function_type")


class PromptRegistry:
    """Thread-safe prompts of one organization, each with the full list of its versions."""

    def __init__(self, org_id: str, next_xact_id: Callable[[], str]) -> None:
        self.org_id = org_id
        self._next_xact_id = next_xact_id
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._versions: dict[str, list[dict]] = {}  # prompt id -> versions, oldest first
            self._environments: dict[tuple[str, str], str] = {}  # (prompt id, environment) -> _xact_id

    def write(self, body: dict, replace: bool) -> dict:
        """``POST /v1/prompt`` (``replace=False``: an existing slug is answered unchanged) and
        ``PUT /v1/prompt`` (``replace=True``: a new version of it)."""
        project_id, slug = body.get("project_id"), body.get("slug")
        if not isinstance(project_id, str) or not isinstance(slug, str) or not slug:
            raise ApiError(400, "'project_id' and 'slug' are required strings")
        if not isinstance(body.get("name"), str):
            raise ApiError(400, "'name' is required and must be a string")
        with self._lock:
            existing = self._find(project_id, slug)
            if existing is not None and not replace:
                return copy.deepcopy(existing[-1])
            latest = existing[-1] if existing else None
            version = {
                "id": stable_id(self.org_id, "prompt", project_id, slug),
                "_xact_id": self._next_xact_id(),
                "project_id": project_id,
                "log_id": "p",
                "org_id": self.org_id,
                "created": latest["created"] if latest else created_now(),
                "user_id": USER_ID,
                **{name: None for name in WRITABLE_FIELDS},
            }
            version.update({name: copy.deepcopy(body[name]) for name in WRITABLE_FIELDS if name in body})
            self._versions.setdefault(version["id"], []).append(version)
            return copy.deepcopy(version)

    def set_environment(self, prompt_id: str, environment: str, xact_id: str) -> None:
        """Point ``environment`` of a prompt at one of its versions."""
        with self._lock:
            self._version(prompt_id, xact_id)
            self._environments[(prompt_id, environment)] = xact_id

    def get(self, prompt_id: str, version: str | None = None, environment: str | None = None) -> dict:
        """``GET /v1/prompt/{id}``: 404 for an unknown prompt, version or environment."""
        with self._lock:
            return copy.deepcopy(self._pick(prompt_id, version, environment))

    def find(self, project_id: str, slug: str | None, version: str | None = None, environment: str | None = None,
             prompts_only: bool = True) -> list[dict]:
        """``GET /v1/prompt`` (``prompts_only``) or ``/v1/function``: the prompts or functions of
        a project (with ``slug``, at most one)."""
        with self._lock:
            ids = [pid for pid, versions in self._versions.items() if versions[-1]["project_id"] == project_id
                   and (slug is None or versions[-1]["slug"] == slug)
                   and (not prompts_only or versions[-1]["prompt_data"] is not None)]
            return [copy.deepcopy(self._pick(pid, version, environment)) for pid in ids]

    def audit_log(self, project_id: str, prompt_id: str) -> list[dict]:
        """The audit entries of a prompt's versions, oldest first (``/btql`` with ``audit_log``):
        each write is an ``upsert`` of the prompt at its ``_xact_id``."""
        with self._lock:
            versions = self._versions.get(prompt_id, [])
            return [{"id": prompt_id, "_xact_id": version["_xact_id"], "project_id": project_id, "created": version["created"],
                     "audit_data": {"action": "upsert"}}
                    for version in versions if version["project_id"] == project_id]

    def _find(self, project_id: str, slug: str) -> list[dict] | None:
        for versions in self._versions.values():
            if versions[-1]["project_id"] == project_id and versions[-1]["slug"] == slug:
                return versions
        return None

    def _pick(self, prompt_id: str, version: str | None, environment: str | None) -> dict:
        if prompt_id not in self._versions:
            raise ApiError(404, f"prompt {prompt_id} not found")
        if environment is not None:
            xact_id = self._environments.get((prompt_id, environment))
            if xact_id is None:
                raise ApiError(404, f"prompt {prompt_id} has no version in environment {environment!r}")
            return self._version(prompt_id, xact_id)
        if version is not None:
            return self._version(prompt_id, version)
        return self._versions[prompt_id][-1]

    def _version(self, prompt_id: str, xact_id: str) -> dict:
        wanted = load_pretty_xact(str(xact_id))
        for candidate in self._versions.get(prompt_id, []):
            if candidate["_xact_id"] == wanted:
                return candidate
        raise ApiError(404, f"prompt {prompt_id} has no version {xact_id}")
