"""``wrap_openai``: an OpenAI client (openai>=1.0, sync or async) whose calls are traced.

Contract
--------
``wrap_openai(client)`` traces ``client`` in place (its resources become proxies) and returns it. Each call of
``chat.completions.create``/``parse``/``stream``, ``responses.create``/``parse``/``stream``,
``embeddings.create`` and ``moderations.create`` (streamed or not) is an ``llm`` span under the current span (else the
current experiment or logger; with none, nothing is recorded), with the rows the public SDK
writes: the messages or input as ``input``; the request's model parameters (a structured
output's model class as its JSON schema) and ``provider: "openai"`` as ``metadata``; the
choices, output items, embedding length or moderation results as ``output``; token counts
(``tokens``, ``prompt_tokens``, ``completion_tokens``, ``prompt_cached_tokens``...) and
``time_to_first_token`` as ``metrics``; an answer's ``moderation`` verdict joins the metadata, a
chat answer's audio is an attachment (``generated_audio.<ext>``, typed by the format asked for),
and a raw response's AI proxy cache header is the ``cached`` metric (``raw_responses``).
A call that raises records the error on its span (the public SDK 0.48.1 leaves it out) and
raises it unchanged; so does a ``stream(...)`` helper's block. A stream is an ``openai.Stream`` /
``AsyncStream`` still; one dropped before it was read to the end or closed (or a helper entered
by hand and never left) ends its span when collected, or at the process's exit, with what arrived
and the metadata ``stream_unfinished``; a helper never entered records nothing (nothing is sent).
``client.beta.chat.completions`` is traced as ``client.chat.completions``. The images and audio
endpoints (``images.generate`` / ``edit`` / ``create_variation``, ``audio.speech`` /
``transcriptions`` / ``translations``) are traced as ``openai_media`` says.
Everything else on the client passes through untraced.

The public SDK's helpers for tracing one endpoint without a wrapped client: ``CompletionWrapper``,
``ResponsesWrapper``, ``EmbeddingWrapper`` and ``ModerationWrapper`` take the client's own
``create`` functions (sync, async) and write the spans the wrapped client's call writes.
``prettify_params`` and ``serialize_response_format`` are request parameters as logged;
``AsyncResponseWrapper`` is a transparent proxy of an async response or stream.
"""

from __future__ import annotations

import inspect
import json
from typing import Any, Callable

from braintrust.wrappers.calls import (
    Call, Kind, NamedWrapper, TracedAsyncStream, TracedStream, as_dict, field, is_number,
    keep_iterators, omitted, start_call, stream_class, traced_call, traced_once, wrap_client,
)
from braintrust.wrappers import inline_files
from braintrust.wrappers.openai_media import CHAT_AUDIO_BYTES, Audio, Images, audio_bytes, chat_audio, chat_audio_media_type
from braintrust.wrappers.raw_responses import RawResponses

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


def wrap_openai(client: Any) -> Any:
    """``client`` (``OpenAI()``, ``AsyncOpenAI()``, an Azure client or the ``openai`` module) with
    its model calls traced, and returned: wrapped in place, as 0.48.1 does, so it is still the
    client it was (``isinstance`` checks hold) and calls through any reference to it are traced;
    its ``copy()`` / ``with_options()`` give traced clients too. A client traced already (by this
    or ``auto_instrument``) is returned as it is."""
    is_client = getattr(getattr(client, "chat", None), "completions", None) is not None
    return wrap_client(client, _trace_in_place, is_client, "wrap_openai", "an OpenAI client of openai>=1.0 (OpenAI() or AsyncOpenAI())")


def _trace_in_place(client: Any) -> Any:
    if isinstance(getattr(client, "chat", None), _Chat):
        return client  # (wrapped already)
    for name, traced in TRACED_RESOURCES.items():
        resource = getattr(client, name, None)
        if resource is not None:
            setattr(client, name, traced(resource))  # (an instance attribute: it shadows the client's own)
    copy = getattr(client, "copy", None)
    if callable(copy):
        def traced_copy(*args: Any, **kwargs: Any) -> Any:
            return wrap_openai(copy(*args, **kwargs))

        client.copy = client.with_options = traced_copy
    return client


