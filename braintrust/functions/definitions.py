"""Functions defined in code: ``braintrust.projects.create(name)`` gives a ``Project`` whose
``tools``, ``prompts``, ``scorers``, ``classifiers`` and ``parameters`` builders define
functions, and ``project.publish()`` sends the prompts (LLM scorers included) and parameters to
Braintrust, as the public SDK does (``POST /insert-functions``, the project registered first;
tests/data/captures/projects.jsonl, parameters.jsonl).

Defining needs no network and no key (an eval file may define at import). Code functions (tools,
classifiers, scorers from a handler) keep their handler callable here; sending their code is ``braintrust
push``'s work, which this package does not have: ``publish()`` says so, as the public SDK's does,
and sends the rest. A prompt's tools may be code tools (sent as ``{"type": "slug", ...}``), saved
function ids (``{"type": "global", "name": ...}``, sent as given) or raw tool definitions
(``{"type": "function", "function": {...}}``, sent as JSON text in ``prompt.tools``).
"""

from __future__ import annotations

import dataclasses
import json
import re
import sys
import unicodedata
from html.entities import name2codepoint
from typing import Any, Callable, Mapping, Sequence

from braintrust.forks import ChildSafeLock

IF_EXISTS = ("error", "ignore", "replace")

_NO_KEY = ("publish() sends functions to Braintrust, and no API key is set: set BRAINTRUST_API_KEY (or call "
           "braintrust.login(api_key=...)) first. Defining them needs no key.")


#: Latin letters that Unicode does not decompose, and common symbols, as the public SDK's slugs
#: spell them (it transliterates with text-unidecode: "ß" is "ss", "€" is "EUR", "©" is "(c)").
_ASCII_SPELLINGS = {
    "ß": "ss", "ẞ": "Ss", "Æ": "AE", "æ": "ae", "Ø": "O", "ø": "o", "Œ": "OE", "œ": "oe", "Ł": "L", "ł": "l",
    "Đ": "D", "đ": "d", "Ð": "D", "ð": "d", "Þ": "Th", "þ": "th", "ı": "i", "Ħ": "H", "ħ": "h", "Ŧ": "T",
    "ŧ": "t", "Ŋ": "NG", "ŋ": "ng", "ĸ": "k", "ƒ": "f",
    "¢": "C/", "£": "PS", "¥": "Y=", "§": "SS", "©": "(c)", "®": "(r)", "°": "deg", "¶": "P", "×": "x", "€": "EUR", "¦": "|",
    "‰": "%0", "℃": "degC", "℉": "degF",
}
#: Marks that slugs drop, joining what is on either side ("It’s" → "its").
_DROPPED_QUOTES = frozenset("‘’‛′″‴")
_ENTITY = re.compile(r"&(?:(%s)|#(\d+)|#x([0-9a-fA-F]+));" % "|".join(name2codepoint))


def slugify(name: str) -> str:
    """The slug the public SDK makes of a name: ``"Order Status!"`` → ``"order-status"``.

    Accents are folded to ASCII and the Latin letters Unicode does not decompose spelled out
    (``"ß"`` → ``"ss"``); HTML character references are read (``"&amp;"`` is ``&``); ``’`` and a
    comma between digits are dropped, an ASCII ``'`` separates words (``"it's"`` → ``"it-s"``); every other run of characters but letters and digits is one
    ``-``; lowercase. Raises ``ValueError`` for a letter it cannot spell in ASCII (``"Отчёт"``,
    ``"日本"``), whose slug the public SDK would transliterate: pass ``slug=``."""
    ascii_text, unspellable = [], []
    for char in unicodedata.normalize("NFKD", name.replace("'", "-")):
        if char.isascii():
            ascii_text.append(char)
        elif char in _ASCII_SPELLINGS:
            ascii_text.append(_ASCII_SPELLINGS[char])
        elif char in _DROPPED_QUOTES or unicodedata.category(char)[0] == "M" or unicodedata.category(char) == "So":
            continue  # (combining accents, emoji and the like leave nothing)
        elif unicodedata.category(char)[0] in "LN":
            digit = unicodedata.digit(char, None)
            if digit is None:
                unspellable.append(char)
            ascii_text.append(str(digit) if digit is not None else "")
        else:
            ascii_text.append("-")  # (punctuation, symbols and spaces separate words)
    if unspellable:
        raise ValueError(f"{''.join(dict.fromkeys(unspellable))!r} cannot be spelled in ASCII here")
    text = _ENTITY.sub(_referenced_char, "".join(ascii_text))
    text = unicodedata.normalize("NFKD", text).lower().replace("'", "")
    text = re.sub(r"(?<=\d),(?=\d)", "", text)
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def _referenced_char(match: re.Match) -> str:
    name, decimal, hexadecimal = match.groups()
    if name:
        return chr(name2codepoint[name])
    try:
        return chr(int(decimal) if decimal else int(hexadecimal, 16))
    except (ValueError, OverflowError):
        return match.group(0)


