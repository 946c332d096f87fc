"""QA of spill files and ``braintrust replay``: replays killed midway or running twice at once,
damaged and foreign spill files, files for other servers and orgs, interrupted replays. Each
test ends by checking that every row arrived exactly once or stays on disk."""

from __future__ import annotations

import json
import signal
import stat
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from btserver import Step
from braintrust.config import DeliverySettings
from braintrust.delivery.backend import EXPERIMENT, ObjectRef
from braintrust.delivery.http_backend import HttpBackend
from braintrust.delivery.replay import LEDGER_NAME, LOCK_NAME, replay
from braintrust.delivery.spill import SpillWriter
from braintrust.state import BraintrustState
from delivery_helpers import make_row, project_ref, subprocess_env

TESTS = Path(__file__).parent.parent


def api_backend(target: dict) -> HttpBackend:
    state = BraintrustState()
    state.configure(app_url=target.get("app_url"))
    return HttpBackend(state, DeliverySettings())


def spill(directory: Path, server, ref: ObjectRef, ids: list[str], org_name: str | None = None) -> Path:
    writer = SpillWriter(directory, {"kind": "api", "app_url": server.url, "org_name": org_name})
    return writer.write([(ref, make_row(i, input={"i": i})) for i in ids], "connection", masked=True, item_count=len(ids))


def received(server) -> Counter:
    return Counter(row["id"] for body in server.logs3_bodies for row in body.get("rows", []))


def spill_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("spill-*.json"))