# -- the proxies -------------------------------------------------------------------------------


#: The client's resources whose calls are traced, and the proxy each one gets (``auto_instrument``
#: puts them on the client classes themselves; a resource traced already keeps its proxy).
TRACED_RESOURCES: dict[str, Callable[[Any], Any]] = {
    "chat": traced_once(lambda chat: _Chat(chat)),
    "responses": traced_once(lambda responses: _Resource(responses, _RESPONSES, _RESPONSES.named("openai.responses.parse"))),
    "embeddings": traced_once(lambda embeddings: _Resource(embeddings, _EMBEDDINGS)),
    "moderations": traced_once(lambda moderations: _Resource(moderations, _MODERATIONS)),
    "beta": traced_once(lambda beta: _Beta(beta)),
    "images": traced_once(Images),
    "audio": traced_once(Audio),
}


class _Beta(NamedWrapper):
    """``client.beta``: its chat completions are traced as ``client.chat``'s are (the public SDK
    traces those, and nothing else of the beta API)."""

    def __init__(self, beta: Any):
        super().__init__(beta)
        self._bt_beta = beta

    @property
    def chat(self) -> Any:
        return _Chat(self._bt_beta.chat)


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

    def __init__(self, resource: Any, kind: "Kind", parse_kind: "Kind | None" = None):
        super().__init__(resource)
        self._bt_resource = resource
        self._bt_kind = kind
        self._bt_parse_kind = parse_kind

    def create(self, *args: Any, **kwargs: Any) -> Any:
        return traced_call(self._bt_kind, self._bt_resource.create, args, kwargs)

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        if self._bt_parse_kind is None:
            return self._bt_resource.parse(*args, **kwargs)
        return traced_call(self._bt_parse_kind, self._bt_resource.parse, args, kwargs)

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        """The ``stream(...)`` helper (chat completions, Responses API): traced as ``create(stream=True)``."""
        keep_iterators(kwargs, "messages", "input", "tools")  # (the span, started later, must not exhaust what is sent)
        return _StreamHelper(self._bt_resource, self._bt_kind, args, kwargs)

    @property
    def with_raw_response(self) -> Any:
        """``create`` answering the raw HTTP response (headers, then ``parse()``): traced as ``create``."""
        return RawResponses(self._bt_resource.with_raw_response, self._bt_kind, self._bt_parse_kind, streaming=False)

    @property
    def with_streaming_response(self) -> Any:
        """``create`` as a context manager whose response is read on ``parse()``: traced as ``create``."""
        return RawResponses(self._bt_resource.with_streaming_response, self._bt_kind, self._bt_parse_kind, streaming=True)