@dataclasses.dataclass
class CodeFunction:
    """A function whose code runs it (a tool, or a scorer from a handler)."""

    project: "Project"
    handler: Callable[..., Any]
    name: str
    slug: str
    type_: str
    description: str | None
    parameters: Any
    returns: Any
    if_exists: str | None
    metadata: Mapping[str, Any] | None = None
    tags: Sequence[str] | None = None


@dataclasses.dataclass
class CodePrompt:
    """A prompt (or an LLM scorer) defined in code."""

    project: "Project"
    name: str
    slug: str
    prompt: dict[str, Any]
    tool_functions: list[Any]
    description: str | None
    function_type: str | None
    id: str | None
    if_exists: str | None
    metadata: Mapping[str, Any] | None = None
    tags: Sequence[str] | None = None

    def to_function_definition(self, if_exists: str | None, project_ids: "ProjectIds") -> dict[str, Any]:
        """The definition ``/insert-functions`` receives."""
        prompt_data = dict(self.prompt)
        if self.tool_functions:
            prompt_data["tool_functions"] = [
                {"type": "slug", "project_id": project_ids.of(tool.project), "slug": tool.slug} if isinstance(tool, CodeFunction) else tool
                for tool in self.tool_functions
            ]
        definition: dict[str, Any] = {
            "project_id": project_ids.of(self.project),
            "name": self.name,
            "slug": self.slug,
            "function_data": {"type": "prompt"},
            "prompt_data": prompt_data,
            "if_exists": self.if_exists if self.if_exists is not None else if_exists,
        }
        for key, value in (("description", self.description), ("function_type", self.function_type), ("metadata", self.metadata)):
            if value is not None:
                definition[key] = value
        if self.tags is not None:
            definition["tags"] = list(self.tags)
        return definition


@dataclasses.dataclass
class CodeParameters:
    """Parameters defined in code (``project.parameters.create``), saved by ``publish()``."""

    project: "Project"
    name: str
    slug: str
    description: str | None
    schema: Mapping[str, Any]
    if_exists: str | None
    metadata: Mapping[str, Any] | None = None

    def to_function_definition(self, if_exists: str | None, project_ids: "ProjectIds") -> dict[str, Any]:
        """The definition ``/insert-functions`` receives: the declaration's JSON schema and its defaults."""
        from braintrust.parameters.schema import get_default_data_from_parameters_schema, parameters_to_json_schema

        schema = parameters_to_json_schema(self.schema)
        definition: dict[str, Any] = {
            "project_id": project_ids.of(self.project),
            "name": self.name,
            "slug": self.slug,
            "description": self.description or "",
            "function_type": "parameters",
            "function_data": {"type": "parameters", "data": get_default_data_from_parameters_schema(schema), "__schema": schema},
            "if_exists": self.if_exists if self.if_exists is not None else if_exists,
        }
        if self.metadata is not None:
            definition["metadata"] = self.metadata
        return definition


def _check_if_exists(if_exists: Any) -> None:
    if if_exists is not None and if_exists not in IF_EXISTS:
        raise ValueError(f"if_exists must be one of {', '.join(IF_EXISTS)} (or None for the server's default), got {if_exists!r}.")


