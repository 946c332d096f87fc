"""``wrap_openai``: an OpenAI client (openai>=1.0, sync or async) whose calls are traced.

Contract
--------
``wrap_openai(client)`` returns a proxy that behaves as ``client`` does. Each call of
``chat.completions.create``/``parse``, ``responses.create``/``parse``, ``embeddings.create`` and
``moderations.create`` (streamed or not) is an ``llm`` span under the current span (else the
current experiment or logger; with none, nothing is recorded), with the rows the public SDK
writes: the messages or input as ``input``; the request's model parameters (a structured
output's model class as its JSON schema) and ``provider: "openai"`` as ``metadata``; the
choices, output items, embedding length or moderation results as ``output``; token counts
(``tokens``, ``prompt_tokens``, ``completion_tokens``, ``prompt_cached_tokens``...) and
``time_to_first_token`` as ``metrics``.
A call that raises records the error on its span (the public SDK 0.48.1 leaves it out) and
raises it unchanged. Everything else on the client passes through untraced.
"""

from __future__ import annotations

import inspect
import time
import traceback
import warnings
from typing import Any, AsyncIterator, Callable, Iterator

from braintrust.tracing.api import start_span
from braintrust.tracing.span import instrumented_by

INSTRUMENTATION = "openai-auto"
PROVIDER = "openai"

# Request parameters kept as span metadata (others, such as extra_headers or user, stay out).
CHAT_PARAMS = (
    "model", "temperature", "top_p", "top_logprobs", "logprobs", "n", "max_tokens", "max_completion_tokens",
    "stream", "stream_options", "stop", "presence_penalty", "frequency_penalty", "logit_bias", "tools",
    "tool_choice", "parallel_tool_calls", "functions", "function_call", "response_format", "seed", "modalities",
    "audio", "reasoning_effort", "service_tier", "store", "prediction", "web_search_options", "verbosity", "moderation",
)
RESPONSES_PARAMS = (
    "model", "instructions", "temperature", "top_p", "max_output_tokens", "stream", "stream_options", "tools",
    "tool_choice", "parallel_tool_calls", "reasoning", "reasoning_effort", "text", "text_format",
    "response_format", "include", "truncation", "background", "service_tier", "store", "previous_response_id",
    "conversation", "verbosity", "moderation", "access_programs",
)
# Fields of a Responses API result that join the metadata.
RESPONSES_RESULT_FIELDS = (
    "id", "model", "status", "created_at", "moderation", "service_tier", "access_programs", "object",
    "background", "incomplete_details",
)
EMBEDDING_PARAMS = ("model", "dimensions", "encoding_format")
MODERATION_PARAMS = ("model",)

# OpenAI's usage names -> Braintrust's metric names; "<x>_tokens_details" become "<prefix>_<field>".
USAGE_NAMES = {
    "total_tokens": "tokens", "prompt_tokens": "prompt_tokens", "completion_tokens": "completion_tokens",
    "tokens": "tokens", "input_tokens": "prompt_tokens", "output_tokens": "completion_tokens",
}
DETAILS_PREFIXES = {"input": "prompt", "output": "completion"}
TERMINAL_RESPONSE_EVENTS = ("response.completed", "response.incomplete", "response.failed")


class NamedWrapper:
    """A transparent proxy: what it does not define itself comes from the wrapped object.
    (autoevals checks for it to leave an already wrapped client alone.)"""

    def __init__(self, wrapped: Any):
        self.__wrapped = wrapped

    def __getattr__(self, name: str) -> Any:
        if name == "_NamedWrapper__wrapped":  # not set yet (a copy being made)
            raise AttributeError(name)
        return getattr(self.__wrapped, name)


def wrap_openai(client: Any) -> Any:
    """``client`` (``OpenAI()``, ``AsyncOpenAI()``, an Azure client or the ``openai`` module) with
    its model calls traced; a client wrapped already is returned as it is."""
    if isinstance(client, NamedWrapper):
        return client
    chat = getattr(client, "chat", None)
    if getattr(chat, "completions", None) is None:
        warnings.warn(
            f"wrap_openai: {type(client).__name__} is not an OpenAI client of openai>=1.0 (OpenAI() or AsyncOpenAI()); "
            "its calls are not traced. Fix: pass the client object, after `pip install 'openai>=1.0'`.",
            stacklevel=2,
        )
        return client
    return _Client(client)


