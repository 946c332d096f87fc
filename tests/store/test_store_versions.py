"""Reading rows: as of a version, in pages, counts and transaction ids."""

from __future__ import annotations

import pytest

from braintrust.store.sqlite_store import LocalStore

DS = "dataset-1"


@pytest.fixture
def store(tmp_path):
    with LocalStore(tmp_path / "braintrust.sqlite") as store:
        yield store


def record(id, **fields):
    return {"id": id, "dataset_id": DS, **fields}


def snapshot(store, version=None):
    rows, _ = store.fetch_rows("dataset", DS, version=version)
    return {r["id"]: (r.get("input"), r.get("expected"), r.get("tags")) for r in rows}


def test_dataset_as_of_an_older_version_after_updates_and_deletes(store):
    v1 = store.write_rows([record("a", input=1, expected=10, tags=None), record("b", input=2, expected=20, tags=None)])
    v2 = store.write_rows([record("a", expected=11, tags=["fixed"], _is_merge=True), record("c", input=3, expected=30)])
    v3 = store.write_rows([record("b", _object_delete=True), record("a", input=100, expected=0)])
    assert v1 < v2 < v3 and len(v1) == len(v3) == 19

    assert snapshot(store, v1) == {"a": (1, 10, None), "b": (2, 20, None)}
    assert snapshot(store, v2) == {"a": (1, 11, ["fixed"]), "b": (2, 20, None), "c": (3, 30, None)}
    assert snapshot(store, v3) == snapshot(store) == {"a": (100, 0, None), "c": (3, 30, None)}
    assert snapshot(store, "0") == {}
    old_rows, _ = store.fetch_rows("dataset", DS, version=v1)
    assert {r["_xact_id"] for r in old_rows} == {v1}


def test_a_version_read_does_not_change_after_later_writes(store):
    v1 = store.write_rows([record("a", input=1)])
    before = snapshot(store, v1)
    store.write_rows([record("a", input=2), record("b", input=3)])
    assert snapshot(store, v1) == before


def test_versions_reject_non_numbers(store):
    with pytest.raises(ValueError, match="'latest' is not a version"):
        store.fetch_rows("dataset", DS, version="latest")


@pytest.mark.parametrize("version", [None, "current-xact"])
def test_pages_follow_first_write_order_and_end_with_no_cursor(store, version):
    for start in range(0, 25, 10):
        store.write_rows([record(f"r{i:02}", input=i) for i in range(start, min(start + 10, 25))])
    store.write_rows([record("r03", input=-3, _is_merge=True)])  # an update keeps its place
    pinned = store.last_xact_id() if version else None
    seen, cursor, pages = [], None, 0
    while True:
        rows, cursor = store.fetch_rows("dataset", DS, version=pinned, limit=7, cursor=cursor)
        seen.extend(r["id"] for r in rows)
        pages += 1
        if not cursor:
            break
    assert seen == [f"r{i:02}" for i in range(25)]
    assert pages == 4


def test_counts_and_max_xact_id(store):
    assert store.count_rows("dataset", DS) == 0
    assert store.max_xact_id("dataset", DS) is None
    first = store.write_rows([record("a", input=1), record("b", input=2)])
    assert store.count_rows("dataset", DS) == 2
    assert store.max_xact_id("dataset", DS) == first
    store.write_rows([{"id": "x", "experiment_id": "e"}])  # another object
    deleted = store.write_rows([record("a", _object_delete=True)])
    assert store.count_rows("dataset", DS) == 1
    assert store.max_xact_id("dataset", DS) == deleted  # a delete is a new version
    assert store.last_xact_id() == deleted


def test_reads_fold_only_new_log_entries(store):
    store.write_rows([record("a", input=1)])
    assert store.count_rows("dataset", DS) == 1
    store.write_rows([record("a", expected=2, _is_merge=True)])
    store.write_rows([record("a", tags=["t"], _is_merge=True)])
    (row,) = store.fetch_rows("dataset", DS)[0]
    assert (row["input"], row["expected"], row["tags"]) == (1, 2, ["t"])
    folded = store.connection().execute("SELECT folded_seq FROM objects").fetchone()[0]
    last = store.connection().execute("SELECT max(seq) FROM row_log").fetchone()[0]
    assert folded == last


def _model_apply(model: dict, op: str, row_id: str, fields: dict) -> None:
    """An independent statement of the semantics: dicts merge, top-level tags union, rest replaced."""
    def merge(base, patch, top):
        out = dict(base)
        for key, value in patch.items():
            if top and key == "tags" and isinstance(out.get(key), list) and isinstance(value, list):
                out[key] = out[key] + [t for t in value if t not in out[key]]
            elif isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value, False)
            else:
                out[key] = value
        return out

    if op == "delete":
        model.pop(row_id, None)
    elif op == "merge" and row_id in model:
        model[row_id] = merge(model[row_id], fields, True)
    else:
        model[row_id] = dict(fields)


def test_random_histories_match_a_model_whatever_the_fold_chunks(store, monkeypatch):
    import random

    from braintrust.store import rows as row_ops

    monkeypatch.setattr(row_ops, "_FOLD_CHUNK", 7)  # force folds across many chunks
    rng = random.Random(1234)
    model: dict = {}
    versions: list[tuple[str, dict]] = []
    for step in range(60):
        batch = []
        for _ in range(rng.randint(1, 12)):
            row_id = f"r{rng.randint(0, 15)}"
            op = rng.choice(["replace", "merge", "merge", "delete"])
            fields = {"m": {rng.choice("abc"): step}, "tags": [rng.choice("xyz")], "v": rng.randint(0, 3)}
            _model_apply(model, op, row_id, fields)
            flags = {"_is_merge": True} if op == "merge" else {"_object_delete": True} if op == "delete" else {}
            batch.append(record(row_id, **fields, **flags))
        version = store.write_rows(batch)
        versions.append((version, {k: dict(v) for k, v in model.items()}))
        if rng.random() < 0.3:  # read now and then: folds happen in several steps
            assert store.count_rows("dataset", DS) == len(model)

    def strip(rows):
        return {r["id"]: {k: v for k, v in r.items() if k not in ("id", "dataset_id", "created", "_xact_id")} for r in rows}

    assert strip(store.fetch_rows("dataset", DS)[0]) == versions[-1][1]
    for version, expected in versions[::5]:
        assert strip(store.fetch_rows("dataset", DS, version=version)[0]) == expected
        assert strip(row for page in store.iter_rows("dataset", DS, version=version, batch_size=4) for row in page) == expected
