"""``wrap_anthropic``: an Anthropic client (sync or async) whose Messages API calls are traced.

Contract
--------
``wrap_anthropic(client)`` returns a proxy that behaves as ``client`` does. Each
``messages.create`` (span ``anthropic.messages.create``; with ``stream=True``,
``anthropic.messages.stream``) and each ``messages.stream(...)`` helper (``anthropic.messages.stream``)
is an ``llm`` span under the current span, with the rows the public SDK writes: the messages, then
the system prompt as a ``system`` message, as ``input``; the model parameters and
``provider: "anthropic"`` as ``metadata``; the answer's role, content, model and stop reason as
``output``; token counts as ``metrics`` (``prompt_tokens`` counts cached and cache-creating
input tokens too, ``tokens`` is the total) with ``time_to_first_token``. A call that raises logs
its message as the span's error and raises it unchanged, as does an error in the helper's block.
The helper's span starts on entering its block (a helper never entered records nothing: nothing
is sent). A ``stream=True`` answer is an ``anthropic.Stream`` / ``AsyncStream`` still. A stream
dropped before it was read to the end or closed (a helper's, before its block was left) ends its
span when collected, or at the process's exit, with what arrived and the metadata
``stream_unfinished``. ``messages.parse`` is traced as ``create`` (span
``anthropic.messages.parse``, the parsed output beside the content), and ``messages.batches``'
``create`` and ``results`` as ``task`` spans (``anthropic_batches.py``). ``client.beta.messages`` is traced the
same way (the same span names, as the public SDK writes them), and its ``tool_runner`` and
``thread`` helpers as a ``task`` span over the run (``anthropic_tool_runner.py``). Everything else
passes through untraced.

``TracedMessageStream(stream, span, request_start_time)`` (the public SDK's) traces a message
stream read outside a wrapped client: on a span of the caller's, it logs what the helper's span logs.
"""

from __future__ import annotations

import inspect
import json
import warnings
from typing import Any, AsyncIterator, Callable, Iterator

from braintrust.wrappers import inline_files
from braintrust.wrappers.calls import (
    Call, ClientProxy, Kind, NamedWrapper, as_dict, end_when_dropped, field, follow_until_dropped, given, is_number, keep_iterators,
    start_call, traceback_text, traced_call, traced_once, wrap_client,
)

INSTRUMENTATION = "anthropic-auto"
PROVIDER = "anthropic"

# Request parameters kept as span metadata (``metadata``, ``system`` and ``extra_headers`` stay out).
PARAMS = (
    "model", "max_tokens", "temperature", "speed", "top_k", "top_p", "stop_sequences", "tool_choice", "tools", "stream",
    "thinking", "output_config", "output_format", "compaction", "context_management", "diagnostics", "thread",
)
# The fields of a ``thread`` parameter kept as metadata.
THREAD_FIELDS = ("type", "previous_message_id")
OUTPUT_FIELDS = ("role", "content", "model", "stop_reason", "stop_sequence", "stop_details")
# usage field -> metric
USAGE_METRICS = (
    ("input_tokens", "prompt_tokens"),
    ("output_tokens", "completion_tokens"),
    ("cache_read_input_tokens", "prompt_cached_tokens"),
    ("cache_creation_input_tokens", "prompt_cache_creation_tokens"),
)
# usage.cache_creation field -> metric (by time to live; together they replace the total above)
CACHE_CREATION_METRICS = (
    ("ephemeral_5m_input_tokens", "prompt_cache_creation_5m_tokens"),
    ("ephemeral_1h_input_tokens", "prompt_cache_creation_1h_tokens"),
)
# usage fields that are not counts, kept as metadata ("usage_<field>")
USAGE_METADATA = ("service_tier", "inference_geo", "speed", "fallback_credit")


def wrap_anthropic(client: Any) -> Any:
    """``client`` (``Anthropic()``, ``AsyncAnthropic()``) with its Messages API calls traced; a
    client wrapped already is returned as it is."""
    return _wrap(client, "wrap_anthropic")