# -- the proxies -------------------------------------------------------------------------------


class _Client(NamedWrapper):
    def __init__(self, client: Any):
        super().__init__(client)
        self._bt_client = client

    @property
    def chat(self) -> Any:
        return _Chat(self._bt_client.chat)

    @property
    def responses(self) -> Any:
        return _Resource(self._bt_client.responses, _RESPONSES, _RESPONSES.named("openai.responses.parse"))

    @property
    def embeddings(self) -> Any:
        return _Resource(self._bt_client.embeddings, _EMBEDDINGS)

    @property
    def moderations(self) -> Any:
        return _Resource(self._bt_client.moderations, _MODERATIONS)

    def with_options(self, *args: Any, **kwargs: Any) -> Any:
        return _Client(self._bt_client.with_options(*args, **kwargs))

    copy = with_options


class _Chat(NamedWrapper):
    def __init__(self, chat: Any):
        super().__init__(chat)
        self._bt_chat = chat

    @property
    def completions(self) -> Any:
        return _Resource(self._bt_chat.completions, _CHAT, _CHAT)


class _Resource(NamedWrapper):
    """An API resource whose ``create`` (and ``parse``, for structured outputs) is traced as
    ``kind`` says."""

    def __init__(self, resource: Any, kind: "_Kind", parse_kind: "_Kind | None" = None):
        super().__init__(resource)
        self._bt_resource = resource
        self._bt_kind = kind
        self._bt_parse_kind = parse_kind

    def create(self, *args: Any, **kwargs: Any) -> Any:
        return _traced_call(self._bt_kind, self._bt_resource.create, args, kwargs)

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        if self._bt_parse_kind is None:
            return self._bt_resource.parse(*args, **kwargs)
        return _traced_call(self._bt_parse_kind, self._bt_resource.parse, args, kwargs)


# -- what each endpoint records ----------------------------------------------------------------


class _Kind:
    """How one endpoint's call becomes a span: its name, input, metadata, output and metrics."""

    def __init__(self, name: str, params: tuple[str, ...], input_key: str, timed: bool,
                 finish: Callable[[Any], dict], aggregate: Callable[[list], dict] | None = None):
        self.name = name
        self.params = params
        self.input_key = input_key
        self.timed = timed  # logs time_to_first_token
        self.finish = finish  # the result -> the fields to log
        self.aggregate = aggregate  # a stream's chunks -> the fields to log

    def start_fields(self, kwargs: dict) -> dict:
        metadata = {key: _setting(kwargs[key]) for key in self.params if key in kwargs and _given(kwargs[key])}
        metadata["provider"] = PROVIDER
        return {"input": kwargs.get(self.input_key), "metadata": metadata}

    def named(self, name: str) -> "_Kind":
        """The same kind under another span name (``parse``, beside ``create``)."""
        return _Kind(name, self.params, self.input_key, self.timed, self.finish, self.aggregate)


def _setting(value: Any) -> Any:
    """A request parameter as metadata: a pydantic model class given as ``response_format`` /
    ``text_format`` (structured outputs) becomes the JSON schema it stands for."""
    schema = getattr(value, "model_json_schema", None)
    if isinstance(value, type) and callable(schema):
        return {"type": "json_schema", "json_schema": {"name": value.__name__, "schema": schema()}}
    return value


def _given(value: Any) -> bool:
    """False for None and openai's "not given" markers (``NOT_GIVEN``, ``omit``)."""
    return value is not None and type(value).__name__ not in ("NotGiven", "Omit")


def _as_dict(value: Any) -> Any:
    """A pydantic model (openai's results) as plain data; dicts and others as they are."""
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):
        return dump()
    return value


def usage_metrics(usage: Any) -> dict[str, Any]:
    """Token metrics from an OpenAI ``usage`` object (chat and Responses API names)."""
    usage = _as_dict(usage)
    metrics: dict[str, Any] = {}
    if not isinstance(usage, dict):
        return metrics
    for name, value in usage.items():
        if name.endswith("_tokens_details"):
            if isinstance(value, dict):
                prefix = name[: -len("_tokens_details")]
                prefix = DETAILS_PREFIXES.get(prefix, prefix)
                metrics.update({f"{prefix}_{k}": v for k, v in value.items() if _is_number(v)})
        elif _is_number(value):
            metrics[USAGE_NAMES.get(name, name)] = value
    return metrics


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _field(value: Any, name: str) -> Any:
    """``value.name`` or ``value[name]`` (results are pydantic models; a stub's may be dicts)."""
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


