"""Row state of the test server: what ``POST /logs3`` writes and ``/fetch`` reads.

Rows are keyed by ``(object_type, object_id, row id)`` where the object comes from the row's id
fields (braintrust-api.md §5.2):

========================  =====================================
object_type               fields on the row
========================  =====================================
``"experiment"``          ``experiment_id``
``"dataset"``             ``dataset_id``
``"playground_logs"``     ``prompt_session_id`` + ``log_id: "x"``
``"project_logs"``        ``project_id`` + ``log_id: "g"``
========================  =====================================

Write semantics (§5.4): ``_is_merge: true`` deep-merges into the stored row (dicts merge
recursively, anything else is replaced, the top-level ``tags`` lists are unioned; inserted when
absent; ``_merge_paths`` stops merging at the listed key paths; the row keeps its ``created``); any
other row replaces the stored one (``created`` included, kept when the new row has none);
``_object_delete: true`` deletes it. Every request that writes gets one transaction id
(``_xact_id``: a string of 19 digits that only grows). Each row keeps its full history so reads can
be pinned to a past version.

Stored values are never mutated in place (a merge builds new dicts), so history snapshots can share
structure; everything handed out to callers is a deep copy.
"""

from __future__ import annotations

import copy
import json
import threading
from datetime import datetime, timezone
from typing import Iterable

#: Row keys that steer a write and are not stored.
CONTROL_KEYS = ("_is_merge", "_object_delete", "_merge_paths")

#: First transaction id handed out; 19 digits like the real service, so string order == numeric order.
XACT_BASE = 1_000_000_000_000_000_000

OBJECT_TYPES = ("experiment", "dataset", "playground_logs", "project_logs")


class RowError(ValueError):
    """A row that the server rejects (the whole request is answered 400 and nothing is stored)."""


def object_of(row: dict) -> tuple[str, str]:
    """``(object_type, object_id)`` a row belongs to, or raise :class:`RowError`."""
    if row.get("experiment_id"):
        return "experiment", row["experiment_id"]
    if row.get("dataset_id"):
        return "dataset", row["dataset_id"]
    if row.get("prompt_session_id"):
        _require_log_id(row, "x", "prompt_session_id")
        return "playground_logs", row["prompt_session_id"]
    if row.get("project_id"):
        _require_log_id(row, "g", "project_id")
        return "project_logs", row["project_id"]
    raise RowError(
        "row has no object id: expected one of experiment_id, dataset_id, prompt_session_id, "
        f"project_id (+log_id); got keys {sorted(row)}"
    )


def _require_log_id(row: dict, log_id: str, id_field: str) -> None:
    """A logs row names its log beside its object id (§5.2): without it the row is no log's."""
    if row.get("log_id") != log_id:
        raise RowError(f"a row with {id_field} (and no experiment_id or dataset_id) must have \"log_id\": \"{log_id}\", "
                       f"got {row.get('log_id')!r} (row {row.get('id')!r})")


def now_iso() -> str:
    """The current UTC time as the ISO string the SDK writes in ``created``."""
    return datetime.now(timezone.utc).isoformat()


def deep_merge(old: dict, new: dict, stop_paths: frozenset = frozenset(), _path: tuple = ()) -> dict:
    """A new dict: ``new`` merged into ``old`` (neither is modified).

    Dicts merge recursively; at a path in ``stop_paths`` (tuples of keys) the new value replaces the
    old one whole (``tags`` too). At the top level, two ``tags`` lists are unioned in order without
    duplicates. Anything else is replaced.
    """
    out = dict(old)
    for key, value in new.items():
        if not _path and key in CONTROL_KEYS:
            continue
        current = out.get(key)
        path = _path + (key,)
        if path in stop_paths:
            out[key] = value
        elif isinstance(value, dict) and isinstance(current, dict):
            out[key] = deep_merge(current, value, stop_paths, path)
        elif not _path and key == "tags" and isinstance(value, list) and isinstance(current, list):
            out[key] = _tag_union(current, value)
        else:
            out[key] = value
    return out


def _tag_union(old: list, new: list) -> list:
    """``old`` then ``new``, each tag once (the first time it is seen), as the SDK's merge does."""
    seen, out = set(), []
    for tag in old + new:
        key = json.dumps(tag, sort_keys=True) if isinstance(tag, (dict, list)) else str(tag)
        if key not in seen:
            seen.add(key)
            out.append(tag)
    return out


