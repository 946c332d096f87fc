"""Which earlier experiment a local run is compared with by default (``braintrust.baseline``),
on a real store: the most recent run of every case this one ran, else the one sharing most."""

from __future__ import annotations

import pytest

from braintrust import baseline
from braintrust.baseline import default_baseline
from braintrust.store.sqlite_store import LocalStore


@pytest.fixture
def store(tmp_path):
    with LocalStore(tmp_path / "braintrust.sqlite") as store:
        yield store


class Runs:
    """Experiments of one project, each given the inputs of its cases."""

    def __init__(self, store: LocalStore):
        self.store = store
        self.project = store.get_or_create_project("p")["id"]

    def run(self, name: str, inputs: list) -> str:
        experiment = self.store.create_experiment(self.project, name)
        rows = []
        for n, value in enumerate(inputs):
            trace = f"{name}-{n}"
            rows.append({"id": f"{trace}-root", "span_id": trace, "root_span_id": trace, "span_parents": None,
                         "experiment_id": experiment["id"], "input": value, "span_attributes": {"name": f"case-{n}"},
                         "scores": {"pass": 1}})
            rows.append({"id": f"{trace}-task", "span_id": f"{trace}-t", "root_span_id": trace, "span_parents": [trace],
                         "experiment_id": experiment["id"], "input": "the task's own input"})
        if rows:
            self.store.write_rows(rows)
        return experiment["id"]

    def baseline_of(self, experiment_id: str) -> str | None:
        found = default_baseline(self.store, experiment_id)
        return found["name"] if found else None


FULL = ["a", "b", "c", "d"]


def test_the_full_run_after_a_subset_rerun_is_compared_with_the_last_full_run(store):
    runs = Runs(store)
    runs.run("full", FULL)
    rerun = runs.run("rerun", ["b", "d"])  # --lf
    assert runs.baseline_of(rerun) == "full"
    assert runs.baseline_of(runs.run("full-again", FULL)) == "full"


def test_a_file_run_alone_is_compared_with_the_last_run_of_that_file(store):
    runs = Runs(store)
    runs.run("file-a", ["a1", "a2"])
    runs.run("file-b", ["b1", "b2", "b3"])
    assert runs.baseline_of(runs.run("file-a-again", ["a1", "a2"])) == "file-a"


def test_the_most_recent_run_of_the_same_cases_wins(store):
    runs = Runs(store)
    runs.run("first", FULL)
    runs.run("second", FULL)
    runs.run("subset", ["a"])
    assert runs.baseline_of(runs.run("third", FULL)) == "second"
    assert runs.baseline_of(runs.run("subset-again", ["a"])) == "third"  # newer than "subset", and covers it


def test_with_a_new_case_the_run_sharing_most_cases_wins(store):
    runs = Runs(store)
    runs.run("full", FULL)
    runs.run("rerun", ["a"])
    assert runs.baseline_of(runs.run("grown", FULL + ["e"])) == "full"
    runs.run("other", ["a", "b"])
    runs.run("some", ["c", "d", "e", "x"])
    # no run has all six: "grown" shares five, "some" three, "other" two
    assert runs.baseline_of(runs.run("grown-again", FULL + ["e", "f"])) == "grown"


def test_a_tie_goes_to_the_more_recent_run(store):
    runs = Runs(store)
    runs.run("older", ["a", "b", "x"])
    runs.run("newer", ["a", "b", "y"])
    runs.run("fewer", ["a"])
    assert runs.baseline_of(runs.run("now", ["a", "b", "z"])) == "newer"


def test_without_a_shared_case_or_rows_it_is_the_previous_run(store):
    runs = Runs(store)
    first = runs.run("first", FULL)
    assert runs.baseline_of(first) is None
    runs.run("previous", ["other"])
    assert runs.baseline_of(runs.run("new-cases", ["p", "q"])) == "previous"
    assert runs.baseline_of(runs.run("empty", [])) == "new-cases"


def test_cases_without_input_are_matched_by_name(store):
    runs = Runs(store)
    runs.run("named", [None, None])  # case-0, case-1
    runs.run("other", ["x"])
    assert runs.baseline_of(runs.run("again", [None, None])) == "named"


def test_only_the_most_recent_candidates_are_read(store, monkeypatch):
    monkeypatch.setattr(baseline, "CANDIDATES", 3)
    runs = Runs(store)
    runs.run("full", FULL)
    for n in range(3):
        runs.run(f"subset-{n}", ["a"])
    assert runs.baseline_of(runs.run("full-again", FULL)) == "subset-2"  # "full" is 4 runs back: not read
