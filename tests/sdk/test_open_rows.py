"""An open span holds its row and queues it once (braintrust/delivery/open_rows.py): at its end,
at a flush, or before another write to the same row id. What the server ends up with is the same
as if every write had been sent."""

from __future__ import annotations

import os
import sys
import threading

import pytest

import braintrust
from braintrust.delivery import open_rows
from delivery_helpers import in_forked_child, subprocess_env


def test_a_span_is_one_write_with_everything_it_logged(bt_logs):
    logger = braintrust.init_logger(project="open")
    with logger.start_span(name="s", input=1, tags=["a"]) as span:
        span.log(output=2, metadata={"x": 1}, tags=["b"])
        span.log(metadata={"y": 2}, scores={"q": 0.5})
        span.set_attributes(type="llm")
        assert open_rows.open_count() == 1
    assert open_rows.open_count() == 0
    bt_logs.flush()
    (row,) = bt_logs.sent_rows()
    assert "_is_merge" not in row  # a first write with its merges folded in
    assert row["input"] == 1 and row["output"] == 2
    assert row["metadata"] == {"x": 1, "y": 2} and row["scores"] == {"q": 0.5}
    assert row["tags"] == ["a", "b"]
    assert row["span_attributes"]["type"] == "llm" and row["span_attributes"]["name"] == "s"
    assert set(row["metrics"]) == {"start", "end"}


def test_a_flush_delivers_open_spans_and_later_logs_merge(bt_logs):
    logger = braintrust.init_logger(project="open")
    span = logger.start_span(name="long", input="in")
    bt_logs.flush()
    (first,) = bt_logs.sent_rows()
    assert first["input"] == "in" and first["_is_merge"] is False and "end" not in first["metrics"]
    span.log(output="out")
    span.end()
    (row,) = bt_logs.rows()
    assert row["input"] == "in" and row["output"] == "out"
    assert set(row["metrics"]) == {"start", "end"}
    assert [r["_is_merge"] for r in bt_logs.sent_rows()] == [False, True]


def test_feedback_and_update_span_reach_the_row_after_it(bt_logs):
    """A write from elsewhere to a held row queues the row first: otherwise the span's first
    write, arriving later, would replace what the feedback merged."""
    experiment = braintrust.init(project="open", experiment="fb")
    span = experiment.start_span(name="case", input="q")
    experiment.log_feedback(id=span.id, scores={"human": 1.0}, comment="good")
    braintrust.update_span(span.export(), metadata={"updated": True})
    span.log(output="a")
    span.end()
    experiment.flush()
    rows = [r for r in bt_logs.server.rows("experiment") if r["id"] == span.id]
    (row,) = rows
    assert row["scores"] == {"human": 1.0}
    assert row["metadata"] == {"updated": True}
    assert row["input"] == "q" and row["output"] == "a"


def test_children_end_before_their_parent_and_nest(bt_logs):
    logger = braintrust.init_logger(project="open")
    with logger.start_span(name="root") as root:
        with root.start_span(name="child") as child:
            child.log(output=1)
        assert open_rows.open_count() == 1
    named = bt_logs.by_name()
    assert named["child"]["span_parents"] == [named["root"]["span_id"]]
    assert [r["span_attributes"]["name"] for r in bt_logs.sent_rows()] == ["child", "root"]


def test_spans_from_many_threads_lose_nothing(bt_logs):
    logger = braintrust.init_logger(project="open")
    root = logger.start_span(name="root")

    def work(n: int) -> None:
        for i in range(50):
            root.log(metadata={f"t{n}-{i}": i})
            with root.start_span(name=f"c{n}-{i}") as child:
                child.log(output=i)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    root.end()
    rows = bt_logs.rows()
    assert len(rows) == 1 + 4 * 50
    (merged_root,) = [r for r in rows if r["span_attributes"]["name"] == "root"]
    assert len(merged_root["metadata"]) == 200


