"""What every LLM client wrapper shares: a transparent proxy, and one model call traced as an
``llm`` span (sync or async, its result or its stream).

A ``Kind`` says how one endpoint's call becomes a span: its name, the fields it starts with
(input, metadata), the fields its result gives (output, metrics) and, for a streamed answer,
the fields its chunks give. ``traced_call`` runs the call in that span: the span ends with the
result, the last chunk, the stream's ``close()`` (what arrived is kept), or the error, which is
recorded and raised unchanged. Reading a result can never fail the caller: a result of a shape
the kind does not know becomes the span's error.

A stream handed to the caller that is dropped before it was read to the end or closed ends its
span when it is garbage-collected, or at the latest when the process exits (before the exit-time
flush), with what arrived and the metadata ``stream_unfinished`` saying so (``follow_until_dropped``).
A stream of the OpenAI or Anthropic client passes for the client's own stream class
(``isinstance(stream, openai.Stream)``: ``stream_class``).
"""

from __future__ import annotations

import atexit
import inspect
import logging
import os
import queue
import re
import sys
import threading
import time
import traceback
import warnings
import weakref
from collections.abc import Mapping
from typing import Any, AsyncIterator, Callable, Iterator

from braintrust.forks import at_fork
from braintrust.tracing.api import start_span
from braintrust.tracing.span import NOOP_SPAN, instrumented_by


#: Set on a client class whose instances ``auto_instrument`` traces.
AUTO_INSTRUMENTED = "_bt_auto_instrumented"


class NamedWrapper:
    """A transparent proxy: what it does not define itself comes from the wrapped object.
    (autoevals checks for it to leave an already wrapped client alone.)"""

    def __init__(self, wrapped: Any):
        self.__wrapped = wrapped

    def __getattr__(self, name: str) -> Any:
        if name == "_NamedWrapper__wrapped":  # not set yet (a copy being made)
            raise AttributeError(name)
        return getattr(self.__wrapped, name)


class ClientProxy(NamedWrapper):
    """A wrapped client: ``with_options(...)`` (and ``copy``) give a wrapped client too."""

    def __init__(self, client: Any):
        super().__init__(client)
        self._bt_client = client

    def with_options(self, *args: Any, **kwargs: Any) -> Any:
        return type(self)(self._bt_client.with_options(*args, **kwargs))

    copy = with_options


