"""The background processor: a bounded queue, one sender thread, batching and accounting.

Every row write (a span start, a ``log``, an end) is one *item*. Items are merged by row key,
masked, encoded and batched (by rows and bytes), then handed to the backend. Whatever the
backend does not accept is spilled to replayable files. Nothing leaves without being counted::

    produced == accepted + spilled + dropped (+ pending while running)

It imports no HTTP: backends do that.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from braintrust import jsonsafe, masking
from braintrust.config import DeliverySettings
from braintrust.delivery import policy
from braintrust.delivery.backend import Backend, BackendError, ObjectRef
from braintrust.delivery.deadline import Deadline
from braintrust.delivery.spill import SpillWriter
from braintrust.tracing.record import merge_row_into, row_key

log = logging.getLogger("braintrust")

#: Items the sender takes from the queue per round (several batches, so it keeps up).
CHUNK_ITEMS = 2000
#: How long a flush waits past its deadline for an in-flight request before spilling its rows.
IN_FLIGHT_GRACE_SECONDS = 0.5


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

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def ok(self) -> bool:
        return not self.spilled and not self.dropped_total and not self.pending

    def describe(self) -> str:
        parts = [f"{self.produced} row writes", f"{self.accepted} accepted"]
        if self.spilled:
            reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.spilled_by_reason.items()))
            parts.append(f"{self.spilled} spilled ({reasons})")
        if self.dropped_total:
            reasons = ", ".join(f"{k}: {v}" for k, v in sorted(self.dropped.items()))
            parts.append(f"{self.dropped_total} dropped ({reasons})")
        if self.pending:
            parts.append(f"{self.pending} pending")
        return ", ".join(parts)


class FlushError(RuntimeError):
    """Raised by ``flush`` under ``BRAINTRUST_SYNC_FLUSH`` when rows could not be delivered."""

    def __init__(self, result: FlushResult):
        super().__init__(f"Braintrust flush could not deliver every row: {result.describe()}")
        self.result = result


@dataclass
class _Outcome:
    entries: list[tuple[ObjectRef, dict, int]]  # (ref, row, items the row stands for)
    reason: str
    masked: bool


class _Chunk:
    __slots__ = ("items", "claimed")

    def __init__(self, items: list[tuple[ObjectRef, dict, int]]):
        self.items = items
        self.claimed = False


class Processor:
    def __init__(
        self,
        backend_factory: Callable[[], Backend],
        spill_factory: Callable[[], SpillWriter],
        settings: DeliverySettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._backend_factory = backend_factory
        self._spill_factory = spill_factory
        self.settings = settings or DeliverySettings.from_env()
        self._clock = clock
        self._init_runtime_state()
        os.register_at_fork(after_in_child=self._after_fork_in_child)

    def _init_runtime_state(self) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._wakeup = threading.Event()
        self._queue: collections.deque[tuple[ObjectRef, dict, int]] = collections.deque()
        self._queued_bytes = 0
        self._enqueued = 0  # items ever produced
        self._completed = 0  # items accepted, spilled or dropped
        self._in_flight: _Chunk | None = None
        self._sender_waiting = False
        self._thread: threading.Thread | None = None
        self._flush_deadline_end: float | None = None
        self._backend: Backend | None = None
        self._spill: SpillWriter | None = None
        self._stats = FlushResult()
        self._reported = (0, 0)
        self._errors_logged: set[str] = set()
        self._closed = False

    def _after_fork_in_child(self) -> None:
        """A forked child starts with an empty queue and its own lock, thread and backend."""
        self._init_runtime_state()

    # -- producer side ---------------------------------------------------------------------------

    def enqueue(self, ref: ObjectRef, row: dict[str, Any], approx_bytes: int) -> None:
        settings = self.settings
        with self._cond:
            self._enqueued += 1
            self._stats.produced += 1
            if len(self._queue) >= settings.queue_max_rows or self._queued_bytes + approx_bytes > settings.queue_max_bytes:
                if not self._wait_for_room(approx_bytes):
                    self._completed += 1
                    self._spill_locked([(ref, row, 1)], "queue_full", masked=False)
                    return
            self._queue.append((ref, row, approx_bytes))
            self._queued_bytes += approx_bytes
            if self._sender_waiting:
                self._cond.notify_all()
        if self._thread is None or not self._thread.is_alive():
            self._start_sender()

    def _wait_for_room(self, approx_bytes: int) -> bool:
        wait = policy.queue_full_wait_seconds
        if wait <= 0 or self.settings.sync_flush:
            return False
        end = self._clock() + wait
        while len(self._queue) >= self.settings.queue_max_rows or self._queued_bytes + approx_bytes > self.settings.queue_max_bytes:
            remaining = end - self._clock()
            if remaining <= 0:
                return False
            self._cond.notify_all()
            self._cond.wait(remaining)
        return True

    # -- sender ----------------------------------------------------------------------------------

    def _start_sender(self) -> None:
        if self.settings.sync_flush:
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="braintrust-sender", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue:
                    self._sender_waiting = True
                    self._cond.wait()
                    self._sender_waiting = False
                chunk = self._take_locked(CHUNK_ITEMS)
            self._process(chunk)

    def _take_locked(self, limit: int) -> _Chunk:
        items = []
        while self._queue and len(items) < limit:
            item = self._queue.popleft()
            self._queued_bytes -= item[2]
            items.append(item)
        chunk = _Chunk(items)
        self._in_flight = chunk
        self._cond.notify_all()  # producers waiting for room
        return chunk

    def _batch_deadline(self) -> Deadline:
        return Deadline(None, clock=self._clock, cap=lambda: self._flush_deadline_end, wakeup=self._wakeup)

    def _process(self, chunk: _Chunk) -> None:
        """Deliver one chunk; afterwards every item in it is accepted, spilled or dropped."""
        outcomes: list[_Outcome] = []
        accepted = 0
        try:
            accepted = self._deliver(chunk.items, self._batch_deadline(), outcomes)
        except Exception:  # the sender must survive anything; nothing is lost
            log.exception("braintrust: the sender failed unexpectedly; spilling the batch")
            outcomes = [_Outcome([(ref, row, 1) for ref, row, _ in chunk.items], "internal_error", masked=False)]
            accepted = 0
        with self._cond:
            if self._in_flight is chunk:
                self._in_flight = None
            if chunk.claimed:
                return  # a flush that timed out already spilled these items
            self._stats.accepted += accepted
            for outcome in outcomes:
                self._spill_locked(outcome.entries, outcome.reason, masked=outcome.masked)
            self._completed += len(chunk.items)
            self._cond.notify_all()

    def _backend_instance(self) -> Backend:
        if self._backend is None:
            self._backend = self._backend_factory()
        return self._backend

    def _deliver(self, items: list[tuple[ObjectRef, dict, int]], deadline: Deadline, outcomes: list[_Outcome]) -> int:
        """Resolve, merge, mask, encode, batch, export. Returns the accepted item count;
        what failed is appended to ``outcomes`` for spilling."""
        backend = self._backend_instance()
        failure_of: dict[str, str | None] = {}  # ref key -> None when resolved, else the reason
        unresolved: dict[str, list[tuple[ObjectRef, dict, int]]] = {}
        merged: dict[tuple, list] = {}  # row key -> [row, item count, ref]
        for ref, row, _ in items:
            if ref.key not in failure_of:
                try:
                    backend.resolve(ref, deadline)
                    failure_of[ref.key] = None
                except BackendError as exc:
                    self._note_error(str(exc))
                    failure_of[ref.key] = exc.reason
            reason = failure_of[ref.key]
            if reason is not None:
                unresolved.setdefault(reason, []).append((ref, row, 1))
                continue
            row.update(ref.ids)  # type: ignore[arg-type]
            key = row_key(row)
            entry = merged.get(key)
            if entry is None:
                merged[key] = [row, 1, ref]
            else:
                entry[0] = merge_row_into(entry[0], row)
                entry[1] += 1
        for reason, failed in unresolved.items():
            outcomes.append(_Outcome(failed, reason, masked=False))
        if not merged:
            return 0
        return self._export_merged(backend, list(merged.values()), deadline, outcomes)

    def _export_merged(self, backend: Backend, entries: list[list], deadline: Deadline, outcomes: list[_Outcome]) -> int:
        max_rows = self.settings.batch_max_rows
        max_bytes = backend.max_batch_bytes(deadline)
        accepted = 0
        batch: list[list] = []
        encoded_batch: list[bytes] = []
        batch_bytes = 0
        for entry in entries:
            entry[0] = masking.mask_row(entry[0])
            encoded = jsonsafe.dumps_row(entry[0])
            size = len(encoded) + 1
            if batch and (len(batch) >= max_rows or batch_bytes + size > max_bytes):
                accepted += self._export_batch(backend, batch, encoded_batch, deadline, outcomes)
                batch, encoded_batch, batch_bytes = [], [], 0
            batch.append(entry)
            encoded_batch.append(encoded)
            batch_bytes += size
        if batch:
            accepted += self._export_batch(backend, batch, encoded_batch, deadline, outcomes)
        return accepted

    def _export_batch(self, backend: Backend, batch: list[list], encoded: list[bytes], deadline: Deadline, outcomes: list[_Outcome]) -> int:
        rows = [entry[0] for entry in batch]
        result = backend.export(rows, encoded, deadline)
        if result.error:
            self._note_error(result.error)
        reason_of = {id(row): reason for row, reason in result.failed}
        accepted = 0
        failed: dict[str, list[tuple[ObjectRef, dict, int]]] = {}
        for row, count, ref in batch:
            reason = reason_of.get(id(row))
            if reason is None:
                accepted += count
            else:
                failed.setdefault(reason, []).append((ref, row, count))
        for reason, entries in failed.items():
            outcomes.append(_Outcome(entries, reason, masked=True))
        return accepted

    # -- spilling and accounting -------------------------------------------------------------------

    def _spill_locked(self, entries: list[tuple[ObjectRef, dict, int]], reason: str, masked: bool) -> None:
        """Write rows to a spill file and count them; ``count`` is how many items a (merged)
        row stands for."""
        count = sum(entry[2] for entry in entries)
        if self._spill is None:
            self._spill = self._spill_factory()
        try:
            path = self._spill.write([(ref, row) for ref, row, _ in entries], reason, masked=masked, item_count=count)
        except Exception as exc:
            self._count_dropped("spill_failed", count)
            self._note_error(f"could not write a spill file ({exc}); {count} row writes lost")
            return
        self._stats.spilled += count
        self._stats.spilled_by_reason[reason] = self._stats.spilled_by_reason.get(reason, 0) + count
        if path is not None and str(path) not in self._stats.spill_files:
            self._stats.spill_files.append(str(path))
        for dropped_reason, dropped in self._spill.take_dropped().items():
            self._stats.spilled -= dropped
            self._count_dropped(dropped_reason, dropped)

    def _count_dropped(self, reason: str, count: int) -> None:
        self._stats.dropped[reason] = self._stats.dropped.get(reason, 0) + count

    def _note_error(self, message: str) -> None:
        if message not in self._errors_logged:
            self._errors_logged.add(message)
            self._stats.errors.append(message)
            log.error("braintrust: %s", message)

    # -- flushing --------------------------------------------------------------------------------

    def stats(self) -> FlushResult:
        with self._lock:
            result = FlushResult(**{k: (dict(v) if isinstance(v, dict) else list(v) if isinstance(v, list) else v) for k, v in self._stats.__dict__.items()})
            result.pending = self._enqueued - self._completed
            result.mask_errors = masking.mask_error_count()
            return result

    def flush(self, timeout: float | None = None) -> FlushResult:
        """Deliver everything produced so far, within ``timeout`` seconds (default: the flush
        deadline). What cannot be delivered in time is spilled, never waited on."""
        timeout = self.settings.flush_timeout_seconds if timeout is None else timeout
        end = self._clock() + timeout
        with self._cond:
            target = self._enqueued
            previous_cap = self._flush_deadline_end
            self._flush_deadline_end = end if previous_cap is None else min(previous_cap, end)
        self._wakeup.set()
        try:
            if self.settings.sync_flush or self._thread is None or not self._thread.is_alive() or threading.current_thread() is self._thread:
                self._drain_inline(target)
            else:
                self._wait_for(target, end)
        finally:
            with self._cond:
                self._flush_deadline_end = previous_cap
        if self._spill is not None:
            with self._lock:
                self._spill.flush()
        result = self.stats()
        self._report(result)
        if self.settings.sync_flush and (result.spilled or result.dropped_total):
            raise FlushError(result)
        return result

    def _drain_inline(self, target: int) -> None:
        while True:
            with self._cond:
                if self._completed >= target:
                    return
                if not self._queue:
                    self._cond.wait(0.05)  # another thread is finishing the last chunk
                    continue
                chunk = self._take_locked(CHUNK_ITEMS)
            self._process(chunk)

    def _wait_for(self, target: int, end: float) -> None:
        with self._cond:
            while self._completed < target:
                remaining = end - self._clock()
                if remaining <= 0:
                    break
                self._cond.wait(min(remaining, 0.1))
            if self._completed >= target:
                return
            # Deadline reached: queued items spill now; an in-flight chunk gets a short grace.
            leftover = target - self._completed - (len(self._in_flight.items) if self._in_flight else 0)
            expired: list[tuple[ObjectRef, dict, int]] = []
            while leftover > 0 and self._queue:
                ref, row, size = self._queue.popleft()
                self._queued_bytes -= size
                expired.append((ref, row, 1))
                leftover -= 1
            if expired:
                self._completed += len(expired)
                self._spill_locked(expired, "deadline", masked=False)
            grace_end = self._clock() + IN_FLIGHT_GRACE_SECONDS
            while self._completed < target and self._in_flight is not None:
                remaining = grace_end - self._clock()
                if remaining <= 0:
                    chunk = self._in_flight
                    chunk.claimed = True
                    self._in_flight = None
                    self._completed += len(chunk.items)
                    self._spill_locked([(ref, row, 1) for ref, row, _ in chunk.items], "deadline", masked=False)
                    break
                self._cond.wait(remaining)

    def _report(self, result: FlushResult) -> None:
        """Warn (through ``logging``) about rows spilled or dropped since the last report."""
        current = (result.spilled, result.dropped_total)
        if current == self._reported:
            return
        self._reported = current
        where = f" Replay them with `braintrust replay {os.path.dirname(result.spill_files[-1])}`." if result.spill_files else ""
        log.warning("braintrust: not every row was delivered: %s.%s", result.describe(), where)

    def close(self, timeout: float | None = None) -> FlushResult:
        result = self.flush(timeout)
        self._closed = True
        return result
