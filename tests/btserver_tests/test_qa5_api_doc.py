"""braintrust-api.md, endpoint by endpoint: what ours sends where 0.48.1's requests were checked
against it, and the test server refusing what the Braintrust API refuses (so a test over it
cannot pass on a request the service would reject)."""

from __future__ import annotations

import pytest
import requests

import braintrust
from btserver import Step


def _post(server, path: str, body: dict) -> requests.Response:
    return requests.post(server.url + path, json=body, headers={"Authorization": f"Bearer {server.api_key}"}, timeout=10)


def _get(server, path: str, params: dict) -> requests.Response:
    return requests.get(server.url + path, params=params, headers={"Authorization": f"Bearer {server.api_key}"}, timeout=10)


def _project_id(server, name: str = "strict") -> str:
    return _post(server, "/v1/project", {"name": name, "org_name": server.org_name}).json()["id"]


# -- /logs3/overflow (§6) ------------------------------------------------------------------------


def _log_one_oversized_row(server) -> None:
    server.payload_max_bytes = 4096  # (advertised by /version: the overflow path is on)
    logger = braintrust.init_logger(project="overflowing")
    logger.log(input="x" * 10_000, output="big")
    logger.flush()


def _references(server) -> list:
    return [r for r in server.requests_to("/logs3", "POST") if isinstance(r.json, dict) and isinstance(r.json.get("rows"), dict)]


def test_the_overflow_reference_is_posted_as_json_as_the_public_sdk_posts_it(bt_env):
    """0.48.1 posts the rows of ``/logs3`` as raw bytes (no Content-Type) but the overflow
    reference with ``json=``: ``Content-Type: application/json`` (captures/overflow.jsonl)."""
    _log_one_oversized_row(bt_env)
    [reference] = _references(bt_env)
    assert reference.header("Content-Type") == "application/json"
    assert reference.json["rows"]["type"] == "logs3_overflow" and reference.json["api_version"] == 2
    assert reference.body.startswith(b'{"rows": {"type": "logs3_overflow", "key": ')  # (json.dumps's separators)
    assert [r.header("Content-Type") for r in bt_env.requests_to("/logs3", "POST") if r not in [reference]] == []
    assert [row["input"] for row in bt_env.rows()] == ["x" * 10_000]


def test_a_form_upload_sends_the_file_as_its_fields_type_it_with_the_answers_headers(bt_env):
    """A presigned POST (``method: POST``): the file part's type is the form's ``Content-Type``
    field when it has one, and the answer's other headers go with the upload, as in 0.48.1."""
    key = "form-upload.json"
    answer = {
        "method": "POST",
        "signedUrl": f"{bt_env.url}/_objstore/logs3/{key}",
        "fields": {"key": f"logs3/{key}", "Content-Type": "application/x-ndjson"},
        "headers": {"x-amz-meta-origin": "sdk", "Content-Type": "text/plain"},
        "key": key,
    }
    bt_env.script("POST", "/logs3/overflow", [Step(status=200, body=answer)])
    _log_one_oversized_row(bt_env)
    [upload] = bt_env.requests_to("/_objstore/*", "POST")
    assert upload.header("Authorization") is None and upload.header("x-amz-meta-origin") == "sdk"
    assert upload.header("Content-Type").startswith("multipart/form-data; boundary=")
    file_part = upload.body.split(b'filename="logs3.json"', 1)[1]
    assert file_part.lstrip().startswith(b"Content-Type: application/x-ndjson")
    assert [row["input"] for row in bt_env.rows()] == ["x" * 10_000]


# -- the test server refuses what the API refuses ------------------------------------------------


@pytest.mark.parametrize(("path", "body", "named"), [
    ("/v1/project", {"name": "p", "project_name": "p"}, "project_name"),
    ("/v1/experiment", {"ensure_new": True, "experiment_name": "x"}, "experiment_name"),
    ("/v1/experiment", {"update": True}, "update"),
    ("/v1/experiment", {"ensure_new": "yes"}, "ensure_new"),
    ("/v1/experiment", {"tags": ["a", "a"]}, "tags"),
    ("/v1/experiment", {"tags": "a"}, "tags"),
    ("/v1/experiment", {"public": 1}, "public"),
    ("/v1/dataset", {"name": "d", "dataset_name": "d"}, "dataset_name"),
    ("/v1/dataset", {"name": "d", "metadata": "m"}, "metadata"),
])
def test_object_creation_refuses_unknown_fields_and_wrong_types(bt_server, path, body, named):
    if path != "/v1/project":
        body = {"project_id": _project_id(bt_server), **body}
    answer = _post(bt_server, path, body)
    assert answer.status_code == 400 and named in answer.json()["error"]


