"""``braintrust prune``: delete old experiments from the local store.

Every run of a suite adds an experiment, so a store used at a laptop grows with every run. This
keeps the newest ``--keep N`` experiments of each project (or of one), deletes the older ones with
their rows (and the attachments only they referred to), then compacts the file. An older
experiment written to in the last ten minutes is kept (a run may still be logging into it), and so are
one a live run is writing and its baseline (`store.runs`). Datasets and project logs are not touched.
"""

from __future__ import annotations

import os
import sqlite3
import time
from typing import IO, Any

from braintrust.cli.store_commands import _existing_project
from braintrust.store.sqlite_store import LocalStore
from braintrust.tracing.timestamps import iso_utc


def _megabytes(path: Any) -> float:
    return sum(os.path.getsize(f"{path}{suffix}") for suffix in ("", "-wal") if os.path.exists(f"{path}{suffix}")) / 1e6


def _per_project(local: LocalStore, records: list[dict[str, Any]]) -> str:
    names = {p["id"]: p["name"] for p in local.list_projects()}
    counts: dict[str, int] = {}
    for record in records:
        name = names.get(record["project_id"], record["project_id"])
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{name}: {count}" for name, count in counts.items())


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n != 1 else ''}"


#: Experiments created or written to this recently are never pruned: a run may still be logging into them.
ACTIVE_SECONDS = 600
#: What to do when the store's disk refused a write (compacting copies the whole store first).
_FREE_SPACE = ("free space on its disk (and in the temporary folder: compacting copies the store there first), "
               "then run `braintrust prune` again")


def _write_failed(exc: sqlite3.OperationalError) -> bool:
    """The disk refused a write (full, or past a file size limit), as opposed to a lock held."""
    return "disk is full" in str(exc) or "disk I/O error" in str(exc)


def _live_runs(local: LocalStore, project_id: str | None) -> tuple[dict[str, int], dict[str, str]]:
    """The experiments of the scope a live run is still writing, with its process id (never
    pruned), and the baselines those runs compare with, with the run's name (kept too: their
    summaries would otherwise compare with another run, or with none)."""
    from braintrust.baseline import default_baseline

    experiments = {record["id"]: record for record in local.list_experiments(project_id)}
    live = local.running_experiments(list(experiments))
    spared: dict[str, str] = {}
    for experiment_id in live:
        base = experiments[experiment_id].get("base_exp_id") or (default_baseline(local, experiment_id) or {}).get("id")
        if base and base not in live:
            spared[base] = experiments[experiment_id]["name"]
    return live, spared


def _say_kept(beyond: list[dict[str, Any]], live: dict[str, int], spared: dict[str, str], err: IO[str]) -> None:
    for record in beyond:
        if record["id"] in live:
            why = f"a run (process {live[record['id']]}) is still writing it"
        elif record["id"] in spared:
            why = f"it is the baseline of {spared[record['id']]}, which a run is still writing"
        else:
            continue
        err.write(f"braintrust prune: kept {record['name']}: {why}; prune again once that run has finished.\n")


def prune(local: LocalStore, project: str | None, keep: int, dry_run: bool, out: IO[str], err: IO[str]) -> int:
    """Delete all but the ``keep`` newest experiments of each project (of ``project``), except
    those written to in the last ``ACTIVE_SECONDS``; with ``dry_run``, only say which. Exit
    status 0 (``LookupError`` for an unknown project)."""
    chosen = _existing_project(local, project) if project is not None else None
    scope = f"project {chosen['name']}" if chosen else "each project"
    project_id = chosen["id"] if chosen else None
    since = iso_utc(time.time() - ACTIVE_SECONDS)
    beyond = local.experiments_beyond(keep, project_id)
    live, spared = _live_runs(local, project_id)
    _say_kept(beyond, live, spared, err)
    before_live = len(beyond)
    beyond = [record for record in beyond if record["id"] not in live and record["id"] not in spared]
    recent = local.recently_written(beyond, since)
    active_records = [record for record in beyond if record["id"] in recent]
    active = [record["name"] for record in active_records]
    if active:
        err.write(f"braintrust prune: kept {len(active)} older experiment{'s' if len(active) != 1 else ''} written to in the last "
                  f"{ACTIVE_SECONDS // 60} minutes, which a run may still be logging into ({', '.join(active[:5])}"
                  f"{', ...' if len(active) > 5 else ''}); prune again later to delete them.\n")
    where = f"of {scope}" if chosen else f"({_per_project(local, active_records)})"  # (not "of each project": a total)
    nothing = (f"Nothing to prune yet: {_count(len(active), 'older experiment')} {where} "
               f"{'was' if len(active) == 1 else 'were'} written to in the last {ACTIVE_SECONDS // 60} minutes.\n"
               if active else f"Nothing to prune: no more than {_count(keep, 'experiment')} in {scope}"
               f"{' besides those kept for runs still under way' if len(beyond) < before_live else ''}.\n")
    doomed = local.experiments_beyond(keep, project_id, since, frozenset(spared))
    if not doomed:  # (without taking the write lock: another process may hold it for long)
        out.write(nothing)
        return 0
    if dry_run:
        out.write(f"Would delete {_count(len(doomed), 'experiment')} ({_per_project(local, doomed)}), keeping the newest {keep} of {scope}:\n")
        out.write("".join(f"  {record['name']}\n" for record in doomed))
        return 0
    before = _megabytes(local.path)
    try:
        deleted = local.prune_experiments(keep, project_id, since, frozenset(spared))
    except sqlite3.OperationalError as exc:
        if "readonly" in str(exc):
            err.write(f"braintrust prune: nothing was deleted: {local.path} cannot be written here ({exc}); "
                      "prune it where its folder can be written.\n")
        elif _write_failed(exc):
            err.write(f"braintrust prune: nothing was deleted: {local.path} could not be written ({exc}); {_FREE_SPACE}.\n")
        else:
            err.write(f"braintrust prune: nothing was deleted: the store is busy ({exc}); another process (a test run?) "
                      "is writing to it: try again when it is done.\n")
        return 1
    if not deleted:
        out.write(nothing)
        return 0
    summary = f"Deleted {_count(len(deleted), 'experiment')} ({_per_project(local, deleted)}), kept the newest {keep} of {scope}"
    try:
        size, shrunk = local.compact()
    except sqlite3.OperationalError as exc:
        out.write(f"{summary}.\n")
        if _write_failed(exc):
            err.write(f"braintrust prune: the store file was not compacted ({exc}); later runs reuse the space, "
                      f"or {_FREE_SPACE}.\n")
        else:
            err.write(
                f"braintrust prune: the store file was not compacted ({exc}: another process is writing to it); later runs "
                "reuse the space, or run `braintrust prune` again once nothing else uses the store.\n"
            )
        return 0
    shrinks = "went" if shrunk else "goes, once the other process reading it closes it,"
    out.write(f"{summary}; the store {shrinks} from {before:.1f} MB to {size / 1e6:.1f} MB.\n")
    return 0
