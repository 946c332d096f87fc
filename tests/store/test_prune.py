"""``braintrust prune``: old experiments go with their rows, the newest stay, the file shrinks;
datasets and logs are untouched. On a real store; the command in a subprocess."""

from __future__ import annotations

import io
import os
import sqlite3
import stat
import subprocess
import sys
import time

import pytest

from braintrust.cli.prune_command import prune
from braintrust.delivery.backend import DATASET, EXPERIMENT
from braintrust.store import catalog
from braintrust.store.sqlite_store import LocalStore
from delivery_helpers import subprocess_env
from braintrust.tracing.timestamps import iso_utc
from store_runs import Runs

CASES = [{"question": f"q{n}", "context": "some context " * 20} for n in range(200)]


@pytest.fixture
def store_path(tmp_path):
    """Project a: runs a-0..a-5; project b: b-0, b-1; a dataset and project logs beside them."""
    path = tmp_path / ".braintrust" / "braintrust.sqlite"
    with LocalStore(path) as store:
        a, b = Runs(store, "a"), Runs(store, "b")
        for n in range(6):
            a.run(f"a-{n}", CASES)
        for n in range(2):
            b.run(f"b-{n}", CASES[:3])
        dataset = store.get_or_create_dataset(a.project, "qa")
        store.write_rows([{"id": "d1", "dataset_id": dataset["id"], "input": "q", "expected": "a"}])
        store.write_rows([{"id": "l1", "project_id": a.project, "log_id": "g", "input": "hi"}])
        first = store.get_experiment(project_id=a.project, name="a-0")
        catalog.save_resolved_ref(store.connection(), "ref-of-a-0", EXPERIMENT, {"experiment_id": first["id"]}, {})
    backdate(path)
    return path


