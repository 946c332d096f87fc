"""What happened to every row write: counts by outcome and reason, spill files, errors.

``Accounts`` is the processor's book: rows it could not deliver go through ``spill`` (to a
replayable file, or counted as dropped when even that fails), and ``snapshot`` gives the
``FlushResult`` that ``flush()`` returns. The processor serialises calls with its own lock.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from braintrust import masking
from braintrust.delivery.backend import ObjectRef
from braintrust.delivery.deadline import Deadline
from braintrust.delivery.spill import SPILL_FAILED, SpillWriter

log = logging.getLogger("braintrust")

#: Rows whose spilled writes are remembered for the processor's ordering rule (bounded memory;
#: past it the rule is best effort).
MAX_SPILLED_KEYS = 200_000

#: (object, row, how many row writes the row stands for after merging)
Entry = tuple[ObjectRef, dict, int]


@dataclass
class FlushResult:
    """Counts since the processor started. ``ok`` when nothing was spilled or dropped."""

    produced: int = 0
    accepted: int = 0
    spilled: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    spilled_by_reason: dict[str, int] = field(default_factory=dict)
    pending: int = 0
    mask_errors: int = 0
    spill_files: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: Row writes of earlier runs' spill files deleted to keep the spill budget (not part of
    #: this run's invariant; reported in ``errors`` too).
    dropped_from_earlier_runs: int = 0
    #: Attachments (their bytes) stored, spilled for replay, and lost by reason.
    attachments_stored: int = 0
    attachments_spilled: int = 0
    attachments_dropped: dict[str, int] = field(default_factory=dict)

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def ok(self) -> bool:
        return (not self.spilled and not self.dropped_total and not self.pending
                and not self.attachments_spilled and not sum(self.attachments_dropped.values()))

    def since(self, earlier: "FlushResult | None") -> "FlushResult":
        """What happened after ``earlier`` (from ``runtime.mark_counts``; None: everything):
        counts are differences, spill files and errors those added since, ``pending`` as now.
        For a run inside a process that goes on (``pytest.main`` called twice, a notebook)."""
        if earlier is None:
            return self

        def minus(now: dict[str, int], before: dict[str, int]) -> dict[str, int]:
            return {k: v - before.get(k, 0) for k, v in now.items() if v - before.get(k, 0)}

        return FlushResult(
            produced=self.produced - earlier.produced,
            accepted=self.accepted - earlier.accepted,
            spilled=self.spilled - earlier.spilled,
            dropped=minus(self.dropped, earlier.dropped),
            spilled_by_reason=minus(self.spilled_by_reason, earlier.spilled_by_reason),
            pending=self.pending,
            mask_errors=self.mask_errors - earlier.mask_errors,
            spill_files=[path for path in self.spill_files if path not in earlier.spill_files],
            errors=self.errors[len(earlier.errors):],
            dropped_from_earlier_runs=self.dropped_from_earlier_runs - earlier.dropped_from_earlier_runs,
            attachments_stored=self.attachments_stored - earlier.attachments_stored,
            attachments_spilled=self.attachments_spilled - earlier.attachments_spilled,
            attachments_dropped=minus(self.attachments_dropped, earlier.attachments_dropped),
        )

    def describe(self) -> str:
        parts = [f"{self.produced} row writes", f"{self.accepted} accepted"]
        if self.spilled:
            reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.spilled_by_reason.items()) if v)
            parts.append(f"{self.spilled} spilled ({reasons})")
        if self.dropped_total:
            reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.dropped.items()) if v)
            parts.append(f"{self.dropped_total} dropped ({reasons})")
        if self.pending:
            parts.append(f"{self.pending} pending")
        lost_attachments = sum(self.attachments_dropped.values())
        if self.attachments_stored or self.attachments_spilled or lost_attachments:
            attachments = f"attachments: {self.attachments_stored} stored"
            if self.attachments_spilled:
                attachments += f", {self.attachments_spilled} spilled"
            if lost_attachments:
                reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.attachments_dropped.items()) if v)
                attachments += f", {lost_attachments} dropped ({reasons})"
            parts.append(attachments)
        return ", ".join(parts)


class FlushError(RuntimeError):
    """Raised by ``flush`` under ``BRAINTRUST_SYNC_FLUSH`` when rows could not be delivered."""

    def __init__(self, result: FlushResult):
        super().__init__(f"Braintrust flush could not deliver every row: {result.describe()}")
        self.result = result


class Accounts:
    def __init__(self, spill_factory: Callable[[], SpillWriter]):
        self._spill_factory = spill_factory
        self.spill_writer: SpillWriter | None = None
        self.stats = FlushResult()
        #: (object key, row id) of every row with a spilled write.
        self.spilled_keys: set[tuple[str, Any]] = set()
        self._errors_lock = threading.Lock()
        self._errors_logged: set[str] = set()
        self._warned_at = (0, 0, 0, 0)  # (spilled, dropped, attachments spilled, dropped) last warned of
        self._masking_thread_error: BaseException | None = None

    def snapshot(self, completed: int) -> FlushResult:
        stats = self.stats
        result = dataclasses.replace(
            stats,
            dropped=dict(stats.dropped),
            spilled_by_reason=dict(stats.spilled_by_reason),
            attachments_dropped=dict(stats.attachments_dropped),
            spill_files=list(stats.spill_files),
            errors=list(stats.errors),
        )
        result.pending = stats.produced - completed
        result.mask_errors = masking.mask_error_count()
        return result

    def warn_of_losses(self, result: FlushResult) -> None:
        """Warn (through ``logging``) about what was spilled or dropped since the last warning."""
        current = (result.spilled, result.dropped_total, result.attachments_spilled, sum(result.attachments_dropped.values()))
        if current == self._warned_at:
            return
        self._warned_at = current
        where = ""
        if (result.spilled or result.attachments_spilled) and self.spill_writer is not None:
            where = f" Replay what was spilled with `braintrust replay {self.spill_writer.directory}`."
        log.warning("braintrust: not every row was delivered: %s.%s", result.describe(), where)

    def forget_logged_errors(self) -> None:
        """Record (and log) errors again when they recur: a new run in the same process."""
        with self._errors_lock:
            self._errors_logged.clear()

    def losses(self) -> int:
        return (self.stats.spilled + self.stats.dropped_total + self.stats.attachments_spilled
                + sum(self.stats.attachments_dropped.values()))

    def attachments(self, outcome: Any) -> None:
        """Count an ``attachment_delivery.AttachmentOutcome``; spill the bytes not stored."""
        self.stats.attachments_stored += outcome.stored
        for message in outcome.unreadable:
            self._count_attachments_dropped("unreadable", 1)
            self.note_error(message)
        for message in outcome.upload_failed:
            self._count_attachments_dropped("upload_failed", 1)
            self.note_error(message)
        if not outcome.unstored:
            return
        by_reason: dict[str, list] = {}
        for reference, data, reason, error in outcome.unstored:
            by_reason.setdefault(reason, []).append((reference, data))
            self.note_error(error)
        for reason, items in by_reason.items():
            try:
                if self.spill_writer is None:
                    self.spill_writer = self._spill_factory()
                path = self.spill_writer.write_attachments(items, reason)
            except Exception as exc:
                self._count_attachments_dropped("spill_failed", len(items))
                self.note_error(f"{_spill_error(exc)}; {len(items)} attachments lost")
                continue
            self.stats.attachments_spilled += len(items)
            self._note_spill_file(path)
            self._account_budget()

    def spill(self, entries: list[Entry], reason: str, masked: bool, mask_deadline: Deadline | None = None,
              *, retry_if_interrupted: bool = True) -> None:
        """Write rows to a spill file and count them (as dropped if that fails). With
        ``mask_deadline``, rows the masking function has not masked by then are dropped
        (``mask_timeout``): a slow masking function cannot stretch the exit, and an unmasked
        row is never written. A signal's exception (SIGTERM's SystemExit, Ctrl-C) that lands in
        the write on the main thread is raised again once the rows are counted (and, when the
        write did not get as far as the spill writer's buffer, written once more)."""
        count = sum(entry[2] for entry in entries)
        if len(self.spilled_keys) < MAX_SPILLED_KEYS:
            self.spilled_keys.update((ref.key, row.get("id")) for ref, row, _ in entries)
        buffered_before = self.spill_writer.buffered_items if self.spill_writer is not None else 0
        try:
            if not masked and mask_deadline is not None and masking.get_masking_function() is not None:
                entries, masked = self._mask_in_time(entries, mask_deadline), True
                count = sum(entry[2] for entry in entries)
                if not entries:
                    return
            if self.spill_writer is None:
                self.spill_writer = self._spill_factory()
            path = self.spill_writer.write([(ref, row) for ref, row, _ in entries], reason, masked=masked, item_count=count)
        except BaseException as exc:  # (a masking function may even raise SystemExit)
            writer = self.spill_writer
            buffered = reason == "queue_full" and writer is not None and writer.buffered_items > buffered_before
            masking_error, self._masking_thread_error = self._masking_thread_error, None  # (not kept: its frames)
            if _interrupts_the_main_thread(exc) and exc is not masking_error:
                # Swallowed here, the signal was lost: the process went on as if never told to stop.
                if buffered:
                    self._count_spilled(reason, count)
                elif retry_if_interrupted:
                    self.spill(entries, reason, masked, retry_if_interrupted=False)
                else:
                    self.count_dropped("spill_failed", count)
                    self.note_error(f"{_spill_error(exc)}; {count} row writes lost")
                raise
            if buffered:
                # The rows are in the writer's buffer (written, or counted as lost, at flush).
                self._count_spilled(reason, count)
                self.note_error(f"{_spill_error(exc)}; will try again at flush")
                return
            self.count_dropped("spill_failed", count)
            self.note_error(f"{_spill_error(exc)}; {count} row writes lost")
            return
        self._count_spilled(reason, count)
        self._note_spill_file(path)
        self._account_budget()

    def _mask_in_time(self, entries: list[Entry], deadline: Deadline) -> list[Entry]:
        """``entries`` masked, as many as the masking function masks by ``deadline``. It runs on
        a thread of its own: a function that never returns is left there (a daemon thread), and
        the flush, the exit-time one included, still ends at its deadline."""
        masked: list[Entry] = []
        failed: list[BaseException] = []
        done = threading.Event()

        def mask_all() -> None:
            try:
                for ref, row, count in entries:
                    if deadline.expired():
                        break
                    masked.append((ref, masking.mask_row(row), count))
            except BaseException as exc:  # (even SystemExit: raised again below, as if masked here)
                failed.append(exc)
            finally:
                done.set()

        try:
            threading.Thread(target=mask_all, name="braintrust-masking", daemon=True).start()
        except RuntimeError:  # (Python 3.12+ starts no thread once the interpreter shuts down: the exit-time flush masks here)
            mask_all()
        while not done.wait(min(0.05, deadline.remaining())) and not deadline.expired():
            pass
        if failed:
            self._masking_thread_error = failed[0]  # (the function's own exit, not a signal)
            raise failed[0]
        masked = masked[:]  # (what was masked by now; rows masked later are dropped with the rest)
        late = sum(count for _, _, count in entries[len(masked):])
        if late:
            self.count_dropped("mask_timeout", late)
            self.note_error(
                f"the masking function did not mask {late} row writes before the flush deadline, so they "
                "were dropped (never written unmasked): make it faster or raise BRAINTRUST_FLUSH_TIMEOUT"
            )
        return masked

    def flush_spill_buffer(self) -> None:
        """Write rows still buffered in the spill writer (a full queue's rows)."""
        writer = self.spill_writer
        if writer is None:
            return
        try:
            self._note_spill_file(writer.flush())
        except Exception as exc:
            lost = writer.discard_buffer()
            self.stats.spilled -= lost
            self.stats.spilled_by_reason["queue_full"] = self.stats.spilled_by_reason.get("queue_full", 0) - lost
            self.count_dropped("spill_failed", lost)
            self.note_error(f"{_spill_error(exc)}; {lost} row writes lost")
        writer.check_own_files()  # (another process sharing the folder may have removed some)
        self._account_budget()

    def count_dropped(self, reason: str, count: int) -> None:
        self.stats.dropped[reason] = self.stats.dropped.get(reason, 0) + count

    def note_error(self, message: str) -> None:
        """Record (and log once) an error line for the flush result."""
        with self._errors_lock:
            if message in self._errors_logged:
                return
            self._errors_logged.add(message)
            self.stats.errors.append(message)
        log.error("braintrust: %s", message)

    def _count_attachments_dropped(self, reason: str, count: int) -> None:
        self.stats.attachments_dropped[reason] = self.stats.attachments_dropped.get(reason, 0) + count

    def _count_spilled(self, reason: str, count: int) -> None:
        self.stats.spilled += count
        self.stats.spilled_by_reason[reason] = self.stats.spilled_by_reason.get(reason, 0) + count

    def _note_spill_file(self, path: Any) -> None:
        if path is not None and str(path) not in self.stats.spill_files:
            self.stats.spill_files.append(str(path))
        moved = self.spill_writer.moved if self.spill_writer is not None else None
        if moved is not None:
            folder, error = moved
            self.note_error(f"could not write spill files to {folder} ({error.strerror or error}); "
                            f"they are kept in {self.spill_writer.directory} instead")

    def _account_budget(self) -> None:
        """Rows of spill files deleted over the budget move from spilled to dropped."""
        writer = self.spill_writer
        if writer is None:
            return
        for spilled_reason, count in writer.take_dropped().items():
            self.stats.spilled -= count
            self.stats.spilled_by_reason[spilled_reason] = self.stats.spilled_by_reason.get(spilled_reason, 0) - count
            self.count_dropped("spill_budget", count)
        attachments = writer.take_dropped_attachments()
        if attachments:
            self.stats.attachments_spilled -= attachments
            self._count_attachments_dropped("spill_budget", attachments)
        removed_by_reason, removed_attachments = writer.take_removed()
        for spilled_reason, count in removed_by_reason.items():
            self.stats.spilled -= count
            self.stats.spilled_by_reason[spilled_reason] = self.stats.spilled_by_reason.get(spilled_reason, 0) - count
            self.count_dropped("spill_file_removed", count)
        removed = sum(removed_by_reason.values())
        if removed_attachments:
            self.stats.attachments_spilled -= removed_attachments
            self._count_attachments_dropped("spill_file_removed", removed_attachments)
        if removed or removed_attachments:
            self.note_error(
                f"spill files of this process in {writer.directory} were removed by another process (over its "
                f"spill budget, or a replay): {removed} row writes counted as spilled are not on disk any more"
            )
        foreign = writer.take_foreign_dropped()
        if foreign:
            self.stats.dropped_from_earlier_runs += foreign
            self.note_error(
                f"the spill budget is full: deleted the oldest spill files in {writer.directory}, "
                f"{foreign} row writes from earlier runs"
            )


def _interrupts_the_main_thread(exc: BaseException) -> bool:
    """A signal handler's exception: only the main thread runs them (elsewhere a SystemExit is a
    masking function's, and counted as a failed spill)."""
    return isinstance(exc, (KeyboardInterrupt, SystemExit)) and threading.current_thread() is threading.main_thread()


def _spill_error(exc: BaseException) -> str:
    """The line for a spill file not written: the spill writer's own error already names the
    folders tried and the fix (``spill._spill_failed``); anything else is shown as it is."""
    text = str(exc)
    if isinstance(exc, OSError) and text.startswith(SPILL_FAILED):
        return text
    return f"{SPILL_FAILED} ({exc!r})"
