"""Record the public SDK's call signatures (facts about its API, no code) for signature parity.

    cd /tmp && /work/main/bench/.venvs/public-sdk/bin/python /work/main/tests/data/record_public_signatures.py

Run it with the public SDK's interpreter from outside the checkout (or it imports ours). It writes
``public-signatures.json`` beside this file: for every name in our ``braintrust.__all__`` (read from
the source, not imported) and every import path in ``public-api-names.md`` that the public SDK
has, the name's kind and signature; for classes also their public methods' signatures and their
property names. ``tests/sdk/test_public_signatures.py`` imports the helpers below to describe our
package the same way and compares.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import importlib
import inspect
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
OUT = HERE / "public-signatures.json"

#: Dunder methods user code relies on (``with``, iteration, calls); other dunders are not recorded.
PROTOCOL_DUNDERS = (
    "__call__",
    "__enter__",
    "__exit__",
    "__aenter__",
    "__aexit__",
    "__iter__",
    "__aiter__",
    "__next__",
    "__anext__",
    "__len__",
    "__getitem__",
)

#: Where the public SDK keeps top-level names of ours that its ``braintrust`` does not re-export.
FALLBACK_MODULES = (
    "braintrust.framework",
    "braintrust.oai",
    "braintrust.integrations.openai.tracing",
    "braintrust.wrappers.litellm",
    "braintrust.integrations.litellm.tracing",
    "braintrust.integrations.anthropic.tracing",
)

SIMPLE_DEFAULTS = (type(None), bool, int, float, str)


def wanted_names() -> list[tuple[str, str]]:
    """``(module, name)`` pairs: our top-level ``__all__`` plus the names file's import paths."""
    tree = ast.parse((ROOT / "braintrust" / "__init__.py").read_text(encoding="utf-8"))
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            names = list(ast.literal_eval(node.value))
    pairs = [("braintrust", name) for name in names]
    text = (HERE / "public-api-names.md").read_text(encoding="utf-8").replace("\n  ", " ")
    for module, listed in re.findall(r"`from (braintrust[\w.]*) import ([^`]+)`", text):
        pairs += [(module, name.strip()) for name in listed.split(",")]
    return sorted(set(pairs))


def describe_signature(obj, drop_first: bool = False) -> list[dict] | None:
    """The parameters of ``obj`` as data, or None when Python cannot tell."""
    try:
        params = list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        return None
    if drop_first and params and params[0].kind in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
        params = params[1:]
    out = []
    for p in params:
        item = {"name": p.name, "kind": p.kind.name, "has_default": p.default is not p.empty}
        if item["has_default"] and type(p.default) in SIMPLE_DEFAULTS:
            item["default"] = repr(p.default)
        out.append(item)
    return out


def _own_members(cls) -> dict[str, tuple[type, object]]:
    """Public members defined by ``cls`` or a base class that is not a builtin / typing / abc base."""
    members: dict[str, tuple[type, object]] = {}
    for base in reversed(cls.__mro__):
        if base.__module__ in ("builtins", "typing", "abc", "collections.abc", "enum", "typing_extensions"):
            continue
        for name, value in vars(base).items():
            if not name.startswith("_") or name in PROTOCOL_DUNDERS:
                members[name] = (base, value)
    return members


def describe_class(cls) -> dict:
    """Constructor, methods (called through an instance), properties and, for enums, members."""
    info: dict = {"kind": "class", "init": None, "methods": {}, "properties": []}
    if issubclass(cls, enum.Enum):
        info["kind"] = "enum"
        info["members"] = {m.name: repr(m.value) for m in cls}
        return info
    if isinstance(cls, type) and issubclass(cls, dict) and hasattr(cls, "__required_keys__"):
        info["kind"] = "typeddict"
        info["keys"] = sorted(cls.__annotations__)
        return info
    info["init"] = describe_signature(cls)
    if dataclasses.is_dataclass(cls):
        info["fields"] = [f.name for f in dataclasses.fields(cls)]
    for name, (_base, value) in sorted(_own_members(cls).items()):
        if isinstance(value, property) or type(value).__name__ == "cached_property":
            info["properties"].append(name)
        elif isinstance(value, staticmethod):
            info["methods"][name] = {"binding": "static", "params": describe_signature(value.__func__)}
        elif isinstance(value, classmethod):
            info["methods"][name] = {"binding": "class", "params": describe_signature(value.__func__, True)}
        elif inspect.isfunction(value) or inspect.ismethoddescriptor(value):
            info["methods"][name] = {"binding": "instance", "params": describe_signature(value, True)}
    return info


def describe(obj) -> dict:
    """What a public name is: a function, a class (see ``describe_class``), an instance of one, or other."""
    if inspect.isclass(obj):
        return describe_class(obj)
    if inspect.isfunction(obj) or inspect.isbuiltin(obj) or inspect.ismethod(obj):
        return {"kind": "function", "params": describe_signature(obj)}
    if callable(obj) and hasattr(obj, "__wrapped__"):
        return {"kind": "function", "params": describe_signature(obj)}
    if type(obj).__module__.startswith("braintrust"):
        return {"kind": "instance", "class": describe_class(type(obj))}
    return {"kind": "other"}


def record() -> dict:
    import braintrust

    if Path(braintrust.__file__).resolve().parent == ROOT / "braintrust":
        sys.exit("this imported the checkout's braintrust; run from outside the checkout (see docstring)")
    from braintrust.version import VERSION

    names = {}
    for module, name in wanted_names():
        for where in (module, *FALLBACK_MODULES):
            try:
                obj = getattr(importlib.import_module(where), name)
            except (ImportError, AttributeError):
                continue
            names[f"{module}:{name}"] = {**describe(obj), **({"found_in": where} if where != module else {})}
            break
    return {"sdk_version": VERSION, "names": names}


if __name__ == "__main__":
    OUT.write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
