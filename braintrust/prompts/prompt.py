"""``Prompt``: a prompt stored in Braintrust, and ``build()``, which turns it into the arguments of
a model call (braintrust-api.md §12).

``build(**variables)`` returns ``{**defaults, **options.params (without use_cache), "model"}``
plus ``messages`` (chat) or ``prompt`` (completion), ``tools`` when the prompt has some, and
``span_info`` (unless ``no_trace``), which the client wrappers move into the call's span as
``metadata.prompt``. Text is rendered as mustache with HTML escaping, as the public SDK does:
message contents, text/image/file parts, and a chat prompt's tools; a ``json_schema`` response
format's schema is rendered without escaping, each value as JSON (a list variable is a JSON list). Unlike the public SDK, fields of a message that it does not know
(``tool_call_id``, say) are kept, and a prompt made with ``from_prompt_data`` can be built.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import KeysView, Mapping
from typing import Any, Callable, Iterator

from braintrust.prompts.mustache import MissingVariable, TemplateError, render

__all__ = ["Prompt", "PromptBlock", "PromptData", "PromptMessage"]


class PromptMessage(dict):
    """One message of a chat prompt: a dict that also answers ``message.role``, ``.content`` ...
    (``None`` for a field it lacks), as the public SDK's message objects do."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.get(name)

    def as_dict(self) -> dict[str, Any]:
        """The message as plain data: 0.48.1's five fields always (``None`` when absent), then any others."""
        return {**dict.fromkeys(_MESSAGE_FIELDS), **copy.deepcopy(dict(self))}


_MESSAGE_FIELDS = ("content", "role", "name", "function_call", "tool_calls")


class PromptBlock:
    """``prompt.prompt``: ``type`` (``"chat"`` or ``"completion"``), ``messages`` or
    ``content``, and ``tools`` (the JSON text, or None)."""

    def __init__(self, data: Mapping[str, Any]):
        self.type = data.get("type")
        self.messages = [PromptMessage(m) for m in data.get("messages") or []] if self.type == "chat" else None
        self.content = data.get("content") if self.type == "completion" else None
        self.tools = data.get("tools")

    def __repr__(self) -> str:
        if self.type == "chat":
            return f"PromptBlock(type='chat', messages={self.messages!r}, tools={self.tools!r})"
        return f"PromptBlock(type={self.type!r}, content={self.content!r})"

    def as_dict(self) -> dict[str, Any]:
        """The block as plain data (as 0.48.1's block objects give it)."""
        if self.type == "chat":
            return {"messages": [m.as_dict() for m in self.messages or []], "tools": self.tools, "type": "chat"}
        return {"content": self.content, "type": self.type}


class PromptData:
    """``prompt.prompt_data``: its ``prompt`` (a :class:`PromptBlock`, or None) and ``options``
    (or None), as 0.48.1's prompt data object reads."""

    def __init__(self, data: Mapping[str, Any]):
        self.prompt = PromptBlock(data["prompt"]) if data.get("prompt") else None
        self.options = copy.deepcopy(dict(data["options"])) if data.get("options") is not None else None

    def __repr__(self) -> str:
        return f"PromptData(prompt={self.prompt!r}, options={self.options!r})"

    def as_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt.as_dict() if self.prompt else None, "options": copy.deepcopy(self.options)}


