"""``braintrust eval --watch``: run the evals, then again whenever a watched Python file changes.

Each run is a fresh ``braintrust eval`` process with the same arguments (without ``--watch``),
so edited modules are imported anew and one run's state never leaks into the next. Watched:
every ``*.py`` under the given folders, and the ``*.py`` beside each given file (the modules it
likely imports), skipping hidden folders, caches, ``site-packages`` and virtual environments.
Files are polled every ``POLL_SECONDS`` (no dependency). Ctrl-C stops the watch: exit status 130.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from braintrust.eval.reporters import eprint

POLL_SECONDS = 0.5
#: After a change, wait this long for the editor to finish writing before running again.
SETTLE_SECONDS = 0.2
#: How long a run may take to stop on its own after Ctrl-C (it flushes what already ran).
STOP_GRACE_SECONDS = 10.0
EXIT_INTERRUPTED = 130
_SKIPPED_FOLDERS = {"__pycache__", "site-packages", "node_modules"}


def watch(arguments: list[str], paths: list[str]) -> int:
    """Run ``braintrust eval *arguments`` now and after every change under ``paths``."""
    command = [sys.executable, "-m", "braintrust", "eval", *arguments]
    seen = watched_files(paths)
    try:
        while True:
            status = _run(command)
            eprint(f"braintrust eval --watch: exit status {status}; watching {len(seen)} Python files for changes (Ctrl-C to stop)")
            seen, changed = _wait_for_change(paths, seen)
            eprint(f"braintrust eval --watch: {changed} changed; running again")
    except KeyboardInterrupt:
        eprint("\nbraintrust eval --watch: stopped")
        return EXIT_INTERRUPTED


def watched_files(paths: list[str]) -> dict[Path, int]:
    """``{file: modification time}`` of every watched file."""
    found: dict[Path, int] = {}
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            candidates = [path, *path.parent.glob("*.py")]
        elif path.is_dir():
            candidates = list(_python_files_under(path))
        else:
            continue
        for file in candidates:
            try:
                found[file] = file.stat().st_mtime_ns
            except OSError:  # removed meanwhile
                pass
    return found


def _python_files_under(folder: Path):
    """``*.py`` under ``folder``, not descending into hidden folders, caches, installed packages
    or virtual environments (a venv in the project would otherwise be read every poll)."""
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = [
            name for name in subdirectories
            if not name.startswith(".") and name not in _SKIPPED_FOLDERS and not (Path(directory, name) / "pyvenv.cfg").exists()
        ]
        yield from (Path(directory, name) for name in files if name.endswith(".py"))


def _wait_for_change(paths: list[str], seen: dict[Path, int]) -> tuple[dict[Path, int], str]:
    while True:
        time.sleep(POLL_SECONDS)
        now = watched_files(paths)
        if now != seen:
            time.sleep(SETTLE_SECONDS)
            settled = watched_files(paths)
            changed = sorted({f for f in now.keys() | seen.keys() if now.get(f) != seen.get(f)}, key=str)
            names = ", ".join(str(f) for f in changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
            return settled, names


def _run(command: list[str]) -> int:
    process = subprocess.Popen(command, **_own_process_group())
    try:
        return process.wait()
    except KeyboardInterrupt:
        _stop(process)
        raise


def _own_process_group() -> dict[str, Any]:
    """A run in its own process group gets no Ctrl-C from the terminal: this process passes it
    on, once, so the run flushes what already ran rather than taking it as a second Ctrl-C."""
    if sys.platform == "win32":
        return {}
    if sys.version_info >= (3, 11):
        return {"process_group": 0}
    return {"preexec_fn": os.setpgrp}


def _stop(process: subprocess.Popen) -> None:
    """Ctrl-C during a run: the run gets it and flushes (up to ``STOP_GRACE_SECONDS``); a second
    Ctrl-C is passed on too (the run then spills what it has not sent); then it is killed."""
    for _ in range(2):
        if process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
            return
        except subprocess.TimeoutExpired:
            break
        except KeyboardInterrupt:
            continue
    process.kill()
    process.wait()


def without_watch(arguments: list[str]) -> list[str]:
    """The ``braintrust eval`` arguments to repeat, ``--watch`` taken out, also as argparse
    accepts it abbreviated (``--wat``): a run left with it would watch too, and start another."""
    kept = []
    for index, argument in enumerate(arguments):
        if argument == "--":  # (the rest are paths)
            return kept + arguments[index:]
        if not _is_watch_option(argument):
            kept.append(argument)
    return kept


def _is_watch_option(argument: str) -> bool:
    return len(argument) >= len("--w") and "--watch".startswith(argument)
