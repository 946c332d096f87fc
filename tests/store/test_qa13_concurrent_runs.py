"""Two runs (or a run and `braintrust prune`) on one local store at once."""

from __future__ import annotations

import io
import sqlite3

import braintrust
from braintrust.cli.prune_command import prune
from braintrust.delivery.backend import EXPERIMENT
from braintrust.delivery.replay import replay
from braintrust.store.sqlite_store import LocalStore

LONG_AGO = "2020-01-01T00:00:00+00:00"


def test_rows_of_a_run_that_joined_an_experiment_pruned_meanwhile_are_not_lost(tmp_path, monkeypatch):
    """A run joins an old experiment by name (``update=True``, as ``--braintrust-update`` does);
    `braintrust prune` deletes that experiment before the run's rows arrive. Its rows used to be
    counted accepted while landing in no experiment (no command showed them, none deleted them):
    they spill now, the error says why, and ``braintrust replay`` writes them to one of its name."""
    monkeypatch.setenv("BRAINTRUST_LOCAL_DIR", str(tmp_path / "store"))
    monkeypatch.delenv("BRAINTRUST_API_KEY", raising=False)
    old = braintrust.init(project="p", experiment="nightly", set_current=False)
    old.log(input=1, output=1, scores={})
    for _ in range(2):
        newer = braintrust.init(project="p", set_current=False)
        newer.log(input=1, output=1, scores={})
    braintrust.flush()
    path = tmp_path / "store" / "braintrust.sqlite"
    conn = sqlite3.connect(path)
    with conn:  # (runs of long ago: prune keeps what was written to in the last minutes)
        conn.execute("UPDATE experiments SET created = ?", (LONG_AGO,))
        conn.execute("UPDATE row_log SET created = ?", (LONG_AGO,))
    conn.close()

    joined = braintrust.init(project="p", experiment="nightly", update=True, set_current=False)
    joined_id = joined.id  # (joined: registered, no row written yet)
    with LocalStore(path) as store:
        assert prune(store, None, 2, False, io.StringIO(), io.StringIO()) == 0
        assert joined_id not in {e["id"] for e in store.list_experiments()}
    joined.log(input=2, output=2, scores={})
    result = braintrust.flush()
    assert (result.spilled, result.dropped) == (1, {})  # (the earlier rows: accepted)
    assert any("deleted from the local store (braintrust prune)" in error for error in result.errors), result.errors

    replayed = replay(tmp_path / "store" / "spill", store=path)
    assert not replayed.errors, replayed.errors
    with LocalStore(path) as store:
        names = {e["id"]: e["name"] for e in store.list_experiments()}
        holder = [eid for eid, name in names.items() if name.startswith("nightly")]
        assert holder, names
        assert any(row.get("input") == 2 for eid in holder for batch in store.iter_rows(EXPERIMENT, eid) for row in batch)
