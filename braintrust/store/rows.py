"""Rows of objects: appending batches to the row log, reading current or past state.

Writes: every ``write_rows`` call is one ``BEGIN IMMEDIATE`` transaction with one new
transaction id, and only appends to ``row_log`` (one ``executemany``, no reads), so it is as
fast as SQLite appends. Merge semantics are applied when reading (``fold``).

Reads: the current state comes from ``object_rows``, brought up to date first by folding the
log entries written since the last read (``materialize``). A read as of a version folds the
log up to that transaction directly. Rows come back in first-write order. ``iter_rows`` reads
the object as it was when it started, however long its pages take to read.
"""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime, timezone
from typing import Any, Iterator, Sequence

from braintrust.jsonsafe import loads_row
from braintrust.store.connection import BUSY_TIMEOUT_SECONDS, waiting_at_most, write_transaction
from braintrust.store.fold import DELETE, MERGE, REPLACE, RowState, fold
from braintrust.store.merge import object_of, read_form
from braintrust.xact_ids import normalize_version

_IN_CHUNK = 500
#: How long a read waits for the write lock to fold the log into ``object_rows``; past it (the
#: store is read-only or another process holds the lock) the read folds the log in memory. For
#: ``FOLD_RETRY_SECONDS`` after that, reads of the store do not wait for the lock at all.
FOLD_WAIT_SECONDS = 0.5
FOLD_RETRY_SECONDS = 10.0
_fold_locked_at: dict[str, float] = {}  # database -> when a fold last found the write lock held
_FOLD_CHUNK = 5000

_APPEND = (
    "INSERT INTO row_log (object_type, object_id, id, xact_id, created, op, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_LOG_AFTER = (  # the JSON is read only for merges; other entries are referenced by seq
    "SELECT seq, id, xact_id, created, op, CASE WHEN op = 1 THEN data END FROM row_log "
    "WHERE object_type = ? AND object_id = ? AND seq > ? ORDER BY seq LIMIT ?"
)
_LOG_UNTIL = (  # as _LOG_AFTER: the JSON of a row is read when it is wanted
    "SELECT seq, id, xact_id, created, op, CASE WHEN op = 1 THEN data END FROM row_log "
    "WHERE object_type = ? AND object_id = ? AND xact_id <= ? ORDER BY seq"
)
_LAST_LOG = "SELECT seq, xact_id FROM row_log WHERE object_type = ? AND object_id = ? ORDER BY seq DESC LIMIT 1"
_INSERT = """
INSERT INTO object_rows (seq, object_type, object_id, id, xact_id, created, is_deleted, data_seq, data)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_UPSERT = _INSERT + """ON CONFLICT (object_type, object_id, id) DO UPDATE SET
    xact_id = excluded.xact_id, created = excluded.created, is_deleted = excluded.is_deleted,
    data_seq = excluded.data_seq, data = excluded.data
