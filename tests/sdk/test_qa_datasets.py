"""Datasets under misuse, in the local store and against the test server: arguments of the
wrong type are refused at the call, with the fix, before anything is created or written."""

from __future__ import annotations

import pytest

import braintrust


@pytest.fixture(params=["local", "api"])
def mode(request):
    if request.param == "api":
        request.getfixturevalue("bt_env")
    return request.param


def test_record_ids_must_be_strings(mode):
    """``insert(id=5)`` was accepted, and its row then failed to be written (spilled, never read
    back); ``id=0`` silently became a generated id."""
    dataset = braintrust.init_dataset(project="p", name="ids")
    for call in (lambda: dataset.insert(input=1, id=5), lambda: dataset.insert(input=1, id=0),
                 lambda: dataset.update(7, expected=1), lambda: dataset.delete(None), lambda: dataset.update("", input=1)):
        with pytest.raises(ValueError, match=r"id must be a non-empty string, got \w+ .*; pass id=str\(\.\.\.\)"):
            call()
    generated = dataset.insert(input=2, id="")  # ("" is no id, as in the public SDK)
    dataset.insert(input=3, id="5")
    result = braintrust.flush()
    assert result.ok, result.describe()
    assert sorted((r["id"], r["input"]) for r in dataset) == sorted([(generated, 2), ("5", 3)])
    assert dataset.new_records == 2


@pytest.mark.parametrize("argument", ["project", "name", "description", "environment", "dataset_id", "project_id"])
def test_init_dataset_refuses_names_that_are_not_strings(mode, argument, request):
    """``name=5`` made a dataset "5" in the local store, and was a 500 from Braintrust, retried
    for 14 s; ``environment=5`` failed deep in URL quoting."""
    arguments = {"project": "p", "name": "d", argument: 5}
    with pytest.raises(ValueError, match=rf"init_dataset\({argument}=\.\.\.\) must be a string, got int 5"):
        braintrust.init_dataset(**arguments)
    if mode == "api":
        assert request.getfixturevalue("bt_env").requests_to("/v1/dataset", "POST") == []


def test_a_dataset_opened_by_id_is_shown_by_its_id():
    """Its repr (which asks no server) was ``Dataset(project=None, name=None)``: the plugin's
    collection errors name a dataset by it."""
    dataset = braintrust.init_dataset(project="p", name="d")
    dataset.insert(input=1)
    dataset.flush()
    again = braintrust.init_dataset(dataset_id=dataset.id, version="1")
    assert repr(again) == f"Dataset(dataset_id={dataset.id!r}, version='1')"
    assert repr(dataset) == "Dataset(project='p', name='d')"


def test_fetch_refuses_a_page_size_that_is_not_a_positive_integer(mode):
    """``fetch(batch_size="2")`` read one page of the local store and stopped (3 of 5 records
    lost, silently); 2.5 failed inside SQLite; -1 was a 400 from Braintrust but all rows locally."""
    dataset = braintrust.init_dataset(project="p", name="pages")
    for i in range(5):
        dataset.insert(input=i, id=f"r{i}")
    for bad in ("2", 2.5, -1, 0, True):
        with pytest.raises(ValueError, match=r"fetch\(batch_size=\.\.\.\) must be a positive integer \(rows per page\), got "):
            list(dataset.fetch(batch_size=bad))
    assert [r["input"] for r in dataset.fetch(batch_size=2)] == [0, 1, 2, 3, 4]
    experiment = braintrust.init(project="p", experiment="e")
    experiment.log(input=1, output=1, scores={})
    with pytest.raises(ValueError, match=r"batch_size"):
        list(experiment.fetch(batch_size="1"))
