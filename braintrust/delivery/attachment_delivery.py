"""Storing the bytes of logged attachments, after their rows (braintrust-api.md §14).

The processor takes what ``attachments.pending`` registered and stores each attachment once,
through its backend, under the deadline it is given. Bytes that cannot be stored are spilled
with a spill file of their own for ``braintrust replay``; a file that cannot be read leaves
nothing to keep and is counted as dropped (``unreadable``). Nothing here raises.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from braintrust.attachments.kinds import Attachment
from braintrust.delivery.backend import Backend, BackendError, Deadline

log = logging.getLogger("braintrust")

#: (reference, bytes, reason, error message) of an attachment to spill
Unstored = tuple[dict[str, Any], bytes, str, str]


@dataclass
class AttachmentOutcome:  # (counted by ``Accounts.attachments``)
    stored: int = 0
    unstored: list[Unstored] = field(default_factory=list)
    #: error messages of attachments whose bytes could not be read
    unreadable: list[str] = field(default_factory=list)
    #: error messages of attachments of the caller's own kind whose ``upload()`` failed
    upload_failed: list[str] = field(default_factory=list)


def store_attachments(backend: Backend, attachments: list[Any], deadline: Deadline) -> AttachmentOutcome:
    """Store each attachment that ``upload()`` has not stored already."""
    outcome = AttachmentOutcome()
    for attachment in attachments:
        if not isinstance(attachment, Attachment):
            _upload_own_kind(attachment, outcome)
            continue
        if attachment.status is not None and attachment.status.get("upload_status") == "done":
            continue
        reference = dict(attachment.reference)
        try:
            data = attachment.data
        except OSError as exc:
            # (its status is the one Braintrust is told, as 0.48.1's upload() answers it)
            attachment._stored({"upload_status": "error", "error_message": f"Failed to read file: {exc}"})
            outcome.unreadable.append(f"attachment {reference['filename']!r} could not be stored: Failed to read file: {exc}")
            _report_unreadable(backend, reference, exc, deadline)
            continue
        try:
            backend.store_attachment(reference, data, deadline)
        except BackendError as exc:
            outcome.unstored.append((reference, data, exc.reason, str(exc)))
            continue
        except Exception as exc:  # a bug: the bytes are kept all the same
            log.exception("braintrust: storing attachment %r failed unexpectedly", reference.get("filename"))
            outcome.unstored.append((reference, data, "internal_error", f"{type(exc).__name__}: {exc}"))
            continue
        attachment._stored({"upload_status": "done"})
        outcome.stored += 1
    return outcome


class _Batch:
    """Attachments one thread is storing; ``claimed`` once a flush past its deadline accounted
    for them instead (the thread's own outcome is then not counted again)."""

    def __init__(self, attachments: list[Any]):
        self.attachments = attachments
        self.claimed = False


class AttachmentStorage:
    """The processor's share of attachment work: store what is pending, let a flush wait for
    work in progress (and, past its deadline, spill what is still being stored), and store one
    attachment now for ``Attachment.upload()``.

    ``accounts`` is the processor's book, used only while holding ``cond`` (its lock).
    """

    def __init__(self, backend: Callable[[], Backend], accounts: Any, cond: threading.Condition):
        self._backend = backend
        self._accounts = accounts
        self._cond = cond
        self._batches: set[_Batch] = set()

    def store_pending(self, deadline: Deadline) -> None:
        from braintrust.attachments import pending

        with self._cond:
            attachments = pending.take()
            if not attachments:
                return
            batch = _Batch(attachments)
            self._batches.add(batch)
        outcome = AttachmentOutcome()
        try:
            outcome = store_attachments(self._backend(), attachments, deadline)
        finally:
            with self._cond:
                self._batches.discard(batch)
                counted = not batch.claimed
                if counted:
                    self._accounts.attachments(outcome)
                self._cond.notify_all()
        if counted:  # (not under ``cond``: ``upload()`` holds an attachment's lock, then takes it)
            _keep_failures(attachments, outcome)

    def spill_excess(self) -> None:
        """Pending attachments hold more bytes than the queue's bound: spill the oldest (the
        server is slow or gone; memory must not grow with it)."""
        from braintrust.attachments import pending

        outcome = AttachmentOutcome()
        for attachment in pending.take_over_limit():
            reference = dict(attachment.reference)
            try:
                data = attachment.data
            except OSError as exc:  # (this runs inside the caller's log(): it must not raise)
                outcome.unreadable.append(f"attachment {reference['filename']!r} could not be stored: Failed to read file: {exc}")
                continue
            outcome.unstored.append((reference, data, "queue_full", "attachments waiting to be stored passed the "
                                     "queue's byte bound; the oldest are spilled for `braintrust replay`"))
        if outcome.unstored or outcome.unreadable:
            with self._cond:
                self._accounts.attachments(outcome)

    def wait_idle(self, until: float, clock: Callable[[], float]) -> None:
        """Wait (until ``until`` on ``clock``) for work another thread is doing; what is still
        being stored then is accounted for now: stored if it was, else spilled (``deadline``)."""
        with self._cond:
            while self._batches and clock() < until:
                self._cond.wait(min(0.05, max(0.0, until - clock())))
            for batch in list(self._batches):
                batch.claimed = True
                self._batches.discard(batch)
                self._accounts.attachments(_outcome_at_deadline(batch.attachments))

    def store_now(self, attachment: Any, deadline: Deadline) -> dict[str, Any]:
        """Store ``attachment`` on this thread: ``{"upload_status": "done"}``, or an error status
        (then it stays pending, so the processor tries again and spills it if it must)."""
        from braintrust.attachments import pending

        reference = dict(attachment.reference)
        pending.forget(reference["key"])
        backend = self._backend()
        try:
            data = attachment.data
            backend.store_attachment(reference, data, deadline)
        except (OSError, BackendError) as exc:
            pending.retry(attachment)
            if isinstance(exc, OSError):
                _report_unreadable(backend, reference, exc, deadline)
            prefix = "Failed to read file: " if isinstance(exc, OSError) else ""
            return {"upload_status": "error", "error_message": f"{prefix}{exc}"}
        with self._cond:
            self._accounts.stats.attachments_stored += 1
        return {"upload_status": "done"}


def _keep_failures(attachments: list[Any], outcome: AttachmentOutcome) -> None:
    """The attachments whose storing failed (their bytes spilled) keep the error as their status,
    as 0.48.1's keep the outcome of their one upload: ``upload()`` then answers it again rather
    than send the bytes a second time (``braintrust replay`` stores the spilled ones)."""
    failed = {reference["key"]: message for reference, _data, _reason, message in outcome.unstored}
    for attachment in attachments:
        if isinstance(attachment, Attachment) and attachment.reference["key"] in failed:
            attachment._stored({"upload_status": "error", "error_message": failed[attachment.reference["key"]]})


def _upload_own_kind(attachment: Any, outcome: AttachmentOutcome) -> None:
    """An attachment of the caller's own kind stores itself: its ``upload()``, counted as stored
    when it answers ``{"upload_status": "done"}``."""
    try:
        status = attachment.upload()
        error = None if isinstance(status, Mapping) and status.get("upload_status") == "done" else f"upload() answered {status!r:.300}"
    except Exception as exc:
        error = f"upload() raised {type(exc).__name__}: {exc}"
    if error is None:
        outcome.stored += 1
    else:
        outcome.upload_failed.append(f"attachment {type(attachment).__name__} could not be stored: {error}")


def _report_unreadable(backend: Backend, reference: dict[str, Any], exc: OSError, deadline: Deadline) -> None:
    """Tell the backend's server that the file could not be read, with the status message the
    public SDK posts (only a backend with a server to tell has ``attachment_unreadable``)."""
    report = getattr(backend, "attachment_unreadable", None)
    if report is not None:
        try:
            report(reference, f"Failed to read file: {exc}", deadline)
        except Exception:  # (best effort: the file is counted as unreadable either way)
            log.debug("braintrust: reporting unreadable attachment %r failed", reference.get("filename"), exc_info=True)


def _outcome_at_deadline(attachments: list[Any]) -> AttachmentOutcome:
    """What a flush past its deadline records for attachments another thread is still storing."""
    outcome = AttachmentOutcome()
    for attachment in attachments:
        if not isinstance(attachment, Attachment):
            outcome.upload_failed.append(f"attachment {type(attachment).__name__}: its upload() was still running "
                                         "when the flush deadline came")
            continue
        status = attachment.status or {}
        if status.get("upload_status") == "done":
            outcome.stored += 1
        else:  # (an error status may be an earlier upload()'s failed request: the bytes are kept if they can be read)
            reference = dict(attachment.reference)
            try:
                data = attachment.data
            except OSError as exc:
                outcome.unreadable.append(f"attachment {reference['filename']!r} could not be stored: Failed to read file: {exc}")
                continue
            outcome.unstored.append((reference, data, "deadline", f"attachment {reference['filename']!r} was still being "
                                                                    "stored when the flush deadline came; its bytes are spilled"))
    return outcome