def test_past_the_bound_new_spans_write_at_once(bt_logs, monkeypatch):
    monkeypatch.setattr(open_rows, "MAX_OPEN_ROWS", 3)
    logger = braintrust.init_logger(project="open")
    spans = [logger.start_span(name=f"s{i}") for i in range(5)]
    assert open_rows.open_count() == 3
    for span in spans:
        span.log(output=span.name)
        span.end()
    rows = bt_logs.rows()
    assert sorted(r["output"] for r in rows) == [f"s{i}" for i in range(5)]


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")  # forking is the point
def test_a_forked_child_does_not_send_what_the_parent_holds(bt_logs):
    logger = braintrust.init_logger(project="open")
    held = logger.start_span(name="parent-span", input="p")
    logger.id  # resolve before forking

    def child() -> bool:  # log a span of its own, flush
        with logger.start_span(name="child-span"):
            pass
        return braintrust.flush().ok

    assert in_forked_child(child) == 0
    held.end()
    named = bt_logs.by_name()
    assert named["parent-span"]["input"] == "p"
    assert "child-span" in named
    writes = [r for r in bt_logs.sent_rows() if r["id"] == held.id]
    assert len(writes) == 1 and writes[0]["input"] == "p"  # the child never sent the parent's held row


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")  # forking is the point
@pytest.mark.parametrize("kind", ["span", "deferred"])
def test_what_a_forked_child_logs_to_an_inherited_span_survives_the_parents_first_write(bt_logs, kind):
    """The child's merge reaches the server before the parent queues the row it held: the
    parent's first write must merge into it, not replace it."""
    from braintrust.tracing.deferred import DeferredSpan

    logger = braintrust.init_logger(project="open")
    logger.id  # resolve before forking
    if kind == "span":
        held = logger.start_span(name="inherited", input="from the parent")
    else:
        held = DeferredSpan(logger.ref, "inherited", "eval", {"input": "from the parent"}, {})
    child_done = in_forked_child(lambda: (held.log(output="from the child"), braintrust.flush().ok)[1])
    assert child_done == 0
    if kind == "span":
        held.log(metadata={"parent": "after the fork"})
        held.end()
    else:
        held.finish({"metadata": {"parent": "after the fork"}})
    row = bt_logs.by_name()["inherited"]
    assert row["input"] == "from the parent" and row["output"] == "from the child"
    assert row["metadata"] == {"parent": "after the fork"}
    writes = [r for r in bt_logs.sent_rows() if r["id"] == held.id]
    assert len(writes) == 2 and all(w.get("_is_merge") for w in writes)
    assert not open_rows._held_at_fork  # nothing left to mark


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")  # forking is the point
def test_rows_opened_after_a_fork_are_first_written_as_usual(bt_logs):
    logger = braintrust.init_logger(project="open")
    logger.id
    assert in_forked_child(lambda: True) == 0
    with logger.start_span(name="after", input=1):
        pass
    bt_logs.flush()
    (row,) = [r for r in bt_logs.sent_rows() if r.get("span_attributes", {}).get("name") == "after"]
    assert not row.get("_is_merge")


def _open_span_script(tmp_path, project: str, span_name: str, then: str):
    """A script that opens a span on a logger of ``project`` (logged in), then runs ``then``."""
    script = tmp_path / f"{project}.py"
    script.write_text(
        "import atexit, sys, threading, time, braintrust\n"
        f"logger = braintrust.init_logger(project={project!r})\n"
        f"span = logger.start_span(name={span_name!r}, input='kept')\n"
        "logger.id\n" + then
    )
    return script


def _server_env(bt_server) -> dict:
    return subprocess_env(BRAINTRUST_API_KEY=bt_server.api_key, BRAINTRUST_APP_URL=bt_server.url, PYTHONPATH=os.getcwd())


def test_the_exit_flush_delivers_an_open_span_when_no_thread_can_start(bt_server, tmp_path):
    """Python 3.12.0 and 3.12.1 refuse new threads in atexit handlers, where the exit flush runs:
    the span's row is queued then, with no sender thread yet, and must still be sent."""
    import subprocess

    script = _open_span_script(
        tmp_path, "exit-no-threads", "open-at-exit",
        "def refuse(thread):\n"
        "    raise RuntimeError(\"can't create new thread at interpreter shutdown\")\n"
        "# atexit runs handlers last-in first-out: this one runs before braintrust's flush\n"
        "atexit.register(setattr, threading.Thread, 'start', refuse)\n",
    )
    done = subprocess.run([sys.executable, str(script)], env=_server_env(bt_server), capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "flush failed" not in done.stderr, done.stderr
    (row,) = bt_server.rows("project_logs")
    assert row["input"] == "kept" and row["span_attributes"]["name"] == "open-at-exit"


def test_sigterm_delivers_an_open_span(bt_server, tmp_path):
    """A process killed by SIGTERM while a span is open still delivers that span's row."""
    import signal
    import subprocess
    import time

    script = _open_span_script(tmp_path, "open-sigterm", "interrupted", "print('READY', flush=True)\ntime.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, str(script)], env=_server_env(bt_server), stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "READY"
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=15)
    assert time.monotonic() - started < 11
    (row,) = bt_server.rows("project_logs")
    assert row["input"] == "kept" and row["span_attributes"]["name"] == "interrupted"
