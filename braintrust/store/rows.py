"""Rows of objects: writing batches with the server's semantics, reading current or past state.

Every ``write_rows`` call is one ``BEGIN IMMEDIATE`` transaction with one new transaction id.
A batch without merge rows is written with a single ``executemany`` upsert and no reads; a
batch with merge rows first loads the stored rows it merges into (one query per object and 500
ids). Within a batch rows apply in order, so a merge may follow the insert it merges into.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from typing import Any, Sequence

from braintrust.store.connection import write_transaction
from braintrust.store.merge import merge_row, object_of, read_form, stored_form

Key = tuple[str, str, str]
_IN_CHUNK = 500

_UPSERT = """
INSERT INTO object_rows (object_type, object_id, id, xact_id, created, is_deleted, data)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (object_type, object_id, id) DO UPDATE SET
    xact_id = excluded.xact_id,
    created = CASE WHEN object_rows.is_deleted THEN excluded.created
                   ELSE coalesce(object_rows.created, excluded.created) END,
    is_deleted = excluded.is_deleted,
    data = excluded.data
"""

_CURRENT = """
SELECT seq, xact_id, created, data FROM object_rows
WHERE object_type = ? AND object_id = ? AND is_deleted = 0 AND seq > ?
ORDER BY seq LIMIT ?
"""

_AS_OF = """
WITH candidates AS (
    SELECT row_seq AS seq, xact_id, created, is_deleted, data FROM row_versions
    WHERE object_type = :type AND object_id = :id AND xact_id <= :version
    UNION ALL
    SELECT seq, xact_id, created, is_deleted, data FROM object_rows
    WHERE object_type = :type AND object_id = :id AND xact_id <= :version
), ranked AS (
    SELECT *, row_number() OVER (PARTITION BY seq ORDER BY xact_id DESC) AS newest
    FROM candidates
)
SELECT seq, xact_id, created, data FROM ranked
WHERE newest = 1 AND is_deleted = 0 AND seq > :after
ORDER BY seq LIMIT :limit
"""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _text(encoded: bytes | str) -> str:
    return encoded.decode("utf-8") if isinstance(encoded, (bytes, bytearray)) else encoded


def next_xact_id(conn: sqlite3.Connection) -> int:
    """Allocate a transaction id; call inside a write transaction."""
    conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'last_xact_id'")
    return int(conn.execute("SELECT value FROM meta WHERE key = 'last_xact_id'").fetchone()[0])


def last_xact_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT value FROM meta WHERE key = 'last_xact_id'").fetchone()[0])


def _load(conn: sqlite3.Connection, keys: set[Key]) -> dict[Key, tuple[dict[str, Any], str | None, bool]]:
    """The stored state of ``keys``: ``{key: (data, created, is_deleted)}`` for those present."""
    by_object: dict[tuple[str, str], list[str]] = {}
    for object_type, object_id, row_id in keys:
        by_object.setdefault((object_type, object_id), []).append(row_id)
    found: dict[Key, tuple[dict[str, Any], str | None, bool]] = {}
    for (object_type, object_id), ids in by_object.items():
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start : start + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            cursor = conn.execute(
                "SELECT id, created, is_deleted, data FROM object_rows "
                f"WHERE object_type = ? AND object_id = ? AND id IN ({marks})",
                (object_type, object_id, *chunk),
            )
            for row_id, created, is_deleted, data in cursor:
                found[(object_type, object_id, row_id)] = (stored_form(json.loads(data)), created, bool(is_deleted))
    return found


def _plain_params(rows: Sequence[dict[str, Any]], keys: list[Key], encoded: Sequence[bytes] | None, now: str) -> list[tuple]:
    """Upsert parameters (without the xact id) for a batch with no merge rows."""
    params = []
    for index, row in enumerate(rows):
        data = _text(encoded[index]) if encoded is not None else _dumps(row)
        deleted = 1 if row.get("_object_delete") else 0
        params.append((*keys[index], row.get("created") or now, deleted, data))
    return params


def _merged_params(conn: sqlite3.Connection, rows: Sequence[dict[str, Any]], keys: list[Key], encoded: Sequence[bytes] | None, now: str) -> list[tuple]:
    """Apply the batch in order over the stored rows; one upsert per distinct row."""
    existing = _load(conn, {key for key, row in zip(keys, rows) if row.get("_is_merge")})
    # key -> (data, created, is_deleted, index of the row whose encoding is the data, or None)
    state: dict[Key, tuple[dict[str, Any], str | None, bool, int | None]] = {}
    for index, (key, row) in enumerate(zip(keys, rows)):
        current = state.get(key)
        if current is None and key in existing:
            current = (*existing[key], None)
        if row.get("_object_delete"):
            created = current[1] if current else row.get("created") or now
            state[key] = (stored_form(row), created, True, index)
        elif row.get("_is_merge") and current is not None and not current[2]:
            state[key] = (merge_row(current[0], row), current[1], False, None)
        else:
            state[key] = (stored_form(row), row.get("created") or now, False, index)
    params = []
    for key, (data, created, deleted, index) in state.items():
        if index is not None and not rows[index].get("_is_merge"):
            text = _text(encoded[index]) if encoded is not None else _dumps(rows[index])
        else:
            text = _dumps(data)
        params.append((*key, created, 1 if deleted else 0, text))
    return params


def write_rows(conn: sqlite3.Connection, rows: Sequence[dict[str, Any]], encoded: Sequence[bytes] | None = None) -> int:
    """Write one batch in one transaction; returns its transaction id.

    ``encoded[i]``, when given, is ``rows[i]`` as JSON and is stored as is for plain rows.
    Raises ``ValueError`` (before writing anything) for a row without an id or object.
    """
    if encoded is not None and len(encoded) != len(rows):
        raise ValueError(f"{len(rows)} rows but {len(encoded)} encodings were given.")
    keys = [object_of(row) for row in rows]
    now = utc_now()
    merging = any(row.get("_is_merge") for row in rows)
    prepared = None if merging else _plain_params(rows, keys, encoded, now)
    with write_transaction(conn):
        xact_id = next_xact_id(conn)
        if prepared is None:
            prepared = _merged_params(conn, rows, keys, encoded, now)
        conn.executemany(_UPSERT, [(a, b, c, xact_id, d, e, f) for a, b, c, d, e, f in prepared])
    return xact_id


def fetch_rows(
    conn: sqlite3.Connection,
    object_type: str,
    object_id: str,
    version: str | int | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Rows of an object in first-write order: now, or as of transaction ``version``.

    ``cursor`` is the opaque string a previous call returned; ``next_cursor`` is None when
    there is nothing more.
    """
    try:
        after = int(cursor) if cursor else 0
    except ValueError:
        raise ValueError(f"cursor {cursor!r} was not returned by fetch_rows; pass None to start.") from None
    sql_limit = -1 if limit is None else int(limit) + 1
    if version is None:
        found = conn.execute(_CURRENT, (object_type, object_id, after, sql_limit)).fetchall()
    else:
        text = str(version).strip()
        if not text.isdigit():
            raise ValueError(f"version {version!r} must be a non-negative integer string (a _xact_id).")
        params = {"type": object_type, "id": object_id, "version": int(text), "after": after, "limit": sql_limit}
        found = conn.execute(_AS_OF, params).fetchall()
    more = limit is not None and len(found) > limit
    if more:
        found = found[:limit]
    rows = [read_form(json.loads(data), xact_id, created) for _seq, xact_id, created, data in found]
    return rows, (str(found[-1][0]) if more else None)


def count_rows(conn: sqlite3.Connection, object_type: str, object_id: str) -> int:
    """Rows currently present (deleted rows excluded)."""
    query = "SELECT count(*) FROM object_rows WHERE object_type = ? AND object_id = ? AND is_deleted = 0"
    return int(conn.execute(query, (object_type, object_id)).fetchone()[0])


def max_xact_id(conn: sqlite3.Connection, object_type: str, object_id: str) -> str | None:
    """The object's latest transaction id (deletes included), or None if it has no rows."""
    query = "SELECT max(xact_id) FROM object_rows WHERE object_type = ? AND object_id = ?"
    value = conn.execute(query, (object_type, object_id)).fetchone()[0]
    return None if value is None else str(value)
