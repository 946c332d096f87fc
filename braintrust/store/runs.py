"""Which experiments a live run is still writing.

Creating an experiment records the process that made it (in ``meta``, under
``running:<experiment id>``: no schema change, older versions ignore the key). The record goes
when that process summarizes the experiment (its run is done), or with the experiment. An
experiment counts as running while its record is there and the process is still alive on this
host: a run that crashed or was killed does not stay "running". The process asking never
counts its own experiments as running (a script that runs two evals compares the second with
the first), and a process on another host (a store on a shared disk) cannot be checked, so it
does not count either.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from typing import Iterable

_PREFIX = "running:"


def _started(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, Linux), telling a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None) -> bool:
    if os.name != "posix":  # (on Windows os.kill(pid, 0) would end the process: not checked, as on another host)
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # (another user's process: alive)
        pass
    return started is None or _started(pid) in (None, started)


def _this_process() -> dict[str, object]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": _started(os.getpid())}


def record_creator(conn: sqlite3.Connection, experiment_id: str) -> None:
    """Note that this process is writing ``experiment_id`` (inside the creating transaction)."""
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                 (_PREFIX + experiment_id, json.dumps(_this_process(), separators=(",", ":"))))


def created_here(conn: sqlite3.Connection, experiment_id: str) -> bool:
    """Whether this process created ``experiment_id`` and has not marked it finished."""
    creator = _creator(conn, experiment_id)
    return creator is not None and _is_this_process(creator)


def finish(conn: sqlite3.Connection, experiment_id: str) -> None:
    """Its run is done: no longer running (a write; the caller makes it a transaction)."""
    conn.execute("DELETE FROM meta WHERE key = ?", (_PREFIX + experiment_id,))


def forget(conn: sqlite3.Connection, experiment_ids: Iterable[str]) -> None:
    """Drop the records of deleted experiments (inside the deleting transaction)."""
    conn.executemany("DELETE FROM meta WHERE key = ?", [(_PREFIX + e,) for e in experiment_ids])


def running(conn: sqlite3.Connection, experiment_ids: Iterable[str]) -> dict[str, int]:
    """Those of ``experiment_ids`` another live process on this host is writing, with its pid."""
    found: dict[str, int] = {}
    for experiment_id in experiment_ids:
        creator = _creator(conn, experiment_id)
        if creator is None or _is_this_process(creator) or creator.get("host") != socket.gethostname():
            continue
        pid = creator.get("pid")
        if isinstance(pid, int) and _alive(pid, creator.get("started")):  # type: ignore[arg-type]
            found[experiment_id] = pid
    return found


def _creator(conn: sqlite3.Connection, experiment_id: str) -> dict[str, object] | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (_PREFIX + experiment_id,)).fetchone()
    if row is None:
        return None
    try:
        creator = json.loads(row[0])
    except ValueError:
        return None
    return creator if isinstance(creator, dict) else None


def _is_this_process(creator: dict[str, object]) -> bool:
    here = _this_process()
    return creator.get("pid") == here["pid"] and creator.get("host") == here["host"] and creator.get("started") == here["started"]
