"""Helpers shared by the ``test_eval_*`` files (no tests here).

Every test runs with no API key and ``BRAINTRUST_LOCAL_DIR`` in a fresh temporary directory (the
autouse ``_bt_isolation`` fixture of ``conftest.py``), so evals write to the local store.
"""

from __future__ import annotations

from typing import Any

from braintrust.delivery.backend import EXPERIMENT


def stored_rows(result_or_experiment_id: Any) -> list[dict[str, Any]]:
    """The merged rows of an eval's experiment in the local store."""
    from braintrust.objects.reads import LocalReads

    experiment_id = result_or_experiment_id
    if not isinstance(experiment_id, str):
        experiment_id = result_or_experiment_id.summary.experiment_id
    return list(LocalReads().fetch(EXPERIMENT, experiment_id))


def roots(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if not r.get("span_parents")]


def children(rows: list[dict[str, Any]], root: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("span_parents") == [root["span_id"]]]


def by_name(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {(s.get("span_attributes") or {}).get("name"): s for s in spans}


def trace_of(rows: list[dict[str, Any]], input_value: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(root, {child name: child}) of the single trace whose root input is ``input_value``."""
    matching = [r for r in roots(rows) if r.get("input") == input_value]
    assert len(matching) == 1, f"{len(matching)} traces with input {input_value!r}"
    root = matching[0]
    return root, by_name(children(rows, root))


def exact(input: Any, output: Any, expected: Any) -> float:
    return 1.0 if output == expected else 0.0


__all__ = ["by_name", "children", "exact", "roots", "stored_rows", "trace_of"]
