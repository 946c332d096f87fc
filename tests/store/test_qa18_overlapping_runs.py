"""Two pytest runs overlapping on one local store (two terminals, two CI jobs on one runner), and
`braintrust prune` while a run is under way: a run still writing its experiment is never another
run's default baseline, nor pruned (nor its baseline), and prune says which it kept.

The overlap is made deterministic with files: run A's last case flushes, writes ``waiting`` and
blocks until the test writes ``go``; meanwhile run B (or prune) runs to its end."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import braintrust
from braintrust.baseline import default_baseline
from braintrust.cli.compare_command import compare
from braintrust.cli.prune_command import prune
from braintrust.store.sqlite_store import LocalStore

QUIET = ("-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:hypothesispytest", "-p", "no:benchmark")

SUITE = '''
import os, time
from pathlib import Path

import braintrust
import pytest
from pytest_braintrust import eval_case


def same(output, expected):
    return float(os.environ["SCORE"])


@eval_case(scorers=[same])
@pytest.mark.parametrize("n", range(4))
def test_case(n, braintrust_case):
    braintrust_case.input = n
    hold = os.environ.get("HOLD_AT")
    if hold is not None and n == int(hold):
        braintrust.flush()  # (the cases before this one are in the store)
        Path(os.environ["SIGNAL_DIR"], "waiting").write_text("")
        while not Path(os.environ["SIGNAL_DIR"], "go").exists():
            time.sleep(0.02)
    return n
'''


def _env(store: Path, score: float, **extra: str) -> dict[str, str]:
    env = {**os.environ, "BRAINTRUST_LOCAL_DIR": str(store), "PYTHONDONTWRITEBYTECODE": "1", "SCORE": str(score), **extra}
    env.pop("BRAINTRUST_API_KEY", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    return env


def _pytest(folder: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pytest", *QUIET, "-q", "-n", "0", "--braintrust", *args],
                            cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _done(process: subprocess.Popen) -> str:
    try:
        output = process.communicate(timeout=60)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"hung: {process.args}") from None
    assert process.returncode == 0, output
    return output


def _wait_for(path: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"never got to {path.name}: {process.communicate()[0]}")
        time.sleep(0.02)


def _project(tmp_path: Path) -> tuple[Path, Path, Path]:
    folder, store, signals = tmp_path / "proj", tmp_path / "store", tmp_path / "signals"
    folder.mkdir()
    signals.mkdir()
    (folder / "test_suite.py").write_text(SUITE)
    return folder, store, signals


def _summary(path: Path) -> dict:
    return json.loads(path.read_text())["experiments"][0]


def test_a_run_still_under_way_is_not_the_baseline_of_one_that_ends_first(tmp_path):
    folder, store, signals = _project(tmp_path)
    _done(_pytest(folder, _env(store, 1.0), "--braintrust-experiment=first"))
    # A scores 0 (a change being tried), holds at its last case with three cases in the store.
    a = _pytest(folder, _env(store, 0.0, HOLD_AT="3", SIGNAL_DIR=str(signals)), "--braintrust-experiment=a")
    try:
        _wait_for(signals / "waiting", a)
        # B reruns the three cases A has already run: A "ran every case" B ran, but is not finished.
        b_json = tmp_path / "b.json"
        b_out = _done(_pytest(folder, _env(store, 1.0), "--braintrust-experiment=b", f"--braintrust-json={b_json}",
                              "-k", "not 3"))
        b = _summary(b_json)
        assert b["comparison_experiment"] == "first", b_out
        assert b["scores"]["same"]["improvements"] == 0, b_out
        with LocalStore(store / "braintrust.sqlite") as local:  # (`braintrust compare` / `show`, meanwhile)
            names = {e["name"]: e["id"] for e in local.list_experiments()}
            assert set(local.running_experiments(names.values())) == {names["a"]}
            assert default_baseline(local, names["b"])["name"] == "first"
            out, err = io.StringIO(), io.StringIO()
            assert compare(local, "proj", "a", None, out, err) == 0
            assert f"a is still being written by a run (process {a.pid}); these are its scores so far" in err.getvalue()
    finally:
        (signals / "go").write_text("")
        _done(a)
    with LocalStore(store / "braintrust.sqlite") as local:  # A ended: now a baseline like any other
        names = {e["name"]: e["id"] for e in local.list_experiments()}
        assert local.running_experiments(names.values()) == {}
        assert default_baseline(local, names["b"])["name"] == "a"


def test_prune_keeps_the_experiment_a_run_is_writing_and_its_baseline_and_says_so(tmp_path):
    folder, store, signals = _project(tmp_path)
    for name in ("old-1", "old-2"):
        _done(_pytest(folder, _env(store, 1.0), f"--braintrust-experiment={name}"))
    path = store / "braintrust.sqlite"
    a = _pytest(folder, _env(store, 1.0, HOLD_AT="3", SIGNAL_DIR=str(signals)), "--braintrust-experiment=a")
    try:
        _wait_for(signals / "waiting", a)
        with LocalStore(path) as local:
            # Long ago (as prune sees it): only the liveness of A's run can keep them.
            conn = local.connection()
            conn.execute("UPDATE experiments SET created = '2020-01-01T00:00:00+00:00'")
            conn.execute("UPDATE row_log SET created = '2020-01-01T00:00:00+00:00'")
            _done(_pytest(folder, _env(store, 1.0), "--braintrust-experiment=newer"))
            out, err = io.StringIO(), io.StringIO()
            assert prune(local, None, 1, False, out, err) == 0
            left = {e["name"] for e in local.list_experiments()}
        assert left == {"old-2", "a", "newer"}, (out.getvalue(), err.getvalue())
        assert "kept a: a run (process " in err.getvalue()
        assert "kept old-2: it is the baseline of a, which a run is still writing" in err.getvalue()
        assert out.getvalue().startswith("Deleted 1 experiment (p"), out.getvalue()
    finally:
        (signals / "go").write_text("")
        output = _done(a)
    assert "old-2" in output  # (A's summary still compares with its baseline)
    with LocalStore(path) as local:  # A ended: prune may take its baseline now (A itself was written just now)
        assert prune(local, None, 1, False, io.StringIO(), io.StringIO()) == 0
        assert {e["name"] for e in local.list_experiments()} == {"a", "newer"}


def test_a_process_summarizing_its_experiment_marks_it_finished(tmp_path, monkeypatch):
    """A script (a notebook) that ran an eval and summarized it, still alive: what it wrote is a
    finished run for other processes, while one it never summarized still counts as running."""
    monkeypatch.setenv("BRAINTRUST_LOCAL_DIR", str(tmp_path / "store"))
    monkeypatch.delenv("BRAINTRUST_API_KEY", raising=False)
    script = tmp_path / "notebook.py"
    script.write_text(
        "import sys, braintrust\n"
        "done = braintrust.init(project='p', experiment='done', set_current=False)\n"
        "done.log(input=1, output=1, scores={'s': 1})\n"
        "done.summarize()\n"
        "open_one = braintrust.init(project='p', experiment='open', set_current=False)\n"
        "open_one.log(input=1, output=1, scores={'s': 1})\n"
        "braintrust.flush()\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n"
    )
    notebook = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                cwd=tmp_path)
    try:
        assert notebook.stdout.readline().strip() == "ready"
        with LocalStore(tmp_path / "store" / "braintrust.sqlite") as local:
            names = {e["name"]: e["id"] for e in local.list_experiments()}
            assert set(local.running_experiments(names.values())) == {names["open"]}
        mine = braintrust.init(project="p", experiment="mine", set_current=False)
        mine.log(input=1, output=1, scores={"s": 1})
        assert mine.summarize().comparison_experiment_name == "done"
    finally:
        notebook.communicate("", timeout=30)
