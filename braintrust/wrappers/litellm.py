"""``wrap_litellm``: LiteLLM's model calls traced, as the public SDK 0.48.1 traces them.

Contract
--------
``wrap_litellm(litellm)`` replaces, on the module it is given (in place, as 0.48.1 does; it
returns that module), the functions below by traced ones; calling it again changes nothing.
``patch_litellm()`` does the same to the installed ``litellm`` module (``False`` when there is
none) and ``unpatch_litellm()`` puts the original functions back. ``LiteLLMWrapper(litellm)``
is a proxy with the same traced functions that leaves the module alone.

Traced: ``completion`` / ``acompletion`` and ``text_completion`` / ``atext_completion`` (span
``Completion``), ``responses`` / ``aresponses`` (``Response``), ``embedding`` / ``aembedding``
(``Embedding``) and ``moderation`` / ``amoderation`` (``Moderation``), streamed or not. Each call is an ``llm`` span under the current
span (else the current experiment or logger) with: the messages, prompt or input as ``input``;
the request's model parameters, ``model`` and ``provider`` (LiteLLM's name for it, from
``get_llm_provider``: ``openai``, ``anthropic``...) as ``metadata``; the choices (a streamed
answer as one choice), the response's output items, the embedding's length or the moderation
results as ``output``; token
counts (``tokens``, ``prompt_tokens``, ``completion_tokens``, ``prompt_cached_tokens``,
``prompt_cache_creation_tokens``...) and, for completions, ``time_to_first_token`` as
``metrics``. A call that raises records the error on its span (0.48.1 leaves it out) and raises
it unchanged. A streamed response's items carry their ``id``, ``type`` and ``status`` (0.48.1
reads them through LiteLLM's ``item.get(...)``, which answers None: it logs nulls). LiteLLM's
other functions (images, audio, rerank...) are not traced.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
from typing import Any, Callable

from braintrust.wrappers.calls import Kind, NamedWrapper, as_dict, field, is_number, keep_iterators, traced_call
from braintrust.wrappers import inline_files
from braintrust.wrappers.openai import USAGE_NAMES as OPENAI_USAGE_NAMES
from braintrust.wrappers.openai import serialize_response_format
from braintrust.wrappers.openai import usage_metrics as openai_usage_metrics

__all__ = ["LiteLLMWrapper", "patch_litellm", "unpatch_litellm", "wrap_litellm"]

INSTRUMENTATION = "litellm-auto"

#: The module's functions that are traced (each sync one and its async twin).
TRACED_FUNCTIONS = ("completion", "acompletion", "text_completion", "atext_completion", "responses", "aresponses",
                    "embedding", "aembedding", "moderation", "amoderation")

#: The request parameters kept as span metadata (credentials, ``api_base`` and the like stay out).
METADATA_PARAMS = frozenset({
    "allowed_openai_params", "audio", "background", "best_of", "caching", "custom_llm_provider", "deployment_id",
    "dimensions", "echo", "enable_json_schema_validation", "encoding_format", "frequency_penalty", "function_call",
    "functions", "include", "include_server_side_tool_invocations", "instructions", "language", "litellm_call_id",
    "logit_bias", "logprobs", "max_chunks_per_doc", "max_completion_tokens", "max_output_tokens", "max_retries",
    "max_tokens", "max_tokens_per_doc", "metadata", "modalities", "n", "organization", "parallel_tool_calls",
    "prediction", "presence_penalty", "previous_response_id", "project", "quality", "rank_fields", "reasoning",
    "reasoning_effort", "response_format", "return_documents", "safety_identifier", "seed", "service_tier", "size",
    "speed", "stop", "store", "stream", "stream_options", "style", "suffix", "temperature", "text", "text_format",
    "thinking", "timeout", "timestamp_granularities", "tool_choice", "tools", "top_logprobs", "top_n", "top_p",
    "truncation", "user", "verbosity", "voice", "web_search_options",
})

#: LiteLLM's routing names for the legacy completions endpoint -> the provider billed.
PROVIDER_ALIASES = {
    "text-completion-openai": "openai", "azure_text": "azure",
    "text-completion-codestral": "codestral", "text-completion-inception": "inception",
}

#: LiteLLM's usage names -> Braintrust's metric names (OpenAI's, and the provider caching aliases it keeps).
USAGE_NAMES = {
    **OPENAI_USAGE_NAMES,
    "cache_creation_input_tokens": "prompt_cache_creation_tokens", "cache_read_input_tokens": "prompt_cached_tokens",
}
#: Cache writes by time to live (Anthropic's breakdown) -> metric names.
CACHE_TTL_NAMES = {
    "ephemeral_5m_input_tokens": "prompt_cache_creation_5m_tokens",
    "ephemeral_1h_input_tokens": "prompt_cache_creation_1h_tokens",
}


# -- what a call logs ----------------------------------------------------------------------------


def _request_fields(input_key: str, provider_of: Callable[[str], str]) -> Callable[[dict], dict]:
    """A call's first fields: its ``input_key`` argument as input (inline images and files as
    attachments, as OpenAI's are); the model parameters, model and provider as metadata."""

    def start_fields(kwargs: dict) -> dict:
        keep_iterators(kwargs, input_key, "tools")
        metadata = {key: value for key, value in kwargs.items() if key in METADATA_PARAMS}
        if "response_format" in metadata:  # (a pydantic model class: its JSON schema)
            metadata["response_format"] = serialize_response_format(metadata["response_format"])
        model = kwargs.get("model")
        metadata["provider"] = provider_of(model) if isinstance(model, str) and model else "litellm"
        metadata["model"] = model
        return {"input": inline_files.openai_input(kwargs.get(input_key)), "metadata": metadata}

    return start_fields


