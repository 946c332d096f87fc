"""``LocalStore``: the embedded store's public face.

One SQLite database (``location.database_path()`` unless a path is given) holding projects,
experiments, datasets, the rows of all of them with their version history, and spill
bookkeeping. Safe to share between threads and across ``fork``; several processes may write at
once. Every method returns plain dicts / strings; transaction ids are 19-digit strings.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any, Sequence

from braintrust.delivery.backend import EXPERIMENT
from braintrust.store import attachments, catalog, runs, spills
from braintrust.store import rows as row_ops
from braintrust.store.connection import (
    BUSY_TIMEOUT_SECONDS, ConnectionPool, StoreError, busy_timeout_seconds, waiting_at_most, write_transaction,
)
from braintrust.store.location import database_path

__all__ = ["LocalStore", "StoreError"]


#: How long ``compact`` waits for readers before leaving the file's shrinking to the last of them.
CHECKPOINT_WAIT_SECONDS = 2.0


def _absolute(path: Path) -> Path:
    """``path`` resolved, but a symbolic link to nothing kept as a link (the store refuses to
    be created through it: see ``connection._refusal``)."""
    path = path.expanduser()
    if path.is_symlink() and not path.exists():
        return path.parent.resolve() / path.name
    return path.resolve()


class LocalStore:
    """The local store at ``path`` (a database file), created on first use."""

    def __init__(self, path: str | os.PathLike[str] | None = None, timeout_seconds: float | None = None):
        """``timeout_seconds``: how long a write waits for other writers (default 30 s, or
        ``BRAINTRUST_LOCAL_BUSY_TIMEOUT``; a lock found stuck is waited for less, see
        ``connection._begin``)."""
        self.path = _absolute(Path(path)) if path is not None else database_path()
        self._setting_error: StoreError | None = None
        if timeout_seconds is None:
            try:
                timeout_seconds = busy_timeout_seconds()
            except StoreError as exc:  # said by every use of the store, as its other errors are
                self._setting_error, timeout_seconds = exc, BUSY_TIMEOUT_SECONDS
        self.timeout_seconds = timeout_seconds
        self._pool = ConnectionPool(self.path, self.timeout_seconds)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.path)!r})"

    @property
    def directory(self) -> Path:
        return self.path.parent

    def connection(self):
        """This thread's (and process's) connection, opened and migrated on first use."""
        if self._setting_error is not None:
            raise self._setting_error
        return self._pool.get()

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> "LocalStore":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- projects, experiments, datasets ------------------------------------------------------

    def get_or_create_project(self, name: str | None = None, id: str | None = None) -> dict[str, Any]:
        return catalog.get_or_create_project(self.connection(), name=name, id=id)

    def get_project(self, id: str | None = None, name: str | None = None) -> dict[str, Any] | None:
        return catalog.get_project(self.connection(), id=id, name=name)

    def list_projects(self) -> list[dict[str, Any]]:
        return catalog.list_projects(self.connection())

    def create_experiment(
        self,
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
    ) -> dict[str, Any]:
        """See ``catalog.create_experiment``: unique names, ``ensure_new=False`` reuses by name.
        Made directly (by a tool, not by a run that logs and summarizes it): never "running"."""
        return catalog.create_experiment(
            self.connection(), project_id, name=name, ensure_new=ensure_new, description=description,
            metadata=metadata, tags=tags, base_exp_id=base_exp_id, dataset_id=dataset_id,
            dataset_version=dataset_version, repo_info=repo_info, public=public, by_a_run=False,
        )

    def get_experiment(
        self, id: str | None = None, project_id: str | None = None, name: str | None = None
    ) -> dict[str, Any] | None:
        return catalog.get_experiment(self.connection(), id=id, project_id=project_id, name=name)

    def list_experiments(self, project_id: str | None = None) -> list[dict[str, Any]]:
        return catalog.list_experiments(self.connection(), project_id)

    def earlier_experiments(self, experiment_id: str, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` experiments created before this one in its project, newest first."""
        return catalog.earlier_experiments(self.connection(), experiment_id, limit)

    def experiments_beyond(self, keep: int, project_id: str | None = None, written_since: str | None = None,
                           spared: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
        """What ``prune_experiments(keep, project_id)`` would delete, oldest first."""
        return catalog.experiments_beyond(self.connection(), keep, project_id, written_since, spared)

    def running_experiments(self, experiment_ids: Any) -> dict[str, int]:
        """Those of ``experiment_ids`` a live run (another process) is still writing, with its pid
        (see ``runs``)."""
        return runs.running(self.connection(), experiment_ids)

    def finish_experiment(self, experiment_id: str) -> None:
        """Mark ``experiment_id`` finished if this process created it (its summary: the run is
        done); never fails (a read-only or busy store keeps the mark until the process ends)."""
        conn = self.connection()
        try:
            if not runs.created_here(conn, experiment_id):
                return
            with waiting_at_most(conn, 1.0, self.timeout_seconds), write_transaction(conn):
                runs.finish(conn, experiment_id)
        except (StoreError, sqlite3.Error):
            pass

    def recently_written(self, experiments: list[dict[str, Any]], since: str) -> set[str]:
        """The ids of ``experiments`` created or written to since ``since`` (an ISO time)."""
        return catalog.recently_written(self.connection(), experiments, since)

    def prune_experiments(self, keep: int, project_id: str | None = None, written_since: str | None = None,
                          spared: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
        """Delete every experiment but the ``keep`` newest of each project (of ``project_id``
        only, if given), with their rows and the attachments no other row refers to, in one
        transaction; returns the deleted records, oldest first. Datasets and project logs are
        left as they are; so are experiments created or written to since ``written_since``."""
        if keep < 1:
            raise ValueError(f"keep must be at least 1 (the newest experiment is the next run's baseline), not {keep!r}.")
        conn = self.connection()
        with write_transaction(conn):
            doomed = catalog.experiments_beyond(conn, keep, project_id, written_since, spared)
            ids = [record["id"] for record in doomed]
            candidates = attachments.keys_in_objects(conn, EXPERIMENT, ids)
            row_ops.delete_objects(conn, EXPERIMENT, ids)
            catalog.delete_experiments(conn, ids)
            attachments.delete_unreferenced(conn, candidates)
        return doomed

    def holds_object(self, object_type: str, ids: dict[str, str]) -> bool:
        """Whether the object rows with these ids belong to is here (see ``catalog.holds_object``)."""
        return catalog.holds_object(self.connection(), object_type, ids)

    def compact(self) -> tuple[int, bool]:
        """Give the space of deleted rows back to the file system (``VACUUM``): returns the
        database's size in bytes now, and whether the file already has that size (False while
        another process reads the store: it shrinks when the last one closes it). Raises
        ``sqlite3.OperationalError`` when another process is writing meanwhile."""
        conn = self.connection()
        conn.execute("VACUUM")
        with waiting_at_most(conn, CHECKPOINT_WAIT_SECONDS, self.timeout_seconds):
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        size = conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
        return size, not busy

    def put_attachment(self, key: str, filename: str, content_type: str, data: bytes) -> None:
        attachments.put_attachment(self.connection(), key, filename, content_type, data)

    def get_attachment(self, key: str) -> dict[str, Any] | None:
        return attachments.get_attachment(self.connection(), key)

    def get_or_create_dataset(
        self, project_id: str, name: str, description: str | None = None, metadata: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return catalog.get_or_create_dataset(self.connection(), project_id, name, description, metadata)

    def get_dataset(
        self, id: str | None = None, project_id: str | None = None, name: str | None = None
    ) -> dict[str, Any] | None:
        return catalog.get_dataset(self.connection(), id=id, project_id=project_id, name=name)

    def list_datasets(self, project_id: str | None = None) -> list[dict[str, Any]]:
        return catalog.list_datasets(self.connection(), project_id)

    # -- rows ---------------------------------------------------------------------------------

    def write_rows(
        self,
        rows: Sequence[dict[str, Any]],
        encoded: Sequence[bytes] | None = None,
        timeout_seconds: float | None = None,
    ) -> str:
        """Write a batch in one transaction with the server's merge semantics; returns its xact id.

        ``encoded[i]`` (optional) is ``rows[i]`` as JSON, stored as is for plain rows.
        ``timeout_seconds`` bounds the wait for other writers (default: the store's timeout).
        Raises ``ValueError`` for a row with no id or object, ``sqlite3.Error`` on I/O trouble.
        """
        conn = self.connection()
        with waiting_at_most(conn, timeout_seconds, self.timeout_seconds):
            return str(row_ops.write_rows(conn, rows, encoded))

    def append_entries(self, entries: Sequence[tuple], timeout_seconds: float | None = None) -> str:
        """Append row-log entries made by ``rows.entry_params`` in one transaction; returns its
        xact id. ``timeout_seconds`` as for ``write_rows``."""
        conn = self.connection()
        with waiting_at_most(conn, timeout_seconds, self.timeout_seconds):
            return str(row_ops.append_entries(conn, entries))

    def fetch_rows(
        self,
        object_type: str,
        object_id: str,
        version: str | int | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """``(rows, next_cursor)``: current rows, or those as of xact id ``version``."""
        return row_ops.fetch_rows(self.connection(), object_type, object_id, version, limit, cursor)

    def iter_rows(self, object_type: str, object_id: str, version: str | int | None = None, batch_size: int = 1000) -> Any:
        """All the rows of ``fetch_rows``, ``batch_size`` at a time (see ``rows.iter_rows``)."""
        return row_ops.iter_rows(self.connection(), object_type, object_id, version, batch_size)

    def latest_traces(self, object_type: str, object_id: str, count: int) -> list[dict[str, Any]]:
        """The current rows of the ``count`` traces written last (see ``rows.latest_traces``)."""
        return row_ops.latest_traces(self.connection(), object_type, object_id, count)

    def trace_rows(self, object_type: str, object_id: str, root_span_ids: Any) -> list[dict[str, Any]]:
        """The current rows of these traces (see ``rows.trace_rows``)."""
        return row_ops.trace_rows(self.connection(), object_type, object_id, root_span_ids)

    def summary_rows(self, object_type: str, object_id: str) -> Any:
        """Rows reduced to what a summary reads (see ``rows.summary_rows``), streamed."""
        return row_ops.summary_rows(self.connection(), object_type, object_id)

    def count_rows(self, object_type: str, object_id: str) -> int:
        return row_ops.count_rows(self.connection(), object_type, object_id)

    def max_xact_id(self, object_type: str, object_id: str) -> str | None:
        return row_ops.max_xact_id(self.connection(), object_type, object_id)

    def last_xact_id(self) -> str:
        """The newest transaction id of the whole store."""
        return str(row_ops.last_xact_id(self.connection()))

    # -- spills -------------------------------------------------------------------------------

    def record_spill(self, path: str, reason: str, row_count: int, byte_count: int,
                     ref_key: str | None = None, object_type: str | None = None) -> None:
        spills.record_spill(self.connection(), path, reason, row_count, byte_count, ref_key, object_type)

    def mark_spill_replayed(self, path: str, xact_id: str | int | None = None) -> None:
        spills.mark_spill_replayed(self.connection(), path, xact_id)

    def list_spills(self, replayed: bool | None = None) -> list[dict[str, Any]]:
        return spills.list_spills(self.connection(), replayed)