def traced_once(proxy: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``proxy`` for a client resource, but a resource traced already (one of the wrappers'
    proxies) as it is: a client both wrapped and auto-instrumented records one span per call."""

    def trace(resource: Any) -> Any:
        return resource if isinstance(resource, NamedWrapper) else proxy(resource)

    return trace


def wrap_client(client: Any, proxy: Callable[[Any], Any], is_client: bool, wrapper: str, expected: str,
                stacklevel: int = 3) -> Any:
    """``proxy(client)`` (a proxy class, or a function that traces the client in place); the
    client itself when traced already, or (with a warning naming what ``wrapper`` expected) when
    ``is_client`` says it is not a client the proxy can trace. ``stacklevel``: the warning's, as
    seen from here (3: the caller of the function that called this one)."""
    if isinstance(client, NamedWrapper) or getattr(type(client), AUTO_INSTRUMENTED, False):
        return client  # (traced already: by a wrapper, or by ``auto_instrument``)
    if not is_client:
        warnings.warn(f"{wrapper}: {type(client).__name__} is not {expected}; its calls are not traced. "
                      "Fix: pass the client object.", stacklevel=stacklevel)
        return client
    return proxy(client)


def warn_untraced(message: str, stacklevel: int) -> None:
    """Warn that a call runs untraced. Under an error filter (``-W error``, pytest's
    ``filterwarnings = error``) the warning would stop the call that tracing must never stop, so
    it is logged (``braintrust``, WARNING) instead. ``stacklevel``: as seen from here."""
    try:
        warnings.warn(message, stacklevel=stacklevel)
    except Warning:
        logging.getLogger("braintrust").warning("braintrust: %s", message)


def traceback_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


# -- credentials never reach a row ---------------------------------------------------------------

#: Request arguments that carry credentials (LiteLLM takes them per call).
SECRET_ARGUMENTS = ("api_key", "azure_ad_token", "aws_secret_access_key", "aws_session_token")
#: Request arguments whose values are headers.
HEADER_ARGUMENTS = ("extra_headers", "headers")
#: Credentials recognisable without knowing them: an ``Authorization`` value, a provider key.
_SECRET_PATTERNS = re.compile(r"(?i)\b(?:Bearer|Basic)\s+[^\s'\"\\,;]+|\bsk-[A-Za-z0-9_\-]{16,}")
_REDACTED = "[redacted]"
#: Shorter values are not looked for by value (a test's key "sk" would blot out words).
_MIN_SECRET_LENGTH = 8


def redact(text: str, secrets: Any = ()) -> str:
    """``text`` without the ``secrets`` (strings) and any recognisable credential in it."""
    for secret in secrets:
        if isinstance(secret, str) and len(secret.strip()) >= _MIN_SECRET_LENGTH:
            text = text.replace(secret.strip(), _REDACTED)
    return _SECRET_PATTERNS.sub(_REDACTED, text)


def call_secrets(create: Any, kwargs: dict) -> list[str]:
    """The credentials a call is made with: its credential arguments, the values of the headers
    it sets (``extra_headers``, LiteLLM's ``headers``: any of them may carry a key, under any
    name, and the HTTP library's error for a bad one quotes it), and the API key, auth token and
    default headers of the client whose method ``create`` is (through the clients' own wrappers,
    such as ``with_raw_response``'s)."""
    secrets = [kwargs.get(name) for name in SECRET_ARGUMENTS]
    for name in HEADER_ARGUMENTS:
        secrets.extend(_header_values(kwargs.get(name)))
    client = getattr(_bound_to(create), "_client", None)
    secrets.append(getattr(client, "api_key", None))
    secrets.append(getattr(client, "auth_token", None))  # (Anthropic's)
    secrets.extend(_header_values(getattr(client, "_custom_headers", None)))  # (its ``default_headers``)
    return [secret for secret in secrets if isinstance(secret, str)]


def _bound_to(create: Any) -> Any:
    """The object ``create`` is a method of: the first ``__self__`` met going down its chain of
    wrappers (a bound method of a decorated function has the plain function as ``__wrapped__``,
    which has none)."""
    seen = set()
    while create is not None and id(create) not in seen:  # (a cycle of __wrapped__ ends it)
        owner = getattr(create, "__self__", None)
        if owner is not None:
            return owner
        seen.add(id(create))
        create = getattr(create, "__wrapped__", None)
    return None


def _header_values(headers: Any) -> list[Any]:
    try:
        return list(headers.values()) if isinstance(headers, Mapping) else []
    except Exception:  # (a mapping that cannot be read: the patterns still apply)
        return []


class Kind:
    """How one endpoint's call becomes a span.

    ``start_fields(kwargs)``: the span's first fields (``input``, ``metadata``); ``finish(result)``
    and ``aggregate(chunks)``: the fields to log at the end (``output``, ``metrics``...);
    ``timed``: log ``time_to_first_token``; ``duration``: log the call's ``duration`` in seconds,
    for a call that answered (``"call"``) or, with ``time_to_first_token``, for a streamed one
    (``"stream"``);
    ``error_text(exc)``: an error as logged;
    ``children(output)``: child spans to log under the call's, each the arguments of a
    ``start_span`` plus the ``output`` or ``error`` to log in it (the tool calls an answer made);
    ``span_type``: the span's type (``llm``; a call that is no model call, a batch's, ``task``);
    ``first_token(chunk)``: whether a streamed chunk is the answer's first token (default: any chunk);
    ``refine(fields, request)``: the fields ``finish`` / ``aggregate`` gave, adjusted to what the
    request asked for (the audio format of a chat answer's audio, say).
    """

    def __init__(self, name: str, instrumentation: str, start_fields: Callable[[dict], dict], finish: Callable[[Any], dict],
                 aggregate: Callable[[list], dict] | None = None, timed: bool = True,
                 error_text: Callable[[BaseException], str] = traceback_text,
                 children: Callable[[Any], list[dict]] | None = None, duration: str | None = None, span_type: str = "llm",
                 first_token: Callable[[Any], bool] | None = None,
                 refine: Callable[[dict, dict], dict] | None = None):
        self.name = name
        self.instrumentation = instrumentation
        self.start_fields = start_fields
        self.finish = finish
        self.aggregate = aggregate
        self.timed = timed
        self.error_text = error_text
        self.children = children
        self.duration = duration
        self.span_type = span_type
        self.first_token = first_token
        self.refine = refine

    def named(self, name: str) -> "Kind":
        """The same kind under another span name (``parse`` beside ``create``, say)."""
        return self.replaced(name=name)

    def replaced(self, **changes: Any) -> "Kind":
        """The same kind with ``changes`` (constructor arguments) made."""
        fields = {name: getattr(self, name) for name in _KIND_FIELDS}
        return Kind(**{**fields, **changes})


_KIND_FIELDS = ("name", "instrumentation", "start_fields", "finish", "aggregate", "timed", "error_text", "children",
                "duration", "span_type", "first_token", "refine")


def omitted(value: Any) -> bool:
    """True for the clients' "not given" markers (``NOT_GIVEN``, ``omit``); None is a value."""
    return type(value).__name__ in ("NotGiven", "Omit")


def given(value: Any) -> bool:
    """False for None and the clients' "not given" markers."""
    return value is not None and not omitted(value)


def as_dict(value: Any) -> Any:
    """A pydantic model (the clients' results) as plain data; dicts and others as they are."""
    dump = getattr(value, "model_dump", None)
    if not callable(dump) or isinstance(value, type):
        return value
    try:  # (no serializer warnings: a ``parse()`` result's ``parsed`` gives one the caller would see)
        return dump(warnings=False)
    except TypeError:  # (a ``model_dump`` of its own, without the argument)
        return dump()


def field(value: Any, name: str) -> Any:
    """``value.name`` or ``value[name]`` (results are pydantic models; a stub's may be dicts)."""
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


def keep_iterators(kwargs: dict, *names: str) -> None:
    """Make the one-shot iterators among ``kwargs[names]`` (a generator of messages, say) lists,
    so that logging them does not exhaust what the client then sends."""
    for name in names:
        if isinstance(kwargs.get(name), Iterator):
            kwargs[name] = list(kwargs[name])


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def start_call(kind: Kind, kwargs: dict, create: Callable[..., Any] | None = None) -> "Call":
    """Start ``kind``'s span for a call with ``kwargs`` (made through ``create``: its client's API
    key, like the credentials among ``kwargs``, is kept out of a logged error).

    A ``span_info`` argument (autoevals passes one) is taken out of ``kwargs``, so it is not sent:
    its ``name`` names the span, its ``span_attributes`` (``purpose: "scorer"``) and ``metadata``
    join the span's, and any other field is logged as it is.
    """
    span_info = kwargs.pop("span_info", None)
    try:
        span_info = dict(span_info or {})
        fields = kind.start_fields(kwargs)
        fields["metadata"] = {**(span_info.pop("metadata", None) or {}), **fields["metadata"]}
        name = span_info.pop("name", None) or kind.name
        attributes = {**(span_info.pop("span_attributes", None) or {}), "type": kind.span_type}
        with instrumented_by(kind.instrumentation):
            span = start_span(name=name, span_attributes=attributes, **{**span_info, **fields})
    except Exception as exc:  # tracing never stops the call itself
        warn_untraced(f"{kind.name}: this call is not traced ({type(exc).__name__}: {exc})", stacklevel=5)
        span = NOOP_SPAN
    return Call(kind, span, lambda: call_secrets(create, kwargs), request=kwargs)


#: The header the OpenAI and Anthropic clients add to a call made through their
#: ``with_raw_response`` ("true", "raw") or ``with_streaming_response`` ("stream").
RAW_RESPONSE_HEADER = "X-Stainless-Raw-Response"


def traced_call(kind: Kind, create: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """Run ``create`` in ``kind``'s span; an async client's coroutine is awaited in that span,
    and a ``stream=True`` answer is followed to its end. A call the client makes for its
    client-level ``with_raw_response`` / ``with_streaming_response`` answers the raw response,
    which is followed as the resource-level ones are (``raw_responses``)."""
    call = start_call(kind, kwargs, create)
    headers = kwargs.get("extra_headers")
    raw_mode = headers.get(RAW_RESPONSE_HEADER) if isinstance(headers, dict) else None
    try:
        result = create(*args, **kwargs)
    except BaseException as exc:
        call.fail(exc)
        raise
    if raw_mode is not None:
        from braintrust.wrappers.raw_responses import follow_raw  # (it builds on this module)

        return follow_raw(result, call, bool(kwargs.get("stream")), read_now=raw_mode != "stream")
    if inspect.isawaitable(result):
        return call.finish_async(result, bool(kwargs.get("stream")))
    if kwargs.get("stream"):
        return stream_class(TracedStream, type(result))(result, call)
    call.done(result)
    return result


class Call:
    """One traced call: its span, until the result (or the last chunk) is in."""

    def __init__(self, kind: Kind, span: Any, secrets: Callable[[], list[str]] = list, request: dict | None = None):
        self.kind = kind
        self.span = span
        self.secrets = secrets  # (asked only when an error is logged)
        self.request = request if request is not None else {}
        #: Metrics known before the result is read (the raw response's ``cached`` header), logged with it.
        self.metrics: dict[str, Any] = {}
        self.start = time.time()
        self.first_token_seconds: float | None = None
        self.chunks: list = []  # of a streamed answer
        self.streamed = False
        self.ended = False

    def first_chunk(self) -> None:
        if self.first_token_seconds is None:
            self.first_token_seconds = time.time() - self.start

    def received(self, chunk: Any) -> None:
        if self.kind.first_token is None or self.kind.first_token(chunk):
            self.first_chunk()
        self.chunks.append(chunk)

    def done(self, result: Any, error: BaseException | None = None, unfinished: str | None = None) -> None:
        """The result is in (``error``: and then something failed; ``unfinished``: the note of a
        stream dropped before its end, ``result`` being what arrived: a stream's first token is
        its own, if one came)."""
        if not self.streamed:
            self.first_chunk()
        fields = self._read(self.kind.finish, result)
        if self.kind.duration == "call":  # (of a call that answered: a failed one has none)
            fields["metrics"] = {**(fields.get("metrics") or {}), "duration": time.time() - self.start}
        if error is not None:
            fields["error"] = self._error_text(error)
        self._end(fields, unfinished)

    def done_streaming(self, error: BaseException | None = None, unfinished: str | None = None) -> None:
        """The stream ended (``error``: it failed; ``unfinished``: it was dropped); what arrived
        is the output (a stream that failed before its first chunk has none, as in 0.48.1)."""
        self.streamed = True
        arrived = self.kind.aggregate is not None and (error is None or bool(self.chunks))
        fields = self._read(self.kind.aggregate, self.chunks) if arrived else {}
        if error is not None:
            fields["error"] = self._error_text(error)
        self._end(fields, unfinished)

    def fail(self, exc: BaseException) -> None:
        self._end({"error": self._error_text(exc)})

    def _error_text(self, exc: BaseException) -> str:
        """The error as logged, without credentials (a bad header's message quotes its value)."""
        try:
            secrets = self.secrets()
        except Exception:  # (the patterns still apply)
            secrets = []
        return redact(self.kind.error_text(exc), secrets)

    def end_unread(self, unfinished: str | None = None) -> None:
        """The caller is done without reading the result (or all of a stream): what arrived is
        kept (``unfinished``: the stream was dropped, not closed, and the metadata says so)."""
        if self.chunks:
            self.done_streaming(unfinished=unfinished)
        else:
            self._end({}, unfinished)

    def _read(self, read: Callable[[Any], dict], result: Any) -> dict:
        """The fields ``read`` takes from a result (refined as the kind says); a result of a
        shape it does not know is the span's error, never the caller's."""
        try:
            fields = read(result)
            return self.kind.refine(fields, self.request) if self.kind.refine is not None else fields
        except Exception as exc:
            return {"error": f"the wrapper could not read this result ({type(result).__name__}): {traceback_text(exc)}"}

    def _end(self, fields: dict, unfinished: str | None = None) -> None:
        if self.ended:
            return
        self.ended = True
        if unfinished is not None:
            fields = {**fields, "metadata": {**(fields.get("metadata") or {}), UNFINISHED: unfinished}}
        metrics = {**self.metrics, **(fields.get("metrics") or {})}
        if self.kind.timed and self.first_token_seconds is not None:
            metrics["time_to_first_token"] = self.first_token_seconds
        if self.kind.duration == "stream" and self.streamed:
            metrics["duration"] = time.time() - self.start
            if self.first_token_seconds is not None:
                metrics["time_to_first_token"] = self.first_token_seconds
        fields = {**fields, "metrics": metrics} if metrics else {k: v for k, v in fields.items() if k != "metrics"}
        try:
            self.span.log(**fields)
            if self.kind.children is not None and fields.get("output") and self.span is not NOOP_SPAN:
                self._log_children(self.kind.children(fields["output"]))
        finally:
            self.span.end()

    def _log_children(self, children: list[dict]) -> None:
        with instrumented_by(self.kind.instrumentation):
            for child in children:
                child = dict(child)
                ended = {key: child.pop(key) for key in ("output", "error") if key in child}
                with self.span.start_span(**child) as span:
                    if ended:
                        span.log(**ended)

    async def finish_async(self, pending: Any, stream: bool) -> Any:
        try:
            result = await pending
        except BaseException as exc:
            self.fail(exc)
            raise
        if stream:
            return stream_class(TracedAsyncStream, type(result))(result, self)
        self.done(result)
        return result


class StreamProxy(NamedWrapper):
    """A stream whose chunks pass through ``_follow``: collected, and the span ended with the
    last one (unless ``end_with_last_chunk`` is False: a helper's block ends it), with ``close()``
    (read or not), or, noted as unfinished, when the stream is dropped before either."""

    def __init__(self, stream: Any, call: Call, end_with_last_chunk: bool = True):
        super().__init__(stream)
        self._bt_stream = stream
        self._bt_call = call
        self._bt_chunks = self._follow(stream, call, end_with_last_chunk)
        follow_until_dropped(self, call)

    @staticmethod
    def _follow(stream: Any, call: Call, end_with_last_chunk: bool) -> Any:
        raise NotImplementedError

    def _bt_dropped(self, note: str) -> None:
        if not self._bt_call.ended:
            self._bt_call.end_unread(note)

    def __del__(self) -> None:
        if "_bt_call" in self.__dict__:  # (not there: __init__ failed)
            end_when_dropped(self)


class TracedStream(StreamProxy):
    """A sync stream."""

    @staticmethod
    def _follow(stream: Any, call: Call, end_with_last_chunk: bool) -> Iterator[Any]:
        try:
            for chunk in stream:
                call.received(chunk)
                yield chunk
        except GeneratorExit:  # closed, or dropped, before the end: ``close()`` or ``__del__`` ends the span
            return
        except BaseException as exc:
            call.done_streaming(exc)
            raise
        if end_with_last_chunk:
            call.done_streaming()

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return next(self._bt_chunks)

    def close(self) -> None:
        self._bt_chunks.close()
        self._bt_call.end_unread()  # (``_follow`` leaves a stream closed before its end to us)
        self._bt_stream.close()

    def __enter__(self) -> "TracedStream":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class TracedAsyncStream(StreamProxy):
    """An async stream."""

    @staticmethod
    async def _follow(stream: Any, call: Call, end_with_last_chunk: bool) -> AsyncIterator[Any]:
        try:
            async for chunk in stream:
                call.received(chunk)
                try:
                    yield chunk
                except BaseException:  # thrown in where the caller left: not the stream's error
                    # (closed or dropped: GeneratorExit; dropped as the loop ends: its finalizer's CancelledError)
                    call.done_streaming()
                    raise
        except BaseException as exc:
            call.done_streaming(exc)
            raise
        if end_with_last_chunk:
            call.done_streaming()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        return await self._bt_chunks.__anext__()

    async def close(self) -> None:
        await self._bt_end()
        await self._bt_stream.close()

    async def aclose(self) -> None:
        """(LiteLLM's async streams close this way.)"""
        await self._bt_end()
        await self._bt_stream.aclose()

    async def _bt_end(self) -> None:
        await self._bt_chunks.aclose()
        self._bt_call.end_unread()

    async def __aenter__(self) -> "TracedAsyncStream":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()


# -- passing for the client's own stream class -------------------------------------------------

#: The client libraries whose stream classes a traced stream passes for: plain classes, so a
#: subclass of the proxy and of the client's class is safe (the names the client's class defines
#: are forwarded to the wrapped stream, as every other attribute is).
MIRRORED_LIBRARIES = ("openai", "anthropic")
_stream_classes: dict[tuple[type, type], type] = {}


def stream_class(proxy: type, stream_type: type) -> type:
    """The class that follows a stream of ``stream_type``: ``proxy`` (``TracedStream``,
    ``TracedAsyncStream``), or for a stream of an OpenAI or Anthropic client a subclass of both,
    made once per stream type, so that ``isinstance(traced, openai.Stream)`` holds."""
    cls = _stream_classes.get((proxy, stream_type))
    if cls is None:
        cls = _stream_classes[(proxy, stream_type)] = _mirrored(proxy, stream_type)
    return cls


def _mirrored(proxy: type, stream_type: type) -> type:
    def library(cls: type) -> str:
        return (getattr(cls, "__module__", None) or "").partition(".")[0]

    if library(stream_type) not in MIRRORED_LIBRARIES:
        return proxy
    own = set(dir(proxy))
    # The client class's own names (its methods, properties, class attributes such as a
    # default ``_options``), which the subclass would otherwise resolve on the proxy itself.
    forwarded = {name: _forwarded(name) for cls in stream_type.__mro__ if library(cls) in MIRRORED_LIBRARIES
                 for name in vars(cls) if name not in own and not (name.startswith("__") and name.endswith("__"))}
    try:
        name = f"{proxy.__name__}[{stream_type.__module__}.{stream_type.__qualname__}]"
        return type(name, (proxy, stream_type), {**forwarded, "__doc__": proxy.__doc__})
    except TypeError:  # (a class that cannot be a second base: the proxy alone)
        return proxy


def _forwarded(name: str) -> property:
    def get(self: StreamProxy) -> Any:
        return getattr(self._bt_stream, name)

    def set_(self: StreamProxy, value: Any) -> None:
        setattr(self._bt_stream, name, value)

    return property(get, set_, doc=f"the wrapped stream's {name}")


# -- streams their callers let go of -----------------------------------------------------------

#: The metadata key of a span whose stream was dropped before it was read to the end or closed.
UNFINISHED = "stream_unfinished"
DROPPED = "the stream was dropped before it was read to the end or closed; the output is what had arrived"
AT_EXIT = "the stream was not read to the end nor closed when the process exited; the output is what had arrived"

#: Streams handed to callers (each with ``_bt_dropped(note)``), for the exit-time check.
_followed: "weakref.WeakSet[Any]" = weakref.WeakSet()
_exit_hook_registered = False
#: Spans of dropped streams, ended by the ``braintrust-stream-reaper`` thread: ``__del__`` may run
#: inside the garbage collector, on a thread holding one of the locks ending a span takes (the
#: queue's), so it only puts the work here (``SimpleQueue.put`` is safe there).
_dropped: "queue.SimpleQueue[Callable[[], Any]]" = queue.SimpleQueue()
_reaper_pid: int | None = None


def follow_until_dropped(follower: Any, call: Call) -> None:
    """End ``call``'s span by ``follower._bt_dropped(AT_EXIT)`` if it is still open when the process
    exits (before the exit-time flush). ``follower`` (a stream, or what follows one) ends it when
    it is garbage-collected (``end_when_dropped``). Nothing for a call that records nothing."""
    global _exit_hook_registered
    if call.span is NOOP_SPAN:
        return
    _followed.add(follower)
    _start_reaper()
    if not _exit_hook_registered:
        _exit_hook_registered = True
        from braintrust.delivery.runtime import get_processor

        get_processor()  # (it registers the exit-time flush, if not yet: ours, registered after it, runs first)
        atexit.register(_end_unfinished_at_exit)


def end_when_dropped(follower: Any) -> None:
    """From ``follower.__del__``: its span is ended (``DROPPED``) on the reaper thread, soon."""
    if not sys.is_finalizing():
        _dropped.put(lambda: follower._bt_dropped(DROPPED))


def settle_dropped(timeout: float = 5.0) -> bool:
    """Wait until the spans of the streams dropped so far are ended (False: not within ``timeout``)."""
    _start_reaper()
    done = threading.Event()
    _dropped.put(done.set)
    return done.wait(timeout)


def _start_reaper() -> None:
    global _reaper_pid
    if _reaper_pid != os.getpid():  # (not yet, or this is a fork's child: threads do not survive a fork)
        _reaper_pid = os.getpid()
        threading.Thread(target=_reap, name="braintrust-stream-reaper", daemon=True).start()


def _reap() -> None:
    while True:
        _run_quietly(_dropped.get())


def _run_quietly(end: Callable[[], Any]) -> None:
    try:
        end()
    except Exception as exc:  # (the others still end)
        print(f"braintrust: could not end the span of an unfinished stream: {exc!r}", file=sys.stderr)


def _end_unfinished_at_exit() -> None:
    while True:  # (dropped ones the reaper has not reached yet, here and now)
        try:
            _run_quietly(_dropped.get_nowait())
        except queue.Empty:
            break
    for follower in list(_followed):
        _run_quietly(lambda: follower._bt_dropped(AT_EXIT))


def _forget_followed_in_child() -> None:
    # A forked child's exit must not end the parent's spans (the parent may still be reading).
    global _dropped
    _followed.clear()
    _dropped = queue.SimpleQueue()


at_fork(after_in_child=_forget_followed_in_child)
