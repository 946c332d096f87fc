"""What the Braintrust playground and the dev server say to each other (``braintrust eval --dev``).

* ``GET /list`` answers ``{evaluator name: {"parameters", "scores": [{"name"}], "classifiers":
  [{"name"}]}}``; ``parameters`` is a container: ``{"type": "braintrust.staticParameters",
  "schema": {name: {"type": "prompt" | "model" | "data", ...}}, "source": None}`` for parameters
  declared in code, ``{"type": "braintrust.parameters", "schema": <JSON schema>, "source": {...}}``
  for saved ones, or None.
* ``POST /eval`` takes ``{"name", "parameters"?, "data"?, "scores"?, "experiment_name"?,
  "project_id"?, "parent"?, "stream"?}`` (``parse_eval_request``) and answers the experiment's
  summary with camelCase keys, or, with ``stream``, server-sent events: ``start`` (the summary
  when it starts), ``progress`` (each task's output), then ``summary`` or ``error`` (its data a
  JSON string, the message, as in a function's stream), then ``done``. A field of a type that
  cannot work is answered 400 before anything runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["BadRequest", "EvalRequest", "evaluator_listing", "format_summary", "parent_slug", "parse_eval_request", "sse_event"]

#: The fields of a ``function_id`` a remote scorer may name (sent as given to ``/function/invoke``).
FUNCTION_ID_FIELDS = ("function_id", "version", "name", "prompt_session_id", "prompt_session_function_id", "inline_code",
                      "global_function", "project_name", "slug")
#: Fields of a ``function_id`` in 0.48.1's types that say what kind of function it is, not which:
#: taken, and not sent on (0.48.1 sends the function as named, without them).
IGNORED_FUNCTION_ID_FIELDS = ("function_type",)
#: One of these names the function (0.48.1's forms, and a project's slug).
NAMING_FIELDS = ("function_id", "name", "prompt_session_id", "inline_code", "global_function", "slug")

#: The fields of an object ``data`` this dev server reads, and the JSON types each may have.
DATA_FIELDS = {"project_name": ("string",), "dataset_name": ("string",), "dataset_id": ("string",),
               "dataset_version": ("string", "number", "null"), "dataset_environment": ("string", "null"), "data": ("array",),
               "_internal_btql": ("object", "null")}


class BadRequest(ValueError):
    """The request cannot be run as sent (answered 400 with this message)."""


@dataclass
class EvalRequest:
    name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    data: Any = None
    scores: list[dict[str, Any]] = field(default_factory=list)  # [{"name", "function_id": {...}}]
    experiment_name: str | None = None
    project_id: str | None = None
    parent: str | None = None  # an export slug
    stream: bool = False
    scorer_project_id: str | None = None  # the caller's x-bt-project-id, sent with the scorers' calls


def parse_eval_request(body: bytes) -> EvalRequest:
    """The ``POST /eval`` body, checked; ``BadRequest`` names the field that is wrong."""
    data = _json_object(body)
    if data.get("name") is None:
        raise BadRequest("name is required")
    request = EvalRequest(name=_expect(data["name"], "name", "string"), data=_eval_data(data.get("data")),
                          stream=bool(_expect(data.get("stream"), "stream", "boolean", "null")))
    for key, kind in (("parameters", "object"), ("experiment_name", "string"), ("project_id", "string")):
        if _expect(data.get(key), key, kind, "null") is not None:
            setattr(request, key, data[key])
    for index, score in enumerate(_expect(data.get("scores"), "scores", "array", "null") or []):
        request.scores.append(_remote_scorer(score, index))
    if data.get("parent") is not None:
        request.parent = parent_slug(data["parent"])
    return request


def _json_object(body: bytes) -> dict[str, Any]:
    """The body parsed, when it is a JSON object."""
    try:
        data = json.loads(body or b"null")
    except ValueError as exc:
        raise BadRequest(f"Invalid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("Invalid JSON: nested too deeply for this dev server to read") from None
    return _expect(data, "the request body", "object")


def _json_type(value: Any) -> str:
    """The JSON type of a parsed value."""
    for kind, name in ((bool, "boolean"), (dict, "object"), (list, "array"), (str, "string"), ((int, float), "number")):
        if isinstance(value, kind):
            return name
    return "null"


def _expect(value: Any, field: str, *kinds: str) -> Any:
    """``value`` when its JSON type is one of ``kinds``, else ``BadRequest`` saying what the field
    must be and what it is."""
    given = _json_type(value)
    if given not in kinds:
        shown = "" if given == "null" else " " + _abridged(json.dumps(value))
        raise BadRequest(f"{field} must be {_one_of(kinds)}, got {given}{shown}")
    return value


def _one_of(kinds: tuple[str, ...]) -> str:
    """``("object", "null")`` as ``an object or null``."""
    named = [kind if kind == "null" else f"an {kind}" if kind[0] in "aeiou" else f"a {kind}" for kind in kinds]
    return named[0] if len(named) == 1 else f"{', '.join(named[:-1])} or {named[-1]}"


def _abridged(text: str, limit: int = 60) -> str:
    """``text``, cut to ``limit`` characters."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _eval_data(data: Any) -> Any:
    """``data`` when it can work: null (the evaluator's own), rows, or an object naming a dataset
    (``project_name`` and ``dataset_name``, or ``dataset_id``) or holding the rows (``data``)."""
    _expect(data, "data", "object", "array", "null")
    if isinstance(data, dict):
        for key, kinds in DATA_FIELDS.items():
            if key in data:
                _expect(data[key], f"data.{key}", *kinds)
    rows = data.get("data") if isinstance(data, dict) else data
    for index, row in enumerate(rows or []):
        where = f"data.data[{index}]" if isinstance(data, dict) else f"data[{index}]"
        if "input" not in _expect(row, where, "object"):
            raise BadRequest(f"{where} has no input: each row needs one, e.g. {{\"input\": ..., \"expected\": ...}}")
    return data


