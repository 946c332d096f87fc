"""The engine: concurrency bounds, timeouts, cancellation, Ctrl-C in a real process, running inside
an event loop, no_send_logs / parent, stream, on_start, reporters and the thread pool."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from braintrust.framework import Eval, EvalAsync, EvalCase, Reporter, set_thread_pool_max_workers
from braintrust.eval import api
from braintrust.eval.results import EvalTimeoutError
from braintrust.eval.threads import BoundedThreadPool, shared_pool
from delivery_helpers import subprocess_env
from eval_support import exact, roots, stored_rows, trace_of


class Overlap:
    """Measures how many calls run at the same time."""

    def __init__(self):
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def enter(self):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def leave(self):
        with self.lock:
            self.now -= 1


@pytest.fixture
def wide_pool():
    pool = shared_pool()
    before = pool.max_workers
    set_thread_pool_max_workers(16)
    yield
    set_thread_pool_max_workers(before)


# -- concurrency ------------------------------------------------------------------------------------


def test_max_concurrency_bounds_async_trials():
    overlap = Overlap()

    async def task(x):
        overlap.enter()
        await asyncio.sleep(0.02)
        overlap.leave()
        return x

    Eval("concurrency", data=[{"input": i} for i in range(12)], task=task, scores=[lambda output: 1], max_concurrency=3)
    assert overlap.peak == 3


def test_max_concurrency_bounds_sync_trials_and_without_it_they_overlap(wide_pool):
    bounded, unbounded = Overlap(), Overlap()

    def make(overlap):
        def task(x):
            overlap.enter()
            time.sleep(0.03)
            overlap.leave()
            return x

        return task

    Eval("concurrency", data=[{"input": i} for i in range(8)], task=make(bounded), scores=[lambda output: 1], max_concurrency=2)
    Eval("concurrency", data=[{"input": i} for i in range(8)], task=make(unbounded), scores=[lambda output: 1])
    assert bounded.peak == 2
    assert unbounded.peak >= 4


def test_thread_pool_bounds_sync_work():
    overlap = Overlap()

    def task(x):
        overlap.enter()
        time.sleep(0.02)
        overlap.leave()
        return x

    pool = shared_pool()
    before = pool.max_workers
    set_thread_pool_max_workers(2)
    try:
        Eval("pool", data=[{"input": i} for i in range(8)], task=task, scores=[lambda output: 1])
    finally:
        set_thread_pool_max_workers(before)
    assert overlap.peak == 2
    with pytest.raises(ValueError):
        set_thread_pool_max_workers(0)


def test_bounded_pool_runs_in_a_copy_of_the_submitting_context():
    import contextvars

    var = contextvars.ContextVar("v", default="unset")
    pool = BoundedThreadPool(2)

    async def main():
        from braintrust.eval.threads import run_in_pool

        var.set("set-in-task")
        return await run_in_pool(pool, var.get)

    assert asyncio.run(main()) == "set-in-task"
    assert pool.active_threads() <= 2


# -- timeout and cancellation -----------------------------------------------------------------------


def test_timeout_raises_with_the_finished_results_and_their_rows_are_stored():
    async def task(x):
        await asyncio.sleep(0 if x < 3 else 30)
        return x

    started = time.monotonic()
    with pytest.raises(EvalTimeoutError) as info:
        Eval("timeouts", data=[{"input": i, "expected": i} for i in range(5)], task=task, scores=[exact], timeout=0.5, experiment_name="t")
    assert time.monotonic() - started < 5
    error = info.value
    assert isinstance(error, TimeoutError) and "Evaluator timed out" in str(error)
    assert sorted(r.input for r in error.results) == [0, 1, 2]
    assert all(r.scores == {"exact": 1.0} for r in error.results)
    assert error.cancelled == 2
    rows = stored_rows(error.experiment.id)
    finished = {r["input"]: r for r in roots(rows)}
    assert {0, 1, 2} <= set(finished)
    for i in (0, 1, 2):
        root, spans = trace_of(rows, i)
        assert root["output"] == i and spans["exact"]["scores"] == {"exact": 1.0}
    for i in (3, 4):  # still running at the deadline: kept, with the reason
        root, spans = trace_of(rows, i)
        assert "timed out" in root["error"] and "timed out" in spans["task"]["error"]
        assert root["metrics"]["end"] >= root["metrics"]["start"]


def test_timeout_counts_trials_waiting_for_a_max_concurrency_slot_as_never_started():
    async def task(x):
        await asyncio.sleep(0 if x == 0 else 30)
        return x

    with pytest.raises(EvalTimeoutError) as info:
        Eval("timeouts", data=[{"input": i} for i in range(6)], task=task, scores=[lambda output: 1], timeout=0.5, max_concurrency=2)
    assert info.value.cancelled == 2
    assert "1 of 6 trials finished (their rows were flushed), 2 cancelled while running (logged with an error), 3 never started." in str(info.value)
    assert sorted(r["input"] for r in roots(stored_rows(info.value.experiment.id))) == [0, 1, 2]


def test_timeout_with_a_stuck_sync_task_returns_promptly():
    release = threading.Event()

    def task(x):
        if x == 1:
            release.wait(20)
        return x

    started = time.monotonic()
    with pytest.raises(EvalTimeoutError) as info:
        Eval("timeouts", data=[{"input": 0}, {"input": 1}], task=task, scores=[lambda output: 1], timeout=0.4)
    release.set()
    assert time.monotonic() - started < 5
    assert [r.input for r in info.value.results] == [0]


def test_sync_tasks_stuck_after_a_timeout_do_not_hold_the_pool_from_the_next_eval():
    release = threading.Event()
    pool = shared_pool()
    before = pool.max_workers
    set_thread_pool_max_workers(2)
    try:
        with pytest.raises(EvalTimeoutError):
            Eval("stuck", data=[{"input": i} for i in range(2)], task=lambda x: release.wait(20), scores=[lambda output: 1], timeout=0.3)
        started = time.monotonic()
        result = Eval("after-stuck", data=[{"input": i} for i in range(4)], task=lambda x: x, scores=[lambda output: 1], timeout=10)
        assert time.monotonic() - started < 5 and len(result.results) == 4
        assert pool.active_threads() <= 4
    finally:
        release.set()
        set_thread_pool_max_workers(before)
    deadline = time.monotonic() + 5
    while pool.active_threads() > 2 and time.monotonic() < deadline:  # the stuck ones leave once released
        time.sleep(0.02)
    assert pool.active_threads() <= 2


def test_cancel_event_cancels_the_run():
    cancel = threading.Event()

    async def task(x):
        if x == 2:
            cancel.set()
        await asyncio.sleep(0 if x < 2 else 30)
        return x

    started = time.monotonic()
    with pytest.raises(asyncio.CancelledError):
        Eval("cancel", data=[{"input": i} for i in range(4)], task=task, scores=[lambda output: 1], cancel_event=cancel, max_concurrency=1)
    assert time.monotonic() - started < 5



def test_a_task_on_a_thread_sees_hooks_cancel_event_when_the_eval_times_out():
    """A sync task runs on a thread that cannot be stopped; ``hooks.cancel_event`` (the Eval's own
    when none was given, as in the public SDK) is set on the timeout, so the task can stop."""
    stopped = threading.Event()

    def task(x, hooks):
        if hooks.cancel_event.wait(10):
            stopped.set()
        return x

    with pytest.raises(EvalTimeoutError):
        Eval("cooperative", data=[{"input": 1}], task=task, scores=[lambda output: 1], timeout=0.3)
    assert stopped.wait(5)

    mine = threading.Event()
    result = Eval("given", data=[{"input": 1}], task=lambda x, hooks: hooks.cancel_event is mine, scores=[], cancel_event=mine)
    assert result.results[0].output is True and not mine.is_set()

def test_timeout_stops_a_slow_sync_generator_while_it_is_read():
    """A generator read on the event loop blocked it, so the timeout fired only once every item was
    read. Now the loop gets its turn between items, so it stops after the item it was reading when
    the deadline passed: no trial started, the cases read (and the rest) counted as never started,
    and the generator is closed (its ``finally`` runs)."""
    yielded, closed = [], threading.Event()

    def slow_cases():
        try:
            for i in range(10):
                time.sleep(1.0)
                yielded.append(i)
                yield {"input": i}
        finally:
            closed.set()

    started = time.monotonic()
    with pytest.raises(EvalTimeoutError) as info:
        Eval("slow-data", data=slow_cases, task=lambda x: x, scores=[lambda output: 1], timeout=1.5)
    assert time.monotonic() - started < 6  # (10 s before: the whole generator was read first)
    message = str(info.value)
    read = len(yielded)  # (items take 1 s: the deadline passes while the second is read, unless the VM stalls)
    assert 1 <= read <= 3, yielded
    cases = "case" if read == 1 else f"{read} cases"
    assert f"exceeded timeout=1.5s while reading data, after its first {cases}: 0 trials finished, 0 cancelled while running; " \
           f"the trials of the {cases} read and of the cases not read yet never started." in message, message
    assert info.value.results == [] and info.value.cancelled == 0 and info.value.experiment is None
    assert closed.is_set()


def test_a_generator_is_read_on_the_calling_thread_in_order():
    """A generator may use objects bound to the thread that made them (a ``sqlite3`` connection
    refuses other threads): it is read where ``Eval`` was called, in order, a bad item refused
    by its position."""
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE cases (input INTEGER, expected INTEGER)")
    conn.executemany("INSERT INTO cases VALUES (?, ?)", [(1, 1), (2, 2), (3, 0)])

    def generator():
        for input, expected in conn.execute("SELECT input, expected FROM cases ORDER BY input"):
            yield {"input": input, "expected": expected}

    result = Eval("readers", data=generator, task=lambda x: x, scores=[exact], no_send_logs=True)
    assert [(r.input, r.scores) for r in result.results] == [(1, {"exact": 1.0}), (2, {"exact": 1.0}), (3, {"exact": 0.0})]
    with pytest.raises(TypeError, match=r"data item 1 has no 'input' key"):
        Eval("readers", data=iter([{"input": 1}, {"expected": 2}]), task=lambda x: x, scores=[exact], no_send_logs=True)


def test_ctrl_c_while_a_slow_generator_is_read_stops_promptly(tmp_path):
    proc = _run_script(
        tmp_path,
        """
        import time
        from braintrust.framework import Eval

        def cases():
            print("READING", flush=True)
            for i in range(60):
                time.sleep(1)
                yield {"input": i}

        Eval("interrupts", data=cases, task=lambda x: x, scores=[lambda output: 1])
        print("NOT REACHED", flush=True)
        """,
    )
    try:
        assert proc.stdout.readline().strip() == "READING"
        time.sleep(0.5)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)  # (60 s before: Ctrl-C waited for the whole generator)
        assert time.monotonic() - sent < 10
    finally:
        proc.kill()
    assert proc.returncode in (130, -signal.SIGINT), err
    assert "NOT REACHED" not in out and "KeyboardInterrupt" in err


def _run_script(tmp_path: Path, body: str) -> subprocess.Popen:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(body))
    env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"))
    return subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_ctrl_c_in_a_real_process_stops_promptly_and_flushes_what_finished(tmp_path, kind):
    task = (
        "def task(x):\n    if x == 0:\n        print('STARTED', flush=True)\n    time.sleep(0.25)\n    return x\n"
        if kind == "sync"
        else "async def task(x):\n    if x == 0:\n        print('STARTED', flush=True)\n    await asyncio.sleep(0.25)\n    return x\n"
    )
    proc = _run_script(
        tmp_path,
        "import asyncio, time\nfrom braintrust.framework import Eval\n" + task + textwrap.dedent("""
        Eval("interrupts", data=[{"input": i, "expected": i} for i in range(60)], task=task,
             scores=[lambda output, expected: output == expected], experiment_name="ctrl-c", max_concurrency=2)
        print("NOT REACHED", flush=True)
        """),
    )
    assert proc.stdout.readline().strip() == "STARTED"
    time.sleep(1.0)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 10
    assert proc.returncode in (130, -signal.SIGINT), err
    assert "NOT REACHED" not in out
    assert "KeyboardInterrupt" in err and "was interrupted" in err

    from braintrust.store.sqlite_store import LocalStore

    store = LocalStore(tmp_path / "store" / "braintrust.sqlite")
    project = store.get_project(name="interrupts")
    experiment = store.get_experiment(project_id=project["id"], name="ctrl-c")
    rows, _ = store.fetch_rows("experiment", experiment["id"], limit=10000)
    root_rows = [r for r in rows if not r.get("span_parents")]
    done = [r for r in root_rows if "output" in r]
    assert len(done) >= 4  # about 8 had finished after one second
    for root in done:  # a finished trial is complete: task and score spans, scores on the score span
        kids = [r for r in rows if r.get("span_parents") == [root["span_id"]]]
        assert sorted(k["span_attributes"]["name"] for k in kids) == ["scorer_0", "task"]
        assert [k for k in kids if k["span_attributes"]["name"] == "scorer_0"][0]["scores"] == {"scorer_0": 1}
    cut = [r for r in root_rows if "output" not in r]
    assert all("interrupted" in r["error"] for r in cut)
    assert len(root_rows) < 60


# -- inside a running event loop ------------------------------------------------------------------------


@pytest.mark.asyncio
# (a notice, as 0.48.1's: -W error must not fail the Eval; on 3.13 an unclosed SQLite connection
# of an earlier test in this process can be collected here, which is not this test's warning)
@pytest.mark.filterwarnings("error", "ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
async def test_eval_inside_a_running_loop_returns_an_awaitable_task(capsys, monkeypatch):
    monkeypatch.setattr(api, "_async_context_noticed", False)
    pending = Eval("in-loop", data=[{"input": 1, "expected": 1}], task=lambda x: x, scores=[exact])
    again = Eval("in-loop", data=[{"input": 2, "expected": 2}], task=lambda x: x, scores=[exact])
    assert isinstance(pending, asyncio.Task)
    result = await pending
    assert result.results[0].scores == {"exact": 1.0}
    await again
    assert capsys.readouterr().err.count("`Eval()` was called from an async context") == 1  # once per process


@pytest.mark.asyncio
async def test_eval_async_and_the_loop_stays_responsive():
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    background = asyncio.create_task(ticker())
    result = await EvalAsync("in-loop", data=[{"input": i} for i in range(3)], task=lambda x: time.sleep(0.1) or x, scores=[lambda output: 1])
    background.cancel()
    assert len(result.results) == 3
    assert ticks >= 5  # sync tasks ran on threads, not on the loop


# -- no_send_logs, parent -------------------------------------------------------------------------------


def test_no_send_logs_logs_in_nowhere_and_writes_nothing(bt_server, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_API_KEY", bt_server.api_key)
    monkeypatch.setenv("BRAINTRUST_APP_URL", bt_server.url)
    result = Eval("local-only", data=[{"input": 1, "expected": 1}], task=lambda x: x, scores=[exact], no_send_logs=True)
    assert result.results[0].scores == {"exact": 1.0}
    assert result.summary.experiment_id is None and result.summary.experiment_url is None
    assert result.summary.experiment_name == "local-only"  # (the evaluator's name, as 0.48.1's)
    named = Eval("local-only", data=[{"input": 1}], task=lambda x: x, scores=[], no_send_logs=True, experiment_name="named")
    assert named.summary.experiment_name == "local-only [experiment_name=named]"
    assert bt_server.requests == []  # not even a login
    assert not (Path(os.environ["BRAINTRUST_LOCAL_DIR"]) / "braintrust.sqlite").exists()


def test_no_send_logs_spans_go_to_the_current_parent():
    from braintrust.objects.experiment import init

    experiment = init(project="outer", experiment="holder", set_current=False)
    with experiment.start_span(name="outer-span") as outer:
        Eval("local-only", data=[{"input": "x"}], task=lambda x: x, scores=[lambda output: 1], no_send_logs=True)
    experiment.flush()
    rows = stored_rows(experiment.id)
    evals = [r for r in rows if r["span_attributes"]["name"] == "eval"]
    assert len(evals) == 1 and evals[0]["span_parents"] == [outer.span_id]


def test_parent_slug_puts_the_trials_under_that_span():
    from braintrust.objects.experiment import init

    experiment = init(project="parented", experiment="holder", set_current=False)
    experiment.id  # resolved first: an unresolved experiment's span exports project args instead of its id
    span = experiment.start_span(name="playground-run")
    result = Eval("parented", data=[{"input": "x"}], task=lambda x: x, scores=[lambda output: 1], parent=span.export())
    span.end()
    assert result.summary.experiment_id is None  # no experiment of its own
    rows = stored_rows(experiment.id)
    evals = [r for r in rows if r["span_attributes"]["name"] == "eval"]
    assert len(evals) == 1 and evals[0]["span_parents"] == [span.span_id]
    assert [r for r in rows if r["span_attributes"]["name"] == "scorer_0"][0]["scores"] == {"scorer_0": 1}


# -- stream, on_start, reporters, options -----------------------------------------------------------


def test_stream_receives_the_progress_events_a_task_reports():
    """Only what the task reports, as 0.48.1 (the dev server reports each output itself)."""
    events = []

    def task(input, hooks):
        hooks.report_progress({"event": "progress", "data": "half way"})
        return {"answer": input}

    Eval("streaming", data=[{"input": 1}], task=task, scores=[lambda output: 1], stream=events.append)
    kinds = [(e["event"], e["data"]) for e in events]
    assert kinds == [("progress", "half way")]
    assert all(e["object_type"] == "task" and e["name"] == "streaming" for e in events)
    from braintrust import SSEProgressEvent

    assert all(SSEProgressEvent.__required_keys__ <= set(e) <= SSEProgressEvent.__required_keys__ | {"origin"} for e in events)


def test_on_start_gets_the_experiment_summary_before_the_run():
    seen = []
    Eval("starting", data=[{"input": 1}], task=lambda x: seen.append("task") or x, scores=[lambda output: 1],
         experiment_name="s1", on_start=lambda summary: seen.append(("start", summary.experiment_name, dict(summary.scores))))
    assert seen == [("start", "s1", {}), "task"]


def test_on_start_is_not_called_without_an_experiment():
    """``no_send_logs=True`` or ``parent=``: no experiment is made, so, as in 0.48.1, there is no
    start to tell (ours called it with a summary of nothing)."""
    seen = []
    Eval("quiet", data=[{"input": 1}], task=lambda x: x, scores=[lambda output: 1], no_send_logs=True,
         on_start=lambda summary: seen.append(summary))
    assert seen == []


def test_custom_reporter_replaces_the_default_printing(capsys):
    reports = []
    reporter = Reporter("mine", report_eval=lambda ev, result, verbose, jsonl: reports.append((ev.eval_name, len(result.results), verbose, jsonl)) or "report", report_run=lambda reports, verbose, jsonl: True)
    Eval("reporting", data=[{"input": 1}], task=lambda x: x, scores=[lambda output: 1], reporter=reporter)
    assert reports == [("reporting", 1, True, False)]  # (Eval() reports verbosely, as the public SDK's does)
    assert "SUMMARY" not in capsys.readouterr().out


def test_experiment_options_reach_the_experiment():
    from braintrust.store.sqlite_store import LocalStore

    result = Eval(
        "options", data=[{"input": 1}], task=lambda x: x, scores=[lambda output: 1], experiment_name="opts",
        metadata={"model": "m"}, tags=["nightly"], description="desc", is_public=True,
        repo_info={"commit": "abc", "branch": "main"},
    )
    experiment = LocalStore().get_experiment(id=result.summary.experiment_id)
    assert experiment["name"] == "opts" and experiment["metadata"] == {"model": "m"} and experiment["tags"] == ["nightly"]
    assert experiment["description"] == "desc" and experiment["repo_info"]["commit"] == "abc"
    again = Eval("options", data=[{"input": 2}], task=lambda x: x, scores=[lambda output: 1], experiment_name="opts", update=True)
    assert again.summary.experiment_id == result.summary.experiment_id
    assert len(roots(stored_rows(result))) == 2


def test_summarize_scores_false_skips_the_comparison():
    result = Eval("no-summary", data=[{"input": 1}], task=lambda x: x, scores=[lambda output: 1], summarize_scores=False)
    assert "Summary skipped: Score summarization was disabled" in str(result.summary)


def test_a_script_s_evals_keep_their_names_as_in_0_48_1(capsys):
    """Only ``braintrust eval`` makes names unique (test_qa3_summary_print.py); 0.48.1's script runs keep theirs."""
    seen = []
    reporter = Reporter("names", report_eval=lambda ev, result, verbose, jsonl: seen.append(ev.eval_name), report_run=lambda r, v, j: True)
    for _ in range(2):
        Eval("same-name", data=[{"input": 1}], task=lambda x: x, scores=[lambda output: 1], reporter=reporter)
    assert seen == ["same-name", "same-name"]


