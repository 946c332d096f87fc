"""From queued row writes to backend batches: resolve, merge, mask, encode, cut into batches, export.

Writes of one row (same object ids and row id) are merged as the server would merge them; each
row is masked once and encoded once, then rows are cut into batches by rows and bytes and
handed to the backend. A write the producer already encoded (see ``Processor.enqueue``) is sent
as encoded, unless another write was merged into it or a masking function must see it.
What happens to every write is recorded in a ``Progress``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from braintrust import jsonsafe, masking
from braintrust.config import DEFAULT_MAX_REQUEST_BYTES
from braintrust.delivery.backend import Backend, BackendError, ObjectRef
from braintrust.delivery.deadline import Deadline
from braintrust.tracing.record import OBJECT_ID_FIELDS, copy_dicts, merge_row_into, row_key

__all__ = ["EARLIER_WRITE_SPILLED", "HEADER_FIELDS", "Entry", "Progress", "deliver", "export_entries", "merge_writes", "row_header"]

log = logging.getLogger("braintrust")

#: Reason for a row write spilled because an earlier write of the same row was spilled.
EARLIER_WRITE_SPILLED = "earlier_write_spilled"
#: Rows to spill: (object, row, number of queued writes it stands for).
Failed = list[tuple[ObjectRef, dict, int]]


@dataclass
class Progress:
    """What was settled so far: accepted write count and rows to spill by reason.
    ``on_handed_over(n)`` is told each time ``n`` writes were handed to the backend."""

    on_handed_over: Callable[[int], None] | None = None
    accepted: int = 0
    outcomes: list[tuple[Failed, str, bool]] = field(default_factory=list)

    def fail(self, entries: Failed, reason: str, masked: bool) -> None:
        """Rows to spill; those with the same reason go to one file (not one per batch)."""
        if not entries:
            return
        for existing, existing_reason, existing_masked in self.outcomes:
            if existing_reason == reason and existing_masked == masked:
                existing.extend(entries)
                return
        self.outcomes.append((list(entries), reason, masked))


#: What backends read of a row (``Backend.export``): its ids, the kind of write and ``created``.
HEADER_FIELDS = ("id", *OBJECT_ID_FIELDS, "_is_merge", "_object_delete", "created")


def row_header(row: dict) -> dict:
    """The fields of ``row`` backends read (plus ``comment``: True when the row has one).
    Made of strings and flags only, so the garbage collector does not track it."""
    header = {name: row[name] for name in HEADER_FIELDS if name in row}
    if "comment" in row:
        header["comment"] = True
    return header


class Entry:
    """One row to send: the writes merged into it (``count``), whether ``row`` is a private
    copy that merging may change, and its encoding (None until encoded). ``row`` is only the
    row's header while ``header_only`` (the whole row is ``encoded``; ``full_row`` decodes it)."""

    __slots__ = ("row", "count", "ref", "private", "encoded", "header_only")

    def __init__(self, row: dict, ref: ObjectRef, encoded: bytes | None, header_only: bool = False):
        self.row, self.count, self.ref, self.private, self.encoded = row, 1, ref, False, encoded
        self.header_only = header_only

    def full_row(self) -> dict:
        return jsonsafe.loads_row(self.encoded) if self.header_only else self.row  # type: ignore[arg-type]


def merge_writes(writes: Iterable[Any]) -> list[Entry]:
    """Merge writes (queued items: ``ref``, ``header``, ``row``, ``encoded`` or None) of
    resolved objects by row key, in the order keys first appear. A row without its encoding
    lacks the object ids: they are added to a copy (a queued row is never modified: a flush
    past its deadline may spill it). Encoded rows are decoded only to be merged."""
    merged: dict[tuple, Entry] = {}
    for write in writes:
        ref, encoded = write.ref, write.encoded
        if encoded is None:
            row = {**write.row, **ref.ids}  # type: ignore[dict-item]
        else:
            row = write.header
        key = row_key(row)
        entry = merged.get(key)
        if entry is None:
            merged[key] = Entry(row, ref, encoded, header_only=encoded is not None)
        else:
            if entry.private or entry.header_only:  # (a decoded row is a private copy already)
                earlier = entry.full_row()
            else:
                earlier = copy_dicts(entry.row)
            later = copy_dicts(row) if encoded is None else write.row
            entry.row = merge_row_into(earlier, later)
            entry.count += 1
            entry.private = True
            entry.header_only = False
            entry.encoded = None
    return list(merged.values())


