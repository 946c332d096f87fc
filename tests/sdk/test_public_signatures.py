"""Code written for the public SDK 0.48.1 calls ours with the same arguments and finds the same members.

``tests/data/public-signatures.json`` holds 0.48.1's signatures (recorded by
``tests/data/record_public_signatures.py``, whose helpers describe our package the same way here).
Every parameter 0.48.1 accepts must be accepted by ours with the same name and kind, a
positional-or-keyword one at the same position, and the same simple default; every public method
and property must exist. ``KEPT`` lists the differences we keep on purpose.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
sys.path.insert(0, str(DATA))
import record_public_signatures as recorder  # noqa: E402

PUBLIC = json.loads((DATA / "public-signatures.json").read_text(encoding="utf-8"))["names"]

#: Differences kept on purpose: problem key (as reported below; ``name(*)`` covers every parameter of
#: ``name``) -> why it cannot matter to code written for the public SDK.
KEPT: dict[str, str] = {
    "braintrust:EvalScorerArgs(*)": "0.48.1's class takes no arguments (not a dataclass there): no public code builds one",
    "braintrust:Dataset(*)": "built by init_dataset; 0.48.1's constructor takes its internal state objects",
    "braintrust:Experiment(*)": "built by init; 0.48.1's constructor takes its internal state objects",
    "braintrust:ReadonlyExperiment(*)": "built by init(open=True); 0.48.1's constructor takes its internal state objects",
    "braintrust:Logger(*)": "built by init_logger; 0.48.1's constructor takes its internal state objects",
    "braintrust:SpanImpl(*)": "built by start_span; 0.48.1's constructor takes its internal parent/state objects",
    "braintrust:SpanImpl.log_internal": "0.48.1's internal helper behind span.log",
    "braintrust:EmbeddingWrapper.process_output": "internal hook of 0.48.1's wrapper class",
    "braintrust:ModerationWrapper.process_output": "internal hook of 0.48.1's wrapper class",
    "braintrust:TracedMessageStream.get_final_message": "passed through to the wrapped stream (NamedWrapper), traced",
    "braintrust:TracedMessageStream.get_final_text": "passed through to the wrapped stream (NamedWrapper), traced",
    "braintrust:TracedMessageStream.until_done": "passed through to the wrapped stream (NamedWrapper), traced",
    "braintrust:TracedMessageStream.text_stream": "passed through to the wrapped stream (NamedWrapper), traced",
    "braintrust:TraceScope[idle_seconds]": "type hint only (a TypedDict is a plain dict at runtime); test_public_api pins the keys",
    "braintrust:auto_instrument(*)": "**integrations validated: 0.48.1's keywords accepted, any other raises TypeError",
    "braintrust:BraintrustState.login(*)": "ours is login(deadline, force_login); callers in delivery/ pass deadline positionally",
    **{
        f"braintrust:BraintrustState.{name}": "0.48.1's internal plumbing (connections, background logger, otel)"
        for name in ("api_client", "api_conn", "app_conn", "context_manager", "copy_state", "enforce_queue_size_limit",
                     "flush", "flush_otel", "global_bg_logger", "id_generator", "loader_api_client",
                     "login_replace_api_conn", "proxy_conn", "register_otel_flush", "reset_login_info",
                     "reset_parent_state", "set_masking_function", "user_info")
    },
}


def _kept(problem: str) -> bool:
    return problem in KEPT or (problem.endswith(")") and problem[: problem.rindex("(")] + "(*)" in KEPT)


def _param_problems(where: str, public: list[dict] | None, ours: list[dict] | None) -> dict[str, str]:
    """Problems calling ``ours`` the ways ``public`` can be called; keys name the parameter."""
    if public is None:
        return {}
    if ours is None:
        return {where: "our signature cannot be inspected"}
    problems = {}
    if where.endswith("__"):  # (protocol dunders are called positionally by the interpreter)
        public = [{**p, "kind": "POSITIONAL_ONLY"} if p["kind"] == "POSITIONAL_OR_KEYWORD" else p for p in public]
        if any(p["kind"] == "VAR_POSITIONAL" for p in ours):
            return {}
    by_name = {p["name"]: p for p in ours}
    kinds = {p["kind"] for p in ours}
    for index, p in enumerate(public):
        key, kind = f"{where}({p['name']})", p["kind"]
        if kind == "VAR_POSITIONAL":
            if "VAR_POSITIONAL" not in kinds:
                problems[key] = "public accepts *args, ours does not"
            continue
        if kind == "VAR_KEYWORD":
            if "VAR_KEYWORD" not in kinds:
                problems[key] = "public accepts **kwargs, ours does not"
            continue
        if kind == "POSITIONAL_ONLY":
            mine = ours[index] if index < len(ours) else None
            if mine is None or mine["kind"] not in ("POSITIONAL_ONLY", "POSITIONAL_OR_KEYWORD"):
                problems[key] = f"positional-only parameter #{index} missing"
                continue
        else:
            mine = by_name.get(p["name"])
            if mine is None:
                problems[key] = f"missing {kind} parameter"
                continue
            if mine["kind"] != kind:
                problems[key] = f"kind {mine['kind']}, public {kind}"
                continue
            if kind == "POSITIONAL_OR_KEYWORD" and ours.index(mine) != index:
                problems[key] = f"at position {ours.index(mine)}, public {index}"
                continue
        if p["has_default"] and not mine["has_default"]:
            problems[key] = "required in ours, optional in public"
        elif "default" in p and mine.get("default") != p["default"]:
            problems[key] = f"default {mine.get('default', '<not simple>')}, public {p['default']}"
    public_names = {p["name"] for p in public}
    for index, mine in enumerate(ours):
        required = not mine["has_default"] and mine["kind"] not in ("VAR_POSITIONAL", "VAR_KEYWORD")
        if required and mine["name"] not in public_names and index >= len(public):
            problems[f"{where}({mine['name']})"] = "extra required parameter"
    return problems


def _class_attributes(cls) -> set[str]:
    """Names an instance of ``cls`` visibly has: class attributes, annotations, dataclass fields, slots."""
    names = set(dir(cls))
    for base in cls.__mro__:
        names |= set(getattr(base, "__annotations__", {}))
        slots = getattr(base, "__slots__", ())
        names |= {slots} if isinstance(slots, str) else set(slots)
    if dataclasses.is_dataclass(cls):
        names |= {f.name for f in dataclasses.fields(cls)}
    return names


def _class_problems(where: str, public: dict, cls) -> dict[str, str]:
    ours = recorder.describe_class(cls)
    if public["kind"] == "enum":
        members = ours.get("members", {})
        return {
            f"{where}.{name}": f"enum member missing or different ({members.get(name)}, public {value})"
            for name, value in public["members"].items()
            if members.get(name) != value
        }
    if public["kind"] == "typeddict":
        keys = set(ours.get("keys", ())) | _class_attributes(cls)
        return {f"{where}[{k}]": "key missing" for k in public["keys"] if k not in keys}
    problems = _param_problems(where, public["init"], ours["init"])
    attributes = _class_attributes(cls)
    for name, method in public["methods"].items():
        if name not in ours["methods"]:
            problems[f"{where}.{name}"] = "method missing" if name not in attributes else "not a method in ours"
            continue
        problems.update(_param_problems(f"{where}.{name}", method["params"], ours["methods"][name]["params"]))
    for name in public["properties"] + public.get("fields", []):
        if name not in attributes:
            problems[f"{where}.{name}"] = "attribute missing"
    return problems


def problems_for(key: str) -> dict[str, str]:
    """Every difference between 0.48.1's ``module:name`` and ours."""
    public = PUBLIC[key]
    module, name = key.split(":")
    top = {k: v for k, v in PUBLIC.get(f"braintrust:{name}", {}).items() if k != "found_in"}
    if module != "braintrust" and top == {k: v for k, v in public.items() if k != "found_in"}:
        if getattr(importlib.import_module(module), name, None) is getattr(importlib.import_module("braintrust"), name, None):
            return {}  # (checked under its top-level name)
    try:
        obj = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return {key: "name missing"}
    if public["kind"] == "other":
        return {}
    if public["kind"] == "instance":  # (an instance is never constructed by user code)
        return _class_problems(key, {**public["class"], "init": None}, type(obj))
    if public["kind"] == "function":
        ours = recorder.describe(obj)
        params = ours.get("params") if ours["kind"] == "function" else ours.get("init")
        return _param_problems(key, public["params"], params)
    if not isinstance(obj, type):
        return {key: "a class in public, not one in ours"}
    return _class_problems(key, public, obj)


@pytest.mark.parametrize("key", sorted(PUBLIC))
def test_signature_parity(key):
    problems = {k: v for k, v in problems_for(key).items() if not _kept(k)}
    assert not problems, "\n".join(f"{k}: {v}" for k, v in sorted(problems.items()))


def test_kept_differences_are_real():
    """Every ``KEPT`` entry still describes a difference (remove it when it is fixed)."""
    found = {}
    for key in PUBLIC:
        found.update(problems_for(key))
    covered = set(found) | {k[: k.rindex("(")] + "(*)" for k in found if k.endswith(")")}
    assert sorted(set(KEPT) - covered) == []


def test_recording_is_current():
    """The recording covers our ``__all__`` and the names file (re-run the recorder when they grow)."""
    recorded = {tuple(k.split(":")) for k in PUBLIC}
    assert len(recorded) > 100
    assert {("braintrust", "init"), ("braintrust.logger", "Span"), ("braintrust", "SpanImpl")} <= recorded
