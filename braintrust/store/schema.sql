-- The embedded local store (schema version 1).
--
-- One SQLite database in WAL mode, shared by every process of a run (pytest-xdist workers
-- included). Every statement is idempotent: the file is applied inside BEGIN IMMEDIATE on
-- each open, and ``meta.schema_version`` records which version created the file.
--
-- Times are ISO-8601 UTC strings; JSON columns hold compact JSON text (NULL when absent).
-- Transaction ids (``xact_id``) are integers counted up from 10**18 in ``meta.last_xact_id``;
-- callers see them as 19-digit strings, so string and numeric order agree.

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS projects (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    created     TEXT NOT NULL
);

-- ``seq`` increases with every experiment created in the store: the previous experiment of
-- a project is the one with the greatest smaller ``seq``.
CREATE TABLE IF NOT EXISTS experiments (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL REFERENCES projects (id),
    name            TEXT NOT NULL,
    seq             INTEGER NOT NULL UNIQUE,
    created         TEXT NOT NULL,
    description     TEXT,
    metadata        TEXT,
    tags            TEXT,
    base_exp_id     TEXT,
    dataset_id      TEXT,
    dataset_version TEXT,
    repo_info       TEXT,
    public          INTEGER NOT NULL DEFAULT 0,
    UNIQUE (project_id, name)
);

CREATE TABLE IF NOT EXISTS datasets (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL REFERENCES projects (id),
    name        TEXT NOT NULL,
    description TEXT,
    metadata    TEXT,
    created     TEXT NOT NULL,
    UNIQUE (project_id, name)
);

-- The current, merged state of every row of every object. ``object_type`` is one of
-- experiment | project_logs | playground_logs | dataset; ``object_id`` is the experiment,
-- project, prompt session or dataset id. ``data`` is the row's JSON without ``_xact_id`` and
-- control fields; ``created`` is kept from the first write. Deleted rows stay as tombstones
-- (``is_deleted = 1``) so reads "as of" an older version still see what was there.
-- ``seq`` (the rowid) is stable across updates and orders rows by first write; fetch cursors
-- use it. The second index serves current-state reads and counts in ``seq`` order.
CREATE TABLE IF NOT EXISTS object_rows (
    seq         INTEGER PRIMARY KEY,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    xact_id     INTEGER NOT NULL,
    created     TEXT,
    is_deleted  INTEGER NOT NULL DEFAULT 0,
    data        TEXT NOT NULL,
    UNIQUE (object_type, object_id, id)
);

CREATE INDEX IF NOT EXISTS object_rows_live
    ON object_rows (object_type, object_id, is_deleted);

-- Superseded versions of rows: when a row is overwritten by a later transaction, its old
-- state lands here (see the trigger). The state of an object as of version V is, per row id,
-- the newest of (row_versions ∪ object_rows) with xact_id <= V, unless that one is a tombstone.
CREATE TABLE IF NOT EXISTS row_versions (
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    xact_id     INTEGER NOT NULL,
    row_seq     INTEGER NOT NULL,
    created     TEXT,
    is_deleted  INTEGER NOT NULL,
    data        TEXT NOT NULL,
    PRIMARY KEY (object_type, object_id, id, xact_id)
);

CREATE INDEX IF NOT EXISTS row_versions_by_object_xact
    ON row_versions (object_type, object_id, xact_id);

CREATE TRIGGER IF NOT EXISTS rows_keep_history
AFTER UPDATE ON object_rows
WHEN OLD.xact_id <> NEW.xact_id
BEGIN
    INSERT OR REPLACE INTO row_versions
        (object_type, object_id, id, xact_id, row_seq, created, is_deleted, data)
    VALUES
        (OLD.object_type, OLD.object_id, OLD.id, OLD.xact_id, OLD.seq, OLD.created,
         OLD.is_deleted, OLD.data);
END;

-- ObjectRef.key -> resolved ids, so resolving (or replaying) the same reference twice never
-- creates a second experiment.
CREATE TABLE IF NOT EXISTS resolved_refs (
    ref_key     TEXT PRIMARY KEY,
    object_type TEXT NOT NULL,
    ids         TEXT NOT NULL,
    info        TEXT NOT NULL,
    created     TEXT NOT NULL
);

-- Batches spilled to disk (files under the spill folder) and whether they were replayed.
CREATE TABLE IF NOT EXISTS spilled_batches (
    path           TEXT PRIMARY KEY,
    ref_key        TEXT,
    object_type    TEXT,
    row_count      INTEGER NOT NULL,
    byte_count     INTEGER NOT NULL,
    reason         TEXT NOT NULL,
    created        TEXT NOT NULL,
    replayed       TEXT,
    replay_xact_id INTEGER
);
