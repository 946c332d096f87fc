"""Prompts and ``invoke`` held to 0.48.1 where a side-by-side run of both SDKs against the test
server found ours different: a response format's schema rendered with JSON values, a completion
prompt's tools, the message and prompt-data objects' ``as_dict()``, an empty ``id=``, and where
``invoke`` sends ``project_id``. The expected values are 0.48.1's output for the same calls."""

from __future__ import annotations

import pytest

from braintrust import Prompt, invoke, load_prompt

SCHEMA_VARIABLES = {"labels": ["good", "bad"], "obj": {"k": "v<"}, "flag": True, "off": False, "none": None, "zero": 0,
                    "items": [1, "two"], "note": "a <b> & c"}


def schema_prompt(schema) -> dict:
    return {"prompt": {"type": "chat", "messages": [{"role": "user", "content": "Rate {{note}}"}]},
            "options": {"model": "gpt-4o", "params": {"response_format": {
                "type": "json_schema", "json_schema": {"name": "rating", "schema": schema}}}}}


def built_schema(schema, **variables):
    built = Prompt.from_prompt_data("p", schema_prompt(schema)).build(**variables)
    return built["response_format"]["json_schema"]["schema"]


def test_a_schema_given_as_text_takes_a_list_variable_as_a_json_list():
    """``"enum": {{labels}}`` rendered the list's Python repr (``['good', 'bad']``), which is
    not JSON, so build() failed; 0.48.1 renders every value of a schema as JSON."""
    schema = '{"type": "object", "properties": {"label": {"enum": {{labels}}}}, "description": "{{note}}", "x-flag": {{flag}}}'
    assert built_schema(schema, **SCHEMA_VARIABLES) == {
        "type": "object", "properties": {"label": {"enum": ["good", "bad"]}}, "description": "a <b> & c", "x-flag": True}


@pytest.mark.parametrize("template, rendered", [
    ("{{obj}}", '{"k": "v<"}'),
    ("{{labels}}", '["good", "bad"]'),
    ("{{flag}} {{off}} {{zero}}", "true false 0"),
    ("[{{none}}][{{missing}}]", "[][]"),
    ("{{obj.k}} {{{note}}} {{note}}", "v< a <b> & c a <b> & c"),
    ("{{#items}}[{{.}}]{{/items}}", '[[1, "two"]]'),  # (the list is one JSON string, not iterated)
    ("{{#off}}on{{/off}}{{^off}}off{{/off}}", "on"),  # (False is the text "false": a true section)
])
def test_a_schema_given_as_an_object_renders_each_value_as_json(template, rendered):
    schema = {"type": "object", "description": template}
    assert built_schema(schema, **SCHEMA_VARIABLES)["description"] == rendered


def test_messages_still_render_values_as_text_with_escaping():
    prompt = Prompt.from_prompt_data("p", schema_prompt({"type": "object"}))
    prompt._data["prompt_data"]["prompt"]["messages"][0]["content"] = "{{obj}} {{labels}} {{flag}} {{note}}"
    content = prompt.build(**SCHEMA_VARIABLES)["messages"][0]["content"]
    assert content == "{'k': 'v&lt;'} ['good', 'bad'] True a &lt;b&gt; &amp; c"


def test_a_completion_prompts_tools_are_left_out_of_the_call():
    """They were rendered into ``tools=``, which a completions call does not take."""
    prompt = Prompt.from_prompt_data("c", {"prompt": {"type": "completion", "content": "Say {{x}}",
                                                      "tools": '[{"type": "function", "function": {"name": "{{x}}"}}]'},
                                           "options": {"model": "gpt-3.5-turbo-instruct"}})
    assert prompt.build(x="hi") == {"model": "gpt-3.5-turbo-instruct", "prompt": "Say hi", "span_info": {"metadata": {
        "prompt": {"variables": {"x": "hi"}, "id": None, "project_id": None, "version": None}}}}