def usage_metrics(usage: Any) -> dict[str, Any]:
    """Token metrics from a LiteLLM ``usage`` (OpenAI's names, and the cache names it passes on)."""
    usage = as_dict(usage)
    metrics = openai_usage_metrics(usage, USAGE_NAMES)
    if not isinstance(usage, dict):
        return metrics
    cache_writes = metrics.pop("prompt_cache_write_tokens", None)
    if is_number(cache_writes):
        metrics.setdefault("prompt_cache_creation_tokens", cache_writes)
    by_ttl = {}
    for details in _cache_creation_details(usage):
        by_ttl.update({CACHE_TTL_NAMES[key]: field(details, key) for key in CACHE_TTL_NAMES if is_number(field(details, key))})
    if by_ttl:  # (the breakdown replaces the total)
        metrics.pop("prompt_cache_creation_tokens", None)
        metrics.update(by_ttl)
    return metrics


def _cache_creation_details(usage: dict) -> list[Any]:
    found = [field(usage.get(name), "cache_creation_token_details") for name in ("prompt_tokens_details", "input_tokens_details")
             if usage.get(name) is not None]
    found.append(usage.get("cache_creation"))
    return [details for details in found if details is not None]


def _completion_result(result: Any) -> dict:
    # The choices as LiteLLM's models (logged as every model is, without the fields left at None).
    return {"output": field(result, "choices"), "metrics": usage_metrics(field(result, "usage"))}


def _completion_chunks(chunks: list) -> dict:
    """A streamed completion as one choice (index 0): its text (``text_completion``) or its
    message (role, content, tool calls), with the usage chunks' metrics."""
    role = content = text = finish_reason = None
    tool_calls: list[dict] = []
    metrics: dict[str, Any] = {}
    for chunk in chunks:
        usage = field(chunk, "usage")
        if usage:
            metrics.update(usage_metrics(usage))
        choices = field(chunk, "choices") or []
        if not choices:
            continue
        choice = choices[0]
        finish_reason = field(choice, "finish_reason") or finish_reason
        if field(choice, "text") is not None:
            text = (text or "") + field(choice, "text")
            continue
        delta = field(choice, "delta")
        if not delta:
            continue
        role = role or field(delta, "role")
        finish_reason = field(delta, "finish_reason") or finish_reason
        if field(delta, "content") is not None:
            content = (content or "") + field(delta, "content")
        for call in (field(delta, "tool_calls") or [])[:1]:
            function = field(call, "function")
            arguments = field(function, "arguments") or ""
            if not tool_calls or (field(call, "id") and tool_calls[-1]["id"] != field(call, "id")):
                tool_calls.append({"id": field(call, "id"), "type": field(call, "type"),
                                   "function": {"name": field(function, "name"), "arguments": arguments}})
            else:
                tool_calls[-1]["function"]["arguments"] += arguments
    if text is not None:
        output = [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}]
    else:
        message = {"role": role, "content": content, "tool_calls": tool_calls or None}
        output = [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}]
    return {"output": output, "metrics": metrics}


def _response_result(result: Any) -> dict:
    return {"output": field(result, "output"), "metrics": usage_metrics(field(result, "usage"))}


def _response_events(events: list) -> dict:
    """A streamed response: its output items rebuilt from the events (id, type, status, each
    content part's text and annotations), with the completed response's usage."""
    metrics: dict[str, Any] = {}
    output: list[dict[str, Any]] = []
    for event in events:
        kind = getattr(field(event, "type"), "value", field(event, "type"))
        usage = field(event, "usage") or (field(field(event, "response"), "usage") if kind == "response.completed" else None)
        if usage:
            metrics.update(usage_metrics(usage))
        if kind == "response.output_item.added":
            output.append({"id": field(field(event, "item"), "id"), "type": field(field(event, "item"), "type")})
            continue
        index = field(event, "output_index")
        if not isinstance(index, int) or not 0 <= index < len(output):
            continue
        item = output[index]
        if kind == "response.output_item.done":
            item["status"] = field(field(event, "item"), "status")
            continue
        part_index = field(event, "content_index")
        if not isinstance(part_index, int):
            continue
        parts = item.setdefault("content", [])
        if part_index == len(parts):
            parts.append({})
        if not 0 <= part_index < len(parts):
            continue
        part = parts[part_index]
        if field(event, "delta"):
            part["text"] = (part.get("text") or "") + field(event, "delta")
        if kind == "response.output_text.annotation.added":
            annotations = part.setdefault("annotations", [])
            at = field(event, "annotation_index")
            if at == len(annotations):
                annotations.append(field(event, "annotation"))
            elif isinstance(at, int) and 0 <= at < len(annotations):
                annotations[at] = field(event, "annotation")
    return {"output": output, "metrics": metrics}