def _wrap(client: Any, name: str) -> Any:
    # (its warning points at the line that called ``wrap_anthropic`` or ``wrap_anthropic_client``)
    is_client = getattr(getattr(client, "messages", None), "create", None) is not None
    return wrap_client(client, _Client, is_client, name, "an Anthropic client (Anthropic() or AsyncAnthropic())", stacklevel=4)


#: The client's resources whose calls are traced, and the proxy each one gets (``auto_instrument``;
#: a resource traced already keeps its proxy).
TRACED_RESOURCES: dict[str, Callable[[Any], Any]] = {
    "messages": traced_once(lambda messages: _Messages(messages)),
    "beta": traced_once(lambda beta: _Beta(beta)),
}


class _Client(ClientProxy):
    @property
    def messages(self) -> Any:
        return TRACED_RESOURCES["messages"](self._bt_client.messages)

    @property
    def beta(self) -> Any:
        return TRACED_RESOURCES["beta"](self._bt_client.beta)


class _Beta(NamedWrapper):
    """``client.beta``: its ``messages`` are traced as the Messages API's are (the same spans);
    the rest of the beta API passes through."""

    def __init__(self, beta: Any):
        super().__init__(beta)
        self._bt_beta = beta

    @property
    def messages(self) -> Any:
        return _Messages(self._bt_beta.messages)


class _Messages(NamedWrapper):
    def __init__(self, messages: Any):
        super().__init__(messages)
        self._bt_messages = messages

    def create(self, *args: Any, **kwargs: Any) -> Any:
        kind = _STREAMED if kwargs.get("stream") else _CREATE
        return traced_call(kind, self._bt_messages.create, args, kwargs)

    @property
    def parse(self) -> Callable[..., Any]:
        """Structured outputs (``output_format=``): traced as ``create`` is, the parsed output
        logged beside the content. (A client without it raises its AttributeError.)"""
        parse = self._bt_messages.parse

        def traced_parse(*args: Any, **kwargs: Any) -> Any:
            return traced_call(_PARSE, parse, args, kwargs)

        return traced_parse

    @property
    def batches(self) -> Any:
        from braintrust.wrappers.anthropic_batches import Batches

        return Batches(self._bt_messages.batches)

    @property
    def tool_runner(self) -> Callable[..., Any]:
        """``beta.messages.tool_runner``: a ``task`` span over the run (``anthropic_tool_runner.py``)."""
        from braintrust.wrappers.anthropic_tool_runner import traced_helper

        return traced_helper(self._bt_messages, "tool_runner")

    @property
    def thread(self) -> Callable[..., Any]:
        """``beta.messages.thread``: a thread sending through the wrapped client."""
        from braintrust.wrappers.anthropic_tool_runner import traced_helper

        return traced_helper(self._bt_messages, "thread")

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        """The ``messages.stream(...)`` helper: a context manager whose stream the span follows."""
        keep_iterators(kwargs, "messages", "tools")  # (the span, started later, must not exhaust what is sent)
        request = dict(kwargs)
        kwargs.pop("span_info", None)  # (for the span only)
        return _StreamManager(self._bt_messages.stream(*args, **kwargs), request)


# -- what a call records -----------------------------------------------------------------------


def _start_fields(kwargs: dict) -> dict:
    keep_iterators(kwargs, "messages", "tools")
    messages = inline_files.anthropic_input(list(kwargs.get("messages") or []))  # (base64 sources as attachments)
    if kwargs.get("system"):
        messages.append({"role": "system", "content": inline_files.anthropic_input(kwargs["system"])})
    metadata: dict[str, Any] = {"provider": PROVIDER}
    for key in PARAMS:
        value = kwargs.get(key)
        if not given(value) or (key == "tools" and not value):
            continue
        if key == "tools":
            value = [tool.to_dict() if callable(getattr(tool, "to_dict", None)) else tool for tool in value]
        elif key == "output_format" and isinstance(value, type):
            value = f"{value.__module__}.{value.__qualname__}"
        elif key == "thread" and isinstance(value, dict):  # only what names the thread, as 0.48.1 logs it
            value = {name: value[name] for name in THREAD_FIELDS if name in value}
        metadata[key] = value
    return {"input": messages, "metadata": metadata}


