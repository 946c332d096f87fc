"""The background processor: a bounded queue, one sender thread, batching and accounting.

Every row write (a span's row, a ``log`` row, a merge by id) is one *item*. The sender takes
items in chunks and hands them to ``batching.deliver`` (resolve, merge, mask, encode, batch,
export). Whatever the backend does not accept is spilled to replayable files. Nothing leaves
without being counted::

    produced == accepted + spilled + dropped (+ pending while running)

Order matters for replay, which applies spill files oldest first: for every row, its writes
must reach the disk in the order they were made. So once a write of a row has been spilled, its
later writes are spilled too (reason ``earlier_write_spilled``) instead of being sent; a full
queue still takes a write whose earlier write is queued (up to 10 % over its bounds); and at the
flush deadline in-flight rows spill before queued ones.

Pacing: a producer ``PACE_BATCHES`` batches (or ``PACE_BYTES``) ahead of what the backend has
been handed waits while the sender works, until it is one batch (or half as many bytes) ahead,
so it runs while a batch is at the server and waits while the sender prepares the next one.
Without pacing, a producer in a tight loop holds the GIL for whole switch intervals (5 ms)
while the sender, back from each system call, waits for it: the queue, and memory, would grow
with the number of rows. A producer does not wait for a sender sleeping before a retry, and
stops waiting when the sender hands nothing over for ``PACE_WAIT_SECONDS`` (a slow or hanging
backend); it then waits again only once the sender made progress or ``PACE_RETRY_BATCHES`` more
batches of rows were produced (so a sender that is starting up, importing and logging in, is
not starved).

Encoding: once an object is resolved, ``enqueue`` encodes each row on the producer's thread
(while the row is still in that CPU's cache; the sender would encode it anyway). Measured end
to end this is about a quarter faster than encoding on the sender.

Lingering: the sender takes writes once a batch's worth is queued (``batch_max_rows``), or
``LINGER_SECONDS`` after it saw the first one, or at once when a flush or close asks. Taking
each write as it comes would send one request (or one SQLite transaction) per write under a
steady trickle, and merge nothing: a span's start, logs and end, made milliseconds apart, then
travel as separate writes instead of one row.

Attachments: after the rows that hold them, the sender (and a flush) store the bytes of logged
attachments (``attachment_delivery``); a flush waits for that under its deadline too.

It imports no HTTP: backends do that.
"""

from __future__ import annotations

import collections
import logging
import sys
import threading
import time
import weakref
from typing import Any, Callable

from braintrust import jsonsafe, masking
from braintrust.attachments import pending as pending_attachments
from braintrust.config import DeliverySettings
from braintrust.delivery import open_rows, policy
from braintrust.delivery.accounting import Accounts, FlushError, FlushResult
from braintrust.delivery.attachment_delivery import AttachmentStorage
from braintrust.delivery.backend import Backend, ObjectRef
from braintrust.delivery.batching import EARLIER_WRITE_SPILLED, Progress, deliver, row_header
from braintrust.delivery.deadline import Deadline
from braintrust.delivery.queued import Chunk, QueuedWrite
from braintrust.delivery.spill import SpillWriter
from braintrust.forks import at_fork
from braintrust.signals import leave_signals_to_the_main_thread

__all__ = ["CHUNK_ITEMS", "EARLIER_WRITE_SPILLED", "FlushError", "FlushResult", "IN_FLIGHT_GRACE_SECONDS", "Processor"]

log = logging.getLogger("braintrust")

