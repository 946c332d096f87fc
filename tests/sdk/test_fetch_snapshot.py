"""Iterating an experiment (``fetch()``, ``as_dataset()``) or a dataset while logging into it:
the iteration reads the object as it was when it started, so it ends; the next one sees more.

Experiments are read page by page (memory stays flat), and each page used to bring back the rows
logged since, so such a loop never ended. Each loop below is bounded so that it fails instead.
"""

from __future__ import annotations

import pytest

import braintrust

#: More rows than any loop here may see before it is cut short (a loop that never ends fails).
BOUND = 10


@pytest.fixture(params=["local", "api"])
def mode(request):
    if request.param == "api":
        request.getfixturevalue("bt_env")
    return request.param


def logged_experiment(rows=3):
    experiment = braintrust.init(project="p", experiment="e")
    for i in range(rows):
        experiment.log(input=i, output=i, scores={})
    experiment.flush()
    return experiment


def test_logging_into_an_experiment_while_fetching_it_ends(mode):
    experiment = logged_experiment()
    seen = []
    for row in experiment.fetch(batch_size=1):
        seen.append(row["input"])
        experiment.log(input=row["input"] + 10, output=0, scores={})
        braintrust.flush()
        if len(seen) > BOUND:
            break
    assert seen == [0, 1, 2]
    assert [row["input"] for row in experiment.fetch(batch_size=1)] == [0, 1, 2, 10, 11, 12]  # a fresh view


def test_logging_into_an_experiment_while_reading_it_as_a_dataset_ends(mode):
    experiment = logged_experiment()
    opened = braintrust.init(project="p", experiment=experiment.name, open=True)
    seen = []
    for case in opened.as_dataset(batch_size=2):
        seen.append(case["input"])
        experiment.log(input=case["input"] + 10, output=0, scores={})
        braintrust.flush()
        if len(seen) > BOUND:
            break
    assert seen == [0, 1, 2]
    assert sorted(case["input"] for case in opened.as_dataset(batch_size=2)) == [0, 1, 2, 10, 11, 12]


def test_a_server_read_pins_the_version_it_started_at_and_streams_its_pages(bt_env):
    """An experiment longer than a page is read once unpinned to learn its newest ``_xact_id``,
    then page by page with ``"version"`` (as a string, as the API's fetch takes it) in every
    request, so the cursor walks the rows as they were; one page of it is read at a time."""
    experiment = logged_experiment()
    path = f"/v1/experiment/{experiment.id}/fetch"
    newest = max((row["_xact_id"] for row in bt_env.rows("experiment", experiment.id)), key=int)
    fetched_at_first_row = None
    seen = []
    for row in experiment.fetch(batch_size=1):
        if fetched_at_first_row is None:
            fetched_at_first_row = len(bt_env.requests_to(path, "POST"))
        seen.append(row["input"])
        experiment.log(input=row["input"] + 10, output=0, scores={})
        braintrust.flush()
        if len(seen) > BOUND:
            break
    assert seen == [0, 1, 2]
    bodies = [request.json for request in bt_env.requests_to(path, "POST")]
    assert [body.get("version") for body in bodies] == [None] * 3 + [newest] * 3
    assert [body["limit"] for body in bodies] == [1] * 6
    assert [bool(body.get("cursor")) for body in bodies] == [False, True, True] * 2
    assert fetched_at_first_row == 4  # (rows are given as their page comes: not all read first)

    again = len(bodies)
    assert [row["input"] for row in experiment.fetch()] == [0, 1, 2, 10, 11, 12]
    assert [request.json for request in bt_env.requests_to(path, "POST")][again:] == [{"limit": 1000}]  # one page: as it is


def test_inserting_updating_and_deleting_while_iterating_a_dataset_reads_it_as_it_was(mode):
    dataset = braintrust.init_dataset(project="p", name="d")
    for i in range(4):
        dataset.insert(input=i, expected=i, id=f"r{i}")
    seen = []
    for record in dataset.fetch(batch_size=1):
        seen.append((record["id"], record["expected"]))
        dataset.insert(input=record["input"] + 10, expected=0)
        if record["id"] == "r0":
            dataset.update("r1", expected=-1)
            dataset.delete("r2")
        braintrust.flush()
        if len(seen) > BOUND:
            break
    assert seen == [("r0", 0), ("r1", 1), ("r2", 2), ("r3", 3)]
    assert sorted(record["input"] for record in dataset.fetch(batch_size=1)) == [0, 1, 3, 10, 11, 12, 13]


def test_a_server_read_that_cannot_end_stops_and_says_so(bt_env, monkeypatch, caplog):
    """A read no longer stops silently: a server answering the same cursor again (which would
    loop forever) and a read past the most pages one takes each end with a warning that names
    the object and says the rows after were not read."""
    dataset = braintrust.init_dataset(project="p", name="d")
    dataset.insert(input=1)
    dataset.flush()
    path = f"/v1/dataset/{dataset.id}/fetch"
    bt_env.script("POST", path, [page_step([{"input": 1}], "again")] * 3)
    with caplog.at_level("WARNING", logger="braintrust"):
        assert [row["input"] for row in dataset.fetch()] == [1, 1]
    assert f"reading dataset {dataset.id} stopped after 2 pages: the server answered the same cursor twice" in caplog.text

    from braintrust.objects import reads

    monkeypatch.setattr(reads, "MAX_FETCH_PAGES", 2)
    caplog.clear()
    bt_env.clear_faults()
    bt_env.script("POST", path, [page_step([{"input": 1}], "a"), page_step([{"input": 2}], "b")])
    with caplog.at_level("WARNING", logger="braintrust"):
        assert [row["input"] for row in braintrust.init_dataset(project="p", name="d").fetch()] == [1, 2]
    assert f"reading dataset {dataset.id} stopped after 2 pages (the most one read takes)" in caplog.text


def page_step(events, cursor):
    from btserver import Step

    rows = [{"id": f"r{row['input']}", "_xact_id": "1", "created": "2026-01-01T00:00:00Z", **row} for row in events]
    return Step(status=200, body={"events": rows, "cursor": cursor})