def usage_metrics(usage: Any) -> dict[str, float]:
    """Token metrics from an Anthropic ``usage``, as 0.48.1 names them: ``prompt_tokens`` is every
    input token (cached, cache-creating or not), ``tokens`` adds the output's; cache creation by
    time to live when given (``prompt_cache_creation_5m_tokens``...), thinking tokens as
    ``completion_reasoning_tokens``, and ``server_tool_use_<field>`` counts."""
    usage = as_dict(usage)
    if not isinstance(usage, dict):
        return {}
    metrics = {metric: float(usage[name]) for name, metric in USAGE_METRICS if is_number(usage.get(name))}
    by_ttl = as_dict(usage.get("cache_creation"))
    if isinstance(by_ttl, dict):
        metrics.update({metric: float(by_ttl[name]) for name, metric in CACHE_CREATION_METRICS if is_number(by_ttl.get(name))})
    created = [metrics[metric] for _, metric in CACHE_CREATION_METRICS if metric in metrics]
    if created:
        metrics.pop("prompt_cache_creation_tokens", None)
    details = as_dict(usage.get("output_tokens_details"))
    if isinstance(details, dict) and is_number(details.get("thinking_tokens")):
        metrics["completion_reasoning_tokens"] = float(details["thinking_tokens"])
    server_tools = as_dict(usage.get("server_tool_use"))
    if isinstance(server_tools, dict):
        metrics.update({f"server_tool_use_{name}": float(value) for name, value in server_tools.items() if is_number(value)})
    prompt_parts = ("prompt_tokens", "prompt_cached_tokens", "prompt_cache_creation_tokens", *(m for _, m in CACHE_CREATION_METRICS))
    if any(name in metrics for name in prompt_parts):
        creating = sum(created) if created else metrics.get("prompt_cache_creation_tokens", 0.0)
        metrics["prompt_tokens"] = metrics.get("prompt_tokens", 0.0) + metrics.get("prompt_cached_tokens", 0.0) + creating
        if "completion_tokens" in metrics:
            metrics["tokens"] = metrics["prompt_tokens"] + metrics["completion_tokens"]
    return metrics


def usage_metadata(usage: Any) -> dict[str, Any]:
    """The usage fields that are not counts (``service_tier``...), as ``usage_<field>`` metadata."""
    usage = as_dict(usage)
    if not isinstance(usage, dict):
        return {}
    return {f"usage_{name}": usage[name] for name in USAGE_METADATA if usage.get(name) is not None}


def _cache_miss_metadata(diagnostics: Any) -> dict[str, Any]:
    """Why the prompt cache missed (an answer to a request with ``diagnostics``), as 0.48.1 logs it."""
    reason = field(diagnostics, "cache_miss_reason") if diagnostics is not None else None
    if reason is None:
        return {}
    metadata = {"cache_miss_reason": field(reason, "type")} if field(reason, "type") is not None else {}
    if is_number(field(reason, "cache_missed_input_tokens")):
        metadata["cache_missed_input_tokens"] = field(reason, "cache_missed_input_tokens")
    return metadata


def _message_fields(message: Any) -> dict:
    """A complete message (a result, or a stream's final snapshot): its output and token metrics."""
    output = {name: field(message, name) for name in OUTPUT_FIELDS if field(message, name) is not None}
    fields = {"output": output or None, "metrics": usage_metrics(field(message, "usage"))}
    metadata = {**usage_metadata(field(message, "usage")), **_cache_miss_metadata(field(message, "diagnostics"))}
    if metadata:
        fields["metadata"] = metadata
    return fields


