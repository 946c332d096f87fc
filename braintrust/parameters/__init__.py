"""An evaluator's parameters: declared in code (``schema``), saved in Braintrust (``remote``), and
the values its task sees (``values``). ``braintrust.parameters`` is the public SDK's import path."""

from braintrust.parameters.remote import RemoteEvalParameters, load_parameters
from braintrust.parameters.schema import (
    EvalParameters,
    ModelParameter,
    PromptParameter,
    get_default_data_from_parameters_schema,
    is_eval_parameter_schema,
    parameters_to_json_schema,
    serialize_eval_parameters,
)
from braintrust.parameters.json_schema import validate_json_schema
from braintrust.parameters.values import validate_parameters

__all__ = [
    "EvalParameters",
    "ModelParameter",
    "PromptParameter",
    "RemoteEvalParameters",
    "get_default_data_from_parameters_schema",
    "is_eval_parameter_schema",
    "load_parameters",
    "parameters_to_json_schema",
    "serialize_eval_parameters",
    "validate_json_schema",
    "validate_parameters",
]
