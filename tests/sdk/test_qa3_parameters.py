"""Saved parameters against 0.48.1: the JSON-schema keywords pydantic writes into a saved
declaration are checked (the public SDK's ``jsonschema`` validator checks them; the expected
messages are that package's), errors are listed by path as there, and saved parameters count as a
parameter schema for ``is_eval_parameter_schema``."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, Field

from braintrust.parameters import (
    RemoteEvalParameters,
    is_eval_parameter_schema,
    parameters_to_json_schema,
    validate_json_schema,
    validate_parameters,
)
from braintrust.parameters.json_schema import schema_errors


class Batch(BaseModel):
    size: int = Field(default=10, multiple_of=5)
    tags: set[str] = set()
    weights: dict[str, float] = Field(default={"a": 1.0}, min_length=1)
    routes: dict[Annotated[str, Field(pattern="^r_")], int] = {}


def saved(declaration: dict) -> RemoteEvalParameters:
    """Saved parameters as load_parameters answers them for ``declaration``."""
    return RemoteEvalParameters(id="p1", project_id="proj", name="Knobs", slug="knobs", version="1",
                                schema=parameters_to_json_schema(declaration), data={})


@pytest.mark.parametrize("value, error", [
    ({"size": 7}, "batch.size: 7 is not a multiple of 5"),
    ({"tags": ["a", "a"]}, "batch.tags: ['a', 'a'] has non-unique elements"),
    ({"weights": {}}, "batch.weights: {} should be non-empty"),
    ({"routes": {"r_1": "x"}}, "batch.routes.r_1: 'x' is not of type 'integer'"),
])
def test_saved_values_breaking_a_pydantic_constraint_are_refused(value, error):
    parameters = saved({"batch": Batch})
    with pytest.raises(ValueError) as raised:
        validate_parameters({"batch": {**Batch().model_dump(mode="json"), **value}}, parameters)
    assert str(raised.value) == f"Invalid parameters: {error}"
    assert parameters.validate({"batch": value}) is False
    assert parameters.validate({"batch": {"size": 15, "tags": ["a", "b"], "weights": {"b": 2.0}, "routes": {"r_1": 1}}}) is True


@pytest.mark.parametrize("schema, value, errors", [
    ({"multipleOf": 0.1}, 0.3, ["root: 0.3 is not a multiple of 0.1"]),
    ({"multipleOf": 0.5}, 1.5, []),
    ({"multipleOf": 2}, 4.0, []),
    ({"multipleOf": 3}, 10**20 + 1, ["root: 100000000000000000001 is not a multiple of 3"]),
    ({"uniqueItems": True}, [1, True], []),
    ({"uniqueItems": True}, [{"a": 1, "b": [2]}, {"b": [2.0], "a": 1}], ["root: [{'a': 1, 'b': [2]}, {'b': [2.0], 'a': 1}] has non-unique elements"]),
    ({"minProperties": 2}, {"a": 1}, ["root: {'a': 1} does not have enough properties"]),
    ({"maxProperties": 0}, {"a": 1}, ["root: {'a': 1} is expected to be empty"]),
    ({"minItems": 1}, [], ["root: [] should be non-empty"]),
    ({"maxLength": 0}, "a", ["root: 'a' is expected to be empty"]),
    ({"propertyNames": {"maxLength": 2}}, {"abc": 1, "ab": 2}, ["root: 'abc' is too long"]),
    ({"const": {"k": [True]}}, {"k": [1]}, ["root: {'k': [True]} was expected"]),
    ({"enum": [{"a": False}]}, {"a": 0}, ["root: {'a': 0} is not one of [{'a': False}]"]),
    ({"oneOf": [{"type": "number"}, {"minimum": 0}, {"type": "integer"}]}, 1,
     ["root: 1 is valid under each of {'minimum': 0}, {'type': 'integer'}, {'type': 'number'}"]),
    ({"additionalProperties": False}, {"d": 1, "c": 2}, ["root: Additional properties are not allowed ('c', 'd' were unexpected)"]),
])
def test_keywords_and_messages_are_the_jsonschema_packages(schema, value, errors):
    assert schema_errors(value, schema) == errors


def test_pattern_properties_are_not_additional_and_apply_beside_properties():
    schema = {"type": "object", "properties": {"ab": {"type": "integer"}},
              "patternProperties": {"^a": {"minimum": 5}, "z$": {"type": "string"}}, "additionalProperties": False}
    assert schema_errors({"ab": 7, "az": 9, "xz": "ok"}, schema) == ["az: 9 is not of type 'string'"]
    assert schema_errors({"ab": 1, "c": 1, "d": 2}, schema) == [
        "root: 'c', 'd' do not match any of the regexes: '^a', 'z$'", "ab: 1 is less than the minimum of 5"]
    assert schema_errors({"q": "x"}, {**schema, "additionalProperties": {"type": "integer"}}) == ["q: 'x' is not of type 'integer'"]


def test_errors_are_listed_by_path_as_0_48_1_lists_them():
    schema = {"type": "object", "required": ["c"], "properties": {
        "a": {"type": "integer"}, "b": {"type": "object", "properties": {"x": {"minimum": 1}}}, "d": {"items": {"type": "string"}}}}
    with pytest.raises(ValueError) as raised:
        validate_json_schema({"d": [1, "x", 2], "b": {"x": 0}, "a": "y"}, schema)
    assert str(raised.value) == ("Invalid parameters: root: 'c' is a required property, a: 'y' is not of type 'integer', "
                                 "b.x: 0 is less than the minimum of 1, d.0: 1 is not of type 'string', d.2: 2 is not of type 'string'")


def test_saved_parameters_are_a_parameter_schema():
    assert is_eval_parameter_schema(saved({"model": {"type": "model", "default": "gpt-4o"}})) is True
    assert is_eval_parameter_schema({"model": {"type": "model"}}) is True
    assert is_eval_parameter_schema({"n": 3}) is False