def _chat_result(result: Any) -> dict:
    # Choices as full dumps (fields left at None included), as the public SDK logs them.
    result = _as_dict(result)
    return {"output": result.get("choices"), "metrics": usage_metrics(result.get("usage"))}


def _chat_chunks(chunks: list) -> dict:
    """The streamed chunks of a chat completion as one choice (index 0), with the usage chunk's metrics."""
    role = content = refusal = finish_reason = None
    tool_calls: list[dict] | None = None
    logprobs: dict[str, Any] | None = None
    metrics: dict[str, Any] = {}
    for chunk in map(_as_dict, chunks):
        metrics.update(usage_metrics(chunk.get("usage")))
        choices = chunk.get("choices") or []
        if not choices:
            continue
        choice = choices[0]
        finish_reason = choice.get("finish_reason") or finish_reason
        if choice.get("logprobs") is not None:
            logprobs = logprobs or {"content": None, "refusal": None}
            for part in ("content", "refusal"):
                if choice["logprobs"].get(part) is not None:
                    logprobs[part] = (logprobs[part] or []) + list(choice["logprobs"][part])
        delta = choice.get("delta") or {}
        role = role or delta.get("role")
        if delta.get("content") is not None:
            content = (content or "") + delta["content"]
        if delta.get("refusal") is not None:
            refusal = (refusal or "") + delta["refusal"]
        for call in (delta.get("tool_calls") or [])[:1]:
            function = call.get("function") or {}
            if not tool_calls or (call.get("id") and tool_calls[-1]["id"] != call["id"]):
                tool_calls = (tool_calls or []) + [{"id": call.get("id"), "type": call.get("type"), "function": {
                    "name": function.get("name"), "arguments": function.get("arguments") or ""}}]
            elif isinstance(function.get("arguments"), str):
                tool_calls[-1]["function"]["arguments"] += function["arguments"]
    message: dict[str, Any] = {"role": role, "content": content, "tool_calls": tool_calls}
    if refusal is not None:
        message["refusal"] = refusal
    output = [{"index": 0, "message": message, "logprobs": logprobs, "finish_reason": finish_reason}]
    return {"output": output, "metrics": metrics}


def _responses_result(result: Any) -> dict:
    # The output items as models: logged as every model is, without the fields left at None.
    metadata = {key: _field(result, key) for key in RESPONSES_RESULT_FIELDS if _field(result, key) is not None}
    return {"output": _field(result, "output"), "metrics": usage_metrics(_field(result, "usage")), "metadata": metadata}


def _responses_events(events: list) -> dict:
    """A streamed response: what its last terminal event (``response.completed``...) carries."""
    for event in reversed(events):
        if getattr(event, "type", None) in TERMINAL_RESPONSE_EVENTS and getattr(event, "response", None) is not None:
            return _responses_result(event.response)
    return {}


def _embedding_result(result: Any) -> dict:
    data = _field(result, "data") or [{}]
    embedding = _field(data[0], "embedding") or []
    return {"output": {"embedding_length": len(embedding)}, "metrics": usage_metrics(_field(result, "usage"))}


def _moderation_result(result: Any) -> dict:
    return {"output": _field(result, "results")}


_CHAT = _Kind("Chat Completion", CHAT_PARAMS, "messages", True, _chat_result, _chat_chunks)
_RESPONSES = _Kind("openai.responses.create", RESPONSES_PARAMS, "input", True, _responses_result, _responses_events)
_EMBEDDINGS = _Kind("Embedding", EMBEDDING_PARAMS, "input", False, _embedding_result)
_MODERATIONS = _Kind("Moderation", MODERATION_PARAMS, "input", False, _moderation_result)


# -- the traced call ---------------------------------------------------------------------------


