"""Which earlier experiment a local run is compared with by default (``braintrust.baseline``),
on a real store: the most recent run of every case this one ran, else the one sharing most."""

from __future__ import annotations

import pytest

from braintrust import baseline
from braintrust.baseline import default_baseline
from braintrust.store.sqlite_store import LocalStore
from store_runs import Runs


@pytest.fixture
def store(tmp_path):
    with LocalStore(tmp_path / "braintrust.sqlite") as store:
        yield store


def baseline_of(runs: Runs, experiment_id: str) -> str | None:
    found = default_baseline(runs.store, experiment_id)
    return found["name"] if found else None


FULL = ["a", "b", "c", "d"]


def test_the_full_run_after_a_subset_rerun_is_compared_with_the_last_full_run(store):
    runs = Runs(store)
    runs.run("full", FULL)
    rerun = runs.run("rerun", ["b", "d"])  # --lf
    assert baseline_of(runs, rerun) == "full"
    assert baseline_of(runs, runs.run("full-again", FULL)) == "full"


def test_a_file_run_alone_is_compared_with_the_last_run_of_that_file(store):
    runs = Runs(store)
    runs.run("file-a", ["a1", "a2"])
    runs.run("file-b", ["b1", "b2", "b3"])
    assert baseline_of(runs, runs.run("file-a-again", ["a1", "a2"])) == "file-a"


def test_the_most_recent_run_of_the_same_cases_wins(store):
    runs = Runs(store)
    runs.run("first", FULL)
    runs.run("second", FULL)
    runs.run("subset", ["a"])
    assert baseline_of(runs, runs.run("third", FULL)) == "second"
    assert baseline_of(runs, runs.run("subset-again", ["a"])) == "third"  # newer than "subset", and covers it


def test_with_a_new_case_the_run_sharing_most_cases_wins(store):
    runs = Runs(store)
    runs.run("full", FULL)
    runs.run("rerun", ["a"])
    assert baseline_of(runs, runs.run("grown", FULL + ["e"])) == "full"
    runs.run("other", ["a", "b"])
    runs.run("some", ["c", "d", "e", "x"])
    # no run has all six: "grown" shares five, "some" three, "other" two
    assert baseline_of(runs, runs.run("grown-again", FULL + ["e", "f"])) == "grown"


def test_a_tie_goes_to_the_more_recent_run(store):
    runs = Runs(store)
    runs.run("older", ["a", "b", "x"])
    runs.run("newer", ["a", "b", "y"])
    runs.run("fewer", ["a"])
    assert baseline_of(runs, runs.run("now", ["a", "b", "z"])) == "newer"


def test_without_a_shared_case_or_rows_it_is_the_previous_run(store):
    runs = Runs(store)
    first = runs.run("first", FULL)
    assert baseline_of(runs, first) is None
    runs.run("previous", ["other"])
    assert baseline_of(runs, runs.run("new-cases", ["p", "q"])) == "previous"
    assert baseline_of(runs, runs.run("empty", [])) == "new-cases"


def test_cases_without_input_are_matched_by_name(store):
    runs = Runs(store)
    runs.run("named", [None, None])  # case-0, case-1
    runs.run("other", ["x"])
    assert baseline_of(runs, runs.run("again", [None, None])) == "named"


def test_only_the_most_recent_candidates_are_read(store, monkeypatch):
    monkeypatch.setattr(baseline, "CANDIDATES", 3)
    runs = Runs(store)
    runs.run("full", FULL)
    for n in range(3):
        runs.run(f"subset-{n}", ["a"])
    assert baseline_of(runs, runs.run("full-again", FULL)) == "subset-2"  # "full" is 4 runs back: not read


class CountingReads:
    """The store, counting how often each experiment's rows are read."""

    def __init__(self, store: LocalStore):
        self.store = store
        self.reads: dict[str, int] = {}

    def __getattr__(self, name):
        return getattr(self.store, name)

    def summary_rows(self, object_type, object_id):
        self.reads[object_id] = self.reads.get(object_id, 0) + 1
        return self.store.summary_rows(object_type, object_id)


def test_the_comparison_reads_each_experiment_once(store):
    """Choosing the baseline reads the experiments it compares: the comparison reuses that
    (reading them twice doubled the time a 10,000-case summary took)."""
    runs = Runs(store)
    runs.run("full", FULL)
    runs.run("subset", ["a"])
    now = runs.run("now", FULL)
    counting = CountingReads(store)
    comparison, base = baseline.compare_with_base(counting, now)
    assert base["name"] == "full"
    assert comparison.scores and comparison.coverage is None  # (the same cases: compared over all)
    ids = {e["name"]: e["id"] for e in store.list_experiments(None)}
    assert counting.reads == {ids["now"]: 1, ids["subset"]: 1, ids["full"]: 1}
    # The same comparison as reading them apart.
    from braintrust.local_compare import compare_experiments

    apart = compare_experiments(store.summary_rows("experiment", now), store.summary_rows("experiment", ids["full"]))
    assert comparison == apart
