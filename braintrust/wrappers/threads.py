"""Context propagation into threads the user starts, as 0.48.1's ``braintrust.wrappers.threads``.

``setup_threads()`` patches ``threading.Thread`` and ``concurrent.futures.ThreadPoolExecutor`` so
that what they run sees the span, experiment and logger that were current where the thread was
started or the work submitted (a plain thread starts with an empty context: its spans would be
new traces). ``import braintrust`` calls it when ``BRAINTRUST_INSTRUMENT_THREADS`` is ``true``,
``1`` or ``yes``, as 0.48.1 does. Patching a class twice changes nothing.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
from concurrent import futures
from typing import Any, TypeVar

__all__ = ["setup_threads", "patch_thread", "patch_thread_pool_executor"]

_log = logging.getLogger(__name__)
_PATCHED = "_braintrust_patched"

T = TypeVar("T", bound=type)


def setup_threads() -> bool:
    """Patch ``threading.Thread`` and ``ThreadPoolExecutor``; True when done, False (with a
    warning) when patching failed."""
    try:
        patch_thread(threading.Thread)
        patch_thread_pool_executor(futures.ThreadPoolExecutor)
    except Exception as exc:
        _log.warning("Failed to enable thread instrumentation: %s", exc)
        return False
    return True


def patch_thread(thread_cls: T) -> T:
    """``start`` keeps a copy of the starting context; ``run`` runs in it."""
    if thread_cls.__dict__.get(_PATCHED):
        return thread_cls
    original_start = thread_cls.start
    original_run = thread_cls.run

    @functools.wraps(original_start)
    def start(self: Any, *args: Any, **kwargs: Any) -> Any:
        self._braintrust_context = contextvars.copy_context()
        return original_start(self, *args, **kwargs)

    @functools.wraps(original_run)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        context = getattr(self, "_braintrust_context", None)
        if context is None:  # run() called directly, not through start()
            return original_run(self, *args, **kwargs)
        return context.run(original_run, self, *args, **kwargs)

    thread_cls.start = start
    thread_cls.run = run
    setattr(thread_cls, _PATCHED, True)
    return thread_cls


def patch_thread_pool_executor(executor_cls: T) -> T:
    """``submit`` (and so ``map``) runs each call in a copy of the submitting context."""
    if executor_cls.__dict__.get(_PATCHED):
        return executor_cls
    original_submit = executor_cls.submit

    @functools.wraps(original_submit)
    def submit(self: Any, fn: Any, /, *args: Any, **kwargs: Any) -> futures.Future:
        return original_submit(self, contextvars.copy_context().run, fn, *args, **kwargs)

    executor_cls.submit = submit
    setattr(executor_cls, _PATCHED, True)
    return executor_cls