class RowStore:
    """Thread-safe merged rows with per-row version history.

    With ``merge_rows=False`` the store only counts what it receives (for benchmarks): ids and
    transaction ids are still answered, nothing is kept.
    """

    def __init__(self, merge_rows: bool = True) -> None:
        self.merge_rows = merge_rows
        self._lock = threading.Lock()
        self._next_xact = XACT_BASE
        self.clear()

    def clear(self) -> None:
        """Forget every row and counter (transaction ids keep growing)."""
        with self._lock:
            # key -> [(xact int, row dict or None when deleted), ...]; dict order = first write.
            self._history: dict[tuple, list] = {}
            self._by_object: dict[tuple, dict] = {}
            self.rows_received = 0

    # -- writing -----------------------------------------------------------------------------

    def next_xact_id(self) -> str:
        """A new transaction id, for objects other than rows (prompt versions)."""
        with self._lock:
            xact = self._next_xact
            self._next_xact += 1
        return str(xact)

    def apply(self, rows: list) -> tuple[str, list]:
        """Write one request's rows atomically; return ``(xact_id, ids)``.

        Raises :class:`RowError` (and stores nothing) when any row is malformed.
        """
        if not isinstance(rows, list):
            raise RowError(f"'rows' must be a list, got {type(rows).__name__}")
        planned = []
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                raise RowError(f"rows[{index}] must be an object, got {type(row).__name__}")
            if not isinstance(row.get("id"), str) or not row["id"]:
                raise RowError(f"rows[{index}] has no string 'id'")
            if self.merge_rows:
                planned.append((object_of(row), row))
        ids = [row["id"] for row in rows]
        with self._lock:
            xact = self._next_xact
            self._next_xact += 1
            self.rows_received += len(rows)
            if self.merge_rows:
                created = now_iso()
                for (otype, oid), row in planned:
                    self._write(xact, created, otype, oid, row)
        return str(xact), ids

    def _write(self, xact: int, created: str, otype: str, oid: str, row: dict) -> None:
        key = (otype, oid, row["id"])
        history = self._history.get(key)
        if history is None:
            history = self._history[key] = []
            self._by_object.setdefault((otype, oid), {})[row["id"]] = history
        previous = history[-1][1] if history else None
        if row.get("_object_delete"):
            stored = None
        elif row.get("_is_merge") and previous is not None:
            stop = frozenset(tuple(p) for p in row.get("_merge_paths") or () if isinstance(p, list))
            stored = deep_merge(previous, row, stop)
            if "created" in previous:  # a merge keeps the row's created, as the SDK's own merge does (§5.4)
                stored["created"] = previous["created"]
        else:
            stored = dict(row)
            for control in CONTROL_KEYS:
                stored.pop(control, None)
            if "created" not in stored and previous is not None and "created" in previous:
                stored["created"] = previous["created"]
        if stored is not None:
            stored.setdefault("created", created)
            stored["_xact_id"] = str(xact)
        history.append((xact, stored))

    # -- reading -----------------------------------------------------------------------------

    def rows(self, object_type: str | None = None, object_id: str | None = None) -> list[dict]:
        """Deep copies of the current (not deleted) rows, in order of first write."""
        with self._lock:
            if object_type is not None and object_id is not None:
                histories: Iterable = self._by_object.get((object_type, object_id), {}).values()
            else:
                histories = (
                    h
                    for (otype, oid, _), h in self._history.items()
                    if (object_type is None or otype == object_type)
                    and (object_id is None or oid == object_id)
                )
            current = [h[-1][1] for h in histories if h[-1][1] is not None]
        return copy.deepcopy(current)

    def rows_as_of(self, object_type: str, object_id: str, version: str | int | None = None) -> list[dict]:
        """Rows of one object as they were after transaction ``version`` (current rows if None).

        The returned dicts are shared with the store: callers must not modify them.
        """
        limit = None if version is None else int(version)
        out = []
        with self._lock:
            for history in self._by_object.get((object_type, object_id), {}).values():
                state = None
                if limit is None:
                    state = history[-1][1]
                else:
                    for xact, row in history:
                        if xact > limit:
                            break
                        state = row
                if state is not None:
                    out.append(state)
        return out

    def count(self, object_type: str, object_id: str) -> int:
        """Number of current rows of one object."""
        with self._lock:
            return sum(1 for h in self._by_object.get((object_type, object_id), {}).values() if h[-1][1] is not None)
