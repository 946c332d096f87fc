-- The embedded local store (schema version 2: version 1 plus ``attachments``; a version-1 file
-- gains the table the first time this version opens it).
--
-- One SQLite database in WAL mode, shared by every process of a run (pytest-xdist workers
-- included). Every statement is idempotent: the file is applied inside BEGIN IMMEDIATE when
-- ``meta.schema_version`` is missing, and that key records which version created the file.
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

-- Rows are stored as a log and a folded view of it:
--
-- * ``row_log`` is append-only: every row written, as written (``op`` 0 = replace/insert,
--   1 = merge, 2 = delete), with its transaction id. Writers only ever append to it, in
--   ``seq`` order, so a write costs no lookups and touches no random index pages. It is the
--   version history: the state of an object as of version V folds its entries with
--   ``xact_id <= V``.
-- * ``object_rows`` is the current, merged state of every row, folded from the log up to
--   ``objects.folded_seq`` by the first read after a write. ``seq`` is the log ``seq`` of the
--   row's first write: it orders reads and is the fetch cursor. The row's JSON is ``data``
--   when a merge produced it, else the log entry ``data_seq`` (not copied). Deleted rows stay
--   as tombstones (``is_deleted = 1``). Control fields, ``created`` and ``_xact_id`` inside
--   the JSON are ignored: the columns hold them.
--
-- ``object_type`` is experiment | project_logs | playground_logs | dataset; ``object_id`` is
-- the experiment, project, prompt session or dataset id.
CREATE TABLE IF NOT EXISTS row_log (
    seq         INTEGER PRIMARY KEY,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    xact_id     INTEGER NOT NULL,
    created     TEXT,
    op          INTEGER NOT NULL,
    data        TEXT NOT NULL
);

-- Index entries carry the rowid, so this serves "entries of an object in seq order".
CREATE INDEX IF NOT EXISTS row_log_by_object ON row_log (object_type, object_id);

CREATE TABLE IF NOT EXISTS object_rows (
    seq         INTEGER PRIMARY KEY,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    xact_id     INTEGER NOT NULL,
    created     TEXT,
    is_deleted  INTEGER NOT NULL DEFAULT 0,
    data_seq    INTEGER,
    data        TEXT,
    UNIQUE (object_type, object_id, id)
);

CREATE INDEX IF NOT EXISTS object_rows_live ON object_rows (object_type, object_id, is_deleted);

CREATE TABLE IF NOT EXISTS objects (
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    folded_seq  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (object_type, object_id)
);

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

-- The bytes of attachments logged with rows (``{"type": "braintrust_attachment", "key"}``
-- references in row data point here). Written once per key; a second write of a key (a replay)
-- replaces it with the same bytes.
CREATE TABLE IF NOT EXISTS attachments (
    key          TEXT PRIMARY KEY,
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    byte_size    INTEGER NOT NULL,
    data         BLOB NOT NULL,
    created      TEXT NOT NULL
);
