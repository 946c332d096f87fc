"""QA (round 23) of merge semantics, differentially: random write sequences of one object, merged
by the SDK's batch merge as a flush would, applied to the local store and to the test server's
rows, both read back (current, as of every version, paged, streamed, streamed while written to)
and compared with a small reference model written from braintrust-api.md §5.4. Plus what
``update_span`` sends for a field given as None (0.48.1 sends it as null)."""

from __future__ import annotations

import copy
import json
import random
import subprocess
import sys

import pytest

from braintrust.store.sqlite_store import LocalStore
from braintrust.tracing.record import merge_row_into, row_key
from delivery_helpers import subprocess_env
from tests.btserver.store import RowStore

# ---- reference model (braintrust-api.md §5.4, nothing else) -----------------------------------

_CONTROL = ("_is_merge", "_object_delete", "_merge_paths", "_xact_id")


def _tag_key(tag):
    return json.dumps(tag, sort_keys=True) if isinstance(tag, (dict, list)) else str(tag)


def _model_merge(old: dict, new: dict, stop: frozenset, path: tuple = ()) -> dict:
    """Dicts merge recursively, anything else is replaced, top-level ``tags`` lists are unioned
    without duplicates, and a path listed in ``_merge_paths`` is replaced whole."""
    out = dict(old)
    for key, value in new.items():
        here, current = path + (key,), out.get(key)
        if here in stop:
            out[key] = value
        elif not path and key == "tags" and isinstance(value, list) and isinstance(current, list):
            seen: set = set()
            out[key] = [t for t in current + value if not (_tag_key(t) in seen or seen.add(_tag_key(t)))]
        elif isinstance(value, dict) and isinstance(current, dict):
            out[key] = _model_merge(current, value, stop, here)
        else:
            out[key] = value
    return out


def _model_apply(rows: dict, requests: list[list[dict]]) -> dict:
    """Rows by id after the requests: delete removes, a merge merges into the live row (or
    inserts), anything else replaces."""
    for request in requests:
        for row in request:
            clean = {k: v for k, v in row.items() if k not in _CONTROL and k != "created"}
            if row.get("_object_delete"):
                rows.pop(row["id"], None)
            elif row.get("_is_merge") and row["id"] in rows:
                stop = frozenset(tuple(p) for p in row.get("_merge_paths") or ())
                rows[row["id"]] = _model_merge(rows[row["id"]], clean, stop)
            else:
                rows[row["id"]] = clean
    return rows


# ---- random writes ------------------------------------------------------------------------------


def _value(rng: random.Random, depth: int = 0):
    choice = rng.random()
    if depth < 3 and choice < 0.4:
        return {rng.choice("abcd"): _value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    if choice < 0.5:
        return None
    if choice < 0.65:
        return [rng.choice(["x", 1, {"k": 1}, [1]]) for _ in range(rng.randint(0, 3))]
    return rng.choice([0, 1, "s", True, 1.5, "", -2])


def _write(rng: random.Random, object_id: str, ids: list[str]) -> dict:
    """One row write: delete, merge (sometimes with ``_merge_paths``) or replace. A row's span
    ids never change (the SDK's batch merge keeps the earliest, §5.4)."""
    row = {"id": rng.choice(ids), "dataset_id": object_id}
    kind = rng.random()
    if kind < 0.12:
        return {**row, "_object_delete": True}
    if kind < 0.6:
        row["_is_merge"] = True
        if rng.random() < 0.15:
            row["_merge_paths"] = [rng.choice([["metadata"], ["tags"], ["metadata", "a"], ["input", "b", "c"]])]
    for key in ("input", "metadata", "tags", "expected", "span_id", "span_parents"):
        if rng.random() < 0.5:
            if key == "tags":
                row[key] = rng.sample(["a", "b", "c", "d"], rng.randint(0, 3))
            elif key == "span_id":
                row[key] = "span-" + row["id"]
            elif key == "span_parents":
                row[key] = ["parent-" + row["id"]]
            else:
                row[key] = _value(rng)
    return row


def _sdk_batch(writes: list[dict]) -> list[dict]:
    """The writes of one flush merged by row key as the SDK merges them before sending."""
    merged: dict = {}
    for write in copy.deepcopy(writes):
        key = row_key(write)
        merged[key] = merge_row_into(merged[key], write) if key in merged else write
    return list(merged.values())


def _writes(rng: random.Random, object_id: str, ids: list[str], count: int) -> list[dict]:
    """Writes for one flush. A merge after a delete of its row is left out: the SDK's merge
    folds it into the delete (as 0.48.1's does), so it is lost when both meet in one flush."""
    writes, deleted = [], set()
    for _ in range(count):
        write = _write(rng, object_id, ids)
        if write.get("_is_merge") and write["id"] in deleted:
            continue
        (deleted.add if write.get("_object_delete") else deleted.discard)(write["id"])
        writes.append(write)
    return writes


def _flushes(rng: random.Random, object_id: str, ids: list[str]) -> list[list[dict]]:
    """Requests as flushes send them."""
    requests = [_sdk_batch(_writes(rng, object_id, ids, rng.randint(1, 4))) for _ in range(rng.randint(1, 6))]
    return [request for request in requests if request]


def _content(rows) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("_xact_id", "created")} for r in rows]


