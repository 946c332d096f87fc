"""``LocalBackend``: the embedded store as a destination for rows (used when there is no API key).

Resolving an ``ObjectRef`` finds or creates the project / experiment / dataset in the store and
remembers the result under ``ref.key``, so resolving the same reference again (a replay in
another process, say) never creates a second experiment. ``export`` writes a batch in one
transaction: in this process at first, then, once ``WRITER_AFTER_ROWS`` rows were written, in a
writer process (``store.writer_process``) that appends on another core while this one goes on
logging. If that process cannot start or goes away, batches are written here again (with one
warning). A batch it may already have written is then written a second time; the merge
semantics make that harmless. Thread-safe (one SQLite connection per thread) and fork-safe (a
child process opens its own connections and starts its own writer).
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import threading
from typing import Any

from braintrust.delivery.backend import (
    DATASET,
    EXPERIMENT,
    PLAYGROUND_LOGS,
    PROJECT_LOGS,
    BackendError,
    Deadline,
    ExportResult,
    ObjectNotFound,
    ObjectRef,
)
from braintrust.store import catalog, writer_process
from braintrust.store import rows as row_ops
from braintrust.store.connection import StoreError, waiting_at_most, write_transaction
from braintrust.store.merge import object_of
from braintrust.store.sqlite_store import LocalStore
from braintrust.store.writer_process import WriterGone, WriterProcess

log = logging.getLogger("braintrust")

REASON = "local_store"
#: Rows a process writes itself before it starts a writer process: fewer would not repay the
#: process's start (~0.1 s of CPU). Tests lower it to exercise the writer with small batches.
WRITER_AFTER_ROWS = 2000
MAX_BATCH_BYTES = 64 * 1024 * 1024
#: Rows per transaction at least: the sender's whole chunk (``processor.CHUNK_ITEMS``). A row
#: count means nothing to SQLite, and every transaction is a round trip to the writer process:
#: 100-row transactions made the logger benchmark ~15% slower.
MIN_BATCH_ROWS = 2000
_FIX = (
    "check that the folder exists, is writable and is on a local disk, "
    "or set BRAINTRUST_LOCAL_DIR to another folder"
)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _why_with_fix(exc: BaseException) -> str:
    """The error and what to do (a ``StoreError`` names its own fix)."""
    if isinstance(exc, StoreError):
        return _one_line(exc).rstrip(".")
    if "database is locked" in str(exc):
        return (f"{_one_line(exc)}; find the process that holds the store (another test run?) and let it finish "
                "or stop it, then `braintrust replay` sends the spilled rows")
    if "disk is full" in str(exc) or getattr(exc, "errno", None) == errno.ENOSPC:
        return (f"{_one_line(exc)}; free space on the disk that holds the store or set BRAINTRUST_LOCAL_DIR "
                "to a folder on another disk, then `braintrust replay` sends the spilled rows")
    return f"{_one_line(exc)}; {_FIX}"


class LocalBackend:
    """Rows go to the SQLite store at ``path`` (default: ``location.database_path()``)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, store: LocalStore | None = None):
        self._owns_store = store is None
        self.store = store if store is not None else LocalStore(path)
        self.label = str(self.store.directory)
        self._writer_lock = threading.Lock()
        self._writer: WriterProcess | None = None
        self._writer_failed = False
        self._rows_written_here = 0
        self.rows_by_writer = 0  # rows the writer process wrote (diagnostics and tests)
        #: Experiments this backend found or created: one missing later was pruned meanwhile.
        self._experiments_resolved: set[str] = set()

    def __repr__(self) -> str:
        return f"LocalBackend({str(self.store.path)!r})"

    def describe(self) -> dict[str, Any]:
        return {"kind": "local", "path": str(self.store.path)}

    def max_batch_bytes(self, deadline: Deadline) -> int:
        return MAX_BATCH_BYTES

    def max_batch_rows(self, configured: int) -> int:
        return max(configured, MIN_BATCH_ROWS)

    # -- resolving objects --------------------------------------------------------------------

    def resolve(self, ref: ObjectRef, deadline: Deadline) -> dict[str, str]:
        """Find or create the object of ``ref``; sets ``ref.ids`` and ``ref.info``."""
        if ref.ids:
            return ref.ids
        try:
            conn = self.store.connection()
            create_args = self._with_repo_info(conn, ref)
            with waiting_at_most(conn, deadline.remaining(), self.store.timeout_seconds), write_transaction(conn):
                saved = catalog.get_resolved_ref(conn, ref.key)
                if saved is not None:
                    ids, info = saved["ids"], saved["info"]
                else:
                    ids, info = self._create(conn, ref.object_type, create_args)
                    catalog.save_resolved_ref(conn, ref.key, ref.object_type, ids, info)
        except (sqlite3.Error, OSError, StoreError) as exc:
            where = "" if isinstance(exc, StoreError) else f" in the local Braintrust store {self.store.path}"
            raise BackendError(
                f"could not open or create the {ref.object_type}{where}: {_why_with_fix(exc)}.",
                REASON,
            ) from exc
        ref.ids = dict(ids)
        ref.info.update(info)
        if ref.object_type == EXPERIMENT and ids.get("experiment_id"):
            self._experiments_resolved.add(ids["experiment_id"])
        return ref.ids

    @staticmethod
    def _with_repo_info(conn: sqlite3.Connection, ref: ObjectRef) -> dict[str, Any]:
        """An experiment about to be created gets its git metadata, as the server's do (all of
        it: the local store has no organization policy; ``git_metadata_settings`` still applies).
        Collected before the write transaction, which other processes wait on."""
        args = ref.create_args
        if ref.object_type != EXPERIMENT or args.get("open") or args.get("repo_info") is not None:
            return args
        if catalog.get_resolved_ref(conn, ref.key) is not None:  # created by another process
            return args
        from braintrust import git

        settings = git.combine_settings(None, args.get("git_metadata_settings"))
        if settings.get("collect") == "none":
            return args
        return {**args, "repo_info": git.collect_repo_info(settings, args.get("cwd"))}

    def _create(self, conn: sqlite3.Connection, object_type: str, args: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
        if object_type == PLAYGROUND_LOGS:
            session = args.get("prompt_session_id")
            if not session:
                raise StoreError("playground logs need a 'prompt_session_id' in create_args.")
            return {"prompt_session_id": str(session), "log_id": "x"}, {"prompt_session_id": str(session)}
        if object_type == DATASET and args.get("dataset_id"):
            return self._existing_dataset(conn, str(args["dataset_id"]))
        project = catalog.get_or_create_project(conn, name=args.get("project_name"), id=args.get("project_id"))
        info: dict[str, Any] = {"project_id": project["id"], "project_name": project["name"], "project_record": catalog.api_form(project)}
        if object_type == PROJECT_LOGS:
            return {"project_id": project["id"], "log_id": "g"}, info
        if object_type == EXPERIMENT:
            return self._create_experiment(conn, project["id"], args, info)
        if object_type == DATASET:
            dataset = catalog.get_or_create_dataset(
                conn, project["id"], args.get("dataset_name") or "logs",
                description=args.get("description"), metadata=args.get("metadata"),
            )
            info.update(dataset_id=dataset["id"], dataset_name=dataset["name"], record=catalog.api_form(dataset))
            return {"dataset_id": dataset["id"]}, info
        raise StoreError(f"unknown object type {object_type!r}; expected one of "
                         f"{EXPERIMENT}, {PROJECT_LOGS}, {PLAYGROUND_LOGS}, {DATASET}.")

    @staticmethod
    def _existing_dataset(conn: sqlite3.Connection, dataset_id: str) -> tuple[dict[str, str], dict[str, Any]]:
        """``init_dataset(dataset_id=...)``: that dataset, never a new one."""
        dataset = catalog.get_dataset(conn, id=dataset_id)
        if dataset is None:
            raise ObjectNotFound(f"Dataset {dataset_id!r} not found in the local store; `braintrust list` shows the datasets it holds.")
        project = catalog.get_project(conn, id=dataset["project_id"]) or {"id": dataset["project_id"], "name": None}
        info = {"project_id": project["id"], "project_name": project["name"], "project_record": catalog.api_form(project),
                "dataset_id": dataset["id"], "dataset_name": dataset["name"], "record": catalog.api_form(dataset)}
        return {"dataset_id": dataset["id"]}, info

    def _create_experiment(self, conn: sqlite3.Connection, project_id: str, args: dict[str, Any], info: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
        if args.get("open"):
            found = catalog.get_experiment(conn, project_id=project_id, name=args.get("experiment_name"))
            if found is None:
                raise ObjectNotFound(
                    f"Experiment {args.get('experiment_name')!r} not found in project {info.get('project_name')!r} "
                    "of the local store; `braintrust list` shows the experiments it holds."
                )
            info.update(experiment_id=found["id"], experiment_name=found["name"], base_exp_id=found.get("base_exp_id"),
                        record=catalog.api_form(found))
            return {"experiment_id": found["id"]}, info
        base_exp_id = args.get("base_exp_id")
        if base_exp_id and catalog.get_experiment(conn, id=base_exp_id) is None:
            log.warning("braintrust: base experiment id %r not found in the local store; comparing with the default.", base_exp_id)
            base_exp_id = None
        if not base_exp_id and args.get("base_experiment"):
            base = catalog.get_experiment(conn, project_id=project_id, name=args["base_experiment"])
            base_exp_id = base["id"] if base else None  # like the SDK: an unknown base is no base
            if base is None:  # (and a warning, as the HTTP backend gives)
                log.warning("braintrust: base experiment %r not found in project %r; comparing with the default.",
                            args["base_experiment"], info.get("project_name"))
        ensure_new = args.get("ensure_new")
        if ensure_new is None:
            ensure_new = not args.get("update", False)
        experiment = catalog.create_experiment(
            conn,
            project_id,
            name=args.get("experiment_name"),
            ensure_new=bool(ensure_new),
            description=args.get("description"),
            metadata=args.get("metadata"),
            tags=args.get("tags"),
            base_exp_id=base_exp_id,
            dataset_id=args.get("dataset_id"),
            dataset_version=args.get("dataset_version"),
            repo_info=args.get("repo_info"),
            public=bool(args.get("public", False)),
        )
        base = catalog.get_experiment(conn, id=experiment["base_exp_id"]) if experiment["base_exp_id"] else None
        info.update(
            experiment_id=experiment["id"],
            experiment_name=experiment["name"],
            base_exp_id=experiment["base_exp_id"],
            base_experiment_name=base["name"] if base else None,
            record=catalog.api_form(experiment),
        )
        return {"experiment_id": experiment["id"]}, info

    # -- rows ---------------------------------------------------------------------------------

    def export(self, rows: list[dict[str, Any]], encoded: list[bytes], deadline: Deadline) -> ExportResult:
        """Write the batch in one transaction. Rows naming no object fail alone; when the store
        cannot be written every row fails, with reason ``local_store`` (or ``deadline``)."""
        if not rows:
            return ExportResult(accepted=0)
        if deadline.expired():
            return ExportResult(failed=[(row, "deadline") for row in rows],
                                error="the flush deadline passed before the local store was written")
        failed: list[tuple[dict[str, Any], str]] = []
        error = None
        try:
            rows, encoded, failed, error = self._without_pruned_experiments(rows, encoded)
            try:
                if rows:
                    self._write(rows, encoded, deadline)
            except ValueError:  # some rows name no object: nothing was written, keep the others
                rows, encoded, invalid, why = self._split_invalid(rows, encoded)
                failed, error = failed + invalid, "; ".join(e for e in (error, why) if e) or None
                if rows:
                    self._write(rows, encoded, deadline)
        except (sqlite3.Error, OSError, ValueError, StoreError) as exc:
            reason = "deadline" if deadline.expired() else REASON
            where = "" if isinstance(exc, StoreError) else f" to the local Braintrust store {self.store.path}"
            return ExportResult(
                failed=failed + [(row, reason) for row in rows],
                error=f"could not write {len(rows)} rows{where}: {_why_with_fix(exc)}.",
            )
        return ExportResult(accepted=len(rows), failed=failed, error=error)

    def _without_pruned_experiments(self, rows: list[dict[str, Any]], encoded: list[bytes] | None) -> tuple[
            list[dict[str, Any]], list[bytes] | None, list[tuple[dict[str, Any], str]], str | None]:
        """The rows whose experiment is still in the store, and the others failed: an experiment
        this backend resolved and that was deleted since (``braintrust prune``) while this process
        logs into it would hold rows no command shows. They spill, and ``braintrust replay`` writes them to an experiment of its name."""
        experiment_ids = {row.get("experiment_id") for row in rows} & self._experiments_resolved
        gone = {eid for eid in experiment_ids if not self.store.holds_object(EXPERIMENT, {"experiment_id": eid})}
        if not gone:
            return rows, encoded, [], None
        keep = [i for i, row in enumerate(rows) if row.get("experiment_id") not in gone]
        failed = [(row, REASON) for row in rows if row.get("experiment_id") in gone]
        error = (f"{len(failed)} rows were not written: their experiment was deleted from the local store (braintrust "
                 "prune) while this process logged into it; `braintrust replay` writes them to one of its name")
        return [rows[i] for i in keep], [encoded[i] for i in keep] if encoded is not None else None, failed, error

    def store_attachment(self, reference: dict[str, Any], data: bytes, deadline: Deadline) -> None:
        if deadline.expired():
            raise BackendError("the flush deadline passed before the attachment was stored", "deadline")
        try:
            conn = self.store.connection()
            with waiting_at_most(conn, deadline.remaining(), self.store.timeout_seconds):
                self.store.put_attachment(reference["key"], reference["filename"], reference["content_type"], data)
        except (sqlite3.Error, OSError, StoreError) as exc:
            raise BackendError(
                f"could not store attachment {reference['filename']!r} in the local Braintrust store "
                f"{self.store.path}: {_why_with_fix(exc)}.", "deadline" if deadline.expired() else REASON,
            ) from None

    def _write(self, rows: list[dict[str, Any]], encoded: list[bytes] | None, deadline: Deadline) -> None:
        entries = row_ops.entry_params(rows, encoded)  # ValueError before anything is written
        writer = self._ready_writer()
        if writer is not None:
            try:
                # (No deadline outside a flush: then the store's own wait for other writers.)
                writer.append(entries, max(0.001, min(deadline.remaining(), self.store.timeout_seconds)))
                self.rows_by_writer += len(entries)
                return
            except WriterGone:
                self._give_up_writer(writer)
        self.store.append_entries(entries, timeout_seconds=max(0.001, deadline.remaining()))
        self._rows_written_here += len(entries)

    def _ready_writer(self) -> WriterProcess | None:
        """The writer process if it takes requests now. One is started once enough rows were
        written here; until it is ready (a moment later), batches are written here."""
        if self._writer_failed or not writer_process.SUPPORTED:
            return None
        with self._writer_lock:
            writer = self._writer
            if writer is None:
                if self._rows_written_here < WRITER_AFTER_ROWS:
                    return None
                try:
                    self._writer = WriterProcess(self.store.path)
                except Exception as exc:  # (no interpreter to run, no memory, no processes...)
                    self._writer_failed = True
                    log.warning("braintrust: could not start the local store's writer process (%s); "
                                "rows are written in this process.", _one_line(exc))
                return None
        if writer.ready():
            return writer
        if writer.gone:
            self._give_up_writer(writer)
        return None

    def _give_up_writer(self, writer: WriterProcess) -> None:
        with self._writer_lock:
            if self._writer_failed:
                return
            self._writer_failed = True
        if not writer.closed_by_us:
            log.warning("braintrust: the local store's writer process stopped (%s); rows are written "
                        "in this process from now on.", writer.gone_reason)

    @staticmethod
    def _split_invalid(rows: list[dict[str, Any]], encoded: list[bytes] | None) -> tuple[list, list | None, list, str]:
        good, good_encoded, failed, first_error = [], [], [], ""
        for index, row in enumerate(rows):
            try:
                object_of(row)
            except ValueError as exc:
                failed.append((row, REASON))
                first_error = first_error or str(exc)
            else:
                good.append(row)
                if encoded is not None:
                    good_encoded.append(encoded[index])
        count = f"{len(failed)} row was" if len(failed) == 1 else f"{len(failed)} rows were"
        error = f"{count} not written to the local store: {first_error}" if failed else None
        return good, (good_encoded if encoded is not None else None), failed, error

    def close(self) -> None:
        with self._writer_lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()
        if self._owns_store:
            self.store.close()