def backdate(path, when: str = "2026-01-01T00:00:00+00:00") -> None:
    """Runs of long ago: ``prune`` keeps experiments written to in the last minutes."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute("UPDATE experiments SET created = ?", (when,))
            conn.execute("UPDATE row_log SET created = ?", (when,))
    finally:
        conn.close()


def cli(*args, cwd):
    """``braintrust prune ARGS`` run in ``cwd``, the project folder holding ``.braintrust/``."""
    (cwd / "pyproject.toml").touch()  # (the commands look for the store in the project root)
    return subprocess.run([sys.executable, "-m", "braintrust", "prune", *args], cwd=cwd, env=subprocess_env(),
                          capture_output=True, text=True, timeout=60)


def file_bytes(path) -> int:
    """The database and its write-ahead log."""
    return sum(os.path.getsize(f"{path}{suffix}") for suffix in ("", "-wal") if os.path.exists(f"{path}{suffix}"))


def names(store: LocalStore) -> list[str]:
    return [e["name"] for e in store.list_experiments()]


def log_entries(path, object_id: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM row_log WHERE object_id = ?", (object_id,)).fetchone()[0]


def test_prune_keeps_the_newest_of_each_project_and_shrinks_the_file(store_path):
    with LocalStore(store_path) as store:
        doomed = {e["name"]: e["id"] for e in store.list_experiments() if e["name"] in ("a-0", "a-1", "a-2", "a-3")}
        dataset = store.list_datasets()[0]["id"]
    size = file_bytes(store_path)

    result = cli("--keep", "2", cwd=store_path.parent.parent)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Deleted 4 experiments (a: 4), kept the newest 2 of each project; the store went from ")
    # (half the experiments go; the schema's empty tables keep a few pages)
    assert os.path.getsize(store_path) < size * 0.55 and not os.path.exists(f"{store_path}-wal")
    assert stat.S_IMODE(os.stat(store_path).st_mode) == 0o600
    with LocalStore(store_path) as store:
        assert names(store) == ["a-4", "a-5", "b-0", "b-1"]
        assert all(log_entries(store_path, experiment_id) == 0 for experiment_id in doomed.values())
        kept = store.get_experiment(name="a-5")
        assert store.count_rows(EXPERIMENT, kept["id"]) == 2 * len(CASES)
        assert store.count_rows(DATASET, dataset) == 1  # datasets and logs are not experiments
        assert log_entries(store_path, store.get_project(name="a")["id"]) == 1
        assert catalog.get_resolved_ref(store.connection(), "ref-of-a-0") is None  # a replay would create it again


def test_dry_run_and_one_project(store_path):
    listed = cli("--keep", "4", "--dry-run", cwd=store_path.parent.parent)
    assert listed.returncode == 0
    assert listed.stdout == "Would delete 2 experiments (a: 2), keeping the newest 4 of each project:\n  a-0\n  a-1\n"
    only_b = cli("b", "--keep", "1", cwd=store_path.parent.parent)
    assert only_b.returncode == 0 and only_b.stdout.startswith("Deleted 1 experiment (b: 1), kept the newest 1 of project b")
    nothing = cli("b", "--keep", "1", cwd=store_path.parent.parent)
    assert nothing.stdout == "Nothing to prune: no more than 1 experiment in project b.\n"
    with LocalStore(store_path) as store:
        assert names(store) == ["a-0", "a-1", "a-2", "a-3", "a-4", "a-5", "b-1"]
        with pytest.raises(ValueError, match="keep must be at least 1"):
            store.prune_experiments(0)
    for args, message in ((("--keep", "0"), "--keep: expected a positive integer, got '0'"),
                          ((), "the following arguments are required: --keep"),
                          (("nope", "--keep", "1"), "no project 'nope'")):
        bad = cli(*args, cwd=store_path.parent.parent)
        assert bad.returncode in (1, 2) and message in bad.stderr


def test_a_store_being_written_is_left_as_it_is(store_path):
    writer = sqlite3.connect(store_path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a test run in the middle of a write
    try:
        with LocalStore(store_path, timeout_seconds=0.2) as store:
            out, err = io.StringIO(), io.StringIO()
            assert prune(store, None, 1, False, out, err) == 1
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert "nothing was deleted: the store is busy" in err.getvalue() and "try again when it is done" in err.getvalue()
    with LocalStore(store_path) as store:
        assert len(names(store)) == 8


def test_a_store_being_read_shrinks_when_its_reader_closes_it(store_path):
    reader = sqlite3.connect(store_path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM row_log").fetchone()  # holds its snapshot
    try:
        with LocalStore(store_path, timeout_seconds=0.2) as store:
            out, err = io.StringIO(), io.StringIO()
            assert prune(store, None, 1, False, out, err) == 0
        assert "the store goes, once the other process reading it closes it, from" in out.getvalue()
        before = file_bytes(store_path)
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert os.path.getsize(store_path) < before / 2 and not os.path.exists(f"{store_path}-wal")


def test_an_experiment_written_to_in_the_last_minutes_is_kept(store_path):
    """A run may still be logging into it (a long suite, a logger script): pruning it would lose
    its later rows while the run reports success."""
    with LocalStore(store_path) as store:
        running = store.get_experiment(project_id=store.get_project(name="a")["id"], name="a-1")
        store.write_rows([{"id": "late", "experiment_id": running["id"], "input": "still logging",
                           "created": iso_utc(time.time())}])
    out, err = io.StringIO(), io.StringIO()
    with LocalStore(store_path) as store:
        assert prune(store, "a", keep=2, dry_run=False, out=out, err=err) == 0
        left = names(store)
    assert "a-1" in left and "a-0" not in left and "a-2" not in left
    assert "kept 1 older experiment written to in the last 10 minutes, which a run may still be logging into (a-1)" in err.getvalue()
    out = io.StringIO()
    with LocalStore(store_path) as store:  # again: only that one is beyond the newest 2 (not "no more than 2")
        assert prune(store, "a", keep=2, dry_run=False, out=out, err=io.StringIO()) == 0
    assert out.getvalue() == "Nothing to prune yet: 1 older experiment of project a was written to in the last 10 minutes.\n"


def test_the_base_experiment_of_a_kept_one_is_kept(store_path):
    """``init(..., base_experiment="a-0")``: its comparisons must not move to another baseline."""
    with sqlite3.connect(store_path) as conn:
        conn.execute("UPDATE experiments SET base_exp_id = (SELECT id FROM experiments WHERE name = 'a-0') WHERE name = 'a-5'")
    out, err = io.StringIO(), io.StringIO()
    with LocalStore(store_path) as store:
        assert prune(store, "a", keep=2, dry_run=False, out=out, err=err) == 0
        assert [n for n in names(store) if n.startswith("a-")] == ["a-0", "a-4", "a-5"]