def test_object_creation_takes_every_field_the_doc_lists(bt_server):
    project_id = _project_id(bt_server)
    experiment = _post(bt_server, "/v1/experiment", {
        "project_id": project_id, "ensure_new": True, "name": "all", "description": "d", "repo_info": {"commit": "c"},
        "ancestor_commits": ["c"], "dataset_id": "ds", "dataset_version": "5", "parameters_id": "pa",
        "parameters_version": 3, "public": False, "metadata": {"k": 1}, "tags": ["a", "b"],
    })
    assert experiment.status_code == 200 and experiment.json()["name"] == "all"
    dataset = _post(bt_server, "/v1/dataset", {"project_id": project_id, "name": "d", "description": None, "metadata": {"k": 1}})
    assert dataset.status_code == 200
    grouped = _post(bt_server, "/v1/project", {"name": "g", "org_name": bt_server.org_name, "project_group_name": "grp"})
    assert grouped.status_code == 200


def test_attachment_endpoints_need_the_organization_and_the_file_description(bt_server):
    org = bt_server.org_id
    full = {"key": "k-1", "filename": "a.txt", "content_type": "text/plain", "org_id": org}
    for missing in ("filename", "content_type", "org_id"):
        assert _post(bt_server, "/attachment", {k: v for k, v in full.items() if k != missing}).status_code == 400
    assert _post(bt_server, "/attachment", {**full, "org_id": "another-org"}).status_code == 403
    assert _post(bt_server, "/attachment", full).status_code == 200
    assert _post(bt_server, "/attachment/status", {"key": "k-1", "status": {"upload_status": "done"}}).status_code == 400
    no_message = {"key": "k-1", "org_id": org, "status": {"upload_status": "error"}}
    assert _post(bt_server, "/attachment/status", no_message).status_code == 400
    assert _post(bt_server, "/attachment/status", {"key": "k-1", "org_id": org, "status": {"upload_status": "done"}}).status_code == 200
    query = {"key": "k-1", "filename": "a.txt", "content_type": "text/plain", "org_id": org}
    assert _get(bt_server, "/attachment", {k: v for k, v in query.items() if k != "org_id"}).status_code == 400
    assert _get(bt_server, "/attachment", {k: v for k, v in query.items() if k != "filename"}).status_code == 400
    assert _get(bt_server, "/attachment", query).json()["status"] == {"upload_status": "done"}


def test_a_logs_row_needs_its_log_id(bt_server):
    project_id = _project_id(bt_server)
    for row in ({"id": "r", "project_id": project_id}, {"id": "r", "project_id": project_id, "log_id": "x"},
                {"id": "r", "prompt_session_id": "ps", "log_id": "g"}):
        answer = _post(bt_server, "/logs3", {"rows": [row, {"id": "ok", "project_id": project_id, "log_id": "g"}], "api_version": 2})
        assert answer.status_code == 400 and "log_id" in answer.json()["error"]
    assert bt_server.rows() == []  # (a refused request stores none of its rows)


def test_the_sdk_passes_the_stricter_server_end_to_end(bt_env):
    """Ours, through every endpoint the strictness touches: objects with every option, logs rows,
    an attachment uploaded and read back, an invoke."""
    dataset = braintrust.init_dataset(project="strict-e2e", name="d", description="desc", metadata={"m": 1})
    dataset.insert(input=1, expected=2)
    dataset.flush()
    experiment = braintrust.init(project="strict-e2e", experiment="e", description="d", metadata={"a": 1}, tags=["t"],
                                 dataset=dataset, is_public=True)
    experiment.log(input=1, output=2, scores={"s": 1}, metadata={"file": braintrust.Attachment(data=b"bytes", filename="f.txt",
                                                                                                content_type="text/plain")})
    experiment.flush()
    logger = braintrust.init_logger(project="strict-e2e")
    logger.log(input="in", output="out")
    logger.flush()
    assert {r.path for r in bt_env.requests if r.status >= 400} == set()
    [reference] = [row["metadata"]["file"] for row in bt_env.rows("experiment")]
    assert braintrust.ReadonlyAttachment(reference).data == b"bytes"
    assert braintrust.invoke(project_name="strict-e2e", slug="echo", input={"x": 1}) == {"x": 1}
    assert [r.status for r in bt_env.requests if r.path in ("/attachment", "/attachment/status", "/function/invoke")] == [200, 200, 200, 200]


# -- Prompt.build (§12) --------------------------------------------------------------------------


def test_built_messages_keep_the_public_sdks_key_order(bt_env):
    """0.48.1 builds each message from its message class: ``content``, ``role``, then ``name``...
    whatever order the server stored them in, so printed or dumped they read the same. (Fields
    0.48.1 drops, such as a tool message's ``tool_call_id``, ours keeps, after those.)"""
    messages = [{"name": "bob", "role": "user", "content": "hi {{who}}"}, {"tool_call_id": "c1", "role": "tool", "content": "r"}]
    bt_env.add_prompt("ordered", "p", {"prompt": {"type": "chat", "messages": messages}, "options": {"model": "m"}})
    built = braintrust.load_prompt(project="ordered", slug="p").build(who="Ada")
    assert [list(m) for m in built["messages"]] == [["content", "role", "name"], ["content", "role", "tool_call_id"]]
    assert built["messages"][0]["content"] == "hi Ada"
