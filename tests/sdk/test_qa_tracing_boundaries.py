"""Tracing across boundaries: a span exported in one process and continued or updated in
another (real subprocesses, against the loopback server and the local store), parents of every
kind (slugs, spans, span components, malformed slugs), odd row ids, many threads and tasks
under one parent, and masking rows that were queued before the masking function was set."""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import braintrust
from braintrust.store.sqlite_store import LocalStore
from braintrust.tracing.span_components import SpanComponentsV4, SpanObjectTypeV3
from delivery_helpers import subprocess_env

# Continues a trace from the slug in argv[1] and updates the exported span's own row.
CONTINUE_AND_UPDATE = textwrap.dedent("""
    import sys
    import braintrust

    slug = sys.argv[1]
    with braintrust.start_span(name="remote", parent=slug) as span:
        span.log(output="from the other process")
        with span.start_span(name="remote child"):
            pass
    braintrust.update_span(slug, metadata={"reviewed_by": "other process"}, scores={"ok": 1})
    result = braintrust.flush()
    assert result.ok, result.describe()
""")


def _run_child(script: str, *args: str, **env: str) -> None:
    proc = subprocess.run([sys.executable, "-c", script, *args], env=subprocess_env(**env),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def _local_rows(project: str) -> dict[str, dict]:
    store = LocalStore(Path(os.environ["BRAINTRUST_LOCAL_DIR"]) / "braintrust.sqlite")
    try:
        (found,) = [p for p in store.list_projects() if p["name"] == project]
        rows, _ = store.fetch_rows("project_logs", found["id"])
    finally:
        store.close()
    return {r["span_attributes"]["name"]: r for r in rows}


def _check_continued_trace(rows: dict[str, dict], root: braintrust.Span) -> None:
    assert set(rows) == {"root", "remote", "remote child"}
    # The other process's update of the still-open span survives that span's own end.
    assert rows["root"]["metadata"] == {"reviewed_by": "other process", "local": True}
    assert rows["root"]["scores"] == {"ok": 1} and rows["root"]["output"] == "done"
    assert rows["root"]["span_parents"] is None and "created" in rows["root"]
    assert rows["remote"]["span_parents"] == [root.span_id]
    assert rows["remote child"]["span_parents"] == [rows["remote"]["span_id"]]
    assert {r["root_span_id"] for r in rows.values()} == {root.root_span_id}


def test_an_update_from_another_process_survives_the_exported_span_ending(bt_logs):
    """An exported span still open while another process continues its trace and updates its
    row (``update_span(slug)``): its own row, written when it ends, merges with that update
    instead of replacing it."""
    logger = braintrust.init_logger(project="handoff")
    with logger.start_span(name="root", metadata={"local": True}) as root:
        slug = root.export()
        _run_child(CONTINUE_AND_UPDATE, slug, BRAINTRUST_API_KEY=bt_logs.server.api_key,
                   BRAINTRUST_APP_URL=bt_logs.server.url)
        root.log(output="done")
    rows = {r["span_attributes"]["name"]: r for r in bt_logs.rows()}
    _check_continued_trace(rows, root)


def test_an_update_from_another_process_survives_the_exported_span_ending_in_the_local_store():
    logger = braintrust.init_logger(project="handoff-local")
    with logger.start_span(name="root", metadata={"local": True}) as root:
        slug = root.export()
        _run_child(CONTINUE_AND_UPDATE, slug, BRAINTRUST_LOCAL_DIR=os.environ["BRAINTRUST_LOCAL_DIR"])
        root.log(output="done")
    assert braintrust.flush().ok
    _check_continued_trace(_local_rows("handoff-local"), root)


def test_an_update_in_the_same_process_of_an_exported_open_span_is_kept(bt_logs):
    logger = braintrust.init_logger(project="same-process")
    with logger.start_span(name="root", input="q") as root:
        braintrust.update_span(root.export(), metadata={"early": True})
        root.log(output="a")
    (row,) = bt_logs.rows()
    assert (row["input"], row["output"], row["metadata"]) == ("q", "a", {"early": True})
    assert row["span_parents"] is None and "end" in row["metrics"]


def _slug() -> str:
    return SpanComponentsV4(object_type=SpanObjectTypeV3.PROJECT_LOGS, object_id="p-1", row_id="r-1",
                            span_id="a" * 16, root_span_id="b" * 32).to_str()


BAD_SLUGS = ["garbage", "   ", "AAAA", "e30=", _slug()[:10], _slug()[:-8]]


@pytest.mark.parametrize("slug", BAD_SLUGS)
def test_a_malformed_parent_slug_is_a_value_error_naming_the_parent_and_logs_nothing(bt_logs, slug):
    logger = braintrust.init_logger(project="bad-parents")
    starts = [
        lambda: braintrust.start_span(name="x", parent=slug),
        lambda: logger.start_span(name="x", parent=slug),
        lambda: braintrust.traced(parent=slug)(lambda: 1)(),
    ]
    for start in starts:
        with pytest.raises(ValueError, match=r"^parent= '.*' is not an exported span: .*not properly encoded.*"
                                             r"Pass what span\.export\(\)"):
            start()
    with pytest.raises(ValueError, match=r"^parent= .* is not an exported span"):
        with braintrust.parent_context(slug):
            braintrust.start_span(name="x")
    with pytest.raises(ValueError, match=r"^update_span '.*' is not an exported span"):
        braintrust.update_span(slug, output=1)
    assert bt_logs.flush().produced == 0


def test_update_span_without_a_string_says_what_it_needs():
    with pytest.raises(ValueError, match=r"update_span needs the string that span\.export\(\) returned, got NoneType"):
        braintrust.update_span(None, output=1)


def test_a_span_or_its_components_as_parent_start_a_child_of_it(bt_logs):
    logger = braintrust.init_logger(project="object-parents")
    with logger.start_span(name="root") as root:
        pass

    @braintrust.traced(parent=root)
    def traced_child():
        return 1

    braintrust.start_span(name="by span", parent=root).end()
    logger.start_span(name="by span on the logger", parent=root).end()
    root.start_span(name="nested by span", parent=root).end()
    braintrust.start_span(name="by components", parent=SpanComponentsV4.from_str(root.export())).end()
    traced_child()
    with braintrust.parent_context(root):
        braintrust.start_span(name="in parent_context").end()
    assert braintrust.start_span(name="no-op parent", parent=braintrust.NOOP_SPAN).span_parents is None
    rows = {r["span_attributes"]["name"]: r for r in bt_logs.rows()}
    children = set(rows) - {"root", "no-op parent"}
    assert children == {"by span", "by span on the logger", "nested by span", "by components", "traced_child",
                        "in parent_context"}
    for name in children:
        assert rows[name]["span_parents"] == [root.span_id], name
        assert rows[name]["root_span_id"] == root.root_span_id, name


def test_span_components_to_object_id_takes_the_slug_string():
    logger = braintrust.init_logger(project="object-id")
    with logger.start_span(name="root") as root:
        slug = root.export()
    assert braintrust.span_components_to_object_id(slug) == logger.id
    assert braintrust.span_components_to_object_id(SpanComponentsV4.from_str(slug)) == logger.id


@pytest.mark.parametrize("row_id", [123, {"a": 1}, ["x"], b"id", "", None])
def test_feedback_for_an_id_that_is_not_a_string_is_refused_at_the_call(bt_logs, row_id):
    logger = braintrust.init_logger(project="feedback-ids")
    good = logger.log(input="kept")
    with pytest.raises(ValueError, match=r"log_feedback needs the id of the row .*a non-empty string"):
        logger.log_feedback(id=row_id, scores={"s": 1}, comment="c")
    result = bt_logs.flush()
    assert (result.produced, result.accepted) == (1, 1)
    assert [r["id"] for r in bt_logs.server.rows("project_logs")] == [good]


@pytest.mark.parametrize("row_id", [123, {"a": 1}])
def test_a_span_id_that_is_not_a_string_is_refused_before_it_spoils_its_batch(bt_logs, row_id):
    logger = braintrust.init_logger(project="span-ids")
    with logger.start_span(name="good") as good:
        with pytest.raises(ValueError, match=r"a span's id must be a string, got "):
            good.start_span(name="bad", id=row_id)
        with pytest.raises(ValueError, match=r"a span's id must be a string, got "):
            braintrust.start_span(name="bad", id=row_id)
    braintrust.start_span(name="own id", id="my-row-id").end()
    result = bt_logs.flush()
    assert result.accepted == result.produced == 2
    assert {r["id"] for r in bt_logs.server.rows("project_logs")} == {good.id, "my-row-id"}


@pytest.mark.parametrize("row_id", [123, {"a": 1}, b"bytes"])
def test_a_logged_or_updated_row_id_that_is_not_a_string_is_refused_at_the_call(bt_logs, row_id):
    """``logger.log(id=...)`` and ``update_span(id, ...)`` as spans are: refused where they are
    written, not at delivery, where the batch holding the row would be refused with it."""
    logger = braintrust.init_logger(project="row-ids")
    with pytest.raises(ValueError, match=r"logger.log: id must be a string, got "):
        logger.log(input=1, id=row_id)
    with pytest.raises(ValueError, match=r"update_span needs the id of the row to update \(a non-empty string"):
        logger.update_span(row_id, output=2)
    kept = logger.log(input=3, id="mine")
    result = bt_logs.flush()
    assert result.accepted == result.produced == 1
    assert [r["id"] for r in bt_logs.server.rows("project_logs")] == [kept]


def test_thousands_of_threads_and_tasks_and_deep_nesting_under_one_parent_lose_nothing():
    logger = braintrust.init_logger(project="crowd")
    threads_count, tasks_count, depth = 600, 600, 1500

    def work(i: int) -> None:
        with braintrust.start_span(name=f"thread {i}") as span:
            span.log(output=i)
            with span.start_span(name=f"thread {i} child"):
                pass

    async def tasks() -> None:
        async def one(i: int) -> None:
            with braintrust.start_span(name=f"task {i}"):
                await asyncio.sleep(0)

        await asyncio.gather(*(one(i) for i in range(tasks_count)))

    with logger.start_span(name="parent") as parent:
        threads = [threading.Thread(target=contextvars.copy_context().run, args=(work, i)) for i in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        asyncio.run(tasks())
        chain = [parent.start_span(name="depth 1")]
        for level in range(2, depth + 1):
            chain.append(chain[-1].start_span(name=f"depth {level}"))
        for span in reversed(chain):
            span.end()
    result = braintrust.flush()
    assert result.ok and result.accepted == result.produced == 1 + 2 * threads_count + tasks_count + depth
    rows = _local_rows("crowd")
    assert len(rows) == result.produced
    assert all(rows[f"thread {i}"]["span_parents"] == [parent.span_id] for i in range(threads_count))
    assert all(rows[f"task {i}"]["span_parents"] == [parent.span_id] for i in range(tasks_count))
    assert rows[f"depth {depth}"]["span_parents"] == [rows[f"depth {depth - 1}"]["span_id"]]
    assert {r["root_span_id"] for r in rows.values()} == {parent.root_span_id}


def test_rows_queued_before_the_masking_function_is_set_are_masked_too(bt_logs):
    secret = "sk-live-0123456789"
    logger = braintrust.init_logger(project="mask-late")
    logger.log(input={"key": secret}, output="o")
    with logger.start_span(name="open", input=secret) as span:
        exported = span.export()
        braintrust.set_masking_function(lambda value: json.loads(json.dumps(value).replace(secret, "***")))
        span.log(output=secret)
    braintrust.update_span(exported, metadata={"echo": secret})
    rows = bt_logs.rows()
    assert secret not in json.dumps(bt_logs.server.logs3_bodies)
    assert len(rows) == 2 and "***" in json.dumps(rows)


def test_scores_of_other_number_kinds_are_logged_as_plain_numbers(bt_logs):
    """``span.log`` and ``logger.log`` take a ``Decimal``, a ``Fraction`` or a numpy number as a
    score, as ``Eval``'s scorers do: a number in the row (it was text, ``"0.5"``, or refused, for
    numpy's bool), still held to [0, 1]."""
    from decimal import Decimal
    from fractions import Fraction

    import numpy as np

    logger = braintrust.init_logger(project="number-kinds")
    logger.log(input=1, scores={"decimal": Decimal("0.5"), "fraction": Fraction(1, 4), "np": np.float32(0.75), "np_bool": np.bool_(True)})
    with logger.start_span(name="span") as span:
        span.log(scores={"decimal": Decimal("0.25")})
        with pytest.raises(ValueError, match=r"score 'too_big' must be between 0 and 1, got 1.5"):
            span.log(scores={"too_big": Decimal("1.5")})
    bt_logs.flush()
    scores = sorted((row["scores"] for row in bt_logs.server.rows("project_logs")), key=len)
    assert scores == [{"decimal": 0.25}, {"decimal": 0.5, "fraction": 0.25, "np": 0.75, "np_bool": 1}]