"""
_CURRENT = """
SELECT o.seq, o.xact_id, o.created, coalesce(o.data, l.data) FROM object_rows AS o
LEFT JOIN row_log AS l ON l.seq = o.data_seq
WHERE o.object_type = ? AND o.object_id = ? AND o.is_deleted = 0 AND o.seq > ?
ORDER BY o.seq LIMIT ?
"""
# Pages of a read that started at log entry ``seq <= ?``: rows first written since are left out.
_CURRENT_UNTIL = """
SELECT o.seq, o.id, o.xact_id, o.created, coalesce(o.data, l.data) FROM object_rows AS o
LEFT JOIN row_log AS l ON l.seq = o.data_seq
WHERE o.object_type = ? AND o.object_id = ? AND o.is_deleted = 0 AND o.seq > ? AND o.seq <= ?
ORDER BY o.seq LIMIT ?
"""
_DELETED_SINCE = """
SELECT seq, id FROM object_rows
WHERE object_type = ? AND object_id = ? AND is_deleted = 1 AND seq > ? AND seq <= ? AND xact_id > ?
"""
_ENTRIES_OF = (  # (the entries of some rows between two seqs; JSON read for merges only)
    "SELECT seq, id, xact_id, created, op, CASE WHEN op = 1 THEN data END FROM row_log "
    "WHERE object_type = ? AND object_id = ? AND seq >= ? AND seq <= ? AND id IN ({marks}) ORDER BY seq"
)
_MAX_VERSION = 2**63 - 1


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat()


def next_xact_id(conn: sqlite3.Connection) -> int:
    """Allocate a transaction id; call inside a write transaction."""
    conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'last_xact_id'")
    return last_xact_id(conn)


def last_xact_id(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT value FROM meta WHERE key = 'last_xact_id'").fetchone()[0])


def entry_params(rows: Sequence[dict[str, Any]], encoded: Sequence[bytes | str] | None = None) -> list[tuple]:
    """Row-log entries for ``rows``, without the xact id: (type, object id, row id, created, op,
    data). ``data`` is ``encoded[i]`` as given (bytes or str), else the row as JSON.
    Raises ``ValueError`` for a row without an id or object."""
    if encoded is not None and len(encoded) != len(rows):
        raise ValueError(f"{len(rows)} rows but {len(encoded)} encodings were given.")
    now = utc_now()
    params = []
    for index, row in enumerate(rows):
        object_type, object_id, row_id = object_of(row)
        data = json.dumps(row, separators=(",", ":")) if encoded is None else encoded[index]
        op = DELETE if row.get("_object_delete") else MERGE if row.get("_is_merge") else REPLACE
        params.append((object_type, object_id, row_id, row.get("created") or now, op, data))
    return params


def append_entries(conn: sqlite3.Connection, entries: Sequence[tuple]) -> int:
    """Append ``entries`` (made by ``entry_params``) in one transaction; returns its xact id."""
    with write_transaction(conn):
        xact_id = next_xact_id(conn)
        if entries:
            conn.executemany(
                _APPEND,
                [(t, o, i, xact_id, c, op, d if isinstance(d, str) else d.decode("utf-8")) for t, o, i, c, op, d in entries],
            )
    return xact_id


def write_rows(conn: sqlite3.Connection, rows: Sequence[dict[str, Any]], encoded: Sequence[bytes | str] | None = None) -> int:
    """Append one batch in one transaction; returns its transaction id.

    ``encoded[i]``, when given, is ``rows[i]`` as JSON and is stored instead of re-encoding.
    Raises ``ValueError`` (before writing anything) for a row without an id or object.
    """
    return append_entries(conn, entry_params(rows, encoded))


def _loader(conn: sqlite3.Connection):
    def load(seq: int) -> str:
        return conn.execute("SELECT data FROM row_log WHERE seq = ?", (seq,)).fetchone()[0]

    return load


def _load_states(conn: sqlite3.Connection, object_type: str, object_id: str, ids: list[str]) -> dict[str, RowState]:
    states: dict[str, RowState] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        marks = ",".join("?" * len(chunk))
        cursor = conn.execute(
            "SELECT id, seq, xact_id, created, is_deleted, data_seq, data FROM object_rows "
            f"WHERE object_type = ? AND object_id = ? AND id IN ({marks})",
            (object_type, object_id, *chunk),
        )
        for row_id, seq, xact_id, created, is_deleted, data_seq, data in cursor:
            states[row_id] = RowState(seq, xact_id, created, bool(is_deleted), data_seq, data)
    return states


def _folded_seq(conn: sqlite3.Connection, object_type: str, object_id: str) -> int:
    found = conn.execute(
        "SELECT folded_seq FROM objects WHERE object_type = ? AND object_id = ?", (object_type, object_id)
    ).fetchone()
    return int(found[0]) if found else 0


def _fold_in_memory_instead(exc: sqlite3.OperationalError) -> bool:
    """``materialize`` could not write: the store is read-only, or another process holds its
    write lock (a stuck run must not make every read wait, then fail)."""
    return "readonly" in str(exc) or "locked" in str(exc)


def materialize(conn: sqlite3.Connection, object_type: str, object_id: str) -> None:
    """Fold log entries newer than ``objects.folded_seq`` into ``object_rows``; waits at most
    ``FOLD_WAIT_SECONDS`` for the write lock (``sqlite3.OperationalError`` past it).

    One transaction, read in chunks so that a large object is never held in memory. Stored
    rows are looked up only for ids that can exist (not on an object's first fold, unless an
    earlier chunk wrote them).
    """
    last = conn.execute(_LAST_LOG, (object_type, object_id)).fetchone()
    if last is None or last[0] <= _folded_seq(conn, object_type, object_id):
        return
    load = _loader(conn)
    usual = getattr(conn, "timeout_seconds", BUSY_TIMEOUT_SECONDS)
    path = getattr(conn, "path", "")
    wait = 0.001 if time.monotonic() - _fold_locked_at.get(path, -FOLD_RETRY_SECONDS) < FOLD_RETRY_SECONDS else FOLD_WAIT_SECONDS
    try:
        _fold(conn, object_type, object_id, load, None if conn.in_transaction else wait, usual)
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            _fold_locked_at[path] = time.monotonic()
        raise


def _fold(conn: sqlite3.Connection, object_type: str, object_id: str, load: Any, wait: float | None, usual: float) -> None:
    with waiting_at_most(conn, wait, usual), write_transaction(conn):
        folded = _folded_seq(conn, object_type, object_id)
        first_fold = folded == 0
        # Hashes of the ids folded by earlier chunks (first fold only): a collision just costs a
        # lookup, and ints take half the memory of the id strings.
        written: set[int] = set()
        while True:
            entries = conn.execute(_LOG_AFTER, (object_type, object_id, folded, _FOLD_CHUNK)).fetchall()
            if not entries:
                break
            ids = list(dict.fromkeys(entry[1] for entry in entries))
            maybe_stored = [i for i in ids if hash(i) in written] if first_fold else ids
            states = _load_states(conn, object_type, object_id, maybe_stored) if maybe_stored else {}
            stored = set(states)
            fold(entries, states, load)
            new, old = [], []
            for row_id, s in states.items():
                params = (s.seq, object_type, object_id, row_id, s.xact_id, s.created, 1 if s.deleted else 0, *s.storage())
                (old if row_id in stored else new).append(params)
            conn.executemany(_INSERT, new)
            conn.executemany(_UPSERT, old)
            if first_fold:
                written.update(map(hash, ids))
            folded = entries[-1][0]
        conn.execute(
            "INSERT INTO objects (object_type, object_id, folded_seq) VALUES (?, ?, ?) "
            "ON CONFLICT (object_type, object_id) DO UPDATE SET folded_seq = excluded.folded_seq",
            (object_type, object_id, folded),
        )


def _live_as_of(conn: sqlite3.Connection, object_type: str, object_id: str, version: int) -> list[RowState]:
    """The states of the rows present as of ``version``, in seq order (JSON read for merges only)."""
    states: dict[str, RowState] = {}
    fold(conn.execute(_LOG_UNTIL, (object_type, object_id, min(version, _MAX_VERSION))), states, _loader(conn))
    return sorted((s for s in states.values() if not s.deleted), key=lambda s: s.seq)


def _fold_log(conn: sqlite3.Connection, object_type: str, object_id: str, version: int,
              after: int = 0, limit: int | None = None) -> list[tuple]:
    """``(seq, xact_id, created, json)`` of the rows present as of ``version``, in seq order:
    the first ``limit`` (all if None) after seq ``after``."""
    load = _loader(conn)
    live = [s for s in _live_as_of(conn, object_type, object_id, version) if s.seq > after]
    return [(s.seq, s.xact_id, s.created, s.json(load)) for s in live[:limit]]


def _parse_version(version: str | int) -> int:
    """A transaction id, given as one or in the UI's 16-hex-digit form; ``ValueError`` otherwise."""
    return int(normalize_version(version, "version"))


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
    found = None
    pinned = _MAX_VERSION if version is None else _parse_version(version)
    if version is None:
        try:
            materialize(conn, object_type, object_id)
            found = conn.execute(_CURRENT, (object_type, object_id, after, wanted)).fetchall()
        except sqlite3.OperationalError as exc:
            if not _fold_in_memory_instead(exc):
                raise  # (a read-only store: fold the log instead)
    if found is None:
        found = _fold_log(conn, object_type, object_id, pinned, after, None if limit is None else wanted)
    more = limit is not None and len(found) > limit
    if limit is not None:
        found = found[:limit]
    rows = [read_form(loads_row(data), xact_id, created) for _seq, xact_id, created, data in found]
    return rows, (str(found[-1][0]) if more else None)


