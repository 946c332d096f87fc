"""Bookkeeping of batches spilled to disk: which files exist, why, and whether they were replayed.

The spill files themselves (format, atomic writes, budget) belong to the delivery layer; this
table only lets ``braintrust`` commands list them and lets a replay record that it happened.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from typing import Any

from braintrust.store.connection import write_transaction


def record_spill(
    conn: sqlite3.Connection,
    path: str,
    reason: str,
    row_count: int,
    byte_count: int,
    ref_key: str | None = None,
    object_type: str | None = None,
) -> None:
    """Remember a spill file (recording the same path again updates it)."""
    with write_transaction(conn):
        conn.execute(
            "INSERT INTO spilled_batches (path, ref_key, object_type, row_count, byte_count, reason, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET "
            "ref_key = excluded.ref_key, object_type = excluded.object_type, row_count = excluded.row_count, "
            "byte_count = excluded.byte_count, reason = excluded.reason",
            (str(path), ref_key, object_type, int(row_count), int(byte_count), reason,
             datetime.now(timezone.utc).isoformat()),
        )


def mark_spill_replayed(conn: sqlite3.Connection, path: str, xact_id: str | int | None = None) -> None:
    with write_transaction(conn):
        conn.execute(
            "UPDATE spilled_batches SET replayed = ?, replay_xact_id = ? WHERE path = ?",
            (datetime.now(timezone.utc).isoformat(), None if xact_id is None else int(xact_id), str(path)),
        )


def list_spills(conn: sqlite3.Connection, replayed: bool | None = None) -> list[dict[str, Any]]:
    """Oldest first; ``replayed`` filters on whether a replay was recorded."""
    where = "" if replayed is None else ("WHERE replayed IS NOT NULL" if replayed else "WHERE replayed IS NULL")
    cursor = conn.execute(f"SELECT * FROM spilled_batches {where} ORDER BY created, path")
    names = [d[0] for d in cursor.description]
    out = []
    for row in cursor.fetchall():
        record = dict(zip(names, row))
        if record["replay_xact_id"] is not None:
            record["replay_xact_id"] = str(record["replay_xact_id"])
        out.append(record)
    return out
