"""The dev server side by side with 0.48.1's (``braintrust eval --dev``), on what the playground
sends: a parent object's propagated event, a streamed run under a parent, a run's name with an
experiment name, HEAD requests, an empty token header, a run that ends at once, an IPv6 host.
Real HTTP to a real server over loopback."""

from __future__ import annotations

import json
import selectors
import socket
import threading
import time

import pytest
import requests

from braintrust.devserver.server import DevServer
from devserver.test_dev_server import call, events, evaluator, plain, serving

PARENT = {"object_type": "playground_logs", "object_id": "playground-session-id",
          "row_ids": {"id": "row-1", "span_id": "a1b2c3d4e5f60718", "root_span_id": "0123456789abcdef0123456789abcdef"}}


def test_a_parent_objects_propagated_event_reaches_every_span(bt_env):
    """0.48.1 puts the parent object's ``propagated_event`` into its slug: each span of the run
    carries it (it was dropped)."""
    parent = {**PARENT, "propagated_event": {"metadata": {"session": "s-42"}, "span_attributes": {"generation": "g1"}}}
    with serving(bt_env, {"plain": plain()}) as dev:
        answer = call(dev, "POST", "/eval", json={"name": "plain", "data": [{"input": "hey"}], "parent": parent})
    assert answer.status_code == 200, answer.text
    rows = bt_env.rows("playground_logs", "playground-session-id")
    kinds = {r["span_attributes"]["type"]: r for r in rows if r.get("span_attributes", {}).get("type")}
    assert set(kinds) == {"eval", "task"}
    for row in kinds.values():
        assert row["metadata"]["session"] == "s-42" and row["span_attributes"]["generation"] == "g1", row
    assert kinds["eval"]["span_parents"] == ["a1b2c3d4e5f60718"]


def test_a_propagated_event_that_is_not_an_object_is_a_400(bt_env):
    with serving(bt_env, {"plain": plain()}) as dev:
        answer = call(dev, "POST", "/eval", json={"name": "plain", "data": [{"input": "hey"}],
                                                 "parent": {**PARENT, "propagated_event": "tag"}})
    assert answer.status_code == 400
    assert answer.json()["error"] == 'parent.propagated_event must be an object or null, got string "tag"'


def test_a_streamed_run_under_a_parent_sends_no_start_event(bt_env):
    """Under the playground's parent no experiment is made, and 0.48.1 sends no ``start`` (it sent
    one with null ids); the run's name, in its progress and its summary, carries the experiment name."""
    with serving(bt_env, {"plain": plain()}) as dev:
        answer = call(dev, "POST", "/eval", json={"name": "plain", "data": [{"input": "hey"}], "stream": True,
                                                 "parent": PARENT, "experiment_name": "pg-run"}, stream=True)
        sent = events(answer)
    assert [kind for kind, _ in sent] == ["progress", "summary", "done"]
    assert json.loads(sent[0][1])["name"] == "plain [experiment_name=pg-run]"
    summary = json.loads(sent[1][1])
    assert summary["experimentName"] == "plain [experiment_name=pg-run]" and summary["experimentId"] is None


def test_a_streamed_run_into_an_experiment_still_starts_with_start(bt_env):
    with serving(bt_env, {"support-bot": evaluator()}) as dev:
        answer = call(dev, "POST", "/eval", json={"name": "support-bot", "data": [{"input": "hey"}], "stream": True,
                                                 "experiment_name": "named"}, stream=True)
        sent = events(answer)
    assert [kind for kind, _ in sent][0] == "start" and json.loads(sent[0][1])["experimentName"] == "named"
    progress = json.loads(next(data for kind, data in sent if kind == "progress"))
    assert progress["name"] == "support-bot [experiment_name=named]"


def test_head_is_answered_as_get_without_a_body(bt_env):
    """0.48.1 answers HEAD wherever it answers GET (``/list`` was a 405), CORS headers included."""
    with serving(bt_env, {"plain": plain()}) as dev:  # (its Origin: the app's, BRAINTRUST_APP_URL)
        listed, hello = call(dev, "HEAD", "/list"), call(dev, "HEAD", "/")
        unauthorized = call(dev, "HEAD", "/list", headers={"x-bt-auth-token": "wrong-key"})
        full = call(dev, "GET", "/list")
    assert (listed.status_code, listed.content, hello.status_code, hello.content) == (200, b"", 200, b"")
    assert int(listed.headers["Content-Length"]) == len(full.content)
    assert listed.headers["Access-Control-Allow-Origin"] == hello.headers["Access-Control-Allow-Origin"] == bt_env.url
    assert (unauthorized.status_code, unauthorized.content) == (401, b"")


def test_an_empty_token_header_is_a_400_as_in_0_48_1(bt_env):
    with serving(bt_env, {"plain": plain()}) as dev:
        empty = call(dev, "GET", "/list", headers={"x-bt-auth-token": ""})
        beside = call(dev, "GET", "/list", headers={"x-bt-auth-token": "", "Authorization": f"Bearer {bt_env.api_key}"})
    assert (empty.status_code, empty.json()) == (400, {"error": "Invalid authorization token format"})
    assert beside.status_code == 200 and "plain" in beside.json()


def test_a_streamed_run_that_ends_at_once_leaves_no_thread_error(bt_env, monkeypatch):
    """The hang-up watcher could start after the answer ended and its connection closed: its
    thread died with "Invalid file descriptor: -1", a traceback on the dev server's console."""
    def cannot_build(*args, **kwargs):
        raise ValueError("no evaluator today")

    class LateSelector(selectors.DefaultSelector):  # (the watcher starts only after the answer is over)
        def register(self, fileobj, events, data=None):
            if threading.current_thread().name == "braintrust-devserver-hangup":
                time.sleep(0.3)
            return super().register(fileobj, events, data)

    died = []
    monkeypatch.setattr(threading, "excepthook", lambda args: died.append(args.exc_value))
    monkeypatch.setattr("braintrust.devserver.server._evaluator_for", cannot_build)
    monkeypatch.setattr(selectors, "DefaultSelector", LateSelector)
    with serving(bt_env, {"plain": plain()}) as dev:
        for _ in range(2):
            answer = call(dev, "POST", "/eval", json={"name": "plain", "stream": True, "data": [{"input": "x"}]})
            assert [kind for kind, _ in events(answer)] == ["error", "done"]
        for thread in threading.enumerate():
            if thread.name == "braintrust-devserver-hangup":
                thread.join(5)
    assert died == []


def test_an_ipv6_host_is_served(bt_env):
    """``--dev-host ::`` (or ``::1``) was refused ("Address family for hostname not supported");
    0.48.1 serves it."""
    try:
        socket.create_server(("::1", 0), family=socket.AF_INET6).close()
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    server = DevServer({"plain": plain()}, host="::1", port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answer = requests.get(server.url + "/", timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert server.url.startswith("http://[::1]:") and (answer.status_code, answer.text) == (200, "Hello, world!")
