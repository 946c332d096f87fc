"""An evaluator's parameters: declared in code, saved in Braintrust (``project.parameters.create``,
``load_parameters``), the values the task sees, and the JSON schema checks, where the public SDK's
capture (test_public_sdk_captures.py) says nothing: errors, ids, environments, the cache, offline."""

from __future__ import annotations

import logging

import pytest
from pydantic import BaseModel

import braintrust
from braintrust import Eval, Prompt, RemoteEvalParameters, load_parameters
from braintrust.parameters import parameters_to_json_schema, validate_json_schema, validate_parameters
from braintrust.parameters.json_schema import schema_errors
from braintrust.prompts.loading import PromptNotFound, PromptUnavailable

PROMPT = {"prompt": {"type": "chat", "messages": [{"role": "user", "content": "Answer {{input}}"}]}, "options": {"model": "gpt-4o-mini"}}


class Temperature(BaseModel):
    value: float = 0.2


class Needed(BaseModel):
    value: int


class Style(BaseModel):
    tone: str = "friendly"


def save(project: str, slug: str, schema: dict, **fields) -> None:
    handle = braintrust.projects.create(name=project)
    handle.parameters.create(name=slug.title(), slug=slug, schema=schema, **fields)
    handle.publish()


# -- the values a task sees -------------------------------------------------------------------


def test_a_declaration_gives_prompts_models_and_pydantic_values():
    values = validate_parameters({}, {"main": {"type": "prompt", "default": PROMPT}, "model": {"type": "model", "default": "gpt-4o"},
                                      "temperature": Temperature, "style": Style, "free": None})
    assert isinstance(values["main"], Prompt)
    assert values["main"].build(input="why")["messages"] == [{"role": "user", "content": "Answer why"}]
    assert values["model"] == "gpt-4o" and values["temperature"] == 0.2 and values["free"] is None
    assert values["style"] == Style()
    chosen = validate_parameters({"model": "o3", "temperature": "0.9", "style": {"tone": "terse"}, "free": [1]},
                                 {"model": {"type": "model"}, "temperature": Temperature, "style": Style, "free": None})
    assert chosen == {"model": "o3", "temperature": 0.9, "style": Style(tone="terse"), "free": [1]}


@pytest.mark.parametrize("declaration, values, message", [
    ({"main": {"type": "prompt"}}, {}, "Invalid parameter 'main': Parameter 'main' is required"),
    ({"model": {"type": "model"}}, {}, "Invalid parameter 'model': Parameter 'model' is required"),
    ({"model": {"type": "model"}}, {"model": 4}, "Invalid parameter 'model': Parameter 'model' must be a string model identifier"),
    ({"n": Needed}, {}, "Invalid parameter 'n': Parameter 'n' is required"),
    ({"n": Needed}, {"n": "many"}, "Invalid parameter 'n': "),
])
def test_a_declared_parameter_without_a_usable_value_is_named(declaration, values, message):
    with pytest.raises(ValueError) as raised:
        validate_parameters(values, declaration)
    assert str(raised.value).startswith(message)


def test_eval_with_a_missing_parameter_fails_before_creating_an_experiment(bt_env):
    with pytest.raises(ValueError, match="Parameter 'main' is required"):
        Eval("params", data=[{"input": 1}], task=lambda input, hooks: input, scores=[], parameters={"main": {"type": "prompt"}})
    assert not [r for r in bt_env.requests if r.path == "/v1/experiment"]


def test_plain_values_reach_the_task_as_given_offline():
    """Not a declaration (a value is neither a prompt, a model, a pydantic model nor None): as the
    public SDK, the task gets the mapping as it is. No key: the local store."""
    seen = []
    Eval("params", data=[{"input": 1}], task=lambda input, hooks: seen.append(hooks.parameters) or input, scores=[],
         parameters={"k": {"default": 3}, "n": 2})
    assert seen == [{"k": {"default": 3}, "n": 2}]


