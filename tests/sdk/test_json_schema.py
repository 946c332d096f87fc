"""braintrust.parameters.json_schema: the check saved parameters' values get, against the
verdicts of the ``jsonschema`` package (the public SDK's validator, draft 7) on every keyword the
README says is checked (tests/data/parameters/json_schema_cases.json, recorded from it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from braintrust.parameters.json_schema import apply_defaults, schema_errors, validate_json_schema

CASES = json.loads((Path(__file__).parent.parent / "data" / "parameters" / "json_schema_cases.json").read_text())["cases"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_verdicts_match_the_jsonschema_package(case):
    ours = [not schema_errors(instance, case["schema"]) for instance in case["instances"]]
    assert ours == case["valid"], [schema_errors(instance, case["schema"]) for instance in case["instances"]]


def test_each_violation_is_named_with_its_path():
    schema = {
        "type": "object",
        "properties": {
            "model": {"type": "object", "properties": {"temperature": {"type": "number", "maximum": 2}}, "required": ["name"]},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "additionalProperties": False,
    }
    errors = schema_errors({"model": {"temperature": 3}, "tags": ["a", 1], "typo": 1}, schema)
    assert errors == [  # (ordered by path, as 0.48.1 lists them)
        "root: Additional properties are not allowed ('typo' was unexpected)",
        "model: 'name' is a required property",
        "model.temperature: 3 is greater than the maximum of 2",
        "tags.1: 1 is not of type 'string'",
    ]


def test_validate_fills_defaults_at_every_level_then_checks():
    schema = {
        "type": "object",
        "properties": {
            "top_k": {"type": "integer", "default": 3, "minimum": 1},
            "model": {"type": "object", "default": {}, "properties": {"temperature": {"type": "number", "default": 0.5}}},
            "steps": {"type": "array", "items": {"type": "object", "properties": {"retries": {"type": "integer", "default": 1}}}},
        },
    }
    assert validate_json_schema({"steps": [{}, {"retries": 4}]}, schema) == {
        "top_k": 3, "model": {"temperature": 0.5}, "steps": [{"retries": 1}, {"retries": 4}],
    }
    with pytest.raises(ValueError, match=r"^Invalid parameters: top_k: 0 is less than the minimum of 1$"):
        validate_json_schema({"top_k": 0}, schema)
    chosen = {"top_k": 5}
    validate_json_schema(chosen, schema)
    assert chosen == {"top_k": 5}  # the caller's mapping is not changed
    assert apply_defaults("not an object", schema) == "not an object"


@pytest.mark.parametrize("ref, message", [
    ("https://example.com/schema.json", r"only references inside the schema \(#/\.\.\.\) are resolved"),
    ("#/definitions/missing", r"points at nothing in the schema"),
])
def test_a_reference_it_cannot_follow_is_an_error_naming_it(ref, message):
    with pytest.raises(ValueError, match=message):
        schema_errors({"p": 1}, {"type": "object", "properties": {"p": {"$ref": ref}}})


def test_filling_defaults_changes_neither_the_callers_values_nor_the_schema():
    """Saved values, chosen values and the saved schema are reused for every run: filling
    defaults into them would leak one run's values into the next."""
    schema = {
        "type": "object",
        "properties": {
            "model": {"type": "object", "default": {}, "properties": {"temperature": {"type": "number", "default": 0.5}}},
            "steps": {"type": "array", "items": {"type": "object", "properties": {"retries": {"type": "integer", "default": 1}}}},
        },
    }
    pristine = json.loads(json.dumps(schema))
    chosen = {"model": {"name": "m"}, "steps": [{}]}
    first = validate_json_schema(chosen, schema)
    assert first == {"model": {"name": "m", "temperature": 0.5}, "steps": [{"retries": 1}]}
    assert chosen == {"model": {"name": "m"}, "steps": [{}]}
    assert schema == pristine
    second = validate_json_schema({}, schema)
    second["model"]["temperature"] = 2
    assert validate_json_schema({}, schema) == {"model": {"temperature": 0.5}}