def test_progress_bar_only_draws_on_a_terminal():
    import io

    from braintrust.eval.progress import ProgressBar

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = ProgressBar("my-eval", 2, stream=stream)
        bar.update()
        bar.update()
        bar.close()
    assert pipe.getvalue() == ""
    assert tty.getvalue().endswith("\rmy-eval (tasks): [########################] 2/2\n")
    disabled = Tty()
    bar = ProgressBar("my-eval", 2, enabled=False, stream=disabled)
    bar.update()
    assert disabled.getvalue() == ""


def _screen(written: str) -> list[str]:
    """The lines a terminal shows for ``written`` ("\\r" returns to the line's start, later text overwrites)."""
    lines, column = [[]], 0
    for char in written:
        if char == "\r":
            column = 0
        elif char == "\n":
            lines.append([])
            column = 0
        else:
            line = lines[-1]
            line[column:column + 1] = [char]
            column += 1
    return ["".join(line).rstrip() for line in lines if "".join(line).strip()]


def test_messages_printed_while_the_bar_is_shown_go_on_their_own_line_above_it(monkeypatch):
    import io

    class Tty(io.StringIO):
        def isatty(self):
            return True

    def fails_on_the_second_case(input):
        if input == 1:
            raise ValueError("judge unavailable")
        return 1

    tty = Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    Eval("bar", data=[{"input": i} for i in range(4)], task=lambda x: x, scores=[fails_on_the_second_case],
         max_concurrency=1, no_send_logs=True)
    assert "(tasks): [" in tty.getvalue()  # (the bar was drawn before the failure)
    assert _screen(tty.getvalue()) == [
        "Found exceptions for the following scorers: fails_on_the_second_case [ValueError('judge unavailable')]",
        "bar (tasks): [########################] 4/4",
    ]


