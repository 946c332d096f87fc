"""QA (seventh round) of merge semantics: the local store against the test server (both promise
the server's, braintrust-api.md §5.4) and both against the SDK's own merge rules, which decide what
the server ends up with whenever two writes of a row meet in one batch. Real SQLite stores, the
test server's row store, and the SDK run in subprocesses into each."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from braintrust.store.sqlite_store import LocalStore
from delivery_helpers import subprocess_env
from tests.btserver.store import RowStore


class Destinations:
    """The same requests written to the test server's rows and to a local store."""

    def __init__(self, store: LocalStore):
        self.server, self.store = RowStore(), store
        self.server_versions: list[str] = []
        self.store_versions: list[str] = []

    def write(self, *rows: dict) -> None:
        self.server_versions.append(self.server.apply(json.loads(json.dumps(rows)))[0])
        self.store_versions.append(self.store.write_rows(json.loads(json.dumps(rows))))

    def rows(self, object_id: str, step: int | None = None) -> tuple[dict, dict]:
        """``(server rows, store rows)`` by id, now or as of the ``step``-th write."""
        server = self.server.rows_as_of("dataset", object_id, None if step is None else self.server_versions[step])
        store = self.store.fetch_rows("dataset", object_id, version=None if step is None else self.store_versions[step])[0]
        return ({r["id"]: {k: v for k, v in r.items() if k != "_xact_id"} for r in server},
                {r["id"]: {k: v for k, v in r.items() if k != "_xact_id"} for r in store})


@pytest.fixture
def both(tmp_path):
    with LocalStore(tmp_path / "braintrust.sqlite") as store:
        yield Destinations(store)


def row(id="r1", object_id="D", **fields):
    return {"id": id, "dataset_id": object_id, "created": "2026-01-01T00:00:00+00:00", **fields}


def test_tags_listed_in_merge_paths_are_replaced_not_unioned(both):
    """``_merge_paths`` stops merging there and the value is replaced (§5.4); the SDK's merge
    replaces listed ``tags`` too. The test server unioned them."""
    both.write(row(tags=["a", "b"], metadata={"keep": 1}))
    both.write({**row(tags=["c"]), "_is_merge": True, "_merge_paths": [["tags"]]})
    server, store = both.rows("D")
    assert server["r1"]["tags"] == store["r1"]["tags"] == ["c"]
    assert server == store


def test_tag_union_leaves_each_tag_once_as_the_sdks_merge_does(both):
    """"unioned and de-duplicated" (§5.4): the SDK compares tags as text, duplicates already on
    the row included; the store and the test server kept those, and kept 1 beside "1"."""
    both.write(row(tags=["a", "a", 1]))
    both.write({**row(tags=["1", "b", "a", "b"]), "_is_merge": True})
    server, store = both.rows("D")
    assert server["r1"]["tags"] == store["r1"]["tags"] == ["a", 1, "b"]


def test_a_merge_keeps_the_created_of_the_row_it_merges_into(both):
    """The SDK's merge keeps the earlier ``created`` (§5.4); the store did, the test server took
    the merge row's."""
    both.write(row(input=1))
    both.write({**row(output=2, created="2030-01-01T00:00:00+00:00"), "_is_merge": True})
    server, store = both.rows("D")
    assert server["r1"]["created"] == store["r1"]["created"] == "2026-01-01T00:00:00+00:00"
    assert server == store


def test_a_row_written_again_takes_the_created_of_its_new_write(both):
    """A second non-merge write of a row (``insert(id=)`` / ``log(id=)`` twice) replaces it whole:
    the SDK sends only the later write, ``created`` included, when both meet in one batch, and the
    test server takes it. The store kept the first write's ``created``, so the same script gave a
    different ``created`` depending on whether a flush fell between the writes."""
    both.write(row(input=1))
    both.write(row(input=2, created="2026-02-02T00:00:00+00:00"))
    server, store = both.rows("D")
    assert server["r1"]["created"] == "2026-02-02T00:00:00+00:00"
    assert store["r1"]["created"] == "2026-02-02T00:00:00+00:00"
    both.write({"id": "r1", "dataset_id": "D", "input": 3})  # no created of its own: kept
    server, store = both.rows("D")
    assert server["r1"]["created"] == store["r1"]["created"] == "2026-02-02T00:00:00+00:00"