def _prompt_data(what: str, prompt: str | None, messages: Sequence[Any] | None, model: str | None, params: Any,
                 raw_tools: list[Any] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    if (prompt is None) == (messages is None):
        raise ValueError(f"{what} needs exactly one of prompt= (a completion) and messages= (a chat), got {'both' if prompt is not None else 'neither'}.")
    if not model:
        raise ValueError(f"{what} needs model=, the model its prompt runs on (e.g. model=\"gpt-4o-mini\").")
    if isinstance(messages, (str, bytes, Mapping)):  # (list() would make one message of each character or key)
        raise ValueError(f"{what}: messages= must be a list of messages ([{{\"role\": \"user\", \"content\": ...}}]), "
                         f"got {type(messages).__name__}.")
    if messages is not None:
        body: dict[str, Any] = {"type": "chat", "messages": list(messages)}
        if raw_tools:
            body["tools"] = json.dumps(raw_tools)
    else:
        body = {"type": "completion", "content": prompt}
    options: dict[str, Any] = {"model": model}
    if params is not None:
        options["params"] = params
    return {"prompt": body, "options": options}


def _slug(what: str, name: str, slug: str | None) -> str:
    """``slug``, else one made from ``name``; a name that leaves no letter or digit to make one
    (``"日本語"``) needs ``slug=``, which Braintrust requires."""
    try:
        made = slug or slugify(name)
    except ValueError as exc:
        raise ValueError(f"{what}: {name!r} gives no slug the public SDK would give ({exc}); pass slug= "
                         "(e.g. slug=\"order-status\").") from None
    if not made:
        raise ValueError(f"{what}: {name!r} gives no slug (it has no ASCII letters or digits); pass slug= (e.g. slug=\"order-status\").")
    return made


def _default_name(handler: Callable[..., Any] | None, kind: str, counter: int) -> str:
    own = getattr(handler, "__name__", None) if handler is not None else None
    return own if own and own != "<lambda>" else f"{kind} {counter}"


class _CodeFunctionBuilder:
    """``create(handler=...)``: a function of this builder's kind whose code runs it."""

    kind = ""  # the function's type
    label = ""  # its default name's start ("Tool 1")

    def __init__(self, project: "Project"):
        self.project = project
        self._count = 0

    def create(self, *, handler: Callable[..., Any], name: str | None = None, slug: str | None = None,
               description: str | None = None, parameters: Any = None, returns: Any = None,
               if_exists: str | None = None, metadata: Mapping[str, Any] | None = None,
               tags: Sequence[str] | None = None) -> CodeFunction:
        if not callable(handler):
            raise ValueError(f"{self.kind}s.create needs handler=, the function the {self.kind} runs, got {handler!r}.")
        _check_if_exists(if_exists)
        self._count += 1
        name = name or _default_name(handler, self.label, self._count)
        slug = _slug(f"{self.kind} {name!r}", name, slug)
        function = CodeFunction(self.project, handler, name, slug, self.kind, description, parameters, returns, if_exists, metadata, tags)
        self.project.add_code_function(function)
        return function


class ToolBuilder(_CodeFunctionBuilder):
    """``project.tools.create(handler=...)``: a tool that prompts can call."""

    kind, label = "tool", "Tool"


class ClassifierBuilder(_CodeFunctionBuilder):
    """``project.classifiers.create(handler=...)``: a classifier (it labels a case rather than
    scoring it; as ``Eval(classifiers=...)`` runs them)."""

    kind, label = "classifier", "Classifier"


class PromptBuilder:
    """``project.prompts.create(model=..., messages=... | prompt=...)``: a prompt in the project."""

    def __init__(self, project: "Project"):
        self.project = project
        self._count = 0

    def create(self, *, name: str | None = None, slug: str | None = None, description: str | None = None,
               id: str | None = None, prompt: str | None = None, messages: Sequence[Any] | None = None,
               model: str | None = None, params: Mapping[str, Any] | None = None, tools: Sequence[Any] | None = None,
               if_exists: str | None = None, metadata: Mapping[str, Any] | None = None,
               tags: Sequence[str] | None = None) -> CodePrompt:
        _check_if_exists(if_exists)
        self._count += 1
        name = name or f"Prompt {self._count}"
        tool_functions, raw_tools = [], []
        for tool in tools or []:
            if isinstance(tool, CodeFunction) or (isinstance(tool, Mapping) and "type" in tool and "function" not in tool):
                tool_functions.append(tool)  # a code tool, or a saved function's id
            elif isinstance(tool, Mapping):
                raw_tools.append(dict(tool))  # a tool definition for the model
            else:
                raise ValueError(f"prompt {name!r}: a tool must be a tool from tools.create, a saved function id "
                                 f"({{'type': 'global', 'name': ...}}) or a tool definition, got {tool!r:.100}.")
        data = _prompt_data(f"prompt {name!r}", prompt, messages, model, params, raw_tools)
        code_prompt = CodePrompt(self.project, name, _slug(f"prompt {name!r}", name, slug), data, tool_functions, description, None, id,
                                 if_exists, metadata, tags)
        self.project.add_prompt(code_prompt)
        return code_prompt


class ScorerBuilder:
    """``project.scorers.create(handler=..., parameters=...)`` (a code scorer) or
    ``create(model=..., messages=... | prompt=..., use_cot=..., choice_scores=...)`` (an LLM
    classifier: the model picks a choice, whose score is the score)."""

    def __init__(self, project: "Project"):
        self.project = project
        self._count = 0

    def create(self, *, name: str | None = None, slug: str | None = None, description: str | None = None,
               if_exists: str | None = None, metadata: Mapping[str, Any] | None = None, tags: Sequence[str] | None = None,
               handler: Callable[..., Any] | None = None, parameters: Any = None, returns: Any = None,
               prompt: str | None = None, messages: Sequence[Any] | None = None, model: str | None = None,
               params: Mapping[str, Any] | None = None, use_cot: bool | None = None,
               choice_scores: Mapping[str, float] | None = None) -> CodeFunction | CodePrompt:
        _check_if_exists(if_exists)
        self._count += 1
        name = name or _default_name(handler, "Scorer", self._count)
        slug = _slug(f"scorer {name!r}", name, slug)
        if handler is not None:
            if parameters is None:
                raise ValueError(f"scorer {name!r}: a code scorer needs parameters=, its input schema as a pydantic model.")
            scorer = CodeFunction(self.project, handler, name, slug, "scorer", description, parameters, returns, if_exists,
                                  metadata, tags)
            self.project.add_code_function(scorer)
            return scorer
        if use_cot is None or not choice_scores:
            raise ValueError(f"scorer {name!r}: an LLM scorer needs use_cot= (True or False) and choice_scores= "
                             "(each choice's score, e.g. {\"Yes\": 1, \"No\": 0}); or pass handler= for a code scorer.")
        data = _prompt_data(f"scorer {name!r}", prompt, messages, model, params)
        data["parser"] = {"type": "llm_classifier", "use_cot": use_cot, "choice_scores": dict(choice_scores)}
        llm_scorer = CodePrompt(self.project, name, slug, data, [], description, "scorer", None, if_exists, metadata, tags)
        self.project.add_prompt(llm_scorer)
        return llm_scorer


class ParametersBuilder:
    """``project.parameters.create(name=, schema=)``: an evaluator's parameters, saved in
    Braintrust by ``publish()`` (then ``load_parameters`` reads them back)."""

    def __init__(self, project: "Project"):
        self.project = project

    def create(self, *, name: str, schema: Mapping[str, Any], slug: str | None = None, description: str | None = None,
               if_exists: str | None = None, metadata: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        """Define them; returns ``schema`` (to pass on to ``Eval(parameters=...)``)."""
        from braintrust.parameters.schema import parameters_to_json_schema

        _check_if_exists(if_exists)
        if not isinstance(name, str) or not name:
            raise ValueError(f"project.parameters.create needs name=, a non-empty string, got {name!r}.")
        if not isinstance(schema, Mapping):
            raise ValueError(f"project.parameters.create needs schema=, a mapping of parameter names to declarations, got {schema!r:.100}.")
        parameters_to_json_schema(schema)  # (a declaration it cannot save is refused here, not at publish)
        self.project.add_parameters(CodeParameters(self.project, name, _slug(f"parameters {name!r}", name, slug), description, schema,
                                                   if_exists, metadata))
        return schema


def register_project(name: str | None, project_id: str | None, project_group_name: str | None = None) -> tuple[str, str]:
    """Find or create the project (by id, else by name; "Global" with neither) in Braintrust, or
    offline in the local store: ``(id, name)``."""
    from braintrust.delivery.backend import PROJECT_LOGS, ObjectRef
    from braintrust.delivery.runtime import resolve_ref

    args: dict[str, Any] = {"project_name": name, "project_id": project_id}
    if project_group_name is not None:
        args["project_group_name"] = project_group_name
    ref = ObjectRef(PROJECT_LOGS, args)
    ids = resolve_ref(ref)
    return ids["project_id"], ref.info.get("project_name") or name or ids["project_id"]


class ProjectIds:
    """Project ids for one ``publish()``: each project registered (or found) once."""

    def __init__(self) -> None:
        self._ids: dict[tuple[str, str | None], str] = {}

    def of(self, project: "Project") -> str:
        key = (project.name, project.project_group_name)
        if key not in self._ids:
            self._ids[key] = register_project(project.name, None, project.project_group_name)[0]
        return self._ids[key]


_register_lock = ChildSafeLock()


class Project:
    """A Braintrust project. As the public SDK's ``braintrust.Project(name=, id=)``: a handle
    whose ``id`` and ``name`` are looked up (the project registered, offline in the local store)
    when first read, not before. As ``projects.create(name)`` gives it: its ``tools``, ``prompts``,
    ``scorers``, ``classifiers`` and ``parameters`` builders define functions, and ``publish()`` sends its prompts
    and parameters."""

    def __init__(self, name: str | None = None, id: str | None = None, project_group_name: str | None = None):
        for what, value in (("name", name), ("id", id)):
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"Project {what} must be a non-empty string, got {value!r}.")
        self._name = name
        self._id = id
        self.project_group_name = project_group_name
        self.tools = ToolBuilder(self)
        self.classifiers = ClassifierBuilder(self)
        self.prompts = PromptBuilder(self)
        self.scorers = ScorerBuilder(self)
        self.parameters = ParametersBuilder(self)
        self.code_functions: list[CodeFunction] = []
        self.code_prompts: list[CodePrompt] = []
        self.code_parameters: list[CodeParameters] = []

    def lazy_init(self) -> "Project":
        """Look up what is not known of the project's id and name (registers it: by id, else by
        name, else the "Global" project); returns the project."""
        if self._id is None or self._name is None:
            with _register_lock:
                if self._id is None or self._name is None:
                    self._id, self._name = register_project(self._name, self._id, self.project_group_name)
        return self

    @property
    def id(self) -> str:
        return self.lazy_init()._id  # type: ignore[return-value]

    @property
    def name(self) -> str:
        return self._name if self._name is not None else self.lazy_init()._name  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"Project(name={self._name!r}, id={self._id!r})"

    def add_code_function(self, function: CodeFunction) -> None:
        self.code_functions.append(function)

    def add_prompt(self, prompt: CodePrompt) -> None:
        self.code_prompts.append(prompt)

    def add_parameters(self, parameters: CodeParameters) -> None:
        self.code_parameters.append(parameters)

    def publish(self) -> Any:
        """Send the prompts, LLM scorers and parameters defined here (``POST /insert-functions``); returns
        Braintrust's answer. Code functions are left out, with a warning: sending code is
        ``braintrust push``'s work."""
        from braintrust import jsonsafe
        from braintrust.delivery.deadline import Deadline
        from braintrust.delivery.runtime import get_processor
        from braintrust.state import global_state

        state = global_state()
        if not state.api_key():
            raise ValueError(_NO_KEY)
        state.login(Deadline(60.0))
        if self.code_functions:
            print("Code functions cannot be published directly. Use `braintrust push` instead.", file=sys.stderr)
        project_ids = ProjectIds()
        definitions = [defined.to_function_definition(None, project_ids) for defined in [*self.code_prompts, *self.code_parameters]]
        body = jsonsafe.snapshot({"functions": definitions})[0]  # (a datetime in params, say, as the rows have it)
        backend = get_processor()._backend_instance()
        # Not retried: without if_exists="replace", a second attempt after a lost answer would fail.
        return backend._call("POST", "/insert-functions", Deadline(60.0), body=body, retry=False)


class ProjectBuilder:
    """``braintrust.projects``: ``projects.create(name)`` gives a handle to define functions in."""

    def create(self, name: str, project_group_name: str | None = None) -> Project:
        if not isinstance(name, str) or not name:
            raise ValueError(f"projects.create needs the project's name, got {name!r}.")
        return Project(name, project_group_name=project_group_name)


projects = ProjectBuilder()
