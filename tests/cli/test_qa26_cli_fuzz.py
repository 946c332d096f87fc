"""Regressions found by running ``braintrust`` under random arguments and store states: a read
command never writes to the store, waits for another process's write lock, or opens another
store than the one ``--store`` names."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from cli_support import cli_env, eval_source, run_cli, write


@pytest.fixture(scope="module")
def made_store(tmp_path_factory) -> Path:
    """A store with project ``qa26`` holding experiment ``first`` (a real ``braintrust eval`` run)."""
    folder = tmp_path_factory.mktemp("qa26_store")
    store = folder / "store"
    write(folder / "eval_qa26.py", eval_source("qa26", "first", cases="[{'input': 1, 'expected': 1}, {'input': 2, 'expected': 3}]"))
    ran = run_cli("eval", "eval_qa26.py", cwd=folder, env=cli_env(store))
    assert ran.returncode == 0, ran.stderr
    return store / "braintrust.sqlite"


def _gate_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = cli_env(tmp_path / "unused", **extra)
    del env["BRAINTRUST_LOCAL_DIR"]  # (the command is told with --store)
    return env


def test_gate_store_option_naming_a_database_file_reads_that_file(made_store, tmp_path):
    database = tmp_path / "saved.sqlite"
    shutil.copy(made_store, database)

    result = run_cli("gate", "qa26", "first", "--store", str(database), "--fail-under", "exact=0.9",
                     cwd=tmp_path, env=_gate_env(tmp_path))

    assert result.returncode == 10, result.stderr
    assert "50.00% 'exact' score" in result.stdout
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "braintrust.sqlite").exists()  # (no new, empty store beside it)


@contextlib.contextmanager
def write_lock_held(made_store: Path, tmp_path: Path) -> Iterator[Path]:
    """A copy of the store (its folder yielded) while another process holds its write lock."""
    folder = tmp_path / "store"
    folder.mkdir()
    database = folder / "braintrust.sqlite"
    shutil.copy(made_store, database)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, time\n"
         f"c = sqlite3.connect({str(database)!r}, isolation_level=None)\n"
         "c.execute('BEGIN EXCLUSIVE')\n"
         "c.execute(\"INSERT INTO meta (key, value) VALUES ('qa26', '1')\")\n"
         "print('held', flush=True)\n"
         "time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        yield folder
    finally:
        holder.kill()
        holder.wait()


def test_gate_does_not_wait_for_another_process_write_lock(made_store, tmp_path):
    with write_lock_held(made_store, tmp_path) as folder:
        started = time.monotonic()
        result = run_cli("gate", "qa26", "first", "--store", str(folder), "--fail-under", "exact=0.4",
                         cwd=tmp_path, env=_gate_env(tmp_path, BRAINTRUST_LOCAL_BUSY_TIMEOUT="2"))
        took = time.monotonic() - started

    assert result.returncode == 0, result.stderr
    assert "gate PASSED" in result.stdout
    assert took < 2, took  # (the read never waited for the write lock)
    assert not (folder / "braintrust.sqlite-locked").exists()


def test_gate_of_an_unknown_experiment_under_a_held_lock_says_it_is_not_found(made_store, tmp_path):
    """Looking it up used to open it for writing: the error was a lock timeout about spilled rows."""
    with write_lock_held(made_store, tmp_path) as folder:
        result = run_cli("gate", "another", "nope", "--store", str(folder),
                         cwd=tmp_path, env=_gate_env(tmp_path, BRAINTRUST_LOCAL_BUSY_TIMEOUT="1"))

    assert result.returncode == 1
    assert "Experiment 'nope' not found in project 'another' of the local store" in result.stderr
    assert "replay" not in result.stderr
    assert not (folder / "braintrust.sqlite-locked").exists()


def test_gate_by_id_of_another_projects_experiment_names_that_project(made_store, tmp_path):
    from braintrust.store.sqlite_store import LocalStore

    database = tmp_path / "braintrust.sqlite"
    shutil.copy(made_store, database)
    store = LocalStore(database)
    try:
        experiment_id = store.list_experiments()[0]["id"]
    finally:
        store.close()

    by_id = run_cli("gate", "qa26", experiment_id, "--store", str(tmp_path), cwd=tmp_path, env=_gate_env(tmp_path))
    elsewhere = run_cli("gate", "other", experiment_id, "--store", str(tmp_path), cwd=tmp_path, env=_gate_env(tmp_path))

    assert by_id.returncode == 0, by_id.stderr
    assert "'exact' score" in by_id.stdout
    assert elsewhere.returncode == 1
    assert f"experiment {experiment_id!r} is in project 'qa26', not 'other'" in elsewhere.stderr


def _run_into_closed_pipe(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``braintrust ARGS`` with its output a pipe whose reader is gone (``| head`` that exited)."""
    import os

    reader, writer = os.pipe()
    os.close(reader)
    try:
        return subprocess.run([sys.executable, "-m", "braintrust", *args], cwd=cwd, env=env, stdout=writer,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, timeout=60)
    finally:
        os.close(writer)