def iter_rows(
    conn: sqlite3.Connection, object_type: str, object_id: str, version: str | int | None = None, batch_size: int = 1000
) -> Iterator[list[dict[str, Any]]]:
    """Every row ``fetch_rows`` gives, in pages of ``batch_size``: as of ``version``, or else as
    the object was when the read started, so that rows written while the pages are read (by the
    loop reading them, say) are not given and such a loop ends. As of a version (or from a
    read-only store) the log is folded once, not once per page as ``fetch_rows`` pages are, and
    a row's JSON is read only when its page is."""
    pinned = None if version is None else _parse_version(version)
    if pinned is None:
        start = conn.execute(_LAST_LOG, (object_type, object_id)).fetchone()
        if start is None:
            return
        try:
            materialize(conn, object_type, object_id)
        except sqlite3.OperationalError as exc:
            if not _fold_in_memory_instead(exc):
                raise
            pinned = start[1]
        else:
            yield from _pages_until(conn, object_type, object_id, start, batch_size)
            return
    load = _loader(conn)
    live = _live_as_of(conn, object_type, object_id, pinned)
    for begin in range(0, len(live), batch_size):
        yield [read_form(loads_row(s.json(load)), s.xact_id, s.created) for s in live[begin : begin + batch_size]]


def _pages_until(conn: sqlite3.Connection, object_type: str, object_id: str, start: tuple[int, int],
                 batch_size: int) -> Iterator[list[dict[str, Any]]]:
    """Pages of the rows as of log entry ``start`` (its ``(seq, xact_id)``), read from the folded
    rows: memory holds one page, not the object. A row first written after ``start`` is left out;
    one changed or deleted since is folded again from its entries up to ``start``.

    Writes are serialized (``BEGIN IMMEDIATE``), so an entry's seq and xact id grow together: a
    folded row whose xact id is newer than ``start``'s was changed since."""
    last_seq, version = start
    load = _loader(conn)
    after = 0
    while True:
        live = conn.execute(_CURRENT_UNTIL, (object_type, object_id, after, last_seq, batch_size)).fetchall()
        full = len(live) == batch_size
        until = live[-1][0] if full else last_seq
        deleted = conn.execute(_DELETED_SINCE, (object_type, object_id, after, until, version)).fetchall()
        changed = {row_id: seq for seq, row_id, xact_id, _created, _data in live if xact_id > version}
        changed.update((row_id, seq) for seq, row_id in deleted)
        found = [(seq, xact_id, created, data) for seq, row_id, xact_id, created, data in live if row_id not in changed]
        if changed:
            states = _states_until(conn, object_type, object_id, changed, last_seq)
            found += [(s.seq, s.xact_id, s.created, s.json(load)) for s in states.values() if not s.deleted]
            found.sort(key=lambda entry: entry[0])
        if found:
            yield [read_form(loads_row(data), xact_id, created) for _seq, xact_id, created, data in found]
        if not full:
            return
        after = until


