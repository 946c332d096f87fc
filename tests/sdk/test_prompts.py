"""``load_prompt`` against the test server: lazy fetching, versions and environments, errors that
say what to do, the cached copy when Braintrust cannot answer (also in a new process), and
``build()`` where the public SDK's captures say nothing (see test_public_sdk_captures.py for those)."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import braintrust
from braintrust import Prompt, load_prompt
from braintrust.prompts.cache import PromptCache
from braintrust.prompts.loading import PromptNotFound, PromptUnavailable
from braintrust.xact_ids import prettify_xact

CHAT = {"prompt": {"type": "chat", "messages": [{"role": "user", "content": "Hi {{name}}"}]},
        "options": {"model": "gpt-4o-mini", "params": {"temperature": 0}}}


def chat(text: str, model: str = "gpt-4o-mini") -> dict:
    return {"prompt": {"type": "chat", "messages": [{"role": "user", "content": text}]}, "options": {"model": model}}


def prompt_gets(server) -> list:
    return [(r.path, r.query) for r in server.requests if r.method == "GET" and r.path.startswith("/v1/prompt")]


def test_nothing_is_fetched_until_the_prompt_is_used(bt_env):
    bt_env.add_prompt("proj", "hello", CHAT, description="greets", tags=["greeting"])
    prompt = load_prompt("proj", "hello")
    assert prompt_gets(bt_env) == []
    assert prompt.build(name="Ada")["messages"] == [{"role": "user", "content": "Hi Ada"}]
    assert prompt.slug == "hello" and prompt.name == "hello"
    assert (prompt.description, prompt.tags) == ("greets", ["greeting"])  # (0.48.1's read through to the prompt)
    assert prompt_gets(bt_env) == [("/v1/prompt", {"project_name": "proj", "slug": "hello"})]


def test_versions_environments_and_ids(bt_env):
    first = bt_env.add_prompt("proj", "hello", chat("v1 {{x}}"))
    second = bt_env.add_prompt("proj", "hello", chat("v2 {{x}}"))
    bt_env.prompts.set_environment(first["id"], "production", first["_xact_id"])

    def text(prompt: Prompt) -> str:
        return prompt.build(x=1)["messages"][0]["content"]

    assert text(load_prompt("proj", "hello")) == "v2 1"
    assert text(load_prompt("proj", "hello", version=first["_xact_id"])) == "v1 1"
    assert text(load_prompt("proj", "hello", version=int(first["_xact_id"]))) == "v1 1"
    assert text(load_prompt("proj", "hello", environment="production")) == "v1 1"
    # both: the version wins, and only it is asked for (as in 0.48.1)
    assert text(load_prompt("proj", "hello", version=second["_xact_id"], environment="production")) == "v2 1"
    assert ("/v1/prompt", {"project_name": "proj", "slug": "hello", "version": second["_xact_id"]}) in prompt_gets(bt_env)
    assert text(load_prompt(id=second["id"])) == "v2 1"
    assert load_prompt("proj", "hello").version == second["_xact_id"]
    project_id = bt_env.projects()[0]["id"]
    assert text(load_prompt(project_id=project_id, slug="hello")) == "v2 1"
    assert ("/v1/prompt", {"slug": "hello", "project_id": project_id}) in prompt_gets(bt_env)


def test_arguments_are_checked_when_called():
    with pytest.raises(ValueError, match="Must specify at least one of project or project_id"):
        load_prompt(slug="x")
    with pytest.raises(ValueError, match="Must specify slug"):
        load_prompt("proj")


def test_what_is_missing_is_named(bt_env):
    bt_env.add_prompt("proj", "hello", CHAT)
    with pytest.raises(PromptNotFound, match=r"Prompt nope not found in project proj\."):
        load_prompt("proj", "nope").build()
    with pytest.raises(PromptNotFound, match="not found at version 123"):
        load_prompt("proj", "hello", version="123").build()
    with pytest.raises(PromptNotFound, match="not found in environment 'staging'"):
        load_prompt("proj", "hello", environment="staging").build()
    with pytest.raises(PromptNotFound, match="Prompt 0000 not found"):
        load_prompt(id="0000").build()
    assert issubclass(PromptNotFound, ValueError)  # as the public SDK raises


def test_no_api_key_says_what_to_do(monkeypatch):
    with pytest.raises(ValueError, match="set BRAINTRUST_API_KEY .*Prompt.from_prompt_data"):
        load_prompt("proj", "hello").build()


def test_a_prompt_made_here_builds_without_any_server():
    prompt = Prompt.from_prompt_data("local", {"prompt": {"type": "completion", "content": "Say {{word}}"},
                                               "options": {"model": "m", "params": {"max_tokens": 3}}})
    assert prompt.build(word="<hi>") == {
        "max_tokens": 3, "model": "m", "prompt": "Say &lt;hi&gt;",
        "span_info": {"metadata": {"prompt": {"variables": {"word": "<hi>"}, "id": None, "project_id": None, "version": None}}},
    }
    assert prompt.id is None and prompt.version is None and prompt.slug == "local"


def test_the_cached_copy_stands_in_when_braintrust_cannot_answer(bt_env, monkeypatch, caplog):
    monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    bt_env.add_prompt("proj", "hello", CHAT)
    assert load_prompt("proj", "hello").build(name="A")["messages"][0]["content"] == "Hi A"
    bt_env.fail_always("GET", "/v1/prompt", 503)
    with caplog.at_level(logging.WARNING, logger="braintrust"):
        assert load_prompt("proj", "hello").build(name="B")["messages"][0]["content"] == "Hi B"
    assert "answered 503" in caplog.text and "using its copy cached less than a minute ago" in caplog.text
    # an environment may have moved since: no stand-in; nor for a prompt never fetched
    with pytest.raises(PromptUnavailable, match="503"):
        load_prompt("proj", "hello", environment="production").build()
    with pytest.raises(PromptUnavailable, match="could not load prompt 'other'"):
        load_prompt("proj", "other").build()
    with pytest.raises(ValueError):  # (what 0.48.1 raises there, so code written for it still catches it)
        load_prompt("proj", "other").build()


def test_a_deleted_prompt_is_not_served_from_the_cache(bt_env):
    bt_env.add_prompt("proj", "hello", CHAT)
    load_prompt("proj", "hello").build(name="A")
    bt_env.prompts.clear()
    with pytest.raises(PromptNotFound):
        load_prompt("proj", "hello").build(name="A")


def test_a_new_process_falls_back_on_the_disk_copy(bt_env, tmp_path):
    """The first process fetches; with the server gone, the second gets the copy on disk."""
    bt_env.add_prompt("proj", "hello", CHAT)
    script = tmp_path / "use_prompt.py"
    script.write_text(textwrap.dedent("""
        import braintrust
        print(braintrust.load_prompt("proj", "hello").build(name="disk")["messages"][0]["content"])
    """))
    env = {**os.environ, "BRAINTRUST_NUM_RETRIES": "0"}
    first = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    bt_env.stop()
    second = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert second.stdout == "Hi disk\n"
    assert "Could not reach Braintrust" in second.stderr and "could not load prompt 'hello' of project 'proj'" in second.stderr
    assert "using its copy cached" in second.stderr

    folder = os.environ["BRAINTRUST_PROMPT_CACHE_DIR"]
    files = os.listdir(folder)
    assert len(files) == 1
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(folder, files[0])).st_mode) == 0o600
    text = open(os.path.join(folder, files[0]), encoding="utf-8").read()
    assert bt_env.api_key not in text
    assert json.loads(text)["prompt"]["slug"] == "hello"


def test_an_unwritable_cache_folder_costs_only_the_disk_copy(bt_env, monkeypatch, tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    monkeypatch.setenv("BRAINTRUST_PROMPT_CACHE_DIR", str(blocker / "cache"))
    bt_env.add_prompt("proj", "hello", CHAT)
    with caplog.at_level(logging.WARNING, logger="braintrust"):
        for name in ("A", "B"):
            assert load_prompt("proj", "hello").build(name=name)["messages"][0]["content"] == f"Hi {name}"
    assert caplog.text.count("prompts are cached in memory only") == 1
    assert "BRAINTRUST_PROMPT_CACHE_DIR" in caplog.text


def test_cache_limits_evict_the_oldest(tmp_path):
    cache = PromptCache(tmp_path / "c", memory_max_entries=2, disk_max_files=2)
    for index in range(3):
        cache.put(f"k{index}", {"slug": f"s{index}"})
        os.utime(cache._path(f"k{index}"), (1000 + index, 1000 + index))
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == sorted(cache._path(k).name for k in ("k1", "k2"))
    assert list(cache._memory) == ["k1", "k2"]
    assert cache.get("k0") is None
    fresh = PromptCache(tmp_path / "c")
    assert fresh.get("k2").prompt == {"slug": "s2"}


def test_credentials_passed_to_load_prompt_leave_the_global_login_alone(bt_server):
    bt_server.add_prompt("proj", "hello", CHAT)
    prompt = load_prompt("proj", "hello", app_url=bt_server.url, api_key=bt_server.api_key)
    assert prompt.build(name="A")["messages"][0]["content"] == "Hi A"
    from braintrust.state import global_state

    assert not global_state().logged_in
    assert global_state().is_local()


def test_build_rules_beyond_the_captures():
    def build(prompt_data, **variables):
        return Prompt.from_prompt_data("p", prompt_data).build(**variables)

    with pytest.raises(ValueError, match="No model specified"):
        build({"prompt": {"type": "completion", "content": "x"}, "options": {}})
    no_model = {"slug": "p", "prompt_data": {"prompt": {"type": "completion", "content": "x"}, "options": {"params": {"top_p": 0.5}}}}
    assert Prompt(no_model, defaults={"model": "fallback", "top_p": 1}).build(no_trace=1) == {
        "model": "fallback", "top_p": 0.5, "prompt": "x",
        "span_info": {"metadata": {"prompt": {"variables": {"no_trace": 1}, "id": None, "project_id": None, "version": None}}}}
    with pytest.raises(ValueError, match=r"Could not find key 'who', 'what' \(prompt 'p'; pass them to build\(\)"):
        build(chat("{{who}} {{what}}"), strict=True)
    strictly = build(chat("{{who}}"), who="me", strict=True)
    assert strictly["span_info"]["metadata"]["prompt"]["variables"] == {"who": "me", "strict": True}  # (as 0.48.1 logs them)
    tool_turn = {"prompt": {"type": "chat", "messages": [
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
                                                               "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "content": "result for {{x}}", "tool_call_id": "c1"}]}, "options": {"model": "m"}}
    messages = build(tool_turn, x="y")["messages"]
    assert messages == [{"role": "assistant", "content": None, "tool_calls": tool_turn["prompt"]["messages"][0]["tool_calls"]},
                        {"role": "tool", "content": "result for y", "tool_call_id": "c1"}]
    broken_tools = {"prompt": {"type": "chat", "messages": [], "tools": "[{\"name\": {{x}}}]"}, "options": {"model": "m"}}
    with pytest.raises(ValueError, match="its tools are not valid JSON once rendered"):
        build(broken_tools, x="not json")
    assert build(broken_tools, x="1")["tools"] == [{"name": 1}]


def test_the_prompt_reads_as_the_public_sdks_does():
    prompt = Prompt.from_prompt_data("p", {"prompt": {"type": "chat", "messages": [{"role": "user", "content": "hi"}]},
                                           "options": {"model": "m", "params": {"temperature": 1}}})
    assert list(prompt) == ["model", "params", "chat", "tools"] and len(prompt) == 4 and prompt["tools"] is None
    assert prompt["chat"][0].role == "user" and prompt["chat"][0].name is None
    assert prompt.prompt.as_dict() == {"messages": [{"role": "user", "content": "hi", "name": None, "function_call": None,
                                                     "tool_calls": None}], "tools": None, "type": "chat"}
    completion = Prompt.from_prompt_data("c", {"prompt": {"type": "completion", "content": "Say {{x}}"}, "options": {"model": "m"}})
    assert list(completion) == ["model", "prompt"] and completion["prompt"] == "Say {{x}}"
    assert completion.prompt.as_dict() == {"content": "Say {{x}}", "type": "completion"}
    assert prompt.prompt.type == "chat" and prompt.prompt.messages[0].content == "hi"
    assert prompt.options == {"model": "m", "params": {"temperature": 1}}
    built = prompt.build()
    built["messages"][0]["content"] = "changed"
    assert prompt.build()["messages"][0]["content"] == "hi"
    assert "load_prompt" in braintrust.__all__ and "Prompt" in braintrust.__all__


def test_a_broken_template_names_the_prompt():
    from braintrust.prompts.mustache import TemplateError

    with pytest.raises(TemplateError, match=r"Prompt 'p' has a template that cannot be rendered: section 'items' opened at line 1"):
        Prompt.from_prompt_data("p", chat("{{#items}} never closed")).build()


# -- get_prompt_versions ------------------------------------------------------------------------


def test_get_prompt_versions_answers_each_version_loadable(bt_env):
    first = bt_env.add_prompt("proj", "hello", chat("v1 {{x}}"))
    second = bt_env.add_prompt("proj", "hello", chat("v2 {{x}}"))
    bt_env.add_prompt("proj", "other", chat("other"))
    project_id = first["project_id"]
    versions = braintrust.get_prompt_versions(project_id, first["id"])
    assert versions == [prettify_xact(first["_xact_id"]), prettify_xact(second["_xact_id"])]
    texts = [load_prompt("proj", "hello", version=v).build(x=1)["messages"][0]["content"] for v in versions]
    assert texts == ["v1 1", "v2 1"]
    request = bt_env.requests_to("/btql", "POST")[0]
    assert request.json["audit_log"] is True and request.header("Accept-Encoding") == "gzip"
    # (another project's prompt id, or an unknown one: no versions)
    assert braintrust.get_prompt_versions("another-project", first["id"]) == []
    assert braintrust.get_prompt_versions(project_id, "no-such-prompt") == []


def test_get_prompt_versions_keeps_only_upserts_and_merges(bt_env):
    entries = [{"_xact_id": "7", "audit_data": {"action": "upsert"}}, {"_xact_id": "8", "audit_data": {"action": "delete"}},
               {"_xact_id": "9", "audit_data": {"action": "merge"}}, {"_xact_id": "10"}]
    bt_env.script("POST", "/btql", [{"status": 200, "body": {"data": entries}}])
    assert braintrust.get_prompt_versions("p", "x") == [prettify_xact(7), prettify_xact(9)]


def test_get_prompt_versions_errors_say_what_to_do(bt_env, monkeypatch):
    with pytest.raises(ValueError, match="prompt_id must be a non-empty string"):
        braintrust.get_prompt_versions("p", "")
    bt_env.script("POST", "/btql", [400])
    with pytest.raises(ValueError, match="Braintrust refused the versions of prompt x: .*400"):
        braintrust.get_prompt_versions("p", "x")
    bt_env.script("POST", "/btql", [{"status": 200, "body": {"rows": []}}])
    with pytest.raises(ValueError, match="without a 'data' list"):
        braintrust.get_prompt_versions("p", "x")
    for entry in ({"audit_data": {"action": "upsert"}}, {"_xact_id": None, "audit_data": {"action": "upsert"}},
                  {"_xact_id": "v1", "audit_data": {"action": "merge"}}):
        bt_env.script("POST", "/btql", [{"status": 200, "body": {"data": [entry]}}])
        with pytest.raises(ValueError, match="answered a version of prompt x without a valid '_xact_id'"):
            braintrust.get_prompt_versions("p", "x")


def test_get_prompt_versions_without_a_key_says_prompts_live_in_braintrust():
    with pytest.raises(ValueError, match="no API key is set: set BRAINTRUST_API_KEY"):
        braintrust.get_prompt_versions("p", "x")


def test_load_prompt_async_fetches_at_the_await(bt_env):
    import asyncio

    bt_env.add_prompt("proj", "hello", CHAT)

    async def main():
        prompt = await braintrust.load_prompt_async("proj", "hello")
        fetched = len(prompt_gets(bt_env))
        with pytest.raises(PromptNotFound, match="Prompt nope not found"):
            await braintrust.load_prompt_async("proj", "nope")
        return prompt, fetched

    prompt, fetched = asyncio.run(main())
    assert fetched == 1 and prompt.build(name="Ada")["messages"] == [{"role": "user", "content": "Hi Ada"}]


BUILD_CASES = json.loads((Path(__file__).parent.parent / "data" / "prompts" / "build_cases.json").read_text())["cases"]


@pytest.mark.parametrize("case", BUILD_CASES, ids=[case["name"] for case in BUILD_CASES])
def test_build_renders_parts_tools_and_response_schemas_as_the_public_sdk(case):
    """Multi-part messages (text, image URL, file parts), tools given as JSON text, and a
    response format's schema given as an object (only its string values rendered) or as text
    (rendered without HTML escaping, then parsed): ``build()``'s output recorded from 0.48.1
    (tests/data/prompts/build_cases.json)."""
    prompt = Prompt.from_prompt_data(case["name"], json.loads(json.dumps(case["prompt_data"])))
    assert json.loads(json.dumps(prompt.build(**case["variables"]))) == case["built"]