def replay_command(directory: Path, server, *extra: str) -> subprocess.Popen:
    env = subprocess_env(BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url, PYTHONPATH=str(TESTS))
    return subprocess.Popen([sys.executable, "-m", "braintrust", "replay", str(directory), "--timeout", "30", *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(condition, seconds: float = 20.0) -> None:
    limit = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < limit, "timed out"
        time.sleep(0.02)


def test_two_replays_at_once_make_one_experiment_and_send_each_row_once(bt_env, tmp_path):
    ref = ObjectRef(EXPERIMENT, {"project_name": "proj", "experiment_name": "nightly", "ensure_new": True})
    spill(tmp_path, bt_env, ref, ["r1", "r2", "r3"])
    # Registering the experiment is slow: both replays would be inside it at once.
    bt_env.script("POST", "/v1/experiment", [Step(delay_seconds=1.0), Step(delay_seconds=1.0)])
    processes = [replay_command(tmp_path, bt_env) for _ in range(2)]
    try:
        outputs = [p.communicate(timeout=60)[0] for p in processes]
    finally:
        for p in processes:
            p.kill()
    assert [p.returncode for p in processes] == [0, 0], outputs
    assert "Traceback" not in "".join(outputs), outputs
    assert [e["name"] for e in bt_env.experiments()] == ["nightly"]
    assert received(bt_env) == Counter({"r1": 1, "r2": 1, "r3": 1})
    assert spill_files(tmp_path) == []


def test_a_replay_killed_midway_does_not_send_the_accepted_batches_again(bt_env, tmp_path):
    ids = [f"r{i:03d}" for i in range(250)]
    spill(tmp_path, bt_env, project_ref("killed"), ids)
    bt_env.script("POST", "/logs3", [Step(status=200), Step(hang=True)])  # batch 1 accepted, batch 2 never answered
    process = replay_command(tmp_path, bt_env)
    try:
        wait_for(lambda: len(bt_env.requests_to("/logs3")) == 2)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        process.kill()
    assert received(bt_env) == Counter(ids[:100])
    [left] = spill_files(tmp_path)
    assert [entry["row"]["id"] for entry in json.loads(left.read_text())["rows"]] == ids[100:]
    again = replay(tmp_path, timeout_seconds=10, backend_factory=api_backend)
    assert (again.rows_sent, again.rows_failed, again.files_done) == (150, 0, 1), again.errors
    assert received(bt_env) == Counter(ids)  # each exactly once
    assert len(bt_env.requests_to("/v1/project", "POST")) == 1
    assert spill_files(tmp_path) == []


def test_ctrl_c_during_a_replay_exits_130_with_a_message_and_keeps_what_was_not_sent(bt_env, tmp_path):
    ids = [f"r{i:03d}" for i in range(150)]
    spill(tmp_path, bt_env, project_ref("interrupted"), ids)
    bt_env.script("POST", "/logs3", [Step(status=200), Step(hang=True)])
    process = replay_command(tmp_path, bt_env)
    try:
        wait_for(lambda: len(bt_env.requests_to("/logs3")) == 2)
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=20)[0]
    finally:
        process.kill()
    assert process.returncode == 130, output
    assert "Traceback" not in output and f"interrupted; the rows not sent yet stay in {tmp_path}" in output, output
    [left] = spill_files(tmp_path)
    assert [entry["row"]["id"] for entry in json.loads(left.read_text())["rows"]] == ids[100:]


def _edit_objects(field: str, value):
    def edit(document: dict) -> None:
        for data in document["objects"].values():
            data[field] = value
    return edit


DAMAGE = {
    "create_args is a string": _edit_objects("create_args", "ab"),
    "ids is a string": _edit_objects("ids", "xyz"),
    "ids is a list": _edit_objects("ids", ["x"]),
    "a row's object is a list": lambda d: d["rows"][0].__setitem__("object", ["x"]),
    "a row's id is a list": lambda d: d["rows"][0]["row"].__setitem__("id", ["x"]),
    "attachments is a number": lambda d: d.__setitem__("attachments", 5),
    "objects is a list": lambda d: d.__setitem__("objects", []),
    "a local target without a path": lambda d: d.__setitem__("target", {"kind": "local"}),
    "app_url is a number": lambda d: d["target"].__setitem__("app_url", 5),
    "a newer format version": lambda d: d.__setitem__("version", 2),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_file_is_named_and_kept_and_the_other_files_are_replayed(bt_env, tmp_path, damage):
    spill(tmp_path, bt_env, project_ref("damaged"), ["bad"])
    spill(tmp_path, bt_env, project_ref("damaged"), ["good"])
    bad = spill_files(tmp_path)[0]
    document = json.loads(bad.read_text())
    DAMAGE[damage](document)
    bad.write_text(json.dumps(document))
    result = replay(tmp_path, timeout_seconds=10, backend_factory=api_backend)
    assert received(bt_env) == Counter(["good"])
    assert result.files_done == 1 and result.errors and all(e.startswith(bad.name) for e in result.errors), result.errors
    assert spill_files(tmp_path) == [bad] and json.loads(bad.read_text()) == document


def test_a_newer_format_version_says_which_version_to_use(bt_env, tmp_path):
    path = spill(tmp_path, bt_env, project_ref("future"), ["f1"])
    document = json.loads(path.read_text())
    document["version"] = 2
    path.write_text(json.dumps(document))
    result = replay(tmp_path, timeout_seconds=10, backend_factory=api_backend)
    assert result.errors == [f"{path.name}: spill format version 2, and this pytest-braintrust reads version 1: "
                             "replay it with the version that wrote it (or a newer one); left in place"]
    assert received(bt_env) == Counter() and spill_files(tmp_path) == [path]


def test_files_of_two_orgs_in_one_folder_are_both_replayed(bt_env, tmp_path):
    """The same user spilled once naming the org and once not: the default backend logs in once
    per target, each with its own credentials."""
    spill(tmp_path, bt_env, project_ref("orgs"), ["no-org"])
    spill(tmp_path, bt_env, project_ref("orgs"), ["named-org"], org_name=bt_env.org_name)
    result = replay(tmp_path, timeout_seconds=10)
    assert (result.rows_sent, result.files_done, result.errors) == (2, 2, [])
    assert received(bt_env) == Counter(["no-org", "named-org"])


def test_the_api_key_goes_only_to_the_configured_server_not_to_one_a_file_names(bt_env, bt_server_factory, tmp_path):
    elsewhere = bt_server_factory()
    foreign = spill(tmp_path, elsewhere, project_ref("foreign"), ["f1"])
    spill(tmp_path, bt_env, project_ref("ours"), ["o1"])
    result = replay(tmp_path, timeout_seconds=10)
    assert elsewhere.requests_to("/api/apikey/login") == [] and received(elsewhere) == Counter()
    assert received(bt_env) == Counter(["o1"])
    assert result.rows_failed == 1 and result.errors == [
        f"{foreign.name}: these rows were going to {elsewhere.url}, but this environment's Braintrust is {bt_env.url} "
        f"and the API key is only sent there: to replay them, set BRAINTRUST_APP_URL={elsewhere.url} and that "
        "server's BRAINTRUST_API_KEY"]
    assert spill_files(tmp_path) == [foreign]


def test_a_damaged_ledger_is_ignored_not_a_crash(bt_env, tmp_path):
    spill(tmp_path, bt_env, project_ref("ledger"), ["l1"])
    (tmp_path / LEDGER_NAME).write_text(json.dumps({"some-key": "not ids", "other": {"project_id": 5}}))
    result = replay(tmp_path, timeout_seconds=10, backend_factory=api_backend)
    assert (result.rows_sent, result.errors) == (1, [])
    (tmp_path / LEDGER_NAME).write_text("[1, 2]")
    spill(tmp_path, bt_env, project_ref("ledger"), ["l2"])
    assert replay(tmp_path, timeout_seconds=10, backend_factory=api_backend).rows_sent == 1
    assert received(bt_env) == Counter(["l1", "l2"])


def test_spill_files_ledger_and_lock_are_private(bt_env, tmp_path):
    folder = tmp_path / "spill"
    folder.mkdir(mode=0o755)
    spill(folder, bt_env, ObjectRef(EXPERIMENT, {"project_name": "p", "experiment_name": "e"}), ["p1"])
    bt_env.script("POST", "/logs3", [Step(status=400)])
    replay(folder, timeout_seconds=10, backend_factory=api_backend)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in (LEDGER_NAME, LOCK_NAME, spill_files(folder)[0].name):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    assert bt_env.api_key not in "".join(p.read_text() for p in folder.iterdir())
