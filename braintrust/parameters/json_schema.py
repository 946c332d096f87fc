"""Checking saved parameters' values against their JSON schema (draft 7), as Braintrust stores it.

Saved parameters' schemas are small: an object of properties, each a type with a default, an
``x-bt-type`` ("prompt", "model"), or a pydantic model's schema. This checks the keywords such
schemas use: ``type`` (``integer`` is a whole number, never a bool), ``enum``, ``const``,
``properties``, ``patternProperties``, ``required``, ``additionalProperties``, ``propertyNames``,
``minProperties`` / ``maxProperties``, ``items``, ``minItems`` / ``maxItems``, ``uniqueItems``,
``minimum`` / ``maximum`` (and exclusive), ``multipleOf``, ``minLength`` / ``maxLength``,
``pattern``, ``allOf`` / ``anyOf`` / ``oneOf`` / ``not``, and local ``$ref`` (``#/...``): every
keyword pydantic writes. Other keywords (``format``, ``dependencies``, ``if``/``then``...) are not
checked, as a draft-7 validator leaves ``format`` unchecked by default. Messages and their order
(by path) are the ``jsonschema`` package's, which the public SDK uses.
"""

from __future__ import annotations

import copy
import math
import re
from typing import Any, Iterator, Mapping
from urllib.parse import unquote

__all__ = ["apply_defaults", "resolve_ref", "schema_errors", "validate_json_schema"]

_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
}


def apply_defaults(instance: Any, schema: Mapping[str, Any]) -> Any:
    """``instance`` with the ``default`` of each property it lacks filled in, at every level of
    objects and arrays of objects it has: a new value where anything is filled in (copies of the
    defaults), so neither the caller's values nor the schema change."""
    if not isinstance(instance, dict) or schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
        return instance
    filled = dict(instance)
    for name, property_schema in schema["properties"].items():
        if not isinstance(property_schema, dict):
            continue
        if name not in filled and "default" in property_schema:
            filled[name] = copy.deepcopy(property_schema["default"])
        value = filled.get(name)
        if isinstance(value, dict):
            filled[name] = apply_defaults(value, property_schema)
        elif isinstance(value, list) and isinstance(property_schema.get("items"), dict):
            filled[name] = [apply_defaults(item, property_schema["items"]) for item in value]
    return filled