def _value(rng: random.Random, depth: int = 0):
    choice = rng.random()
    if depth < 2 and choice < 0.35:
        return {rng.choice("abc"): _value(rng, depth + 1) for _ in range(rng.randint(0, 2))}
    if choice < 0.5:
        return None
    if choice < 0.65:
        return [rng.choice(["x", "y", 1, "1"]) for _ in range(rng.randint(0, 3))]
    return rng.choice([0, 1, "s", True, 1.5])


def _random_write(rng: random.Random, object_id: str) -> dict:
    out = {"id": rng.choice(["r1", "r2"]), "dataset_id": object_id}
    kind = rng.random()
    if kind < 0.15:
        out["_object_delete"] = True
        return out
    if kind < 0.6:
        out["_is_merge"] = True
        if rng.random() < 0.2:
            out["_merge_paths"] = [rng.choice([["metadata"], ["tags"], ["metadata", "a"]])]
    for key in ("input", "metadata", "tags", "output"):
        if rng.random() < 0.5:
            tags = key == "tags" and rng.random() < 0.7
            out[key] = [rng.choice("abc") for _ in range(rng.randint(0, 3))] if tags else _value(rng)
    return out


@pytest.mark.parametrize("seeds", [range(0, 40), range(40, 80)])
def test_random_writes_read_the_same_from_the_store_and_the_test_server_at_every_version(both, seeds):
    """Replaces, merges (some with ``_merge_paths``), deletes and re-inserts of two rows, several
    per request as a flush sends them: the current rows and the rows as of every version agree.
    (``created`` is left out: the rows carry none, so each side stamps its own write time.)"""
    for seed in seeds:
        rng = random.Random(seed)
        object_id = f"D{seed}"
        first = len(both.store_versions)
        for _ in range(rng.randint(1, 6)):
            both.write(*(_random_write(rng, object_id) for _ in range(rng.randint(1, 3))))
        for step in [*range(first, len(both.store_versions)), None]:
            server, store = both.rows(object_id, step)
            for rows in (server, store):
                for r in rows.values():
                    r.pop("created")
            assert server == store, f"seed {seed}, version {step}"


SCRIPT = r'''
import braintrust
flush = braintrust.flush
logger = braintrust.init_logger(project="merges")
logger.log(id="L1", input={"q": 1}, output="o1", metadata={"a": {"x": 1}}, tags=["t1"], scores={"s": 1})
flush()
logger.log(id="L1", output="o2", metadata={"a": {"y": 2}}, tags=["t2"])
flush()
span = logger.start_span(name="multi")
span.log(input={"i": 1}, metadata={"a": {"x": 1}, "l": [1, 2]}, tags=["x"], metrics={"tokens": 3})
span.log(metadata={"a": {"y": 2}, "l": [3]}, tags=["y", "x"], output={"o": 1})
span.log(metadata={"a": {"x": None}}, output={"p": 2}, metrics={"cost": 1.5})
exported, span_id = span.export(), span.id
span.end()
flush()
logger.log_feedback(id=span_id, scores={"s": 1}, expected={"e": 1}, tags=["fb", "x"], comment="nice", metadata={"who": "qa"})
flush()
braintrust.update_span(exported, output={"q": 3}, metadata={"a": {"z": 3}, "l": [9]}, tags=["up"])
flush()
logger.log_feedback(id="L3", scores={"s": 0.5})
flush()
ds = braintrust.init_dataset(project="merges", name="ds")
ds.insert(id="D1", input={"a": 1}, expected={"b": 1}, metadata={"m": {"x": 1}}, tags=["d1"])
ds.insert(id="D2", input=2, expected=2)
flush()
ds.update(id="D1", expected={"c": 2}, metadata={"m": {"y": 2}}, tags=["d2"])
ds.delete("D2")
flush()
ds.insert(id="D2", input=22)
ds.update(id="D4", input=4)
ds.delete("D5")
flush()
exp = braintrust.init(project="merges", experiment="e1")
exp.log(id="E1", input=1, output=2, scores={"acc": 0.5}, metadata={"m": {"x": 1}}, tags=["e"])
flush()
exp.log_feedback(id="E1", scores={"acc": 1}, expected=3, comment="c1", tags=["f"])
exp.update_span(id="E1", output=5, metadata={"m": {"y": 1}})
flush()
'''


