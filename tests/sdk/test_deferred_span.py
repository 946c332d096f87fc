"""A ``DeferredSpan`` (braintrust/tracing/deferred.py) builds its row once, when it ends; used as a
span before that, it becomes a real one. Either way the server ends up with the row a
``SpanImpl`` would have given it."""

from __future__ import annotations


import pytest

import braintrust
from braintrust.delivery import open_rows
from braintrust.tracing import deferred
from braintrust.tracing.deferred import DeferredSpan
from delivery_helpers import in_forked_child

CALLER = {"caller_functionname": "test_case", "caller_filename": "/src/test_x.py", "caller_lineno": 7}


def _case(experiment, **event):
    root = DeferredSpan(experiment.ref, "case", "eval", {"input": "q", "tags": ["t1"], **event}, CALLER)
    task = DeferredSpan(experiment.ref, "task", "task", {"input": "q"}, CALLER, parent=root)
    return root, task


def _rows(bt_logs, experiment):
    experiment.flush()
    return {r["span_attributes"]["name"]: r for r in bt_logs.server.rows("experiment") if "span_attributes" in r}


def test_untouched_spans_are_one_write_each_with_everything(bt_logs):
    experiment = braintrust.init(project="deferred", experiment="plain")
    root, task = _case(experiment)
    assert open_rows.open_count() == 2
    task.finish({"output": "a"})
    root.finish({"output": "a", "scores": {"pass": 1}, "metadata": {"k": 1}, "tags": ["t2"]})
    assert open_rows.open_count() == 0
    rows = _rows(bt_logs, experiment)
    writes = [r for r in bt_logs.sent_rows() if r.get("experiment_id")]
    assert len(writes) == 2 and not any(w["_is_merge"] for w in writes)
    case, body = rows["case"], rows["task"]
    assert case["input"] == "q" and case["output"] == "a" and case["scores"] == {"pass": 1}
    assert case["metadata"] == {"k": 1} and case["tags"] == ["t1", "t2"]
    assert case["span_attributes"]["type"] == "eval" and case["span_parents"] is None
    assert case["context"]["caller_functionname"] == "test_case" and case["context"]["caller_lineno"] == 7
    assert body["span_parents"] == [case["span_id"]] and body["root_span_id"] == case["root_span_id"]
    assert body["span_attributes"]["exec_counter"] > case["span_attributes"]["exec_counter"]
    assert case["metrics"]["start"] <= body["metrics"]["start"] <= body["metrics"]["end"] <= case["metrics"]["end"]


def test_a_given_end_is_kept_as_by_a_real_span(bt_logs):
    experiment = braintrust.init(project="deferred", experiment="given-end")
    root, task = _case(experiment)
    task.finish({"output": "a"})
    assert root.finish({"metrics": {"end": 1_800_000_000.0, "tokens": 2}}) == 1_800_000_000.0
    case = _rows(bt_logs, experiment)["case"]
    assert case["metrics"]["end"] == 1_800_000_000.0 and case["metrics"]["tokens"] == 2


def test_the_same_row_as_a_real_span(bt_logs):
    """Deferred or made real halfway (a ``log`` from the test), the stored rows agree."""
    experiment = braintrust.init(project="deferred", experiment="same")
    deferred, _ = _case(experiment)
    made_real, _ = _case(experiment)
    made_real.log(metadata={"k": 1})  # becomes a SpanImpl holding the same row
    for span in (deferred, made_real):
        span.finish({"output": "a", "metadata": {"k": 1}, "scores": {"pass": 0}})
    experiment.flush()
    stored = {r["id"]: r for r in bt_logs.server.rows("experiment")}
    a, b = stored[deferred.id], stored[made_real.id]
    volatile = {"id", "span_id", "root_span_id", "created", "metrics", "span_attributes", "_xact_id"}
    assert {k: v for k, v in a.items() if k not in volatile} == {k: v for k, v in b.items() if k not in volatile}
    assert a["span_attributes"]["name"] == b["span_attributes"]["name"] == "case"
    assert b["created"] == braintrust.tracing.timestamps.iso_utc(made_real._start)  # when it started, not when it became real


def test_children_nest_without_making_it_real(bt_logs):
    experiment = braintrust.init(project="deferred", experiment="nest")
    root, task = _case(experiment)
    task.set_current()
    try:
        with braintrust.start_span(name="llm-call") as child:
            child.log(output="tokens")

        @braintrust.traced
        def helper(x):
            return x * 2

        helper(2)
        assert braintrust.current_span() is task
    finally:
        task.unset_current()
    assert task._real is None and root._real is None
    task.finish({})
    root.finish({})
    rows = _rows(bt_logs, experiment)
    assert rows["llm-call"]["span_parents"] == [rows["task"]["span_id"]]
    assert rows["helper"]["span_parents"] == [rows["task"]["span_id"]]
    assert {r["root_span_id"] for r in rows.values()} == {rows["case"]["root_span_id"]}


def test_a_flush_mid_span_delivers_it_and_later_fields_merge(bt_logs):
    experiment = braintrust.init(project="deferred", experiment="flush")
    root, _ = _case(experiment)
    experiment.flush()
    first = [r for r in bt_logs.sent_rows() if r.get("id") == root.id]
    assert len(first) == 1 and first[0]["_is_merge"] is False and "end" not in first[0]["metrics"]
    root.finish({"output": "late", "scores": {"pass": 1}})
    rows = _rows(bt_logs, experiment)
    assert rows["case"]["output"] == "late" and rows["case"]["input"] == "q"
    assert set(rows["case"]["metrics"]) == {"start", "end"}
    assert [r["_is_merge"] for r in bt_logs.sent_rows() if r.get("id") == root.id] == [False, True]


