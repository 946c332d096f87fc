"""``invoke`` and ``init_function``: call a function hosted in Braintrust (braintrust-api.md §13).

``POST {proxy_url}/function/invoke`` with the public SDK's body: ``api_version``, ``input``,
``metadata``, ``tags``, ``parent`` (the export slug of the given parent, else of what a new span
would start under; ``""`` outside any), ``stream``, the arguments naming the function (not
``project_id``, which is sent as the ``x-bt-project-id`` header only), and
``messages``/``mode``/``strict``/``overrides`` when given; keys sorted. It is not retried (a
function may have effects). A function gets ``INVOKE_READ_TIMEOUT_SECONDS`` to answer, or
between two streamed events. Functions run in Braintrust: with no API key this says so.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any, Callable, Iterator, Literal, Mapping, Sequence, TypedDict

from braintrust.config import secret
from braintrust import jsonsafe
from braintrust.delivery.deadline import Deadline
from braintrust.functions.stream import BraintrustInvokeError, BraintrustStream, server_sent_events
from braintrust.state import LoginError, global_state

__all__ = ["SpanScope", "TraceScope", "init_function", "invoke", "invoke_async"]

INVOKE_READ_TIMEOUT_SECONDS = 300.0

_NO_KEY = ("invoke calls a function hosted in Braintrust, and no API key is set: set BRAINTRUST_API_KEY "
           "(or pass api_key=). Offline, call the code directly instead.")


class SpanScope(TypedDict):
    """What a function (a scorer, say) works on: one span of a trace."""

    type: Literal["span"]
    id: str
    root_span_id: str


class TraceScope(TypedDict):
    """What a function works on: a whole trace, named by its root span id."""

    type: Literal["trace"]
    root_span_id: str


#: The arguments that name the function, sent as given. (``project_id`` is not one: it goes in the
#: ``x-bt-project-id`` header only, the project the call runs in, as 0.48.1 sends it.)
_IDENTITY = ("function_id", "version", "prompt_session_id", "prompt_session_function_id", "project_name",
             "slug", "global_function", "function_type")


def invoke(
    function_id: str | None = None,
    version: str | None = None,
    prompt_session_id: str | None = None,
    prompt_session_function_id: str | None = None,
    project_name: str | None = None,
    project_id: str | None = None,
    slug: str | None = None,
    global_function: str | None = None,
    function_type: str | None = None,
    input: Any = None,
    messages: Sequence[Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    parent: Any = None,
    stream: bool = False,
    mode: str | None = None,
    strict: bool | None = None,
    overrides: dict[str, Any] | None = None,
    org_name: str | None = None,
    api_key: str | None = None,
    app_url: str | None = None,
    force_login: bool = False,
) -> Any:
    """Run the function and return its output (parsed JSON), or with ``stream=True`` a
    ``BraintrustStream``. Raises ``BraintrustInvokeError`` when the function fails."""
    api_key = secret(api_key)  # (tracebacks with locals, e.g. pytest -l, show this frame's arguments)
    identity = {name: value for name, value in zip(_IDENTITY, (
        function_id, version, prompt_session_id, prompt_session_function_id, project_name, slug,
        global_function, function_type)) if value is not None}
    if not (function_id or global_function or prompt_session_id or (slug and (project_name or project_id))):
        raise ValueError("invoke needs to know which function to call: pass function_id=, global_function=, "
                         "prompt_session_id=, or slug= with project_name= or project_id=.")
    state = _logged_in(api_key, app_url, org_name, force_login)
    body: dict[str, Any] = {
        "api_version": 1, "input": input, "metadata": metadata, "tags": tags,
        "parent": _parent_slug(parent), "stream": bool(stream), **identity,
    }
    for name, value in (("messages", messages), ("mode", mode), ("strict", strict), ("overrides", overrides)):
        if value is not None:
            body[name] = value
    headers = {"Accept": "text/event-stream" if stream else "application/json", "Content-Type": "application/json"}
    if project_id is not None:
        headers["x-bt-project-id"] = project_id
    if org_name is not None:
        headers["x-bt-org-name"] = org_name
    payload = json.dumps(jsonsafe.snapshot(body)[0], sort_keys=True).encode("utf-8")
    response = _post(state, payload, headers, stream, _describe(identity))
    if not stream:
        try:
            return response.json()
        except ValueError:
            raise BraintrustInvokeError(f"{_describe(identity)} answered without JSON: {response.text[:300]}") from None
    return BraintrustStream(server_sent_events(_stream_lines(response, _describe(identity))), on_close=response.close)


async def invoke_async(*args: Any, **kwargs: Any) -> Any:
    """``invoke`` (same arguments) run on a worker thread, in the caller's context, so the event
    loop is not blocked. With ``stream=True`` the ``BraintrustStream`` it returns reads with
    ``async for`` and ``await stream.final_value_async()``."""
    return await asyncio.to_thread(invoke, *args, **kwargs)


invoke_async.__signature__ = inspect.signature(invoke)  # type: ignore[attr-defined]


def init_function(project_name: str, slug: str, version: str | None = None) -> Callable[..., Any]:
    """A function that invokes ``slug`` of ``project_name``, for ``Eval`` as a task or a scorer:
    ``f(value, ...)`` sends its first argument as the input (a task's; ``Eval``'s hooks after it are
    not sent), ``f(**fields)`` the fields as an object (a scorer's arguments). Its ``__name__`` (a
    scorer's score name) is ``init_function-<project>-<slug>-<version or latest>``, as in 0.48.1.
    As there, it turns ``Eval``'s span cache off (the function's spans are written in Braintrust)."""
    from braintrust.tracing import span_cache

    span_cache.disable()

    def f(*args: Any, **kwargs: Any) -> Any:
        return invoke(project_name=project_name, slug=slug, version=version, input=args[0] if args else kwargs)

    f.__name__ = f"init_function-{project_name}-{slug}-{version or 'latest'}"
    return f


def call_function(body: dict[str, Any], project_id: str | None = None) -> Any:
    """``POST /function/invoke`` with ``body`` as given (the dev server's scorers, whose functions
    may be named in ways ``invoke`` does not take), with the org's and ``project_id``'s headers;
    the parsed answer. Raises as ``invoke`` does."""
    state = _logged_in(None, None, None, False)
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if state.org_name:
        headers["x-bt-org-name"] = state.org_name
    if project_id:
        headers["x-bt-project-id"] = project_id
    what = _describe(body) if any(body.get(k) for k in ("slug", "function_id", "global_function", "prompt_session_id")) \
        else f"function {body.get('name') or 'given inline'!r}"
    response = _post(state, json.dumps(jsonsafe.snapshot(body)[0], sort_keys=True).encode("utf-8"), headers, False, what)
    try:
        return response.json()
    except ValueError:
        raise BraintrustInvokeError(f"{what} answered without JSON: {response.text[:300]}") from None


def _logged_in(api_key: str | None, app_url: str | None, org_name: str | None, force_login: bool) -> Any:
    state = global_state()
    if api_key is not None or app_url is not None or org_name is not None or force_login:
        state.configure(api_key=api_key, app_url=app_url, org_name=org_name, force_login=force_login)
    if not state.api_key():
        raise ValueError(_NO_KEY)
    try:
        state.login(Deadline(60.0), force_login=force_login)
    except LoginError as exc:
        raise BraintrustInvokeError(f"could not log in to Braintrust to invoke a function: {exc}") from None
    return state


def _stream_lines(response: Any, what: str) -> Iterator[str]:
    """The lines of a streamed answer; the connection failing midway raises ``BraintrustInvokeError``
    (what was read is kept by the stream, but the output is incomplete)."""
    import requests

    try:
        for line in response.iter_lines(chunk_size=None):
            yield line.decode("utf-8", errors="replace") if isinstance(line, bytes) else line
    except requests.RequestException as exc:
        raise BraintrustInvokeError(f"the stream of {what} broke off before it ended ({type(exc).__name__}: {exc}); "
                                    "its output is incomplete") from None


def _parent_slug(parent: Any) -> str:
    if isinstance(parent, str):
        return parent
    if parent is not None:
        if not callable(getattr(parent, "export", None)):
            raise TypeError(f"invoke parent= must be a span, an experiment or a logger (or the string their export() "
                            f"gives), not {type(parent).__name__}")
        return parent.export()
    from braintrust.tracing.api import get_span_parent_object
    from braintrust.tracing.span import NOOP_SPAN
    from braintrust.tracing.span_components import SpanComponentsV4

    owner = get_span_parent_object()
    if owner is NOOP_SPAN:
        return ""
    if isinstance(owner, SpanComponentsV4):
        return owner.to_str()
    return owner.export()


def _describe(identity: dict[str, Any]) -> str:
    name = identity.get("slug") or identity.get("function_id") or identity.get("global_function") or identity.get("prompt_session_id")
    return f"function {name!r}"


def _post(state: Any, payload: bytes, headers: dict[str, str], stream: bool, what: str) -> Any:
    """The ``requests`` response; raises as ``invoke`` documents."""
    import requests  # (not at import: it opens sockets)

    from braintrust.delivery.http_client import HttpError, TransportError

    url = f"{(state.proxy_url or state.api_url).rstrip('/')}/function/invoke"
    try:
        return state.http_client().request(
            "POST", url, Deadline(None), data=payload, headers=headers, retry=False, stream=stream,
            read_timeout_seconds=INVOKE_READ_TIMEOUT_SECONDS,
        )
    except HttpError as exc:
        if exc.status == 500:
            raise BraintrustInvokeError(exc.body) from None
        error = requests.HTTPError(f"{what}: POST /function/invoke answered {exc.status}: {exc.body[:300]}")
        raise error from None
    except TransportError as exc:
        raise BraintrustInvokeError(f"could not invoke {what}: {exc}") from None
