"""One row layout for ``Eval()`` and ``pytest --braintrust`` (issue #4 item 4), checked differentially.

The same cases are run both ways: an ``Eval(...)`` with data, a task and scorers, and a pytest
suite whose ``@eval_case(input=, expected=, metadata=, tags=, scorers=[...])`` tests call the same
task. Their rows are compared field by field, span by span: root, ``task`` and one ``score`` span
per scorer, over every scorer return shape. The reference is our ``Eval`` (into the test server and
into the local store) and the rows the public SDK 0.48.1's ``Eval`` sent (recorded).
The only differences allowed are the plugin's documented additions: the root is named after the
test (``Eval``'s is ``eval``), and carries the ``pass`` score and ``metadata.pytest``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

import braintrust

#: The rows 0.48.1's ``Eval`` sent for these cases (``tests/data/captures/record_row_parity.py``).
PUBLIC_ROWS = Path(__file__).resolve().parents[1] / "data" / "captures" / "eval_row_parity.rows.json"

SHAPES = '''
import asyncio
import functools

from braintrust import Score
from braintrust.score import Scorer
from autoevals import Levenshtein


def task(input):
    return input.upper()


def number(input, output, expected):
    return 1.0 if output == expected else 0.0


def boolean(output):
    return output.isupper()


def nothing(output):
    return None


def score_with_metadata(output, expected):
    return Score(name="length_match", score=1 if len(output) == len(expected or "") else 0, metadata={"len": len(output)})


def score_plain(output):
    return Score(name="plain", score=0.5)


def several(output):
    return [Score(name="m1", score=1, metadata={"a": 1}), Score(name="m2", score=0.25)]


def generated(output):
    yield Score(name="g1", score=1)
    yield {"name": "g2", "score": 0}


def dict_named(output):
    return {"name": "dn", "score": 0.3, "metadata": {"why": "named"}}


def dict_unnamed(output):
    return {"score": 0.5, "metadata": {"why": "half"}}


async def asynchronous(output, expected):
    await asyncio.sleep(0)
    return [Score(name="a1", score=0.9, metadata={"async": True}), Score(name="a2", score=None)]


def raises(output):
    raise ValueError("scorer exploded")


def by_name(input, output, expected, metadata):
    return Score(name="by_name", score=1, metadata={"input": input, "expected": expected, "metadata": metadata})


def keywords(**kwargs):
    return Score(name="keywords", score=1, metadata={"keys": sorted(kwargs), "tags": kwargs.get("tags"), "id": kwargs.get("id")})


def weighted(output, weight):
    return weight


class Subclassed(Scorer):
    def _run_eval_sync(self, output, expected=None, **kwargs):
        return Score(name=self._name(), score=0.4, metadata={"kwargs": sorted(kwargs)})


SCORERS = [number, boolean, nothing, score_with_metadata, score_plain, several, generated, dict_named, dict_unnamed,
           asynchronous, raises, by_name, keywords, functools.partial(weighted, weight=0.3), Subclassed, Levenshtein,
           lambda output: 0.1]
'''

EVAL_SCRIPT = '''
from braintrust import Eval, EvalCase
from qa11_shapes import SCORERS, task

Eval(
    "eval-side",
    data=[
        EvalCase(input="hi", expected="HI", metadata={"k": 1}, tags=["t1"]),
        EvalCase(input="yo", expected="nope"),
        {"input": "tr", "expected": "TR", "metadata": {"k": 3}, "tags": ["t3"], "trial_count": 2},
    ],
    task=task,
    scores=SCORERS,
    experiment_name="reference",
)
'''

SUITE = '''
from pytest_braintrust import eval_case
from qa11_shapes import SCORERS, task

@eval_case(input="hi", expected="HI", metadata={"k": 1}, tags=["t1"], scorers=SCORERS)
def test_hi(braintrust_case):
    return task(braintrust_case.input)

@eval_case(input="yo", expected="nope", scorers=SCORERS)
def test_yo(braintrust_case):
    return task(braintrust_case.input)

@eval_case(input="tr", expected="TR", metadata={"k": 3}, tags=["t3"], scorers=SCORERS, trials=2)
def test_tr(braintrust_case):
    return task(braintrust_case.input)
'''

#: Per-row fields compared (ids, times and caller locations differ by nature).
FIELDS = ("input", "output", "expected", "tags", "metadata", "scores", "error", "span_parents")


def reduced(row: dict[str, Any]) -> dict[str, Any]:
    """What ``_cases`` reads of a row, without what names the machine that wrote it (paths in
    tracebacks and callers, times): errors as their last line, metric values as 0."""
    kept = {k: row[k] for k in ("span_id", "root_span_id", "span_attributes", *FIELDS) if k in row}
    if isinstance(kept.get("error"), str):
        kept["error"] = kept["error"].strip().splitlines()[-1]
    metadata = kept.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("scorer_errors"), dict):
        kept["metadata"] = {**metadata, "scorer_errors": {k: e.strip().splitlines()[-1] for k, e in metadata["scorer_errors"].items()}}
    kept["metrics"] = {k: 0 for k in row.get("metrics") or {}}
    return kept


def _comparable(row: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in FIELDS:
        value = row.get(field)
        if field == "span_parents":
            value = [names.get(p, "?") for p in value or []]
        elif field == "error" and isinstance(value, str):
            value = value.strip().splitlines()[-1]  # the exception, not the frames of either runner
        elif field == "metadata" and isinstance(value, dict) and isinstance(value.get("scorer_errors"), dict):
            value = {**value, "scorer_errors": {k: e.strip().splitlines()[-1] for k, e in value["scorer_errors"].items()}}
        if value is not None:
            out[field] = value
    attributes = dict(row.get("span_attributes") or {})
    attributes.pop("exec_counter", None)
    out["span_attributes"] = attributes
    out["metrics"] = sorted(k for k in (row.get("metrics") or {}))
    return out


def _cases(rows: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], dict[str, dict[str, Any]]]]:
    """``(input, root, {child name: child})`` per trace, sorted by input (trials side by side)."""
    rows = [r for r in rows if r.get("span_id")]
    names = {r["span_id"]: (r.get("span_attributes") or {}).get("name") for r in rows}
    cases = []
    for root in (r for r in rows if not r.get("span_parents")):
        children = {}
        for row in rows:
            if row["root_span_id"] == root["root_span_id"] and row is not root:
                name = row["span_attributes"]["name"]
                assert name not in children, f"two spans named {name!r} under {root['span_attributes']['name']}"
                children[name] = _comparable(row, names)
        cases.append((json.dumps(root.get("input")), _comparable(root, {root["span_id"]: "<root>"}), children))
    for _, root, children in cases:  # the root's name differs by design: parents are named "<root>"
        for child in children.values():
            child["span_parents"] = ["<root>" if p not in children else p for p in child.get("span_parents", [])]
    return sorted(cases, key=lambda case: case[0])


def assert_same_layout(reference: list[dict[str, Any]], plugin: list[dict[str, Any]], plugin_roots: list[str]) -> None:
    expected_cases, actual_cases = _cases(reference), _cases(plugin)
    assert [c[0] for c in actual_cases] == [c[0] for c in expected_cases]
    for (key, eval_root, eval_children), (_, root, children) in zip(expected_cases, actual_cases):
        # The plugin's documented additions on the root: its name, `pass`, metadata.pytest.
        assert root["scores"].pop("pass") == 1
        assert root["metadata"].pop("pytest")["outcome"] == "passed"
        assert root["span_attributes"].pop("name") in plugin_roots
        assert eval_root["span_attributes"].pop("name") == "eval"
        for row in (root, eval_root):  # (an empty field and a missing one read the same)
            for field in ("scores", "metadata"):
                if row.get(field) == {}:
                    del row[field]
        assert root == eval_root, key
        assert sorted(children) == sorted(eval_children), key
        for name in eval_children:
            assert children[name] == eval_children[name], (key, name)


def _experiment_rows(server: Any, project: str) -> list[dict[str, Any]]:
    (project_row,) = [p for p in server.projects() if p["name"] == project]
    (experiment,) = server.experiments(project_row["id"])
    return server.rows("experiment", experiment["id"])


def _write_cases(bt: Any) -> None:
    bt.pytester.makepyfile(qa11_shapes=SHAPES, test_qa11_parity_suite=SUITE)
    bt.pytester.syspathinsert()


def _run_our_eval(bt: Any) -> None:
    from braintrust.delivery.runtime import reset_for_tests

    import qa11_shapes  # noqa: F401 (written by _write_cases, on sys.path)

    reset_for_tests()
    try:
        exec(compile(EVAL_SCRIPT, "eval_side.py", "exec"), {})
        braintrust.flush()
    finally:
        reset_for_tests()
        sys.modules.pop("qa11_shapes", None)


PLUGIN_ROOTS = ["test_hi", "test_yo", "test_tr[trial-1]", "test_tr[trial-2]"]


def test_eval_and_the_plugin_send_the_same_rows_to_the_server(bt_api):
    """Every scorer shape: the score spans' input (``tags`` None for a case without tags, as
    ``Eval`` gives them), output, metadata and scores; a generator's scores; the root's and the
    task's fields: the same into the server."""
    _write_cases(bt_api)
    _run_our_eval(bt_api)
    result = bt_api.run("--braintrust", "--braintrust-project", "pytest-side", "test_qa11_parity_suite.py")
    result.assert_outcomes(passed=4)
    assert_same_layout(_experiment_rows(bt_api.server, "eval-side"), _experiment_rows(bt_api.server, "pytest-side"), PLUGIN_ROOTS)


def test_eval_and_the_plugin_write_the_same_rows_to_the_local_store(bt):
    """The same comparison with no API key: both written to the local store."""
    _write_cases(bt)
    _run_our_eval(bt)
    result = bt.run("--braintrust", "--braintrust-project", "pytest-side", "test_qa11_parity_suite.py")
    result.assert_outcomes(passed=4)
    (reference,) = bt.experiments("eval-side")
    (plugin,) = bt.experiments("pytest-side")
    assert_same_layout(bt.rows(reference), bt.rows(plugin), PLUGIN_ROOTS)


def test_the_plugin_sends_the_rows_the_public_sdks_eval_sends(bt_api):
    """The reference is the public SDK 0.48.1's ``Eval`` itself: the rows it sent for the same
    cases, recorded by ``tests/data/captures/record_row_parity.py``."""
    _write_cases(bt_api)
    result = bt_api.run("--braintrust", "--braintrust-project", "pytest-side", "test_qa11_parity_suite.py")
    result.assert_outcomes(passed=4)
    recorded = json.loads(PUBLIC_ROWS.read_text())
    assert_same_layout(recorded, _experiment_rows(bt_api.server, "pytest-side"), PLUGIN_ROOTS)