def validate_json_schema(values: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with the schema's defaults filled in; a ``ValueError`` lists every violation."""
    candidate = apply_defaults(dict(values), schema)
    errors = schema_errors(candidate, schema)
    if errors:
        raise ValueError(f"Invalid parameters: {', '.join(errors)}")
    return candidate


def schema_errors(instance: Any, schema: Any) -> list[str]:
    """Every way ``instance`` breaks ``schema``, each as ``"<dotted path or root>: <message>"``,
    ordered by path (an object's members before deeper ones, as 0.48.1 lists them)."""
    root = schema if isinstance(schema, dict) else {}
    found = sorted(_errors(instance, schema, root, ()), key=lambda error: [(isinstance(p, str), p) for p in error[0]])
    return [f"{'.'.join(str(p) for p in path) or 'root'}: {message}" for path, message in found]


def _errors(value: Any, schema: Any, root: Mapping[str, Any], path: tuple, refs: tuple[str, ...] = ()) -> Iterator[tuple[tuple, str]]:
    """``refs``: the ``$ref``s followed for this same value (a cycle of them would never end)."""
    if schema is True or schema is None or (isinstance(schema, dict) and not schema):
        return
    if schema is False:
        yield path, "False schema does not allow " + _show(value)
        return
    if not isinstance(schema, dict):
        return
    ref = schema.get("$ref")
    if isinstance(ref, str):
        if ref in refs:
            raise ValueError(f"JSON schema $ref {ref!r} leads back to itself ({' -> '.join((*refs, ref))}): the schema is circular.")
        yield from _errors(value, resolve_ref(ref, root), root, path, (*refs, ref))
        return
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        if not any(_TYPES.get(name, lambda v: True)(value) for name in names):
            yield path, f"{_show(value)} is not of type {', '.join(repr(n) for n in names)}"
            return
    if "enum" in schema and not any(_same(value, option) for option in schema["enum"]):
        yield path, f"{_show(value)} is not one of {schema['enum']!r}"
    if "const" in schema and not _same(value, schema["const"]):
        yield path, f"{schema['const']!r} was expected"
    if isinstance(value, dict):
        yield from _object_errors(value, schema, root, path)
    elif isinstance(value, list):
        yield from _array_errors(value, schema, root, path)
    elif isinstance(value, str):
        yield from _size_errors(value, len(value), schema, "Length", path)
        if isinstance(schema.get("pattern"), str) and not re.search(schema["pattern"], value):
            yield path, f"{_show(value)} does not match {schema['pattern']!r}"
    elif _TYPES["number"](value):
        for keyword, fails, words in (("minimum", lambda v, b: v < b, "is less than the minimum of"),
                                      ("maximum", lambda v, b: v > b, "is greater than the maximum of"),
                                      ("exclusiveMinimum", lambda v, b: v <= b, "is less than or equal to the minimum of"),
                                      ("exclusiveMaximum", lambda v, b: v >= b, "is greater than or equal to the maximum of")):
            bound = schema.get(keyword)
            if _TYPES["number"](bound) and fails(value, bound):
                yield path, f"{value!r} {words} {bound!r}"
        step = schema.get("multipleOf")
        if _TYPES["number"](step) and step > 0 and not _is_multiple(value, step):
            yield path, f"{value!r} is not a multiple of {step!r}"
    for part in schema.get("allOf") or []:
        yield from _errors(value, part, root, path, refs)
    if schema.get("anyOf") and not any(_valid(value, part, root, refs) for part in schema["anyOf"]):
        yield path, f"{_show(value)} is not valid under any of the given schemas"
    if schema.get("oneOf"):
        matches = [part for part in schema["oneOf"] if _valid(value, part, root, refs)]
        if not matches:
            yield path, f"{_show(value)} is not valid under any of the given schemas"
        elif len(matches) > 1:  # (jsonschema names the first match last)
            yield path, f"{_show(value)} is valid under each of {', '.join(repr(part) for part in (*matches[1:], matches[0]))}"
    if "not" in schema and _valid(value, schema["not"], root, refs):
        yield path, f"{_show(value)} should not be valid under {schema['not']!r}"


def _object_errors(value: dict, schema: dict, root: Mapping[str, Any], path: tuple) -> Iterator[tuple[tuple, str]]:
    for name in schema.get("required") or []:
        if name not in value:
            yield path, f"{name!r} is a required property"
    yield from _size_errors(value, len(value), schema, "Properties", path)
    names = schema.get("propertyNames")
    if names is not None:
        for name in value:
            yield from _errors(name, names, root, path)
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    patterns = schema.get("patternProperties") if isinstance(schema.get("patternProperties"), dict) else {}
    extra = []
    for name, item in value.items():
        if name in properties:
            yield from _errors(item, properties[name], root, (*path, name))
        matched = [pattern for pattern in patterns if re.search(pattern, name)]
        for pattern in matched:
            yield from _errors(item, patterns[pattern], root, (*path, name))
        if name not in properties and not matched:
            extra.append(name)
            if isinstance(schema.get("additionalProperties"), dict):
                yield from _errors(item, schema["additionalProperties"], root, (*path, name))
    if extra and schema.get("additionalProperties") is False:
        listed = ", ".join(repr(name) for name in sorted(extra))
        if patterns:
            verb = "does" if len(extra) == 1 else "do"
            yield path, f"{listed} {verb} not match any of the regexes: {', '.join(repr(p) for p in sorted(patterns))}"
        else:
            yield path, f"Additional properties are not allowed ({listed} {'was' if len(extra) == 1 else 'were'} unexpected)"


def _array_errors(value: list, schema: dict, root: Mapping[str, Any], path: tuple) -> Iterator[tuple[tuple, str]]:
    yield from _size_errors(value, len(value), schema, "Items", path)
    if schema.get("uniqueItems") is True and any(_same(a, b) for i, a in enumerate(value) for b in value[i + 1:]):
        yield path, f"{_show(value)} has non-unique elements"
    items = schema.get("items")
    if isinstance(items, dict):
        for index, item in enumerate(value):
            yield from _errors(item, items, root, (*path, index))
    elif isinstance(items, list):
        for index, (item, item_schema) in enumerate(zip(value, items)):
            yield from _errors(item, item_schema, root, (*path, index))


def _size_errors(value: Any, size: int, schema: dict, what: str, path: tuple) -> Iterator[tuple[tuple, str]]:
    """``min<what>`` / ``max<what>`` (``Length``, ``Items``, ``Properties``)."""
    low, high = schema.get("min" + what), schema.get("max" + what)
    if _TYPES["number"](low) and size < low:
        yield path, f"{_show(value)} {'should be non-empty' if low == 1 else 'is too short' if what != 'Properties' else 'does not have enough properties'}"
    if _TYPES["number"](high) and size > high:
        yield path, f"{_show(value)} {'is expected to be empty' if high == 0 else 'is too long' if what != 'Properties' else 'has too many properties'}"


def _is_multiple(value: Any, step: Any) -> bool:
    if isinstance(value, int) and isinstance(step, int):
        return value % step == 0
    try:
        quotient = value / step
        return math.isfinite(quotient) and quotient == int(quotient)
    except (OverflowError, ZeroDivisionError):
        return False


def _valid(value: Any, schema: Any, root: Mapping[str, Any], refs: tuple[str, ...]) -> bool:
    return next(_errors(value, schema, root, (), refs), None) is None


def resolve_ref(ref: str, root: Mapping[str, Any]) -> Any:
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        raise ValueError(f"Unsupported JSON schema $ref {ref!r}: only references inside the schema (#/...) are resolved.")
    node: Any = root
    for part in ref[2:].split("/"):
        part = unquote(part).replace("~1", "/").replace("~0", "~")  # (a URI fragment: percent-encoded, then ~-escaped)
        if not isinstance(node, dict) or part not in node:
            raise ValueError(f"JSON schema $ref {ref!r} points at nothing in the schema.")
        node = node[part]
    return node


def _same(a: Any, b: Any) -> bool:
    """JSON equality, at every depth: 1 == 1.0, but True is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[key], b[key]) for key in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