def test_feedback_before_the_end_is_kept(bt_logs):
    """Feedback to the row queues the row first: its first write cannot replace the feedback."""
    experiment = braintrust.init(project="deferred", experiment="feedback")
    root, _ = _case(experiment)
    root.log_feedback(scores={"human": 1.0}, comment="fine")
    experiment.log_feedback(id=root.id, expected="gold", metadata={"reviewer": "x"})
    root.finish({"output": "a"})
    case = _rows(bt_logs, experiment)["case"]
    assert case["scores"] == {"human": 1.0} and case["_audit_metadata"] == {"reviewer": "x"}
    assert case["output"] == "a" and case["input"] == "q" and case["expected"] == "gold"


def test_export_and_links_name_the_span(bt_logs):
    experiment = braintrust.init(project="deferred", experiment="export")
    root, _ = _case(experiment)
    slug = root.export()
    braintrust.update_span(slug, metadata={"updated": True})
    root.finish({"output": "a"})
    assert root.link() and root.permalink()
    case = _rows(bt_logs, experiment)["case"]
    assert case["metadata"] == {"updated": True} and case["output"] == "a"


def test_ending_twice_writes_once(bt_logs):
    experiment = braintrust.init(project="deferred", experiment="twice")
    root, _ = _case(experiment)
    first = root.end()
    assert root.finish({"output": "ignored"}) == first
    experiment.flush()
    assert len([r for r in bt_logs.sent_rows() if r.get("id") == root.id]) == 1
    root.log(metadata={"after": True})  # after the end: a merge into the written row
    case = _rows(bt_logs, experiment)["case"]
    assert case["metadata"] == {"after": True} and "output" not in case


def test_bad_fields_fail_at_once_and_lose_nothing(bt_logs):
    experiment = braintrust.init(project="deferred", experiment="bad")
    root, _ = _case(experiment)
    with pytest.raises(ValueError, match="score"):
        root.finish({"scores": {"pass": 3}})
    root.finish({"scores": {"pass": 1}})
    assert _rows(bt_logs, experiment)["case"]["scores"] == {"pass": 1}


def test_past_the_bound_it_is_real_at_once(bt_logs, monkeypatch):
    monkeypatch.setattr(open_rows, "MAX_OPEN_ROWS", 0)
    experiment = braintrust.init(project="deferred", experiment="bound")
    root, _ = _case(experiment)
    assert root._real is not None and open_rows.open_count() == 0
    root.finish({"output": "a"})
    assert _rows(bt_logs, experiment)["case"]["output"] == "a"


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")  # forking is the point
def test_a_forked_child_merges_into_the_parents_row(bt_logs):
    experiment = braintrust.init(project="deferred", experiment="fork")
    experiment.id  # registered before forking
    root, _ = _case(experiment)

    def child() -> bool:
        root.log(metadata={"child": True})
        return braintrust.flush().ok

    assert in_forked_child(child) == 0
    root.finish({"output": "parent"})
    experiment.flush()
    writes = [r for r in bt_logs.sent_rows() if r.get("id") == root.id]
    # The child sent a merge, and the parent's first write merges too, so it keeps the child's.
    assert len(writes) == 2 and all(w.get("_is_merge") for w in writes)
    case = {r["id"]: r for r in bt_logs.server.rows("experiment")}[root.id]
    assert case["output"] == "parent" and case["input"] == "q" and case["metadata"]["child"] is True


@pytest.mark.parametrize("resolved", [False, True], ids=["unresolved", "resolved"])
def test_values_are_frozen_at_the_end_and_made_json_safe(bt_logs, resolved, monkeypatch):
    """Once the experiment is registered the row is encoded straight from the caller's values;
    either way later mutation does not show, and what JSON cannot hold follows the snapshot
    table (NaN -> "NaN", sets -> sorted lists, nested None kept)."""
    experiment = braintrust.init(project="deferred", experiment=f"values-{resolved}")
    if resolved:
        experiment.id
    root, _ = _case(experiment)
    output = {"answer": "a", "none": None, "tags": {"y", "x"}, "score": float("nan")}
    plain = {"answer": "b", "n": 1}
    metadata = {"k": [1, 2]}
    root.finish({"output": output, "metadata": metadata})
    other, _ = _case(experiment)
    snapshots = []
    real_snapshot = deferred.jsonsafe.snapshot
    with monkeypatch.context() as patch:
        patch.setattr(deferred.jsonsafe, "snapshot", lambda value: snapshots.append(value) or real_snapshot(value))
        other.finish({"output": plain})
    assert (snapshots == []) == resolved  # resolved: encoded from the values, no snapshot
    output["answer"] = metadata["k"][0] = plain["answer"] = "changed"
    experiment.flush()
    stored = {r["id"]: r for r in bt_logs.server.rows("experiment") if "span_attributes" in r}
    assert stored[root.id]["output"] == {"answer": "a", "none": None, "tags": ["x", "y"], "score": "NaN"}
    assert stored[root.id]["metadata"] == {"k": [1, 2]}
    assert stored[other.id]["output"] == {"answer": "b", "n": 1}
