"""What tracing puts on the wire: request sequence, ``/logs3`` bodies, row fields, lazy login,
org discovery."""

from __future__ import annotations

import datetime
import json
import re

import pytest

import braintrust
from btserver import Step

HEX16 = re.compile(r"^[0-9a-f]{16}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
def sync_flush(monkeypatch):
    """Nothing is sent until flush(): each test controls the batches."""
    monkeypatch.setenv("BRAINTRUST_SYNC_FLUSH", "1")


def _pairs_sorted(pairs):
    keys = [k for k, _ in pairs]
    assert keys == sorted(keys), f"keys not sorted: {keys}"
    return dict(pairs)


def test_logs3_body_format(bt_logs, sync_flush):
    logger = braintrust.init_logger(project="wire")
    with logger.start_span(name="root", input={"b": 1, "a": {"z": 1, "y": [{"d": 1, "c": 2}]}}) as root:
        with root.start_span(name="child", metadata={"k": "v"}):
            pass
    bt_logs.flush()
    (request,) = bt_logs.server.requests_to("/logs3")
    body = request.body
    assert request.header("Content-Type") is None
    assert request.header("Authorization") == f"Bearer {bt_logs.server.api_key}"
    assert body.startswith(b'{"rows": [{') and body.endswith(b'}], "api_version": 2}')
    parsed = json.loads(body)
    assert parsed["api_version"] == 2
    inner = body[len(b'{"rows": [') : -len(b'], "api_version": 2}')]
    # Rows: sorted keys at every level, compact separators.
    rows = json.loads(b"[" + inner + b"]", object_pairs_hook=_pairs_sorted)
    assert inner == b",".join(json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode() for r in rows)
    assert len(rows) == 2
    # A root's span_parents is an explicit null.
    assert b'"span_parents":null' in inner


def test_row_fields_of_a_first_write_and_its_merges(bt_logs, sync_flush):
    logger = braintrust.init_logger(project="wire")
    span = logger.start_span(name="root", input="in")
    child = span.start_span(name="child")
    bt_logs.flush()
    span.log(output="out")
    child.end()
    span.end()
    bt_logs.flush()
    first_body, second_body = (json.loads(r.body) for r in bt_logs.server.requests_to("/logs3"))
    root_first, child_first = first_body["rows"]
    project_id = logger.id
    for row in (root_first, child_first):
        assert row["_is_merge"] is False
        assert row["project_id"] == project_id and row["log_id"] == "g"
        assert HEX16.match(row["span_id"]) and HEX32.match(row["root_span_id"])
        created = datetime.datetime.fromisoformat(row["created"])
        assert created.utcoffset() == datetime.timedelta(0)
        assert row["created"].endswith("+00:00")
        assert row["context"]["span_origin"] == {
            "name": "braintrust.sdk.python",
            "version": "0.48.1",
            "instrumentation": {"name": "braintrust-python-logger"},
        }
        assert row["context"]["caller_filename"] == __file__
        assert isinstance(row["metrics"]["start"], float)
    assert root_first["span_parents"] is None
    assert root_first["input"] == "in"
    assert root_first["span_attributes"] == {"name": "root", "type": "task", "exec_counter": root_first["span_attributes"]["exec_counter"]}
    assert child_first["span_parents"] == [root_first["span_id"]]
    assert child_first["root_span_id"] == root_first["root_span_id"]
    assert child_first["span_attributes"]["exec_counter"] > root_first["span_attributes"]["exec_counter"]
    # The log and end of the root merge into one row; every merge row names the span fully.
    merges = {r["id"]: r for r in second_body["rows"]}
    root_merge = merges[root_first["id"]]
    assert root_merge["_is_merge"] is True
    assert root_merge["output"] == "out"
    assert set(root_merge["metrics"]) == {"end"}
    assert root_merge["span_parents"] is None
    assert root_merge["span_id"] == root_first["span_id"]
    assert root_merge["root_span_id"] == root_first["root_span_id"]
    assert "created" not in root_merge and "context" not in root_merge
    child_merge = merges[child_first["id"]]
    assert child_merge["span_parents"] == [root_first["span_id"]]
    assert set(child_merge) == {"id", "span_id", "root_span_id", "span_parents", "metrics", "project_id", "log_id", "_is_merge"}


def test_rows_of_one_flush_are_merged_client_side(bt_logs, sync_flush):
    logger = braintrust.init_logger(project="wire")
    with logger.start_span(name="s", input=1) as span:
        span.log(output=2, metadata={"a": 1})
        span.log(metadata={"b": 2})
    bt_logs.flush()
    (body,) = [json.loads(r.body) for r in bt_logs.server.requests_to("/logs3")]
    (row,) = body["rows"]
    assert "_is_merge" not in row  # a first write with merges folded in
    assert row["input"] == 1 and row["output"] == 2
    assert row["metadata"] == {"a": 1, "b": 2}
    assert set(row["metrics"]) == {"start", "end"}


def test_lazy_login(bt_logs, sync_flush):
    logger = braintrust.init_logger(project="lazy")
    logger.log(input=1)
    with braintrust.start_span(name="s") as span:
        span.log(output=1)
    span.export()
    assert bt_logs.server.requests == []
    project_id = logger.id
    assert bt_logs.paths() == [("POST", "/api/apikey/login"), ("POST", "/v1/project")]
    assert logger.id == project_id  # cached: no second request
    assert len(bt_logs.server.requests) == 2
    bt_logs.flush()
    assert bt_logs.paths()[2:] == [("GET", "/version"), ("POST", "/logs3")]


def test_request_sequence_and_background_sending(bt_logs):
    logger = braintrust.init_logger(project="bg")
    assert bt_logs.server.requests == []
    logger.log(input=1)
    # Without BRAINTRUST_SYNC_FLUSH rows leave in the background, with no flush() call.
    bt_logs.server.wait_for(lambda: bt_logs.server.rows_received >= 1)
    assert bt_logs.paths()[:4] == [
        ("POST", "/api/apikey/login"),
        ("POST", "/v1/project"),
        ("GET", "/version"),
        ("POST", "/logs3"),
    ]
    login = bt_logs.server.requests[0]
    assert login.body == b"" and login.header("Content-Length") == "0"


def test_org_discovery_sends_data_to_the_orgs_api_url(bt_server_factory, monkeypatch, sync_flush):
    app = bt_server_factory()
    api = bt_server_factory()
    app.api_url = api.url  # login answers: this org's data plane is the other server
    monkeypatch.setenv("BRAINTRUST_API_KEY", app.api_key)
    monkeypatch.setenv("BRAINTRUST_APP_URL", app.url)
    logger = braintrust.init_logger(project="discovered")
    logger.log(input=1)
    result = braintrust.flush()
    assert result.ok, result.describe()
    assert [r.path for r in app.requests] == ["/api/apikey/login"]
    assert [r.path for r in api.requests] == ["/v1/project", "/version", "/logs3"]
    assert len(api.rows()) == 1


def test_braintrust_api_url_overrides_discovery(bt_server_factory, monkeypatch, sync_flush):
    app = bt_server_factory()
    api = bt_server_factory()
    app.api_url = "http://127.0.0.1:9"  # never used
    monkeypatch.setenv("BRAINTRUST_API_KEY", app.api_key)
    monkeypatch.setenv("BRAINTRUST_APP_URL", app.url)
    monkeypatch.setenv("BRAINTRUST_API_URL", api.url)
    logger = braintrust.init_logger(project="override")
    logger.log(input=1)
    result = braintrust.flush()
    assert result.ok, result.describe()
    assert len(api.rows()) == 1


def test_no_orgs_in_login(bt_env):
    bt_env.script("POST", "/api/apikey/login", [Step(status=200, body={"org_info": []})])
    with pytest.raises(ValueError, match="This user is not part of any organizations."):
        braintrust.login()


def test_one_request_per_flush_for_a_few_rows(bt_logs, sync_flush):
    logger = braintrust.init_logger(project="batch")
    for i in range(30):
        logger.log(input=i)
    bt_logs.flush()
    (request,) = bt_logs.server.requests_to("/logs3")
    assert len(json.loads(request.body)["rows"]) == 30
    assert [r["input"] for r in bt_logs.server.rows()] == list(range(30))
