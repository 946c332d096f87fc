"""What every LLM client wrapper shares: a transparent proxy, and one model call traced as an
``llm`` span (sync or async, its result or its stream).

A ``Kind`` says how one endpoint's call becomes a span: its name, the fields it starts with
(input, metadata), the fields its result gives (output, metrics) and, for a streamed answer,
the fields its chunks give. ``traced_call`` runs the call in that span: the span ends with the
result, the last chunk, the stream's ``close()`` (what arrived is kept), or the error, which is
recorded and raised unchanged. Reading a result can never fail the caller: a result of a shape
the kind does not know becomes the span's error.
"""

from __future__ import annotations

import inspect
import time
import traceback
import warnings
from typing import Any, AsyncIterator, Callable, Iterator

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


def wrap_client(client: Any, proxy: Callable[[Any], Any], is_client: bool, wrapper: str, expected: str) -> Any:
    """``proxy(client)`` (a proxy class, or a function that traces the client in place); the
    client itself when traced already, or (with a warning naming what ``wrapper`` expected) when
    ``is_client`` says it is not a client the proxy can trace."""
    if isinstance(client, NamedWrapper) or getattr(type(client), AUTO_INSTRUMENTED, False):
        return client  # (traced already: by a wrapper, or by ``auto_instrument``)
    if not is_client:
        warnings.warn(f"{wrapper}: {type(client).__name__} is not {expected}; its calls are not traced. "
                      "Fix: pass the client object.", stacklevel=3)
        return client
    return proxy(client)


def traceback_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


class Kind:
    """How one endpoint's call becomes a span.

    ``start_fields(kwargs)``: the span's first fields (``input``, ``metadata``); ``finish(result)``
    and ``aggregate(chunks)``: the fields to log at the end (``output``, ``metrics``...);
    ``timed``: log ``time_to_first_token``; ``error_text(exc)``: an error as logged;
    ``children(output)``: child spans to log under the call's, each the arguments of a
    ``start_span`` plus the ``output`` or ``error`` to log in it (the tool calls an answer made).
    """

    def __init__(self, name: str, instrumentation: str, start_fields: Callable[[dict], dict], finish: Callable[[Any], dict],
                 aggregate: Callable[[list], dict] | None = None, timed: bool = True,
                 error_text: Callable[[BaseException], str] = traceback_text,
                 children: Callable[[Any], list[dict]] | None = None):
        self.name = name
        self.instrumentation = instrumentation
        self.start_fields = start_fields
        self.finish = finish
        self.aggregate = aggregate
        self.timed = timed
        self.error_text = error_text
        self.children = children

    def named(self, name: str) -> "Kind":
        """The same kind under another span name (``parse`` beside ``create``, say)."""
        return Kind(name, self.instrumentation, self.start_fields, self.finish, self.aggregate, self.timed, self.error_text,
                    self.children)


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


def start_call(kind: Kind, kwargs: dict) -> "Call":
    """Start ``kind``'s span for a call with ``kwargs``.

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
        attributes = {**(span_info.pop("span_attributes", None) or {}), "type": "llm"}
        with instrumented_by(kind.instrumentation):
            span = start_span(name=name, span_attributes=attributes, **{**span_info, **fields})
    except Exception as exc:  # tracing never stops the call itself
        warnings.warn(f"{kind.name}: this call is not traced ({type(exc).__name__}: {exc})", stacklevel=4)
        span = NOOP_SPAN
    return Call(kind, span)


def traced_call(kind: Kind, create: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """Run ``create`` in ``kind``'s span; an async client's coroutine is awaited in that span,
    and a ``stream=True`` answer is followed to its end."""
    call = start_call(kind, kwargs)
    try:
        result = create(*args, **kwargs)
    except BaseException as exc:
        call.fail(exc)
        raise
    if inspect.isawaitable(result):
        return call.finish_async(result, bool(kwargs.get("stream")))
    if kwargs.get("stream"):
        return TracedStream(result, call)
    call.done(result)
    return result


class Call:
    """One traced call: its span, until the result (or the last chunk) is in."""

    def __init__(self, kind: Kind, span: Any):
        self.kind = kind
        self.span = span
        self.start = time.time()
        self.first_token_seconds: float | None = None
        self.chunks: list = []  # of a streamed answer
        self.ended = False

    def first_chunk(self) -> None:
        if self.first_token_seconds is None:
            self.first_token_seconds = time.time() - self.start

    def received(self, chunk: Any) -> None:
        self.first_chunk()
        self.chunks.append(chunk)

    def done(self, result: Any, error: BaseException | None = None) -> None:
        """The result is in (``error``: and then something failed)."""
        self.first_chunk()
        fields = self._read(self.kind.finish, result)
        if error is not None:
            fields["error"] = self.kind.error_text(error)
        self._end(fields)

    def done_streaming(self, error: BaseException | None = None) -> None:
        """The stream ended (``error``: it failed); what arrived is the output (a stream that
        failed before its first chunk has none, as in 0.48.1)."""
        arrived = self.kind.aggregate is not None and (error is None or bool(self.chunks))
        fields = self._read(self.kind.aggregate, self.chunks) if arrived else {}
        if error is not None:
            fields["error"] = self.kind.error_text(error)
        self._end(fields)

    def fail(self, exc: BaseException) -> None:
        self._end({"error": self.kind.error_text(exc)})

    def end_unread(self) -> None:
        """The caller is done without reading the result (or all of a stream): what arrived is kept."""
        if self.chunks:
            self.done_streaming()
        else:
            self._end({})

    @staticmethod
    def _read(read: Callable[[Any], dict], result: Any) -> dict:
        """The fields ``read`` takes from a result; a result of a shape it does not know is the
        span's error, never the caller's."""
        try:
            return read(result)
        except Exception as exc:
            return {"error": f"the wrapper could not read this result ({type(result).__name__}): {traceback_text(exc)}"}

    def _end(self, fields: dict) -> None:
        if self.ended:
            return
        self.ended = True
        metrics = dict(fields.get("metrics") or {})
        if self.kind.timed and self.first_token_seconds is not None:
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
            return TracedAsyncStream(result, self)
        self.done(result)
        return result


class StreamProxy(NamedWrapper):
    """A stream whose chunks pass through ``_follow``: collected, and the span ended with the
    last one, with ``close()`` (read or not), or when the stream is dropped unfinished."""

    def __init__(self, stream: Any, call: Call):
        super().__init__(stream)
        self._bt_stream = stream
        self._bt_call = call
        self._bt_chunks = self._follow(stream, call)

    @staticmethod
    def _follow(stream: Any, call: Call) -> Any:
        raise NotImplementedError


class TracedStream(StreamProxy):
    """A sync stream."""

    @staticmethod
    def _follow(stream: Any, call: Call) -> Iterator[Any]:
        try:
            for chunk in stream:
                call.received(chunk)
                yield chunk
        except GeneratorExit:  # closed, or dropped, before the end
            pass
        except BaseException as exc:
            call.done_streaming(exc)
            raise
        call.done_streaming()

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return next(self._bt_chunks)

    def close(self) -> None:
        self._bt_chunks.close()
        self._bt_call.end_unread()  # (closed before its first chunk: ``_follow`` never ran)
        self._bt_stream.close()

    def __enter__(self) -> "TracedStream":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class TracedAsyncStream(StreamProxy):
    """An async stream."""

    @staticmethod
    async def _follow(stream: Any, call: Call) -> AsyncIterator[Any]:
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
