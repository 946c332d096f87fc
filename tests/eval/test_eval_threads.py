"""The eval thread pool: bounded, scorers before waiting tasks, private pools shut down."""

from __future__ import annotations

import threading
import time

from braintrust.eval.threads import SCORER_PRIORITY, TASK_PRIORITY, BoundedThreadPool


def test_scorers_run_before_tasks_that_are_still_waiting():
    pool = BoundedThreadPool(1)
    release = threading.Event()
    order: list[str] = []
    first = pool.submit(release.wait)
    futures = [
        pool.submit(order.append, "task-1", priority=TASK_PRIORITY),
        pool.submit(order.append, "task-2", priority=TASK_PRIORITY),
        pool.submit(order.append, "scorer-1", priority=SCORER_PRIORITY),
    ]
    release.set()
    first.result(timeout=5)
    for future in futures:
        future.result(timeout=5)
    assert order == ["scorer-1", "task-1", "task-2"]
    pool.shutdown()


def test_at_most_max_workers_run_at_once_and_shutdown_ends_the_threads():
    pool = BoundedThreadPool(2)
    running = []
    peak = []
    lock = threading.Lock()

    def work():
        with lock:
            running.append(1)
            peak.append(len(running))
        time.sleep(0.05)
        with lock:
            running.pop()

    for future in [pool.submit(work) for _ in range(6)]:
        future.result(timeout=5)
    assert max(peak) == 2
    pool.shutdown()
    deadline = time.monotonic() + 5
    while pool.active_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool.active_threads() == 0
