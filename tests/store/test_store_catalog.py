"""Projects, experiments and datasets: naming, reuse, ordering."""

from __future__ import annotations

import re

import pytest

from braintrust.store.connection import StoreError
from braintrust.store.sqlite_store import LocalStore


@pytest.fixture
def store(tmp_path):
    with LocalStore(tmp_path / "braintrust.sqlite") as store:
        yield store


def test_projects_are_created_once_by_name(store):
    first = store.get_or_create_project("demo")
    assert store.get_or_create_project("demo") == first
    assert store.get_or_create_project(id=first["id"]) == first
    assert store.get_or_create_project()["name"] == "Global"
    assert [p["name"] for p in store.list_projects()] == ["Global", "demo"]


def test_an_unknown_project_id_becomes_a_local_project(store):
    made = store.get_or_create_project(id="remote-project-id")
    assert made == {**made, "id": "remote-project-id", "name": "remote-project-id"}
    named = store.get_or_create_project(name="named", id="other-id")
    assert named["id"] == "other-id" and named["name"] == "named"


def test_ensure_new_makes_unique_names(store):
    project = store.get_or_create_project("p")["id"]
    names = [store.create_experiment(project, "run")["name"] for _ in range(3)]
    assert names == ["run", "run-1", "run-2"]
    store.create_experiment(project, "run-5")
    assert store.create_experiment(project, "run")["name"] == "run-3"
    other = store.get_or_create_project("q")["id"]
    assert store.create_experiment(other, "run")["name"] == "run"  # names are per project


def test_names_with_like_wildcards_are_matched_literally(store):
    project = store.get_or_create_project("p")["id"]
    store.create_experiment(project, "a_b")
    store.create_experiment(project, "axb-1")
    assert store.create_experiment(project, "a_b")["name"] == "a_b-1"


def test_ensure_new_false_returns_the_existing_experiment(store):
    project = store.get_or_create_project("p")["id"]
    first = store.create_experiment(project, "run", description="one", metadata={"k": 1})
    again = store.create_experiment(project, "run", ensure_new=False, description="two")
    assert again == first
    assert store.create_experiment(project, "fresh", ensure_new=False)["name"] == "fresh"


def test_generated_names_are_readable_and_unique(store):
    project = store.get_or_create_project("p")["id"]
    plain = store.create_experiment(project)
    branch = store.create_experiment(project, repo_info={"branch": "feature/x", "commit": "abc"})
    again = store.create_experiment(project, repo_info={"branch": "feature/x"})
    assert re.fullmatch(r"experiment-\d{8}-\d{6}", plain["name"])
    assert branch["name"].startswith("feature-x-")
    assert again["name"] != branch["name"]


def test_experiment_fields_round_trip(store):
    project = store.get_or_create_project("p")["id"]
    base = store.create_experiment(project, "base")
    made = store.create_experiment(
        project, "run", description="d", metadata={"m": [1]}, tags=["a", "b"], base_exp_id=base["id"],
        dataset_id="ds", dataset_version="1000000000000000003", repo_info={"commit": "c"}, public=True,
    )
    got = store.get_experiment(made["id"])
    assert got == made
    assert got["metadata"] == {"m": [1]} and got["tags"] == ["a", "b"] and got["public"] is True
    assert got["base_exp_id"] == base["id"] and got["dataset_version"] == "1000000000000000003"
    assert store.get_experiment(project_id=project, name="run") == got
    assert store.get_experiment(name="run") == got
    assert store.get_experiment(id="missing") is None


def test_earlier_experiments_are_those_created_before_in_the_same_project(store):
    p = store.get_or_create_project("p")["id"]
    q = store.get_or_create_project("q")["id"]
    a = store.create_experiment(p, "a")
    store.create_experiment(q, "other project")
    b = store.create_experiment(p, "b")
    c = store.create_experiment(p, "a")  # becomes a-1
    assert store.earlier_experiments(a["id"], 5) == []
    assert [e["id"] for e in store.earlier_experiments(b["id"], 5)] == [a["id"]]
    assert [e["id"] for e in store.earlier_experiments(c["id"], 5)] == [b["id"], a["id"]]  # newest first
    assert [e["id"] for e in store.earlier_experiments(c["id"], 1)] == [b["id"]]
    assert [e["name"] for e in store.list_experiments(p)] == ["a", "b", "a-1"]
    assert len(store.list_experiments()) == 4


def test_experiment_needs_an_existing_project(store):
    with pytest.raises(StoreError, match="no project"):
        store.create_experiment("nope", "run")


def test_datasets_are_created_once_per_project_and_name(store):
    project = store.get_or_create_project("p")["id"]
    ds = store.get_or_create_dataset(project, "qa", description="questions", metadata={"v": 1})
    assert store.get_or_create_dataset(project, "qa") == ds
    assert store.get_dataset(ds["id"]) == ds
    assert ds["metadata"] == {"v": 1} and ds["description"] == "questions"
    other = store.get_or_create_dataset(store.get_or_create_project("q")["id"], "qa")
    assert other["id"] != ds["id"]
    assert [d["name"] for d in store.list_datasets(project)] == ["qa"]
