"""The values an evaluator's task sees as ``hooks.parameters``, from a declaration or saved parameters.

As the public SDK resolves them: from a declaration (``braintrust.parameters.schema``), a prompt
becomes a ``Prompt`` (built from the chosen prompt data, else the default), a model its name, a
pydantic model an instance (or its ``value``), ``None`` the chosen value; a prompt or model with
neither a chosen value nor a default is an error. From saved parameters (``load_parameters``), the
saved data with the chosen values over it, the schema's defaults filled in, checked against the
schema, and prompts made ``Prompt``s. Anything else is the task's parameters as given.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

from braintrust.parameters.json_schema import validate_json_schema
from braintrust.parameters.remote import RemoteEvalParameters
from braintrust.parameters.schema import (
    field_required,
    is_eval_parameter_schema,
    is_model_parameter,
    is_prompt_parameter,
    is_pydantic_model,
    prompt_data_dict,
    pydantic_fields,
)
from braintrust.prompts.prompt import Prompt

__all__ = ["resolve_parameters", "validate_parameters"]


def resolve_parameters(parameters: Any, chosen: Mapping[str, Any] | None = None) -> Any:
    """What ``hooks.parameters`` is for an evaluator declared with ``parameters`` (values
    ``chosen`` already, such as a playground's, are used as they are)."""
    if chosen is not None:
        return dict(chosen)
    if parameters is None:
        return None  # (as in 0.48.1: an evaluator without parameters has none, not an empty dict)
    if isinstance(parameters, RemoteEvalParameters) or is_eval_parameter_schema(parameters):
        return validate_parameters({}, parameters)
    return parameters


def validate_parameters(values: Mapping[str, Any], parameters: Any) -> dict[str, Any]:
    """``values`` checked and completed by ``parameters`` (a declaration, saved parameters or
    None); a ``ValueError`` names the parameter and what is wrong."""
    if parameters is None:
        return dict(values)
    if isinstance(parameters, RemoteEvalParameters):
        # (a copy: what a task changes in its values must not change the saved ones the next Eval gets)
        checked = validate_json_schema({**copy.deepcopy(parameters.data), **values}, parameters.schema)
        return _with_prompts(checked, parameters.schema)
    return {name: _declared_value(name, spec, values.get(name)) for name, spec in parameters.items()}


def _with_prompts(values: dict[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    properties = schema.get("properties")
    for name, prop in (properties.items() if isinstance(properties, dict) else ()):
        if isinstance(prop, dict) and prop.get("x-bt-type") == "prompt" and name in values:
            if not isinstance(values[name], dict):
                raise ValueError(f"Invalid parameter '{name}': prompt value must be an object")
            values[name] = Prompt.from_prompt_data(name, values[name])
    return values


def _declared_value(name: str, spec: Any, value: Any) -> Any:
    try:
        return _value_of(name, spec, value)
    except Exception as exc:
        detail = exc if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"  # (a validator's KeyError says just 'key')
        raise ValueError(f"Invalid parameter '{name}': {detail}") from exc


def _value_of(name: str, spec: Any, value: Any) -> Any:
    if is_prompt_parameter(spec):
        prompt_data = value if value is not None else prompt_data_dict(spec.get("default"))
        if prompt_data is None:
            raise ValueError(f"Parameter '{name}' is required")
        return Prompt.from_prompt_data(spec.get("name") or name, prompt_data)
    if is_model_parameter(spec):
        model = value if value is not None else spec.get("default")
        if model is None:
            raise ValueError(f"Parameter '{name}' is required")
        if not isinstance(model, str):
            raise ValueError(f"Parameter '{name}' must be a string model identifier")
        return model
    if is_pydantic_model(spec):
        validate = getattr(spec, "model_validate", None) or spec.parse_obj  # (pydantic 2, else 1)
        if list(pydantic_fields(spec)) == ["value"]:
            if value is None:
                return _default_instance(name, spec).value
            return validate({"value": value}).value
        return _default_instance(name, spec) if value is None else validate(value)
    return value


def _default_instance(name: str, model: type) -> Any:
    """The model built from its defaults: a field without one makes the parameter required; a
    default its own validators refuse is that error, named."""
    if any(field_required(field) for field in pydantic_fields(model).values()):
        raise ValueError(f"Parameter '{name}' is required")
    try:
        return model()
    except Exception as exc:
        raise ValueError(f"Parameter '{name}' has no value and its default is invalid: {exc}") from exc