def test_messages_and_prompt_data_read_as_0_48_1s(bt_env):
    """``message.as_dict()`` raised TypeError ('NoneType' object is not callable);
    ``prompt.prompt_data`` and ``prompt._xact_id`` were AttributeErrors."""
    stored = bt_env.add_prompt("proj", "hello", {
        "prompt": {"type": "chat", "messages": [{"role": "user", "content": "Hi {{name}}"}], "tools": "[]"},
        "options": {"model": "gpt-4o", "params": {"temperature": 0.2}}})
    prompt = load_prompt("proj", "hello")
    message = {"content": "Hi {{name}}", "role": "user", "name": None, "function_call": None, "tool_calls": None}
    assert [m.as_dict() for m in prompt["chat"]] == [message] == [m.as_dict() for m in prompt.prompt.messages]
    assert list(prompt.prompt.messages[0].as_dict()) == ["content", "role", "name", "function_call", "tool_calls"]
    block = {"messages": [message], "tools": "[]", "type": "chat"}
    assert prompt.prompt.as_dict() == block
    assert prompt.prompt_data.as_dict() == {"prompt": block, "options": {"model": "gpt-4o", "params": {"temperature": 0.2}}}
    assert prompt.prompt_data.prompt.type == "chat" and prompt.prompt_data.options["model"] == "gpt-4o"
    assert prompt._xact_id == prompt.version == stored["_xact_id"]
    with pytest.raises(AttributeError):
        prompt.created  # noqa: B018  (not a field of 0.48.1's prompt either)


def test_an_empty_id_is_no_id(bt_env):
    """``load_prompt(id="")`` asked ``GET /v1/prompt?slug=`` and said 'Prompt None not found in
    project None.'; 0.48.1 takes an empty id as none: the arguments are checked at the call."""
    bt_env.add_prompt("proj", "hello", {"prompt": {"type": "chat", "messages": []}, "options": {"model": "m"}})
    with pytest.raises(ValueError, match="Must specify at least one of project or project_id"):
        load_prompt(id="")
    assert load_prompt("proj", "hello", id="").slug == "hello"
    assert [r.query for r in bt_env.requests_to("/v1/prompt*", "GET")] == [{"project_name": "proj", "slug": "hello"}]


def test_invoke_sends_project_id_as_the_header_only(bt_env):
    """``project_id`` (the project the call runs in, not the function's) was also put in the body,
    where the service reads it as naming the function's project."""
    assert invoke(project_name="p", project_id="proj-ctx", slug="echo", input=1) == 1
    [call] = bt_env.requests_to("/function/invoke")
    assert call.headers["x-bt-project-id"] == "proj-ctx"
    assert call.json == {"api_version": 1, "input": 1, "metadata": None, "parent": "", "project_name": "p", "slug": "echo",
                         "stream": False, "tags": None}


def test_a_cache_size_of_0_is_no_bound_as_in_0_48_1(bt_env, monkeypatch, tmp_path):
    """``BRAINTRUST_PROMPT_CACHE_*_MAX_SIZE=0`` made every load_prompt raise 'must be at least 1';
    0.48.1 takes 0 as no bound."""
    from braintrust.prompts.cache import prompt_cache

    monkeypatch.setenv("BRAINTRUST_PROMPT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BRAINTRUST_PROMPT_CACHE_MEMORY_MAX_SIZE", "0")
    monkeypatch.setenv("BRAINTRUST_PROMPT_CACHE_DISK_MAX_SIZE", "0")
    for slug in ("a", "b", "c"):
        bt_env.add_prompt("proj", slug, {"prompt": {"type": "completion", "content": slug}, "options": {"model": "m"}})
        assert load_prompt("proj", slug).build()["prompt"] == slug
    assert len(list((tmp_path / "cache").glob("*.json"))) == 3
    assert len(prompt_cache()._memory) == 3
