"""The contract between the processor and the places rows go.

A backend resolves the objects rows belong to and accepts batches of finished rows. The
processor owns queueing, merging, batching, counting and spilling; a backend owns one
destination (the Braintrust API, the embedded local store, memory in tests).
"""

from __future__ import annotations

import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any, Protocol

# Object types, as the API and the export slugs name them.
EXPERIMENT = "experiment"
PROJECT_LOGS = "project_logs"
PLAYGROUND_LOGS = "playground_logs"
DATASET = "dataset"


@dataclass(eq=False)
class ObjectRef:
    """The Braintrust object that rows are written to, resolved lazily by a backend.

    ``create_args`` holds, as JSON-safe values, everything needed to find or create the object
    (so a spilled row can be replayed even if the object never existed). ``ids`` caches the
    resolved object-id fields that go on every row, e.g. ``{"project_id": ..., "log_id": "g"}``
    or ``{"experiment_id": ...}``. ``key`` is a stable identity for spill files and replay.
    """

    object_type: str
    create_args: dict[str, Any]
    ids: dict[str, str] | None = None
    info: dict[str, Any] = field(default_factory=dict)  # resolved names/urls (project id, experiment name)
    key: str = field(default_factory=lambda: uuid.uuid4().hex)

    def __post_init__(self) -> None:
        self.ids_given = self.ids is not None  # (named by the caller: an exported slug, a spill file)
        _live_refs.add(self)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "object_type": self.object_type,
            "create_args": self.create_args,
            "ids": self.ids,
            "info": self.info,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ObjectRef":
        return cls(
            object_type=data["object_type"],
            create_args=dict(data.get("create_args") or {}),
            ids=data.get("ids"),
            info=dict(data.get("info") or {}),
            key=data["key"],
        )


#: Every ObjectRef still referenced, for ``forget_resolved_ids``.
_live_refs: "weakref.WeakSet[ObjectRef]" = weakref.WeakSet()


def forget_resolved_ids() -> None:
    """Rows now go to another destination (a login after local rows, another store): the ids a
    backend found for an object are not that destination's, so each is resolved there anew, by
    its ``create_args``. Ids the caller named stay."""
    for ref in list(_live_refs):
        if not ref.ids_given:
            ref.ids = None


@dataclass
class ExportResult:
    """What happened to one batch handed to ``Backend.export``.

    ``failed`` lists the rows (same objects as given) that were not accepted, each with the
    reason to count them under (``http_5xx``, ``http_4xx``, ``auth``, ``deadline``,
    ``connection``, ``local_store``...). Everything else given was accepted.
    """

    accepted: int = 0
    failed: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    error: str | None = None  # one human-readable line about the failure, if any


class BackendError(Exception):
    """A backend cannot resolve an object or send at all; ``reason`` is the drop/spill reason."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


class KeyRefused(BackendError, ValueError):
    """Braintrust refused the API key: also a ``ValueError``, as 0.48.1's login raises it."""

    def __init__(self, message: str):
        super().__init__(message, "auth")


def backend_error(message: str, reason: str) -> BackendError:
    """The error for ``reason``: ``KeyRefused`` for a refused key, else a ``BackendError``."""
    return KeyRefused(message) if reason == "auth" else BackendError(message, reason)


class ObjectNotFound(BackendError, ValueError):
    """An object asked for by name (``init(..., open=True)``) does not exist: also a ``ValueError``,
    as 0.48.1 raises."""

    def __init__(self, message: str):
        super().__init__(message, "not_found")


class Deadline(Protocol):
    def remaining(self) -> float: ...

    def expired(self) -> bool: ...

    def sleep(self, seconds: float) -> bool:
        """Sleep at most ``seconds`` (capped by what remains); False if interrupted or expired."""


class Backend(Protocol):
    """One destination for rows."""

    #: Short description for messages: "https://api.braintrust.dev" or "/repo/.braintrust".
    label: str

    def describe(self) -> dict[str, Any]:
        """JSON-safe description stored in spill files so ``braintrust replay`` finds the target."""

    def resolve(self, ref: ObjectRef, deadline: Deadline) -> dict[str, str]:
        """Find or create the object; set and return ``ref.ids``. Raises ``BackendError``."""

    def max_batch_bytes(self, deadline: Deadline) -> int:
        """Largest payload (bytes) one ``export`` call should be given."""

    def max_batch_rows(self, configured: int) -> int:
        """Most rows one ``export`` call should be given; ``configured`` is the setting
        (``BRAINTRUST_DEFAULT_BATCH_SIZE``, the public SDK's request size in rows)."""

    def export(self, rows: list[dict[str, Any]], encoded: list[bytes], deadline: Deadline) -> ExportResult:
        """Deliver rows (object ids already set, merged, masked). ``encoded[i]`` is the whole
        row as sorted-key compact JSON; ``rows[i]`` may be only its header (``batching.
        HEADER_FIELDS``: id, object ids, ``_is_merge``, ``_object_delete``, ``created``, and
        ``comment`` when the row has one), and is what ``ExportResult.failed`` names. Retries,
        splitting and overflow happen inside, under the deadline."""

    def store_attachment(self, reference: dict[str, Any], data: bytes, deadline: Deadline) -> None:
        """Store an attachment's bytes under its reference's key (again: the same bytes, no
        harm). Raises ``BackendError``."""

    def close(self) -> None: ...