# -- saved parameters ---------------------------------------------------------------------------


def test_saved_parameters_round_trip_and_run_an_eval(bt_env):
    save("params", "knobs", {"main": {"type": "prompt", "default": PROMPT}, "temperature": Temperature, "style": Style})
    saved = load_parameters("params", "knobs")
    assert (saved.name, saved.slug, saved.project_id) == ("Knobs", "knobs", bt_env.projects()[0]["id"])
    assert saved.data == {"main": PROMPT, "temperature": 0.2}
    assert saved.as_dict()["schema"] == parameters_to_json_schema({"main": {"type": "prompt", "default": PROMPT},
                                                                  "temperature": Temperature, "style": Style})
    seen = []
    result = Eval("params", data=[{"input": "x"}], task=lambda input, hooks: seen.append(hooks.parameters) or input, scores=[],
                  parameters=saved)
    (values,) = seen
    assert values["main"].build(input="x")["messages"][0]["content"] == "Answer x" and values["temperature"] == 0.2
    experiment = [r.json for r in bt_env.requests if r.path == "/v1/experiment"][-1]
    assert (experiment["parameters_id"], experiment["parameters_version"]) == (saved.id, saved.version)
    assert result.results[0].error is None


def test_by_id_version_environment_and_not_found(bt_env):
    save("params", "knobs", {"model": {"type": "model", "default": "a"}})
    first = load_parameters("params", "knobs")
    handle = braintrust.projects.create(name="params")
    handle.parameters.create(name="Knobs", slug="knobs", schema={"model": {"type": "model", "default": "b"}}, if_exists="replace")
    handle.publish()
    assert load_parameters("params", "knobs").data == {"model": "b"}
    assert load_parameters(id=first.id).data == {"model": "b"}
    assert load_parameters(id=first.id, version=first.version).data == {"model": "a"}
    bt_env.prompts.set_environment(first.id, "production", first.version)
    assert load_parameters("params", "knobs", environment="production").data == {"model": "a"}
    latest = load_parameters("params", "knobs").version
    assert load_parameters("params", "knobs", version=latest, environment="production").data == {"model": "b"}  # (version wins)
    gets = [(r.path, r.query) for r in bt_env.requests if r.path.startswith("/v1/function")]
    assert ("/v1/function", {"project_name": "params", "slug": "knobs", "version": latest}) in gets
    assert (f"/v1/function/{first.id}", {"version": first.version}) in gets

    with pytest.raises(PromptNotFound, match="Parameters nope not found in project params."):
        load_parameters("params", "nope")
    prompt = bt_env.add_prompt("params", "a-prompt", PROMPT)  # a function, but not parameters
    with pytest.raises(PromptNotFound, match="Parameters a-prompt not found in project params."):
        load_parameters("params", "a-prompt")
    with pytest.raises(PromptNotFound, match=f"Parameters {prompt['id']} not found: that id is a function of another kind."):
        load_parameters(id=prompt["id"])
    with pytest.raises(PromptNotFound, match=f"Prompt {first.id} not found: that id is a function of another kind."):
        braintrust.load_prompt(id=first.id).build()


def test_arguments_and_no_key_errors_say_what_to_do():
    with pytest.raises(ValueError, match="Must specify at least one of project or project_id"):
        load_parameters(slug="x")
    with pytest.raises(ValueError, match="Must specify slug"):
        load_parameters("p")
    with pytest.raises(ValueError, match="no API key is set: set BRAINTRUST_API_KEY.*declare the parameters in code"):
        load_parameters("p", "x")
    project = braintrust.projects.create(name="p")
    with pytest.raises(ValueError, match="is not a parameter declaration"):
        project.parameters.create(name="x", schema={"k": 3})
    with pytest.raises(ValueError, match="if_exists must be one of"):
        project.parameters.create(name="x", schema={}, if_exists="overwrite")
    assert project.code_parameters == []