def _normalized(rows: list[dict]) -> dict:
    """Rows by a stable name (the given id, the span's name, the comment's text), with times, random
    ids and object ids replaced by what they stand for."""
    named = {}
    for r in rows:
        r = {k: v for k, v in r.items() if k not in ("created", "_xact_id", "context", "project_id", "dataset_id", "experiment_id")}
        if isinstance(r.get("metrics"), dict):
            r["metrics"] = {k: ("<time>" if k in ("start", "end") else v) for k, v in r["metrics"].items()}
        if isinstance(r.get("span_attributes"), dict):
            r["span_attributes"] = {k: v for k, v in r["span_attributes"].items() if k != "exec_counter"}
        if re.fullmatch(r"[LDE]\d", r["id"]):
            name = r["id"]
        elif r.get("comment"):
            name = "comment " + r["comment"]["text"]
        else:
            name = "span " + r["span_attributes"]["name"]
        named[name] = r
    text = json.dumps(named)
    for name, r in named.items():
        text = text.replace(json.dumps(r["id"]), json.dumps(name))
        if "span_id" in r:
            text = text.replace(json.dumps(r["span_id"]), json.dumps(name + " span"))
            text = text.replace(json.dumps(r["root_span_id"]), json.dumps(name + " trace"))
    return json.loads(text)


def _run(tmp_path: Path, **env: str) -> None:
    (tmp_path / "merges.py").write_text(SCRIPT)
    done = subprocess.run([sys.executable, "merges.py"], cwd=tmp_path, env=subprocess_env(**env),
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr


def test_the_sdk_ends_with_the_same_rows_in_the_local_store_as_on_the_server(tmp_path, bt_server):
    """``log(id=)`` twice, ``span.log`` many times, feedback with a comment, ``update_span``,
    feedback on a row never written, dataset update / delete / insert after delete / update and
    delete of absent ids, an experiment's feedback and ``update_span``: the final rows agree."""
    local = tmp_path / "local"
    remote = tmp_path / "remote"
    local.mkdir(), remote.mkdir()
    _run(local, BRAINTRUST_LOCAL_DIR=str(local / ".braintrust"))
    _run(remote, BRAINTRUST_API_KEY="test-api-key", BRAINTRUST_APP_URL=bt_server.url)

    stored = {}
    with LocalStore(local / ".braintrust" / "braintrust.sqlite") as store:
        (project,) = store.list_projects()
        (dataset,) = store.list_datasets()
        (experiment,) = store.list_experiments()
        for kind, object_id in (("project_logs", project["id"]), ("dataset", dataset["id"]), ("experiment", experiment["id"])):
            stored[kind] = _normalized(store.fetch_rows(kind, object_id)[0])
    served = {kind: _normalized(bt_server.rows(kind)) for kind in stored}

    assert set(stored["dataset"]) == {"D1", "D2", "D4"}
    assert stored["dataset"]["D1"]["tags"] == ["d1", "d2"]
    assert stored["project_logs"]["span multi"]["metadata"] == {"a": {"x": None, "y": 2, "z": 3}, "l": [9]}
    for kind in stored:
        assert stored[kind] == served[kind], kind
