"""``braintrust eval --watch`` used as at a laptop: edits while a run hangs, the watcher stopped by
SIGTERM or a hang-up, saves a coarse clock cannot tell apart, a syntax error then its fix, a new
eval file, and the run's own writes (store, bytecode) that must not start another run. Real
``braintrust`` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cli_support import cli_env, eval_source, experiments, write


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as stat:
                if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie, ended but not yet reaped, is not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Watcher:
    """``braintrust eval --watch *args`` in ``folder``, its output (stdout and stderr) collected."""

    def __init__(self, folder: Path, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "braintrust", "eval", "--watch", "--no-progress-bars", *args],
            cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )
        self.lines: list[str] = []
        self.runs: list[int] = []  # every run's pid seen
        self._reader = threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True)
        self._reader.start()

    @property
    def output(self) -> str:
        return "".join(list(self.lines))

    def count(self, text: str) -> int:
        return sum(text in line for line in list(self.lines))

    def wait_for(self, text: str, count: int = 1, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.count(text) < count:
            self.runs += [pid for pid in _children(self.process.pid) if pid not in self.runs]
            assert self.process.poll() is None and time.monotonic() < deadline, self.output
            time.sleep(0.05)

    def close(self) -> None:
        """End the watcher and every run it started that is still going (by their pids)."""
        self.runs += [pid for pid in _children(self.process.pid) if pid not in self.runs]
        for pid in [self.process.pid, *self.runs]:
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.process.wait(timeout=10)
        self._reader.join(timeout=5)


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def watchers():
    started: list[_Watcher] = []

    def start(folder: Path, env: dict[str, str], *args: str) -> _Watcher:
        started.append(_Watcher(folder, env, *args))
        return started[-1]

    yield start
    for watcher in started:
        watcher.close()


def _hanging_eval(folder: Path, project: str) -> None:
    """An eval whose task hangs while ``helper.HANG`` is true; ``started`` appears when it runs."""
    write(folder / "helper.py", "HANG = True\n")
    write(folder / "eval_hang.py", f"""
        import pathlib, time
        import helper
        from braintrust import Eval

        def task(x):
            pathlib.Path("started").touch()
            while helper.HANG:
                time.sleep(0.05)
            return x

        def exact(output, expected):
            return 1.0 if output == expected else 0.0

        Eval({project!r}, data=[{{"input": 1, "expected": 1}}], task=task, scores=[exact])
    """)


def _wait_until_started(tmp_path, watcher) -> None:
    """Until the run's task has started (it writes ``started``), while the watcher lives."""
    deadline = time.monotonic() + 30
    while not (tmp_path / "started").exists():
        assert watcher.process.poll() is None and time.monotonic() < deadline, watcher.output
        time.sleep(0.05)


def test_a_change_during_a_hanging_run_stops_it_and_runs_the_edited_version(tmp_path, store_dir, watchers):
    """An edit made a task hang; the user fixes it. Waiting for the hung run would never run the
    fix: the change stops the run (it flushes what ran) and the fixed version runs."""
    _hanging_eval(tmp_path, "proj-hang-fix")
    watcher = watchers(tmp_path, cli_env(store_dir), "eval_hang.py")
    _wait_until_started(tmp_path, watcher)
    hung = _children(watcher.process.pid)
    watcher.runs += hung
    write(tmp_path / "helper.py", "HANG = False  # fixed\n")

    watcher.wait_for("helper.py changed during the run; stopping it", timeout=10)
    watcher.wait_for("exit status 0; watching", timeout=20)
    assert "100.00% 'exact' score" in watcher.output
    assert hung and not any(_alive(pid) for pid in hung)  # the hung run ended
    assert "Traceback" not in watcher.output
    assert len(experiments(store_dir)) == 2  # the stopped run's experiment, and the fixed one's


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_or_a_hang_up_stops_the_watcher_and_its_run(tmp_path, store_dir, watchers, signum):
    """``kill`` or a closed terminal ends the watcher. The run has a process group of its own
    (so Ctrl-C reaches it once), so nothing else would stop it: it must be passed the signal,
    not left running on without a watcher."""
    _hanging_eval(tmp_path, "proj-term")
    watcher = watchers(tmp_path, cli_env(store_dir), "eval_hang.py")
    _wait_until_started(tmp_path, watcher)
    runs = _children(watcher.process.pid)
    watcher.runs += runs  # (ended by the fixture even when the watcher leaves it behind)
    assert len(runs) == 1

    os.kill(watcher.process.pid, signum)
    assert watcher.process.wait(timeout=20) == 128 + signum, watcher.output
    assert not _alive(runs[0]), "the run was left running after its watcher ended"
    watcher._reader.join(timeout=5)
    assert f"stopped ({signal.Signals(signum).name})" in watcher.output
    assert "Traceback" not in watcher.output


