"""Differences from chevron / 0.48.1's ``Prompt.build`` found by seeded fuzzing that the recorded
cases (``mustache_cases.json``) cannot hold: ``build()`` arguments, and chevron's crash on ``{{}}``."""

from __future__ import annotations

import pytest

from braintrust.prompts.mustache import TemplateError, render
from braintrust.prompts.prompt import Prompt


def _prompt(content: str, schema: str | None = None) -> Prompt:
    options: dict = {"model": "m"}
    if schema is not None:
        options["params"] = {"response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}}
    return Prompt.from_prompt_data("p", {"prompt": {"type": "completion", "content": content}, "options": options})


def test_build_renders_strict_as_one_of_the_variables_as_0_48_1_does():
    # 0.48.1 passes build()'s arguments, strict= among them, to chevron as they are.
    template = "{{strict}}|{{x}}|{{#strict}}S{{/strict}}{{^strict}}N{{/strict}}"
    assert _prompt(template).build(x="<a>", strict=True)["prompt"] == "True|&lt;a&gt;|S"
    assert _prompt(template).build(x="<a>", strict=False)["prompt"] == "False|&lt;a&gt;|N"
    assert _prompt(template).build(x="<a>")["prompt"] == "|&lt;a&gt;|N"
    built = _prompt("q", schema='{"s": {{strict}}}').build(strict=False)
    assert built["response_format"]["json_schema"]["schema"] == {"s": False}


def test_strict_build_does_not_call_strict_itself_missing():
    assert _prompt("{{#strict}}checked{{/strict}}").build(strict=True)["prompt"] == "checked"


@pytest.mark.parametrize("template", ["a {{}} b", "{{=<% %>=}}x<%%>y"])
def test_an_empty_tag_is_a_template_error(template):
    # chevron fails there with an IndexError from its tokenizer; ours names the tag and the line.
    with pytest.raises(TemplateError, match=r"empty tag .* at line 1"):
        render(template, {})
