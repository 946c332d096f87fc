"""Writes made inside a garbage collection run later, on the ``braintrust-deferred-writes`` thread.

The collector runs wherever memory is allocated, so on a thread that may hold one of the locks
a write takes (the queue's, a held row's, the runtime's). A finalizer it runs there that writes
(a ``@traced`` generator abandoned in a reference cycle ends its span; a user's ``__del__``
logs) would wait for that lock forever. So while a collection runs on a thread, the tracing
core's writes from that thread are deferred (``defer``): ``SimpleQueue.put`` takes no lock a
thread can hold. A flush runs them first (``settle``), as does the exit-time flush.
"""

from __future__ import annotations

import _thread
import functools
import gc
import os
import queue
import sys
import threading
from typing import Any, Callable

from braintrust.forks import at_fork
from braintrust.signals import leave_signals_to_the_main_thread

__all__ = ["collecting_here", "defer", "settle"]

#: The ident of the thread running a collection (None: none runs). Collections never overlap.
collecting: int | None = None

_pending: "queue.SimpleQueue[Callable[[], Any]]" = queue.SimpleQueue()
_reaper_pid: int | None = None


def _on_collection(phase: str, info: dict) -> None:
    global collecting
    collecting = _thread.get_ident() if phase == "start" else None


#: CPython 3.11 only: a Python-level gc callback that runs while the AST of a traceback is being
#: built (pytest formatting one after Ctrl-C, or after quitting pdb, whose tracer then raises in
#: the callback) makes ``ast.parse`` fail with "SystemError: AST constructor recursion depth
#: mismatch" (the accounting bug of CPython gh-106905). 3.10, 3.12 and 3.13 are not affected.
#: On 3.11 there is no hook, and writes inside a collection run at once, as before this module.
HOOKED = sys.version_info[:2] != (3, 11)


def _deliver_lost_interrupts(unraisable: Any, previous: Callable[[Any], Any]) -> None:
    """``sys.unraisablehook`` while the callback is hooked. A Ctrl-C whose handler runs as the
    callback starts raises inside it, and Python reports and drops an exception raised in a gc
    callback: the program would go on as if Ctrl-C had not been pressed. It is sent again, to
    take effect once the collection is over; everything else goes to the hook there was."""
    if unraisable.object is _on_collection and unraisable.exc_type is KeyboardInterrupt:
        _thread.interrupt_main()
        return
    previous(unraisable)


if HOOKED:
    gc.callbacks.append(_on_collection)
    sys.unraisablehook = functools.partial(_deliver_lost_interrupts, previous=sys.unraisablehook)


def collecting_here() -> bool:
    """Whether the calling thread is running a garbage collection (its finalizers, that is)."""
    return collecting is not None and collecting == _thread.get_ident()


def defer(write: Callable[[], Any]) -> None:
    """Run ``write`` soon on the deferred-writes thread (safe inside a collection)."""
    _pending.put(write)
    _start_reaper()


def settle(timeout: float = 2.0) -> bool:
    """Wait until the writes deferred so far have run (False: not within ``timeout``). Does not
    wait inside a collection (its own writes are deferred behind this)."""
    if _pending.empty() or collecting_here():
        return True
    done = threading.Event()
    defer(done.set)
    return done.wait(timeout)


def _start_reaper() -> None:
    global _reaper_pid
    if _reaper_pid != os.getpid():  # (not yet, or a forked child: threads do not survive a fork)
        _reaper_pid = os.getpid()
        # The low-level start: ``threading.Thread.start`` takes threading's own locks, which the
        # thread running the collection may hold.
        _thread.start_new_thread(_reap, ())


def _reap() -> None:
    leave_signals_to_the_main_thread()
    threading.current_thread().name = "braintrust-deferred-writes"
    while True:
        write = _pending.get()
        try:
            write()
        except Exception as exc:  # (the others still run)
            print(f"braintrust: a write deferred from the garbage collector failed: {exc!r}", file=sys.stderr)


def _forget_in_child() -> None:
    # Writes the parent deferred are the parent's (it runs them); the child's thread starts anew.
    global _pending, collecting
    _pending = queue.SimpleQueue()
    collecting = None


at_fork(after_in_child=_forget_in_child)
