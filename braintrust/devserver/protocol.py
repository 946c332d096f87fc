"""What the Braintrust playground and the dev server say to each other (``braintrust eval --dev``).

* ``GET /list`` answers ``{evaluator name: {"parameters", "scores": [{"name"}], "classifiers":
  [{"name"}]}}``; ``parameters`` is a container: ``{"type": "braintrust.staticParameters",
  "schema": {name: {"type": "prompt" | "model" | "data", ...}}, "source": None}`` for parameters
  declared in code, ``{"type": "braintrust.parameters", "schema": <JSON schema>, "source": {...}}``
  for saved ones, or None.
* ``POST /eval`` takes ``{"name", "parameters"?, "data"?, "scores"?, "experiment_name"?,
  "project_id"?, "parent"?, "stream"?}`` (``parse_eval_request``) and answers the experiment's
  summary with camelCase keys, or, with ``stream``, server-sent events: ``start`` (the summary
  when it starts), ``progress`` (each task's output), then ``summary`` or ``error``, then ``done``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["BadRequest", "EvalRequest", "evaluator_listing", "format_summary", "parent_slug", "parse_eval_request", "sse_event"]

#: The fields of a ``function_id`` a remote scorer may name (sent as given to ``/function/invoke``).
FUNCTION_ID_FIELDS = ("function_id", "version", "name", "prompt_session_id", "prompt_session_function_id", "inline_code",
                      "global_function", "project_name", "slug")
#: One of these names the function (0.48.1's forms, and a project's slug).
NAMING_FIELDS = ("function_id", "name", "prompt_session_id", "inline_code", "global_function", "slug")


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
    try:
        data = json.loads(body or b"null")
    except ValueError as exc:
        raise BadRequest(f"Invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadRequest("Request body must be a JSON object")
    name = data.get("name")
    if not isinstance(name, str):
        raise BadRequest("name is required" if name is None else f"name must be a string, got {type(name).__name__}")
    request = EvalRequest(name=name, data=data.get("data"), stream=bool(data.get("stream", False)))
    for key, kind in (("parameters", dict), ("experiment_name", str), ("project_id", str)):
        if key in data and data[key] is not None:
            if not isinstance(data[key], kind):
                raise BadRequest(f"{key} must be {'a dictionary' if kind is dict else 'a string'}")
            setattr(request, key, data[key])
    scores = data.get("scores") or []
    if not isinstance(scores, list):
        raise BadRequest("scores must be an array")
    for index, score in enumerate(scores):
        request.scores.append(_remote_scorer(score, index))
    if data.get("parent") is not None:
        request.parent = parent_slug(data["parent"])
    return request


def _remote_scorer(score: Any, index: int) -> dict[str, Any]:
    if not isinstance(score, dict) or not isinstance(score.get("name"), str) or not isinstance(score.get("function_id"), dict):
        raise BadRequest(f"Invalid score at index {index}: each score needs a name and a function_id object")
    function_id = {key: value for key, value in score["function_id"].items() if key in FUNCTION_ID_FIELDS and value is not None}
    unknown = sorted(set(score["function_id"]) - set(FUNCTION_ID_FIELDS))
    if unknown:
        raise BadRequest(f"Invalid score at index {index}: this dev server cannot call a function given by {', '.join(unknown)}; "
                         f"it takes {', '.join(FUNCTION_ID_FIELDS)}")
    if not any(key in function_id for key in NAMING_FIELDS):
        raise BadRequest(f"Invalid score at index {index}: scores[{index}] must specify function_id, name, prompt_session_id, "
                         "inline_code, global_function, or slug (with project_name)")
    return {"name": score["name"], "function_id": function_id}


def parent_slug(parent: Any) -> str:
    """A parent given as an export slug, or as ``{"object_type", "object_id", "row_ids"?}``, as a slug."""
    if isinstance(parent, str):
        return parent
    from braintrust.tracing.span_components import SpanComponentsV4, SpanObjectTypeV3

    types = {str(kind): kind for kind in SpanObjectTypeV3}  # "experiment", "project_logs", "playground_logs"
    if not isinstance(parent, dict) or parent.get("object_type") not in types or not isinstance(parent.get("object_id"), str):
        raise BadRequest("parent must be an export slug or an object with object_type (experiment, project_logs or "
                         "playground_logs) and object_id")
    row_ids = parent.get("row_ids") or {}
    return SpanComponentsV4(object_type=types[parent["object_type"]], object_id=parent["object_id"], row_id=row_ids.get("id"),
                            span_id=row_ids.get("span_id"), root_span_id=row_ids.get("root_span_id")).to_str()


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
