"""Fork hooks, where the platform forks.

``os.register_at_fork`` exists on every POSIX system. Windows has none: a process there is never
forked, so there is nothing to repair in a child, and the hooks are simply not registered.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any, Callable

__all__ = ["ChildSafeLock", "at_fork"]


def at_fork(*, before: Callable[[], object] | None = None, after_in_child: Callable[[], object] | None = None) -> None:
    """``os.register_at_fork(before=..., after_in_child=...)`` where it exists, else nothing."""
    register = getattr(os, "register_at_fork", None)
    if register is None:
        return
    hooks = {"before": before, "after_in_child": after_in_child}
    register(**{name: hook for name, hook in hooks.items() if hook is not None})


class ChildSafeLock:
    """A lock that a forked child gets new: a thread of the parent (the sender, say) may hold
    the original at the fork, and in the child it would never be released. For module-level
    locks; used as ``with lock:``."""

    def __init__(self, factory: Callable[[], Any] = threading.Lock) -> None:
        self._factory = factory  # (``threading.RLock`` for a reentrant one)
        self._lock = factory()
        _child_safe_locks.add(self)

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(self, *exc: Any) -> None:
        self._lock.release()

    def _renew(self) -> None:
        self._lock = self._factory()


_child_safe_locks: "weakref.WeakSet[ChildSafeLock]" = weakref.WeakSet()


def _renew_child_safe_locks() -> None:
    for lock in list(_child_safe_locks):
        lock._renew()


at_fork(after_in_child=_renew_child_safe_locks)
