"""Rows still being composed in this process: an open span's row, queued once, when it ends.

A span's start, its ``log`` calls and its end would otherwise be separate writes of one row,
each snapshotted, queued, merged by the sender and stored (the local store folds them again on
read). Instead the span holds its row here and merges later fields into it in place, with the
server's merge semantics (``merge_row_into``); the row is queued once (``release``):

* when the span ends;
* when a write from elsewhere targets the same row id (``release_id``: feedback, ``update_span``,
  a merge by id), so that the row reaches the destination before the write that merges into it;
* at any flush (``release_all``; the processor calls it first), so a flush still delivers
  everything logged before it, open spans included, as the rows they are so far. Their later
  fields then travel as merges, as they would have without holding.

The row as the destination finally holds it is the same either way. Bounded: past
``MAX_OPEN_ROWS`` held rows, new spans write at once. A row is never queued by two processes:
a forked child starts with an empty registry, and what it logs to a span it inherited travels
as merges. The parent's first write of a row it held at the fork is a merge too (``forked``):
the child's merges may reach the destination first, and a first write that replaced the row
would erase them.

Besides ``OpenRow``, the registry holds any ``Holder`` (``register``): an object that composes
its row some other way (``tracing.deferred.DeferredSpan`` builds it only when it ends) and
queues it from ``_release_locked``, under its ``lock``.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from braintrust.delivery.backend import ObjectRef
from braintrust.forks import at_fork
from braintrust.tracing.record import copy_dicts, merge_row_into

__all__ = ["MAX_OPEN_ROWS", "Holder", "OpenRow", "forked", "hold", "open_count", "register", "release_all", "release_id", "unregister"]

#: Rows held at most at once (each is one open span's row: a few KB).
MAX_OPEN_ROWS = 10_000
#: How long ``release_all`` waits for a row another thread is merging into (or, in a signal
#: handler, that the interrupted code of this same thread was merging into) before it queues
#: the row as it is.
_RELEASE_WAIT_SECONDS = 0.2

Enqueue = Callable[[ObjectRef, dict, int], None]

_held: dict[str, "Holder"] = {}  # row id -> what holds that row
_held_at_fork: set[str] = set()  # ids of rows held when this process forked, not yet queued


class Holder:
    """What the registry holds: ``lock`` guards the row; ``_release_locked`` (called with the lock
    held) queues it once; ``_forget_after_fork`` marks it released in a forked child."""

    __slots__ = ()
    lock: Any

    def release(self) -> None:
        with self.lock:
            self._release_locked()

    def _release_locked(self) -> None:
        raise NotImplementedError

    def _forget_after_fork(self) -> None:
        raise NotImplementedError


class OpenRow(Holder):
    """One held row. ``row`` is None once released (later writes go to the queue as merges)."""

    __slots__ = ("ref", "row", "size", "lock", "enqueue")

    def __init__(self, ref: ObjectRef, row: dict, size: int, enqueue: Enqueue):
        self.ref, self.row, self.size, self.enqueue = ref, row, size, enqueue
        self.lock = threading.Lock()

    def merge(self, fields: dict, size: int) -> bool:
        """Merge a later write of the row (``fields`` without ``_is_merge``; a private snapshot
        it may keep); False if the row was released already (queue ``fields`` as a merge)."""
        with self.lock:
            if self.row is None:
                return False
            self._merge_locked(fields, size)
            return True

    def _merge_locked(self, fields: dict, size: int) -> None:
        row = self.row
        if "context" in fields and isinstance(row.get("context"), dict):
            row["context"] = copy_dicts(row["context"])  # may share constant dicts
        merge_row_into(row, {**fields, "_is_merge": True})  # (drops a first write's _is_merge)
        self.size += size

    def finish(self, fields: dict, size: int) -> bool:
        """``merge`` then ``release``, under one lock (a span's end)."""
        with self.lock:
            if self.row is None:
                return False
            self._merge_locked(fields, size)
            self._release_locked()
            return True

    def _release_locked(self) -> None:
        """Queue the row (once); later writes of it become merges."""
        row, self.row = self.row, None
        if row is None:
            return
        unregister(row["id"], self)
        if forked(row["id"]):
            row["_is_merge"] = True
        try:
            # Queued while holding the lock: a concurrent write waits, and reaches the queue after.
            self.enqueue(self.ref, row, self.size)
        except (KeyboardInterrupt, SystemExit):
            # A signal's exception (SIGTERM, Ctrl-C) as the span ended, perhaps before the
            # processor took the row: held again, for the exit-time flush to queue (at worst a
            # second, identical write of it), rather than lost uncounted.
            self.row = row
            _held.setdefault(row["id"], self)
            raise

    def _forget_after_fork(self) -> None:
        self.lock = threading.Lock()  # it may have been held at the fork
        self.row = None


def hold(ref: ObjectRef, row: dict, size: int, enqueue: Enqueue) -> OpenRow | None:
    """Hold ``row`` (a first write, a private snapshot) until it is released; None when too many
    rows are held already: the caller then queues it at once."""
    if len(_held) >= MAX_OPEN_ROWS:
        return None
    open_row = OpenRow(ref, row, size, enqueue)
    _held[row["id"]] = open_row
    return open_row


def register(row_id: str, holder: Holder) -> bool:
    """Hold a row some other way (see ``Holder``); False when too many rows are held already."""
    if len(_held) >= MAX_OPEN_ROWS:
        return False
    _held[row_id] = holder
    return True


def unregister(row_id: str, holder: Holder) -> None:
    if _held.get(row_id) is holder:
        del _held[row_id]


def release_id(row_id: Any) -> None:
    """Queue the held row with this id, if any (before a write from elsewhere merges into it)."""
    open_row = _held.get(row_id) if _held else None
    if open_row is not None:
        open_row.release()


def release_all() -> None:
    """Queue every held row as it is now (before a flush)."""
    for holder in list(_held.values()):
        acquired = holder.lock.acquire(timeout=_RELEASE_WAIT_SECONDS)
        try:
            holder._release_locked()
        finally:
            if acquired:
                holder.lock.release()


def open_count() -> int:
    return len(_held)


def forked(row_id: Any) -> bool:
    """Whether this row was held when the process forked and is being queued for the first time
    now: its first write must then be a merge (see the module docstring)."""
    if _held_at_fork and row_id in _held_at_fork:
        _held_at_fork.discard(row_id)
        return True
    return False


def _before_fork() -> None:
    _held_at_fork.update(_held)


def _after_fork_in_child() -> None:
    # The parent queues the rows it held; in the child they count as released (what the child
    # logs to an inherited span travels as merges). Their locks may have been held at the fork.
    for holder in list(_held.values()):
        holder._forget_after_fork()
    _held.clear()
    _held_at_fork.clear()


at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
