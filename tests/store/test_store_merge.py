"""The server's row semantics in the store: merge, replace, tags union, delete, order."""

from __future__ import annotations

import json

import pytest

from braintrust.store.merge import merge_row, object_of
from braintrust.store.sqlite_store import LocalStore

EXP = "exp-1"


@pytest.fixture
def store(tmp_path):
    with LocalStore(tmp_path / "braintrust.sqlite") as store:
        yield store


def row(id="r1", **fields):
    return {"id": id, "experiment_id": EXP, **fields}


def current(store, object_type="experiment", object_id=EXP):
    rows, cursor = store.fetch_rows(object_type, object_id)
    assert cursor is None
    return {r["id"]: r for r in rows}


def test_merge_deep_merges_dicts_and_replaces_other_values(store):
    store.write_rows([row(input={"q": 1}, output="a", metadata={"a": {"x": 1, "y": 2}, "keep": True},
                          span_parents=["p"], _is_merge=False)])
    store.write_rows([row(output="b", metadata={"a": {"y": 3, "z": 4}}, scores={"s": 1}, _is_merge=True)])
    (stored,) = current(store).values()
    assert stored["input"] == {"q": 1}
    assert stored["output"] == "b"
    assert stored["metadata"] == {"a": {"x": 1, "y": 3, "z": 4}, "keep": True}
    assert stored["scores"] == {"s": 1}
    assert stored["span_parents"] == ["p"]
    assert "_is_merge" not in stored


def test_merge_replaces_lists_and_lets_none_overwrite(store):
    store.write_rows([row(span_parents=["a"], metadata={"l": [1, 2]}, output="x")])
    store.write_rows([row(metadata={"l": [3]}, output=None, _is_merge=True)])
    stored = current(store)["r1"]
    assert stored["metadata"] == {"l": [3]}
    assert stored["output"] is None


def test_top_level_tags_are_unioned_without_duplicates(store):
    store.write_rows([row(tags=["a", "b"], metadata={"tags": ["x"]})])
    store.write_rows([row(tags=["b", "c", "c"], metadata={"tags": ["y"]}, _is_merge=True)])
    stored = current(store)["r1"]
    assert stored["tags"] == ["a", "b", "c"]
    assert stored["metadata"]["tags"] == ["y"]  # only top-level tags are unioned


def test_replace_overwrites_the_row_created_included(store):
    # (as the SDK's own merge of two writes in one batch does: the later replace wins whole)
    store.write_rows([row(input=1, output=2, created="2026-01-01T00:00:00+00:00")])
    store.write_rows([row(input=3, created="2026-02-02T00:00:00+00:00")])
    stored = current(store)["r1"]
    assert stored["input"] == 3 and "output" not in stored
    assert stored["created"] == "2026-02-02T00:00:00+00:00"


def test_delete_removes_the_row_and_a_later_insert_revives_it(store):
    store.write_rows([row("a", input=1), row("b", input=2)])
    store.write_rows([row("a", _object_delete=True)])
    assert set(current(store)) == {"b"}
    assert store.count_rows("experiment", EXP) == 1
    store.write_rows([row("a", input=5, created="2030-01-01T00:00:00+00:00")])
    revived = current(store)["a"]
    assert revived["input"] == 5 and revived["created"] == "2030-01-01T00:00:00+00:00"


def test_merge_without_a_stored_row_inserts_it(store):
    store.write_rows([row(metrics={"end": 2.0}, _is_merge=True)])
    stored = current(store)["r1"]
    assert stored["metrics"] == {"end": 2.0}
    assert stored["created"]  # the store fills in created
    store.write_rows([row(metrics={"start": 1.0}, input="late first write", _is_merge=True)])
    assert current(store)["r1"]["metrics"] == {"end": 2.0, "start": 1.0}


def test_merge_after_delete_inserts_fresh(store):
    store.write_rows([row(input=1, output=1)])
    store.write_rows([row(_object_delete=True)])
    store.write_rows([row(output=2, _is_merge=True)])
    stored = current(store)["r1"]
    assert stored["output"] == 2 and "input" not in stored


def test_rows_apply_in_order_within_one_batch(store):
    xact = store.write_rows([
        row(input=1, tags=["a"]),
        row(output=2, tags=["b"], _is_merge=True),
        row("other", input="x"),
        row(scores={"s": 0.5}, _is_merge=True),
    ])
    stored = current(store)
    assert stored["r1"]["tags"] == ["a", "b"]
    assert stored["r1"]["output"] == 2 and stored["r1"]["scores"] == {"s": 0.5}
    assert stored["r1"]["_xact_id"] == xact == stored["other"]["_xact_id"]


def test_merge_paths_stop_the_merge(store):
    store.write_rows([row(metadata={"a": {"x": 1}, "b": {"x": 1}})])
    store.write_rows([row(metadata={"a": {"y": 2}, "b": {"y": 2}}, _merge_paths=[["metadata", "a"]], _is_merge=True)])
    assert current(store)["r1"]["metadata"] == {"a": {"y": 2}, "b": {"x": 1, "y": 2}}


def test_objects_are_kept_apart(store):
    store.write_rows([
        row("same", input="experiment"),
        {"id": "same", "project_id": "p1", "log_id": "g", "input": "logs"},
        {"id": "same", "dataset_id": "d1", "input": "dataset", "expected": 1},
        {"id": "same", "prompt_session_id": "s1", "log_id": "x", "input": "playground"},
    ])
    assert current(store)["same"]["input"] == "experiment"
    assert current(store, "project_logs", "p1")["same"]["input"] == "logs"
    assert current(store, "dataset", "d1")["same"]["input"] == "dataset"
    assert current(store, "playground_logs", "s1")["same"]["input"] == "playground"


