"""``load_prompt``: a prompt from the Braintrust API, fetched when first used (braintrust-api.md §12).

Requests are the public SDK's: ``GET /v1/prompt?project_name=&slug=[&project_id=][&version=]
[&environment=]``, or ``GET /v1/prompt/{id}[?version=&environment=]``. Every fetched prompt is
cached (``braintrust.prompts.cache``). When Braintrust cannot answer (unreachable, or a status
worth retrying after the retries ran out), the cached copy is used with a warning naming its
age; never for ``environment=``, which may have moved. Prompts live only in Braintrust, so with
no API key ``load_prompt`` fails with what to do; ``BRAINTRUST_LOCAL=1`` does not stop the fetch.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import time
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import quote

from braintrust.delivery.deadline import Deadline
from braintrust.forks import ChildSafeLock
from braintrust.prompts.cache import prompt_cache
from braintrust.prompts.prompt import Prompt
from braintrust.state import BraintrustState, LoginError, global_state

log = logging.getLogger("braintrust")

__all__ = ["PromptNotFound", "PromptUnavailable", "load_prompt", "load_prompt_async"]

FETCH_DEADLINE_SECONDS = 60.0

_NO_KEY = (
    "load_prompt reads prompts from the Braintrust API, and no API key is set: set BRAINTRUST_API_KEY "
    "(or pass api_key=). To work offline, build the prompt here with "
    "Prompt.from_prompt_data(name, prompt_data)."
)


class PromptNotFound(ValueError):
    """Braintrust has no such prompt (or no such version or environment of it)."""


class PromptUnavailable(RuntimeError):
    """Braintrust could not be asked, and no cached copy of the prompt can stand in."""


@dataclass(frozen=True)
class _Request:
    project: str | None
    slug: str | None
    version: str | None
    project_id: str | None
    prompt_id: str | None
    environment: str | None

    def describe(self) -> str:
        if self.prompt_id:
            return f"prompt {self.prompt_id}"
        return f"prompt {self.slug!r} of project {self.project or self.project_id!r}"

    def path_and_params(self) -> tuple[str, dict[str, str]]:
        params: dict[str, str] = {}
        if self.prompt_id:
            path = f"/v1/prompt/{quote(self.prompt_id, safe='')}"
        else:
            path = "/v1/prompt"
            if self.project is not None:
                params["project_name"] = self.project
            params["slug"] = self.slug or ""
            if self.project_id is not None:
                params["project_id"] = self.project_id
        if self.version is not None:
            params["version"] = self.version
        if self.environment is not None:
            params["environment"] = self.environment
        return path, params


def load_prompt(
    project: str | None = None,
    slug: str | None = None,
    version: str | int | None = None,
    project_id: str | None = None,
    id: str | None = None,
    defaults: Mapping[str, Any] | None = None,
    no_trace: bool = False,
    environment: str | None = None,
    app_url: str | None = None,
    api_key: str | None = None,
    org_name: str | None = None,
) -> Prompt:
    """The prompt ``slug`` of ``project`` (or ``project_id``), or the prompt ``id``; latest
    version unless ``version`` or ``environment`` says otherwise. Nothing is fetched until the
    prompt is used. ``defaults`` are call arguments the prompt's own options override;
    ``no_trace`` leaves ``span_info`` out of ``build()``."""
    if id is None:
        if not project and not project_id:
            raise ValueError("Must specify at least one of project or project_id")
        if not slug:
            raise ValueError("Must specify slug")
    if version is not None and environment is not None:
        raise ValueError("Pass either version= or environment= to load_prompt, not both: an environment names a version.")
    request = _Request(project, slug, None if version is None else str(version), project_id, id, environment)
    credentials = (app_url, api_key, org_name)
    return Prompt(lambda: fetch_prompt(request, credentials), defaults, no_trace)


async def load_prompt_async(*args: Any, **kwargs: Any) -> Prompt:
    """``load_prompt`` (same arguments), fetched now on a worker thread so the event loop is not
    blocked: a missing prompt raises here, at the ``await``."""
    prompt = load_prompt(*args, **kwargs)
    await asyncio.to_thread(lambda: prompt.name)
    return prompt


load_prompt_async.__signature__ = inspect.signature(load_prompt)  # type: ignore[attr-defined]


def fetch_prompt(request: _Request, credentials: tuple[str | None, str | None, str | None]) -> dict[str, Any]:
    """The prompt object from the API, or its cached copy when the API cannot answer."""
    state = _state_for(*credentials)
    key = state.api_key()
    if not key:
        raise ValueError(_NO_KEY)
    cache = prompt_cache()
    cache_key = "|".join([state.app_url(), state.requested_org() or "", hashlib.sha256(key.encode()).hexdigest()[:16],
                          *(str(part) for part in (request.project, request.project_id, request.slug, request.prompt_id, request.version))])
    try:
        prompt = _ask(state, request)
    except (PromptUnavailable, PromptNotFound) as exc:
        cached = cache.get(cache_key) if isinstance(exc, PromptUnavailable) and request.environment is None else None
        if cached is None:
            raise
        log.warning("braintrust: %s; using its copy cached %s ago.", exc, _age(time.time() - cached.saved_at))
        return cached.prompt
    if request.environment is None:
        cache.put(cache_key, prompt)
    return prompt


def _ask(state: BraintrustState, request: _Request) -> dict[str, Any]:
    from braintrust.delivery.http_client import RETRYABLE_STATUSES, HttpError, TransportError  # (imports requests)

    deadline = Deadline(FETCH_DEADLINE_SECONDS)
    path, params = request.path_and_params()
    try:
        state.login(deadline)
        response = state.http_client().request("GET", f"{state.api_url}{path}", deadline, params=params)
    except LoginError as exc:
        if exc.reason in ("auth", "no_api_key", "bad_response"):
            raise
        raise PromptUnavailable(f"could not load {request.describe()}: {exc}") from None
    except TransportError as exc:
        raise PromptUnavailable(f"could not load {request.describe()}: {exc}") from None
    except HttpError as exc:
        if exc.status in RETRYABLE_STATUSES:
            raise PromptUnavailable(f"could not load {request.describe()}: {exc}") from None
        if exc.status == 404:
            raise PromptNotFound(f"{request.describe().capitalize()} not found{_pinned(request)} ({exc})") from None
        raise ValueError(f"Braintrust refused to load {request.describe()}: {exc}") from None
    try:
        answer = response.json()
    except ValueError:
        raise PromptUnavailable(f"could not load {request.describe()}: GET {path} answered without JSON") from None
    if request.prompt_id:
        return _required_fields(answer, request)
    objects = answer.get("objects") if isinstance(answer, dict) else None
    if not isinstance(objects, list):
        raise PromptUnavailable(f"could not load {request.describe()}: GET {path} answered without 'objects'")
    if not objects:
        raise PromptNotFound(f"Prompt {request.slug} not found in project {request.project or request.project_id}{_pinned(request)}.")
    if len(objects) > 1:
        raise ValueError(f"Multiple prompts found with slug {request.slug} in project {request.project or request.project_id}: "
                         "pass the prompt's id= instead.")
    return _required_fields(objects[0], request)


def _age(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count > 1 else ''}"
    return "less than a minute"


def _pinned(request: _Request) -> str:
    if request.version is not None:
        return f" at version {request.version}"
    if request.environment is not None:
        return f" in environment {request.environment!r}"
    return ""


def _required_fields(prompt: Any, request: _Request) -> dict[str, Any]:
    if not isinstance(prompt, dict) or not isinstance(prompt.get("prompt_data"), dict):
        raise PromptUnavailable(f"could not load {request.describe()}: the answer is not a prompt with 'prompt_data'")
    return prompt


_states: dict[tuple, BraintrustState] = {}
_states_lock = ChildSafeLock()


def _state_for(app_url: str | None, api_key: str | None, org_name: str | None) -> BraintrustState:
    """The global login, unless credentials were passed that differ from it (then one login of
    their own, kept for the process, that leaves the global state alone)."""
    state = global_state()
    if (api_key is None or api_key == state.api_key()) and (app_url is None or app_url.rstrip("/") == state.app_url()) \
            and (org_name is None or org_name == (state.org_name or state.requested_org())):
        return state
    with _states_lock:
        separate = _states.get((app_url, api_key, org_name))
        if separate is None:
            separate = BraintrustState()
            separate.configure(api_key=api_key, app_url=app_url, org_name=org_name)
            _states[(app_url, api_key, org_name)] = separate
        return separate
