"""``init_logger`` and ``Logger``, ``login``, the module-level helpers, validation and bad data."""

from __future__ import annotations

import datetime
import json
import math
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

import braintrust
from braintrust import SpanComponentsV4, SpanObjectTypeV3
from btserver import Step


def _org(name: str, url: str) -> dict:
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, name)),
        "name": name,
        "api_url": url,
        "proxy_url": url,
        "realtime_url": None,
        "is_universal_api": False,
        "git_metadata": None,
    }


# -- init_logger arguments ------------------------------------------------------------------------


def test_project_name_registers_the_project(bt_logs):
    logger = braintrust.init_logger(project="my-logs")
    row_id = logger.log(input="q", output="a")
    rows = bt_logs.rows()
    (project,) = bt_logs.server.projects()
    assert [r.json for r in bt_logs.server.requests_to("/v1/project", "POST")] == [{"name": "my-logs", "org_name": "test-org"}]
    assert rows[0]["id"] == row_id
    assert rows[0]["project_id"] == project["id"]
    assert rows[0]["log_id"] == "g"
    assert logger.id == project["id"]
    assert logger.project.id == project["id"]
    assert logger.project.name == "my-logs"



def test_a_new_project_can_go_into_a_project_group(bt_logs):
    braintrust.init_logger(project="grouped-logs", _create_in_project_group="support").log(input=1)
    bt_logs.rows()
    assert [r.json for r in bt_logs.server.requests_to("/v1/project", "POST")] == [
        {"name": "grouped-logs", "org_name": "test-org", "project_group_name": "support"}]

def test_project_id_only_looks_the_project_up(bt_logs):
    project = bt_logs.server.registry.project_create_or_get({"name": "existing"})
    logger = braintrust.init_logger(project_id=project["id"])
    logger.log(input=1)
    rows = bt_logs.rows()
    assert rows[0]["project_id"] == project["id"]
    assert bt_logs.server.requests_to(f"/v1/project/{project['id']}", "GET")
    assert not bt_logs.server.requests_to("/v1/project", "POST")
    assert logger.project.name == "existing"


def test_project_and_project_id_need_no_project_request(bt_logs):
    logger = braintrust.init_logger(project="named", project_id="0f0f0f0f-0000-4000-8000-000000000001")
    logger.log(input=1)
    rows = bt_logs.rows()
    assert rows[0]["project_id"] == "0f0f0f0f-0000-4000-8000-000000000001"
    assert not bt_logs.server.requests_to("/v1/project*")
    # The id is known without a login, so even the export slug carries it.
    assert SpanComponentsV4.from_str(logger.export()).object_id == "0f0f0f0f-0000-4000-8000-000000000001"