def test_the_cached_copy_stands_in_when_braintrust_cannot_answer(bt_env, monkeypatch, caplog):
    monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    save("params", "knobs", {"model": {"type": "model", "default": "a"}})
    load_parameters("params", "knobs")
    bt_env.fail_always("GET", "/v1/function", 503)
    with caplog.at_level(logging.WARNING, logger="braintrust"):
        assert load_parameters("params", "knobs").data == {"model": "a"}
    assert "could not load parameters 'knobs'" in caplog.text and "using its copy cached" in caplog.text
    with pytest.raises(PromptUnavailable):
        load_parameters("params", "other")


def test_saved_values_are_checked_against_their_schema(bt_env):
    save("params", "knobs", {"model": {"type": "model", "default": "a"}, "temperature": Temperature})
    saved = load_parameters("params", "knobs")
    assert saved.validate({"model": "b"}) and not saved.validate({"temperature": "hot"})
    with pytest.raises(ValueError, match=r"Invalid parameters: temperature: 'hot' is not of type 'number'"):
        validate_parameters({"temperature": "hot"}, saved)
    broken = RemoteEvalParameters(id="i", project_id="p", name="n", slug="s", version=None,
                                  schema={"type": "object", "properties": {"main": {"type": "object", "x-bt-type": "prompt"}}},
                                  data={"main": "not an object"})
    with pytest.raises(ValueError, match="main: 'not an object' is not of type 'object'"):
        validate_parameters({}, broken)


# -- the JSON schema checks ---------------------------------------------------------------------


SCHEMA = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 2, "pattern": "^[a-z]+$"},
        "count": {"type": "integer", "minimum": 0, "exclusiveMaximum": 10},
        "mode": {"enum": ["fast", "slow"]},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        "either": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "ref": {"$ref": "#/definitions/positive"},
    },
    "definitions": {"positive": {"type": "number", "minimum": 0}},
}


@pytest.mark.parametrize("value, errors", [
    ({"name": "ok", "count": 3, "mode": "fast", "tags": ["a"], "either": None, "ref": 1.5}, []),
    ({"count": 3.0, "name": "ok"}, []),
    ({}, ["root: 'name' is a required property"]),
    ({"name": "ok", "count": True}, ["count: True is not of type 'integer'"]),
    ({"name": "ok", "count": 10}, ["count: 10 is greater than or equal to the maximum of 10"]),
    ({"name": "A1"}, ["name: 'A1' does not match '^[a-z]+$'"]),
    ({"name": "ok", "mode": "medium", "tags": ["a", 2, "c"]},
     ["mode: 'medium' is not one of ['fast', 'slow']", "tags: ['a', 2, 'c'] is too long", "tags.1: 2 is not of type 'string'"]),
    ({"name": "ok", "either": 3, "ref": -1, "extra": 1},
     ["either: 3 is not valid under any of the given schemas", "ref: -1 is less than the minimum of 0",
      "root: Additional properties are not allowed ('extra' was unexpected)"]),
])
def test_schema_errors(value, errors):
    assert sorted(schema_errors(value, SCHEMA)) == sorted(errors)


def test_defaults_are_filled_in_before_the_check():
    schema = {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer", "default": 1},
                                                                  "b": {"type": "object", "properties": {"c": {"default": "x"}}}}}
    assert validate_json_schema({"b": {}}, schema) == {"a": 1, "b": {"c": "x"}}


def test_pydantic_models_are_saved_with_their_references_inlined():
    class Inner(BaseModel):
        size: int = 1

    class Outer(BaseModel):
        inner: Inner = Inner()

    schema = parameters_to_json_schema({"outer": Outer, "needed": Needed, "m": {"type": "model"}})
    outer = schema["properties"]["outer"]
    assert "$defs" not in outer and outer["properties"]["inner"]["properties"]["size"]["type"] == "integer"
    assert schema["properties"]["needed"] == {"title": "Value", "type": "integer"}
    assert schema["required"] == ["needed", "m"] and schema["additionalProperties"] is True