@pytest.fixture
def store(tmp_path):
    with LocalStore(tmp_path / "braintrust.sqlite") as opened:
        yield opened


@pytest.mark.parametrize("seeds", [range(0, 60), range(60, 120)])
def test_random_flushes_read_back_as_the_reference_model_says_everywhere(store, seeds):
    """Store and test server agree with the reference model: at every version, paged
    (``limit``/``cursor``) and streamed (``iter_rows``), and a stream read while rows are
    written (changed, deleted, re-inserted) keeps giving the rows as they were when it began."""
    for seed in seeds:
        rng = random.Random(seed)
        object_id, ids = f"D{seed}", ["r1", "r2", "r3", "r4"]
        server, model = RowStore(), {}
        versions = []
        for request in _flushes(rng, object_id, ids):
            _model_apply(model, [request])
            expected = list(model.values())
            versions.append((server.apply(copy.deepcopy(request))[0], store.write_rows(copy.deepcopy(request)), expected))
        for server_version, store_version, expected in versions:
            want = sorted(map(json.dumps, _content(expected)))
            served = _content(server.rows_as_of("dataset", object_id, server_version))
            assert sorted(map(json.dumps, served)) == want, f"seed {seed}: test server vs model"
            stored = _content(store.fetch_rows("dataset", object_id, version=store_version)[0])
            assert stored == served, f"seed {seed}: store vs test server at version {store_version}"
            size = rng.randint(1, 3)
            streamed = [r for page in store.iter_rows("dataset", object_id, store_version, batch_size=size) for r in page]
            assert _content(streamed) == stored, f"seed {seed}: iter_rows({size})"
            paged, cursor = [], None
            while True:
                page, cursor = store.fetch_rows("dataset", object_id, store_version, limit=size, cursor=cursor)
                paged += page
                if not cursor:
                    break
            assert _content(paged) == stored, f"seed {seed}: fetch_rows pages of {size}"

        before = _content(store.fetch_rows("dataset", object_id)[0])
        stream = store.iter_rows("dataset", object_id, batch_size=1)
        read = next(stream, [])
        for request in _flushes(rng, object_id, [*ids, "r5"]):
            server.apply(copy.deepcopy(request))
            store.write_rows(copy.deepcopy(request))
        read += [r for page in stream for r in page]
        assert _content(read) == before, f"seed {seed}: a stream read while written to"
        assert _content(store.fetch_rows("dataset", object_id)[0]) == _content(server.rows("dataset", object_id))
        assert store.count_rows("dataset", object_id) == server.count("dataset", object_id)


def test_the_sdk_batch_merge_reads_the_same_as_sending_each_write(store):
    """A row's writes merged before sending (one flush) and sent one by one (a flush after each)
    end the same on the server and in the store (but for the merge-after-delete case above)."""
    for seed in range(200):
        rng = random.Random(seed)
        object_id = f"B{seed}"
        writes = _writes(rng, object_id, ["r1", "r2"], rng.randint(2, 10))
        # (a merge with _merge_paths after another write of its row: 0.48.1's batch merge
        # ignores the paths, "TODO" in its source; it never sends them)
        if any(w.get("_merge_paths") for w in writes):
            continue
        one_by_one, batched = RowStore(), RowStore()
        for write in writes:
            one_by_one.apply([copy.deepcopy(write)])
        batched.apply(_sdk_batch(writes))
        store.write_rows(_sdk_batch(writes))
        alone = sorted(map(json.dumps, _content(one_by_one.rows("dataset", object_id))))
        assert sorted(map(json.dumps, _content(batched.rows("dataset", object_id)))) == alone, f"seed {seed}"
        assert sorted(map(json.dumps, _content(store.fetch_rows("dataset", object_id)[0]))) == alone, f"seed {seed}"


UPDATE_WITH_NONE = r'''
import braintrust
logger = braintrust.init_logger(project="nulls")
row_id = logger.log(id="L1", input="question", output="draft", tags=["t"])
braintrust.flush()
logger.update_span(id=row_id, output=None, tags=None, metadata={"k": 1})
braintrust.flush()
'''


def test_update_span_sends_a_field_given_as_none_as_null(tmp_path, bt_server):
    """0.48.1's ``update_span`` (``Logger``/``Experiment.update_span`` and the module's
    ``update_span(exported, ...)``) sends every given field, None ones as null, so
    ``update_span(id, output=None)`` clears ``output`` on the server; ours dropped them, so the
    row kept its output and tags."""
    (tmp_path / "s.py").write_text(UPDATE_WITH_NONE)
    done = subprocess.run([sys.executable, "s.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                          env=subprocess_env(BRAINTRUST_API_KEY="test-api-key", BRAINTRUST_APP_URL=bt_server.url),
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    (row,) = bt_server.rows("project_logs")
    assert row["metadata"] == {"k": 1}
    assert row["output"] is None and row["tags"] is None