def _message_from_events(events: list) -> dict:
    """The message a ``stream=True`` answer's raw events build up."""
    message: dict[str, Any] = {}
    blocks: list[dict] = []
    partial_json: dict[int, str] = {}
    usage: dict[str, Any] = {}
    for event in map(as_dict, events):
        kind = event.get("type")
        if kind == "message_start":
            message = dict(event.get("message") or {})
            usage.update(message.get("usage") or {})
        elif kind == "content_block_start":
            blocks.append(dict(event.get("content_block") or {}))
        elif kind == "content_block_delta" and blocks:
            index = event.get("index")
            index = index if isinstance(index, int) and 0 <= index < len(blocks) else len(blocks) - 1
            delta, block = event.get("delta") or {}, blocks[index]
            if delta.get("type") == "text_delta":
                block["text"] = block.get("text", "") + delta.get("text", "")
            elif delta.get("type") == "thinking_delta":
                block["thinking"] = block.get("thinking", "") + delta.get("thinking", "")
            elif delta.get("type") == "signature_delta":  # (the whole signature, not a piece)
                block["signature"] = delta.get("signature")
            elif delta.get("type") == "citations_delta":
                citation = delta.get("citation")
                if isinstance(citation, dict):  # (as a model logs: without the fields left at None)
                    citation = {key: value for key, value in citation.items() if value is not None}
                block["citations"] = (block.get("citations") or []) + [citation]
            elif delta.get("type") == "input_json_delta":
                partial_json[index] = partial_json.get(index, "") + delta.get("partial_json", "")
        elif kind == "message_delta":
            message.update({k: v for k, v in (event.get("delta") or {}).items() if v is not None})
            usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
    for index, text in partial_json.items():
        try:
            blocks[index]["input"] = json.loads(text) if text else {}
        except ValueError:
            blocks[index]["input"] = text
    message["content"] = [{k: v for k, v in block.items() if v is not None} for block in blocks]
    message["usage"] = usage
    return _message_fields(message)


# -- server tools: each call (and its result) a tool span under the model call's, as 0.48.1 logs them

SERVER_TOOL_CALLS = ("server_tool_use", "mcp_tool_use")
REDACTED_RESULT_FIELDS = ("encrypted_content",)


def _is_server_tool_result(kind: Any) -> bool:
    return isinstance(kind, str) and kind.endswith("_tool_result") and kind != "tool_result"


def _redacted(value: Any) -> Any:
    if isinstance(value, list):
        return [_redacted(item) for item in value]
    if isinstance(value, dict):
        return {key: "<redacted>" if key in REDACTED_RESULT_FIELDS else _redacted(item) for key, item in value.items()}
    return value


def _server_tool_span(call: dict | None, result: dict | None) -> dict:
    call, result = call or {}, result or {}
    if isinstance(call.get("name"), str):
        name = call["name"]
    elif isinstance(result.get("type"), str) and result["type"].endswith("_tool_result"):
        name = result["type"][: -len("_tool_result")]
    else:
        name = "server_tool"
    tool_input = call["input"] if call.get("input") is not None else \
        ({key: value for key, value in call.items() if key not in ("id", "type", "name", "caller")} or None)
    metadata = {key: value for key, value in (
        ("tool_use_id", call.get("id") or result.get("tool_use_id")), ("tool_call_type", call.get("type")),
        ("tool_result_type", result.get("type")), ("caller", call.get("caller") or result.get("caller"))) if value is not None}
    span: dict[str, Any] = {"name": name, "type": "tool", "input": tool_input, "metadata": metadata or None}
    if "content" in result:
        output = _redacted(result["content"])
    else:
        output = _redacted({key: value for key, value in result.items() if key not in ("tool_use_id", "type", "caller")}) or None
    if output is not None:
        span["output"] = output
        content = result.get("content")
        if isinstance(content, dict) and isinstance(content.get("type"), str) and content["type"].endswith("_error"):
            span["error"] = content.get("error_message") or content.get("error_code") or content["type"]
    return span


