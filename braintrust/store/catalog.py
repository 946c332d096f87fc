"""Projects, experiments and datasets: create-or-get with the server's naming rules.

Functions take a connection and return plain dicts (JSON columns decoded). Writers run inside
``BEGIN IMMEDIATE`` so two processes asking for the same name get the same object.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from datetime import datetime, timezone
from typing import Any, Sequence

from braintrust.delivery.backend import DATASET, EXPERIMENT, PROJECT_LOGS
from braintrust.store import runs
from braintrust.store.connection import StoreError, write_transaction

DEFAULT_PROJECT_NAME = "Global"
_EXPERIMENT_JSON = ("metadata", "tags", "repo_info")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), sort_keys=True)


def _record(cursor: sqlite3.Cursor, row: tuple | None, json_fields: tuple[str, ...] = ()) -> dict[str, Any] | None:
    if row is None:
        return None
    record = dict(zip((d[0] for d in cursor.description), row))
    for name in json_fields:
        if record.get(name) is not None:
            record[name] = json.loads(record[name])
    if "public" in record:
        record["public"] = bool(record["public"])
    return record


#: Fields the API answers that the store keeps no value for (no users, organizations, saved
#: parameters or project settings here, nothing soft-deleted): null, as Braintrust answers them
#: when unset, so ``experiment.deleted_at`` reads None offline too, not an AttributeError.
_UNKEPT_FIELDS = ("deleted_at", "user_id")
_UNKEPT_EXPERIMENT_FIELDS = ("parameters_id", "parameters_version")
_UNKEPT_PROJECT_FIELDS = ("org_id", "settings")


def api_form(record: dict[str, Any]) -> dict[str, Any]:
    """A project, experiment or dataset as the Braintrust API answers one (``experiment.data``):
    the store's own bookkeeping (``seq``) left out, ``public`` a bool, ``commit`` from the git
    info, and the API's fields the store does not keep, null."""
    form = {key: value for key, value in record.items() if key != "seq"}
    if "public" in form:
        form["public"] = bool(form["public"])
    if "repo_info" in form:
        form["commit"] = (form["repo_info"] or {}).get("commit")
    if "base_exp_id" in form:  # (an experiment)
        unkept = _UNKEPT_FIELDS + _UNKEPT_EXPERIMENT_FIELDS
    elif "project_id" in form:  # (a dataset)
        unkept = _UNKEPT_FIELDS
    else:
        unkept = _UNKEPT_FIELDS + _UNKEPT_PROJECT_FIELDS
    for name in unkept:
        form.setdefault(name, None)
    return form


def _one(conn: sqlite3.Connection, sql: str, params: tuple, json_fields: tuple[str, ...] = ()) -> dict[str, Any] | None:
    cursor = conn.execute(sql, params)
    return _record(cursor, cursor.fetchone(), json_fields)


