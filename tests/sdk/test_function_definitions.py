"""Functions defined in code (``braintrust.projects``): names and slugs, checked arguments,
defining offline, publishing (project groups, a refused key). The wire format against the public
SDK's: tests/sdk/test_public_sdk_captures.py::test_functions_defined_in_code_publish_as_the_public_sdk_does."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

import braintrust
from braintrust.functions.definitions import slugify


class Args(BaseModel):
    text: str


@pytest.mark.parametrize("name, slug", [
    ("Order Status!", "order-status"),
    ("get_weather", "get-weather"),
    ("Café  Crème", "cafe-creme"),
    ("it's done", "its-done"),
    ("  --Already-slugged--  ", "already-slugged"),
    ("v1.5 Summary", "v1-5-summary"),
])
def test_slugs_from_names(name, slug):
    assert slugify(name) == slug


def test_defaults_and_handlers_work_offline():
    project = braintrust.projects.create("offline")
    tool = project.tools.create(handler=lambda x: x)
    prompt = project.prompts.create(messages=[{"role": "user", "content": "hi"}], model="m")
    scorer = project.scorers.create(handler=lambda output: 1.0, parameters=Args)
    assert (tool.name, tool.slug, prompt.name, prompt.slug, scorer.name) == ("Tool 1", "tool-1", "Prompt 1", "prompt-1", "Scorer 1")
    assert tool.handler(3) == 3 and scorer.type_ == "scorer"
    with pytest.raises(ValueError, match="no API key is set: set BRAINTRUST_API_KEY"):
        project.publish()


@pytest.mark.parametrize("call, message", [
    (lambda p: p.prompts.create(name="x", model="m"), "exactly one of prompt= .* and messages= .*, got neither"),
    (lambda p: p.prompts.create(name="x", prompt="a", messages=[], model="m"), "got both"),
    (lambda p: p.prompts.create(name="x", prompt="a"), "needs model="),
    (lambda p: p.prompts.create(name="x", prompt="a", model="m", tools=["search"]), "a tool must be a tool from tools.create"),
    (lambda p: p.prompts.create(name="x", prompt="a", model="m", if_exists="overwrite"), "if_exists must be one of error, ignore, replace"),
    (lambda p: p.scorers.create(name="s", handler=lambda output: 1), "a code scorer needs parameters="),
    (lambda p: p.scorers.create(name="s", prompt="ok? {{output}}", model="m"), "needs use_cot= .* and choice_scores="),
    (lambda p: p.tools.create(handler="not callable"), "needs handler="),
])
def test_bad_definitions_name_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call(braintrust.projects.create("checks"))


def test_publish_registers_the_project_in_its_group_and_sends_the_prompts(bt_env):
    project = braintrust.projects.create("grouped", project_group_name="support-team")
    project.prompts.create(name="Greet", prompt="Hello {{name}}", model="gpt-4o-mini", if_exists="ignore")
    answer = project.publish()
    (registration,) = bt_env.requests_to("/v1/project", "POST")
    assert registration.json == {"name": "grouped", "org_name": "test-org", "project_group_name": "support-team"}
    (sent,) = bt_env.inserted_functions
    assert (sent["slug"], sent["if_exists"], sent["prompt_data"]["prompt"]) == ("greet", "ignore", {"type": "completion", "content": "Hello {{name}}"})
    assert answer["functions"][0]["slug"] == "greet"
