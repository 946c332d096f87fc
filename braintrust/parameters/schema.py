"""An evaluator's parameters declared in code, and their JSON schema as Braintrust saves it.

A declaration maps each name to one of:

* ``{"type": "prompt", "default": prompt data, "description": ...}``: the task gets a ``Prompt``;
* ``{"type": "model", "default": "gpt-4o-mini", "description": ...}``: the task gets the model name;
* a pydantic model class: an instance of it, or the value of its one ``value`` field;
* ``None``: any value (none unless one is chosen).

``parameters_to_json_schema`` gives the object schema ``project.parameters.create`` publishes:
prompts as ``{"type": "object", "x-bt-type": "prompt"}``, models as ``{"type": "string",
"x-bt-type": "model"}``, pydantic models as their own schema with local ``$ref`` resolved (a
``value``-only model as that field's schema); prompts and models without a default are required.
"""

from __future__ import annotations

import copy
from typing import Any, Literal, Mapping, TypedDict

from braintrust.parameters.json_schema import resolve_ref

__all__ = [
    "EvalParameters",
    "ModelParameter",
    "field_required",
    "PromptParameter",
    "serialize_eval_parameters",
    "get_default_data_from_parameters_schema",
    "is_eval_parameter_schema",
    "is_model_parameter",
    "is_prompt_parameter",
    "is_pydantic_model",
    "parameters_to_json_schema",
    "prompt_data_dict",
    "pydantic_fields",
]


class PromptParameter(TypedDict, total=False):
    """A prompt parameter's declaration (``type`` is required)."""

    type: Literal["prompt"]
    name: str | None
    default: Any
    description: str | None


class ModelParameter(TypedDict, total=False):
    """A model parameter's declaration (``type`` is required)."""

    type: Literal["model"]
    default: str | None
    description: str | None


#: An evaluator's ``parameters=``: each name's declaration (a prompt or model parameter, a
#: pydantic model class, or None).
EvalParameters = Mapping[str, Any]


def is_prompt_parameter(spec: Any) -> bool:
    return isinstance(spec, dict) and spec.get("type") == "prompt"


def is_model_parameter(spec: Any) -> bool:
    return isinstance(spec, dict) and spec.get("type") == "model"


def is_pydantic_model(spec: Any) -> bool:
    return isinstance(spec, type) and (hasattr(spec, "model_validate") or hasattr(spec, "parse_obj"))


def pydantic_fields(model: type) -> dict[str, Any]:
    fields = getattr(model, "model_fields", None)
    return fields if fields is not None else getattr(model, "__fields__", {})


def is_eval_parameter_schema(parameters: Any) -> bool:
    """Whether ``parameters`` is a declaration (every value a prompt, a model, a pydantic model or
    None) or saved parameters, rather than plain values, which a task gets as given."""
    from braintrust.parameters.remote import RemoteEvalParameters  # (remote imports the prompts' loading)

    if isinstance(parameters, RemoteEvalParameters):
        return True
    if not isinstance(parameters, Mapping):
        return False
    return all(is_prompt_parameter(spec) or is_model_parameter(spec) or spec is None or is_pydantic_model(spec)
               for spec in parameters.values())


def prompt_data_dict(prompt_data: Any) -> dict[str, Any] | None:
    """Prompt data as a plain dict, fields set to None left out (as Braintrust's UI expects them)."""
    if prompt_data is None:
        return None
    if hasattr(prompt_data, "as_dict"):
        prompt_data = prompt_data.as_dict()
    return _without_nones(dict(prompt_data))


