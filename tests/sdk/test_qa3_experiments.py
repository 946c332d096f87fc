"""Experiments against 0.48.1, side by side (QA round 3): opening an experiment read-only, the git
policy of an experiment, and a summary asked against a given experiment."""

from __future__ import annotations

import pytest

import braintrust
from braintrust.store.location import database_path
from braintrust.store.sqlite_store import LocalStore
from test_objects import git_repo


# -- init(open=True) ---------------------------------------------------------------------------


def test_opening_an_experiment_is_one_lookup_and_creates_no_project(bt_env):
    """0.48.1 opens with one ``GET /v1/experiment`` naming the project as given (name, id or
    both); ours registered the project first (``POST /v1/project``: an unknown project was
    created by a read) or looked it up by id."""
    with pytest.raises(ValueError, match="Experiment missing not found in project never-made"):
        braintrust.init(project="never-made", experiment="missing", open=True).id
    assert bt_env.projects() == []
    assert not bt_env.requests_to("/v1/project")

    written = braintrust.init(project="made", experiment="x")
    written.log(input=1, output=1, scores={})
    written.flush()
    project_id = written.project.id
    before = len(bt_env.requests)
    counts = [len(list(braintrust.init(experiment="x", open=True, **where)))
              for where in ({"project": "made"}, {"project_id": project_id}, {"project": "made", "project_id": project_id})]
    assert counts == [1, 1, 1]
    asked = [(r.method, r.path, r.query) for r in bt_env.requests[before:] if r.path != "/logs3"]
    lookups = [(method, path) for method, path, _ in asked if not path.endswith("/fetch")]
    assert lookups == [("GET", "/v1/experiment")] * 3
    assert [{k: v for k, v in query.items() if k != "org_name"} for method, path, query in asked if path == "/v1/experiment"] == [
        {"experiment_name": "x", "project_name": "made"},
        {"experiment_name": "x", "project_id": project_id},
        {"experiment_name": "x", "project_name": "made", "project_id": project_id},
    ]


def test_opening_an_experiment_of_an_unknown_project_leaves_the_local_store_without_it():
    braintrust.init(project="kept", experiment="x").log(input=1, output=1, scores={})
    braintrust.flush()
    with pytest.raises(ValueError, match="Experiment 'x' not found in project 'never-made' of the local store"):
        braintrust.init(project="never-made", experiment="x", open=True).id
    with LocalStore(database_path()) as store:
        assert [p["name"] for p in store.list_projects()] == ["kept"]
    assert len(list(braintrust.init(project="kept", experiment="x", open=True))) == 1


# -- git_metadata_settings ---------------------------------------------------------------------


def test_settings_with_no_field_in_common_with_the_org_s_collect_nothing(tmp_path, bt_server_factory, monkeypatch):
    """The org collects some fields, the caller others: 0.48.1 merges them into "none" and sends
    neither repo_info nor ancestor_commits (ours sent a repo_info of nulls and the ancestors)."""
    monkeypatch.chdir(git_repo(tmp_path / "repo", dirty=False, origin=True))
    server = bt_server_factory(git_metadata={"collect": "some", "fields": ["commit", "dirty"]})
    monkeypatch.setenv("BRAINTRUST_API_KEY", server.api_key)
    monkeypatch.setenv("BRAINTRUST_APP_URL", server.url)
    disjoint = braintrust.GitMetadataSettings(collect="some", fields=["branch"])
    shared = braintrust.GitMetadataSettings(collect="some", fields=["branch", "commit"])
    for settings in (disjoint, shared):
        braintrust.init(project="git", git_metadata_settings=settings).id
    bodies = [r.json for r in server.requests_to("/v1/experiment", "POST")]
    assert "repo_info" not in bodies[0] and "ancestor_commits" not in bodies[0]
    assert len(bodies[1]["repo_info"]["commit"]) == 40 and bodies[1]["repo_info"]["branch"] is None
    assert "ancestor_commits" in bodies[1]


# -- summarize(comparison_experiment_id=) -------------------------------------------------------


def test_an_unknown_comparison_id_is_said_and_no_other_experiment_is_compared_with(caplog):
    """In the local store, a summary asked against an experiment that is not there compared with
    the default baseline instead, under that other experiment's name."""
    braintrust.init(project="cmp", experiment="first").log(input="a", output="a", scores={"ok": 0})
    second = braintrust.init(project="cmp", experiment="second")
    second.log(input="a", output="a", scores={"ok": 1})
    with caplog.at_level("WARNING", logger="braintrust"):
        summary = second.summarize(comparison_experiment_id="no-such-id")
    assert any("comparison experiment id 'no-such-id' not found in the local store" in r.getMessage() for r in caplog.records)
    assert summary.comparison_experiment_name is None
    assert summary.scores["ok"].score == 1 and summary.scores["ok"].diff is None
    assert "compared to" not in str(summary)
    assert second.summarize().comparison_experiment_name == "first"  # (without one: the default, as before)