class Prompt:
    """A prompt, fetched on first use when it came from ``load_prompt``.

    ``lazy_metadata``: the prompt object (``id, project_id, _xact_id, name, slug, prompt_data``
    ...) or a function that returns it; it is called once, when an attribute is first read.
    As a mapping it holds the prompt's options, and its messages (under ``"chat"``) and
    ``"tools"``, or its text (under ``"prompt"``).
    """

    def __init__(self, lazy_metadata: Any, defaults: Mapping[str, Any] | None = None, no_trace: bool = False):
        self._load: Callable[[], Mapping[str, Any]] | None = lazy_metadata if callable(lazy_metadata) else None
        self._metadata: Mapping[str, Any] | None = None if callable(lazy_metadata) else _checked(lazy_metadata)
        self._load_lock = threading.Lock()
        self.defaults = dict(defaults or {})
        self.no_trace = no_trace

    def __getstate__(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if name != "_load_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:  # (copied or unpickled: a lock of its own)
        self.__dict__.update(state)
        self._load_lock = threading.Lock()

    @classmethod
    def from_prompt_data(cls, name: str, prompt_data: Mapping[str, Any]) -> "Prompt":
        """A prompt made here rather than fetched: no id, project or version."""
        return cls({"id": None, "project_id": None, "_xact_id": None, "name": name, "slug": name,
                    "description": None, "tags": None, "prompt_data": prompt_data})

    # -- what was fetched ------------------------------------------------------------------------

    @property
    def _data(self) -> Mapping[str, Any]:
        if self._metadata is None:
            # Threads sharing a prompt (an Eval's tasks) fetch it once; the others wait for it.
            with self._load_lock:
                if self._metadata is None:
                    assert self._load is not None
                    self._metadata = _checked(self._load())
                    self._load = None
        return self._metadata

    @property
    def id(self) -> str | None:
        return self._data.get("id")

    @property
    def name(self) -> str | None:
        return self._data.get("name")

    @property
    def slug(self) -> str | None:
        return self._data.get("slug")

    @property
    def version(self) -> str | None:
        """The prompt's transaction id (``_xact_id``): pass it as ``load_prompt(version=...)``."""
        return self._data.get("_xact_id")

    @property
    def _xact_id(self) -> str | None:  # (0.48.1 reads it through to the prompt object)
        return self.version

    @property
    def prompt_data(self) -> PromptData:
        return PromptData(self._prompt_data)

    @property
    def project_id(self) -> str | None:
        return self._data.get("project_id")

    @property
    def description(self) -> str | None:
        return self._data.get("description")

    @property
    def tags(self) -> list[str] | None:
        return self._data.get("tags")

    @property
    def prompt(self) -> PromptBlock:
        return PromptBlock(self._prompt_data.get("prompt") or {})

    @property
    def options(self) -> dict[str, Any]:
        return copy.deepcopy(dict(self._prompt_data.get("options") or {}))

    @property
    def _prompt_data(self) -> Mapping[str, Any]:
        return self._data.get("prompt_data") or {}

    def _as_dict(self) -> dict[str, Any]:
        block = self._prompt_data.get("prompt") or {}
        view = self.options
        kind = block.get("type")
        # The keys of 0.48.1's prompt: a chat prompt's "chat" and "tools" (None without), a
        # completion prompt's "prompt" (its text here; 0.48.1 raises reading it).
        if kind == "completion":
            view["prompt"] = block.get("content")
        else:
            view["chat"] = [PromptMessage(m) for m in copy.deepcopy(block.get("messages") or [])]
            view["tools"] = block.get("tools")
        return view

    def __getitem__(self, key: str) -> Any:
        return self._as_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._as_dict())

    def __len__(self) -> int:
        return len(self._as_dict())

    def keys(self) -> KeysView[str]:
        return self._as_dict().keys()

    def __repr__(self) -> str:
        if self._metadata is None:
            return "<Prompt (not fetched yet)>"
        return f"<Prompt {self.slug!r} version={self.version!r}>"

    # -- building ----------------------------------------------------------------------------

    def build(self, **build_args: Any) -> dict[str, Any]:
        """The model call's arguments, with the prompt rendered using ``build_args``.

        ``strict=True`` raises ``ValueError`` naming every variable the prompt uses that
        ``build_args`` lacks. Raises ``ValueError`` when neither the prompt nor the defaults
        name a model.
        """
        logged_variables = dict(build_args)  # (strict= among them when given, as 0.48.1 logs them)
        # (strict= stays among the variables too: 0.48.1 renders {{strict}} as a variable)
        strict = bool(build_args.get("strict", False))
        options = self.options
        params = {k: v for k, v in (options.get("params") or {}).items() if k != "use_cache"}
        result: dict[str, Any] = {**copy.deepcopy(self.defaults), **params}
        model = options.get("model") or result.get("model")
        if not model:
            raise ValueError("No model specified. Either specify it in the prompt or as a default")
        result["model"] = model
        if not self.no_trace:
            result["span_info"] = {"metadata": {"prompt": {
                "variables": logged_variables, "id": self.id, "project_id": self.project_id, "version": self.version,
            }}}
        try:
            self._render_into(result, build_args, strict)
        except MissingVariable as exc:
            raise MissingVariable(exc.names, f"prompt {self.slug!r}; pass them to build(), or build without strict=True") from None
        except TemplateError as exc:
            raise TemplateError(f"Prompt {self.slug!r} has a template that cannot be rendered: {exc}") from None
        return result

    def _render_into(self, result: dict[str, Any], variables: dict[str, Any], strict: bool) -> None:
        block = self._prompt_data.get("prompt") or {}
        kind = block.get("type")

        def text(template: Any, escape: bool = True) -> Any:
            return render(template, variables, strict=strict, escape=escape) if isinstance(template, str) else template

        def schema_text(template: Any) -> Any:  # (values as JSON, unescaped: 0.48.1's rendering of a schema)
            return render(template, variables, strict=strict, escape=False, json_values=True) if isinstance(template, str) else template

        if kind == "chat":
            result["messages"] = [_render_message(m, text) for m in block.get("messages") or []]
        elif kind == "completion":
            result["prompt"] = text(block.get("content"))
        else:
            raise ValueError(f"Prompt {self.slug!r} has a prompt of type {kind!r}; build() knows 'chat' and 'completion'.")
        tools = block.get("tools") if kind == "chat" else None  # (a completion call takes none: 0.48.1 leaves them out)
        if isinstance(tools, str) and tools.strip():
            rendered = text(tools)
            try:
                result["tools"] = json.loads(rendered)
            except ValueError as exc:
                raise ValueError(f"Prompt {self.slug!r}: its tools are not valid JSON once rendered ({exc}): {rendered[:200]}") from None
        elif isinstance(tools, list):
            result["tools"] = _render_strings(tools, text)
        response_format = result.get("response_format")
        # Only a json_schema response format's schema is rendered (one left behind under another
        # type is sent as it is, as 0.48.1 sends it).
        schema_holder = response_format.get("json_schema") \
            if isinstance(response_format, dict) and response_format.get("type") == "json_schema" else None
        if isinstance(schema_holder, dict) and schema_holder.get("schema") is not None:
            schema = schema_holder["schema"]
            if isinstance(schema, str):
                try:
                    schema_holder["schema"] = json.loads(schema_text(schema))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"Prompt {self.slug!r}: its response format's schema is not valid JSON once rendered ({exc})") from None
            else:
                schema_holder["schema"] = _render_strings(schema, schema_text)


