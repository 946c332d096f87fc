"""Running an eval from sync code: a fresh event loop (never nested in a running one) and a
Ctrl-C that cancels the run cleanly (finished work is flushed) before ``KeyboardInterrupt``."""

from __future__ import annotations

import asyncio
import inspect
import signal
import threading
from typing import Any, Awaitable

#: How long cancelled trials get to record their cancellation before the engine moves on.
CANCEL_GRACE_SECONDS = 2.0


def run_sync(coro: Awaitable[Any]) -> Any:
    """Run ``coro`` to completion on a fresh event loop (never nested in a running one).

    The first Ctrl-C cancels the run (which flushes what finished) and then raises
    ``KeyboardInterrupt``; a second Ctrl-C interrupts at once.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        if inspect.iscoroutine(coro):
            coro.close()
        raise RuntimeError("An event loop is already running in this thread: await the async form (EvalAsync, registry.run_evaluator_async) instead.")
    loop = asyncio.new_event_loop()
    main = loop.create_task(_as_coroutine(coro))
    interrupted = threading.Event()
    previous_handler: Any = None
    installed = False

    def on_sigint(signum: int, frame: Any) -> None:
        if interrupted.is_set() or main.done():
            raise KeyboardInterrupt
        interrupted.set()
        loop.call_soon_threadsafe(main.cancel)

    if threading.current_thread() is threading.main_thread():
        try:
            previous_handler = signal.getsignal(signal.SIGINT)
            if previous_handler is signal.default_int_handler:
                signal.signal(signal.SIGINT, on_sigint)
                installed = True
        except (ValueError, OSError):
            installed = False
    try:
        try:
            return loop.run_until_complete(main)
        except KeyboardInterrupt:
            # Raised directly (our handler was not installed, or a second Ctrl-C): still give the
            # run its chance to record the cancellation and flush, but a flush waiting on a slow
            # Braintrust (on a worker thread) stops waiting: the user has asked twice.
            from braintrust.delivery.runtime import interrupt_flushes

            if interrupted.is_set():
                interrupt_flushes()
            interrupted.set()
            if not main.done():
                main.cancel()
                try:
                    loop.run_until_complete(asyncio.wait({main}, timeout=CANCEL_GRACE_SECONDS + 15))
                except BaseException:
                    pass
            raise
        except asyncio.CancelledError:
            if interrupted.is_set():
                raise KeyboardInterrupt from None
            raise
    finally:
        if installed:
            try:
                signal.signal(signal.SIGINT, previous_handler)
            except (ValueError, OSError):
                pass
        try:
            _cancel_leftovers(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
        except BaseException:
            pass
        loop.close()


async def _as_coroutine(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    leftovers = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.wait(leftovers, timeout=1))