def _server_tool_spans(output: Any) -> list[dict]:
    """A tool span per server tool call (web search, code execution, MCP...) in an answer's
    content, paired with its result by id: the call's input, the result (encrypted parts
    redacted) as output, an ``*_error`` result's code as the error."""
    content = output.get("content") if isinstance(output, dict) else None
    if not isinstance(content, list):
        return []
    calls: dict[str, dict] = {}
    waiting: dict[str, list[dict]] = {}  # results that came before their call
    matched: set[str] = set()
    pairs: list[tuple[dict | None, dict | None]] = []
    for item in map(as_dict, content):
        kind = item.get("type") if isinstance(item, dict) else None
        if kind in SERVER_TOOL_CALLS:
            call_id = item.get("id")
            if isinstance(call_id, str):
                calls[call_id] = item
                for result in waiting.pop(call_id, []):
                    pairs.append((item, result))
                    matched.add(call_id)
            else:
                pairs.append((item, None))
        elif _is_server_tool_result(kind):
            call_id = item.get("tool_use_id")
            if isinstance(call_id, str) and call_id in calls:
                pairs.append((calls[call_id], item))
                matched.add(call_id)
            elif isinstance(call_id, str):
                waiting.setdefault(call_id, []).append(item)
            else:
                pairs.append((None, item))
    pairs += [(call, None) for call_id, call in calls.items() if call_id not in matched]
    return [_server_tool_span(call, result) for call, result in pairs]


#: The fields of a content block delta that carry output.
OUTPUT_DELTAS = ("text", "thinking", "partial_json", "citation", "input")


def _is_first_token(event: Any) -> bool:
    """Whether a streamed event carries output: 0.48.1 times the first token there, not at
    ``message_start`` nor at an empty text or thinking block's start."""
    kind = field(event, "type")
    if kind == "content_block_delta":
        delta = field(event, "delta")
        return delta is not None and any(field(delta, name) for name in OUTPUT_DELTAS)
    block = field(event, "content_block") if kind == "content_block_start" else None
    if block is None:
        return False
    return field(block, "type") not in ("text", "thinking") or bool(field(block, "text") or field(block, "thinking"))


_CREATE = Kind("anthropic.messages.create", INSTRUMENTATION, _start_fields, _message_fields, error_text=str,
               children=_server_tool_spans)
_STREAMED = Kind("anthropic.messages.stream", INSTRUMENTATION, _start_fields, _message_fields, _message_from_events,
                 error_text=str, children=_server_tool_spans, first_token=_is_first_token)
_STREAM_HELPER = _STREAMED


def _parsed_message_fields(message: Any) -> dict:
    fields = _message_fields(message)
    parsed = field(message, "parsed_output")
    if parsed is not None:
        fields["output"] = {**(fields["output"] or {}), "parsed_output": as_dict(parsed)}
    return fields


_PARSE = Kind("anthropic.messages.parse", INSTRUMENTATION, _start_fields, _parsed_message_fields, error_text=str,
              children=_server_tool_spans)


# -- the messages.stream helper ----------------------------------------------------------------


class _StreamManager(NamedWrapper):
    """``messages.stream(...)``'s context manager. Its stream is the client's own (``text_stream``,
    ``get_final_message()``... work as they do). The span starts on entering the block, when the
    client sends the request (a manager never entered records nothing); it notes the first event
    and ends on leaving the block, with the message as far as it came and the error that left
    it, if any, or when its events fail (with that error, as in 0.48.1, even if the block catches
    it). A stream whose block is never left ends it when dropped (``_FollowedEvents``)."""

    def __init__(self, manager: Any, request: dict):
        super().__init__(manager)
        self._bt_manager = manager
        self._bt_request = request
        self._bt_call: Call | None = None
        self._bt_stream: Any = None

    def _bt_start(self) -> Call:
        self._bt_call = start_call(_STREAM_HELPER, dict(self._bt_request))
        return self._bt_call

    def _bt_left(self, error: BaseException | None) -> None:
        if self._bt_call is not None:  # (None: an __exit__ without __enter__)
            _finish_stream(self._bt_stream, self._bt_call, error, left_block=True)

    def __enter__(self) -> Any:
        call = self._bt_start()
        try:
            self._bt_stream = self._bt_manager.__enter__()
        except BaseException as exc:
            call.fail(exc)
            raise
        _follow_events(self._bt_stream, call)
        return self._bt_stream

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self._bt_manager.__exit__(*exc_info)
        finally:
            self._bt_left(exc_info[1])

    async def __aenter__(self) -> Any:
        call = self._bt_start()
        try:
            self._bt_stream = await self._bt_manager.__aenter__()
        except BaseException as exc:
            call.fail(exc)
            raise
        _follow_events(self._bt_stream, call)
        return self._bt_stream

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self._bt_manager.__aexit__(*exc_info)
        finally:
            self._bt_left(exc_info[1])


