"""``replay``: spilled rows go to the loopback server once; objects that were never created are
created once (across files and across runs); failed rows stay in their file."""

from __future__ import annotations

import json
import time

import pytest

from btserver import Step
from braintrust.config import DeliverySettings
from braintrust.delivery.backend import EXPERIMENT, ObjectRef
from braintrust.delivery.http_backend import HttpBackend
from braintrust.delivery.replay import LEDGER_NAME, replay
from braintrust.delivery.spill import SpillWriter
from braintrust.state import BraintrustState
from delivery_helpers import make_row, project_ref, spill_documents


def api_backend(target: dict) -> HttpBackend:
    """What ``backend_for_target`` builds, with a fresh login state per run."""
    state = BraintrustState()
    state.configure(app_url=target.get("app_url"))
    return HttpBackend(state, DeliverySettings())


def spill(directory, server, ref: ObjectRef, ids: list[str], reason: str = "connection") -> None:
    writer = SpillWriter(directory, {"kind": "api", "app_url": server.url, "org_name": None})
    writer.write([(ref, make_row(i, input={"i": i})) for i in ids], reason, masked=True, item_count=len(ids))


def received_ids(server) -> list[str]:
    return [row["id"] for body in server.logs3_bodies if isinstance(body.get("rows"), list) for row in body["rows"]]


def test_an_unresolved_project_is_created_once_for_two_files(bt_env, tmp_path):
    ref = project_ref("never-created")
    spill(tmp_path, bt_env, ref, ["a1", "a2"])
    spill(tmp_path, bt_env, ref, ["b1"])
    result = replay(tmp_path, timeout_seconds=10, backend_factory=api_backend)
    assert (result.files, result.files_done, result.rows_sent, result.rows_failed) == (2, 2, 3, 0)
    assert result.objects_created == 1 and result.errors == []
    assert len(bt_env.requests_to("/v1/project", "POST")) == 1
    [project] = bt_env.projects()
    assert project["name"] == "never-created"
    assert sorted(row["id"] for row in bt_env.rows("project_logs", project["id"])) == ["a1", "a2", "b1"]
    assert list(tmp_path.glob("spill-*.json")) == []
    again = replay(tmp_path, timeout_seconds=10, backend_factory=api_backend)
    assert (again.files, again.rows_sent) == (0, 0)
    assert len(received_ids(bt_env)) == 3


def test_an_ensure_new_experiment_is_created_at_most_once_across_two_runs(bt_env, tmp_path):
    ref = ObjectRef(EXPERIMENT, {"project_name": "proj", "experiment_name": "nightly", "ensure_new": True})
    spill(tmp_path, bt_env, ref, ["e1", "e2"])
    spill(tmp_path, bt_env, ref, ["e3"])
    bt_env.script("POST", "/logs3", [Step(status=400)])  # the first file's batch fails
    first = replay(tmp_path, timeout_seconds=10, backend_factory=api_backend)
    assert (first.rows_sent, first.rows_failed, first.files_done) == (1, 2, 1)
    [doc] = spill_documents(tmp_path)
    [obj] = doc["objects"].values()
    assert obj["ids"] and obj["ids"]["experiment_id"]  # the file itself now knows the experiment
    (tmp_path / LEDGER_NAME).unlink()  # even without the ledger...
    second = replay(tmp_path, timeout_seconds=10, backend_factory=api_backend)
    assert (second.rows_sent, second.rows_failed, second.files_done) == (2, 0, 1)
    assert len(bt_env.requests_to("/v1/experiment", "POST")) == 1  # ...no second experiment
    [experiment] = bt_env.experiments()
    assert experiment["name"] == "nightly"
    assert sorted(row["id"] for row in bt_env.rows("experiment", experiment["id"])) == ["e1", "e2", "e3"]


def test_a_partial_failure_keeps_only_the_failed_rows_in_the_file(bt_env, tmp_path):
    ref = project_ref("partial")
    ids = [f"r{i:03d}" for i in range(150)]
    spill(tmp_path, bt_env, ref, ids)
    bt_env.script("POST", "/logs3", [Step(status=200), Step(status=422)])  # batches of 100 and 50
    first = replay(tmp_path, timeout_seconds=10, backend_factory=api_backend)
    assert (first.rows_sent, first.rows_failed, first.files_done) == (100, 50, 0)
    [doc] = spill_documents(tmp_path)
    assert doc["item_count"] == 50 and [e["row"]["id"] for e in doc["rows"]] == ids[100:]
    second = replay(tmp_path, timeout_seconds=10, backend_factory=api_backend)
    assert (second.rows_sent, second.rows_failed, second.files_done) == (50, 0, 1)
    third = replay(tmp_path, timeout_seconds=10, backend_factory=api_backend)
    assert (third.files, third.rows_sent) == (0, 0)
    assert sorted(received_ids(bt_env)) == ids  # each row exactly once
    assert len(bt_env.requests_to("/v1/project", "POST")) == 1


def test_later_writes_of_a_row_that_failed_again_wait_for_it(bt_env, tmp_path):
    ref = project_ref("ordered")
    writer = SpillWriter(tmp_path, {"kind": "api", "app_url": bt_env.url, "org_name": None})
    writer.write([(ref, make_row("span", output="first"))], "connection", masked=True, item_count=1)
    writer.write([(ref, {"id": "span", "_is_merge": True, "metrics": {"end": 2.0}})], "connection", masked=True, item_count=1)
    bt_env.script("POST", "/logs3", [Step(status=400)])
    first = replay(tmp_path, timeout_seconds=10, backend_factory=api_backend)
    assert (first.rows_sent, first.rows_failed) == (0, 2)
    assert len(spill_documents(tmp_path)) == 2
    second = replay(tmp_path, timeout_seconds=10, backend_factory=api_backend)
    assert second.rows_sent == 2
    [row] = bt_env.rows()
    assert row["output"] == "first" and row["metrics"] == {"end": 2.0}


