"""Mustache templates as the public SDK's prompts render them (it uses ``chevron``).

Supported: variables (``{{x}}`` HTML-escaped; ``{{{x}}}`` and ``{{& x}}`` raw), dotted names and
list indexes (``{{user.name}}``, ``{{items.0}}``), ``{{.}}``, sections and inverted sections,
comments, set-delimiter tags, and standalone lines (chevron's rules: the spaces before a standalone
tag go, tabs stay; at the template's end the whitespace after it stays). Partials render nothing: the
SDK gives none (chevron would read ``NAME.mustache`` from the current folder; we never read files). Lookups follow chevron where it differs from the spec: a dotted name
that fails in one scope is tried whole in the next; falsy items of a list section are skipped;
``True`` is the scope of a section it opens (and of an inverted section shown), yet ``{{.}}`` there is
the scope around it; ``{{word.0}}`` indexes a string; values render with ``str()`` (``None`` → ``""``).
Unlike chevron, attributes of objects are looked up only for names that do not start with ``_``.

``tests/data/prompts/mustache_cases.json`` holds chevron's outputs; the tests hold ours to them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["MissingVariable", "TemplateError", "escape_html", "parse", "render"]

_STANDALONE_KINDS = frozenset("#^/!>=?")  # ("?": a "{" tag without its third brace)
MAX_SECTION_DEPTH = 100  # rendering recurses per level; far beyond any real prompt


try:  # (0.48.1 raises chevron's error: code written for it may catch that type)
    from chevron import ChevronError as _ChevronError
except ImportError:
    _ChevronError = SyntaxError  # (chevron's error is a SyntaxError)


class TemplateError(ValueError, _ChevronError):
    """The template cannot be parsed (an unclosed tag or section, a stray closing tag).

    A ``ValueError``, and a ``SyntaxError`` (``chevron.ChevronError`` when chevron is installed),
    the type 0.48.1 raises there."""

    def __init__(self, message: str):
        # (SyntaxError's own __init__: its __str__ shows ``msg``, which ValueError's would leave unset)
        SyntaxError.__init__(self, message)


class MissingVariable(ValueError):
    """``strict`` rendering met names that no scope holds; ``names`` lists them in order."""

    def __init__(self, names: list[str], context: str | None = None):
        self.names = names
        keys = ", ".join(repr(name) for name in names)
        super().__init__(f"Template rendering failed: Could not find key {keys}" + (f" ({context})" if context else ""))


def escape_html(text: str) -> str:
    """chevron's escaping: ``&``, ``<``, ``>`` and ``"`` (not ``'``)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


@dataclass
class _Tag:
    kind: str  # "name" (escaped), "&" (raw), "#", "^"
    key: str
    children: list = field(default_factory=list)


def parse(template: str) -> list:
    """The template as a tree: strings and :class:`_Tag` nodes. Raises :class:`TemplateError`."""
    root: list = []
    stack: list[tuple[_Tag | None, list, int]] = [(None, root, 0)]
    left, right = "{{", "}}"
    pos = 0
    while True:
        start = template.find(left, pos) if left else -1  # (chevron: an empty delimiter ends the tags)
        if start < 0 or start + len(left) == len(template):  # (chevron drops a delimiter that ends the template)
            _add_text(stack[-1][1], template[pos:start if start >= 0 else len(template)])
            break
        end = template.find(right, start + len(left))
        if end < 0:
            raise TemplateError(f"unclosed tag {template[start:start + 20]!r} at line {_line(template, start)}")
        content = template[start + len(left):end]
        if not content:
            raise TemplateError(f"empty tag {left}{right} at line {_line(template, start)}: put a name in it, or remove it")
        after = end + len(right)
        kind = content[:1] if content[:1] in "#^/!>=&{" else ""
        if kind == "{":
            if left == "{{" and right == "}}" and template.startswith("}", after):
                after += 1
            else:  # (chevron: a "{" tag without its third brace renders nothing, and can stand alone)
                kind = "?"
        text = template[pos:start]
        if kind in _STANDALONE_KINDS:
            # chevron's rules: alone on its line but for whitespace, the tag takes the rest of the
            # line with it, newline included (at the template's end, nothing), and the spaces
            # (only spaces) before it; a partial keeps those.
            newline = text.rfind("\n")
            indent = text[newline + 1:]
            line_end = template.find("\n", after)
            rest = template[after:] if line_end < 0 else template[after:line_end]
            at_line_start = newline >= 0 or pos == 0 or template[pos - 1] == "\n"
            if at_line_start and (not indent or indent.isspace()) and (not rest or rest.isspace()):
                if kind != ">":
                    text = text.rstrip(" ")
                if line_end >= 0:
                    after = line_end + 1
        _add_text(stack[-1][1], text)
        pos = after
        key = content[1:].strip() if kind else content.strip()
        if kind == "=":
            if not content[1:].endswith("="):
                raise TemplateError(f"bad set-delimiter tag {left}{content}{right} at line {_line(template, start)}: "
                                    f"end it with '=', as in {{{{=<% %>=}}}}")
            # (chevron's reading: split at single spaces; the first part opens, the last closes)
            delimiters = content[1:-1].strip().split(" ")
            left, right = delimiters[0], delimiters[-1]
        elif kind in ("#", "^"):
            if len(stack) > MAX_SECTION_DEPTH:
                raise TemplateError(f"section {key!r} at line {_line(template, start)} is nested more than "
                                    f"{MAX_SECTION_DEPTH} sections deep; flatten the template")
            tag = _Tag(kind, key)
            stack[-1][1].append(tag)
            stack.append((tag, tag.children, start))
        elif kind == "/":
            opened = stack[-1][0]
            if opened is None:
                raise TemplateError(f"closing tag {key!r} at line {_line(template, start)} closes no section")
            if opened.key != key:
                raise TemplateError(f"closing tag {key!r} at line {_line(template, start)} does not match the open section {opened.key!r}")
            stack.pop()
        elif kind in ("", "&", "{"):
            stack[-1][1].append(_Tag("name" if kind == "" else "&", key))
        # comments ("!"), partials (">") and "{" tags without their third brace render nothing
    if len(stack) > 1:
        tag, _, opened_at = stack[-1]
        raise TemplateError(f"section {tag.key!r} opened at line {_line(template, opened_at)} is never closed")
    return root


