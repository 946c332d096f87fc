"""Write ``mustache_cases.json``: templates rendered by ``chevron`` (the renderer the public SDK's
``Prompt.build`` uses, with its default HTML escaping), as golden outputs for ours.

    bench/.venvs/public-sdk/bin/python tests/data/prompts/record_mustache_cases.py

Each case is ``{"template", "data", "output"}``, or ``"error"`` where chevron refuses the template; the data are JSON, as prompt variables usually
are. Run it again after adding cases; the public SDK's venv has chevron (``bench/setup_public_sdk.sh``).
"""

from __future__ import annotations

import json
from pathlib import Path

import chevron

PEOPLE = {"people": [{"name": "Ada", "langs": ["en", "fr"]}, {"name": "<Bob>", "langs": []}], "title": "Team"}

CASES = [
    # variables and escaping
    ("Hello {{name}}!", {"name": "World"}),
    ("{{a}}|{{{a}}}|{{&a}}|{{& a}}|{{ a }}", {"a": "<b> & \"c\" 'd' `e` =f= /g/"}),
    ("[{{missing}}]", {}),
    ("{{n}} {{f}} {{big}} {{neg}} {{zero}} {{t}} {{fa}} {{none}} {{empty}}",
     {"n": 3, "f": 1.5, "big": 1e20, "neg": -0.25, "zero": 0, "t": True, "fa": False, "none": None, "empty": ""}),
    ("{{list}} / {{obj}} / {{nested}} / {{el}} / {{eo}}",
     {"list": [1, "a", None], "obj": {"k": "<v>", "n": 1}, "nested": {"a": [True]}, "el": [], "eo": {}}),
    ("{{u}}", {"u": "h\u00e9llo \u2603 \U0001f600"}),
    ("{{a.b.c}} {{a.b}} {{a.x.c}} {{x.y}}", {"a": {"b": {"c": "deep"}}}),
    ("{{a.0}} {{a.1.k}} {{a.9}}", {"a": ["first", {"k": "v"}]}),
    ("{{.}}", {"k": 1}),
    # sections
    ("{{#show}}yes{{/show}}{{^show}}no{{/show}}", {"show": True}),
    ("{{#show}}yes{{/show}}{{^show}}no{{/show}}", {"show": False}),
    ("{{#v}}[{{v}}]{{/v}}{{^v}}none{{/v}}", {"v": 0}),
    ("{{#v}}[{{v}}]{{/v}}{{^v}}none{{/v}}", {"v": ""}),
    ("{{#v}}[{{v}}]{{/v}}{{^v}}none{{/v}}", {"v": None}),
    ("{{#v}}[{{.}}]{{/v}}{{^v}}none{{/v}}", {"v": []}),
    ("{{#v}}[{{k}}]{{/v}}{{^v}}none{{/v}}", {"v": {}}),
    ("{{#v}}[{{.}}]{{/v}}", {"v": "abc"}),
    ("{{#v}}[{{.}}]{{/v}}", {"v": 42}),
    ("{{#v}}[{{.}}]{{/v}}", {"v": 1.5}),
    ("{{#v}}[{{.}}]{{/v}}", {}),
    ("{{#items}}- {{.}}\n{{/items}}", {"items": ["a", "<b>", 3]}),
    ("{{#people}}{{name}}:{{#langs}}{{.}},{{/langs}}{{^langs}}none{{/langs}};{{/people}}", PEOPLE),
    ("{{#people}}{{title}}/{{name}} {{/people}}", PEOPLE),
    ("{{#obj}}{{k}} {{n}} {{outer}}{{/obj}}", {"obj": {"k": "v", "n": 2}, "outer": "o"}),
    ("{{#a.b}}{{c}}{{/a.b}}", {"a": {"b": {"c": "in"}}}),
    ("{{#a}}{{#b}}{{c}}{{/b}}{{/a}}", {"a": {"b": [{"c": 1}, {"c": 2}]}}),
    ("{{#list}}{{#.}}[{{.}}]{{/.}}{{/list}}", {"list": [[1, 2], [3]]}),
    ("{{#list}}{{name}}{{/list}}", {"list": [{"name": "x"}, {}, {"name": None}], "name": "outer"}),
    ("{{^a}}{{b}}{{/a}}", {"a": [], "b": "shown"}),
    ("{{#list}}[{{name}}]{{/list}}", {"list": [{"name": "x"}, {}, {"name": None}, {"name": 0}, {"name": False}, {"o": 1}], "name": "out"}),
    ("{{#list}}[{{.}}]{{/list}}", {"list": [0, 1, False, "", None, [], "s"]}),
    ("{{#a}}[{{b.c}}]{{/a}}", {"a": {"b": {}}, "b": {"c": "outer"}}),
    ("{{#a}}{{.}}{{/a}}", {"a": True}),
    ("{{#a}}{{.}}{{/a}}", {"a": {"k": "v"}}),
    ("[{{a.0.b}}] [{{a.-1}}]", {"a": [{"b": "z"}, 2]}),
    ("{{#a}}{{/a}}x", {"a": [1]}),
    ("{{#a}}one{{/a}}{{#a}}two{{/a}}", {"a": [1, 2]}),
    # whitespace: standalone tags and indentation
    ("Begin.\n{{#show}}\nShown.\n{{/show}}\nEnd.\n", {"show": True}),
    ("Begin.\n{{#show}}\nShown.\n{{/show}}\nEnd.\n", {"show": False}),
    ("Begin.\n  {{#show}}  \n  Shown.\n  {{/show}}\nEnd.", {"show": True}),
    ("Begin.\n{{! a comment }}\nEnd.", {}),
    ("Begin.\n  {{! indented comment }}  \nEnd.", {}),
    ("A {{! inline }} B", {}),
    ("{{!\nmulti\nline\n}}after", {}),
    ("Lines:\n{{#items}}\n  - {{name}}\n{{/items}}\nDone", {"items": [{"name": "a"}, {"name": "b"}]}),
    ("{{#a}}\n{{/a}}", {"a": True}),
    ("  {{#a}}\n  x\n  {{/a}}\n", {"a": True}),
    ("x {{#a}}\ny\n{{/a}} z", {"a": True}),
    ("|\r\n{{#a}}\r\nline\r\n{{/a}}\r\n|", {"a": True}),
    ("  {{v}}\n", {"v": "val"}),
    ("{{#a}}x{{/a}}\n", {"a": True}),
    ("#{{#a}}\n/\n{{/a}}", {"a": True}),
    ("\n{{#a}}\n{{/a}}", {"a": True}),
    # delimiters
    ("{{=<% %>=}}<% name %> {{name}} <%{ name }%>", {"name": "<x>"}),
    ("{{=| |=}}\n|name|\n|={{ }}=|\n{{name}}", {"name": "v"}),
    ("{{= [ ] =}}[#a][.][/a]", {"a": [1, 2]}),
    # partials (none are given, as in the SDK)
    ("a{{>part}}b", {"part": "p"}),
    ("  {{>part}}\n", {}),
    ("{{=<< >>=}}<<#a>>\n<<.>>\n<</a>>", {"a": [1, 2]}),
    ("{{^s}}\nx\n{{/s}}\n", {}),
    # odd but legal
    ("{{ name}} {{name }} {{  name  }}", {"name": "n"}),
    ("{{#a}}{{a}}{{/a}}", {"a": "<s>"}),
    ("{{a}}", {"a": "{{b}}", "b": "no"}),
    ("no tags at all", {"x": 1}),
    ("", {}),
    ("{ {single} } {{x}", {}),
    # malformed: chevron raises, and so must we
    ("a {{b", {}),
    ("{{#a}}never closed", {"a": True}),
    ("{{#a}}x{{/b}}", {"a": True}),
    ("{{/a}}", {}),
    # found by seeded fuzzing against chevron
    ("{{^a}}{{&.}}|{{{.}}}|{{.}}{{/a}}", {"a": False, "b": 1}),
    ("{{#a}}{{&.}}|{{.}}{{#a}}{{.}}{{/a}}{{/a}}", {"a": True}),
    ("[{{.}}]", {}),
    ("{{s.0}}{{s.-1}}[{{s.9}}]{{#s.1}}<{{.}}>{{/s.1}}", {"s": "abc"}),
    ("a {{{b}} c\n  {{{b}}  \nd", {"b": "<x>"}),
    ("{{=<% x %>=}}<%a%>", {"a": "v"}),
    ("{{=x=}}xax", {"a": "v"}),
    ("{{=<%\t%>=}}<%\t%>a<%\t%>", {"a": "v"}),
    ("{{=| |=}}|#a|\n  |{b}|\n|/a|", {"a": True, "b": "<x>"}),
    ("{{a}}{{= =}}{{a}}", {"a": "v"}),
    ("ab {{a}}{{", {"a": "v"}),
    ("{{=}}", {}),
    ("{{n}}", {"n": 10**30}),
    ("{{n}} {{m}}", {"n": 1e-7, "m": 100.0}),
]


def main() -> None:
    cases = []
    for template, data in CASES:
        try:
            cases.append({"template": template, "data": data, "output": chevron.render(template, data)})
        except chevron.ChevronError as exc:
            cases.append({"template": template, "data": data, "error": str(exc)})
    path = Path(__file__).with_name("mustache_cases.json")
    path.write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
