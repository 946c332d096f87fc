"""Our mustache renderer against chevron's outputs (``tests/data/prompts/mustache_cases.json``,
recorded by ``record_mustache_cases.py`` in the public SDK's venv), and strict mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from braintrust.prompts.mustache import MissingVariable, TemplateError, render

CASES = json.loads((Path(__file__).parents[1] / "data" / "prompts" / "mustache_cases.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[repr(c["template"])[:40] for c in CASES])
def test_renders_as_chevron_does(case):
    if "error" in case:
        with pytest.raises(TemplateError):
            render(case["template"], case["data"])
    else:
        assert render(case["template"], case["data"]) == case["output"]


def test_the_golden_cases_cover_every_kind_of_tag():
    templates = "".join(c["template"] for c in CASES)
    for marker in ("{{#", "{{^", "{{/", "{{!", "{{>", "{{=", "{{{", "{{&", "{{.}}", "\r\n"):
        assert marker in templates
    assert sum("error" in c for c in CASES) >= 3


def test_strict_names_every_missing_key_once():
    with pytest.raises(MissingVariable) as info:
        render("{{a}} {{b.c}} {{#items}}{{name}}{{/items}} {{^d}}{{/d}} {{a}}", {"b": {}, "items": [1, 2]}, strict=True)
    assert info.value.names == ["a", "b.c", "name", "d"]
    assert str(info.value).startswith("Template rendering failed: Could not find key 'a'")


def test_strict_accepts_none_and_names_found_in_outer_scopes():
    assert render("{{a}}|{{#items}}{{.}}{{name}}{{/items}}", {"a": None, "items": [1], "name": "o"}, strict=True) == "|1o"
    assert render("{{#empty}}{{nowhere}}{{/empty}}", {"empty": []}, strict=True) == ""


def test_unescaped_rendering_and_private_attributes():
    assert render("{{a}}", {"a": "<&>"}, escape=False) == "<&>"

    class Obj:
        visible = "yes"
        _hidden = "no"

    assert render("{{o.visible}}|{{o._hidden}}|{{o.__class__}}", {"o": Obj()}) == "yes||"


def test_error_messages_name_the_place():
    with pytest.raises(TemplateError, match="section 'a' opened at line 2 is never closed"):
        render("x\n{{#a}}y", {})
    with pytest.raises(TemplateError, match="closing tag 'b' at line 1 does not match the open section 'a'"):
        render("{{#a}}{{/b}}", {})


def test_sections_nested_too_deeply_are_a_template_error_not_a_recursion_error():
    deep = "{{#a}}" * 5000 + "x" + "{{/a}}" * 5000
    with pytest.raises(TemplateError, match=r"section 'a' at line 1 is nested more than 100 sections deep; flatten"):
        render(deep, {"a": True})
    fine = "{{#a}}" * 100 + "x" + "{{/a}}" * 100
    assert render(fine, {"a": True}) == "x"
