"""The loopback Braintrust test server (tests/btserver/), exercised over real HTTP with ``requests``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from btserver import BraintrustTestServer, Step

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


class Client:
    """A keep-alive ``requests`` session that authenticates to one test server."""

    def __init__(self, server: BraintrustTestServer, api_key: str | None = None) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {api_key or server.api_key}"

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(self.server.url + path, timeout=kwargs.pop("timeout", 10), **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.session.post(self.server.url + path, timeout=kwargs.pop("timeout", 10), **kwargs)

    def logs3(self, rows: list[dict], **kwargs) -> requests.Response:
        """Send rows the way the SDK does: raw bytes, no Content-Type, ``": "`` separators."""
        body = '{"rows": [' + ",".join(json.dumps(r, sort_keys=True, separators=(",", ":")) for r in rows) + '], "api_version": 2}'
        return self.post("/logs3", data=body.encode(), **kwargs)

    def project(self, name: str = "proj") -> dict:
        return self.post("/v1/project", json={"name": name, "org_name": self.server.org_name}).json()

    def experiment(self, project_id: str, **fields) -> dict:
        response = self.post("/v1/experiment", json={"project_id": project_id, "ensure_new": True, **fields})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def client(bt_server) -> Client:
    return Client(bt_server)


def exp_row(experiment_id: str, row_id: str, **fields) -> dict:
    return {"id": row_id, "experiment_id": experiment_id, **fields}


# -- login, discovery, auth -------------------------------------------------------------------


def test_login_answers_org_info_pointing_at_the_server(bt_server, client):
    response = client.post("/api/apikey/login")  # empty body, Content-Length: 0, as the SDK sends
    assert response.status_code == 200
    (org,) = response.json()["org_info"]
    assert org == {
        "id": bt_server.org_id,
        "name": "test-org",
        "api_url": bt_server.url,
        "proxy_url": bt_server.url,
        "realtime_url": None,
        "is_universal_api": False,
        "git_metadata": None,
    }


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong-key"}, {"Authorization": "test-api-key"}])
def test_every_endpoint_requires_the_bearer_key(bt_server, headers):
    for method, path in [("POST", "/api/apikey/login"), ("GET", "/version"), ("POST", "/logs3"), ("POST", "/v1/project")]:
        response = requests.request(method, bt_server.url + path, headers=headers, data=b"{}", timeout=5)
        assert response.status_code == 401, path
        assert "error" in response.json()
        assert "test-api-key" not in response.text
    assert [r.status for r in bt_server.requests] == [401] * 4
    assert bt_server.rows_received == 0


def test_version_advertises_the_configured_payload_limit(bt_server_factory):
    default = Client(bt_server_factory()).get("/version").json()
    assert default == {"version": "test-1.0", "logs3_payload_max_bytes": 6 * 1024 * 1024}
    assert Client(bt_server_factory(payload_max_bytes=4096)).get("/version").json()["logs3_payload_max_bytes"] == 4096
    assert Client(bt_server_factory(payload_max_bytes=None)).get("/version").json() == {"version": "test-1.0"}


def test_login_can_point_the_api_elsewhere(bt_server, client):
    bt_server.api_url = "http://127.0.0.1:9"
    org = client.post("/api/apikey/login").json()["org_info"][0]
    assert org["api_url"] == org["proxy_url"] == "http://127.0.0.1:9"


# -- objects ----------------------------------------------------------------------------------


def test_project_is_created_once_and_fetched_by_id(bt_server, client):
    first = client.project("alpha")
    assert set(first) == {"id", "org_id", "name", "description", "created", "deleted_at", "user_id", "settings"}
    assert first["name"] == "alpha" and first["org_id"] == bt_server.org_id
    assert client.project("alpha") == first
    assert client.project("beta")["id"] != first["id"]
    assert client.get(f"/v1/project/{first['id']}").json() == first
    assert client.get("/v1/project/nope").status_code == 404
    assert client.post("/v1/project", json={"name": "x", "org_name": "other-org"}).status_code == 404
    assert client.post("/v1/project", json={}).status_code == 400
    assert [p["name"] for p in bt_server.projects()] == ["alpha", "beta"]


def test_experiment_names_are_unique_with_ensure_new(client):
    project = client.project()
    base = client.experiment(project["id"], name="run")
    assert base["name"] == "run" and base["project_id"] == project["id"] and base["base_exp_id"] is None
    assert client.experiment(project["id"], name="run")["name"] == "run-1"
    assert client.experiment(project["id"], name="run")["name"] == "run-2"
    reused = client.experiment(project["id"], name="run", ensure_new=False)
    assert reused["id"] == base["id"]
    generated = [client.experiment(project["id"])["name"] for _ in range(2)]
    assert generated[0] != generated[1] and all(name.startswith("experiment-") for name in generated)
    candidate = client.experiment(
        project["id"], name="cand", base_exp_id=base["id"], repo_info={"commit": "abc"}, metadata={"m": 1}, tags=["t"]
    )
    assert (candidate["base_exp_id"], candidate["commit"], candidate["metadata"], candidate["tags"]) == (
        base["id"],
        "abc",
        {"m": 1},
        ["t"],
    )
    assert client.post("/v1/experiment", json={"project_id": "missing"}).status_code == 404


def test_experiment_lookup_by_name(client):
    project = client.project("lookup")
    made = client.experiment(project["id"], name="baseline")
    by_id = client.get("/v1/experiment", params={"experiment_name": "baseline", "project_id": project["id"], "org_name": "test-org"})
    by_name = client.get("/v1/experiment", params={"experiment_name": "baseline", "project_name": "lookup"})
    assert by_id.json() == by_name.json() == {"objects": [made]}
    assert client.get("/v1/experiment", params={"experiment_name": "nope", "project_id": project["id"]}).json() == {"objects": []}
    assert client.get(f"/v1/experiment/{made['id']}").json() == made


def test_dataset_is_created_once(client):
    project = client.project()
    body = {"project_id": project["id"], "name": "greetings", "description": "toy set", "metadata": {"owner": "me"}}
    dataset = client.post("/v1/dataset", json=body).json()
    assert set(dataset) == {"id", "project_id", "name", "description", "created", "deleted_at", "user_id", "metadata"}
    assert client.post("/v1/dataset", json={"project_id": project["id"], "name": "greetings"}).json() == dataset
    assert client.get(f"/v1/dataset/{dataset['id']}").json() == dataset


def test_prompts_have_versions_and_environments(bt_server, client):
    project = client.project()
    body = {"project_id": project["id"], "slug": "greet", "name": "Greet", "prompt_data": {"prompt": {"type": "completion", "content": "v1"}}}
    first = client.post("/v1/prompt", json=body).json()
    assert {"id", "project_id", "_xact_id", "name", "slug", "description", "prompt_data", "tags"} <= set(first)
    assert client.post("/v1/prompt", json={**body, "name": "ignored"}).json() == first  # POST keeps an existing slug
    second = client.session.put(bt_server.url + "/v1/prompt", json={**body, "description": "v2"}, timeout=10).json()
    assert second["id"] == first["id"] and int(second["_xact_id"]) > int(first["_xact_id"])
    by_name = {"project_name": "proj", "slug": "greet"}
    assert client.get("/v1/prompt", params=by_name).json()["objects"] == [second]
    assert client.get("/v1/prompt", params={**by_name, "version": first["_xact_id"]}).json()["objects"] == [first]
    assert client.get("/v1/prompt", params={"project_id": project["id"]}).json()["objects"] == [second]
    assert client.get("/v1/prompt", params={"project_name": "other", "slug": "greet"}).json()["objects"] == []
    assert client.get(f"/v1/prompt/{first['id']}").json() == second
    bt_server.prompts.set_environment(first["id"], "production", first["_xact_id"])
    assert client.get(f"/v1/prompt/{first['id']}", params={"environment": "production"}).json() == first
    assert client.get(f"/v1/prompt/{first['id']}", params={"environment": "staging"}).status_code == 404
    assert client.get(f"/v1/prompt/{first['id']}", params={"version": "1"}).status_code == 404
    assert client.post("/v1/prompt", json={"project_id": project["id"], "name": "x"}).status_code == 400
    pretty = format(int(first["_xact_id"]) * 3**30 % 2**64, "016x")  # (the UI's form of a version)
    assert client.get(f"/v1/prompt/{first['id']}", params={"version": pretty}).json() == first


def test_btql_answers_a_prompts_audit_log(bt_server, client):
    project = client.project()
    body = {"project_id": project["id"], "slug": "greet", "name": "Greet", "prompt_data": {"prompt": {"type": "completion", "content": "v1"}}}
    first = client.session.put(bt_server.url + "/v1/prompt", json=body, timeout=10).json()
    second = client.session.put(bt_server.url + "/v1/prompt", json={**body, "description": "v2"}, timeout=10).json()

    def btql(project_id, prompt_id, **flags):
        query = {"from": {"op": "function", "name": {"op": "ident", "name": ["project_prompts"]}, "args": [{"op": "literal", "value": project_id}]},
                 "select": [{"op": "star"}], "filter": {"op": "eq", "left": {"op": "ident", "name": ["id"]}, "right": {"op": "literal", "value": prompt_id}}}
        return client.post("/btql", json={"query": query, **flags})

    audit = btql(project["id"], first["id"], audit_log=True).json()["data"]
    assert [(e["_xact_id"], e["audit_data"]["action"]) for e in audit] == [(first["_xact_id"], "upsert"), (second["_xact_id"], "upsert")]
    assert btql(project["id"], first["id"]).json()["data"] == [second]
    assert btql("other-project", first["id"], audit_log=True).json()["data"] == []
    unsupported = client.post("/btql", json={"query": {"from": {"op": "function", "name": {"op": "ident", "name": ["experiment"]}}}})
    assert unsupported.status_code == 400 and "project_prompts" in unsupported.json()["error"]


def test_btql_reads_an_objects_rows_by_filter_in_pages(bt_server, client):
    """The rows query of 0.48.1's ``ObjectFetcher`` (a scorer's ``trace.get_spans``): the span
    filter operators, pages by cursor, comments left out; an operator it does not know → 400."""
    eid = client.experiment(client.project()["id"])["id"]
    client.logs3([
        exp_row(eid, "a", root_span_id="t1", span_attributes={"type": "llm", "name": "m"}, metrics={"start": 1, "end": 3}),
        exp_row(eid, "b", root_span_id="t1", span_attributes={"type": "tool", "purpose": "scorer"}, error="boom"),
        exp_row(eid, "c", root_span_id="t2", span_attributes={"type": "llm"}, metadata={"k": {"v": 1}}),
        exp_row(eid, "d", root_span_id="t1", comment={"text": "a comment"}, origin={"id": "a"}),
    ])

    def ident(*name):
        return {"op": "ident", "name": list(name)}

    def literal(value):
        return {"op": "literal", "value": value}

    def query(condition, **extra):
        source = {"op": "function", "name": ident("experiment"), "args": [literal(eid)]}
        body = {"query": {"select": [{"op": "star"}], "from": source, "filter": condition, **extra}}
        response = client.post("/btql", json=body)
        return response.status_code, response.json()

    def ids(condition):
        status, answer = query(condition)
        assert status == 200, answer
        return [row["id"] for row in answer["data"]]

    trace_1 = {"op": "eq", "left": ident("root_span_id"), "right": literal("t1")}
    assert ids(trace_1) == ["a", "b"]
    not_scorer = {"op": "or", "children": [{"op": "isnull", "expr": ident("span_attributes", "purpose")},
                                           {"op": "ne", "left": ident("span_attributes", "purpose"), "right": literal("scorer")}]}
    assert ids({"op": "and", "children": [trace_1, not_scorer]}) == ["a"]
    assert ids({"op": "in", "left": ident("span_attributes", "type"), "right": literal(["llm"])}) == ["a", "c"]
    assert ids({"op": "isnotnull", "expr": ident("error")}) == ["b"]
    assert ids({"op": "eq", "left": ident("metadata", "k", "v"), "right": literal(1)}) == ["c"]
    elapsed = {"op": "sub", "left": ident("metrics", "end"), "right": ident("metrics", "start")}
    assert ids({"op": "ge", "left": elapsed, "right": literal(2)}) == ["a"]
    assert ids(literal(False)) == []
    status, first = query(None, limit=2)
    assert status == 200 and [r["id"] for r in first["data"]] == ["a", "b"] and first["cursor"]
    status, second = query(None, limit=2, cursor=first["cursor"])
    assert [r["id"] for r in second["data"]] == ["c"] and second["cursor"] is None
    status, answer = query({"op": "like", "left": ident("id"), "right": literal("a%")})
    assert status == 400 and "'like'" in str(answer)


def test_function_invoke_runs_the_stand_ins(client):
    def invoke(body):
        return client.post("/function/invoke", json={"api_version": 1, "project_name": "p", **body})

    assert invoke({"slug": "echo", "input": {"a": 1}}).json() == {"a": 1}
    assert invoke({"slug": "shout", "messages": [{"role": "user", "content": "hi"}]}).json() == "HI"
    assert invoke({"global_function": "classify", "input": "thanks"}).json() == {"label": "positive", "score": 0.9}
    assert invoke({"slug": "fail", "input": 1}).status_code == 500
    assert invoke({"slug": "nope"}).status_code == 404
    assert invoke({"input": 1}).status_code == 400
    streamed = invoke({"slug": "stream-error", "input": "abcdef", "stream": True})
    assert streamed.headers["Content-Type"] == "text/event-stream"
    events = [block.split("\n") for block in streamed.text.strip().split("\n\n")]
    kinds = [lines[0].removeprefix("event: ") for lines in events]
    assert kinds == ["start", "console", "progress", "text_delta", "text_delta", "error", "done"]
    assert "".join(json.loads(lines[1].removeprefix("data: ")) for lines in events if lines[0] == "event: text_delta") == "ABCDEF"


# -- /logs3 -----------------------------------------------------------------------------------


def test_logs3_merge_replace_tags_and_delete(bt_server, client):
    eid = client.experiment(client.project()["id"])["id"]
    first = client.logs3(
        [
            exp_row(eid, "a", input={"q": 1}, metadata={"k": {"x": 1, "y": 2}}, tags=["t1", "t2"], output="old"),
            exp_row(eid, "b", input="b", output="b"),
            exp_row(eid, "c", input="c"),
        ]
    )
    assert first.status_code == 200
    assert first.json()["ids"] == ["a", "b", "c"]
    assert "Content-Type" not in bt_server.requests_to("/logs3")[0].headers
    second = client.logs3(
        [
            exp_row(eid, "a", _is_merge=True, metadata={"k": {"y": 3}, "z": True}, tags=["t2", "t3"], output="new"),
            exp_row(eid, "b", input="replaced"),
            exp_row(eid, "c", _object_delete=True),
            exp_row(eid, "d", _is_merge=True, output="merge into nothing inserts"),
        ]
    ).json()
    assert int(second["xact_id"]) > int(first.json()["xact_id"])
    rows = {r["id"]: r for r in bt_server.rows("experiment", eid)}
    assert list(rows) == ["a", "b", "d"]
    assert rows["a"]["metadata"] == {"k": {"x": 1, "y": 3}, "z": True}
    assert rows["a"]["tags"] == ["t1", "t2", "t3"]
    assert rows["a"]["output"] == "new" and rows["a"]["input"] == {"q": 1}
    assert "output" not in rows["b"] and rows["b"]["input"] == "replaced"
    assert "_is_merge" not in rows["d"] and rows["d"]["output"] == "merge into nothing inserts"
    assert rows["a"]["_xact_id"] == second["xact_id"] and rows["a"]["created"]
    assert bt_server.rows_received == 7
    assert [len(b["rows"]) for b in bt_server.logs3_bodies] == [3, 4]
    assert bt_server.rows("experiment", "other") == [] and len(bt_server.rows()) == 3


def test_logs3_merge_paths_and_other_objects(bt_server, client):
    project_id = client.project()["id"]
    client.logs3([{"id": "r", "project_id": project_id, "log_id": "g", "metadata": {"a": {"b": 1, "c": 2}}}])
    client.logs3([{"id": "r", "project_id": project_id, "log_id": "g", "metadata": {"a": {"b": 5}}, "_is_merge": True, "_merge_paths": [["metadata", "a"]]}])
    client.logs3([{"id": "p", "prompt_session_id": "ps", "log_id": "x", "input": 1}])
    assert bt_server.rows("project_logs", project_id)[0]["metadata"] == {"a": {"b": 5}}
    assert [r["id"] for r in bt_server.rows("playground_logs")] == ["p"]


def test_logs3_rejects_malformed_rows_atomically(bt_server, client):
    eid = "e1"
    response = client.logs3([exp_row(eid, "ok", input=1), {"id": "orphan", "input": 2}])
    assert response.status_code == 400 and "object id" in response.json()["error"]
    assert client.post("/logs3", data=b"not json").status_code == 400
    assert bt_server.rows() == [] and bt_server.rows_received == 0 and bt_server.logs3_bodies == []


def test_logs3_over_the_payload_limit_is_413(bt_server_factory):
    server = bt_server_factory(payload_max_bytes=1000)
    response = Client(server).logs3([exp_row("e", "big", input="x" * 2000)])
    assert response.status_code == 413
    assert server.rows() == []


# -- fault scripting --------------------------------------------------------------------------


def test_scripted_statuses_retry_after_then_normal(bt_server, client):
    bt_server.script("POST", "/logs3", [Step(status=500), Step(status=429, retry_after="2"), 503])
    answers = [client.logs3([exp_row("e", "r", n=i)]) for i in range(4)]
    assert [a.status_code for a in answers] == [500, 429, 503, 200]
    assert answers[1].headers["Retry-After"] == "2"
    assert answers[0].json() == {"error": "bt_server: scripted 500"}
    assert [r.status for r in bt_server.requests_to("/logs3")] == [500, 429, 503, 200]
    assert bt_server.rows_received == 1 and bt_server.rows()[0]["n"] == 3  # failures stored nothing
    assert bt_server.steps_remaining() == 0


def test_script_matching_by_method_exact_path_and_prefix(bt_server, client):
    bt_server.script("POST", "/v1/*", [Step(status=502, body={"custom": True})])
    bt_server.script(None, "/version", [Step(status=200, body={"canned": 1}, retry_after="Wed, 21 Oct 2037 07:28:00 GMT")])
    response = client.get("/version")
    assert response.json() == {"canned": 1} and response.headers["Retry-After"].endswith("GMT")
    assert client.post("/logs3/overflow", json={"size_bytes": 1}).status_code == 200  # not /logs3*, not /v1/*
    assert client.post("/v1/project", json={"name": "p"}).json() == {"custom": True}
    assert bt_server.projects() == []  # the scripted failure did not create it
    assert client.post("/v1/project", json={"name": "p"}).status_code == 200


def test_fail_always_until_cleared(bt_server, client):
    bt_server.fail_always("POST", "/logs3", Step(status=503, retry_after="0"))
    assert {client.logs3([exp_row("e", "r")]).status_code for _ in range(3)} == {503}
    bt_server.clear_faults()
    assert client.logs3([exp_row("e", "r")]).status_code == 200
    assert bt_server.rows_received == 1


def test_delay_then_normal_answer(bt_server, client):
    bt_server.script("POST", "/logs3", [Step(delay_seconds=0.3)])
    started = time.monotonic()
    assert client.logs3([exp_row("e", "slow")]).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert [r["id"] for r in bt_server.rows()] == ["slow"]


def test_reset_closes_the_connection_without_an_answer(bt_server, client):
    bt_server.script("POST", "/logs3", [Step(reset=True)])
    with pytest.raises(requests.ConnectionError):
        client.logs3([exp_row("e", "r")])
    assert bt_server.requests_to("/logs3")[0].status == 0
    assert bt_server.rows_received == 0
    assert client.logs3([exp_row("e", "r")]).status_code == 200


def test_hang_until_timeout_or_stop(bt_server, client):
    bt_server.script("POST", "/logs3", [Step(hang=True), Step(hang=True)])
    with pytest.raises(requests.ReadTimeout):
        client.logs3([exp_row("e", "r")], timeout=0.3)
    outcome = {}

    def call():
        try:
            outcome["status"] = client.logs3([exp_row("e", "r")], timeout=10).status_code
        except requests.RequestException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=call)
    thread.start()
    bt_server.wait_for(lambda: len(bt_server.requests_to("/logs3")) == 2)
    started = time.monotonic()
    bt_server.stop()
    thread.join(5)
    assert isinstance(outcome.get("error"), requests.ConnectionError)
    assert time.monotonic() - started < 3
    assert bt_server.rows_received == 0


def test_stop_then_start_rebinds_the_same_port_and_keeps_state(bt_server, client):
    url = bt_server.url
    assert client.logs3([exp_row("e", "before")]).status_code == 200  # leaves a pooled keep-alive connection
    bt_server.stop()
    with pytest.raises(requests.ConnectionError):
        client.logs3([exp_row("e", "during")], timeout=2)
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/version", timeout=2)
    bt_server.start()
    assert bt_server.url == url
    assert client.logs3([exp_row("e", "after")]).status_code == 200
    assert [r["id"] for r in bt_server.rows()] == ["before", "after"]


def test_keep_alive_serves_several_requests_on_one_connection(bt_server):
    request = b"GET /version HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer test-api-key\r\n\r\n"
    with socket.create_connection(("127.0.0.1", bt_server.port), timeout=5) as sock:
        reader = sock.makefile("rb")
        for _ in range(3):
            sock.sendall(request)
            assert reader.readline().startswith(b"HTTP/1.1 200")
            headers = {}
            while (line := reader.readline()) != b"\r\n":
                name, _, value = line.decode().partition(":")
                headers[name.lower()] = value.strip()
            assert json.loads(reader.read(int(headers["content-length"])))["version"] == "test-1.0"
            assert headers.get("connection") != "close"


def test_context_manager_and_reset(bt_server_factory):
    with BraintrustTestServer(api_key="k2") as server:
        client = Client(server)
        client.project("p")
        server.script("GET", "/version", [500])
        client.logs3([exp_row("e", "r")])
        server.reset()
        assert (server.rows(), server.requests, server.projects(), server.steps_remaining()) == ([], [], [], 0)
        assert client.get("/version").status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/version", timeout=2)


# -- overflow and attachments -----------------------------------------------------------------


def _overflow_upload(server: BraintrustTestServer, client: Client, payload: bytes) -> requests.Response:
    ask = {"content_type": "application/json", "size_bytes": len(payload), "rows": [{"object_ids": {"experiment_id": "e"}, "input_row": {"byte_size": len(payload)}}]}
    answer = client.post("/logs3/overflow", json=ask).json()
    assert answer["signedUrl"].startswith(server.url + "/_objstore/")
    if answer["method"] == "PUT":
        upload = requests.put(answer["signedUrl"], data=payload, headers=answer["headers"], timeout=5)  # no Authorization
    else:
        upload = requests.post(answer["signedUrl"], data=answer["fields"], files={"file": ("logs3.json", payload)}, timeout=5)
    assert upload.status_code == 200
    reference = {"rows": {"type": "logs3_overflow", "key": answer["key"], "size_bytes": len(payload)}, "api_version": 2}
    return client.post("/logs3", json=reference)


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_overflow_upload_then_reference_ingests_the_rows(bt_server_factory, method):
    server = bt_server_factory(payload_max_bytes=4096, overflow_upload_method=method)
    client = Client(server)
    payload = json.dumps({"rows": [exp_row("e", "big", input="x" * 10_000), exp_row("e", "small")], "api_version": 2}).encode()
    response = _overflow_upload(server, client, payload)
    assert response.status_code == 200 and response.json()["ids"] == ["big", "small"]
    assert [r["id"] for r in server.rows("experiment", "e")] == ["big", "small"]
    assert server.rows_received == 2
    assert server.logs3_bodies[0]["rows"]["type"] == "logs3_overflow"
    assert server.requests_to("/_objstore/*")[0].header("Authorization") is None


def test_overflow_reference_must_match_an_upload(bt_server, client):
    missing = {"rows": {"type": "logs3_overflow", "key": "nope.json", "size_bytes": 3}, "api_version": 2}
    assert client.post("/logs3", json=missing).status_code == 400
    answer = client.post("/logs3/overflow", json={"size_bytes": 10}).json()
    requests.put(answer["signedUrl"], data=b'{"rows": []}', timeout=5)
    wrong_size = {"rows": {"type": "logs3_overflow", "key": answer["key"], "size_bytes": 999}, "api_version": 2}
    assert client.post("/logs3", json=wrong_size).status_code == 400


def test_attachment_upload_status_and_download(bt_server, client):
    ask = {"key": "k-1", "filename": "a.txt", "content_type": "text/plain", "org_id": bt_server.org_id}
    answer = client.post("/attachment", json=ask).json()
    assert answer["signedUrl"].startswith(bt_server.url + "/_objstore/") and answer["headers"] == {"Content-Type": "text/plain"}
    assert requests.put(answer["signedUrl"], data=b"hello", headers=answer["headers"], timeout=5).status_code == 200
    status = {"key": "k-1", "org_id": bt_server.org_id, "status": {"upload_status": "done"}}
    assert client.post("/attachment/status", json=status).status_code == 200
    info = client.get("/attachment", params={"key": "k-1", "filename": "a.txt", "content_type": "text/plain", "org_id": bt_server.org_id}).json()
    assert info["status"] == {"upload_status": "done"}
    assert requests.get(info["downloadUrl"], timeout=5).content == b"hello"
    assert bt_server.attachment_data("k-1") == b"hello"


# -- reads: fetch, versions, summaries --------------------------------------------------------


def test_dataset_fetch_paginates_and_pins_versions(bt_server, client):
    project = client.project()
    dataset = client.post("/v1/dataset", json={"project_id": project["id"], "name": "d"}).json()
    did = dataset["id"]

    def row(row_id, **fields):
        return {"id": row_id, "dataset_id": did, **fields}

    v1 = client.logs3([row("r1", input="a", expected="A"), row("r2", input="b", expected="B"), row("r3", input="c", expected="C")]).json()["xact_id"]
    client.logs3([row("r2", expected="B2", _is_merge=True), row("r3", _object_delete=True)])

    def fetch(**body):
        return client.post(f"/v1/dataset/{did}/fetch", json=body).json()

    page1 = fetch(limit=1)
    page2 = fetch(limit=1, cursor=page1["cursor"])
    assert page1["cursor"] == "MQ==" and page2["cursor"] is None
    events = page1["events"] + page2["events"]
    assert [(e["id"], e["expected"]) for e in events] == [("r1", "A"), ("r2", "B2")]
    assert all(e["project_id"] == project["id"] and e["_xact_id"].isdigit() for e in events)
    pinned = fetch(limit=1000, version=v1)
    assert [(e["id"], e["expected"]) for e in pinned["events"]] == [("r1", "A"), ("r2", "B"), ("r3", "C")]
    assert {e["_xact_id"] for e in pinned["events"]} == {v1} and pinned["cursor"] is None
    assert fetch(limit=10, version="1")["events"] == []
    assert client.post(f"/v1/dataset/{did}/fetch", json={"limit": 1, "cursor": "@@"}).status_code == 400
    summary = client.get(f"/v1/dataset/{did}/summarize", params={"summarize_data": "true"}).json()
    assert summary == {
        "project_name": "proj",
        "dataset_name": "d",
        "project_url": f"{bt_server.url}/app/test-org/p/proj",
        "dataset_url": f"{bt_server.url}/app/test-org/p/proj/datasets/d",
        "data_summary": {"total_records": 2},
    }


def test_experiment_fetch(client):
    eid = client.experiment(client.project()["id"])["id"]
    client.logs3([exp_row(eid, f"r{i}", input=i) for i in range(5)])
    first = client.post(f"/v1/experiment/{eid}/fetch", json={"limit": 3}).json()
    rest = client.post(f"/v1/experiment/{eid}/fetch", json={"limit": 3, "cursor": first["cursor"]}).json()
    assert [e["input"] for e in first["events"] + rest["events"]] == [0, 1, 2, 3, 4]
    assert rest["cursor"] is None
    assert client.post("/v1/experiment/missing/fetch", json={"limit": 1}).status_code == 404


def _log_cases(client: Client, eid: str, cases: list[tuple[str, float]], **extra) -> None:
    rows = [
        exp_row(eid, f"{eid}-{inp}", input=inp, span_parents=None, root_span_id=f"{eid}-{inp}", scores={"exact": score, **extra}, metrics={"start": 1.0, "end": 1.5})
        for inp, score in cases
    ]
    assert client.logs3(rows).status_code == 200


def test_experiment_summary_compares_with_the_base(bt_server, client):
    project = client.project("summaries")
    base = client.experiment(project["id"], name="baseline")
    _log_cases(client, base["id"], [("a", 1), ("b", 1), ("c", 0)])
    cand = client.experiment(project["id"], name="candidate", base_exp_id=base["id"])
    _log_cases(client, cand["id"], [("a", 0), ("b", 1), ("c", 1)], len_ok=1)
    # an Eval-style trace: the score lives on a score span, not on the root
    client.logs3(
        [
            exp_row(cand["id"], "root", input="d", span_id="s0", root_span_id="t", span_parents=None),
            exp_row(cand["id"], "scorer", span_id="s1", root_span_id="t", span_parents=["s0"], span_attributes={"type": "score"}, scores={"exact": 1}),
            exp_row(cand["id"], "task", span_id="s2", root_span_id="t", span_parents=["s0"], scores={"ignored": 1}, metrics={"prompt_tokens": 3}),
        ]
    )
    first = client.get(f"/v1/experiment/{base['id']}/summarize", params={"summarize_scores": "true"}).json()
    assert first["comparison_experiment_name"] is None
    assert first["scores"] == {"exact": {"name": "exact", "score": pytest.approx(2 / 3), "improvements": 0, "regressions": 0}}
    summary = client.get(f"/v1/experiment/{cand['id']}/summarize", params={"summarize_scores": "true"}).json()
    assert list(summary) == ["project_name", "experiment_name", "project_url", "experiment_url", "comparison_experiment_name", "scores", "metrics"]
    assert summary["experiment_url"] == f"{bt_server.url}/app/test-org/p/summaries/experiments/candidate"
    assert summary["comparison_experiment_name"] == "baseline"
    assert summary["scores"]["exact"] == {"name": "exact", "score": 0.75, "improvements": 1, "regressions": 1, "diff": pytest.approx(0.75 - 2 / 3)}
    assert summary["scores"]["len_ok"] == {"name": "len_ok", "score": 1.0, "improvements": 0, "regressions": 0}
    assert "ignored" not in summary["scores"]
    duration = summary["metrics"]["duration"]
    assert set(duration) == {"name", "metric", "unit", "improvements", "regressions", "diff"} and duration["unit"] == "s"
    assert summary["metrics"]["prompt_tokens"]["unit"] == "tok"
    # without a stored base the previous experiment of the project is the comparison; an explicit id wins
    third = client.experiment(project["id"], name="third")
    assert client.get(f"/v1/experiment/{third['id']}/summarize").json()["comparison_experiment_name"] == "candidate"
    explicit = client.get(f"/v1/experiment/{third['id']}/summarize", params={"comparison_experiment_id": base["id"]}).json()
    assert explicit["comparison_experiment_name"] == "baseline"


# -- process mode and throughput --------------------------------------------------------------


def test_cli_mode_prints_ready_counts_rows_and_stops_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.btserver", "--port", "0", "--count-only", "--payload-max-bytes", "4096"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("READY http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split()[1]
        session = requests.Session()
        session.headers["Authorization"] = "Bearer test-api-key"
        assert session.get(url + "/version", timeout=5).json()["logs3_payload_max_bytes"] == 4096
        body = json.dumps({"rows": [exp_row("e", str(i)) for i in range(3)], "api_version": 2})
        assert session.post(url + "/logs3", data=body, timeout=5).status_code == 200
        stats = requests.get(url + "/_test/stats", timeout=5).json()  # no auth needed
        assert stats == {"rows_received": 3, "requests": 2, "bytes_received": len(body)}
    finally:
        proc.terminate()
        assert proc.wait(timeout=5) == 0


def test_count_only_server_counts_every_row_of_100_batches(bt_server_factory):
    server = bt_server_factory(merge_rows=False)
    client = Client(server)
    padding = "x" * 900
    for batch in range(100):
        response = client.logs3([exp_row("e", f"{batch}-{i}", input=padding) for i in range(100)])
        assert response.status_code == 200
    assert server.rows_received == 10_000
    assert server.stats["requests"] == 100 and server.stats["bytes_received"] > 10_000 * 900
    assert server.rows() == []  # counted, not kept


# -- fixtures ---------------------------------------------------------------------------------


def test_bt_env_points_the_environment_at_the_server(bt_env):
    assert os.environ["BRAINTRUST_API_KEY"] == bt_env.api_key
    assert os.environ["BRAINTRUST_APP_URL"] == bt_env.url
    assert "BRAINTRUST_API_URL" not in os.environ and "BRAINTRUST_LOCAL" not in os.environ
    assert bt_env.running and bt_env.errors == []


# -- functions defined in code, environments --------------------------------------------------


def test_insert_functions_records_definitions_and_answers_stable_ids(bt_server, client):
    project = client.project("functions")
    definition = {"project_id": project["id"], "slug": "greet", "name": "Greet", "function_data": {"type": "prompt"}}
    first = client.post("/insert-functions", json={"functions": [definition]})
    again = client.post("/insert-functions", json={"functions": [definition]})
    assert first.status_code == again.status_code == 200
    assert first.json()["functions"][0]["id"] == again.json()["functions"][0]["id"]
    assert [a.json()["functions"][0]["found_existing"] for a in (first, again)] == [False, True]
    assert bt_server.inserted_functions == [definition, definition]
    for bad in ({"functions": "x"}, {"functions": [{"slug": "no-project"}]}):
        response = client.post("/insert-functions", json=bad)
        assert response.status_code == 400 and "error" in response.json()


def test_inserted_functions_are_read_back_from_v1_function(bt_server, client):
    """``/v1/function`` answers every function (versions: ``if_exists: "replace"`` writes a new
    one); ``/v1/prompt`` only those with ``prompt_data``."""
    project = client.project("functions")
    knobs = {"project_id": project["id"], "slug": "knobs", "name": "Knobs", "function_type": "parameters",
             "function_data": {"type": "parameters", "data": {"a": 1}, "__schema": {"type": "object"}}}
    reply = {"project_id": project["id"], "slug": "reply", "name": "Reply", "function_data": {"type": "prompt"},
             "prompt_data": {"prompt": {"type": "completion", "content": "hi"}}}
    first = client.post("/insert-functions", json={"functions": [knobs, reply]}).json()["functions"][0]
    v1 = client.get("/v1/function", params={"project_name": "functions", "slug": "knobs"}).json()["objects"][0]["_xact_id"]
    client.post("/insert-functions", json={"functions": [{**knobs, "function_data": {**knobs["function_data"], "data": {"a": 2}}, "if_exists": "replace"}]})
    listed = client.get("/v1/function", params={"project_name": "functions", "slug": "knobs"}).json()["objects"]
    assert [(f["id"], f["function_data"]["data"]) for f in listed] == [(first["id"], {"a": 2})]
    (latest,) = listed
    versions = [client.get(f"/v1/function/{first['id']}", params={"version": v}).json()["function_data"]["data"]
                for v in (v1, latest["_xact_id"])]
    assert versions == [{"a": 1}, {"a": 2}]
    prompts = client.get("/v1/prompt", params={"project_id": project["id"]}).json()["objects"]
    assert [p["slug"] for p in prompts] == ["reply"]
    assert sorted(f["slug"] for f in client.get("/v1/function", params={"project_id": project["id"]}).json()["objects"]) == ["knobs", "reply"]


def test_an_environment_points_at_a_version_until_set(bt_server, client):
    path = "/environment-object/dataset/d1/production"
    assert client.get(path, params={"org_name": "test-org"}).status_code == 404
    control = requests.post(f"{bt_server.url}/_test{path}", json={"object_version": 7}, timeout=10)  # no key needed
    assert control.status_code == 200
    answer = client.get(path, params={"org_name": "test-org"})
    assert answer.status_code == 200 and answer.json()["object_version"] == "7"
    assert [r.path for r in bt_server.requests_to(path)] == [path, path]  # control requests are not recorded
