"""What the processor's queue holds: ``QueuedWrite`` (one row write) and ``Chunk`` (the writes
the sender takes in one round)."""

from __future__ import annotations

from braintrust import jsonsafe
from braintrust.delivery.backend import ObjectRef

__all__ = ["Chunk", "QueuedWrite"]


class QueuedWrite:
    """One row write in the queue; ``seq`` orders items (flush waits for those before it).
    ``encoded``: the row as sent, when the producer encoded it; the item then keeps only the
    row's ``header`` (ids, op and ``created``: what backends read) and ``row`` decodes the
    whole row again when it is needed (a merge or a spill), so queued rows are bytes, not trees
    of dicts for the garbage collector to scan. ``key``: (object reference key, row id)."""

    __slots__ = ("seq", "ref", "_row", "size", "encoded", "key")

    def __init__(self, seq: int, ref: ObjectRef, row: dict, size: int, encoded: bytes | None, key: tuple):
        self.seq, self.ref, self._row, self.size, self.encoded, self.key = seq, ref, row, size, encoded, key

    @property
    def header(self) -> dict:
        """What backends read of the row (the row itself when it was not encoded)."""
        return self._row

    @property
    def row(self) -> dict:
        """The whole row (decoded from ``encoded`` when only the header was kept)."""
        if self.encoded is None:
            return self._row
        return jsonsafe.loads_row(self.encoded)


class Chunk:
    __slots__ = ("items", "claimed", "min_seq", "unsent")

    def __init__(self, items: list[QueuedWrite]):
        self.items = items
        self.claimed = False  # a flush past its deadline spilled these items already
        self.min_seq = items[0].seq if items else 0
        self.unsent = len(items)  # items not yet handed to the backend (for pacing)