def render(template: str, data: Any, *, strict: bool = False, escape: bool = True, json_values: bool = False) -> str:
    """Render ``template`` with ``data`` as the outermost scope.

    ``strict``: raise :class:`MissingVariable` naming every name no scope holds (a name whose
    value is ``None`` is present). ``escape=False`` renders ``{{x}}`` raw too. ``json_values``:
    every name's value is JSON text before it is used, in a section too (a list is one string,
    not iterated), as the public SDK renders a response format's schema.
    """
    missing: list[str] = []
    out: list[str] = []
    _render_nodes(parse(template), [data], out, missing if strict else None, escape, json_values)
    if missing:
        raise MissingVariable(list(dict.fromkeys(missing)))
    return "".join(out)


def _render_nodes(nodes: list, scopes: list, out: list[str], missing: list | None, escape: bool, json_values: bool) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
            continue
        found, value = _lookup(node.key, scopes)
        if not found and missing is not None:
            missing.append(node.key)
        if json_values:
            value = _json_text(value, node.key == ".")
        if node.kind in ("name", "&"):
            if node.kind == "name" and value is True and node.key == "." and len(scopes) > 1:
                value = scopes[1]  # (chevron: {{.}} in a section opened by True is the scope around it)
            text = _as_text(value, node.key == ".")
            out.append(escape_html(text) if node.kind == "name" and escape else text)
        elif node.kind == "^":
            if not value:  # (chevron: the section's scope is True)
                _render_nodes(node.children, [True, *scopes], out, missing, escape, json_values)
        elif not value:
            continue
        elif isinstance(value, (list, tuple)):
            for item in value:
                if item:
                    _render_nodes(node.children, [item, *scopes], out, missing, escape, json_values)
        else:
            _render_nodes(node.children, [value, *scopes], out, missing, escape, json_values)


def _lookup(key: str, scopes: list) -> tuple[bool, Any]:
    """``(found, value)``: the first scope that holds the whole (dotted) name."""
    if key == ".":
        return True, scopes[0]
    parts = key.split(".")
    for scope in scopes:
        value = scope
        for part in parts:
            value = _child(value, part)
            if value is _ABSENT:
                break
        else:
            return True, value
    return False, None


_ABSENT = object()


def _child(value: Any, name: str) -> Any:
    if isinstance(value, Mapping):
        return value[name] if name in value else _ABSENT
    if isinstance(value, (list, tuple, str)):  # (chevron indexes a string too: {{word.0}})
        try:
            return value[int(name)]
        except (ValueError, IndexError):
            return _ABSENT
    if name.startswith("_") or isinstance(value, (bytes, int, float)):
        return _ABSENT
    return getattr(value, name, _ABSENT)


def _json_text(value: Any, itself: bool) -> str:
    """A looked-up value as JSON text: a string as it is; other falsy values but 0 and False
    are "" (as chevron finds them), except the current item ``{{.}}``, taken as it is."""
    if not itself and not value and value not in (0, False):
        value = ""
    return value if isinstance(value, str) else json.dumps(value)


def _as_text(value: Any, itself: bool = False) -> str:
    """chevron's text of a value: ``str()``, but falsy values other than 0 and False are "",
    except the current item ``{{.}}``, taken as it is."""
    if isinstance(value, str):
        return value
    if itself:
        return str(value)
    if value is None or (not value and value is not False and value != 0):
        return ""
    return str(value)


def _add_text(nodes: list, text: str) -> None:
    if text:
        nodes.append(text)


def _line(template: str, index: int) -> int:
    return template.count("\n", 0, index) + 1
