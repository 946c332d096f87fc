"""Attachments logged but not stored yet, in the order they were first logged.

``jsonsafe.snapshot`` calls ``logged`` for every attachment it meets in logged data; the
processor ``take``s them after sending rows and stores each once. An attachment is registered
once in the life of the process, however often it is logged, so its bytes are stored once.
"""

from __future__ import annotations

from typing import Any

from braintrust.attachments.kinds import Attachment
from braintrust.forks import ChildSafeLock, at_fork

_lock = ChildSafeLock()
_pending: dict[str, Attachment] = {}  # key -> attachment, not yet taken
_seen: set[str] = set()  # keys ever registered (or stored by upload())


def logged(attachment: Any) -> dict[str, Any]:
    """Register ``attachment`` (when it has bytes to store) and return its reference."""
    reference = attachment.reference
    if isinstance(attachment, Attachment) and attachment.status is None:
        key = reference["key"]
        with _lock:
            if key not in _seen:
                _seen.add(key)
                _pending[key] = attachment
    return reference


def forget(key: str) -> None:
    """``key`` was stored by other means (``Attachment.upload()``): never take it."""
    with _lock:
        _seen.add(key)
        _pending.pop(key, None)


def retry(attachment: Attachment) -> None:
    """Storing ``attachment`` by other means failed: pending again."""
    with _lock:
        _seen.add(attachment.reference["key"])
        _pending[attachment.reference["key"]] = attachment


def take() -> list[Attachment]:
    """Every pending attachment, oldest first; they are no longer pending."""
    global _pending
    with _lock:
        if not _pending:
            return []
        taken, _pending = list(_pending.values()), {}
        return taken


def count() -> int:
    return len(_pending)


def _after_fork_in_child() -> None:
    """The parent stores what it registered; a forked child starts with none pending."""
    global _pending
    _pending = {}


at_fork(after_in_child=_after_fork_in_child)