def parameters_to_json_schema(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON schema saved parameters carry (``function_data.__schema``)."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, spec in parameters.items():
        if is_prompt_parameter(spec) or is_model_parameter(spec):
            prompt = is_prompt_parameter(spec)
            schema: dict[str, Any] = {"type": "object" if prompt else "string", "x-bt-type": spec["type"]}
            default = prompt_data_dict(spec.get("default")) if prompt else spec.get("default")
            if default is not None or (not prompt and "default" in spec):
                schema["default"] = default
            if spec.get("description") is not None:
                schema["description"] = spec["description"]
            properties[name] = schema
            if spec.get("default") is None:
                required.append(name)
        elif spec is None:
            properties[name] = {}
        elif is_pydantic_model(spec):
            properties[name] = _pydantic_schema(spec)
            fields = pydantic_fields(spec)
            if list(fields) == ["value"] and field_required(fields["value"]):
                required.append(name)
        else:
            raise ValueError(f"Parameter {name!r}: {spec!r:.100} is not a parameter declaration. Use "
                             "{'type': 'prompt', 'default': ...}, {'type': 'model', 'default': ...}, a pydantic model or None.")
    result: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": True}
    if required:
        result["required"] = required
    return result


def get_default_data_from_parameters_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Each top-level property's ``default``, by name (the values saved with the schema)."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {}
    return {name: prop["default"] for name, prop in properties.items() if isinstance(prop, dict) and "default" in prop}


def _pydantic_schema(model: type) -> dict[str, Any]:
    raw = model.model_json_schema() if hasattr(model, "model_json_schema") else model.schema()  # type: ignore[attr-defined]
    schema = _inline_refs(raw, raw, ())
    schema.pop("$defs", None)
    schema.pop("definitions", None)
    properties = schema.get("properties")
    if list(pydantic_fields(model)) == ["value"] and isinstance(properties, dict) and isinstance(properties.get("value"), dict):
        return dict(properties["value"])
    return schema


def _inline_refs(node: Any, root: dict[str, Any], seen: tuple[str, ...]) -> Any:
    """``node`` with every local ``$ref`` replaced by what it points at (siblings of a ``$ref``
    kept over it); a reference cycle cannot be inlined and is an error."""
    if isinstance(node, list):
        return [_inline_refs(item, root, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return {key: _inline_refs(value, root, seen) for key, value in node.items()}
    if ref in seen:
        raise ValueError(f"The parameter's pydantic model refers to itself ({ref}): saved parameters cannot hold a recursive schema.")
    target = _inline_refs(copy.deepcopy(resolve_ref(ref, root)), root, (*seen, ref))
    siblings = {key: _inline_refs(value, root, seen) for key, value in node.items() if key != "$ref"}
    return {**target, **siblings} if siblings and isinstance(target, dict) else target


def field_required(field: Any) -> bool:
    """Whether a pydantic field (of pydantic 2, else 1) has no default."""
    is_required = getattr(field, "is_required", None)
    return bool(is_required()) if callable(is_required) else bool(getattr(field, "required", False))


def _without_nones(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nones(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nones(item) for item in value]
    return value


def serialize_eval_parameters(parameters: EvalParameters) -> dict[str, Any]:
    """Each declaration as the playground reads it (``GET /list``'s ``schema``): prompts and
    models with their description and default, pydantic models (and None) as ``"data"`` with
    their JSON schema. Raises ``ValueError`` naming a declaration of no known kind."""
    result: dict[str, Any] = {}
    for name, spec in parameters.items():
        if is_prompt_parameter(spec) or is_model_parameter(spec):
            entry = {"type": spec["type"], **({"description": spec["description"]} if spec.get("description") is not None else {})}
            default = prompt_data_dict(spec.get("default")) if is_prompt_parameter(spec) else spec.get("default")
            if default is not None:
                entry["default"] = default
        elif spec is None:
            entry = {"type": "data", "schema": {}}
        elif is_pydantic_model(spec):
            data_schema = parameters_to_json_schema({name: spec})["properties"][name]
            entry = {"type": "data", "schema": data_schema}
            for key in ("description", "default"):
                if key in data_schema:
                    entry[key] = data_schema[key]
        else:
            raise ValueError(f"evaluator parameter {name!r} is not a parameter declaration")
        result[name] = entry
    return result