def _render_message(message: Mapping[str, Any], text: Callable[..., Any]) -> dict[str, Any]:
    # 0.48.1's order (its message fields, then any others: printed or dumped, the same text);
    # content always, null for a message without text, as 0.48.1 sends it.
    ordered = [*_MESSAGE_FIELDS, *(k for k in message if k not in _MESSAGE_FIELDS)]
    rendered = {k: copy.deepcopy(message.get(k)) for k in ordered if message.get(k) is not None or k == "content"}
    content = rendered["content"]
    if isinstance(content, str):
        rendered["content"] = text(content)
    elif isinstance(content, list):
        rendered["content"] = [_render_part(part, text) for part in content]
    return rendered


def _render_part(part: Any, text: Callable[..., Any]) -> Any:
    if not isinstance(part, dict):
        return part
    kind = part.get("type")
    if kind == "text":
        part["text"] = text(part.get("text"))
    elif kind == "image_url" and isinstance(part.get("image_url"), dict):
        part["image_url"]["url"] = text(part["image_url"].get("url"))
    elif kind == "file" and isinstance(part.get("file"), dict):
        for field in ("file_data", "filename", "file_id"):
            if field in part["file"]:
                part["file"][field] = text(part["file"][field])
    return part


def _render_strings(value: Any, text: Callable[[str], Any]) -> Any:
    if isinstance(value, str):
        return text(value)
    if isinstance(value, list):
        return [_render_strings(item, text) for item in value]
    if isinstance(value, dict):
        return {key: _render_strings(item, text) for key, item in value.items()}
    return value


def _checked(metadata: Any) -> Mapping[str, Any]:
    """The prompt object, refused with the reason when it cannot be a prompt."""
    if not isinstance(metadata, Mapping):
        raise ValueError(f"A prompt must be a JSON object, got {type(metadata).__name__}")
    prompt_data = metadata.get("prompt_data")
    if prompt_data is not None and not isinstance(prompt_data, Mapping):
        raise ValueError(f"Prompt {metadata.get('slug')!r}: 'prompt_data' must be an object, got {type(prompt_data).__name__}")
    block = (prompt_data or {}).get("prompt")
    options = (prompt_data or {}).get("options")
    messages = block.get("messages") if isinstance(block, Mapping) else None
    for field, value, wanted in (
        ("prompt_data.prompt", block, Mapping), ("prompt_data.options", options, Mapping),
        ("prompt_data.options.params", options.get("params") if isinstance(options, Mapping) else None, Mapping),
        ("prompt_data.prompt.messages", messages, list),
    ):
        if value is not None and not isinstance(value, wanted):
            kind = "an object" if wanted is Mapping else "a list"
            raise ValueError(f"Prompt {metadata.get('slug')!r}: '{field}' must be {kind}, got {type(value).__name__}")
    for index, message in enumerate(messages or []):
        if not isinstance(message, Mapping):
            raise ValueError(f"Prompt {metadata.get('slug')!r}: message {index} must be an object with 'role' and "
                             f"'content', got {type(message).__name__}")
    return metadata
