"""Process signals stay with the main thread.

A signal sent to the process (SIGTERM from ``Pool.terminate()`` or a supervisor, SIGINT from
Ctrl-C) is delivered to any one of its threads that does not block it. Python runs the handler on
the main thread only, and only once that thread runs Python code again: delivered to one of our
background threads while the main thread waits in a system call (an idle ``Pool`` worker waits on
a semaphore), it would never be acted on, and the process would hang. So our threads block them.
"""

from __future__ import annotations

import signal

__all__ = ["leave_signals_to_the_main_thread"]


def leave_signals_to_the_main_thread() -> None:
    """Block SIGINT and SIGTERM in the calling (background) thread; first thing it does."""
    block = getattr(signal, "pthread_sigmask", None)
    if block is None:  # Windows: a signal there is run by the main thread anyway
        return
    try:
        block(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    except (OSError, ValueError):
        pass
