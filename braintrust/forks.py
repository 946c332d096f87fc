"""Fork hooks, where the platform forks.

``os.register_at_fork`` exists on every POSIX system. Windows has none: a process there is never
forked, so there is nothing to repair in a child, and the hooks are simply not registered.
"""

from __future__ import annotations

import os
from typing import Callable

__all__ = ["at_fork"]


def at_fork(*, before: Callable[[], object] | None = None, after_in_child: Callable[[], object] | None = None) -> None:
    """``os.register_at_fork(before=..., after_in_child=...)`` where it exists, else nothing."""
    register = getattr(os, "register_at_fork", None)
    if register is None:
        return
    hooks = {"before": before, "after_in_child": after_in_child}
    register(**{name: hook for name, hook in hooks.items() if hook is not None})
