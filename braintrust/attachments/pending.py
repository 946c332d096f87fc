"""Attachments logged but not stored yet, in the order they were first logged.

``jsonsafe.snapshot`` calls ``logged`` for every attachment it meets in logged data; the
processor ``take``s them after sending rows and stores each once. An attachment is registered
once in the life of the process, however often it is logged, so its bytes are stored once.

The bytes held in memory (attachments made from ``bytes``; a path is read when stored) are
bounded like the row queue: past the processor's byte bound, ``logged`` asks the processor to
spill the oldest (``set_overflow``), so a slow or unreachable server cannot grow memory.

An attachment of the caller's own kind (a ``BaseAttachment`` subclass) stores itself: it is
pending until taken, and the processor calls its ``upload()`` after the rows, as 0.48.1 does.
"""

from __future__ import annotations

from typing import Any, Callable

from braintrust.attachments.kinds import Attachment, BaseAttachment, ExternalAttachment
from braintrust.forks import ChildSafeLock, at_fork

_lock = ChildSafeLock()
_pending: dict[str, Any] = {}  # key (or own:<id> for an own kind) -> attachment, not yet taken
_seen: set[str] = set()  # keys ever registered (or stored by upload())
_pending_bytes = 0  # bytes held by the pending attachments
_overflow: Callable[[], None] | None = None  # the processor's: spill what is over the bound
_limit_bytes = 256 * 1024 * 1024


def logged(attachment: Any) -> dict[str, Any]:
    """Register ``attachment`` (when it has bytes to store) and return its reference."""
    global _pending_bytes
    reference = attachment.reference
    over = False
    if isinstance(attachment, Attachment) and attachment.status is None:
        key = reference["key"]
        with _lock:
            if key not in _seen:
                _seen.add(key)
                _pending[key] = attachment
                _pending_bytes += attachment.bytes_in_memory
                over = _pending_bytes > _limit_bytes
    elif isinstance(attachment, BaseAttachment) and not isinstance(attachment, (Attachment, ExternalAttachment)):
        with _lock:  # (held here until taken, so its id names no other object meanwhile)
            _pending.setdefault(f"own:{id(attachment)}", attachment)
    if over and _overflow is not None:
        _overflow()
    return reference


def set_overflow(handler: Callable[[], None] | None, limit_bytes: int) -> None:
    """Who spills pending attachments once they hold more than ``limit_bytes`` (the processor)."""
    global _overflow, _limit_bytes
    _overflow, _limit_bytes = handler, limit_bytes


def take_over_limit() -> list[Attachment]:
    """The oldest pending attachments that hold bytes, as many as it takes to be back under the
    bound. (One made from a path costs no memory until stored: it stays pending, its file unread.)"""
    global _pending_bytes
    taken = []
    with _lock:
        if _pending_bytes <= _limit_bytes:
            return taken
        for key, attachment in list(_pending.items()):
            if isinstance(attachment, Attachment) and attachment.bytes_in_memory:
                del _pending[key]
                _pending_bytes -= attachment.bytes_in_memory
                taken.append(attachment)
                if _pending_bytes <= _limit_bytes:
                    break
    return taken


def forget(key: str) -> None:
    """``key`` was stored by other means (``Attachment.upload()``): never take it."""
    global _pending_bytes
    with _lock:
        _seen.add(key)
        attachment = _pending.pop(key, None)
        if attachment is not None:
            _pending_bytes -= attachment.bytes_in_memory


def retry(attachment: Attachment) -> None:
    """Storing ``attachment`` by other means failed: pending again."""
    global _pending_bytes
    with _lock:
        _seen.add(attachment.reference["key"])
        if attachment.reference["key"] not in _pending:
            _pending[attachment.reference["key"]] = attachment
            _pending_bytes += attachment.bytes_in_memory


def take() -> list[Any]:
    """Every pending attachment, oldest first; they are no longer pending."""
    global _pending, _pending_bytes
    with _lock:
        if not _pending:
            return []
        taken, _pending, _pending_bytes = list(_pending.values()), {}, 0
        return taken


def count() -> int:
    return len(_pending)


def _after_fork_in_child() -> None:
    """The parent stores what it registered; a forked child starts with none pending."""
    global _pending, _pending_bytes
    _pending, _pending_bytes = {}, 0


at_fork(after_in_child=_after_fork_in_child)