def _follow_events(stream: Any, call: Call) -> None:
    """Put ``_FollowedEvents`` in front of the stream's event iterator (every way of reading the
    stream goes through it); without one, the first token is taken to be the answer's start."""
    events = getattr(stream, "_iterator", None)
    if events is None:
        call.first_chunk()
        return
    call.streamed = True
    follower = _FollowedAsyncEvents(events, stream, call) if hasattr(events, "__anext__") else _FollowedEvents(events, stream, call)
    stream._iterator = follower
    follow_until_dropped(follower, call)


class _FollowedEvents:
    """A helper's stream's events: the first token timed. Dropped with its stream while the span
    is open (a block never left: ``__enter__`` called by hand), it ends the span with the message
    as far as it came and the metadata ``stream_unfinished``; so does the process's exit."""

    def __init__(self, events: Any, stream: Any, call: Call):
        self._events = events
        self._stream = stream
        self._call = call
        self._exhausted = False

    def __iter__(self) -> "_FollowedEvents":
        return self

    def __next__(self) -> Any:
        try:
            event = next(self._events)
        except StopIteration:
            self._exhausted = True
            raise
        except BaseException as exc:
            self._bt_failed(exc)
            raise
        _note_event(self._call, event)
        return event

    def _bt_failed(self, error: BaseException) -> None:
        """The events failed (an ``error`` event...): the call's error, as in 0.48.1, even if the
        block catches it."""
        if not self._call.ended:
            _finish_stream(self._stream, self._call, error)

    def _bt_dropped(self, note: str) -> None:
        if not self._call.ended:  # (a stream read to its end was not cut short: no note)
            _finish_stream(self._stream, self._call, None, None if self._exhausted else note)

    def __del__(self) -> None:
        end_when_dropped(self)


class _FollowedAsyncEvents(_FollowedEvents):
    """An async helper's stream's events."""

    def __aiter__(self) -> "_FollowedAsyncEvents":
        return self

    async def __anext__(self) -> Any:
        try:
            event = await self._events.__anext__()
        except StopAsyncIteration:
            self._exhausted = True
            raise
        except BaseException as exc:
            self._bt_failed(exc)
            raise
        _note_event(self._call, event)
        return event


def _note_first_event(stream: Any, call: Call) -> None:
    """Follow the stream's event iterator (every way of reading the stream goes through it) to
    time the first token; without one, the first token is taken to be the answer's start."""
    events = getattr(stream, "_iterator", None)
    if events is None:
        call.first_chunk()
        return
    call.streamed = True
    if hasattr(events, "__anext__"):
        stream._iterator = _first_event_async(events, call)
    else:
        stream._iterator = _first_event(events, call)


def _note_event(call: Call, event: Any) -> None:
    if _is_first_token(event):
        call.first_chunk()


def _first_event(events: Iterator[Any], call: Call) -> Iterator[Any]:
    for event in events:
        _note_event(call, event)
        yield event


async def _first_event_async(events: AsyncIterator[Any], call: Call) -> AsyncIterator[Any]:
    async for event in events:
        _note_event(call, event)
        yield event


