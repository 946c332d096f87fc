"""QA: runs whose cases log to several projects (a marker's ``project=`` beside the default):
each project's experiment is checked for the name and baseline asked for, and an experiment
two projects' cases share (``--braintrust-experiment-id`` naming a marker project's) is
summarized, gated and listed in the JSON once."""

from __future__ import annotations

import json

SUITE = '''
import pytest
from pytest_braintrust import eval_case


def exact(output, expected, **kw):
    return 1.0 if output == expected else 0.0


@eval_case(input=1, expected=2, scorers=[exact])
def test_default():
    return 2


@pytest.mark.braintrust(input=2, expected=4, scorers=[exact], project="other")
def test_other_a():
    return 4


@pytest.mark.braintrust(input=3, expected=7, scorers=[exact], project="other")
def test_other_b():
    return 6
'''


def _document(bt, name: str = "out.json") -> dict:
    return json.loads((bt.path / name).read_text())


def test_a_base_experiment_not_found_is_reported_for_every_project(bt):
    bt.pytester.makepyfile(test_suite_qa5p=SUITE)
    assert bt.run("--braintrust", "--braintrust-project", "main", "--braintrust-experiment", "base1").ret == 0
    # Only the marker's project has no experiment named "base2": it is reported, not silently replaced.
    assert bt.run("--braintrust", "--braintrust-project", "main", "--braintrust-experiment", "base2", "-k", "default").ret == 0
    result = bt.run("--braintrust", "--braintrust-project", "main", "--braintrust-base-experiment", "base2",
                    "--braintrust-json=out.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["braintrust: --braintrust-base-experiment 'base2': no such experiment in project 'other'; "
                                 "compared with 'base1' (the default baseline) instead"])
    assert "no such experiment in project 'main'" not in result.stdout.str()
    compared = {e["project"]: e["comparison_experiment"] for e in _document(bt)["experiments"]}
    assert compared == {"main": "base2", "other": "base1"}
    assert any("project 'other'" in error for error in _document(bt)["errors"])


def test_an_existing_experiment_name_is_noted_for_a_marker_project(bt):
    bt.pytester.makepyfile(test_suite_qa5p=SUITE)
    assert bt.run("--braintrust", "--braintrust-project", "main", "--braintrust-experiment", "nightly", "-k", "other").ret == 0
    result = bt.run("--braintrust", "--braintrust-project", "main", "--braintrust-experiment", "nightly")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["note: project 'other' already has an experiment named 'nightly', so this run is 'nightly-1'; *"])
    assert "note: project 'main'" not in result.stdout.str()


def test_an_experiment_id_shared_with_a_marker_project_is_summarized_once(bt):
    bt.pytester.makepyfile(test_suite_qa5p=SUITE)
    assert bt.run("--braintrust", "--braintrust-project", "main", "--braintrust-json=first.json").ret == 0
    (other,) = [e for e in _document(bt, "first.json")["experiments"] if e["project"] == "other"]
    # A shard joining the marker project's experiment by id: the default project's cases go there too.
    result = bt.run("--braintrust", "--braintrust-project", "main", "--braintrust-experiment-id", other["experiment_id"],
                    "--braintrust-fail-under", "exact=0.5", "--braintrust-json=out.json")
    assert result.ret == 0
    document = _document(bt)
    assert [e["experiment_id"] for e in document["experiments"]] == [other["experiment_id"]]
    assert [(g["project"], g["passed"]) for g in document["gates"]] == [("other", True)]
    assert result.stdout.str().count("See results for") == 1
    (joined,) = bt.experiments("other")
    roots = sorted(r["span_attributes"]["name"] for r in bt.rows(joined) if r.get("span_attributes") and not r.get("span_parents"))
    assert roots == sorted(["test_other_a", "test_other_b"] * 2 + ["test_default"])  # this run's default case joined it


def test_an_experiment_id_shared_with_a_marker_project_under_xdist(bt_api):
    bt_api.pytester.makepyfile(test_suite_qa5p=SUITE)
    first = bt_api.run("--braintrust", "--braintrust-project", "main", "--braintrust-experiment", "nightly", "-k", "other")
    assert first.ret == 0
    (project,) = [p for p in bt_api.server.projects() if p["name"] == "other"]
    (experiment,) = bt_api.server.experiments(project["id"])
    result = bt_api.run_subprocess("--braintrust", "--braintrust-project", "main", "-n", "2",
                                   "--braintrust-experiment-id", experiment["id"], "--braintrust-json=out.json")
    assert result.ret == 0, result.stdout.str()
    document = _document(bt_api)
    assert [(e["project"], e["experiment_id"]) for e in document["experiments"]] == [("other", experiment["id"])]
    assert document["cases"]["total"] == 3
    assert [p["name"] for p in bt_api.server.projects() if p["name"] == "main"] == []  # no experiment made there


def test_a_project_option_with_surrounding_spaces_is_the_markers_project(bt):
    """``--braintrust-project "other "`` (a quoting slip) and a marker's ``project="other"`` are
    one project, one experiment, as the variables' values already were."""
    bt.pytester.makepyfile(test_suite_qa5p=SUITE)
    result = bt.run("--braintrust", "--braintrust-project", " other ", "--braintrust-json=out.json")
    assert result.ret == 0
    assert [e["project"] for e in _document(bt)["experiments"]] == ["other"]


def test_an_empty_project_option_is_a_usage_error(bt):
    """An unset variable's empty value (``--braintrust-project "$PROJECT"``) would silently log
    to the rootdir's project."""
    bt.pytester.makepyfile(test_suite_qa5p=SUITE)
    result = bt.run("--braintrust", "--braintrust-project", " ")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--braintrust-project: an empty value names nothing; give the project's name, or leave the option out.*"])
