"""Threads for ``Eval``: a bounded pool for sync tasks and scorers, and one-off helper threads for
the SDK's own blocking calls (registering the experiment, flushing, summarizing).

The pool's threads are daemons: a sync task stuck in a network call can neither keep an
interrupted or timed-out eval waiting nor hold the interpreter open at exit (the standard
``ThreadPoolExecutor`` joins its workers at exit). Work runs in a copy of the submitting
context, so the current span inside a sync task is its task span.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import itertools
import os
import queue
import threading
from typing import Any, Callable

from braintrust.forks import ChildSafeLock, at_fork
from braintrust.signals import leave_signals_to_the_main_thread


def default_max_workers() -> int:
    # Eval tasks mostly wait on the network (LLM calls): the ThreadPoolExecutor default rather than
    # the public SDK's cpu_count, which serialises sync tasks on a one-CPU CI runner.
    return min(32, (os.cpu_count() or 1) + 4)


#: Work priorities: scorers before tasks, so a case that has its output is finished (and
#: flushed) before the pool starts more tasks; a Ctrl-C then keeps every scored case.
SCORER_PRIORITY = 0
TASK_PRIORITY = 1
_STOP_PRIORITY = -1


class BoundedThreadPool:
    """At most ``max_workers`` daemon threads, started on demand, fed from one priority queue."""

    def __init__(self, max_workers: int | None = None, name: str = "braintrust-eval"):
        self._max_workers = max_workers or default_max_workers()
        self._name = name
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._sequence = itertools.count()  # FIFO within a priority
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        #: Running work whose run was cancelled (see ``abandon``).
        self._abandoned: set[concurrent.futures.Future] = set()
        # As in ThreadPoolExecutor: a worker releases this when it becomes idle; ``submit``
        # takes one to claim an idle worker, else starts a new one (up to the limit).
        self._idle = threading.Semaphore(0)

    @property
    def max_workers(self) -> int:
        return self._max_workers

    def set_max_workers(self, max_workers: int) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        with self._lock:
            self._max_workers = max_workers
            extra = self._counted() - max_workers
        for _ in range(max(0, extra)):
            self._queue.put((_STOP_PRIORITY, next(self._sequence), None))  # an idle thread over the limit exits

    def submit(self, fn: Callable[..., Any], *args: Any, priority: int = TASK_PRIORITY, **kwargs: Any) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put((priority, next(self._sequence), (future, fn, args, kwargs)))
        if self._idle.acquire(timeout=0):
            return future
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            if self._counted() < self._max_workers:
                self._start_thread()
        return future

    def _start_thread(self) -> None:
        """(with the lock held)"""
        thread = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        leave_signals_to_the_main_thread()
        while True:
            item = self._queue.get()[2]
            if item is None:
                with self._lock:
                    if self._counted() > self._max_workers:
                        self._threads.remove(threading.current_thread())
                        self._idle.acquire(timeout=0)  # it no longer counts as idle
                        return
                continue
            future, fn, args, kwargs = item
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:  # noqa: BLE001 - handed to the waiting coroutine
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            with self._lock:
                if future in self._abandoned:  # (another thread has taken its place)
                    self._abandoned.discard(future)
                    self._threads.remove(threading.current_thread())
                    return
            del item, future, fn, args, kwargs
            self._idle.release()

    def _counted(self) -> int:
        """Threads that count against ``max_workers`` (with the lock held)."""
        return len(self._threads) - len(self._abandoned)

    def abandon(self, future: concurrent.futures.Future) -> None:
        """Work of a cancelled run that is still running (a sync task stuck in a call): a new
        thread takes its thread's place, so the next evaluator is not left waiting for it, and
        that thread exits once the work returns."""
        with self._lock:
            if future.running() and not future.done() and future not in self._abandoned:
                self._abandoned.add(future)
                if self._counted() < self._max_workers:
                    self._start_thread()

    def shutdown(self) -> None:
        """Let every idle thread exit (a private pool's threads must not outlive its run)."""
        with self._lock:
            self._max_workers = 0
            count = len(self._threads)
        for _ in range(count):
            self._queue.put((_STOP_PRIORITY, next(self._sequence), None))

    def active_threads(self) -> int:
        with self._lock:
            return sum(1 for t in self._threads if t.is_alive())


_pool_lock = ChildSafeLock()
_pool: BoundedThreadPool | None = None
_configured_max: int | None = None


def set_thread_pool_max_workers(max_workers: int) -> None:
    """Bound the threads that run sync tasks and scorers (default ``min(32, cpu_count + 4)``)."""
    global _configured_max
    if not isinstance(max_workers, int) or isinstance(max_workers, bool) or max_workers < 1:
        raise ValueError(f"set_thread_pool_max_workers needs a positive integer, got {max_workers!r}")
    with _pool_lock:
        _configured_max = max_workers
        if _pool is not None:
            _pool.set_max_workers(max_workers)


def shared_pool() -> BoundedThreadPool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = BoundedThreadPool(_configured_max)
        return _pool


def _after_fork() -> None:
    global _pool
    _pool = None


at_fork(after_in_child=_after_fork)


async def run_in_pool(pool: BoundedThreadPool, fn: Callable[..., Any], *args: Any, priority: int = TASK_PRIORITY, **kwargs: Any) -> Any:
    """Run a sync callable on the pool in a copy of the current context; cancelling the await
    cancels work that has not started yet (work already running is left to finish, unobserved,
    and no longer holds a place in the pool)."""
    import asyncio

    context = contextvars.copy_context()
    future = pool.submit(context.run, _without_stop_iteration, fn, *args, priority=priority, **kwargs)
    try:
        return await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        pool.abandon(future)
        raise


def _without_stop_iteration(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, a ``StopIteration`` it raises turned into a ``RuntimeError`` (as
    Python does in generators): asyncio cannot put one into a future, and the await would never
    end (a task or scorer calling ``next()`` on an empty iterator hung the whole eval)."""
    try:
        return fn(*args, **kwargs)
    except StopIteration as exc:
        detail = f" ({exc})" if str(exc) else ""
        raise RuntimeError(f"StopIteration raised{detail} (next() on an empty iterator?); a StopIteration cannot "
                           "leave a task or a scorer, as asyncio cannot carry it to the trial awaiting it") from exc


async def run_blocking(fn: Callable[[], Any]) -> Any:
    """Run one blocking SDK call on its own daemon thread (never on the user's task pool, which may
    be saturated) without blocking the event loop."""
    import asyncio

    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()
    context = contextvars.copy_context()

    def deliver(setter: Callable[[Any], None], value: Any) -> None:
        if not future.done():
            setter(value)

    def target() -> None:
        leave_signals_to_the_main_thread()
        try:
            result = context.run(_without_stop_iteration, fn)
        except BaseException as exc:  # noqa: BLE001
            try:
                loop.call_soon_threadsafe(deliver, future.set_exception, exc)
            except RuntimeError:
                pass  # the loop is closed: nobody is waiting any more
        else:
            try:
                loop.call_soon_threadsafe(deliver, future.set_result, result)
            except RuntimeError:
                pass

    threading.Thread(target=target, name="braintrust-eval-io", daemon=True).start()
    return await future
