"""The BTQL the SDKs send to read rows of one object (``POST /btql``, 0.48.1's ``ObjectFetcher``
with ``_internal_btql``): ``from: experiment(<id>)`` or ``dataset(<id>)``, a ``filter`` made of
the operators 0.48.1's span filters use, ``limit`` and ``cursor`` (and the body's ``version``
beside the query, handlers.py). Anything else is refused
(400) naming what is not understood, so an SDK sending a query this server cannot answer fails
its test rather than getting rows it did not ask for."""

from __future__ import annotations

from typing import Any

from .objects import ApiError

#: Comparison operators: (left value, right value) -> bool; a missing value compares false.
_COMPARE = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "ge": lambda a, b: a >= b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "lt": lambda a, b: a < b,
}


def _field(row: dict[str, Any], path: list[str]) -> Any:
    value: Any = row
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def value_of(expr: Any, row: dict[str, Any]) -> Any:
    if not isinstance(expr, dict):
        raise ApiError(400, f"BTQL: an expression must be an object, got {expr!r:.200}")
    op = expr.get("op")
    if op == "literal":
        return expr.get("value")
    if op == "ident":
        return _field(row, list(expr.get("name") or []))
    if op == "sub":
        left, right = value_of(expr.get("left"), row), value_of(expr.get("right"), row)
        return left - right if isinstance(left, (int, float)) and isinstance(right, (int, float)) else None
    return matches(expr, row)


def matches(expr: Any, row: dict[str, Any]) -> bool:
    """Whether ``row`` passes the filter ``expr``."""
    if not isinstance(expr, dict):
        raise ApiError(400, f"BTQL: a filter must be an object, got {expr!r:.200}")
    op = expr.get("op")
    if op == "and":
        return all(matches(child, row) for child in expr.get("children") or [])
    if op == "or":
        return any(matches(child, row) for child in expr.get("children") or [])
    if op == "literal":
        return bool(expr.get("value"))
    if op in ("isnull", "isnotnull"):
        return (value_of(expr.get("expr"), row) is None) == (op == "isnull")
    if op == "in":
        options = value_of(expr.get("right"), row)
        if not isinstance(options, list):
            raise ApiError(400, f"BTQL: 'in' needs a list on its right, got {options!r:.200}")
        return value_of(expr.get("left"), row) in options
    if op in _COMPARE:
        left, right = value_of(expr.get("left"), row), value_of(expr.get("right"), row)
        if left is None or right is None:
            return False
        try:
            return _COMPARE[op](left, right)
        except TypeError:
            return False
    raise ApiError(400, f"BTQL: this test server does not know the operator {op!r} ({expr!r:.200})")


def object_of(query: dict[str, Any]) -> tuple[str, str] | None:
    """``(object type, id)`` of a query ``from: experiment(<id>)`` / ``dataset(<id>)``, else None."""
    source = query.get("from")
    if not isinstance(source, dict) or source.get("op") != "function":
        return None
    name = (source.get("name") or {}).get("name")
    args = source.get("args")
    if name not in (["experiment"], ["dataset"]) or not isinstance(args, list) or len(args) != 1:
        return None
    object_id = args[0].get("value") if isinstance(args[0], dict) else None
    return (name[0], object_id) if isinstance(object_id, str) else None
