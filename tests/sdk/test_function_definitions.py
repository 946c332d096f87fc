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
    ("it's done", "it-s-done"),
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

    def topic(output):
        return {"name": "topic", "id": "billing"}

    classifier = project.classifiers.create(handler=topic, tags=["support"])
    anonymous = project.classifiers.create(handler=lambda output: None)
    assert (tool.name, tool.slug, prompt.name, prompt.slug, scorer.name) == ("Tool 1", "tool-1", "Prompt 1", "prompt-1", "Scorer 1")
    assert (classifier.name, classifier.slug, classifier.type_, classifier.tags) == ("topic", "topic", "classifier", ["support"])
    assert (anonymous.name, anonymous.slug) == ("Classifier 2", "classifier-2")
    assert tool.handler(3) == 3 and scorer.type_ == "scorer" and classifier.handler("x")["id"] == "billing"
    assert project.code_functions == [tool, scorer, classifier, anonymous]
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
    (lambda p: p.tools.create(handler="not callable"), "tools.create needs handler="),
    (lambda p: p.classifiers.create(handler=None), "classifiers.create needs handler="),
    (lambda p: p.classifiers.create(handler=len, if_exists="never"), "if_exists must be one of"),
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


def test_project_is_a_lazy_handle_as_the_public_sdks(bt_env):
    """``braintrust.Project(name=)`` / ``(id=)`` / ``()``: nothing is asked until ``id`` or
    ``name`` is read; then the project is registered (by id, else name, else "Global"), as the
    public SDK 0.48.1 does it (the same requests, probed side by side)."""
    by_name, by_id_later, global_project = braintrust.Project(name="handles"), None, braintrust.Project()
    assert by_name.name == "handles" and bt_env.requests_to("/v1/project") == []  # a known name asks nothing
    project_id = by_name.id
    by_id_later = braintrust.Project(id=project_id)
    assert by_id_later.name == "handles" and by_id_later.id == project_id
    assert global_project.name == "Global" and by_name.lazy_init() is by_name
    asked = [(r.method, r.path, r.json) for r in bt_env.requests if "/v1/project" in r.path]
    assert asked == [("POST", "/v1/project", {"name": "handles", "org_name": bt_env.org_name}),
                     ("GET", f"/v1/project/{project_id}", None),
                     ("POST", "/v1/project", {"name": "Global", "org_name": bt_env.org_name})]


def test_project_handles_work_offline_in_the_local_store():
    project = braintrust.Project(name="offline-proj")
    assert braintrust.Project(id=project.id).name == "offline-proj"
    from braintrust.logger import Project

    assert Project is braintrust.Project


@pytest.mark.parametrize("call, message", [
    (lambda: braintrust.Project(name=""), "Project name must be a non-empty string"),
    (lambda: braintrust.Project(id=5), "Project id must be a non-empty string"),
    (lambda: braintrust.projects.create(None), "projects.create needs the project's name"),
])
def test_a_project_without_a_usable_name_or_id_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