def test_async_flush_false_sends_on_every_log(bt_env, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_SYNC_FLUSH", "1")  # no background sending at all
    logger = braintrust.init_logger(project="sync", async_flush=False)
    first = logger.log(input=1)
    assert [r["id"] for r in bt_env.rows()] == [first]
    second = logger.log(input=2)
    assert [r["id"] for r in bt_env.rows()] == [first, second]


def test_async_flush_true_waits_for_flush(bt_env, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_SYNC_FLUSH", "1")
    logger = braintrust.init_logger(project="batched")
    logger.log(input=1)
    assert bt_env.requests == []
    logger.flush()
    assert len(bt_env.rows()) == 1


def test_explicit_app_url_and_api_key(bt_server, monkeypatch):
    # bt_logs/bt_env are not used: nothing in the environment points at the server.
    logger = braintrust.init_logger(project="explicit", app_url=bt_server.url + "/", api_key=bt_server.api_key)
    logger.log(input=1)
    result = braintrust.flush()
    assert result.ok, result.describe()
    assert len(bt_server.rows()) == 1
    assert bt_server.requests[0].path == "/api/apikey/login"
    assert bt_server.requests[0].header("Authorization") == f"Bearer {bt_server.api_key}"


def test_org_name_picks_among_several_orgs(bt_server_factory, monkeypatch):
    server = bt_server_factory(org_name="second")
    monkeypatch.setenv("BRAINTRUST_API_KEY", server.api_key)
    monkeypatch.setenv("BRAINTRUST_APP_URL", server.url)
    login_body = {"org_info": [_org("first", "http://127.0.0.1:9"), _org("second", server.url)]}
    server.script("POST", "/api/apikey/login", [Step(status=200, body=login_body)])
    logger = braintrust.init_logger(project="multi", org_name="second")
    logger.log(input=1)
    result = braintrust.flush()
    assert result.ok, result.describe()
    assert [r.json for r in server.requests_to("/v1/project", "POST")] == [{"name": "multi", "org_name": "second"}]
    assert len(server.rows()) == 1
    with braintrust.start_span(name="s") as span:
        pass
    assert "/app/second/object?" in span.permalink()


def test_org_name_from_environment_and_unknown_org(bt_server_factory, monkeypatch):
    server = bt_server_factory(org_name="second")
    monkeypatch.setenv("BRAINTRUST_API_KEY", server.api_key)
    monkeypatch.setenv("BRAINTRUST_APP_URL", server.url)
    monkeypatch.setenv("BRAINTRUST_ORG_NAME", "nope")
    login_body = {"org_info": [_org("first", server.url), _org("second", server.url)]}
    server.script("POST", "/api/apikey/login", [Step(status=200, body=login_body)] * 2)
    logger = braintrust.init_logger(project="multi")
    with pytest.raises(ValueError, match="Organization nope not found. Must be one of first, second"):
        logger.id
    monkeypatch.setenv("BRAINTRUST_ORG_NAME", "second")
    assert logger.id
    assert server.requests_to("/v1/project", "POST")[0].json["org_name"] == "second"


def test_a_failed_login_leaves_the_earlier_credentials_in_place(bt_env):
    """As 0.48.1's: ``login(org_name="typo", force_login=True)`` raises, and what follows still works
    with the credentials of before (here: it failed forever, every later call on the typo)."""
    braintrust.login()
    with pytest.raises(ValueError, match="Organization typo not found"):
        braintrust.login(org_name="typo", force_login=True)
    with pytest.raises(ValueError, match="Invalid API key"):
        braintrust.login(api_key="not-the-key", force_login=True)
    braintrust.login(force_login=True)
    logger = braintrust.init_logger(project="after-typo")
    logger.log(input=1)
    assert braintrust.flush().ok
    assert len(bt_env.rows()) == 1
    assert [r.header("Authorization") for r in bt_env.requests_to("/logs3", "POST")] == [f"Bearer {bt_env.api_key}"]


def test_force_login(bt_server_factory, monkeypatch):
    server = bt_server_factory()
    monkeypatch.setenv("BRAINTRUST_APP_URL", server.url)
    braintrust.login(api_key=server.api_key)
    assert [r.path for r in server.requests] == ["/api/apikey/login"]
    with pytest.raises(ValueError, match="force_login"):
        braintrust.init_logger(project="p", api_key="some-other-key")
    server.api_key = "second-key"
    logger = braintrust.init_logger(project="p", api_key="second-key", force_login=True)
    logger.log(input=1)
    result = braintrust.flush()
    assert result.ok, result.describe()
    logins = server.requests_to("/api/apikey/login")
    assert len(logins) == 2
    assert logins[1].header("Authorization") == "Bearer second-key"
    assert server.requests_to("/logs3")[-1].header("Authorization") == "Bearer second-key"


def test_login_is_eager_and_happens_once(bt_env):
    braintrust.login()
    braintrust.login()
    assert [r.path for r in bt_env.requests] == ["/api/apikey/login"]
    assert bt_env.requests[0].body == b""
    assert bt_env.requests[0].header("Content-Length") == "0"


def test_login_with_bad_key_raises(bt_env, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_API_KEY", "wrong-key-123456")
    with pytest.raises(ValueError, match=r"Invalid API key wr\*\*\*\*\*56: \[401\]") as info:
        braintrust.login()
    assert "wrong-key-123456" not in str(info.value)


def test_an_unreachable_braintrust_is_not_asked_again_within_ten_seconds(bt_env, monkeypatch):
    """An offline laptop with a key set: the first login waits through its retries; logins in
    the next seconds (the next batch, the summary) fail at once instead of waiting again."""
    import time

    from braintrust import state

    monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "1")
    bt_env.stop()
    with pytest.raises(ValueError, match="Could not reach Braintrust") as first:
        braintrust.login()
    bt_env.start()  # back already, but nobody asks it yet
    started = time.monotonic()
    with pytest.raises(ValueError) as again:
        braintrust.login()
    assert str(again.value) == str(first.value)  # the same error (reports show it once)
    assert "to work offline, set BRAINTRUST_LOCAL=1" in str(first.value)  # the way on, for a laptop offline
    assert time.monotonic() - started < 0.1 and bt_env.requests_to("/api/apikey/login") == []
    monkeypatch.setattr(state, "UNREACHABLE_RETRY_AFTER_SECONDS", 0.0)  # ten seconds later
    braintrust.login()
    assert len(bt_env.requests_to("/api/apikey/login")) == 1


def test_force_login_asks_an_unreachable_braintrust_again_at_once(bt_env, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    bt_env.stop()
    with pytest.raises(ValueError, match="Could not reach Braintrust"):
        braintrust.login()
    bt_env.start()
    braintrust.login(force_login=True)
    assert len(bt_env.requests_to("/api/apikey/login")) == 1


def test_user_info_asks_ping_once_per_login(bt_env, monkeypatch):
    info = braintrust.user_info()
    assert info["id"] and info["email"] == "tester@example.com"
    assert braintrust.user_info() is info
    assert [r.path for r in bt_env.requests] == ["/api/apikey/login", "/ping"]
    braintrust.login(force_login=True)
    braintrust.user_info()
    assert [r.path for r in bt_env.requests].count("/ping") == 2
    monkeypatch.delenv("BRAINTRUST_API_KEY")
    from braintrust.state import global_state

    global_state().reset()
    with pytest.raises(ValueError, match="no API key is set: set BRAINTRUST_API_KEY"):
        braintrust.user_info()


def test_set_current_and_current_logger(bt_env):
    assert braintrust.current_logger() is None
    first = braintrust.init_logger(project="one")
    assert braintrust.current_logger() is first
    braintrust.init_logger(project="two", set_current=False)
    assert braintrust.current_logger() is first
    second = braintrust.init_logger(project="three")
    assert braintrust.current_logger() is second


# -- Logger.log -----------------------------------------------------------------------------------


def test_logger_log_row(bt_logs):
    logger = braintrust.init_logger(project="rows")
    fixed = logger.log(id="my-row-id", input={"q": 1}, output="a", expected="a", scores={"ok": 1}, metadata={"k": "v"}, tags=["x"], metrics={"tokens": 2})
    assert fixed == "my-row-id"
    generated = logger.log(input=2)
    assert str(uuid.UUID(generated)) == generated
    rows = {r["id"]: r for r in bt_logs.rows()}
    row = rows["my-row-id"]
    assert row["input"] == {"q": 1} and row["output"] == "a" and row["expected"] == "a"
    assert row["scores"] == {"ok": 1}
    assert row["metadata"] == {"k": "v"}
    assert row["tags"] == ["x"]
    assert row["metrics"]["tokens"] == 2
    assert row["span_attributes"]["name"] == "root"
    assert row["span_attributes"]["type"] == "task"
    assert row["span_parents"] is None
    assert row["metrics"]["start"] <= row["metrics"]["end"]
    # metrics.start of a log is the end of the previous one.
    assert rows[generated]["metrics"]["start"] == row["metrics"]["end"]


def test_logger_log_feedback(bt_logs):
    logger = braintrust.init_logger(project="feedback")
    row_id = logger.log(input="q", output="a")
    bt_logs.flush()
    first_request_after_log = len(bt_logs.server.logs3_bodies)
    logger.log_feedback(id=row_id, scores={"correct": 0.5}, expected="b", tags=["reviewed"], comment="close", metadata={"reviewer": "r"}, source="app")
    bt_logs.flush()
    # The sender may take the merge row and the comment row in one request or two.
    sent = [row for body in bt_logs.server.logs3_bodies[first_request_after_log:] for row in body["rows"]]
    merge = next(r for r in sent if r["id"] == row_id)
    assert merge["_is_merge"] is True
    assert merge["scores"] == {"correct": 0.5}
    assert merge["expected"] == "b"
    assert merge["tags"] == ["reviewed"]
    assert merge["_audit_source"] == "app"
    assert merge["_audit_metadata"] == {"reviewer": "r"}
    assert merge["log_id"] == "g" and merge["project_id"] == logger.id
    comment = next(r for r in sent if r["id"] != row_id)
    assert comment["comment"] == {"text": "close"}
    assert comment["origin"] == {"id": row_id}
    assert comment["_audit_source"] == "app"
    assert "created" in comment
    stored = next(r for r in bt_logs.server.rows() if r["id"] == row_id)
    assert stored["scores"] == {"correct": 0.5} and stored["output"] == "a"


def test_log_feedback_without_comment_defaults_source_to_external(bt_logs):
    logger = braintrust.init_logger(project="feedback")
    row_id = logger.log(input="q")
    bt_logs.flush()
    before = len(bt_logs.server.logs3_bodies)
    logger.log_feedback(id=row_id, scores={"s": 1})
    bt_logs.flush()
    (merge,) = [row for body in bt_logs.server.logs3_bodies[before:] for row in body["rows"]]
    assert merge["_audit_source"] == "external"
    assert merge["_audit_metadata"] is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({}, "at least one of scores, expected, tags or comment"),
        ({"scores": {"s": 2}}, "'s'"),
        ({"scores": {"s": 1}, "source": "robot"}, "source"),
        ({"tags": ["a", "a"]}, "unique"),
        ({"comment": "c", "metadata": {1: "x"}}, "metadata keys must be strings"),
    ],
)
def test_log_feedback_validation(bt_env, kwargs, message):
    logger = braintrust.init_logger(project="feedback")
    with pytest.raises(ValueError, match=message):
        logger.log_feedback(id="some-id", **kwargs)


def test_log_feedback_needs_an_id(bt_env):
    logger = braintrust.init_logger(project="feedback")
    with pytest.raises((ValueError, TypeError)):
        logger.log_feedback(id="", scores={"s": 1})


# -- export, id, update_span, permalink, span_components_to_object_id --------------------------


def test_logger_export(bt_logs):
    logger = braintrust.init_logger(project="exported")
    components = SpanComponentsV4.from_str(logger.export())
    assert components.object_type == SpanObjectTypeV3.PROJECT_LOGS
    assert components.compute_object_metadata_args == {"project_name": "exported", "project_id": None}
    assert components.row_id is None
    assert bt_logs.server.requests == []  # exporting needs no login
    project_id = logger.id
    assert SpanComponentsV4.from_str(logger.export()).object_id == project_id


def test_update_span_through_an_export_slug(bt_logs):
    logger = braintrust.init_logger(project="updates")
    with logger.start_span(name="target", input="i") as span:
        pass
    slug = span.export()
    bt_logs.flush()
    braintrust.update_span(slug, metadata={"updated": True}, scores={"ok": 1})
    bt_logs.flush()
    (row,) = bt_logs.server.logs3_bodies[-1]["rows"]
    assert row == {
        "id": span.id,
        "span_id": span.span_id,
        "root_span_id": span.root_span_id,
        "metadata": {"updated": True},
        "scores": {"ok": 1},
        "project_id": logger.id,
        "log_id": "g",
        "_is_merge": True,
    }
    stored = bt_logs.server.rows()[0]
    assert stored["input"] == "i" and stored["metadata"] == {"updated": True}
    with pytest.raises(ValueError, match="Cannot specify id when updating a span"):  # (as 0.48.1)
        braintrust.update_span(slug, id="another", output="o2")


def test_update_span_needs_a_row_slug(bt_logs):
    logger = braintrust.init_logger(project="updates")
    with pytest.raises(ValueError):
        braintrust.update_span(logger.export(), output=1)
    with pytest.raises(ValueError):
        braintrust.update_span(logger.start_span().export(), scores={"bad": 5})


def test_module_permalink_of_a_slug(bt_logs):
    logger = braintrust.init_logger(project="links")
    with logger.start_span(name="x") as span:
        pass
    link = braintrust.permalink(span.export())
    parts = urlsplit(link)
    assert link.startswith(f"{bt_logs.server.url}/app/test-org/object?")
    assert parse_qs(parts.query) == {"object_type": ["project_logs"], "object_id": [logger.id], "id": [span.id]}
    other = braintrust.permalink(span.export(), org_name="other org", app_url="https://example.test")
    assert other.startswith("https://example.test/app/other%20org/object?")
    assert braintrust.permalink("not a slug").startswith("https://www.braintrust.dev/error-generating-link?msg=")


def test_span_components_to_object_id(bt_logs):
    logger = braintrust.init_logger(project="resolve")
    components = SpanComponentsV4.from_str(logger.export())
    assert bt_logs.server.requests == []
    project_id = braintrust.span_components_to_object_id(components)
    assert project_id == bt_logs.server.projects()[0]["id"]
    given = SpanComponentsV4(object_type=SpanObjectTypeV3.EXPERIMENT, object_id="exp-1")
    assert braintrust.span_components_to_object_id(given) == "exp-1"


def test_flush_returns_the_counts(bt_logs):
    logger = braintrust.init_logger(project="counts")
    logger.log(input=1)
    with logger.start_span(name="s"):
        pass
    result = braintrust.flush()
    assert result.ok
    assert result.produced == 2 and result.accepted == 2  # a log, and a span (its start and end: one write)


def test_parent_context_none_changes_nothing(bt_logs):
    braintrust.init_logger(project="ctx")
    with braintrust.parent_context(None):
        with braintrust.start_span(name="plain"):
            pass
    assert bt_logs.by_name()["plain"]["span_parents"] is None


# -- masking --------------------------------------------------------------------------------------


def test_masking_function_redacts_before_sending(bt_logs):
    def redact(value):
        if isinstance(value, dict):
            return {k: ("***" if k == "password" else redact(v)) for k, v in value.items()}
        if isinstance(value, str) and "secret" in value:
            return "[redacted]"
        return value

    braintrust.set_masking_function(redact)
    logger = braintrust.init_logger(project="masked")
    logger.log(input={"user": "u", "password": "hunter2"}, output="a secret answer", metadata={"password": "pw"})
    with logger.start_span(name="s", input="secret input") as span:
        span.log(output={"password": "x"})
    bt_logs.flush()
    body = b"".join(r.body for r in bt_logs.server.requests_to("/logs3"))
    for secret in (b"hunter2", b"a secret answer", b"secret input", b'"pw"'):
        assert secret not in body
    rows = bt_logs.server.rows()
    assert rows[0]["input"] == {"user": "u", "password": "***"}
    assert rows[0]["output"] == "[redacted]"
    assert rows[0]["metadata"] == {"password": "***"}
    assert rows[1]["input"] == "[redacted]"
    assert rows[1]["output"] == {"password": "***"}


def test_masking_function_that_raises_never_leaks_the_value(bt_logs):
    def broken(value):
        raise RuntimeError("masking bug with " + repr(value))

    braintrust.set_masking_function(broken)
    logger = braintrust.init_logger(project="masked")
    logger.log(input="TOP-SECRET-INPUT", output="TOP-SECRET-OUTPUT", metadata={"k": "TOP-SECRET-META"}, scores={"s": 1})
    result = braintrust.flush()
    assert result.mask_errors >= 1
    body = b"".join(r.body for r in bt_logs.server.requests_to("/logs3"))
    assert b"TOP-SECRET" not in body
    (row,) = bt_logs.server.rows()
    assert row["input"] == "ERROR: Failed to mask field 'input' - RuntimeError"
    assert row["output"] == "ERROR: Failed to mask field 'output' - RuntimeError"
    assert row["metadata"] == {"error": "ERROR: Failed to mask field 'metadata' - RuntimeError"}
    assert "scores" not in row
    assert "Failed to mask field 'scores'" in row["error"]


# -- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [1.5, -0.1, "x", float("nan"), [0.5], {"v": 1}])
def test_invalid_scores_raise_naming_the_score(bt_logs, bad):
    logger = braintrust.init_logger(project="validation")
    with pytest.raises(ValueError, match="accuracy"):
        logger.log(input=1, scores={"accuracy": bad})
    with logger.start_span(name="s") as span:
        with pytest.raises(ValueError, match="accuracy"):
            span.log(scores={"accuracy": bad})
    with pytest.raises(ValueError, match="accuracy"):
        braintrust.start_span(name="t", scores={"accuracy": bad})


def test_bool_scores_become_numbers(bt_logs):
    logger = braintrust.init_logger(project="validation")
    logger.log(input=1, scores={"yes": True, "no": False, "none": None, "int": 1, "zero": 0})
    (row,) = bt_logs.rows()
    assert row["scores"] == {"yes": 1, "no": 0, "none": None, "int": 1, "zero": 0}
    raw = bt_logs.server.requests_to("/logs3")[0].body
    assert b'"yes":1' in raw and b'"no":0' in raw


def test_metadata_keys_must_be_strings(bt_env):
    logger = braintrust.init_logger(project="validation")
    with pytest.raises(ValueError, match="metadata keys must be strings"):
        logger.log(input=1, metadata={1: "one"})
    with pytest.raises(ValueError, match="metadata"):
        logger.log(input=1, metadata="not a dict")


def test_tags_must_be_unique_strings(bt_env):
    logger = braintrust.init_logger(project="validation")
    with pytest.raises(ValueError, match="unique"):
        logger.log(input=1, tags=["a", "b", "a"])
    with pytest.raises(ValueError, match="strings"):
        logger.log(input=1, tags=["a", 2])
    with pytest.raises(ValueError):
        logger.log(input=1, tags="abc")


def test_unknown_log_fields_raise(bt_env):
    logger = braintrust.init_logger(project="validation")
    with pytest.raises((ValueError, TypeError)):
        logger.log(input=1, outptu=2)


def test_inputs_alias(bt_logs):
    logger = braintrust.init_logger(project="validation")
    with logger.start_span(name="s") as span:
        span.log(inputs={"old": True})
    assert bt_logs.by_name()["s"]["input"] == {"old": True}


# -- bad data -------------------------------------------------------------------------------------


class _BadRepr:
    def __repr__(self):
        raise RuntimeError("no repr")

    __str__ = __repr__


def test_bad_data_is_logged_as_valid_json_with_placeholders(bt_logs):
    cycle: dict = {"name": "loop"}
    cycle["self"] = cycle
    data = {
        "nan": float("nan"),
        "inf": float("inf"),
        "ninf": float("-inf"),
        "bytes": b"raw\x00bytes",
        "set": {3, 1, 2},
        "tuple": (1, 2),
        "cycle": cycle,
        "when": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc),
        "day": datetime.date(2024, 5, 6),
        "bad": _BadRepr(),
        5: "int key",
        "huge": 2**80,
        "surrogate": "a\ud800b",
    }
    logger = braintrust.init_logger(project="bad-data")
    row_id = logger.log(input=data, output=_BadRepr(), metadata={"nested": {"nan": float("nan")}})
    with logger.start_span(name="span-with-bad-data", input={"cycle": cycle}) as span:
        span.log(output={"set": {"a"}, "bytes": b"x"}, metadata={"obj": object.__new__(_BadRepr)})
    bt_logs.flush()
    for request in bt_logs.server.requests_to("/logs3"):
        json.loads(request.body, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
        request.body.decode("utf-8")
    row = next(r for r in bt_logs.server.rows() if r["id"] == row_id)
    logged = row["input"]
    assert logged["nan"] == "NaN" and logged["inf"] == "Infinity" and logged["ninf"] == "-Infinity"
    assert logged["bytes"] == str(b"raw\x00bytes")
    assert logged["set"] == [1, 2, 3]
    assert logged["tuple"] == [1, 2]
    assert logged["cycle"] == {"name": "loop", "self": "<circular reference>"}
    assert logged["when"] == "2024-05-06T07:08:09+00:00"
    assert logged["day"] == "2024-05-06"
    assert logged["bad"] == "<unserializable object of type _BadRepr>"
    assert logged["5"] == "int key"
    assert logged["huge"] == str(2**80)
    assert logged["surrogate"] == "a\ufffdb"
    assert row["output"] == "<unserializable object of type _BadRepr>"
    assert row["metadata"] == {"nested": {"nan": "NaN"}}
    span_row = bt_logs.server.rows()[1]
    assert span_row["input"] == {"cycle": {"name": "loop", "self": "<circular reference>"}}
    assert span_row["output"] == {"set": ["a"], "bytes": "b'x'"}
    assert span_row["metadata"] == {"obj": "<unserializable object of type _BadRepr>"}


def test_logged_data_is_a_snapshot(bt_logs):
    logger = braintrust.init_logger(project="snapshot")
    payload = {"items": [1]}
    logger.log(input=payload)
    payload["items"].append(2)
    assert bt_logs.rows()[0]["input"] == {"items": [1]}


def test_spans_and_loggers_logged_as_data_become_placeholders(bt_logs):
    logger = braintrust.init_logger(project="placeholders")
    with logger.start_span(name="s") as span:
        span.log(metadata={"span": span, "logger": logger})
    row = bt_logs.by_name()["s"]
    assert row["metadata"] == {"span": "<span>", "logger": "<logger>"}
    assert not math.isnan(row["metrics"]["start"])


def test_permalink_with_org_and_app_url_needs_no_login(bt_env):
    slug = braintrust.SpanComponentsV4(
        object_type=SpanObjectTypeV3.EXPERIMENT, object_id="exp-1", row_id="row-1", span_id="a" * 16, root_span_id="b" * 32
    ).to_str()
    link = braintrust.permalink(slug, org_name="my org", app_url="https://app.example/")
    assert link == "https://app.example/app/my%20org/object?object_type=experiment&object_id=exp-1&id=row-1"
    assert bt_env.requests == []


def test_masking_applies_to_spilled_rows(bt_env, monkeypatch):
    import os
    from pathlib import Path

    monkeypatch.setenv("BRAINTRUST_API_KEY", "refused-key-000")
    braintrust.set_masking_function(lambda value: "[masked]" if value == "SPILL-SECRET" else value)
    logger = braintrust.init_logger(project="spilled")
    logger.log(input="SPILL-SECRET")
    with logger.start_span(name="s", output="SPILL-SECRET"):
        pass
    result = braintrust.flush()
    assert result.spilled == result.produced == 2, result.describe()
    files = [p for p in Path(os.environ["BRAINTRUST_LOCAL_DIR"]).rglob("*") if p.is_file()]
    assert files
    assert not any(b"SPILL-SECRET" in p.read_bytes() for p in files)
    assert any(b"[masked]" in p.read_bytes() for p in files)
    assert not any(b"refused-key-000" in p.read_bytes() for p in files)


def test_force_login_after_a_refused_key_sends_again(bt_server, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_APP_URL", bt_server.url)
    logger = braintrust.init_logger(project="relogin", api_key="refused-key-xyz")
    logger.log(input=1)
    assert braintrust.flush().spilled_by_reason == {"auth": 1}
    braintrust.login(api_key=bt_server.api_key, force_login=True)
    logger.log(input=2)
    braintrust.flush()
    assert [r["input"] for r in bt_server.rows()] == [2]
