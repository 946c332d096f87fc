"""``braintrust eval --watch`` held to its promises: a run is repeated without watching itself,
and a mistake no change to a watched file can fix is a usage error (exit 2) at once, not a
watch of nothing that never ends. Real ``braintrust`` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from cli_support import cli_env, eval_source, run_cli, write


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc), children first."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as stat:
                parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _stop_tree(process: subprocess.Popen) -> None:
    """The watcher and every run it started (each run has a process group of its own)."""
    for pid in [process.pid, *_descendants(process.pid)]:
        try:
            os.kill(pid, signal.SIGSTOP)  # (no new process from it meanwhile)
        except ProcessLookupError:
            pass
    for pid in [process.pid, *_descendants(process.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=10)


def test_an_abbreviated_watch_option_runs_the_evals_instead_of_another_watcher(tmp_path):
    """argparse takes ``--wat`` for ``--watch``; the run repeated without ``--watch`` must not
    keep it, or each run watches too and starts another, a chain of processes that never runs
    an eval."""
    write(tmp_path / "eval_watched.py", eval_source("proj-abbrev"))
    process = subprocess.Popen([sys.executable, "-m", "braintrust", "eval", "--wat", "eval_watched.py", "--list"],
                               cwd=tmp_path, env=cli_env(tmp_path / "store"), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 30
        while not any("watching" in line for line in list(lines)) and time.monotonic() < deadline:
            time.sleep(0.1)
        output = "".join(lines)
        assert "braintrust eval --watch: exit status 0; watching" in output, output
        assert "proj-abbrev" in output  # the run listed the evaluator
        assert _descendants(process.pid) == []  # and ended: no run is left behind, watching
    finally:
        _stop_tree(process)


def test_watch_on_a_path_that_does_not_exist_is_a_usage_error_at_once(tmp_path):
    env = cli_env(tmp_path / "store")
    missing = run_cli("eval", "--watch", "evals_typo", cwd=tmp_path, env=env, timeout=30)
    assert missing.returncode == 2, missing.stderr
    assert "braintrust eval: error: no such file or directory: evals_typo" in missing.stderr
    assert "watching" not in missing.stderr

    write(tmp_path / "eval_ok.py", eval_source("proj-env"))
    write(tmp_path / "bad.env", "not a variable line\n")
    bad_env = run_cli("eval", "--watch", "--env-file", "bad.env", "eval_ok.py", cwd=tmp_path, env=env, timeout=30)
    assert bad_env.returncode == 2, bad_env.stderr
    assert "--env-file bad.env, line 1: expected KEY=VALUE" in bad_env.stderr
    assert not (tmp_path / "store").exists()  # nothing ran


def test_a_watched_file_deleted_then_restored_runs_again(tmp_path):
    """A run after a deletion fails (the file is gone); the watch goes on, and runs the file
    again once it is back."""
    path = write(tmp_path / "eval_flaky.py", eval_source("proj-deleted"))
    source = path.read_text()
    process = subprocess.Popen([sys.executable, "-m", "braintrust", "eval", "--watch", "eval_flaky.py", "--list"],
                               cwd=tmp_path, env=cli_env(tmp_path / "store"), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()

    def wait_for(text: str, count: int) -> None:
        deadline = time.monotonic() + 30
        while sum(text in line for line in list(lines)) < count:
            assert process.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.05)

    try:
        wait_for("exit status 0; watching", 1)
        path.unlink()
        wait_for("exit status 2; watching", 1)
        path.write_text(source)
        wait_for("exit status 0; watching", 2)
    finally:
        _stop_tree(process)