def test_a_damaged_spill_file_sends_what_it_can_and_keeps_the_rest(bt_env, tmp_path):
    """A spill file edited by hand: an object entry that cannot be read, a row naming an object
    the file does not have, an attachment whose bytes are not base64. The good row is sent; the
    others stay in the file (nothing is lost), each named in the errors."""
    ref = project_ref("damaged")
    spill(tmp_path, bt_env, ref, ["good", "orphan", "broken"])
    [path] = sorted(tmp_path.glob("spill-*.json"))
    document = json.loads(path.read_text())
    [key] = document["objects"]
    document["objects"]["unreadable"] = {"not": "an object ref"}
    document["rows"][1]["object"] = "missing"
    document["rows"][2]["object"] = "unreadable"
    document["attachments"] = [{"reference": {"type": "braintrust_attachment", "key": "k"}, "data_base64": "not base64!"}]
    document["rows"].append({"object": key, "row": "not an object"})
    path.write_text(json.dumps(document))
    result = replay(tmp_path, timeout_seconds=10, backend_factory=api_backend)
    assert received_ids(bt_env) == ["good"]
    assert result.rows_sent == 1 and result.files_done == 0
    assert any("object 'unreadable' is malformed" in e for e in result.errors), result.errors
    assert any("a row names an unknown object; left in place" in e for e in result.errors), result.errors
    assert any("a spilled attachment is malformed; left in place" in e for e in result.errors), result.errors
    assert any("a row is malformed (not an object); left in place" in e for e in result.errors), result.errors
    [left] = spill_documents(tmp_path)
    assert sorted(entry["row"]["id"] for entry in left["rows"] if isinstance(entry["row"], dict)) == ["broken", "orphan"]
    assert {"object": key, "row": "not an object"} in left["rows"]
    assert left["attachments"] == document["attachments"]
    assert key in left["objects"]


def test_replay_against_a_down_server_stays_within_one_deadline(bt_env, tmp_path):
    ref = project_ref("down")
    for n in range(3):
        spill(tmp_path, bt_env, ref, [f"d{n}"])
    bt_env.stop()
    started = time.monotonic()
    result = replay(tmp_path, timeout_seconds=1.0, backend_factory=api_backend)
    assert time.monotonic() - started < 1.0 + 0.5
    assert result.rows_sent == 0 and result.rows_failed == 3 and result.files_done == 0
    assert len(result.errors) == 1 and "Could not reach Braintrust" in result.errors[0]  # tried once, not per file
    assert len(list(tmp_path.glob("spill-*.json"))) == 3


def test_files_that_are_not_spill_files_are_left_alone(tmp_path):
    (tmp_path / "spill-garbage.json").write_text("{not json")
    (tmp_path / "spill-other.json").write_text(json.dumps({"format": "something-else"}))
    from braintrust.delivery.spill import SPILL_FORMAT

    (tmp_path / "spill-target.json").write_text(json.dumps({"format": SPILL_FORMAT, "target": "api", "rows": []}))
    (tmp_path / "spill-rows.json").write_text(json.dumps({"format": SPILL_FORMAT, "target": {"kind": "api"}, "rows": {}}))
    result = replay(tmp_path, timeout_seconds=1, backend_factory=pytest.fail)
    assert result.files == 4 and result.files_done == 0 and len(result.errors) == 4
    assert sum("its target or rows are malformed" in e for e in result.errors) == 2, result.errors
    assert len(list(tmp_path.glob("spill-*.json"))) == 4


def test_rows_for_a_local_store_can_go_to_another_store_found_there_by_name(tmp_path):
    """``replay(store=...)``: the recorded store cannot be written (a read-only checkout). Rows of
    an experiment that store had already registered keep nothing of its ids: the project and the
    experiment are found or made in the new store by name, once, and the ledger of the recorded
    targets is left alone."""
    from braintrust.store.sqlite_store import LocalStore

    spills = tmp_path / "spill"
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    ref = ObjectRef(EXPERIMENT, {"project_name": "proj", "experiment_name": "nightly"})
    ref.ids = {"experiment_id": "id-in-the-other-store"}
    writer = SpillWriter(spills, {"kind": "local", "path": str(blocked / "braintrust.sqlite")})
    writer.write([(ref, make_row("r1", input={"q": 1}))], "local_store", masked=True, item_count=1)
    writer.write([(ref, make_row("r2", input={"q": 2}))], "local_store", masked=True, item_count=1)

    stuck = replay(spills, timeout_seconds=10)
    assert stuck.rows_sent == 0 and stuck.rows_failed == 2 and len(list(spills.glob("spill-*.json"))) == 2
    assert stuck.unusable_stores == {str(blocked / "braintrust.sqlite")}
    store_path = tmp_path / "elsewhere" / "braintrust.sqlite"
    moved = replay(spills, timeout_seconds=10, store=store_path)
    assert (moved.rows_sent, moved.rows_failed, moved.objects_created) == (2, 0, 1) and moved.errors == []
    assert moved.unusable_stores == set()
    assert not (spills / LEDGER_NAME).exists()
    with LocalStore(store_path) as store:
        [project] = store.list_projects()
        [experiment] = store.list_experiments(project["id"])
        assert (project["name"], experiment["name"]) == ("proj", "nightly")
        assert sorted(row["id"] for row in store.fetch_rows("experiment", experiment["id"])[0]) == ["r1", "r2"]