def deliver(
    backend: Backend,
    writes: list[Any],
    deadline: Deadline,
    progress: Progress,
    max_rows: int,
    spilled_keys: set,
    note_error: Callable[[str], None],
) -> None:
    """Resolve the writes' objects, then merge, mask, encode, batch and export them; settle every
    write in ``progress``. A write whose row had an earlier write spilled (``spilled_keys``:
    (object reference key, row id)) spills too, so a replay applies them in order."""
    resolved: dict[str, str | None] = {}  # ref key -> None when resolved, else the reason
    failed: dict[str, Failed] = {}
    ready = []
    for write in writes:
        ref = write.ref
        if spilled_keys and write.key in spilled_keys:
            failed.setdefault(EARLIER_WRITE_SPILLED, []).append((ref, write.row, 1))
            continue
        if ref.key not in resolved:
            resolved[ref.key] = _resolve(backend, ref, deadline, note_error)
        reason = resolved[ref.key]
        if reason is not None:
            failed.setdefault(reason, []).append((ref, write.row, 1))
            continue
        ready.append(write)
    for reason, entries in failed.items():
        progress.fail(entries, reason, False)
    if ready:
        export_entries(backend, merge_writes(ready), deadline, progress, max_rows, note_error)


def _resolve(backend: Backend, ref: ObjectRef, deadline: Deadline, note_error: Callable[[str], None]) -> str | None:
    """None when ``ref`` has its ids, else the reason its rows spill."""
    try:
        backend.resolve(ref, deadline)
    except BackendError as exc:
        note_error(str(exc))
        return exc.reason
    except Exception as exc:
        log.exception("braintrust: resolving %s failed unexpectedly", ref.object_type)
        note_error(f"could not resolve the {ref.object_type} ({type(exc).__name__}: {exc})")
        return "internal_error"
    if not ref.ids:
        note_error(f"the backend resolved the {ref.object_type} without ids")
        return "internal_error"
    return None


def export_entries(
    backend: Backend,
    entries: list[Entry],
    deadline: Deadline,
    progress: Progress,
    max_rows: int,
    note_error: Callable[[str], None],
) -> None:
    """Mask, encode, cut into batches (the backend's row and byte limits), export.
    ``max_rows``: the configured rows per batch, which the backend may raise."""
    try:
        max_bytes = backend.max_batch_bytes(deadline)
    except Exception as exc:
        note_error(f"could not learn the batch size limit ({type(exc).__name__}: {exc}); using 6 MiB")
        max_bytes = DEFAULT_MAX_REQUEST_BYTES
    max_rows = backend.max_batch_rows(max_rows)
    masking_on = masking.get_masking_function() is not None
    batch: list[Entry] = []
    batch_bytes = 0
    for index, entry in enumerate(entries):
        if masking_on and deadline.expired():  # (the flush spills the rest, masking it in its grace)
            progress.fail([(e.ref, e.full_row(), e.count) for e in entries[index:]], "deadline", False)
            break
        if entry.encoded is None or masking_on:
            entry.row = masking.mask_row(entry.full_row())
            entry.header_only = False
            entry.encoded = jsonsafe.dumps_row(entry.row)
        size = len(entry.encoded) + 1
        if batch and (len(batch) >= max_rows or batch_bytes + size > max_bytes):
            _export_batch(backend, batch, deadline, progress, note_error)
            batch, batch_bytes = [], 0
        batch.append(entry)
        batch_bytes += size
    if batch:
        _export_batch(backend, batch, deadline, progress, note_error)


def _export_batch(backend: Backend, batch: list[Entry], deadline: Deadline, progress: Progress,
                  note_error: Callable[[str], None]) -> None:
    rows = [entry.row for entry in batch]
    if progress.on_handed_over is not None:
        progress.on_handed_over(sum(entry.count for entry in batch))
    try:
        result = backend.export(rows, [entry.encoded for entry in batch], deadline)  # type: ignore[misc]
    except Exception as exc:
        log.exception("braintrust: the backend failed unexpectedly; spilling the batch")
        note_error(f"{backend.label}: export failed ({type(exc).__name__}: {exc})")
        progress.fail([(entry.ref, entry.full_row(), entry.count) for entry in batch], "internal_error", True)
        return
    if result.error:
        note_error(result.error)
    if not result.failed:
        progress.accepted += sum(entry.count for entry in batch)
        return
    reason_of = {id(row): reason for row, reason in result.failed}
    failed: dict[str, Failed] = {}
    for entry in batch:
        reason = reason_of.get(id(entry.row))
        if reason is None:
            progress.accepted += entry.count
        else:
            failed.setdefault(reason, []).append((entry.ref, entry.full_row(), entry.count))
    for reason, rows_failed in failed.items():
        progress.fail(rows_failed, reason, True)