#: Items the sender takes from the queue per round (several batches, so it keeps up), and the
#: bytes they may hold (past the first item): a round's items are out of the queue's byte count
#: until they are delivered, so without this a round of large rows held up to 2,000 of them
#: beside a full queue (about twice the memory bound).
CHUNK_ITEMS = 2000
CHUNK_BYTES = 16 * 1024 * 1024
#: How long a flush waits past its deadline for an in-flight request before spilling its rows.
IN_FLIGHT_GRACE_SECONDS = 0.5
#: How long past a flush's deadline the masking function may take to mask rows being spilled
#: (those it has not masked by then are dropped as ``mask_timeout``, never written unmasked).
MASK_GRACE_SECONDS = 0.5
#: How far over its bounds the queue may grow with rows whose earlier writes are still queued.
OVER_BOUND_FACTOR = 1.1
#: Pacing (see the module docstring): how far ahead a producer may get (in batches of
#: ``batch_max_rows``, and bytes), how long it waits for a sender that hands nothing over, and
#: how many batches of rows it produces before it waits for such a sender again.
PACE_BATCHES = 2
PACE_BYTES = 16 * 1024 * 1024
PACE_WAIT_SECONDS = 0.05
PACE_RETRY_BATCHES = 20
#: Lingering (see the module docstring): how long the sender waits for a batch's worth of
#: writes before it takes fewer.
LINGER_SECONDS = 0.05
#: How many batches' worth of writes wake a lingering sender.
LINGER_BATCHES = 1


