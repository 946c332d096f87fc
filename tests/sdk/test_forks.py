"""Module-level locks a forked child gets new (``braintrust.forks.ChildSafeLock``)."""

from __future__ import annotations

import threading

import pytest

from braintrust import masking, signals
from braintrust.delivery import runtime
from braintrust.eval import threads
from braintrust.forks import ChildSafeLock
from braintrust.tracing import api
from delivery_helpers import in_forked_child

MODULE_LOCKS = {
    "delivery runtime": lambda: runtime._lock,
    "eval thread pool": lambda: threads._pool_lock,
    "masking error count": lambda: masking._count_lock,
    "object refs": lambda: api._refs_lock,
    "SIGTERM watch (reentrant)": lambda: signals._watch_lock,
}


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")  # forking is the point
@pytest.mark.parametrize("name", sorted(MODULE_LOCKS))
def test_a_lock_held_by_another_thread_at_the_fork_is_free_in_the_child(name):
    lock = MODULE_LOCKS[name]()
    assert isinstance(lock, ChildSafeLock)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(5)
    try:
        # The holding thread does not exist in the child: with the parent's lock it would wait forever.
        assert in_forked_child(lambda: lock._lock.acquire(timeout=2)) == 0
    finally:
        release.set()
        holder.join(5)
