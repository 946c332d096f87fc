"""Prompts and functions against the public SDK 0.48.1: the slugs ``braintrust.projects`` makes of
names (0.48.1 uses python-slugify 9.2.0; every expected slug below is its output for the name),
and ``BraintrustStream`` made from a list of chunks."""

from __future__ import annotations

import pytest

import braintrust
from braintrust import Prompt
from braintrust.functions.definitions import slugify
from braintrust.functions.stream import BraintrustInvokeError, BraintrustJsonChunk, BraintrustStream, \
    BraintrustErrorChunk, BraintrustTextChunk

# (name, the slug 0.48.1 makes of it)
PUBLIC_SLUGS = [
    ("ß straße", "ss-strasse"),
    ("Ærøskøbing", "aeroskobing"),
    ("Łódź", "lodz"),
    ("Œuvre", "oeuvre"),
    ("Þór ðe", "thor-de"),
    ("x&amp;y", "x-y"),
    ("&lt;tag&gt;", "tag"),
    ("a&#38;b", "a-b"),
    ("x&#x26;y", "x-y"),
    ("caf&eacute;", "cafe"),
    ("1,000 items", "1000-items"),
    ("v1.5, 2", "v1-5-2"),
    ("Mañana, 10,5", "manana-105"),
    ("½ price", "1-2-price"),
    ("A—B", "a-b"),
    ("€5 × 2", "eur5-x-2"),
    ("a©b", "a-c-b"),
    ("20°", "20deg"),
    ("It’s", "its"),
    ("emoji 🎉 party", "emoji-party"),
    ("٣ apples", "3-apples"),
    ("naïve café", "naive-cafe"),
]


@pytest.mark.parametrize("name, slug", PUBLIC_SLUGS)
def test_slugs_spell_names_as_the_public_sdk_does(name, slug):
    assert slugify(name) == slug


def test_a_published_prompt_has_the_public_sdks_slug(bt_env):
    project = braintrust.projects.create("qa4-slugs")
    prompt = project.prompts.create(name="Straße Größe", model="m", messages=[{"role": "user", "content": "hi"}])
    assert prompt.slug == "strasse-grosse"
    project.publish()
    assert [definition["slug"] for definition in bt_env.inserted_functions] == ["strasse-grosse"]


@pytest.mark.parametrize("name", ["Привет мир", "Report 日本"])
def test_a_name_whose_letters_have_no_ascii_spelling_here_needs_a_slug(name):
    """0.48.1 transliterates them ("privet-mir", "report-ri-ben"); a slug of ours that silently
    lost them ("report") would name another function, so ``slug=`` is asked for."""
    project = braintrust.projects.create("qa4-slugs")
    with pytest.raises(ValueError, match=r"gives no slug the public SDK would give .*pass slug="):
        project.prompts.create(name=name, model="m", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(ValueError, match="pass slug="):
        project.tools.create(handler=len, name=name)
    assert project.code_prompts == [] and project.code_functions == []
    assert project.prompts.create(name=name, slug="report", model="m", prompt="hi").slug == "report"


def test_a_stream_made_from_a_list_reads_again_each_time():
    """0.48.1's ``BraintrustStream([chunk, ...])`` iterates its list: every pass, and
    ``final_value()`` before or after, sees every chunk."""
    stream = BraintrustStream([BraintrustJsonChunk('{"a": '), BraintrustJsonChunk("[1]}")])
    assert len(list(stream)) == 2 and len(list(stream)) == 2
    assert stream.final_value() == {"a": [1]} and len(list(stream)) == 2
    copied = stream.copy()
    assert copied.final_value() == {"a": [1]} and stream.final_value() == {"a": [1]}
    failed = BraintrustStream([BraintrustTextChunk("part"), BraintrustErrorChunk("boom")])
    assert [chunk.type for chunk in failed] == ["text_delta", "error"]
    with pytest.raises(BraintrustInvokeError, match="boom"):
        failed.final_value()


@pytest.mark.parametrize("response_format", [
    {"type": "json_object", "json_schema": {"name": "s", "schema": "{\"d\": \"{{a}}\"}"}},
    {"type": "text", "json_schema": {"name": "s", "schema": {"d": "{{a}}"}}},
    {"json_schema": {"name": "s", "schema": {"d": "{{a}}"}}},
])
def test_a_schema_left_under_another_response_format_type_is_sent_as_it_is(response_format):
    """0.48.1 renders (and parses) the schema of a ``json_schema`` response format only: one left
    behind when the prompt's format was switched to another type goes out unchanged."""
    prompt = Prompt.from_prompt_data("switched", {"prompt": {"type": "chat", "messages": [{"role": "user", "content": "x"}]},
                                                  "options": {"model": "m", "params": {"response_format": response_format}}})
    assert prompt.build(a="<1>")["response_format"] == response_format
    schema_type = {**response_format, "type": "json_schema"}
    prompt = Prompt.from_prompt_data("schema", {"prompt": {"type": "chat", "messages": [{"role": "user", "content": "x"}]},
                                                "options": {"model": "m", "params": {"response_format": schema_type}}})
    assert prompt.build(a="<1>")["response_format"]["json_schema"]["schema"] == {"d": "<1>"}


# (template, chevron 0.14.0's output with {"a": True}): a standalone tag takes the spaces before it
# but not tabs, and at the template's end leaves the whitespace after it.
CHEVRON_STANDALONE = [
    ("{{=<% %>=}}\t", "\t"),
    ("\t{{=<% %>=}}", "\t"),
    (" {{=<% %>=}} ", " "),
    ("{{! x }}\t", "\t"),
    ("\t{{#a}}\nX{{/a}}", "\tX"),
    ("a\n\t{{=<% %>=}}\t\nx", "a\n\tx"),
    ("a\n {{! c }}\t\nb", "a\nb"),
    ("a\n\t{{! c }}\nb", "a\n\tb"),
    ("a\n \t {{#a}}\nb\n\t{{/a}}\nc", "a\n \tb\n\tc"),
    ("{{#a}}\nX\n{{/a}}\n", "X\n"),
]


@pytest.mark.parametrize("template, rendered", CHEVRON_STANDALONE)
def test_standalone_tags_take_the_whitespace_chevron_takes(template, rendered):
    prompt = Prompt.from_prompt_data("ws", {"prompt": {"type": "completion", "content": template}, "options": {"model": "m"}})
    assert prompt.build(a=True)["prompt"] == rendered


def test_an_ascii_apostrophe_separates_words_as_in_the_public_sdk():
    assert slugify("it's done") == "it-s-done"
    assert slugify("don't stop") == "don-t-stop"


def test_a_message_without_text_is_built_with_content_null_as_in_the_public_sdk():
    prompt = Prompt.from_prompt_data("calls", {"prompt": {"type": "chat", "messages": [
        {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}}]}, "options": {"model": "m"}})
    assert prompt.build()["messages"] == [{"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}}]