def test_base_experiment_id_is_the_comparison():
    first = Eval("by-id", data=[{"input": 1}], task=lambda x: x, scores=[lambda output: 0], experiment_name="first")
    Eval("by-id", data=[{"input": 1}], task=lambda x: x, scores=[lambda output: 0.5], experiment_name="second")
    third = Eval("by-id", data=[{"input": 1}], task=lambda x: x, scores=[lambda output: 1], experiment_name="third",
                 base_experiment_id=first.summary.experiment_id)
    assert third.summary.comparison_experiment_name == "first"
    assert third.summary.scores["scorer_0"].diff == 1


def test_scorers_can_read_the_trace():
    """As 0.48.1's ``LocalTrace``: a dict holding its ``trace_ref``, and an async ``get_spans``
    answering ``SpanData`` (scorer spans only with ``include_scorers``), filtered as there."""
    import json

    from braintrust import start_span

    seen = {}

    def task(input):
        with start_span(name="lookup", type="tool", metadata={"source": {"kind": "db"}, "hit": True}):
            pass
        with start_span(name="broken", type="tool") as span:
            span.log(error="timeout", metadata={"hit": 1})
        return input

    async def looks_at_trace(output, trace):
        seen["config"], seen["json"] = trace.get_configuration(), json.loads(json.dumps(trace))
        seen["types"] = sorted(s.span_attributes["type"] for s in await trace.get_spans())
        seen["with_scorers"] = sorted(s.span_attributes["type"] for s in await trace.get_spans(include_scorers=True))
        seen["tools"] = [s.span_attributes["name"] for s in await trace.get_spans(["tool"])]
        seen["failed"] = [s.span_attributes["name"] for s in await trace.get_spans(filters={"has_error": True})]
        seen["db"] = [s.span_attributes["name"] for s in await trace.get_spans(filters={"metadata": {"source": {"kind": "db"}}})]
        seen["hit_true"] = [s.span_attributes["name"] for s in await trace.get_spans(filters={"metadata": {"hit": True}})]  # (1 is not True)
        seen["quick"] = len(await trace.get_spans(filters={"span_type": ["tool"], "duration": {"max": 60}}))
        (task_span,) = await trace.get_spans(filters={"name": ["task"]})
        seen["task"] = (task_span.input, task_span.output, task_span.to_dict()["span_attributes"]["type"])
        for bad in ({"colour": ["red"]}, {"span_type": "llm"}, {"duration": {"min": float("nan")}}):
            try:
                await trace.get_spans(filters=bad)
            except ValueError as exc:
                seen.setdefault("refused", []).append(str(exc).split(":")[1].split(";")[0].strip())
        return 1

    result = Eval("tracing", data=[{"input": 1}], task=task, scores=[looks_at_trace])
    assert result.results[0].scores == {"looks_at_trace": 1}, result.results[0].metadata
    root, spans = trace_of(stored_rows(result), 1)
    reference = {"object_type": "experiment", "object_id": result.summary.experiment_id, "root_span_id": root["root_span_id"]}
    assert seen["config"] == reference and seen["json"] == {"trace_ref": reference}
    assert seen["types"] == ["eval", "task", "tool", "tool"] and seen["with_scorers"] == ["eval", "score", "task", "tool", "tool"]
    assert seen["tools"] == ["lookup", "broken"] and seen["failed"] == ["broken"] and seen["db"] == ["lookup"]
    assert seen["hit_true"] == ["lookup"] and seen["quick"] == 2 and seen["task"] == (1, 1, "task")
    assert seen["refused"] == ["unknown field(s) ['colour']", "span_type must be a list of strings.", "duration bounds must be finite numbers."]
    assert "trace" not in spans["looks_at_trace"]["input"]


