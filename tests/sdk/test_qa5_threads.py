"""Objects shared across threads: no row lost or doubled, children under their own thread's
parent, one login, and every ``flush()`` result adding up (produced == accepted + spilled +
dropped + pending)."""

from __future__ import annotations

import sys
import threading

import pytest

import braintrust


@pytest.fixture
def shaken():
    """Switch threads as often as possible, to shake out races."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def run_threads(fn, n):
    """Run ``fn(i)`` in ``n`` threads started together; re-raise the first error."""
    barrier = threading.Barrier(n)
    errors = []

    def work(i):
        try:
            barrier.wait(5)
            fn(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not any(t.is_alive() for t in threads), "a thread hung (deadlock?)"
    if errors:
        raise errors[0]


def adds_up(result):
    return result.produced == result.accepted + result.spilled + sum(result.dropped.values()) + result.pending


def test_shared_logger_keeps_every_row_and_parent_and_flushes_add_up(bt_logs, shaken):
    threads, per_thread = 12, 10
    flushes = []

    @braintrust.traced
    def inner(i, j):
        return i * 100 + j

    def work(i):
        logger = braintrust.init_logger(project="threads")  # (the first call races in every thread)
        for j in range(per_thread):
            with logger.start_span(name=f"outer-{i}-{j}"):
                inner(i, j)
            row_id = logger.log(input=i, output=j)
            logger.log_feedback(id=row_id, scores={"fb": 1})
            if j % 4 == 0:
                flushes.append(braintrust.flush())

    run_threads(work, threads)
    flushes.append(bt_logs.flush())
    assert all(adds_up(r) for r in flushes), [r for r in flushes if not adds_up(r)]
    rows = bt_logs.rows()
    assert len(bt_logs.server.projects()) == 1
    outers = {r["span_id"]: r for r in rows if r["span_attributes"]["name"].startswith("outer-")}
    inners = [r for r in rows if r["span_attributes"]["name"] == "inner"]
    logged = [r for r in rows if r["span_attributes"]["name"] not in ("inner",) and r["span_id"] not in outers]
    assert len(outers) == len(inners) == len(logged) == threads * per_thread
    for row in inners:
        parent = outers[row["span_parents"][0]]
        _, i, j = parent["span_attributes"]["name"].split("-")
        assert row["output"] == int(i) * 100 + int(j)
        assert row["root_span_id"] == parent["root_span_id"]
    assert all(r.get("scores") == {"fb": 1} for r in logged)


def test_shared_dataset_and_experiment_keep_every_row(bt_logs, shaken):
    threads, per_thread = 10, 15
    dataset = braintrust.init_dataset(project="threads", name="d")
    experiment = braintrust.init(project="threads", experiment="e")
    summaries = []
    stop = threading.Event()

    def summarize():
        while True:  # (at least once, however fast the writers are)
            summaries.append(experiment.summarize())
            if stop.is_set():
                return

    summarizer = threading.Thread(target=summarize)
    summarizer.start()

    def work(i):
        for j in range(per_thread):
            dataset.insert(input={"i": i, "j": j}, expected=j)
            with experiment.start_span(name=f"case-{i}-{j}") as span:
                span.log(input=i, output=j, scores={"s": 1})

    try:
        run_threads(work, threads)
    finally:
        stop.set()
        summarizer.join(20)
    bt_logs.flush()
    records = list(dataset.fetch())
    assert sorted((r["input"]["i"], r["input"]["j"]) for r in records) == [(i, j) for i in range(threads) for j in range(per_thread)]
    names = sorted(r["span_attributes"]["name"] for r in experiment.fetch())
    assert names == sorted(f"case-{i}-{j}" for i in range(threads) for j in range(per_thread))
    assert summaries and experiment.summarize().scores["s"].score == 1


def test_login_from_many_threads_logs_in_once(bt_env, shaken):
    run_threads(lambda i: braintrust.login(api_key=bt_env.api_key), 12)
    assert len(bt_env.requests_to("/api/apikey/login")) == 1


def test_masking_function_changed_while_logging_keeps_every_row(bt_logs, shaken):
    logger = braintrust.init_logger(project="mask")

    def work(i):
        for j in range(40):
            if i == 0 and j % 5 == 0:
                braintrust.set_masking_function((lambda value: "masked") if j % 10 == 0 else None)
            logger.log(input={"v": i * 100 + j})

    try:
        run_threads(work, 8)
    finally:
        braintrust.set_masking_function(None)
    rows = bt_logs.rows()
    assert len(rows) == 8 * 40
    assert all(r["input"] == "masked" or set(r["input"]) == {"v"} for r in rows)