def test_saves_with_the_same_modification_time_are_told_apart(tmp_path):
    """File systems keeping whole seconds (FAT, HFS+, some shares) give two saves within a second
    the same modification time: a rewrite of another size, or a new file renamed over the old
    one (an editor's safe save), is still a change."""
    from braintrust.cli.watch import watched_files

    eval_file = write(tmp_path / "eval_x.py", "A = 1\n")
    stamp = eval_file.stat().st_mtime_ns
    before = watched_files([str(tmp_path)])

    eval_file.write_text("A = 12\n")  # truncate + write, a second later on the same clock tick
    os.utime(eval_file, ns=(stamp, stamp))
    resized = watched_files([str(tmp_path)])
    assert resized != before

    replacement = write(tmp_path / "eval_x.py.tmp", "A = 21\n")  # same size, written then renamed over
    os.utime(replacement, ns=(stamp, stamp))
    os.replace(replacement, eval_file)
    assert watched_files([str(tmp_path)]) != resized


def test_iterating_on_a_folder_syntax_error_fix_new_file_and_its_own_writes(tmp_path, watchers):
    """Watching a folder as at a laptop: the default local store (``.braintrust`` inside it) and
    the bytecode the runs write do not start another run, and the watcher is idle meanwhile; a
    syntax error is reported and the watch goes on; its fix runs and is compared with the
    previous run; a new ``eval_*.py`` runs too; a file outside the folder does not count."""
    env = cli_env(tmp_path / "unused")
    del env["BRAINTRUST_LOCAL_DIR"], env["PYTHONDONTWRITEBYTECODE"]
    project = tmp_path / "project"
    write(project / "helper.py", "ANSWER = 0\n")
    write(project / "eval_a.py", eval_source("proj-iter", task="lambda x: x + helper.ANSWER", extra="import helper"))
    outside = write(tmp_path / "notes.py", "x = 1\n")
    watcher = watchers(project, env, ".")
    watcher.wait_for("exit status 0; watching")
    assert (project / ".braintrust").is_dir() and (project / "__pycache__").is_dir()

    idle_from = _cpu_seconds(watcher.process.pid)
    outside.write_text("x = 2\n")
    time.sleep(2.5)
    assert watcher.count("running again") == 0, watcher.output  # neither its own writes nor notes.py
    assert _cpu_seconds(watcher.process.pid) - idle_from < 0.5  # polls, no busy loop

    write(project / "eval_a.py", "from braintrust import Eval\nEval('proj-iter', data=[\n")
    watcher.wait_for("exit status 1; watching")
    assert "SyntaxError" in watcher.output or "was never closed" in watcher.output, watcher.output

    write(project / "helper.py", "ANSWER = 1\n")  # scores 0 once the syntax error is fixed
    write(project / "eval_a.py", eval_source("proj-iter", task="lambda x: x + helper.ANSWER", extra="import helper"))
    watcher.wait_for("exit status 0; watching", 2)
    assert "00.00% (-100.00%) 'exact' score" in watcher.output, watcher.output  # compared with the first run

    write(project / "eval_b.py", eval_source("proj-iter-b"))
    watcher.wait_for("eval_b.py changed; running again")
    watcher.wait_for("exit status 0; watching", 3)
    last_run = watcher.output.rsplit("eval_b.py changed", 1)[1]
    assert "proj-iter-b" in last_run and "proj-iter" in last_run.replace("proj-iter-b", "")
    assert "Traceback" not in watcher.output