def test_a_finished_eval_leaves_no_cycle_holding_its_cases(tmp_path):
    """Once ``Eval`` returns and its result is dropped, its cases and results go by reference
    counting: a reference cycle would keep all of them (inputs, outputs) until a full
    collection."""
    proc = _run_script(tmp_path, """
        import gc
        from braintrust.framework import Eval

        def exact(output, expected):
            return output == expected

        Eval("gc-probe", data=[{"input": i, "expected": i} for i in range(600)], task=lambda x: x, scores=[exact])
        gc.collect()
        gc.disable()
        Eval("gc-probe", data=[{"input": i, "expected": i} for i in range(600)], task=lambda x: x, scores=[exact])
        print("UNREACHABLE", gc.collect())
    """)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    unreachable = int(out.split("UNREACHABLE")[1].split()[0])
    assert unreachable < 600, unreachable  # (a few objects of a run's own; the cycle held 3 per case)


def test_a_case_s_empty_tags_are_sent_as_given():
    """``tags=[]`` reaches the root row as ``[]`` (as 0.48.1 sends it); no tags, no field."""
    result = Eval("tags-as-given", data=[EvalCase(input=1, tags=[]), EvalCase(input=2)], task=lambda x: x, scores=[])
    by_input = {r["input"]: r for r in roots(stored_rows(result))}
    assert by_input[1]["tags"] == [] and by_input[2].get("tags") is None