def test_attachment_into_a_closed_pipe_stops_quietly(tmp_path):
    store = tmp_path / "store"
    write(tmp_path / "log_attachment.py", """
        import braintrust
        from braintrust import Attachment

        experiment = braintrust.init("qa26", experiment="files")
        experiment.log(input={"file": Attachment(data=b"x" * 200_000, filename="big.bin", content_type="application/octet-stream")},
                       output="ok", scores={"s": 1})
        experiment.flush()
    """)
    logged = subprocess.run([sys.executable, "log_attachment.py"], cwd=tmp_path, env=cli_env(store),
                            capture_output=True, text=True, timeout=60)
    assert logged.returncode == 0, logged.stderr
    shown = run_cli("show", "qa26", "files", cwd=tmp_path, env=cli_env(store))
    key = shown.stdout.split("[attachment big.bin application/octet-stream ")[1][:8]

    result = _run_into_closed_pipe("attachment", key, cwd=tmp_path, env=cli_env(store))

    assert (result.returncode, result.stderr) == (141, "")


def test_eval_into_a_closed_pipe_keeps_its_rows_and_exits_141(tmp_path):
    store = tmp_path / "store"
    write(tmp_path / "eval_piped.py", eval_source("qa26", "piped", cases="[{'input': 1, 'expected': 1}, {'input': 2, 'expected': 2}]"))

    for extra in ([], ["--jsonl"]):
        result = _run_into_closed_pipe("eval", *extra, "eval_piped.py", cwd=tmp_path, env=cli_env(store))

        assert result.returncode == 141, result.stderr
        assert "Traceback" not in result.stderr and "failed" not in result.stderr
    listed = run_cli("experiments", "qa26", cwd=tmp_path, env=cli_env(store))
    assert listed.stdout.count("exact=100.00%") == 2, listed.stdout


@pytest.mark.parametrize("args", [["list", "--store"], ["show", "--store"], ["eval"], ["replay"]])
def test_a_path_too_long_to_look_at_is_a_usage_error(args, tmp_path):
    too_long = "x" * 3000

    result = run_cli(*args, too_long, cwd=tmp_path, env=cli_env(tmp_path / "store"))

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "File name too long; check the path given." in result.stderr


def test_the_show_hint_of_a_store_file_with_another_name_names_that_file(made_store, tmp_path):
    """``compare --store saved.sqlite`` printed ``braintrust show --store <its folder> ...``, which
    finds no store there (the folder holds no braintrust.sqlite): the hint names the file."""
    database = tmp_path / "saved.sqlite"
    shutil.copy(made_store, database)

    compared = run_cli("compare", "qa26", "first", "--store", str(database), cwd=tmp_path, env=_gate_env(tmp_path))

    assert compared.returncode == 0, compared.stderr
    hint = next(line for line in (compared.stdout + compared.stderr).splitlines() if "braintrust show" in line)
    command = hint[hint.index("braintrust show"):].split("`")[0].split()
    assert command[2:4] == ["--store", str(database)], hint
    shown = run_cli(*command[1:], cwd=tmp_path, env=_gate_env(tmp_path))
    assert shown.returncode == 0, shown.stderr
    assert "first" in shown.stdout
