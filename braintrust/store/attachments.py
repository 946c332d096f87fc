"""The bytes of attachments in the local store (table ``attachments``)."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timezone
from typing import Any, Sequence

from braintrust.store.connection import write_transaction


def put_attachment(conn: sqlite3.Connection, key: str, filename: str, content_type: str, data: bytes) -> None:
    """Store (or replace: a replay writes the same bytes again) the attachment ``key``."""
    created = datetime.now(timezone.utc).isoformat()
    with write_transaction(conn):
        conn.execute(
            "INSERT INTO attachments (key, filename, content_type, byte_size, data, created) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET filename = excluded.filename, content_type = excluded.content_type, "
            "byte_size = excluded.byte_size, data = excluded.data",
            (key, filename, content_type, len(data), sqlite3.Binary(data), created),
        )


def get_attachment(conn: sqlite3.Connection, key: str) -> dict[str, Any] | None:
    """``{"key", "filename", "content_type", "byte_size", "data", "created"}``, or None."""
    try:
        row = conn.execute(
            "SELECT key, filename, content_type, byte_size, data, created FROM attachments WHERE key = ?", (key,)
        ).fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        row = None  # a version-1 store read where it cannot be upgraded: it holds no attachments
    if row is None:
        return None
    return {"key": row[0], "filename": row[1], "content_type": row[2], "byte_size": row[3], "data": bytes(row[4]), "created": row[5]}


_MARK = "braintrust_attachment"
_KEY = re.compile(r'"key"\s*:\s*"([^"]+)"')


def keys_in_objects(conn: sqlite3.Connection, object_type: str, object_ids: Sequence[str]) -> set[str]:
    """Attachment keys the rows of these objects refer to (any ``"key"`` of a row that holds an
    attachment reference: a few extra only keep bytes that are not needed)."""
    keys: set[str] = set()
    for object_id in object_ids:
        query = "SELECT data FROM row_log WHERE object_type = ? AND object_id = ? AND instr(data, ?) > 0"
        for (data,) in conn.execute(query, (object_type, object_id, _MARK)):
            keys.update(_KEY.findall(data))
    return keys


def delete_unreferenced(conn: sqlite3.Connection, candidates: set[str]) -> int:
    """Delete the attachments among ``candidates`` that no row refers to any more; returns how many."""
    if not candidates:
        return 0
    referenced: set[str] = set()
    for (data,) in conn.execute("SELECT data FROM row_log WHERE instr(data, ?) > 0", (_MARK,)):
        referenced.update(_KEY.findall(data))
    doomed = sorted(candidates - referenced)
    with write_transaction(conn):
        conn.executemany("DELETE FROM attachments WHERE key = ?", [(key,) for key in doomed])
    return len(doomed)