def _traced_call(kind: _Kind, create: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """Run ``create`` in an ``llm`` span; an async client's coroutine is awaited in that span.

    A ``span_info`` argument (autoevals passes one) is not sent: its ``name`` names the span, its
    ``span_attributes`` (``purpose: "scorer"``) and ``metadata`` join the span's, and any other
    field is logged as it is.
    """
    span_info = dict(kwargs.pop("span_info", None) or {})
    fields = kind.start_fields(kwargs)
    fields["metadata"] = {**(span_info.pop("metadata", None) or {}), **fields["metadata"]}
    name = span_info.pop("name", None) or kind.name
    attributes = {**(span_info.pop("span_attributes", None) or {}), "type": "llm"}
    with instrumented_by(INSTRUMENTATION):
        span = start_span(name=name, span_attributes=attributes, **{**span_info, **fields})
    call = _Call(kind, span)
    try:
        result = create(*args, **kwargs)
    except BaseException as exc:
        call.fail(exc)
        raise
    if inspect.isawaitable(result):
        return call.finish_async(result, bool(kwargs.get("stream")))
    if kwargs.get("stream"):
        return _TracedStream(result, call)
    call.done(result)
    return result


class _Call:
    """One traced call: its span, until the result (or the last chunk) is in."""

    def __init__(self, kind: _Kind, span: Any):
        self.kind = kind
        self.span = span
        self.start = time.time()
        self.first_token_seconds: float | None = None
        self.chunks: list = []  # of a streamed answer

    def first_chunk(self) -> None:
        if self.first_token_seconds is None:
            self.first_token_seconds = time.time() - self.start

    def received(self, chunk: Any) -> None:
        self.first_chunk()
        self.chunks.append(chunk)

    def done(self, result: Any) -> None:
        self.first_chunk()
        self._end(self._read(self.kind.finish, result))

    def done_streaming(self, error: BaseException | None = None) -> None:
        """The stream ended (``error``: it failed); what arrived is the output."""
        fields = self._read(self.kind.aggregate, self.chunks) if self.kind.aggregate else {}
        if error is not None:
            fields["error"] = _error_text(error)
        self._end(fields)

    @staticmethod
    def _read(read: Callable[[Any], dict], result: Any) -> dict:
        """The fields ``read`` takes from a result; a result of a shape it does not know is the
        span's error, never the caller's."""
        try:
            return read(result)
        except Exception as exc:
            return {"error": f"wrap_openai could not read this result ({type(result).__name__}): {_error_text(exc)}"}

    def fail(self, exc: BaseException) -> None:
        self.span.log(error=_error_text(exc))
        self.span.end()

    def _end(self, fields: dict) -> None:
        metrics = dict(fields.get("metrics") or {})
        if self.kind.timed and self.first_token_seconds is not None:
            metrics["time_to_first_token"] = self.first_token_seconds
        fields = {**fields, "metrics": metrics} if metrics else {k: v for k, v in fields.items() if k != "metrics"}
        try:
            self.span.log(**fields)
        finally:
            self.span.end()

    async def finish_async(self, pending: Any, stream: bool) -> Any:
        try:
            result = await pending
        except BaseException as exc:
            self.fail(exc)
            raise
        if stream:
            return _TracedAsyncStream(result, self)
        self.done(result)
        return result


def _error_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


class _StreamProxy(NamedWrapper):
    """A stream whose chunks pass through ``_follow``: collected, and the span ended with the
    last one, with ``close()``, or when the stream is dropped unfinished."""

    def __init__(self, stream: Any, call: _Call):
        super().__init__(stream)
        self._bt_stream = stream
        self._bt_chunks = self._follow(stream, call)

    @staticmethod
    def _follow(stream: Any, call: _Call) -> Any:
        raise NotImplementedError


class _TracedStream(_StreamProxy):
    """A sync stream (``Stream``)."""

    @staticmethod
    def _follow(stream: Any, call: _Call) -> Iterator[Any]:
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
        self._bt_stream.close()

    def __enter__(self) -> "_TracedStream":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


class _TracedAsyncStream(_StreamProxy):
    """An async stream (``AsyncStream``)."""

    @staticmethod
    async def _follow(stream: Any, call: _Call) -> AsyncIterator[Any]:
        try:
            async for chunk in stream:
                call.received(chunk)
                yield chunk
        except GeneratorExit:
            pass
        except BaseException as exc:
            call.done_streaming(exc)
            raise
        call.done_streaming()

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        return await self._bt_chunks.__anext__()

    async def close(self) -> None:
        await self._bt_chunks.aclose()
        await self._bt_stream.close()

    async def __aenter__(self) -> "_TracedAsyncStream":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()


__all__ = ["NamedWrapper", "usage_metrics", "wrap_openai"]
