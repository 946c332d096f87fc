"""Portability beyond Linux, checked from Linux: what macOS and Windows lack is taken away from a
real interpreter (POSIX-only modules made unimportable, POSIX-only functions and flags removed),
and ``multiprocessing``'s ``spawn`` and ``forkserver`` start methods (the defaults on macOS and
Windows, and on Linux from 3.14) are run for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from braintrust.delivery.backend import PROJECT_LOGS
from braintrust.store.sqlite_store import LocalStore
from delivery_helpers import subprocess_env

#: Run first in each child: what a platform without them lacks. ``memfd_create`` is missing on
#: macOS (the writer's shared buffer is then a temporary file).
WITHOUT_POSIX = textwrap.dedent(
    """
    import os, select, signal, sys
    for name in ("fcntl", "pwd", "grp", "resource", "termios"):
        sys.modules[name] = None
    for name in ("fork", "register_at_fork", "getuid", "geteuid", "getgid", "getegid", "O_NOFOLLOW",
                 "O_DIRECTORY", "memfd_create", "getpgid", "killpg", "getsid"):
        if hasattr(os, name):
            delattr(os, name)
    for name in ("SIGHUP", "SIGKILL", "SIGUSR1", "SIGALRM", "SIGCHLD", "pthread_kill", "pthread_sigmask", "setitimer"):
        if hasattr(signal, name):
            delattr(signal, name)
    if hasattr(select, "poll"):
        del select.poll
    """
)

LOGGING = WITHOUT_POSIX + textwrap.dedent(
    """
    import importlib, json, pkgutil, time
    import braintrust, pytest_braintrust

    modules = 0
    for package in (braintrust, pytest_braintrust):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)
                modules += 1

    from braintrust.delivery import local_backend
    from braintrust.delivery.runtime import get_processor

    local_backend.WRITER_AFTER_ROWS = 10  # (the writer starts early; its start is what is tested)
    logger = braintrust.init_logger(project="portable")
    for i in range(20):
        logger.log(input={"i": i}, output=i)
    logger.flush()
    backend = get_processor()._backend
    end = time.monotonic() + 20
    while backend._ready_writer() is None and time.monotonic() < end:
        time.sleep(0.02)
    for i in range(20, 50):
        logger.log(input={"i": i}, output=i)
    result = logger.flush()
    print(json.dumps({"modules": modules, "accepted": result.accepted, "spilled": result.spilled,
                      "rows_by_writer": backend.rows_by_writer}))
    """
)


def _run(script: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"))
    done = subprocess.run([sys.executable, "-c", script, *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _logged_outputs(tmp_path: Path, project: str) -> list:
    with LocalStore(tmp_path / "store" / "braintrust.sqlite") as store:
        [found] = [p for p in store.list_projects() if p["name"] == project]
        rows, _ = store.fetch_rows(PROJECT_LOGS, found["id"])
    return sorted(row["output"] for row in rows)


def test_without_posix_modules_everything_imports_and_rows_reach_the_store_through_the_writer(tmp_path: Path):
    done = _run(LOGGING, tmp_path)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["modules"] > 40
    assert (report["accepted"], report["spilled"]) == (50, 0)
    assert report["rows_by_writer"] > 0  # the writer started with a temporary file as its buffer
    assert _logged_outputs(tmp_path, "portable") == list(range(50))
    assert "Traceback" not in done.stderr


def test_without_posix_modules_pytest_braintrust_runs_a_suite(tmp_path: Path):
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (suite / "test_cases.py").write_text(textwrap.dedent(
        """
        import pytest

        @pytest.mark.braintrust
        def test_scored(braintrust_case):
            braintrust_case.log(input={"q": 1}, output=2, scores={"exact": 1})

        @pytest.mark.braintrust
        @pytest.mark.parametrize("n", [1, 2])
        def test_param(n):
            assert n
        """
    ), encoding="utf-8")
    script = WITHOUT_POSIX + "import pytest\nsys.exit(pytest.main(sys.argv[1:]))\n"
    env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"))
    done = subprocess.run([sys.executable, "-c", script, "--braintrust", "-p", "no:cacheprovider", "-p", "no:xdist", "-q"],
                          cwd=suite, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 eval cases: 3 passed" in done.stdout
    with LocalStore(tmp_path / "store" / "braintrust.sqlite") as store:
        [project] = store.list_projects()
        [experiment] = store.list_experiments(project["id"])
        rows, _ = store.fetch_rows("experiment", experiment["id"])
    roots = [row for row in rows if not row.get("span_parents")]
    assert sorted(row["scores"]["pass"] for row in roots) == [1, 1, 1]


MULTIPROCESSING = textwrap.dedent(
    """
    import json, multiprocessing, sys, time
    import braintrust

    def work(k):
        from braintrust.delivery import local_backend
        from braintrust.delivery.runtime import get_processor

        local_backend.WRITER_AFTER_ROWS = 10
        logger = braintrust.init_logger(project="mp")
        for i in range(20):
            logger.log(input={"k": k, "i": i}, output=k * 1000 + i)
        logger.flush()
        backend = get_processor()._backend
        end = time.monotonic() + 20
        while backend._ready_writer() is None and time.monotonic() < end:
            time.sleep(0.02)
        for i in range(20, 40):
            logger.log(input={"k": k, "i": i}, output=k * 1000 + i)
        logger.flush()
        for i in range(40, 45):  # left for the exit-time flush
            logger.log(input={"k": k, "i": i}, output=k * 1000 + i)
        return backend.rows_by_writer

    if __name__ == "__main__":
        multiprocessing.set_start_method(sys.argv[1])
        with multiprocessing.Pool(2) as pool:
            by_writer = pool.map(work, [1, 2])
        child = multiprocessing.Process(target=work, args=(3,))
        child.start()
        child.join(60)
        print(json.dumps({"by_writer": by_writer, "exitcode": child.exitcode}))
    """
)


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_the_writer_process_works_in_children_of_every_start_method(tmp_path: Path, method: str):
    script = tmp_path / "main.py"  # (spawn imports the main module by its path)
    script.write_text(MULTIPROCESSING, encoding="utf-8")
    env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"))
    done = subprocess.run([sys.executable, str(script), method], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["exitcode"] == 0
    assert all(count > 0 for count in report["by_writer"]), report
    expected = sorted(k * 1000 + i for k in (1, 2, 3) for i in range(45))
    assert _logged_outputs(tmp_path, "mp") == expected  # every row once, the exit-time ones too


# -- Windows behaviour that Linux shows when told what Windows does --------------------------------

def test_write_atomically_opens_its_file_in_binary_mode_where_the_platform_has_a_text_mode(tmp_path, monkeypatch):
    """On Windows, ``os.open`` without ``O_BINARY`` gives a text-mode descriptor: every ``\\n``
    written becomes ``\\r\\n`` (spill files, payload copies, ``--json`` summaries). Here a flag
    stands for ``O_BINARY`` and is taken off again before the real ``open``."""
    from braintrust.files import write_atomically

    binary = 1 << 30  # (no flag of Linux's)
    monkeypatch.setattr(os, "O_BINARY", binary, raising=False)
    real_open, flags_seen = os.open, []

    def open_seeing_flags(path, flags, mode=0o777, *, dir_fd=None):
        flags_seen.append(flags)
        return real_open(path, flags & ~binary, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", open_seeing_flags)
    data = b'{"a": 1}\n\x00\r\n\xff'
    write_atomically(tmp_path / "out.json", data, 0o600)
    assert (tmp_path / "out.json").read_bytes() == data
    assert flags_seen and all(flags & binary for flags in flags_seen)


def test_replay_names_a_spill_folder_on_another_windows_drive(tmp_path, monkeypatch, capsys):
    """``braintrust replay`` with nothing to replay here names the private fallback spill folder
    (in the temporary folder) when it holds files. On Windows that folder is often on another
    drive than the current one, where ``os.path.relpath`` raises ``ValueError``; the command
    crashed with it."""
    from braintrust.cli import main as cli_main
    from braintrust.delivery.spill import fallback_spill_dir

    for name in ("BRAINTRUST_LOCAL_DIR", "BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "temp"))
    (tmp_path / "temp").mkdir()
    waiting = fallback_spill_dir()
    waiting.mkdir(mode=0o700)
    (waiting / "spill-1.json").write_text("{}", encoding="utf-8")
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("", encoding="utf-8")
    monkeypatch.chdir(project)
    real_relpath = os.path.relpath

    def relpath_across_drives(path, start=None):
        if Path(path).resolve() == waiting.resolve():  # as ntpath says of D:\... seen from C:\...
            raise ValueError("path is on mount 'D:', start on mount 'C:'")
        return real_relpath(path, start) if start is not None else real_relpath(path)

    monkeypatch.setattr(os.path, "relpath", relpath_across_drives)
    assert cli_main.main(["replay"]) == 0
    out = capsys.readouterr().out
    assert f"spill files are waiting in {waiting}: `braintrust replay {waiting}`" in out
