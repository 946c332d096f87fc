"""Datasets and experiments as objects, held to 0.48.1 and to the test server where a side-by-side
run (the public SDK and ours against the test server; ours against the local store) found ours
different."""

from __future__ import annotations

import pytest

import braintrust
from braintrust.objects.reads import reads


@pytest.fixture(params=["local", "api"])
def mode(request) -> str:
    if request.param == "api":
        request.getfixturevalue("bt_env")
    return request.param


def test_rows_read_back_carry_their_project_id_in_the_local_store_too(mode):
    """Braintrust's fetch gives every row its object's ``project_id`` (as the test server does);
    the local store's rows had none, so ``row["project_id"]`` worked with a key and failed offline."""
    dataset = braintrust.init_dataset(project="rows-project", name="d")
    dataset.insert(input=1, expected=1, id="r1")
    experiment = braintrust.init(project="rows-project", experiment="e", set_current=False)
    experiment.log(input=1, output=1, scores={"ok": 1})
    with experiment.start_span(name="traced") as span:
        root_span_id = span.root_span_id
    experiment.flush()
    project_id = dataset.project.id

    assert [record["project_id"] for record in dataset] == [project_id]
    assert [record["project_id"] for record in dataset.fetch(batch_size=1)] == [project_id]
    assert {row["project_id"] for row in experiment.fetch()} == {project_id}
    opened = braintrust.init(project="rows-project", experiment=experiment.name, open=True)
    assert {row["project_id"] for row in opened} == {project_id}
    # a scorer's trace (eval/trace.py) reads the rows of one trace
    (trace,) = reads().traces("experiment", experiment.id, {root_span_id}).values()
    assert [row["project_id"] for row in trace] == [project_id]


#: The fields Braintrust's API answers for each object (the test server answers the same).
EXPERIMENT_FIELDS = {"id", "project_id", "name", "description", "created", "repo_info", "commit", "base_exp_id", "deleted_at",
                     "dataset_id", "dataset_version", "public", "user_id", "metadata", "tags", "parameters_id", "parameters_version"}
DATASET_FIELDS = {"id", "project_id", "name", "description", "created", "deleted_at", "user_id", "metadata"}
PROJECT_FIELDS = {"id", "org_id", "name", "description", "created", "deleted_at", "user_id", "settings"}


def test_data_has_the_fields_braintrust_answers_in_the_local_store_too(mode):
    """``experiment.data`` / ``dataset.data`` / ``project.full_info`` lacked, offline, the fields the
    store keeps no value for (``deleted_at``, ``user_id``...): ``experiment.deleted_at`` was None
    with a key and an AttributeError without one."""
    experiment = braintrust.init(project="fields", experiment="e", set_current=False)
    dataset = braintrust.init_dataset(project="fields", name="d")
    assert set(experiment.data) == EXPERIMENT_FIELDS
    assert set(dataset.data) == DATASET_FIELDS
    assert set(experiment.project.full_info) == PROJECT_FIELDS
    assert (experiment.deleted_at, experiment.parameters_id, dataset.deleted_at) == (None, None, None)
    opened = braintrust.init(project="fields", experiment="e", open=True)
    assert set(opened.data) == EXPERIMENT_FIELDS


def test_fetch_base_experiment_is_none_when_braintrust_answers_400(bt_env, caplog):
    """Braintrust answers ``POST /api/base_experiment/get_id`` with a 400 when the experiment has
    no base; 0.48.1 returns None then, quietly. Ours warned and returned ExperimentIdentifier(None, None)."""
    bt_env.fail_always("POST", "/api/base_experiment/get_id", step={"status": 400, "body": {"error": "no base experiment"}})
    experiment = braintrust.init(project="no-base", experiment="e", set_current=False)
    experiment.log(input=1, output=1, scores={})
    with caplog.at_level("WARNING", logger="braintrust"):
        assert experiment.fetch_base_experiment() is None
    assert not [r for r in caplog.records if "base experiment" in r.getMessage()]