def _interrupt_of(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C ``exc`` is: itself, or the one a ``RuntimeError("release unlocked lock")``
    replaced (a Ctrl-C that lands while ``Condition.wait`` takes its lock back leaves the lock
    unheld, and the ``with`` block's release then fails); None for anything else."""
    if isinstance(exc, KeyboardInterrupt):
        return exc
    context = exc.__context__
    return context if isinstance(exc, RuntimeError) and isinstance(context, KeyboardInterrupt) else None


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
        me = weakref.ref(self)

        def after_fork_in_child() -> None:
            processor = me()
            if processor is not None:
                processor._after_fork_in_child()

        at_fork(after_in_child=after_fork_in_child)

    def _init_runtime_state(self) -> None:
        # (reentrant: a signal handler may flush while the code it interrupted holds it, in log())
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._wakeup = threading.Event()
        self._backend_lock = threading.Lock()
        self._queue: collections.deque[QueuedWrite] = collections.deque()
        self._queued_bytes = 0
        self._next_seq = 0
        self._completed = 0  # items accepted, spilled or dropped
        self._in_flight: set[Chunk] = set()
        self._sender_waiting = False
        self._sender_lingering = False  # waiting for a batch's worth of writes (``LINGER_SECONDS``)
        self._takes = 0  # chunks taken from the queue (progress, for back-pressure)
        self._stalled_at: int | None = None  # ``_takes`` when a producer last waited in vain
        self._unsent = 0  # items taken by the sender but not yet handed to the backend
        self._handovers = 0  # batches handed to the backend (progress, for pacing)
        self._pacing = 0  # producers waiting for the sender to catch up
        self._paced_in_vain: tuple[int, int] | None = None  # (``_handovers``, ``_next_seq``) then
        self._sender_sleeping = False  # in a backoff before a retry
        self._stop = False
        self._thread: threading.Thread | None = None
        self._sender_running = False  # cleared by the sender as it exits (cheaper than is_alive())
        #: Set once the exit-time flush has run: a write after it (an ``atexit`` handler that runs
        #: after ours) is flushed at once, since no later flush would send it.
        self.flush_each_write = False
        self._finalizing_noted = False  # (the one line about writes dropped while Python shut down)
        self._flush_ends: list[float] = []
        self._interruptions = 0  # ``interrupt()`` calls: a flush waiting when it grows stops waiting
        self._backend: Backend | None = None
        self._accounts = Accounts(self._spill_factory)
        self._attachments = AttachmentStorage(self._backend_instance, self._accounts, self._cond)
        self._pending_keys: dict[tuple[str, Any], int] = {}  # (ref key, row id) -> queued/in-flight writes
        self._losses_at_last_flush = 0

    def _after_fork_in_child(self) -> None:
        """A forked child starts with an empty queue and its own lock, thread and backend."""
        self._init_runtime_state()

    # -- producer side ---------------------------------------------------------------------------

    def enqueue(self, ref: ObjectRef, row: dict[str, Any], approx_bytes: int) -> None:
        """Queue one row write. The processor owns ``row`` from now on (callers pass a private
        snapshot and do not touch it again)."""
        if ref.ids and masking.get_masking_function() is None:
            row.update(ref.ids)
            self._enqueue_item(ref, row_header(row), approx_bytes, jsonsafe.dumps_row(row), row)
        else:
            self._enqueue_item(ref, row, approx_bytes, None, row)

    def enqueue_encoded(self, ref: ObjectRef, row: dict[str, Any], encoded: bytes, approx_bytes: int | None = None) -> None:
        """Queue a row already encoded (with its object ids, no masking function set): only
        the row's header is kept, so ``row`` may still hold the caller's objects."""
        header = row_header(row)
        size = len(encoded) if approx_bytes is None else approx_bytes
        self._enqueue_item(ref, header, size, encoded, None)

    def _enqueue_item(self, ref: ObjectRef, row: dict[str, Any], approx_bytes: int, encoded: bytes | None,
                      whole: dict[str, Any] | None) -> None:
        """``row``: the whole row, or its header when ``encoded``; ``whole``: the whole row as a
        dict if the caller has one (what a full queue spills; else ``encoded`` is decoded)."""
        if self.flush_each_write and sys.is_finalizing():
            self._drop_while_finalizing()
            return
        key = (ref.key, row.get("id"))
        waited_since = None  # (when this call started waiting: pacing and back-pressure share one bound)
        with self._lock:  # (the condition's lock; taken directly, it is a little cheaper)
            if self._ahead_locked():
                # Before the row counts as produced: a log() interrupted here leaves no trace.
                waited_since = time.monotonic()
                self._pace_locked(waited_since)
                if encoded is not None and not self._resumable_locked():
                    # The queue grows (a slow or stuck sender): keep an exact copy. orjson's
                    # bytes keep their whole first buffer (4-8 KB for a row of 300 B), so the
                    # queue's memory was many times its byte bound.
                    encoded = bytes(memoryview(encoded))
            item = QueuedWrite(self._next_seq, ref, row, approx_bytes, encoded, key)
            self._next_seq += 1
            stats = self._accounts.stats
            produced_before, spilling = stats.produced, False
            try:
                stats.produced += 1
                self._stop = False
                if (
                    self._full_locked(approx_bytes)
                    and not self._follows_pending_write_locked(key, approx_bytes)
                    and not self._wait_for_room(approx_bytes, waited_since)
                ):
                    spilled = whole if whole is not None else (row if encoded is None else jsonsafe.loads_row(encoded))
                    spilling = True
                    self._completed += 1
                    self._accounts.spill([(ref, spilled, 1)], "queue_full", masked=False)
                else:
                    self._queue.append(item)
                    self._queued_bytes += approx_bytes
                    self._pending_keys[key] = self._pending_keys.get(key, 0) + 1
                    if self._sender_waiting and (
                        not self._sender_lingering or len(self._queue) >= LINGER_BATCHES * self.settings.batch_max_rows
                    ):
                        self._cond.notify_all()
            except BaseException:
                # A signal's exception (SIGTERM's SystemExit, Ctrl-C) landed in between: a row
                # that counts as produced is queued, for the exit-time flush to send or spill.
                if stats.produced > produced_before and not spilling and item not in self._queue:
                    self._queue.append(item)
                    self._queued_bytes += approx_bytes
                raise
            needs_sender = not self.settings.sync_flush and not self._sender_running
        if needs_sender:
            self._start_sender()
        if self.flush_each_write:
            self.flush()

    def _drop_while_finalizing(self) -> None:
        """A write after the exit-time flush while the interpreter finalizes (a generator or an
        object its last collection closes): nothing can be sent or spilled any more (imports
        fail), so it is counted dropped (``interpreter_exit``) and said in one line, not a traceback."""
        with self._lock:
            self._accounts.stats.produced += 1
            self._accounts.count_dropped("interpreter_exit", 1)
            first, self._finalizing_noted = not self._finalizing_noted, True
        if first:
            try:
                sys.stderr.write("braintrust: a row written while Python was shutting down (after the exit-time flush; a "
                                 "generator or object closed at exit) was dropped; end spans before the program exits\n")
            except Exception:  # (stderr may be gone too)
                pass

    def _ahead_locked(self) -> bool:
        """Far enough ahead of what the backend has been handed to pace (``PACE_BATCHES``)."""
        return (
            len(self._queue) + self._unsent >= PACE_BATCHES * self.settings.batch_max_rows
            or self._queued_bytes >= PACE_BYTES
        )

    def _resumable_locked(self) -> bool:
        """Close enough for a pacing producer to go on: one batch less (and half the bytes)."""
        return (
            len(self._queue) + self._unsent <= (PACE_BATCHES - 1) * self.settings.batch_max_rows
            and self._queued_bytes < PACE_BYTES // 2
        )

    def _pace_locked(self, since: float) -> None:
        """Let a sender that is making progress catch up (see the module docstring); under
        pytest, for no longer than a full queue's wait (``policy.queue_full_wait_seconds``)
        counted from ``since``."""
        thread = self._thread
        if thread is None or thread is threading.current_thread() or self.settings.sync_flush:
            return
        if self._paced_in_vain is not None:
            handovers, seq = self._paced_in_vain
            retry_rows = PACE_RETRY_BATCHES * self.settings.batch_max_rows
            if handovers == self._handovers and self._next_seq < seq + retry_rows:
                return
        seen = self._handovers
        end = time.monotonic() + PACE_WAIT_SECONDS
        bound = since + policy.queue_full_wait_seconds if policy.queue_full_wait_seconds > 0 else None
        self._pacing += 1
        try:
            while not self._resumable_locked() and not self._sender_sleeping:
                if self._handovers != seen:  # the sender makes progress: keep waiting for it
                    seen = self._handovers
                    end = time.monotonic() + PACE_WAIT_SECONDS
                if bound is not None:
                    end = min(end, bound)
                remaining = end - time.monotonic()
                if remaining <= 0 or not thread.is_alive():
                    self._paced_in_vain = (self._handovers, self._next_seq)
                    return
                self._cond.wait(remaining)
        finally:
            self._pacing -= 1

    def _backoff_sleep(self, seconds: float) -> None:
        """How the sender sleeps before a retry (woken early when a flush tightens its
        deadline); producers do not wait for it meanwhile."""
        with self._cond:
            self._sender_sleeping = True
            if self._pacing:
                self._cond.notify_all()
        try:
            if self._wakeup.wait(seconds):
                self._wakeup.clear()
        finally:
            self._sender_sleeping = False

    def _handed_over(self, chunk: Chunk, items: int) -> None:
        """The sender handed ``items`` items of ``chunk`` to the backend."""
        with self._cond:
            items = min(items, chunk.unsent)
            chunk.unsent -= items
            self._unsent -= items
            self._handovers += 1
            if self._pacing and self._resumable_locked():
                self._cond.notify_all()

    def _full_locked(self, approx_bytes: int) -> bool:
        if len(self._queue) >= self.settings.queue_max_rows:
            return True
        # A row bigger than the byte bound still fits into an empty queue.
        return bool(self._queue) and self._queued_bytes + approx_bytes > self.settings.queue_max_bytes

    def _follows_pending_write_locked(self, key: tuple, approx_bytes: int) -> bool:
        """A full queue still takes a row whose earlier write is queued or being sent (within
        10 % over the bounds): spilling it now would put it on disk before that earlier write,
        and a replay would apply them in the wrong order."""
        if not self._pending_keys.get(key):
            return False
        settings = self.settings
        return (
            len(self._queue) < settings.queue_max_rows * OVER_BOUND_FACTOR
            and self._queued_bytes + approx_bytes <= settings.queue_max_bytes * OVER_BOUND_FACTOR
        )

    def _settle_keys_locked(self, items: list[QueuedWrite]) -> None:
        pending = self._pending_keys
        for item in items:
            left = pending.get(item.key, 0) - 1
            if left > 0:
                pending[item.key] = left
            else:
                pending.pop(item.key, None)

    def _wait_for_room(self, approx_bytes: int, since: float | None = None) -> bool:
        """Back-pressure (pytest): wait briefly for the sender to make room (the call's whole
        wait, pacing included from ``since``, is at most ``policy.queue_full_wait_seconds``).

        If a producer already waited in vain and the sender has taken nothing since (it is
        stuck on a slow backend), later producers spill at once instead of each waiting too.
        """
        wait = policy.queue_full_wait_seconds
        if wait <= 0 or self.settings.sync_flush or threading.current_thread() is self._thread:
            return False
        if self._stalled_at == self._takes:
            return False
        end = (since if since is not None else time.monotonic()) + wait
        while self._full_locked(approx_bytes):
            remaining = end - time.monotonic()
            if remaining <= 0:
                self._stalled_at = self._takes
                return False
            self._cond.notify_all()
            self._cond.wait(remaining)
        return True

    # -- sender ----------------------------------------------------------------------------------

    def _start_sender(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            thread = threading.Thread(target=self._run, name="braintrust-sender", daemon=True)
            try:
                thread.start()
            except RuntimeError:
                # No new thread: the system's limit, or the interpreter is exiting (Python 3.12.0
                # and 3.12.1 refuse them in atexit handlers). Rows wait in the queue, and a flush,
                # the exit-time one included, sends them on its own thread (``_drain_inline``).
                return
            self._thread = thread
            self._sender_running = True

    def _run(self) -> None:
        leave_signals_to_the_main_thread()
        while True:
            with self._cond:
                # Past a flush's deadline, queued items are the flush's to spill (at once, in one
                # file): sending them now could only fail.
                while not self._queue or self._flush_expired_locked():
                    if self._stop and not self._queue:
                        self._sender_running = False
                        return
                    self._sender_waiting = True
                    self._cond.wait(0.05 if self._queue else None)
                    self._sender_waiting = False
                self._linger_locked()
                chunk = self._take_locked(CHUNK_ITEMS)
            try:
                self._process(chunk)
                if pending_attachments.count():  # (stored after the rows that hold them)
                    self._attachments.store_pending(self._batch_deadline())
            except BaseException:  # _process accounts for the chunk first; the sender lives on
                log.exception("braintrust: the sender was interrupted; it keeps running")

    def _linger_locked(self) -> None:
        """Wait (up to ``LINGER_SECONDS``) for a batch's worth of writes, unless a flush, a
        close or a producer waiting for room needs the queue taken now."""
        end = time.monotonic() + LINGER_SECONDS
        self._sender_waiting = self._sender_lingering = True
        try:
            while (
                len(self._queue) < LINGER_BATCHES * self.settings.batch_max_rows
                and not self._flush_ends
                and not self._stop
                and not self._pacing
                and not self._full_locked(0)
            ):
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)
        finally:
            self._sender_waiting = self._sender_lingering = False

    def _take_locked(self, limit: int) -> Chunk:
        items = []
        taken_bytes = 0
        queue = self._queue
        while queue and len(items) < limit and (not items or taken_bytes + queue[0].size <= CHUNK_BYTES):
            item = queue.popleft()
            self._queued_bytes -= item.size
            taken_bytes += item.size
            items.append(item)
        chunk = Chunk(items)
        self._takes += 1
        self._unsent += chunk.unsent
        self._in_flight.add(chunk)
        self._cond.notify_all()  # producers waiting for room
        return chunk

    def _flush_cap(self) -> float | None:
        ends = self._flush_ends
        return min(ends) if ends else None

    def _flush_expired_locked(self) -> bool:
        cap = self._flush_cap()
        return cap is not None and self._clock() >= cap

    def _batch_deadline(self) -> Deadline:
        return Deadline(None, clock=self._clock, cap=self._flush_cap, sleeper=self._backoff_sleep)

    def _process(self, chunk: Chunk) -> None:
        """Deliver one chunk; afterwards every item in it is accepted, spilled or dropped.

        An exception that escapes delivery (a bug, or ``SystemExit`` from a masking function)
        spills the whole chunk as ``internal_error``; it is re-raised only if it is not an
        ``Exception`` and we are not on the sender thread (Ctrl-C in a synchronous flush).
        """
        progress = Progress(on_handed_over=lambda count: self._handed_over(chunk, count))
        failure: BaseException | None = None
        try:
            deliver(
                self._backend_instance(), chunk.items, self._batch_deadline(), progress, self.settings.batch_max_rows,
                self._accounts.spilled_keys, self._accounts.note_error,
            )
        except BaseException as exc:
            failure = exc
            # (in the flush result and the run's summary, not only in logging: a spill says why)
            self._accounts.note_error(f"delivering a batch failed unexpectedly ({type(exc).__name__}: {exc}); its rows were spilled")
            log.debug("braintrust: the unexpected delivery failure", exc_info=isinstance(exc, Exception))
            progress = Progress()
            progress.fail([(item.ref, item.row, 1) for item in chunk.items], "internal_error", False)
        with self._cond:
            self._in_flight.discard(chunk)
            self._unsent -= chunk.unsent
            chunk.unsent = 0
            if not chunk.claimed:
                self._accounts.stats.accepted += progress.accepted
                cap = self._flush_cap()
                mask_deadline = None if cap is None else self._mask_deadline(cap - self._clock())
                for entries, reason, masked in progress.outcomes:
                    self._accounts.spill(entries, reason, masked=masked, mask_deadline=mask_deadline)
                self._completed += len(chunk.items)
                self._settle_keys_locked(chunk.items)
            self._cond.notify_all()
        if failure is not None and not isinstance(failure, Exception) and threading.current_thread() is not self._thread:
            raise failure

    def _mask_deadline(self, seconds_to_flush_end: float) -> Deadline:
        """Until when a masking function may mask rows spilled by a flush ending in that many seconds."""
        return Deadline(max(0.0, seconds_to_flush_end) + MASK_GRACE_SECONDS, clock=self._clock)

    def _backend_instance(self) -> Backend:
        with self._backend_lock:
            if self._backend is None:
                self._backend = self._backend_factory()
            return self._backend

    # -- flushing --------------------------------------------------------------------------------

    def stats(self) -> FlushResult:
        with self._lock:
            return self._accounts.snapshot(self._completed)

    def mark(self) -> FlushResult:
        """The counts so far, for ``FlushResult.since``; errors seen before are recorded again
        from now on when they recur."""
        with self._lock:
            result = self._accounts.snapshot(self._completed)
            self._accounts.forget_logged_errors()
        return result

    def flush(self, timeout: float | None = None) -> FlushResult:
        """Deliver everything produced so far, within ``timeout`` seconds (default: the flush
        deadline). What cannot be delivered in time is spilled, never waited on. A
        ``KeyboardInterrupt`` meanwhile spills what is left at once (reason ``interrupted``),
        then propagates.

        Under ``BRAINTRUST_SYNC_FLUSH`` this sends on the caller's thread and raises
        ``FlushError`` when rows were spilled or dropped since the previous flush."""
        timeout = self.settings.flush_timeout_seconds if timeout is None else timeout
        end = self._clock() + max(0.0, timeout)
        open_rows.release_all()  # rows open spans hold are part of what was logged so far
        with self._cond:
            interruptions = self._interruptions
            target = self._next_seq
            self._flush_ends.append(end)
            thread = self._thread
            self._cond.notify_all()  # a lingering sender takes the queue now
        self._wakeup.set()  # a sleeping sender re-reads its (now capped) deadline
        interrupted: KeyboardInterrupt | None = None
        try:
            on_sender = threading.current_thread() is thread
            if self.settings.sync_flush or thread is None or not thread.is_alive() or on_sender:
                self._drain_inline(target, end, interruptions)
            else:
                self._wait_for(target, end, interruptions)
            self._attachments.store_pending(Deadline(max(0.0, end - self._clock()), clock=self._clock, sleeper=self._backoff_sleep))
            self._attachments.wait_idle(end + IN_FLIGHT_GRACE_SECONDS, self._clock)
        except (KeyboardInterrupt, RuntimeError) as exc:
            # Ctrl-C while waiting (a second one, when the first stopped the run): the user wants
            # out now. What is not delivered yet is spilled at once, not waited on.
            interrupted = _interrupt_of(exc)
            if interrupted is None:
                raise
            with self._cond:
                self._expire_locked(target, grace_seconds=0.0, reason="interrupted")
        finally:
            with self._cond:
                self._flush_ends.remove(end)
                self._accounts.flush_spill_buffer()
                losses = self._accounts.losses()
                new_losses = losses > self._losses_at_last_flush
                self._losses_at_last_flush = losses
        result = self.stats()
        self._accounts.warn_of_losses(result)
        if interrupted is not None:
            raise interrupted
        if self.settings.sync_flush and new_losses:
            raise FlushError(result)
        return result

    @property
    def attachments(self) -> AttachmentStorage:
        """Attachment work: ``spill_excess()`` past the byte bound, ``store_now(a, deadline)``."""
        return self._attachments

    def _done_locked(self, target: int) -> bool:
        """Every item produced before ``target`` is settled."""
        if self._queue and self._queue[0].seq < target:
            return False
        return all(chunk.min_seq >= target for chunk in self._in_flight)

    def interrupt(self) -> None:
        """Ctrl-C on another thread than the one flushing (``Eval`` flushes on a worker thread):
        every flush waiting now stops waiting and spills what it has not delivered (reason
        ``interrupted``). Flushes that start later are not affected."""
        with self._cond:
            self._interruptions += 1
            self._cond.notify_all()

    def _drain_inline(self, target: int, end: float, interruptions: int) -> None:
        """Send on the caller's thread (no sender thread, or ``BRAINTRUST_SYNC_FLUSH``)."""
        while True:
            with self._cond:
                if self._done_locked(target):
                    return
                if self._interruptions != interruptions:
                    self._expire_locked(target, grace_seconds=0.0, reason="interrupted")
                    return
                now = self._clock()
                if now >= end:
                    self._expire_locked(target)
                    return
                if not (self._queue and self._queue[0].seq < target):
                    self._cond.wait(min(0.05, end - now))  # another thread holds the last chunk
                    continue
                chunk = self._take_locked(CHUNK_ITEMS)
            self._process(chunk)

    def _wait_for(self, target: int, end: float, interruptions: int) -> None:
        with self._cond:
            while not self._done_locked(target):
                if self._interruptions != interruptions:
                    self._expire_locked(target, grace_seconds=0.0, reason="interrupted")
                    return
                remaining = end - self._clock()
                if remaining <= 0:
                    self._expire_locked(target)
                    return
                self._cond.wait(min(remaining, 0.1))

    def _expire_locked(self, target: int, grace_seconds: float = IN_FLIGHT_GRACE_SECONDS, reason: str = "deadline") -> None:
        """The flush deadline passed (or the wait was interrupted: ``reason``): in-flight chunks
        get a short grace, then their items spill; then the queued items spill (in that order:
        older writes of a row go to disk first). The sender takes no new chunk meanwhile, and
        its late result for a claimed chunk is ignored."""
        grace_end = self._clock() + grace_seconds
        mask_deadline = self._mask_deadline(grace_seconds)
        while any(chunk.min_seq < target for chunk in self._in_flight):
            remaining = grace_end - self._clock()
            if remaining > 0:
                self._cond.wait(min(remaining, 0.05))
                continue
            for chunk in sorted((c for c in self._in_flight if c.min_seq < target), key=lambda c: c.min_seq):
                chunk.claimed = True
                self._in_flight.discard(chunk)
                self._unsent -= chunk.unsent
                chunk.unsent = 0
                self._completed += len(chunk.items)
                self._settle_keys_locked(chunk.items)
                self._accounts.spill([(item.ref, item.row, 1) for item in chunk.items], reason, masked=False,
                                     mask_deadline=mask_deadline)
            break
        expired: list[QueuedWrite] = []
        while self._queue and self._queue[0].seq < target:
            item = self._queue.popleft()
            self._queued_bytes -= item.size
            expired.append(item)
        if expired:
            self._completed += len(expired)
            self._settle_keys_locked(expired)
            self._accounts.spill([(item.ref, item.row, 1) for item in expired], reason, masked=False, mask_deadline=mask_deadline)
        self._cond.notify_all()

    def close(self, timeout: float | None = None) -> FlushResult:
        """Flush, then stop the sender thread (a later ``enqueue`` starts a new one)."""
        try:
            return self.flush(timeout)
        finally:
            with self._cond:
                self._stop = True
                self._cond.notify_all()
                thread = self._thread
            if thread is not None and thread is not threading.current_thread():
                thread.join(0.5)
            if thread is None or not thread.is_alive():
                with self._backend_lock:
                    backend, self._backend = self._backend, None
                if backend is not None:
                    try:
                        backend.close()
                    except Exception as exc:
                        log.warning("braintrust: closing %s failed: %s", getattr(backend, "label", "the backend"), exc)
