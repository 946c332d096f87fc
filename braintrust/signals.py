"""Process signals stay with the main thread.

A signal sent to the process (SIGTERM from ``Pool.terminate()`` or a supervisor, SIGINT from
Ctrl-C) is delivered to any one of its threads that does not block it. Python runs the handler on
the main thread only, and only once that thread runs Python code again: delivered to one of our
background threads while the main thread waits in a system call (an idle ``Pool`` worker waits on
a semaphore), it would never be acted on, and the process would hang. So our threads block them.

The same hang remains possible when the main thread takes a SIGTERM just before it starts such a
wait, or another thread (not ours) takes it: ``watch_sigterm_handler`` covers that where it is
forever, in ``multiprocessing`` children.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from braintrust.forks import ChildSafeLock, at_fork

__all__ = ["leave_signals_to_the_main_thread", "sigterm_handler_ran", "watch_sigterm_handler"]


def leave_signals_to_the_main_thread() -> None:
    """Block SIGINT and SIGTERM in the calling (background) thread; first thing it does."""
    block = getattr(signal, "pthread_sigmask", None)
    if block is None:  # Windows: a signal there is run by the main thread anyway
        return
    try:
        block(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    except (OSError, ValueError):
        pass


# -- a SIGTERM whose handler never runs ------------------------------------------------------------

#: How long the main thread gets to run a SIGTERM's handler before the watch sends it again, and
#: how many times it does so at most.
NUDGE_SECONDS = 0.2
NUDGE_LIMIT = 50

_watch_lock = ChildSafeLock(threading.RLock)
_handler_runs = 0
_wakeup_fds: tuple[int, int] | None = None  # (read end, write end) of the watch's pipe


def sigterm_handler_ran() -> None:
    """Called first thing by the SIGTERM handler the watch looks after."""
    global _handler_runs
    with _watch_lock:
        _handler_runs += 1


def watch_sigterm_handler() -> bool:
    """From the main thread, once its SIGTERM handler is installed: make sure the handler runs.

    Python runs a signal's handler when the main thread next runs Python code. A SIGTERM that
    lands just before the main thread blocks in a system call only a signal would end (an idle
    ``Pool`` worker waiting on its queue's semaphore), or one delivered to another thread, leaves
    the handler waiting for good: the process hangs where, without a handler, it would have
    died. So the signal's wakeup byte (``signal.set_wakeup_fd``) wakes a thread of ours, which
    gives the main thread ``NUDGE_SECONDS`` to run the handler and otherwise sends the signal to
    the main thread itself, which ends its wait. Only until the handler first runs, and only if
    nothing else uses the wakeup fd (asyncio does, when it handles signals). False: not watched.
    """
    global _wakeup_fds
    if not hasattr(signal, "pthread_kill") or threading.current_thread() is not threading.main_thread():
        return False
    with _watch_lock:
        if _wakeup_fds is not None:
            return True
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        try:
            previous = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        except (ValueError, OSError):
            previous = None
        if previous != -1:  # taken (or refused): leave it as it was
            if previous is not None:
                signal.set_wakeup_fd(previous)
            os.close(read_end)
            os.close(write_end)
            return False
        _wakeup_fds = (read_end, write_end)
        runs_before = _handler_runs
    main = threading.main_thread().ident
    threading.Thread(target=_watch, args=(read_end, main, runs_before), name="braintrust-sigterm-watch", daemon=True).start()
    return True


def _watch(read_end: int, main_thread: int, runs_before: int) -> None:
    leave_signals_to_the_main_thread()
    while True:
        try:
            woken_by = os.read(read_end, 512)
        except OSError:
            return
        if not woken_by:
            return
        if signal.SIGTERM not in woken_by:
            continue
        for _ in range(NUDGE_LIMIT):
            time.sleep(NUDGE_SECONDS)
            with _watch_lock:  # (the handler counts its run under it: never signalled once it has)
                if _handler_runs != runs_before:
                    return
                try:
                    signal.pthread_kill(main_thread, signal.SIGTERM)
                except (OSError, ValueError):  # (the main thread has ended)
                    return
        return


def _stop_watch_after_fork() -> None:
    """A forked child has no watch thread, and must not write its signals into its parent's
    pipe (the parent's watch would act on them)."""
    global _wakeup_fds
    if _wakeup_fds is None:
        return
    read_end, write_end = _wakeup_fds
    _wakeup_fds = None
    try:
        current = signal.set_wakeup_fd(-1)
        if current != write_end:  # someone else's: put it back
            signal.set_wakeup_fd(current)
    except (ValueError, OSError):
        pass
    for fd in (read_end, write_end):
        try:
            os.close(fd)
        except OSError:
            pass


at_fork(after_in_child=_stop_watch_after_fork)