def _states_until(conn: sqlite3.Connection, object_type: str, object_id: str, first_seqs: dict[str, int],
                  last_seq: int) -> dict[str, RowState]:
    """The rows ``first_seqs`` (id -> seq of its first write) folded from their log entries up to
    ``last_seq``."""
    states: dict[str, RowState] = {}
    ids = list(first_seqs)
    for begin in range(0, len(ids), _IN_CHUNK):
        chunk = ids[begin : begin + _IN_CHUNK]
        query = _ENTRIES_OF.format(marks=",".join("?" * len(chunk)))
        first = min(first_seqs[row_id] for row_id in chunk)
        fold(conn.execute(query, (object_type, object_id, first, last_seq, *chunk)), states, _loader(conn))
    return states


# One JSON parse per row: json_extract with several paths returns them as one JSON array.
_SUMMARY_PATHS = (
    "json_extract(d, '$.root_span_id', '$.id', '$.span_parents', '$.input', '$.scores', '$.metrics', "
    "'$.span_attributes.name', '$.metadata.pytest.case', '$.metadata.pytest.nodeid', '$.comment')"
)
_SUMMARY_FROM_ROWS = f"""
SELECT {_SUMMARY_PATHS} FROM (
    SELECT coalesce(o.data, l.data) AS d FROM object_rows AS o LEFT JOIN row_log AS l ON l.seq = o.data_seq
    WHERE o.object_type = ? AND o.object_id = ? AND o.is_deleted = 0 ORDER BY o.seq)
"""
_SUMMARY_FROM_LOG = f"""
SELECT {_SUMMARY_PATHS} FROM (
    SELECT data AS d FROM row_log WHERE object_type = ? AND object_id = ? ORDER BY seq)
"""
# The log is the current state when every entry is a first write of a distinct row.
_LOG_IS_CURRENT = """
SELECT count(*) = count(DISTINCT id) AND coalesce(max(op), 0) = 0 FROM row_log
WHERE object_type = ? AND object_id = ?
"""


