"""``load_prompt``: a prompt from the Braintrust API, fetched when first used (braintrust-api.md §12);
and the fetching that ``load_parameters`` shares with it.

Requests are the public SDK's: ``GET /v1/prompt?project_name=&slug=[&project_id=][&version=]
[&environment=]``, or ``GET /v1/prompt/{id}[?version=&environment=]`` (saved parameters: the
same on ``/v1/function``). Every fetched object is cached (``braintrust.prompts.cache``). When
Braintrust cannot answer (unreachable, or a status worth retrying after the retries ran out), the
cached copy is used with a warning naming its age; never for ``environment=``, which may have
moved. Prompts live only in Braintrust, so with no API key ``load_prompt`` fails with what to do;
``BRAINTRUST_LOCAL=1`` does not stop the fetch.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import quote

from braintrust.config import secret
from braintrust.delivery.deadline import Deadline
from braintrust.forks import ChildSafeLock
from braintrust.prompts.cache import PromptCache, prompt_cache
from braintrust.prompts.prompt import Prompt
from braintrust.state import BraintrustState, LoginError, global_state

log = logging.getLogger("braintrust")

__all__ = ["LoadRequest", "PromptNotFound", "PromptUnavailable", "SavedKind", "fetch_saved", "load_prompt", "load_prompt_async"]

FETCH_DEADLINE_SECONDS = 60.0


class PromptNotFound(ValueError):
    """Braintrust has no such prompt or saved parameters (or no such version or environment)."""


class PromptUnavailable(RuntimeError, ValueError):
    """Braintrust could not be asked, and no cached copy can stand in. (Also a ``ValueError``:
    0.48.1 raises that, so ``except ValueError`` written for it still catches this.)"""


@dataclass(frozen=True)
class SavedKind:
    """A kind of object ``fetch_saved`` loads: where it is read, what it is called, which of the
    answered objects are of the kind, and its cache."""

    noun: str  # "prompt", "parameters"
    plural: str
    path: str  # "/v1/prompt", "/v1/function"
    no_key: str  # the error when no API key is set
    is_kind: Callable[[Any], bool]
    cache: Callable[[], PromptCache]


PROMPTS = SavedKind(
    noun="prompt", plural="prompts", path="/v1/prompt",
    no_key=("load_prompt reads prompts from the Braintrust API, and no API key is set: set BRAINTRUST_API_KEY "
            "(or pass api_key=). To work offline, build the prompt here with "
            "Prompt.from_prompt_data(name, prompt_data)."),
    is_kind=lambda row: isinstance(row, dict) and isinstance(row.get("prompt_data"), dict),
    cache=prompt_cache,
)


@dataclass(frozen=True)
class LoadRequest:
    project: str | None
    slug: str | None
    version: str | None
    project_id: str | None
    object_id: str | None
    environment: str | None
    kind: SavedKind = PROMPTS

    def describe(self) -> str:
        if self.object_id:
            return f"{self.kind.noun} {self.object_id}"
        return f"{self.kind.noun} {self.slug!r} of project {self.project or self.project_id!r}"

    def path_and_params(self) -> tuple[str, dict[str, str]]:
        params: dict[str, str] = {}
        if self.object_id:
            path = f"{self.kind.path}/{quote(self.object_id, safe='')}"
        else:
            path = self.kind.path
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
    version unless ``version`` or ``environment`` says otherwise (``version`` when both do). Nothing is fetched until the
    prompt is used. ``defaults`` are call arguments the prompt's own options override;
    ``no_trace`` leaves ``span_info`` out of ``build()``."""
    api_key = secret(api_key)  # (tracebacks with locals, e.g. pytest -l, show this frame's arguments)
    if not id:  # (an empty id is no id, as in 0.48.1)
        id = None
        if not project and not project_id:
            raise ValueError("Must specify at least one of project or project_id")
        if not slug:
            raise ValueError("Must specify slug")
    if version is not None:
        environment = None  # (a version names one exactly: it wins, as in 0.48.1)
    request = LoadRequest(project, slug, None if version is None else str(version), project_id, id, environment)
    credentials = (app_url, api_key, org_name)
    return Prompt(lambda: fetch_saved(request, credentials), defaults, no_trace)


async def load_prompt_async(*args: Any, **kwargs: Any) -> Prompt:
    """``load_prompt`` (same arguments), fetched now on a worker thread so the event loop is not
    blocked: a missing prompt raises here, at the ``await``."""
    prompt = load_prompt(*args, **kwargs)
    await asyncio.to_thread(lambda: prompt.name)
    return prompt


load_prompt_async.__signature__ = inspect.signature(load_prompt)  # type: ignore[attr-defined]


def fetch_saved(request: LoadRequest, credentials: tuple[str | None, str | None, str | None]) -> dict[str, Any]:
    """The object from the API, or its cached copy when the API cannot answer."""
    state = _state_for(*credentials)
    key = state.api_key()
    if not key:
        raise ValueError(request.kind.no_key)
    cache = request.kind.cache()
    cache_key = "|".join([state.app_url(), state.requested_org() or "", hashlib.sha256(key.encode()).hexdigest()[:16],
                          *(str(part) for part in (request.project, request.project_id, request.slug, request.object_id, request.version))])
    try:
        found = _ask(state, request)
    except (PromptUnavailable, PromptNotFound) as exc:
        cached = cache.get(cache_key) if isinstance(exc, PromptUnavailable) and request.environment is None else None
        if cached is None:
            raise
        log.warning("braintrust: %s; using its copy cached %s ago.", exc, _age(time.time() - cached.saved_at))
        return cached.prompt
    if request.environment is None:
        cache.put(cache_key, found)
    return found


def _ask(state: BraintrustState, request: LoadRequest) -> dict[str, Any]:
    from braintrust.delivery.http_client import RETRYABLE_STATUSES, HttpError, TransportError  # (imports requests)

    deadline = Deadline(FETCH_DEADLINE_SECONDS)
    path, params = request.path_and_params()
    noun = request.kind.noun
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
    if request.object_id:
        if not request.kind.is_kind(answer):
            if isinstance(answer, dict) and answer.get("id"):
                raise PromptNotFound(f"{request.describe().capitalize()} not found{_pinned(request)}: that id is a function of another kind.")
            raise PromptUnavailable(f"could not load {request.describe()}: the answer is not a {noun}")
        return answer
    objects = answer.get("objects") if isinstance(answer, dict) else None
    if not isinstance(objects, list):
        raise PromptUnavailable(f"could not load {request.describe()}: GET {path} answered without 'objects'")
    objects = [row for row in objects if request.kind.is_kind(row)]
    if not objects:
        raise PromptNotFound(f"{noun.capitalize()} {request.slug} not found in project {request.project or request.project_id}{_pinned(request)}.")
    if len(objects) > 1:
        raise ValueError(f"Multiple {request.kind.plural} found with slug {request.slug} in project "
                         f"{request.project or request.project_id}: pass the {noun}'s id= instead.")
    return objects[0]


def _age(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count > 1 else ''}"
    return "less than a minute"


def _pinned(request: LoadRequest) -> str:
    if request.version is not None:
        return f" at version {request.version}"
    if request.environment is not None:
        return f" in environment {request.environment!r}"
    return ""


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