def _finish_stream(stream: Any, call: Call, error: BaseException | None, unfinished: str | None = None,
                   left_block: bool = False) -> None:
    """End ``call`` with the stream's message as far as it came (``unfinished``: the stream was
    dropped, and the metadata says so). ``left_block``: ``error`` left the stream's ``with``
    block (the caller's code raised there): logged with its traceback, as 0.48.1's span logs an
    error leaving its block; the stream's own errors are logged as their message."""
    if left_block and error is not None and not call.ended:
        call.kind = call.kind.replaced(error_text=traceback_text)
    try:
        snapshot = stream.current_message_snapshot if stream is not None else None
    except Exception:  # no event arrived
        snapshot = None
    if snapshot is not None:
        call.done(snapshot, error, unfinished)
    elif error is not None:
        call.fail(error)
    else:
        call.done_streaming(unfinished=unfinished)


class TracedMessageStream(NamedWrapper):
    """An Anthropic ``MessageStream`` or ``AsyncMessageStream`` (what ``messages.stream(...)``'s block
    gives) whose reading is traced on ``span``: when its events run out (iterated, ``text_stream``,
    ``until_done()``, ``get_final_message()``, ``get_final_text()``), fail, or are dropped, or the
    stream is closed or its block left, ``span`` logs the message as far as it came (output, token
    metrics, ``time_to_first_token`` from ``request_start_time``) and ends, once. The rest of the
    stream passes through."""

    def __init__(self, msg_stream: Any, span: Any, request_start_time: float):
        super().__init__(msg_stream)
        self._bt_stream = msg_stream
        self._bt_call = Call(_STREAM_HELPER, span)
        self._bt_call.start = request_start_time
        _note_first_event(msg_stream, self._bt_call)
        _finish_with_events(msg_stream, self._bt_call)

    def _bt_finish(self, error: BaseException | None = None, left_block: bool = False) -> None:
        if not self._bt_call.ended:
            _finish_stream(self._bt_stream, self._bt_call, error, left_block=left_block)

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return next(self._bt_stream)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        return await self._bt_stream.__anext__()

    def close(self) -> Any:
        if inspect.iscoroutinefunction(self._bt_stream.close):
            return self._bt_close_async()
        try:
            return self._bt_stream.close()
        finally:
            self._bt_finish()

    async def _bt_close_async(self) -> None:
        try:
            await self._bt_stream.close()
        finally:
            self._bt_finish()

    def __enter__(self) -> "TracedMessageStream":
        self._bt_stream.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        try:
            return self._bt_stream.__exit__(*exc_info)
        finally:
            self._bt_finish(exc_info[1], left_block=True)

    async def __aenter__(self) -> "TracedMessageStream":
        await self._bt_stream.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        try:
            return await self._bt_stream.__aexit__(*exc_info)
        finally:
            self._bt_finish(exc_info[1], left_block=True)


def _finish_with_events(stream: Any, call: Call) -> None:
    """End ``call`` with the stream's message when its event iterator (which every way of reading
    goes through) runs out, fails or is dropped."""
    events = getattr(stream, "_iterator", None)
    if events is None:
        return
    if hasattr(events, "__anext__"):
        stream._iterator = _events_then_finish_async(events, stream, call)
    else:
        stream._iterator = _events_then_finish(events, stream, call)


def _events_then_finish(events: Iterator[Any], stream: Any, call: Call) -> Iterator[Any]:
    try:
        for event in events:
            yield event
    except GeneratorExit:  # closed, or dropped, before the end
        pass
    except BaseException as exc:
        _finish_stream(stream, call, exc)
        raise
    _finish_stream(stream, call, None)


async def _events_then_finish_async(events: AsyncIterator[Any], stream: Any, call: Call) -> AsyncIterator[Any]:
    try:
        async for event in events:
            yield event
    except GeneratorExit:
        pass
    except BaseException as exc:
        _finish_stream(stream, call, exc)
        raise
    _finish_stream(stream, call, None)


def wrap_anthropic_client(client: Any) -> Any:
    """0.48.1's deprecated name of ``wrap_anthropic``."""
    warnings.warn("wrap_anthropic_client() is deprecated. Use wrap_anthropic() instead.", DeprecationWarning, stacklevel=2)
    return _wrap(client, "wrap_anthropic_client")


__all__ = ["TracedMessageStream", "usage_metrics", "wrap_anthropic", "wrap_anthropic_client"]