def summary_rows(conn: sqlite3.Connection, object_type: str, object_id: str) -> Iterator[dict[str, Any]]:
    """The current rows of an object reduced to what a summary reads (``local_compare``):
    ``root_span_id``, ``span_parents``, ``input``, ``scores``, ``metrics``, the span's name
    (``span_attributes.name``, to name regressed cases) and a pytest case's node id
    (``metadata.pytest.nodeid``, and ``case`` for trials: what tells input-less cases apart).
    Comments (``log_feedback(comment=...)``) are not rows of the experiment, so not here. SQLite extracts
    the fields, so only those are parsed here, much cheaper than ``fetch_rows`` for a large
    experiment; and when the log holds one write per row (spans write theirs once), it is read
    as it is, without folding it into ``object_rows`` first. Streamed (memory does not grow
    with the rows)."""
    try:
        if _folded_seq(conn, object_type, object_id) == 0 and conn.execute(_LOG_IS_CURRENT, (object_type, object_id)).fetchone()[0]:
            query = _SUMMARY_FROM_LOG
        else:
            materialize(conn, object_type, object_id)
            query = _SUMMARY_FROM_ROWS
        cursor = conn.execute(query, (object_type, object_id))
    except sqlite3.OperationalError as exc:
        if _fold_in_memory_instead(exc):  # cannot fold into object_rows now: fold in memory
            found = _fold_log(conn, object_type, object_id, _MAX_VERSION)
        elif "no such function" in str(exc):  # an SQLite without its JSON functions
            materialize(conn, object_type, object_id)
            found = conn.execute(_CURRENT, (object_type, object_id, 0, -1)).fetchall()
        else:
            raise
        for _seq, _xact_id, _created, data in found:
            row = loads_row(data)
            if commented_row(row) is None:
                yield row
        return
    for (fields,) in cursor:
        root_span_id, row_id, span_parents, input_value, scores, metrics, name, case, nodeid, comment = loads_row(fields)
        if comment is not None:
            continue
        row = {
            "id": row_id,
            "root_span_id": root_span_id,
            "span_parents": span_parents,
            "span_attributes": {"name": name},
            "input": input_value,
            "scores": scores,
            "metrics": metrics,
        }
        if case is not None or nodeid is not None:
            row["metadata"] = {"pytest": {"case": case, "nodeid": nodeid}}
        yield row


_TRACE_OF = "coalesce(json_extract(coalesce(o.data, l.data), '$.root_span_id'), o.id)"
_COMMENTED = "json_extract(coalesce(o.data, l.data), '$.origin.id')"  # a comment row: the row it is about
_TRACES_NEWEST_FIRST = f"""
SELECT {_TRACE_OF} FROM object_rows AS o LEFT JOIN row_log AS l ON l.seq = o.data_seq
WHERE o.object_type = ? AND o.object_id = ? AND o.is_deleted = 0 AND {_COMMENTED} IS NULL ORDER BY o.seq DESC
"""
_ROWS_OF_TRACES = f"""
SELECT o.seq, o.xact_id, o.created, coalesce(o.data, l.data) FROM object_rows AS o
LEFT JOIN row_log AS l ON l.seq = o.data_seq
WHERE o.object_type = ? AND o.object_id = ? AND o.is_deleted = 0 AND {_COMMENTED} IS NULL
AND {_TRACE_OF} IN (SELECT value FROM json_each(?))
ORDER BY o.seq
"""
_COMMENTS_ON = f"""
SELECT o.seq, o.xact_id, o.created, coalesce(o.data, l.data) FROM object_rows AS o
LEFT JOIN row_log AS l ON l.seq = o.data_seq
WHERE o.object_type = ? AND o.object_id = ? AND o.is_deleted = 0 AND {_COMMENTED} IN (SELECT value FROM json_each(?))
ORDER BY o.seq
"""


def commented_row(row: dict[str, Any]) -> str | None:
    """The id of the row a comment row (``log_feedback(comment=...)``) is about; None for others."""
    origin = row.get("origin")
    return origin.get("id") if row.get("comment") is not None and isinstance(origin, dict) else None