def _remote_scorer(score: Any, index: int) -> dict[str, Any]:
    _expect(score, f"scores[{index}]", "object")
    _expect(score.get("name"), f"scores[{index}].name", "string")
    _expect(score.get("function_id"), f"scores[{index}].function_id", "object")
    function_id = {key: value for key, value in score["function_id"].items() if key in FUNCTION_ID_FIELDS and value is not None}
    for key in IGNORED_FUNCTION_ID_FIELDS:
        _expect(score["function_id"].get(key), f"scores[{index}].function_id.{key}", "string", "null")
    unknown = sorted(set(score["function_id"]) - set(FUNCTION_ID_FIELDS) - set(IGNORED_FUNCTION_ID_FIELDS))
    if unknown:
        raise BadRequest(f"Invalid score at index {index}: this dev server cannot call a function given by {', '.join(unknown)}; "
                         f"it takes {', '.join(FUNCTION_ID_FIELDS)}")
    if not any(key in function_id for key in NAMING_FIELDS):
        raise BadRequest(f"Invalid score at index {index}: scores[{index}] must specify function_id, name, prompt_session_id, "
                         "inline_code, global_function, or slug (with project_name)")
    for key, value in function_id.items():
        if key != "inline_code":  # (passed on as given, as 0.48.1 does)
            _expect(value, f"scores[{index}].function_id.{key}", "string")
    return {"name": score["name"], "function_id": function_id}


def parent_slug(parent: Any) -> str:
    """A parent given as an export slug, or as ``{"object_type", "object_id", "row_ids"?,
    "propagated_event"?}``, as a slug (the propagated event is merged into every span of the run)."""
    if isinstance(parent, str):
        from braintrust.tracing.api import decode_slug

        try:
            decode_slug(parent, "parent")
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        return parent
    from braintrust.tracing.span_components import SpanComponentsV4, SpanObjectTypeV3

    types = {str(kind): kind for kind in SpanObjectTypeV3}  # "experiment", "project_logs", "playground_logs"
    if not isinstance(parent, dict) or parent.get("object_type") not in types or not isinstance(parent.get("object_id"), str):
        raise BadRequest("parent must be an export slug or an object with object_type (experiment, project_logs or "
                         "playground_logs) and object_id")
    row_ids = _expect(parent.get("row_ids"), "parent.row_ids", "object", "null") or {}
    for key in ("id", "span_id", "root_span_id"):
        _expect(row_ids.get(key), f"parent.row_ids.{key}", "string", "null")
    propagated = _expect(parent.get("propagated_event"), "parent.propagated_event", "object", "null")
    return SpanComponentsV4(object_type=types[parent["object_type"]], object_id=parent["object_id"], row_id=row_ids.get("id"),
                            span_id=row_ids.get("span_id"), root_span_id=row_ids.get("root_span_id"),
                            propagated_event=propagated).to_str()


def evaluator_listing(evaluators: Mapping[str, Any]) -> dict[str, Any]:
    """``GET /list``: each evaluator's parameters, scorers and classifiers."""
    from braintrust.eval.scorers import resolve_scorer, scorer_name

    def names(scorers: Any) -> list[dict[str, str]]:
        return [{"name": scorer_name(resolve_scorer(s), i)} for i, s in enumerate(scorers or [])]

    return {name: {"parameters": parameters_container(ev.parameters) if ev.parameters else None,
                   "scores": names(ev.scores), "classifiers": names(ev.classifiers)}
            for name, ev in evaluators.items()}


def parameters_container(parameters: Any) -> dict[str, Any]:
    """How the playground learns an evaluator's parameters (and draws their inputs)."""
    from braintrust.parameters.remote import RemoteEvalParameters
    from braintrust.parameters.schema import serialize_eval_parameters

    if isinstance(parameters, RemoteEvalParameters):
        return {"type": "braintrust.parameters", "schema": parameters.schema,
                "source": {"parametersId": parameters.id, "slug": parameters.slug, "name": parameters.name,
                           "projectId": parameters.project_id, "version": parameters.version}}
    try:
        schema = serialize_eval_parameters(parameters)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return {"type": "braintrust.staticParameters", "schema": schema, "source": None}


def format_summary(summary: Any) -> dict[str, Any]:
    """An ``ExperimentSummary`` as the playground reads it: its fields with camelCase names."""
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    return {camel(key): value for key, value in summary.as_dict().items()}


def sse_event(event: str, data: Any) -> bytes:
    """One server-sent event (dicts and lists as JSON, anything else as text; each line of a
    text with several is its own ``data:`` line, which the reader joins back)."""
    text = json.dumps(data) if isinstance(data, (dict, list)) else str(data)
    lines = "".join(f"data: {line}\n" for line in text.split("\n"))
    return f"event: {event}\n{lines}\n".encode()
