"""Rows of objects: appending batches to the row log, reading current or past state.

Writes: every ``write_rows`` call is one ``BEGIN IMMEDIATE`` transaction with one new
transaction id, and only appends to ``row_log`` (one ``executemany``, no reads), so it is as
fast as SQLite appends. Merge semantics are applied when reading (``fold``).

Reads: the current state comes from ``object_rows``, brought up to date first by folding the
log entries written since the last read (``materialize``). A read as of a version folds the
log up to that transaction directly. Rows come back in first-write order.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from typing import Any, Sequence

from braintrust.store.connection import write_transaction
from braintrust.store.fold import DELETE, MERGE, REPLACE, RowState, fold
from braintrust.store.merge import object_of, read_form

_IN_CHUNK = 500

_APPEND = (
    "INSERT INTO row_log (object_type, object_id, id, xact_id, created, op, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_LOG_AFTER = (
    "SELECT seq, id, xact_id, created, op, data FROM row_log "
    "WHERE object_type = ? AND object_id = ? AND seq > ? ORDER BY seq"
)
_LOG_UNTIL = (
    "SELECT seq, id, xact_id, created, op, data FROM row_log "
    "WHERE object_type = ? AND object_id = ? AND xact_id <= ? ORDER BY seq"
)
_LAST_LOG = "SELECT seq, xact_id FROM row_log WHERE object_type = ? AND object_id = ? ORDER BY seq DESC LIMIT 1"
_UPSERT = """
INSERT INTO object_rows (seq, object_type, object_id, id, xact_id, created, is_deleted, data)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (object_type, object_id, id) DO UPDATE SET
    xact_id = excluded.xact_id, created = excluded.created,
    is_deleted = excluded.is_deleted, data = excluded.data