def latest_traces(conn: sqlite3.Connection, object_type: str, object_id: str, count: int) -> list[dict[str, Any]]:
    """The current rows of the ``count`` traces (rows sharing a ``root_span_id``) written last,
    with the comments on them (``log_feedback(comment=...)`` rows, tied by ``origin.id``): for a
    look at the end of a project's logs without reading all of them into memory."""
    if count < 1:
        raise ValueError(f"count must be a positive number of traces, not {count!r}.")
    try:
        materialize(conn, object_type, object_id)
        traces: dict[str, None] = {}  # (ordered, and a set)
        for (trace,) in conn.execute(_TRACES_NEWEST_FIRST, (object_type, object_id)):
            if trace not in traces:
                traces[trace] = None
                if len(traces) == count:
                    break
        found = conn.execute(_ROWS_OF_TRACES, (object_type, object_id, json.dumps(list(traces)))).fetchall()
        row_ids = [loads_row(data).get("id") for _seq, _xact_id, _created, data in found]
        found += conn.execute(_COMMENTS_ON, (object_type, object_id, json.dumps(row_ids))).fetchall()
    except sqlite3.OperationalError as exc:
        if not _fold_in_memory_instead(exc) and "no such function" not in str(exc):
            raise
        return _latest_traces_in_memory(conn, object_type, object_id, count)
    return [read_form(loads_row(data), xact_id, created) for _seq, xact_id, created, data in found]


def _latest_traces_in_memory(conn: sqlite3.Connection, object_type: str, object_id: str, count: int) -> list[dict[str, Any]]:
    """``latest_traces`` for a store that cannot be folded (read-only) or an SQLite without JSON."""
    found = _fold_log(conn, object_type, object_id, _MAX_VERSION)
    rows = [read_form(loads_row(data), xact_id, created) for _seq, xact_id, created, data in found]

    traces: dict[str, None] = {}
    for row in reversed(rows):
        trace = row.get("root_span_id") or row.get("id")
        if commented_row(row) is None and trace not in traces:
            traces[trace] = None
    wanted = set(list(traces)[:count])
    chosen = [row for row in rows if commented_row(row) is None and (row.get("root_span_id") or row.get("id")) in wanted]
    ids = {row.get("id") for row in chosen}
    return chosen + [row for row in rows if commented_row(row) in ids]


def trace_rows(conn: sqlite3.Connection, object_type: str, object_id: str, root_span_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The current rows of these traces (rows whose ``root_span_id`` is one of them), without
    comment rows, in first-write order: a trace's rows without reading the whole object."""
    try:
        materialize(conn, object_type, object_id)
        found = conn.execute(_ROWS_OF_TRACES, (object_type, object_id, json.dumps(list(root_span_ids)))).fetchall()
    except sqlite3.OperationalError as exc:
        if not _fold_in_memory_instead(exc) and "no such function" not in str(exc):
            raise
        wanted = set(root_span_ids)
        rows = [read_form(loads_row(data), xact_id, created)
                for _seq, xact_id, created, data in _fold_log(conn, object_type, object_id, _MAX_VERSION)]
        return [row for row in rows if commented_row(row) is None and (row.get("root_span_id") or row.get("id")) in wanted]
    return [read_form(loads_row(data), xact_id, created) for _seq, xact_id, created, data in found]


def delete_objects(conn: sqlite3.Connection, object_type: str, object_ids: Sequence[str]) -> None:
    """Remove every row of these objects, with their history (the log entries too)."""
    with write_transaction(conn):
        for object_id in object_ids:
            for table in ("row_log", "object_rows", "objects"):
                conn.execute(f"DELETE FROM {table} WHERE object_type = ? AND object_id = ?", (object_type, object_id))


def count_rows(conn: sqlite3.Connection, object_type: str, object_id: str) -> int:
    """Rows currently present (deleted rows excluded)."""
    try:
        materialize(conn, object_type, object_id)
    except sqlite3.OperationalError as exc:
        if not _fold_in_memory_instead(exc):
            raise
        return len(_live_as_of(conn, object_type, object_id, _MAX_VERSION))
    query = "SELECT count(*) FROM object_rows WHERE object_type = ? AND object_id = ? AND is_deleted = 0"
    return int(conn.execute(query, (object_type, object_id)).fetchone()[0])


def max_xact_id(conn: sqlite3.Connection, object_type: str, object_id: str) -> str | None:
    """The object's latest transaction id (deletes included), or None if nothing was written."""
    last = conn.execute(_LAST_LOG, (object_type, object_id)).fetchone()
    return None if last is None else str(last[1])
