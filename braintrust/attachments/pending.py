"""Attachments logged but not stored yet, in the order they were first logged.

``jsonsafe.snapshot`` calls ``logged`` for every attachment it meets in logged data; the
processor ``take``s them after sending rows and stores each once. An attachment is registered
once in the life of the process, however often it is logged, so its bytes are stored once.

The bytes held in memory (attachments made from ``bytes``; a path is read when stored) are
bounded like the row queue: past the processor's byte bound, ``logged`` asks the processor to
spill the oldest (``set_overflow``), so a slow or unreachable server cannot grow memory.

An attachment of the caller's own kind (a ``BaseAttachment`` subclass) stores itself: it is
pending until taken, and the processor calls its ``upload()`` after the rows, as 0.48.1 does.

With a masking function, an ``Attachment`` is stored only once a masked row still holds it
(``masked``), as 0.48.1 stores the attachments of masked rows: one the function took out is let
go when taken (never stored nor spilled), and pending again if a later masked row holds it (its
object still alive). ``live`` gives the masking function the logged object.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

from braintrust.attachments.kinds import Attachment, BaseAttachment, ExternalAttachment
from braintrust.forks import ChildSafeLock, at_fork

_lock = ChildSafeLock()
_pending: dict[str, Any] = {}  # key (or own:<id> for an own kind) -> attachment, not yet taken
_seen: set[str] = set()  # keys ever registered (or stored by upload())
_pending_bytes = 0  # bytes held by the pending attachments
_overflow: Callable[[], None] | None = None  # the processor's: spill what is over the bound
_limit_bytes = 256 * 1024 * 1024
_kept: set[str] = set()  # keys a masked row held
_withheld: set[str] = set()  # keys a masking function took out of a row (and no row kept yet)
_let_go: set[str] = set()  # withheld keys take() dropped from _pending
_objects: "weakref.WeakValueDictionary[str, Any]" = weakref.WeakValueDictionary()  # key -> logged object


def logged(attachment: Any) -> dict[str, Any]:
    """Register ``attachment`` (when it has bytes to store) and return its reference."""
    global _pending_bytes
    reference = attachment.reference
    over = False
    key = reference.get("key") if isinstance(reference, dict) else None
    if isinstance(key, str) and isinstance(attachment, BaseAttachment):  # (0.48.1 masks a read-back one as its dict)
        try:
            _objects[key] = attachment
        except TypeError:  # (a kind of the caller's without weak references)
            pass
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


def live(key: str) -> Any:
    """The attachment logged under ``key`` (None once nothing holds it any more)."""
    return _objects.get(key)


def any_logged() -> bool:
    return bool(_objects) or bool(_seen)


def masked(kept: set[str], withheld: set[str]) -> None:
    """A row passed the masking function: it still holds ``kept`` and lost ``withheld``."""
    global _pending_bytes
    with _lock:
        _kept.update(kept)
        _withheld.update(withheld - _kept)
        _withheld.difference_update(kept)
        for key in kept & _let_go:
            _let_go.discard(key)
            attachment = _objects.get(key)
            if isinstance(attachment, Attachment) and key not in _pending:
                _pending[key] = attachment
                _pending_bytes += attachment.bytes_in_memory


def take() -> list[Any]:
    """Every pending attachment that may be stored now, oldest first; they are no longer pending.
    An ``Attachment`` a masking function took out (and no masked row kept) is let go; with a
    masking function set, one no masked row has held yet stays pending."""
    global _pending, _pending_bytes
    from braintrust.masking import get_masking_function

    masking_on = get_masking_function() is not None
    with _lock:
        if not _pending:
            return []
        if not masking_on and not _withheld:
            taken, _pending, _pending_bytes = list(_pending.values()), {}, 0
            return taken
        taken, held = [], {}
        for key, attachment in _pending.items():
            if not isinstance(attachment, Attachment) or key in _kept:
                taken.append(attachment)
            elif key in _withheld:
                _let_go.add(key)
            elif masking_on:
                held[key] = attachment
            else:
                taken.append(attachment)
        _pending = held
        _pending_bytes = sum(attachment.bytes_in_memory for attachment in held.values())
        return taken


def count() -> int:
    return len(_pending)


def _after_fork_in_child() -> None:
    """The parent stores what it registered; a forked child starts with none pending."""
    global _pending, _pending_bytes
    _pending, _pending_bytes = {}, 0


at_fork(after_in_child=_after_fork_in_child)
