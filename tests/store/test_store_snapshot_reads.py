"""``iter_rows`` without a version: the rows as they were when the read started, page by page."""

from __future__ import annotations

import pytest

from braintrust.store import rows as row_ops
from braintrust.store.sqlite_store import LocalStore

DS = "dataset-1"


@pytest.fixture
def store(tmp_path):
    with LocalStore(tmp_path / "braintrust.sqlite") as store:
        yield store


def record(id, **fields):
    return {"id": id, "dataset_id": DS, **fields}


def described(rows):
    return [(r["id"], r.get("input"), r.get("expected"), r["_xact_id"]) for r in rows]


def test_writes_between_pages_are_not_read(store, monkeypatch):
    """Rows added, changed and deleted while the pages are read (ahead of the page being read,
    and behind it) leave the read as it was when it started; the next read sees them. The pages
    come from the folded rows, never from folding the whole log in memory."""
    monkeypatch.setattr(row_ops, "_live_as_of", lambda *args: pytest.fail("the whole log was folded in memory"))
    first = store.write_rows([record(f"r{i}", input=i, expected=i) for i in range(7)])
    second = store.write_rows([record("r6", _object_delete=True), record("r1", expected=-1, _is_merge=True)])
    at_start = [("r0", 0, 0, first), ("r1", 1, -1, second)] + [(f"r{i}", i, i, first) for i in range(2, 6)]

    pages = store.iter_rows("dataset", DS, batch_size=2)
    seen = list(next(pages))
    store.write_rows([
        record("new", input=100, expected=100),
        record("r0", expected=-100, _is_merge=True),  # read already
        record("r2", expected=-2, _is_merge=True),  # the next page
        record("r3", _object_delete=True),
        record("r5", input=50, expected=50),  # replaced
    ])
    store.fetch_rows("dataset", DS)  # another read folds those writes into the current rows
    store.write_rows([record("r4", _object_delete=True), record("r6", input=60, expected=60)])  # not folded yet
    seen += [row for page in pages for row in page]

    assert described(seen) == at_start
    now = described(row for page in store.iter_rows("dataset", DS, batch_size=2) for row in page)
    assert [(i, input, expected) for i, input, expected, _ in now] == [
        ("r0", 0, -100), ("r1", 1, -1), ("r2", 2, -2), ("r5", 50, 50), ("r6", 60, 60), ("new", 100, 100)]


def test_a_loop_writing_a_page_per_page_read_ends(store):
    """Each page read adds as many rows as it held: the read ends with the rows there at its start
    (it read each new page as it came, and never ended)."""
    store.write_rows([record(f"r{i}", input=i) for i in range(4)])
    seen = []
    for page in store.iter_rows("dataset", DS, batch_size=2):
        seen += [row["input"] for row in page]
        store.write_rows([record(f"n{row['input']}", input=row["input"] + 10) for row in page])
        if len(seen) > 20:  # (bounded: a read that never ends fails here)
            break
    assert seen == [0, 1, 2, 3]
    assert store.count_rows("dataset", DS) == 8


def test_an_object_with_no_rows_reads_none(store):
    assert [row for page in store.iter_rows("dataset", DS) for row in page] == []