def _all(conn: sqlite3.Connection, sql: str, params: tuple, json_fields: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    return [_record(cursor, row, json_fields) for row in cursor.fetchall()]  # type: ignore[misc]


# -- projects ---------------------------------------------------------------------------------


def get_project(conn: sqlite3.Connection, id: str | None = None, name: str | None = None) -> dict[str, Any] | None:
    if id is not None:
        return _one(conn, "SELECT * FROM projects WHERE id = ?", (id,))
    return _one(conn, "SELECT * FROM projects WHERE name = ?", (name,))


def list_projects(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return _all(conn, "SELECT * FROM projects ORDER BY name", ())


def get_or_create_project(conn: sqlite3.Connection, name: str | None = None, id: str | None = None) -> dict[str, Any]:
    """By id, else by name (default "Global"); created when missing.

    An unknown ``id`` (e.g. a server project id used offline) creates a local project with
    that id, named ``name`` or the id itself, so rows are never lost for want of a project.
    """
    found = get_project(conn, id=id) if id else get_project(conn, name=name or DEFAULT_PROJECT_NAME)
    if found:
        return found
    with write_transaction(conn):
        if id:
            found = get_project(conn, id=id) or (get_project(conn, name=name) if name else None)
        else:
            found = get_project(conn, name=name or DEFAULT_PROJECT_NAME)
        if found:
            return found
        project_id = id or str(uuid.uuid4())
        project_name = name or id or DEFAULT_PROJECT_NAME
        conn.execute(
            "INSERT INTO projects (id, name, created) VALUES (?, ?, ?)", (project_id, project_name, _now())
        )
    return get_project(conn, id=project_id)  # type: ignore[return-value]


# -- experiments ------------------------------------------------------------------------------


def get_experiment(
    conn: sqlite3.Connection, id: str | None = None, project_id: str | None = None, name: str | None = None
) -> dict[str, Any] | None:
    """By id, or by name within a project; the newest match when only ``name`` is given."""
    if id is not None:
        return _one(conn, "SELECT * FROM experiments WHERE id = ?", (id,), _EXPERIMENT_JSON)
    if project_id is not None:
        sql = "SELECT * FROM experiments WHERE project_id = ? AND name = ?"
        return _one(conn, sql, (project_id, name), _EXPERIMENT_JSON)
    sql = "SELECT * FROM experiments WHERE name = ? ORDER BY seq DESC LIMIT 1"
    return _one(conn, sql, (name,), _EXPERIMENT_JSON)


def list_experiments(conn: sqlite3.Connection, project_id: str | None = None) -> list[dict[str, Any]]:
    """Oldest first."""
    if project_id is None:
        return _all(conn, "SELECT * FROM experiments ORDER BY seq", (), _EXPERIMENT_JSON)
    sql = "SELECT * FROM experiments WHERE project_id = ? ORDER BY seq"
    return _all(conn, sql, (project_id,), _EXPERIMENT_JSON)


def earlier_experiments(conn: sqlite3.Connection, experiment_id: str, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` experiments created before this one in the same project, newest first."""
    sql = (
        "SELECT p.* FROM experiments e JOIN experiments p ON p.project_id = e.project_id AND p.seq < e.seq "
        "WHERE e.id = ? ORDER BY p.seq DESC LIMIT ?"
    )
    return _all(conn, sql, (experiment_id, limit), _EXPERIMENT_JSON)


def experiments_beyond(conn: sqlite3.Connection, keep: int, project_id: str | None = None,
                       written_since: str | None = None, spared: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """Every experiment but the ``keep`` newest of its project (of ``project_id`` only, if
    given), oldest first; with ``written_since`` (an ISO time), not those created or written to
    since then nor those a live run is writing (``runs.running``); never the base experiment of
    one kept, nor those in ``spared``."""
    sql = (
        "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY project_id ORDER BY seq DESC) AS newer "
        "FROM experiments WHERE ? IS NULL OR project_id = ?) WHERE newer > ? ORDER BY seq"
    )
    found = _all(conn, sql, (project_id, project_id, keep), _EXPERIMENT_JSON)
    for record in found:
        record.pop("newer", None)
    if written_since is not None:
        recent = recently_written(conn, found, written_since)
        live = runs.running(conn, [record["id"] for record in found])
        found = [record for record in found if record["id"] not in recent and record["id"] not in live]
    found = [record for record in found if record["id"] not in spared]
    # The base experiment a kept one names stays: its comparisons must not silently change.
    doomed = {record["id"] for record in found}
    kept_bases = {base for experiment_id, base in conn.execute(
        "SELECT id, base_exp_id FROM experiments WHERE base_exp_id IS NOT NULL") if experiment_id not in doomed}
    return [record for record in found if record["id"] not in kept_bases]


def recently_written(conn: sqlite3.Connection, experiments: list[dict[str, Any]], since: str) -> set[str]:
    """The ids of ``experiments`` created or written to at ``since`` (an ISO time) or later."""
    return {record["id"] for record in experiments if record["created"] >= since or conn.execute(
        "SELECT 1 FROM row_log WHERE object_type = ? AND object_id = ? AND created >= ? LIMIT 1",
        (EXPERIMENT, record["id"], since)).fetchone() is not None}


def delete_experiments(conn: sqlite3.Connection, experiment_ids: Sequence[str]) -> None:
    """Remove these experiment records, and the references resolved to them (a spill replayed
    later creates its experiment again). Their rows are ``rows.delete_objects``'."""
    with write_transaction(conn):
        for experiment_id in experiment_ids:
            conn.execute("DELETE FROM experiments WHERE id = ?", (experiment_id,))
            conn.execute(
                "DELETE FROM resolved_refs WHERE object_type = ? AND json_extract(ids, '$.experiment_id') = ?",
                (EXPERIMENT, experiment_id),
            )
        runs.forget(conn, experiment_ids)


def _generated_name(repo_info: dict[str, Any] | None) -> str:
    branch = (repo_info or {}).get("branch") if isinstance(repo_info, dict) else None
    prefix = str(branch).replace("/", "-") if branch else "experiment"
    return f"{prefix}-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}"


def _free_name(conn: sqlite3.Connection, project_id: str, wanted: str) -> str:
    taken = {
        row[0]
        for row in conn.execute(
            "SELECT name FROM experiments WHERE project_id = ? AND (name = ? OR name LIKE ? ESCAPE '\\')",
            (project_id, wanted, wanted.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "-%"),
        )
    }
    if wanted not in taken:
        return wanted
    suffix = 1
    while f"{wanted}-{suffix}" in taken:
        suffix += 1
    return f"{wanted}-{suffix}"


def create_experiment(
    conn: sqlite3.Connection,
    project_id: str,
    name: str | None = None,
    ensure_new: bool = True,
    description: str | None = None,
    metadata: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    base_exp_id: str | None = None,
    dataset_id: str | None = None,
    dataset_version: str | None = None,
    repo_info: dict[str, Any] | None = None,
    public: bool = False,
    by_a_run: bool = True,
) -> dict[str, Any]:
    """A new experiment; a taken name becomes ``name-1``, ``name-2``... With ``ensure_new=False``
    an experiment already holding ``name`` is returned unchanged. ``by_a_run``: this process
    will log into it and summarize it, and it counts as running until then (``runs``)."""
    if get_project(conn, id=project_id) is None:
        raise StoreError(f"no project with id {project_id!r} in the local store; create it first.")
    with write_transaction(conn):
        if name and not ensure_new:
            found = get_experiment(conn, project_id=project_id, name=name)
            if found:
                return found
        final = _free_name(conn, project_id, name or _generated_name(repo_info))
        experiment_id = str(uuid.uuid4())
        seq = conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM experiments").fetchone()[0]
        conn.execute(
            "INSERT INTO experiments (id, project_id, name, seq, created, description, metadata, tags, "
            "base_exp_id, dataset_id, dataset_version, repo_info, public) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                experiment_id, project_id, final, seq, _now(), description, _json(metadata),
                _json(list(tags) if tags is not None else None), base_exp_id, dataset_id,
                None if dataset_version is None else str(dataset_version), _json(repo_info), 1 if public else 0,
            ),
        )
        if by_a_run:
            runs.record_creator(conn, experiment_id)
    return get_experiment(conn, id=experiment_id)  # type: ignore[return-value]


# -- datasets ---------------------------------------------------------------------------------


def get_dataset(
    conn: sqlite3.Connection, id: str | None = None, project_id: str | None = None, name: str | None = None
) -> dict[str, Any] | None:
    if id is not None:
        return _one(conn, "SELECT * FROM datasets WHERE id = ?", (id,), ("metadata",))
    sql = "SELECT * FROM datasets WHERE project_id = ? AND name = ?"
    return _one(conn, sql, (project_id, name), ("metadata",))


def list_datasets(conn: sqlite3.Connection, project_id: str | None = None) -> list[dict[str, Any]]:
    """Oldest first: in the order they were made (not by ``created``, which a clock set back
    between two runs puts out of order)."""
    if project_id is None:
        return _all(conn, "SELECT * FROM datasets ORDER BY rowid", (), ("metadata",))
    return _all(conn, "SELECT * FROM datasets WHERE project_id = ? ORDER BY rowid", (project_id,), ("metadata",))


def get_or_create_dataset(
    conn: sqlite3.Connection,
    project_id: str,
    name: str,
    description: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create-or-get by (project, name); an existing dataset is returned unchanged."""
    found = get_dataset(conn, project_id=project_id, name=name)
    if found:
        return found
    with write_transaction(conn):
        found = get_dataset(conn, project_id=project_id, name=name)
        if found:
            return found
        dataset_id = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO datasets (id, project_id, name, description, metadata, created) VALUES (?, ?, ?, ?, ?, ?)",
            (dataset_id, project_id, name, description, _json(metadata), _now()),
        )
    return get_dataset(conn, id=dataset_id)  # type: ignore[return-value]


# -- objects rows name ------------------------------------------------------------------------

#: The table and id field of the object each kind of row names (playground logs have no record).
_OBJECT_RECORDS = {EXPERIMENT: ("experiments", "experiment_id"), DATASET: ("datasets", "dataset_id"),
                   PROJECT_LOGS: ("projects", "project_id")}


def holds_object(conn: sqlite3.Connection, object_type: str, ids: dict[str, str]) -> bool:
    """Whether the object that rows with these ids (``{"experiment_id": ...}``) belong to is in
    the store. Rows written for one that is not (pruned since, or made in a store since moved
    aside) would be in no object: no command shows them, and nothing deletes them."""
    table, field = _OBJECT_RECORDS.get(object_type, (None, None))
    if table is None or not ids.get(field):
        return True
    return conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (ids[field],)).fetchone() is not None


# -- resolved references ----------------------------------------------------------------------


def get_resolved_ref(conn: sqlite3.Connection, ref_key: str) -> dict[str, Any] | None:
    return _one(conn, "SELECT * FROM resolved_refs WHERE ref_key = ?", (ref_key,), ("ids", "info"))


def save_resolved_ref(conn: sqlite3.Connection, ref_key: str, object_type: str, ids: dict[str, str], info: dict[str, Any]) -> None:
    with write_transaction(conn):
        conn.execute(
            "INSERT OR IGNORE INTO resolved_refs (ref_key, object_type, ids, info, created) VALUES (?, ?, ?, ?, ?)",
            (ref_key, object_type, _json(ids), _json(info), _now()),
        )
