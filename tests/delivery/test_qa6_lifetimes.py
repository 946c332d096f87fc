"""Resource lifetimes in one long-lived process: ``pytest --braintrust`` run several times (as a
notebook does), and logging rounds that must leave no thread, descriptor or child behind.

Each scenario runs in a child interpreter: the processor, its backend and the store's writer are
process-wide, and what is measured is what a real process keeps."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from delivery_helpers import subprocess_env

CASE_FILE = """
def test_case_{name}(braintrust_case):
    braintrust_case.log_output("{name}")
"""

# Runs pytest.main once per (folder, extra args) given as JSON in argv[1]; prints one JSON line
# per run with the resources the process holds afterwards.
RUNNER = r"""
import glob, json, os, sys, threading, gc
import pytest

def children():
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = open(stat).read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.append(stat)
    return len(found)

for folder, extra in json.loads(sys.argv[1]):
    code = pytest.main(["--braintrust", "-q", "-p", "no:cacheprovider", "-p", "no:rerunfailures", folder] + extra)
    gc.collect()
    print("RUN " + json.dumps({"code": int(code), "fds": len(os.listdir("/proc/self/fd")),
                               "threads": len(threading.enumerate()), "children": children()}), flush=True)
"""


def _project(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / f"test_{name}.py").write_text(CASE_FILE.format(name=name))
    return folder


def _run(tmp_path: Path, runs: list, **env: str) -> tuple[list[dict], str]:
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    proc = subprocess.run([sys.executable, str(script), json.dumps(runs)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=subprocess_env(**env))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    return [json.loads(line[4:]) for line in proc.stdout.splitlines() if line.startswith("RUN ")], out


def _experiments(store: Path) -> list[str]:
    if not store.exists():
        return []
    with sqlite3.connect(store) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM experiments ORDER BY name")]


def test_second_run_in_another_rootdir_writes_to_its_own_store(tmp_path):
    """A notebook runs two suites: each one's rows go to the store its summary names (they all
    went to the first suite's store, and the second summary named a store that did not exist)."""
    first, second = _project(tmp_path, "first"), _project(tmp_path, "second")
    results, out = _run(tmp_path, [[str(first), []], [str(second), []]])
    assert [r["code"] for r in results] == [0, 0], out
    first_store, second_store = first / ".braintrust" / "braintrust.sqlite", second / ".braintrust" / "braintrust.sqlite"
    assert f"in the local store at {second_store}" in out
    assert len(_experiments(first_store)) == 1, out
    assert len(_experiments(second_store)) == 1, out


def test_run_with_a_key_after_a_local_run_goes_to_braintrust(tmp_path, bt_server):
    """Local run, then ``--braintrust-api-key``, then local again: each run's rows go where its
    summary says (the second one's went to the local store, and its summary failed)."""
    folder = _project(tmp_path, "suite")
    store = tmp_path / "store"
    results, out = _run(
        tmp_path,
        [[str(folder), []], [str(folder), ["--braintrust-api-key", bt_server.api_key]], [str(folder), []]],
        BRAINTRUST_APP_URL=bt_server.url, BRAINTRUST_LOCAL_DIR=str(store),
    )
    assert [r["code"] for r in results] == [0, 0, 0], out
    assert "could not summarize" not in out
    assert len(bt_server.experiments()) == 1, out
    assert {row.get("output") for row in bt_server.rows("experiment") if row.get("output")} == {"suite"}
    assert len(_experiments(store / "braintrust.sqlite")) == 2, out


def test_repeated_runs_leave_nothing_behind(tmp_path):
    """Five runs in one process (the local store's writer process started by the first): the
    same threads, descriptors and children after the last as after the second."""
    folder = _project(tmp_path, "suite")
    boot = tmp_path / "conftest.py"  # (a writer process from the first rows on)
    boot.write_text("from braintrust.delivery import local_backend\nlocal_backend.WRITER_AFTER_ROWS = 1\n")
    (folder / "conftest.py").write_text(boot.read_text())
    results, out = _run(tmp_path, [[str(folder), []]] * 5, BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"))
    assert [r["code"] for r in results] == [0] * 5, out
    settled, last = results[1], results[-1]
    assert last["threads"] <= settled["threads"], results
    assert last["fds"] <= settled["fds"], results
    assert last["children"] <= 1, results  # (at most the one writer process)
    assert len(_experiments(tmp_path / "store" / "braintrust.sqlite")) == 5


LOGGING_ROUNDS = textwrap.dedent(r"""
    import gc, json, os, sys, threading
    import braintrust

    def measure():
        gc.collect()
        return {"fds": len(os.listdir("/proc/self/fd")), "threads": len(threading.enumerate())}

    seen = []
    for r in range(60):
        logger = braintrust.init_logger(project=f"p{r % 3}")
        logger.log(input=r, output=r)
        experiment = braintrust.init(project="p", experiment=f"e{r}")
        experiment.log(input=r, output=r, scores={})
        if r % 2:
            experiment.flush()
        span = logger.start_span(name="never-ended")  # dropped unended
        span.log(input=r)
        del span, experiment
        dataset = braintrust.init_dataset(project="p", name="d")
        dataset.insert(input=r, expected=r)
        dataset.flush()
        assert len(list(dataset.fetch())) == r + 1
        braintrust.flush()
        if r in (10, 59):
            seen.append(measure())
    print("ROUNDS " + json.dumps(seen))
""")


def test_logging_rounds_hold_no_more_descriptors_or_threads(tmp_path, bt_server):
    script = tmp_path / "rounds.py"
    script.write_text(LOGGING_ROUNDS)
    for env in ({"BRAINTRUST_LOCAL_DIR": str(tmp_path / "store")},
                {"BRAINTRUST_API_KEY": bt_server.api_key, "BRAINTRUST_APP_URL": bt_server.url}):
        proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120, env=subprocess_env(**env))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        early, late = json.loads(proc.stdout.split("ROUNDS ", 1)[1])
        assert late["fds"] <= early["fds"] + 1, (env, early, late)
        assert late["threads"] <= early["threads"], (env, early, late)