class _StreamHelper(NamedWrapper):
    """A ``stream(...)`` helper's context manager. Its stream stays the client's own (events,
    ``get_final_completion()``...); the span starts with the request, on entering the block (a
    helper never entered sends nothing and records nothing), and follows the raw chunks under the
    events, as for ``create(stream=True)``. Leaving the block ends it with what arrived, and with
    the error that left it, if any; a stream dropped unfinished ends it as ``create``'s does.

    As in 0.48.1, the span records the request the helper sends (its ``create`` call: a
    ``text_format`` as the ``text.format`` it becomes, a ``response_format`` model as the strict
    schema sent), and a helper that sends none (one resuming a stored response) records nothing;
    a client whose helper sends otherwise gets the helper's arguments recorded."""

    def __init__(self, resource: Any, kind: Kind, args: tuple, kwargs: dict):
        self._bt_kind = kind
        self._bt_span_info = kwargs.pop("span_info", None)  # (for the span only)
        self._bt_request = {**kwargs, "stream": True}
        self._bt_call: Call | None = None
        self._bt_chunks: Any = None
        self._bt_manager = self._bt_open(resource, args, kwargs)
        super().__init__(self._bt_manager)

    def _bt_open(self, resource: Any, args: tuple, kwargs: dict) -> Any:
        """The client's helper, its request sent through ``_bt_send`` (when its ``stream`` is a
        plain method, as in every openai>=1.0)."""
        method = inspect.getattr_static(type(resource), "stream", None)
        self._bt_through = inspect.isfunction(method)
        if not self._bt_through:
            return resource.stream(*args, **kwargs)
        return method(_SendingThrough(resource, self._bt_send), *args, **kwargs)

    def _bt_send(self, create: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        request = dict(kwargs) if self._bt_span_info is None else {**kwargs, "span_info": self._bt_span_info}
        self._bt_call = start_call(self._bt_kind, request, create)
        return create(*args, **kwargs)

    def _bt_started(self) -> Call | None:
        """The call's span. None when the helper made no ``create`` call (``responses.stream(response_id=...)``
        retrieves a stored response: not traced, as in 0.48.1); started now, with the helper's
        arguments, for a client whose helper sends its request otherwise."""
        if self._bt_call is None and not self._bt_through:
            request = dict(self._bt_request) if self._bt_span_info is None else {**self._bt_request, "span_info": self._bt_span_info}
            self._bt_call = start_call(self._bt_kind, request)
        return self._bt_call

    def _bt_follow(self, stream: Any, call: Call, proxy: type) -> None:
        raw = getattr(stream, "_raw_stream", None)
        if raw is None:  # a client whose helper works otherwise: the span has no output
            call.done_streaming()
            return
        # (read to its end, the stream leaves the span open: an error in the block is still to come)
        self._bt_chunks = stream._raw_stream = stream_class(proxy, type(raw))(raw, call, end_with_last_chunk=False)

    def _bt_left(self, error: BaseException | None) -> None:
        if error is not None and self._bt_call is not None:
            self._bt_call.done_streaming(error)

    def __enter__(self) -> Any:
        try:
            stream = self._bt_manager.__enter__()
        except BaseException as exc:
            call = self._bt_started()
            if call is not None:
                call.fail(exc)
            raise
        call = self._bt_started()
        if call is not None:
            self._bt_follow(stream, call, TracedStream)
        return stream

    def __exit__(self, *exc_info: Any) -> Any:
        self._bt_left(exc_info[1])
        try:
            return self._bt_manager.__exit__(*exc_info)
        finally:
            if self._bt_chunks is not None:
                self._bt_chunks.close()  # (ends the span with what arrived, if not ended yet)

    async def __aenter__(self) -> Any:
        try:
            stream = await self._bt_manager.__aenter__()
        except BaseException as exc:
            call = self._bt_started()
            if call is not None:
                call.fail(exc)
            raise
        call = self._bt_started()
        if call is not None:
            self._bt_follow(stream, call, TracedAsyncStream)
        return stream

    async def __aexit__(self, *exc_info: Any) -> Any:
        self._bt_left(exc_info[1])
        try:
            return await self._bt_manager.__aexit__(*exc_info)
        finally:
            if self._bt_chunks is not None:
                await self._bt_chunks.close()


class _SendingThrough(NamedWrapper):
    """``resource`` (passing for it: ``isinstance`` holds) whose ``create`` calls go through
    ``send(resource.create, args, kwargs)``."""

    def __init__(self, resource: Any, send: Callable[[Callable[..., Any], tuple, dict], Any]):
        super().__init__(resource)
        self._bt_resource = resource
        self._bt_send = send

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return self._bt_resource.__class__

    def create(self, *args: Any, **kwargs: Any) -> Any:
        return self._bt_send(self._bt_resource.create, args, kwargs)


# -- what each endpoint records ----------------------------------------------------------------


def _request_fields(params: tuple[str, ...], input_key: str) -> Callable[[dict], dict]:
    """A call's first fields: its ``input_key`` argument as input (inline files as attachments);
    ``params`` and the provider as metadata."""

    def start_fields(kwargs: dict) -> dict:
        keep_iterators(kwargs, input_key, "tools")
        # (a pydantic model class given as ``response_format`` / ``text_format``: its JSON schema;
        # a parameter given as None is logged as null, as 0.48.1 logs it)
        metadata = {key: serialize_response_format(kwargs[key]) for key in params if key in kwargs and not omitted(kwargs[key])}
        metadata["provider"] = PROVIDER
        return {"input": inline_files.openai_input(kwargs.get(input_key)), "metadata": metadata}

    return start_fields


def serialize_response_format(response_format: Any) -> Any:
    """A pydantic model class (a structured output's ``response_format``) as the JSON schema it
    stands for, ``{"type": "json_schema", "json_schema": {"name": ..., "schema": ...}}``; any other
    value as it is."""
    if not isinstance(response_format, type):
        return response_format
    try:
        from pydantic import BaseModel
    except ImportError:  # then it cannot be a pydantic model
        return response_format
    if issubclass(response_format, BaseModel) and callable(getattr(response_format, "model_json_schema", None)):
        return {"type": "json_schema", "json_schema": {"name": response_format.__name__,
                                                       "schema": response_format.model_json_schema()}}
    return response_format


def prettify_params(params: dict) -> dict:
    """Request parameters as logged: a shallow copy without the clients' "not given" markers
    (``NOT_GIVEN``, ``omit``; None is kept), its ``response_format`` through
    ``serialize_response_format``."""
    pretty = {key: value for key, value in params.items() if not omitted(value)}
    if "response_format" in pretty:
        pretty["response_format"] = serialize_response_format(pretty["response_format"])
    return pretty


def usage_metrics(usage: Any, names: dict[str, str] = USAGE_NAMES) -> dict[str, Any]:
    """Token metrics from an OpenAI ``usage`` object (chat and Responses API names; ``names``
    maps a usage field to its metric, the others keep their name)."""
    usage = as_dict(usage)
    metrics: dict[str, Any] = {}
    if not isinstance(usage, dict):
        return metrics
    for name, value in usage.items():
        if name.endswith("_tokens_details"):
            if isinstance(value, dict):
                prefix = name[: -len("_tokens_details")]
                prefix = DETAILS_PREFIXES.get(prefix, prefix)
                metrics.update({f"{prefix}_{k}": v for k, v in value.items() if is_number(v)})
        elif is_number(value):
            metrics[names.get(name, name)] = value
    return metrics


def _moderation_metadata(result: Any) -> dict:
    """A result's ``moderation`` verdict, as metadata (0.48.1 logs it so)."""
    moderation = field(result, "moderation")
    return {"moderation": moderation} if moderation is not None else {}


def _chat_result(result: Any) -> dict:
    # Choices as full dumps (fields left at None included), as the public SDK logs them; the
    # moderation verdict as a model (logged without its fields left at None).
    metadata = _moderation_metadata(result)
    result = as_dict(result)
    return {"output": result.get("choices"), "metrics": usage_metrics(result.get("usage")), "metadata": metadata}


def _chat_chunks(chunks: list) -> dict:
    """The streamed chunks of a chat completion as its choices, with the usage chunk's metrics.
    (0.48.1 runs the chunks of every choice into one message at index 0: with ``n=2`` its row
    holds the two answers interleaved. Here each choice is its own, by the chunks' ``index``.)"""
    choices: dict[int, _StreamedChoice] = {}
    metrics: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    for chunk in chunks:
        metadata.update(_moderation_metadata(chunk))
        chunk = as_dict(chunk)
        metrics.update(usage_metrics(chunk.get("usage")))
        for choice in chunk.get("choices") or []:
            index = choice.get("index") if isinstance(choice.get("index"), int) else 0
            choices.setdefault(index, _StreamedChoice()).add(choice)
    output = [choices[index].as_choice(index) for index in sorted(choices)] or [_StreamedChoice().as_choice(0)]
    return {"output": output, "metrics": metrics, "metadata": metadata}


class _StreamedChoice:
    """One choice of a streamed chat completion, put together from its deltas."""

    def __init__(self) -> None:
        self.role = self.content = self.refusal = self.finish_reason = None
        self.tool_calls: list[dict] | None = None
        self.logprobs: dict[str, Any] | None = None
        self.audio: dict[str, Any] | None = None

    def add(self, choice: dict) -> None:
        self.finish_reason = choice.get("finish_reason") or self.finish_reason
        if choice.get("logprobs") is not None:
            self.logprobs = self.logprobs or {"content": None, "refusal": None}
            for part in ("content", "refusal"):
                if choice["logprobs"].get(part) is not None:
                    self.logprobs[part] = (self.logprobs[part] or []) + list(choice["logprobs"][part])
        delta = choice.get("delta") or {}
        self.role = self.role or delta.get("role")
        if delta.get("content") is not None:
            self.content = (self.content or "") + delta["content"]
        if delta.get("refusal") is not None:
            self.refusal = (self.refusal or "") + delta["refusal"]
        if isinstance(delta.get("audio"), dict):
            self._add_audio(delta["audio"])
        for call in (delta.get("tool_calls") or [])[:1]:
            function = call.get("function") or {}
            if not self.tool_calls or (call.get("id") and self.tool_calls[-1]["id"] != call["id"]):
                self.tool_calls = (self.tool_calls or []) + [{"id": call.get("id"), "type": call.get("type"), "function": {
                    "name": function.get("name"), "arguments": function.get("arguments") or ""}}]
            elif isinstance(function.get("arguments"), str):
                self.tool_calls[-1]["function"]["arguments"] += function["arguments"]

    def _add_audio(self, audio: dict) -> None:
        """An audio answer's piece: its id and expiry, more of its transcript and of its data
        (base64 pieces are decoded and joined; data that is not base64 is joined as text)."""
        self.audio = self.audio if self.audio is not None else {}
        for key in ("id", "expires_at"):
            if audio.get(key) is not None:
                self.audio[key] = audio[key]
        if audio.get("transcript") is not None:
            self.audio["transcript"] = (self.audio.get("transcript") or "") + audio["transcript"]
        data = audio.get("data")
        if data is not None:
            decoded = audio_bytes(data)
            if decoded is not None:
                self.audio[CHAT_AUDIO_BYTES] = self.audio.get(CHAT_AUDIO_BYTES, b"") + decoded
            else:
                self.audio["data"] = (self.audio.get("data") or "") + str(data)

    def as_choice(self, index: int) -> dict:
        message: dict[str, Any] = {"role": self.role, "content": self.content, "tool_calls": self.tool_calls}
        if self.refusal is not None:
            message["refusal"] = self.refusal
        if self.audio is not None:
            message["audio"] = self.audio
        return {"index": index, "message": message, "logprobs": self.logprobs, "finish_reason": self.finish_reason}


def _chat_refine(fields: dict, request: dict) -> dict:
    if "output" in fields:
        fields["output"] = chat_audio(fields["output"], chat_audio_media_type(request))
    return fields


def _responses_result(result: Any) -> dict:
    # The output items as models: logged as every model is, without the fields left at None.
    metadata = {key: field(result, key) for key in RESPONSES_RESULT_FIELDS if field(result, key) is not None}
    return {"output": field(result, "output"), "metrics": usage_metrics(field(result, "usage")), "metadata": metadata}


def _responses_events(events: list) -> dict:
    """A streamed response: the output, usage and moderation verdict its last terminal event
    (``response.completed``...) carries (unlike a plain call's, the response's other fields do not
    join the metadata); a stream without one (it ended on an ``error`` event, or was cut off) gives the items its events
    started, as 0.48.1 rebuilds them."""
    for event in reversed(events):
        if getattr(event, "type", None) in TERMINAL_RESPONSE_EVENTS and getattr(event, "response", None) is not None:
            return {"output": field(event.response, "output"), "metrics": usage_metrics(field(event.response, "usage")),
                    "metadata": _moderation_metadata(event.response)}
    return {"output": _items_from_events(events)}


def _items_from_events(events: list) -> list[dict]:
    """Each output item its events started: id, type and role, its status once done, and the
    text and annotations its content parts' events carry."""
    output: list[dict[str, Any]] = []
    for event in events:
        kind, index = getattr(event, "type", None), getattr(event, "output_index", None)
        if kind == "response.output_item.added":
            item = getattr(event, "item", None)
            started = {"id": field(item, "id"), "type": field(item, "type")}
            if field(item, "role") is not None:
                started["role"] = field(item, "role")
            output.append(started)
        elif isinstance(index, int) and 0 <= index < len(output):
            item = output[index]
            if kind == "response.output_item.done":
                if field(getattr(event, "item", None), "status") is not None:
                    item["status"] = field(event.item, "status")
                continue
            part_index = getattr(event, "content_index", None)
            if not isinstance(part_index, int) or part_index < 0:
                continue
            parts = item.setdefault("content", [])
            parts.extend({} for _ in range(part_index + 1 - len(parts)))
            part = parts[part_index]
            part["type"] = "output_text"
            if isinstance(getattr(event, "delta", None), str) and event.delta:
                part["text"] = (part.get("text") or "") + event.delta
            if kind == "response.output_text.annotation.added" and isinstance(getattr(event, "annotation_index", None), int):
                annotations = part.setdefault("annotations", [])
                annotations.extend({} for _ in range(event.annotation_index + 1 - len(annotations)))
                annotations[event.annotation_index] = getattr(event, "annotation", None)
    return output


#: The Responses API's tool-call output items, each logged as a child ``tool`` span (as 0.48.1
#: does), and the item fields that are its input.
RESPONSE_TOOL_INPUTS = {
    "function_call": ("arguments",), "web_search_call": ("action",), "file_search_call": ("queries",),
    "code_interpreter_call": ("code", "container_id"), "computer_call": ("action",), "image_generation_call": (),
    "mcp_call": ("arguments",),
}


def _json_or_text(value: Any) -> Any:
    """A string holding a JSON object or array, parsed; anything else as it is."""
    if isinstance(value, str) and value.strip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


def _response_tool_spans(output: Any) -> list[dict]:
    """A tool span per tool call among a response's output items: named after the tool, its
    arguments (or action, queries, code...) as input, the call's ids and status as metadata, and
    what else the item holds as output (a function call's result comes later, from the caller)."""
    spans = []
    for item in output if isinstance(output, list) else []:
        item = as_dict(item)
        if not isinstance(item, dict) or item.get("type") not in RESPONSE_TOOL_INPUTS:
            continue
        kind, keys = item["type"], RESPONSE_TOOL_INPUTS[item["type"]]
        name = f"{item['server_label']}.{item['name']}" if item.get("server_label") and item.get("name") else str(item.get("name") or kind)
        given_input = {key: _json_or_text(item[key]) for key in keys if item.get(key) is not None}
        metadata = {key: value for key, value in (("tool_type", kind), ("tool_id", item.get("id")), ("call_id", item.get("call_id")),
                                                  ("status", item.get("status")), ("server_label", item.get("server_label")))
                    if value is not None}
        span: dict[str, Any] = {"name": name, "type": "tool", "metadata": metadata or None,
                                "input": (given_input.get("arguments") if keys == ("arguments",) else given_input) or None}
        if item.get("error") is not None:
            error = _json_or_text(item["error"])
            span["error"] = error if isinstance(error, (dict, list)) else str(error)
        elif kind != "function_call":
            left_out = {"id", "type", "name", "call_id", "server_label", "error", *keys}
            rest = {key: _json_or_text(value) if key == "output" else value for key, value in item.items()
                    if key not in left_out and value is not None}
            if rest:
                span["output"] = rest
        spans.append(span)
    return spans


def _embedding_result(result: Any) -> dict:
    data = field(result, "data") or [{}]
    embedding = field(data[0], "embedding") or []
    return {"output": {"embedding_length": len(embedding)}, "metrics": usage_metrics(field(result, "usage"))}


def _moderation_result(result: Any) -> dict:
    return {"output": field(result, "results")}


_CHAT = Kind("Chat Completion", INSTRUMENTATION, _request_fields(CHAT_PARAMS, "messages"), _chat_result, _chat_chunks,
             refine=_chat_refine)
_RESPONSES = Kind("openai.responses.create", INSTRUMENTATION, _request_fields(RESPONSES_PARAMS, "input"),
                  _responses_result, _responses_events, children=_response_tool_spans)
_EMBEDDINGS = Kind("Embedding", INSTRUMENTATION, _request_fields(EMBEDDING_PARAMS, "input"), _embedding_result, timed=False)
_MODERATIONS = Kind("Moderation", INSTRUMENTATION, _request_fields(MODERATION_PARAMS, "input"), _moderation_result, timed=False)


# -- the public SDK's per-endpoint helpers -----------------------------------------------------


class _TracedEndpoint:
    """One endpoint's ``create`` (through ``create_fn``) and ``acreate`` (through ``acreate_fn``),
    each traced as ``kind`` says, as the wrapped client's call is."""

    kind: Kind

    def __init__(self, create_fn: Callable[..., Any] | None, acreate_fn: Callable[..., Any] | None):
        self.create_fn = create_fn
        self.acreate_fn = acreate_fn

    def _function(self, method: str, fn: Callable[..., Any] | None) -> Callable[..., Any]:
        if fn is None:
            raise TypeError(f"{type(self).__name__}.{method}: no {method}_fn was given (it is None). Fix: pass the "
                            f"{'async' if method == 'acreate' else 'sync'} client's create function as {method}_fn.")
        return fn

    def create(self, *args: Any, **kwargs: Any) -> Any:
        """The call's result; with ``stream=True``, a stream the span follows to its end."""
        return traced_call(self.kind, self._function("create", self.create_fn), args, kwargs)

    async def acreate(self, *args: Any, **kwargs: Any) -> Any:
        """The async call's result; with ``stream=True``, an async stream the span follows."""
        result = traced_call(self.kind, self._function("acreate", self.acreate_fn), args, kwargs)
        return await result if inspect.isawaitable(result) else result


class CompletionWrapper(_TracedEndpoint):
    """Chat completions (span ``Chat Completion``)."""

    kind = _CHAT


class ResponsesWrapper(_TracedEndpoint):
    """The Responses API; ``name`` names the span."""

    def __init__(self, create_fn: Callable[..., Any] | None, acreate_fn: Callable[..., Any] | None,
                 name: str = "openai.responses.create"):
        super().__init__(create_fn, acreate_fn)
        self.name = name
        self.kind = _RESPONSES if name == _RESPONSES.name else _RESPONSES.named(name)


class EmbeddingWrapper(_TracedEndpoint):
    """Embeddings (span ``Embedding``)."""

    kind = _EMBEDDINGS


class ModerationWrapper(_TracedEndpoint):
    """Moderations (span ``Moderation``)."""

    kind = _MODERATIONS


class AsyncResponseWrapper:
    """A transparent proxy of an async response or stream: ``async with`` enters the wrapped
    object's context (when it has one) and gives the proxy, ``async for`` iterates the wrapped
    object; attributes, ``str``/``repr`` and ``isinstance`` are the wrapped object's."""

    def __init__(self, response: Any):
        self._response = response

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # so that isinstance(proxy, type(response)) holds
        return self._response.__class__

    def __getattr__(self, name: str) -> Any:
        if name == "_response":  # not set yet (a copy being made)
            raise AttributeError(name)
        return getattr(self._response, name)

    async def __aenter__(self) -> "AsyncResponseWrapper":
        if hasattr(self._response, "__aenter__"):
            await self._response.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        if hasattr(self._response, "__aexit__"):
            return await self._response.__aexit__(*exc_info)
        return None

    def __aiter__(self) -> Any:
        if not hasattr(self._response, "__aiter__"):
            raise TypeError(f"{type(self._response).__name__} is not an async iterable")
        return self._response.__aiter__()

    async def __anext__(self) -> Any:
        if not hasattr(self._response, "__anext__"):
            raise TypeError(f"{type(self._response).__name__} is not an async iterator")
        return await self._response.__anext__()

    def __str__(self) -> str:
        return str(self._response)

    def __repr__(self) -> str:
        return repr(self._response)


__all__ = [
    "AsyncResponseWrapper", "CompletionWrapper", "EmbeddingWrapper", "ModerationWrapper", "NamedWrapper", "ResponsesWrapper",
    "prettify_params", "serialize_response_format", "usage_metrics", "wrap_openai",
]
