"""``TracedThreadPoolExecutor``: a thread pool whose tasks run in the context of the code that
submitted them, so spans they start nest under the submitter's current span (a plain
``ThreadPoolExecutor``'s threads start with an empty context: their spans would be new traces)."""

from __future__ import annotations

import concurrent.futures
import contextvars
from typing import Any, Callable

__all__ = ["TracedThreadPoolExecutor"]


class TracedThreadPoolExecutor(concurrent.futures.ThreadPoolExecutor):
    """A ``ThreadPoolExecutor`` whose ``submit`` (and so ``map``) runs each call in a copy of the
    submitting context: the current span, experiment and logger come along."""

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        return super().submit(contextvars.copy_context().run, fn, *args, **kwargs)
