"""``braintrust eval --watch``: run the evals, then again whenever a watched Python file changes.

Each run is a fresh ``braintrust eval`` process with the same arguments (without ``--watch``),
so edited modules are imported anew and one run's state never leaks into the next. Watched:
every ``*.py`` under the given folders, and the ``*.py`` beside each given file (the modules it
likely imports), skipping hidden folders, caches, ``site-packages`` and virtual environments.
Files are polled every ``POLL_SECONDS`` (no dependency). A change during a run stops it and
runs again. Ctrl-C stops the watch: exit status 130.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from braintrust.eval.reporters import eprint

POLL_SECONDS = 0.5
#: After a change, wait until the files have been unchanged this long (the editor has finished writing).
SETTLE_SECONDS = 0.2
SETTLE_LIMIT_SECONDS = 2.0
#: How long a run may take to stop on its own after Ctrl-C (it flushes what already ran).
STOP_GRACE_SECONDS = 10.0
EXIT_INTERRUPTED = 130
_SKIPPED_FOLDERS = {"__pycache__", "site-packages", "node_modules"}


def watch(arguments: list[str], paths: list[str]) -> int:
    """Run ``braintrust eval *arguments`` now and after every change under ``paths``. A change
    during a run stops it (Ctrl-C: it flushes what already ran) and runs again: a run that hangs
    after an edit is replaced by the fixed one. Ctrl-C stops the watch (130); SIGTERM or SIGHUP
    stop it too (128 + the signal), passed on to the run first so none is left running."""
    command = [sys.executable, "-m", "braintrust", "eval", *arguments]
    previous = _on_stop_signals(_raise_terminated)
    try:
        seen = watched_files(paths)
        while True:
            status, changed = _run(command, paths, seen)
            if changed is None:
                eprint(f"braintrust eval --watch: exit status {status}; watching {len(seen)} Python files for changes (Ctrl-C to stop)")
                changed = _wait_for_change(paths, seen)
            eprint(f"braintrust eval --watch: {changed} changed; running again")
            seen = _settled(paths)
    except KeyboardInterrupt:
        eprint("\nbraintrust eval --watch: stopped")
        return EXIT_INTERRUPTED
    except _Terminated as exc:
        eprint(f"braintrust eval --watch: stopped ({signal.Signals(exc.signum).name})")
        return 128 + exc.signum
    finally:
        _on_stop_signals(previous)


class _Terminated(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, _frame: Any) -> None:
    raise _Terminated(signum)


def _on_stop_signals(handler: Any) -> Any:
    """Install ``handler`` (one, or ``{signal: handler}``) for SIGTERM and SIGHUP; the previous ones.
    Their default action would end this process alone, leaving the run (in a process group of
    its own, so no hang-up reaches it) running on without a watcher."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for signum in (getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)):
        wanted = handler.get(signum) if isinstance(handler, dict) else handler
        if wanted is not None:
            previous[signum] = signal.signal(signum, wanted)
    return previous


def watched_files(paths: list[str]) -> dict[Path, tuple[int, int, int]]:
    """``{file: (modification time, size, inode)}`` of every watched file. Not the time alone:
    a file system that keeps it in whole seconds (FAT, HFS+, some network shares) gives two
    saves within a second the same one."""
    found: dict[Path, tuple[int, int, int]] = {}
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
                stat = file.stat()
            except OSError:  # removed meanwhile
                continue
            found[file] = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
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


def _changes(seen: dict[Path, Any], now: dict[Path, Any]) -> str | None:
    """The changed files, named for a message; None when nothing changed."""
    if now == seen:
        return None
    changed = sorted({f for f in now.keys() | seen.keys() if now.get(f) != seen.get(f)}, key=str)
    return ", ".join(str(f) for f in changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")


def _wait_for_change(paths: list[str], seen: dict[Path, Any]) -> str:
    while True:
        time.sleep(POLL_SECONDS)
        changed = _changes(seen, watched_files(paths))
        if changed is not None:
            return changed


def _settled(paths: list[str]) -> dict[Path, Any]:
    """The watched files once the editor has finished writing (unchanged for ``SETTLE_SECONDS``,
    waiting at most ``SETTLE_LIMIT_SECONDS``): the state the next run starts from."""
    current = watched_files(paths)
    deadline = time.monotonic() + SETTLE_LIMIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(SETTLE_SECONDS)
        latest = watched_files(paths)
        if latest == current:
            break
        current = latest
    return current


def _run(command: list[str], paths: list[str], seen: dict[Path, Any]) -> tuple[int, str | None]:
    """Run ``command``: ``(exit status, None)``, or ``(status, changed files)`` when a watched
    file changed meanwhile and the run was stopped for it."""
    process = subprocess.Popen(command, **_own_process_group())
    try:
        while True:
            try:
                return process.wait(timeout=POLL_SECONDS), None
            except subprocess.TimeoutExpired:
                pass
            changed = _changes(seen, watched_files(paths))
            if changed is not None:
                eprint(f"braintrust eval --watch: {changed} changed during the run; stopping it (it flushes what already ran)")
                return _stop(process, signal.SIGINT), changed
    except KeyboardInterrupt:
        _stop(process, signal.SIGINT)
        raise
    except _Terminated as exc:
        _stop(process, exc.signum)
        raise


def _own_process_group() -> dict[str, Any]:
    """A run in its own process group gets no Ctrl-C from the terminal: this process passes it
    on, once, so the run flushes what already ran rather than taking it as a second Ctrl-C."""
    if sys.platform == "win32":
        return {}
    if sys.version_info >= (3, 11):
        return {"process_group": 0}
    return {"preexec_fn": os.setpgrp}


def _stop(process: subprocess.Popen, signum: int) -> int:
    """Stop a run with ``signum`` (it flushes, up to ``STOP_GRACE_SECONDS``); a Ctrl-C or SIGTERM
    meanwhile is passed on too (the run then spills what it has not sent), and raised here once
    the run has ended; then it is killed. The run's exit status."""
    pending: BaseException | None = None
    for _ in range(2):
        if process.poll() is not None:
            break
        process.send_signal(signum)
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
            break
        except subprocess.TimeoutExpired:
            process.kill()
            break
        except KeyboardInterrupt as exc:
            pending, signum = exc, signal.SIGINT
        except _Terminated as exc:
            pending, signum = exc, exc.signum
    else:
        process.kill()
    status = process.wait()
    if pending is not None:
        raise pending
    return status


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