def test_encoded_rows_are_stored_as_given(store):
    rows = [row(input={"b": 1, "a": 2}, _is_merge=False)]
    encoded = [json.dumps(r, sort_keys=True, separators=(",", ":")).encode() for r in rows]
    xact = store.write_rows(rows, encoded)
    stored = current(store)["r1"]
    assert stored["input"] == {"a": 2, "b": 1} and stored["_xact_id"] == xact
    assert "_is_merge" not in stored


def test_invalid_rows_are_refused_before_anything_is_written(store):
    with pytest.raises(ValueError, match="names no object"):
        store.write_rows([row("ok"), {"id": "orphan", "input": 1}])
    with pytest.raises(ValueError, match="no string 'id'"):
        store.write_rows([{"experiment_id": EXP}])
    assert current(store) == {}


def test_merge_row_is_pure():
    base = {"a": {"x": 1}, "tags": ["t"]}
    patch = {"a": {"y": 2}, "tags": ["u"], "_is_merge": True, "created": "later"}
    merged = merge_row(base, patch)
    assert merged == {"a": {"x": 1, "y": 2}, "tags": ["t", "u"]}
    assert base == {"a": {"x": 1}, "tags": ["t"]}
    assert patch["a"] == {"y": 2}


def test_object_of_prefers_the_most_specific_id():
    assert object_of({"id": "r", "experiment_id": "e", "project_id": "p"}) == ("experiment", "e", "r")
    assert object_of({"id": "r", "project_id": "p", "log_id": "g"}) == ("project_logs", "p", "r")
    with pytest.raises(ValueError):
        object_of({"id": "r", "project_id": "p"})  # no log_id: not project logs


def test_summary_rows_agree_with_the_full_rows(store):
    """``summary_rows`` (fields extracted by SQLite) reads the same values as ``fetch_rows``,
    after merges, replaces and deletes, for every JSON type of input."""
    inputs = ["text", 7, 2.5, True, False, None, {"b": [1, {"c": None}], "a": "é"}, [1, "x"]]
    first = [row(f"root{i}", root_span_id=f"t{i}", span_parents=None, input=value, scores={"s": 0.5},
                 metrics={"start": 1.0}, _is_merge=False) for i, value in enumerate(inputs)]
    first.append(row("child", root_span_id="t0", span_parents=["x"], input="ignored", scores={"c": 1}, _is_merge=False))
    first.append(row("no-parents-field", root_span_id="t9", input={"q": 1}, _is_merge=False))
    first.append(row("gone", root_span_id="t10", span_parents=None, input=1, _is_merge=False))
    store.write_rows(first)
    store.write_rows([
        row("root0", scores={"s2": 1.0}, metrics={"end": 3.0, "prompt_tokens": 4}, _is_merge=True),
        row("root1", root_span_id="t1", span_parents=None, input=8, _is_merge=False),  # a replace
        {"id": "gone", "experiment_id": EXP, "_object_delete": True},
    ])
    full = {r["id"]: r for r in store.fetch_rows("experiment", EXP)[0]}
    reduced = {r["id"]: r for r in store.summary_rows("experiment", EXP)}
    assert set(reduced) == set(full) and "gone" not in reduced
    for row_id, r in full.items():
        got = reduced[row_id]
        assert got["root_span_id"] == r["root_span_id"]
        assert got["span_parents"] == r.get("span_parents")
        assert got["scores"] == r.get("scores") and got["metrics"] == r.get("metrics")
        assert got["input"] == r.get("input") and type(got["input"]) is type(r.get("input"))
    assert reduced["root0"]["scores"] == {"s": 0.5, "s2": 1.0}
    assert reduced["root1"]["input"] == 8


def test_summary_rows_without_sqlite_json_functions(store, monkeypatch):
    """An SQLite built without JSON functions: summary_rows parses whole rows instead."""
    from braintrust.store import rows as row_ops

    store.write_rows([row("a", root_span_id="t", span_parents=None, input={"q": 1}, scores={"s": 1.0})])
    monkeypatch.setattr(row_ops, "_SUMMARY_FROM_LOG", "SELECT no_such_json_function(1)")
    monkeypatch.setattr(row_ops, "_SUMMARY_FROM_ROWS", "SELECT no_such_json_function(1)")
    (got,) = store.summary_rows("experiment", EXP)
    assert got["input"] == {"q": 1} and got["scores"] == {"s": 1.0} and got["root_span_id"] == "t"


def test_summary_rows_read_a_log_of_first_writes_without_folding_it(store):
    """One write per row (what spans write): the log is read as it is; the store folds it only
    when another read needs it."""
    store.write_rows([row(f"r{i}", root_span_id=f"t{i}", span_parents=None, input=i, scores={"s": i / 10}) for i in range(5)])
    store.write_rows([row("c", root_span_id="t0", span_parents=["x"], scores={"t": 1.0})])
    reduced = list(store.summary_rows("experiment", EXP))
    folded = store.connection().execute("SELECT count(*) FROM objects").fetchone()[0]
    assert folded == 0  # nothing was folded into object_rows
    full = store.fetch_rows("experiment", EXP)[0]
    assert [(r["id"], r["input"], r["scores"], r["span_parents"]) for r in reduced] == [
        (r["id"], r.get("input"), r.get("scores"), r.get("span_parents")) for r in full
    ]
