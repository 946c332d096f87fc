"""QA (seventh round): full disks and paths that cannot be written. Failures are made
deterministic without mounts: a file size limit in a child process (``RLIMIT_FSIZE`` with
SIGXFSZ ignored, so a write past it fails with EFBIG, as on a full disk), and paths under a
regular file (ENOTDIR). Real files, real SQLite stores, real subprocesses."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from braintrust.store.sqlite_store import LocalStore
from delivery_helpers import subprocess_env
from store_runs import Runs

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE and SIGXFSZ are POSIX")

#: Run in a child: files stop growing at ``int(sys.argv[1])`` bytes, then ``sys.argv[2:]`` runs
#: as ``python -m``.
LIMITED = textwrap.dedent("""
    import resource, runpy, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), resource.RLIM_INFINITY))
    module, sys.argv = sys.argv[2], sys.argv[2:]
    runpy.run_module(module, run_name="__main__")
""")


def test_a_step_summary_a_full_disk_cuts_short_is_left_as_it_was(tmp_path):
    """The step summary was appended with a buffered write: a disk that filled up midway left
    half a table at the end of the job's page (and the next step's summary glued to it). Now
    an append that cannot be made whole is taken back, and the run says why."""
    step = tmp_path / "step.md"
    before = "## earlier step\n\n" + "x" * 300 + "\n"
    step.write_text(before)
    script = textwrap.dedent("""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (512, resource.RLIM_INFINITY))
        from braintrust import step_summary
        table = "| score | value |\\n|---|---:|\\n" + "".join(f"| s{n} | {n}% |\\n" for n in range(100))
        print(step_summary.append(table))
        print(step_summary.append("short\\n"))
    """)
    run = subprocess.run([sys.executable, "-c", script], env=subprocess_env(GITHUB_STEP_SUMMARY=str(step)),
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    first, second = run.stdout.splitlines()
    assert first == f"could not append the step summary to {step} (File too large); check GITHUB_STEP_SUMMARY"
    assert second == "None"  # (what fits is still appended)
    assert step.read_text() == before + "short\n"


def test_rows_no_folder_can_hold_are_dropped_by_reason_naming_the_folders_and_the_fix(tmp_path):
    """No store, no spill folder, and the fallback in the temporary folder taken by a file:
    every row is dropped, and said so. The error was `could not write a spill file
    (FileExistsError(17, 'File exists'))`, naming no folder and no fix, and the terminal's
    rows line gave no reason for the drops; now both do (produced == accepted + spilled +
    dropped in the JSON summary too), and the tests' status stands."""
    (tmp_path / "pyproject.toml").touch()
    (tmp_path / "blocker").write_text("a file where folders were expected\n")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    (temporary / f"braintrust-spill-{os.getuid()}").write_text("not a folder\n")
    (tmp_path / "test_cases.py").write_text(textwrap.dedent("""
        from pytest_braintrust import eval_case

        @eval_case(input="a", expected="a")
        def test_one(braintrust_case):
            braintrust_case.score("quality", 0.5)
            return "a"
    """))
    env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(tmp_path / "blocker" / "store"),
                         BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR=str(tmp_path / "blocker" / "spill"),
                         TMPDIR=str(temporary), PYTHONDONTWRITEBYTECODE="1")
    env.pop("BRAINTRUST_API_KEY", None)
    summary = tmp_path / "summary.json"
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:benchmark", "-p", "no:xdist",
                          "--braintrust", f"--braintrust-json={summary}", "test_cases.py"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "Traceback" not in output
    assert "rows: 0 sent, 0 spilled, 2 dropped (spill_failed: 2) (flush" in run.stdout, output
    spill_lines = [line for line in run.stdout.splitlines() if "could not write a spill file" in line]
    assert len(spill_lines) == 1, output
    assert f"{tmp_path / 'blocker' / 'spill'} (Not a directory)" in spill_lines[0]
    assert f"{temporary / f'braintrust-spill-{os.getuid()}'} (File exists)" in spill_lines[0]
    assert "set BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR to a folder that can be written" in spill_lines[0]
    assert "2 row writes lost" in spill_lines[0]
    delivery = json.loads(summary.read_text())["delivery"]
    assert (delivery["produced"], delivery["accepted"], delivery["spilled"], delivery["dropped"]) == (2, 0, 0, {"spill_failed": 2})


def test_prune_on_a_disk_that_refuses_writes_says_so_not_that_the_store_is_busy(tmp_path):
    """`braintrust prune` on a full disk said "the store is busy ...; another process (a test
    run?) is writing to it: try again when it is done": advice that never helps. Now it names
    the store and says to free space; nothing was deleted and the store is intact, and a prune
    with room to write then does its work."""
    project = tmp_path / "project"
    path = project / ".braintrust" / "braintrust.sqlite"
    cases = [{"question": f"q{n}", "context": "some context " * 20} for n in range(100)]
    with LocalStore(path) as store:
        runs = Runs(store, "a")
        for n in range(4):
            runs.run(f"a-{n}", cases)
    conn = sqlite3.connect(path)
    with conn:  # (runs of long ago: prune keeps experiments written to in the last minutes)
        conn.execute("UPDATE experiments SET created = '2026-01-01T00:00:00+00:00'")
        conn.execute("UPDATE row_log SET created = '2026-01-01T00:00:00+00:00'")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    (project / "pyproject.toml").touch()
    env = subprocess_env(PYTHONDONTWRITEBYTECODE="1")

    # (40,000 bytes: room for SQLite's 32 KB shared-memory file, not for the deletion's log)
    refused = subprocess.run([sys.executable, "-c", LIMITED, "40000", "braintrust", "prune", "--keep", "1"],
                             cwd=project, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr
    assert refused.stderr.startswith(f"braintrust prune: nothing was deleted: {path} could not be written ("), refused.stderr
    assert "free space on its disk" in refused.stderr and "busy" not in refused.stderr
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("SELECT count(*) FROM experiments").fetchone() == (4,)
    finally:
        conn.close()

    pruned = subprocess.run([sys.executable, "-m", "braintrust", "prune", "--keep", "1"], cwd=project, env=env,
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.startswith("Deleted 3 experiments (a: 3)"), pruned.stdout
