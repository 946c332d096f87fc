"""``MemoryBackend``: a backend that keeps rows in memory, for tests of the processor.

It implements the ``Backend`` protocol with the server's merge semantics (via
``braintrust.tracing.record``), records every ``export`` call, and can be told to fail:
``fail_next(reason, times)`` fails whole batches, ``fail_rows(predicate, reason)`` fails
matching rows, ``raise_next(exc)`` raises from ``export``, ``block()`` / ``release()`` holds
``export`` (ignoring the deadline, like a stuck transport), ``resolve_error`` refuses objects.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from braintrust.config import DEFAULT_MAX_REQUEST_BYTES
from braintrust.jsonsafe import loads_row
from braintrust.delivery.backend import DATASET, EXPERIMENT, PLAYGROUND_LOGS, PROJECT_LOGS, BackendError, Deadline, ExportResult, ObjectRef
from braintrust.tracing.record import merge_row_into, row_key


@dataclass
class ExportCall:
    rows: list[dict[str, Any]]
    encoded: list[bytes]
    deadline_remaining: float
    thread: str


@dataclass
class MemoryBackend:
    label: str = "memory"
    max_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    resolve_error: BackendError | None = None
    calls: list[ExportCall] = field(default_factory=list)
    resolved: list[ObjectRef] = field(default_factory=list)
    closed: bool = False
    #: key -> (reference, bytes) of stored attachments
    attachments: dict[str, tuple[dict[str, Any], bytes]] = field(default_factory=dict)
    #: reason every ``store_attachment`` fails with, while set
    attachment_failure: str | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[tuple, dict[str, Any]] = {}
        self._failures: list[tuple[str, Exception | None]] = []
        self._row_failures: list[tuple[Callable[[dict], bool], str]] = []
        self._gate = threading.Event()
        self._gate.set()
        self.export_started = threading.Event()

    # -- scripting ----------------------------------------------------------------------------

    def fail_next(self, reason: str, times: int = 1) -> None:
        """The next ``times`` exports fail every row with ``reason``."""
        self._failures.extend([(reason, None)] * times)

    def raise_next(self, exc: Exception, times: int = 1) -> None:
        """The next ``times`` exports raise ``exc`` (an unexpected backend bug)."""
        self._failures.extend([("", exc)] * times)

    def fail_rows(self, predicate: Callable[[dict], bool], reason: str) -> None:
        """Every export fails the rows matching ``predicate`` with ``reason``."""
        self._row_failures.append((predicate, reason))

    def block(self) -> None:
        """Hold every ``export`` until ``release()`` (the deadline is ignored)."""
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    # -- Backend protocol -----------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        return {"kind": "memory", "label": self.label}

    def resolve(self, ref: ObjectRef, deadline: Deadline) -> dict[str, str]:
        if ref.ids:
            return ref.ids
        if self.resolve_error is not None:
            raise self.resolve_error
        object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"memory:{ref.object_type}:{sorted(ref.create_args.items())!r}"))
        ids = {
            PROJECT_LOGS: {"project_id": object_id, "log_id": "g"},
            EXPERIMENT: {"experiment_id": object_id},
            DATASET: {"dataset_id": object_id},
            PLAYGROUND_LOGS: {"prompt_session_id": object_id, "log_id": "x"},
        }.get(ref.object_type)
        if ids is None:
            raise BackendError(f"cannot resolve objects of type {ref.object_type!r}", "unsupported")
        ref.ids = ids
        self.resolved.append(ref)
        return ids

    def max_batch_bytes(self, deadline: Deadline) -> int:
        return self.max_bytes

    def max_batch_rows(self, configured: int) -> int:
        return configured

    def export(self, rows: list[dict[str, Any]], encoded: list[bytes], deadline: Deadline) -> ExportResult:
        self.export_started.set()
        self._gate.wait()
        # ``rows`` may be only the rows' headers (see ``Backend.export``): record whole rows.
        whole = [loads_row(data) for data in encoded]
        with self._lock:
            self.calls.append(ExportCall(whole, list(encoded), deadline.remaining(), threading.current_thread().name))
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            reason, exc = failure
            if exc is not None:
                raise exc
            return ExportResult(failed=[(row, reason) for row in rows], error=f"scripted failure: {reason}")
        result = ExportResult()
        with self._lock:
            for row, whole_row in zip(rows, whole):
                reason = next((r for predicate, r in self._row_failures if predicate(whole_row)), None)
                if reason is not None:
                    result.failed.append((row, reason))
                    continue
                self._apply(whole_row)
                result.accepted += 1
        return result

    def store_attachment(self, reference: dict[str, Any], data: bytes, deadline: Deadline) -> None:
        if self.attachment_failure is not None:
            raise BackendError(f"scripted failure: {self.attachment_failure}", self.attachment_failure)
        with self._lock:
            self.attachments[reference["key"]] = (dict(reference), bytes(data))

    def close(self) -> None:
        self.closed = True

    # -- inspection -----------------------------------------------------------------------------

    def _apply(self, row: dict[str, Any]) -> None:
        key = row_key(row)
        if row.get("_object_delete"):
            self._rows.pop(key, None)
            return
        earlier = self._rows.get(key)
        self._rows[key] = dict(row) if earlier is None else merge_row_into(earlier, dict(row))

    def rows(self) -> list[dict[str, Any]]:
        """The stored rows (merged as a server would), in order of first write."""
        with self._lock:
            return [dict(row) for row in self._rows.values()]

    @property
    def rows_received(self) -> int:
        with self._lock:
            return sum(len(call.rows) for call in self.calls)