def _embedding_result(result: Any) -> dict:
    data = field(result, "data") or [{}]
    return {"output": {"embedding_length": len(field(data[0], "embedding") or [])}, "metrics": usage_metrics(field(result, "usage"))}


def _moderation_result(result: Any) -> dict:
    return {"output": field(result, "results"), "metrics": usage_metrics(field(result, "usage"))}


def _kinds(provider_of: Callable[[str], str]) -> dict[str, Kind]:
    """The traced functions of a LiteLLM module and how each one's call becomes a span."""
    completion = Kind("Completion", INSTRUMENTATION, _request_fields("messages", provider_of), _completion_result, _completion_chunks)
    text = Kind("Completion", INSTRUMENTATION, _request_fields("prompt", provider_of), _completion_result, _completion_chunks)
    response = Kind("Response", INSTRUMENTATION, _request_fields("input", provider_of), _response_result, _response_events)
    embedding = Kind("Embedding", INSTRUMENTATION, _request_fields("input", provider_of), _embedding_result, timed=False)
    moderation = Kind("Moderation", INSTRUMENTATION, _request_fields("input", provider_of), _moderation_result, timed=False)
    by_base = {"completion": completion, "text_completion": text, "responses": response, "embedding": embedding,
               "moderation": moderation}
    return {name: by_base[name if name in by_base else name[1:]] for name in TRACED_FUNCTIONS}  # ("acompletion": "completion"'s)


def _provider_lookup(module: Any) -> Callable[[str], str]:
    """``model`` -> LiteLLM's provider name for it (``"litellm"`` when it cannot tell)."""
    @functools.lru_cache(maxsize=256)
    def provider_of(model: str) -> str:
        try:
            provider = module.get_llm_provider(model)[1]
        except Exception:
            return "litellm"
        return PROVIDER_ALIASES.get(provider, provider) if isinstance(provider, str) and provider else "litellm"

    return provider_of


# -- wrapping --------------------------------------------------------------------------------------

#: Set on a traced function: the function it replaced.
ORIGINAL = "__braintrust_litellm_original__"


def _positional_names(function: Callable[..., Any]) -> tuple[str, ...]:
    """The names of the parameters ``function`` takes by position or keyword, in order
    (``completion(model, messages, ...)``)."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # (no signature to read)
        return ()
    names = []
    for parameter in parameters:
        if parameter.kind is not parameter.POSITIONAL_OR_KEYWORD:
            break
        names.append(parameter.name)
    return tuple(names)


def _traced(original: Callable[..., Any], kind: Kind) -> Callable[..., Any]:
    names = _positional_names(original)

    @functools.wraps(original)
    def traced(*args: Any, **kwargs: Any) -> Any:
        if args and len(args) <= len(names) and not kwargs.keys() & names[:len(args)]:
            # Passed by name instead, so the span sees them (``completion("gpt-4o", messages)``).
            kwargs = {**dict(zip(names, args)), **kwargs}
            args = ()
        return traced_call(kind, original, args, kwargs)

    setattr(traced, ORIGINAL, original)
    return traced


def wrap_litellm(litellm: Any) -> Any:
    """``litellm`` (the module, or an object offering its functions) with its model calls traced,
    in place; a module traced already is left as it is."""
    for name, kind in _kinds(_provider_lookup(litellm)).items():
        function = getattr(litellm, name, None)
        if callable(function) and not hasattr(function, ORIGINAL):
            setattr(litellm, name, _traced(function, kind))
    return litellm


def patch_litellm() -> bool:
    """Trace the installed ``litellm`` module's calls (code that imported ``completion`` from it
    before keeps the original); ``False`` when LiteLLM is not installed."""
    try:
        litellm = importlib.import_module("litellm")
    except ImportError:
        return False
    wrap_litellm(litellm)
    return True


def unpatch_litellm() -> None:
    """Undo ``patch_litellm()`` (and ``wrap_litellm`` on the ``litellm`` module)."""
    litellm = sys.modules.get("litellm")
    if litellm is None:
        return
    for name in TRACED_FUNCTIONS:
        original = getattr(getattr(litellm, name, None), ORIGINAL, None)
        if original is not None:
            setattr(litellm, name, original)


class LiteLLMWrapper(NamedWrapper):
    """A LiteLLM module whose model calls are traced, leaving the module itself alone (what
    ``wrap_litellm`` returned in earlier public SDKs)."""

    def __init__(self, litellm: Any):
        super().__init__(litellm)
        for name, kind in _kinds(_provider_lookup(litellm)).items():
            function = getattr(litellm, name, None)
            if callable(function):
                setattr(self, name, function if hasattr(function, ORIGINAL) else _traced(function, kind))
