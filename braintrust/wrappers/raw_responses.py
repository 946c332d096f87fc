"""A traced call answered as the raw HTTP response: the OpenAI client's ``with_raw_response``
(headers, then ``parse()``) and ``with_streaming_response`` (a context manager whose response is
read on ``parse()``), sync and async.

The span is the one ``create(...)`` would make (``calls.start_call``); its output comes from the
parsed result. ``with_raw_response`` has read the body already, so a plain answer is parsed and
the span ended at once (the client caches what ``parse()`` returns, so the caller's own call costs
nothing more); a ``stream=True`` answer is followed when the caller parses and iterates it. For
``with_streaming_response`` the span ends when the caller parses the body, or when the block is
left without reading it (no output then). Tracing never fails the call: a body the wrapper cannot
parse is the span's error, and the caller's ``parse()`` raises as it would have.

As in 0.48.1, an OpenAI raw response's Braintrust proxy cache header (``x-bt-cached``, or the older
``x-cached``) is the span's ``cached`` metric: 1 for ``true`` / ``hit``, else 0.

The client-level variants (``client.with_raw_response.chat.completions.create(...)``) call the
traced resource's own ``create``, which hands the raw response to ``follow_raw``: the same spans.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from braintrust.wrappers.calls import Call, Kind, NamedWrapper, TracedAsyncStream, TracedStream, start_call, stream_class


class RawResponses(NamedWrapper):
    """A resource's ``with_raw_response`` / ``with_streaming_response``: ``create`` (and
    ``parse``, when the resource traces it) traced as on the resource itself."""

    def __init__(self, raw: Any, kind: Kind, parse_kind: Kind | None, streaming: bool):
        super().__init__(raw)
        self._bt_raw = raw
        self._bt_kind = kind
        self._bt_parse_kind = parse_kind
        self._bt_streaming = streaming

    def create(self, *args: Any, **kwargs: Any) -> Any:
        return self._bt_call(self._bt_kind, self._bt_raw.create, args, kwargs)

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        if self._bt_parse_kind is None:
            return self._bt_raw.parse(*args, **kwargs)
        return self._bt_call(self._bt_parse_kind, self._bt_raw.parse, args, kwargs)

    def _bt_call(self, kind: Kind, create: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        call = start_call(kind, kwargs, create)
        stream = bool(kwargs.get("stream"))
        try:
            answer = create(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        if self._bt_streaming:
            return TracedResponseManager(answer, call, stream)
        return follow_raw(answer, call, stream, read_now=True)


def follow_raw(answer: Any, call: Call, stream: bool, read_now: bool) -> Any:
    """The raw response ``answer`` (or, from an async client, an awaitable of it) as a
    ``TracedRawResponse`` ending ``call``'s span. ``read_now``: the body is in (``with_raw_response``),
    so a plain answer is parsed and the span ended at once; otherwise (``with_streaming_response``)
    the span ends on the caller's ``parse()`` or on the response's ``close()``."""
    if inspect.isawaitable(answer):
        return _raw_async(answer, call, stream, read_now)
    return _raw(answer, call, stream, read_now)


#: The AI proxy's cache headers, the current one first.
CACHED_HEADERS = ("x-bt-cached", "x-cached")


def cached_metric(response: Any) -> dict:
    """``{"cached": 1}`` (a proxy cache hit) or ``{"cached": 0}`` from a raw response's headers;
    ``{}`` without the header."""
    headers = getattr(response, "headers", None)
    try:
        value = next((headers.get(name) for name in CACHED_HEADERS if headers.get(name)), None)
    except Exception:  # (headers of a shape of their own: no metric)
        return {}
    if not isinstance(value, str):
        return {}
    return {"cached": 1 if value.strip().lower() in ("true", "hit") else 0}


def _raw(response: Any, call: Call, stream: bool, read_now: bool = True) -> Any:
    traced = TracedRawResponse(response, call, stream)
    if read_now and not stream:
        try:
            traced.parse()  # (now: the body is in, and the span should not wait on the caller)
        except Exception:
            pass  # (the span has the error; the caller's own parse() raises it)
    return traced


async def _raw_async(pending: Any, call: Call, stream: bool, read_now: bool = True) -> Any:
    try:
        response = await pending
    except BaseException as exc:
        call.fail(exc)
        raise
    return _raw(response, call, stream, read_now)


class TracedRawResponse(NamedWrapper):
    """The raw response, as the client gave it (headers, status...), whose ``parse()`` ends the
    span with the result, or returns a stream the span follows."""

    def __init__(self, response: Any, call: Call, stream: bool):
        super().__init__(response)
        self._bt_response = response
        self._bt_call = call
        self._bt_stream = stream
        self._bt_followed: Any = None
        if call.kind.instrumentation == "openai-auto":  # (0.48.1's Anthropic wrapper does not read it)
            call.metrics.update(cached_metric(response))

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # so that isinstance(proxy, LegacyAPIResponse) holds
        return self._bt_response.__class__

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        try:
            parsed = self._bt_response.parse(*args, **kwargs)
        except BaseException as exc:
            self._bt_call.fail(exc)
            raise
        if inspect.isawaitable(parsed):  # (an async client's streamed response)
            return self._bt_parsed_async(parsed)
        return self._bt_parsed(parsed)

    async def _bt_parsed_async(self, pending: Any) -> Any:
        try:
            parsed = await pending
        except BaseException as exc:
            self._bt_call.fail(exc)
            raise
        return self._bt_parsed(parsed)

    def _bt_parsed(self, parsed: Any) -> Any:
        if not self._bt_stream:
            self._bt_call.done(parsed)  # (once: a second parse() finds the span ended)
            return parsed
        if self._bt_followed is None:
            follow = TracedAsyncStream if hasattr(parsed, "__aiter__") else TracedStream
            self._bt_followed = stream_class(follow, type(parsed))(parsed, self._bt_call)
        return self._bt_followed

    def close(self) -> Any:
        """(The clients' ``with_streaming_response`` blocks close the response as they are left:
        the span ends then, with what was read.)"""
        self._bt_call.end_unread()
        return self._bt_response.close()


class TracedResponseManager(NamedWrapper):
    """``with_streaming_response.create(...)``'s context manager: the response it gives is a
    ``TracedRawResponse``; leaving the block ends the span (with the error that left it, if any)."""

    def __init__(self, manager: Any, call: Call, stream: bool):
        super().__init__(manager)
        self._bt_manager = manager
        self._bt_call = call
        self._bt_stream = stream

    def __enter__(self) -> Any:
        try:
            response = self._bt_manager.__enter__()
        except BaseException as exc:
            self._bt_call.fail(exc)
            raise
        return TracedRawResponse(response, self._bt_call, self._bt_stream)

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self._bt_manager.__exit__(*exc_info)
        finally:
            self._bt_left(exc_info[1])

    async def __aenter__(self) -> Any:
        try:
            response = await self._bt_manager.__aenter__()
        except BaseException as exc:
            self._bt_call.fail(exc)
            raise
        return TracedRawResponse(response, self._bt_call, self._bt_stream)

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self._bt_manager.__aexit__(*exc_info)
        finally:
            self._bt_left(exc_info[1])

    def _bt_left(self, error: BaseException | None) -> None:
        if error is not None:
            self._bt_call.fail(error)
        else:
            self._bt_call.end_unread()  # (a body read, or a stream followed, to its end ended it already)