"""
_CURRENT = """
SELECT seq, xact_id, created, data FROM object_rows
WHERE object_type = ? AND object_id = ? AND is_deleted = 0 AND seq > ?
ORDER BY seq LIMIT ?
"""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat()


def next_xact_id(conn: sqlite3.Connection) -> int:
    """Allocate a transaction id; call inside a write transaction."""
    conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'last_xact_id'")
    return last_xact_id(conn)


def last_xact_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT value FROM meta WHERE key = 'last_xact_id'").fetchone()[0])


def _entry_params(rows: Sequence[dict[str, Any]], encoded: Sequence[bytes | str] | None) -> list[tuple]:
    """Log parameters without the xact id: (type, object id, row id, created, op, data)."""
    now = utc_now()
    params = []
    for index, row in enumerate(rows):
        object_type, object_id, row_id = object_of(row)
        if encoded is None:
            data = json.dumps(row, separators=(",", ":"))
        else:
            data = encoded[index]
            if not isinstance(data, str):
                data = data.decode("utf-8")
        op = DELETE if row.get("_object_delete") else MERGE if row.get("_is_merge") else REPLACE
        params.append((object_type, object_id, row_id, row.get("created") or now, op, data))
    return params


def write_rows(conn: sqlite3.Connection, rows: Sequence[dict[str, Any]], encoded: Sequence[bytes | str] | None = None) -> int:
    """Append one batch in one transaction; returns its transaction id.

    ``encoded[i]``, when given, is ``rows[i]`` as JSON and is stored instead of re-encoding.
    Raises ``ValueError`` (before writing anything) for a row without an id or object.
    """
    if encoded is not None and len(encoded) != len(rows):
        raise ValueError(f"{len(rows)} rows but {len(encoded)} encodings were given.")
    params = _entry_params(rows, encoded)
    with write_transaction(conn):
        xact_id = next_xact_id(conn)
        if params:
            conn.executemany(_APPEND, [(t, o, i, xact_id, c, op, d) for t, o, i, c, op, d in params])
    return xact_id


def _load_states(conn: sqlite3.Connection, object_type: str, object_id: str, ids: list[str]) -> dict[str, RowState]:
    states: dict[str, RowState] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        marks = ",".join("?" * len(chunk))
        cursor = conn.execute(
            "SELECT id, seq, xact_id, created, is_deleted, data FROM object_rows "
            f"WHERE object_type = ? AND object_id = ? AND id IN ({marks})",
            (object_type, object_id, *chunk),
        )
        for row_id, seq, xact_id, created, is_deleted, data in cursor:
            states[row_id] = RowState(seq, xact_id, created, bool(is_deleted), data)
    return states


def _folded_seq(conn: sqlite3.Connection, object_type: str, object_id: str) -> int:
    found = conn.execute(
        "SELECT folded_seq FROM objects WHERE object_type = ? AND object_id = ?", (object_type, object_id)
    ).fetchone()
    return int(found[0]) if found else 0


def materialize(conn: sqlite3.Connection, object_type: str, object_id: str) -> None:
    """Fold log entries newer than ``objects.folded_seq`` into ``object_rows`` (one transaction)."""
    last = conn.execute(_LAST_LOG, (object_type, object_id)).fetchone()
    if last is None or last[0] <= _folded_seq(conn, object_type, object_id):
        return
    with write_transaction(conn):
        folded = _folded_seq(conn, object_type, object_id)
        entries = conn.execute(_LOG_AFTER, (object_type, object_id, folded)).fetchall()
        if not entries:
            return
        ids = list(dict.fromkeys(entry[1] for entry in entries))
        states = _load_states(conn, object_type, object_id, ids)
        touched = fold(entries, states)
        conn.executemany(
            _UPSERT,
            [
                (s.seq, object_type, object_id, row_id, s.xact_id, s.created, 1 if s.deleted else 0, s.json())
                for row_id, s in states.items()
                if row_id in touched
            ],
        )
        conn.execute(
            "INSERT INTO objects (object_type, object_id, folded_seq) VALUES (?, ?, ?) "
            "ON CONFLICT (object_type, object_id) DO UPDATE SET folded_seq = excluded.folded_seq",
            (object_type, object_id, entries[-1][0]),
        )


def _fold_log(conn: sqlite3.Connection, object_type: str, object_id: str, version: int) -> list[RowState]:
    states: dict[str, RowState] = {}
    fold(conn.execute(_LOG_UNTIL, (object_type, object_id, version)), states)
    return sorted((s for s in states.values() if not s.deleted), key=lambda s: s.seq)


def _parse_version(version: str | int) -> int:
    text = str(version).strip()
    if not text.isdigit():
        raise ValueError(f"version {version!r} must be a non-negative integer string (a _xact_id).")
    return int(text)


def fetch_rows(
    conn: sqlite3.Connection,
    object_type: str,
    object_id: str,
    version: str | int | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Rows of an object in first-write order: now, or as of transaction ``version``.

    ``cursor`` is the opaque string a previous call returned; the returned cursor is None when
    there is nothing more.
    """
    try:
        after = int(cursor) if cursor else 0
    except ValueError:
        raise ValueError(f"cursor {cursor!r} was not returned by fetch_rows; pass None to start.") from None
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be a positive number of rows or None, not {limit!r}.")
    wanted = -1 if limit is None else limit + 1
    if version is None:
        try:
            materialize(conn, object_type, object_id)
            found = conn.execute(_CURRENT, (object_type, object_id, after, wanted)).fetchall()
        except sqlite3.OperationalError as exc:
            if "readonly" not in str(exc):
                raise
            found = None  # a read-only store: fold the log instead
        if found is None:
            states = _fold_log(conn, object_type, object_id, last_xact_id(conn))
            found = [(s.seq, s.xact_id, s.created, s.json()) for s in states if s.seq > after]
    else:
        states = _fold_log(conn, object_type, object_id, _parse_version(version))
        found = [(s.seq, s.xact_id, s.created, s.json()) for s in states if s.seq > after]
    more = limit is not None and len(found) > limit
    if limit is not None:
        found = found[:limit]
    rows = [read_form(json.loads(data), xact_id, created) for _seq, xact_id, created, data in found]
    return rows, (str(found[-1][0]) if more else None)


def count_rows(conn: sqlite3.Connection, object_type: str, object_id: str) -> int:
    """Rows currently present (deleted rows excluded)."""
    try:
        materialize(conn, object_type, object_id)
    except sqlite3.OperationalError as exc:
        if "readonly" not in str(exc):
            raise
        return len(_fold_log(conn, object_type, object_id, last_xact_id(conn)))
    query = "SELECT count(*) FROM object_rows WHERE object_type = ? AND object_id = ? AND is_deleted = 0"
    return int(conn.execute(query, (object_type, object_id)).fetchone()[0])


def max_xact_id(conn: sqlite3.Connection, object_type: str, object_id: str) -> str | None:
    """The object's latest transaction id (deletes included), or None if nothing was written."""
    last = conn.execute(_LAST_LOG, (object_type, object_id)).fetchone()
    return None if last is None else str(last[1])
