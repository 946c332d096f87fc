"""The dev server under bad input, slow and vanishing callers, and signals: real HTTP over loopback
to a real server (a thread here, or ``braintrust eval --dev`` in a subprocess)."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading

import pytest
import requests

from braintrust.devserver.server import DevServer
from devserver.test_dev_server import call, evaluator, plain, serving


def post_raw(base: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    """POST /eval with exactly this body (and headers), as bytes on the wire."""
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=5)
    try:
        connection.request("POST", "/eval", body=body, headers=headers)
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


def test_a_deeply_nested_body_is_a_400(bt_env):
    """Python's JSON reader gives up on deep nesting with a RecursionError: an answer, not a dropped connection."""
    with serving(bt_env, {"plain": plain()}) as dev:
        status, answer = post_raw(dev.base, b"[" * 100_000, dict(dev.headers))
    assert (status, answer) == (400, {"error": "Invalid JSON: nested too deeply for this dev server to read"})


@pytest.mark.parametrize("body, message", [
    ({"name": "plain", "parent": "not-a-slug"}, "parent 'not-a-slug' is not an exported span"),
    ({"name": "plain", "data": [1]}, "data[0] must be an object, got number 1"),
    ({"name": "plain", "data": {"data": [{"input": "a"}, "b"]}}, 'data.data[1] must be an object, got string "b"'),
    ({"name": "plain", "data": [{"expected": "a"}]}, "data[0] has no input"),
])
def test_a_parent_or_rows_that_cannot_work_are_a_400_before_anything_runs(bt_env, body, message):
    with serving(bt_env, {"plain": plain()}) as dev:
        answer = call(dev, "POST", "/eval", json=body)
    assert answer.status_code == 400 and message in answer.json()["error"], answer.text
    assert not [r for r in bt_env.requests if r.path in ("/v1/experiment", "/v1/project")]


def test_a_chunked_body_is_answered_411(bt_env):
    """A body without a Content-Length was read as empty ("must be an object, got null")."""
    with serving(bt_env, {"plain": plain()}) as dev:
        answer = dev.post(dev.base + "/eval", data=iter([b'{"name": "plain"}']), timeout=5)
    assert answer.status_code == 411 and "Transfer-Encoding: chunked" in answer.json()["error"], answer.text


def test_a_body_that_stops_arriving_is_answered_408(bt_env):
    """A caller that sends half its body no longer holds a thread and a socket forever."""
    server = DevServer({"plain": plain()}, port=0, request_timeout_seconds=0.3)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with socket.create_connection(server.server_address[:2], timeout=3) as sock:
            head = (f"POST /eval HTTP/1.1\r\nHost: dev\r\nx-bt-auth-token: {bt_env.api_key}\r\n"
                    f"x-bt-org-name: {bt_env.org_name}\r\nContent-Length: 100\r\n\r\n")
            sock.sendall(head.encode() + b'{"name": ')
            answer = sock.makefile("rb").read()  # (until the server closes the connection)
    finally:
        server.shutdown()
        server.server_close()
    assert answer.startswith(b"HTTP/1.0 408 "), answer
    assert b"the request body of 100 bytes did not arrive within 0.3 s" in answer


def test_a_broken_parameter_declaration_is_a_500_that_says_so(bt_env):
    """GET /list used to drop the connection without an answer (an uncaught BadRequest)."""
    broken = evaluator(eval_name="broken", parameters={"knob": 5})
    with serving(bt_env, {"broken": broken}) as dev:
        answer = call(dev, "GET", "/list")
    assert (answer.status_code, answer.json()) == (
        500, {"error": "Failed to list the evaluators: evaluator parameter 'knob' is not a parameter declaration"})


def test_a_streamed_run_is_cancelled_when_its_caller_hangs_up(bt_env, monkeypatch):
    """A task that sends no progress would otherwise run on for nobody (and hold the credential gate)."""
    started, stopped = threading.Event(), threading.Event()
    escaped = []
    monkeypatch.setattr(threading, "excepthook", lambda args: escaped.append(args.exc_value))

    def patient(input, hooks):
        started.set()
        while not hooks.cancel_event.wait(0.01):
            pass
        stopped.set()
        return input

    bt_env.other_api_keys.add("second-user-key")
    with serving(bt_env, {"patient": plain(eval_name="patient", task=patient), "plain": plain()}) as dev:
        answer = call(dev, "POST", "/eval", json={"name": "patient", "stream": True, "data": [{"input": "x"}]}, stream=True)
        assert started.wait(3)
        answer.close()
        assert stopped.wait(2), "the run went on after its caller hung up"
        # Another credential's eval no longer waits for the abandoned one.
        other = requests.post(dev.base + "/eval", json={"name": "plain", "data": [{"input": "y"}]}, timeout=3,
                              headers={"x-bt-auth-token": "second-user-key", "x-bt-org-name": bt_env.org_name})
        assert other.status_code == 200, other.text
    assert escaped == []  # (the cancellation ends the request quietly, not as a thread's uncaught error)
    sent = [row for request in bt_env.requests_to("/logs3") for row in request.json["rows"]]
    assert "x" in [row.get("input") for row in sent if (row.get("span_attributes") or {}).get("type") == "eval"]  # (the cancelled case, flushed)


def test_sigterm_while_an_eval_runs_flushes_its_rows(bt_env, tmp_path):
    """The first eval made the row processor on a request's thread, where no SIGTERM handler can
    be installed: a SIGTERM killed the process with the running eval's rows."""
    (tmp_path / "eval_stuck.py").write_text(textwrap.dedent("""
        import time, braintrust

        def task(input):
            print("task started", flush=True)
            time.sleep(60)

        braintrust.Eval("stuck-project", data=[{"input": "waiting"}], task=task, scores=[])
    """))
    proc = subprocess.Popen([sys.executable, "-m", "braintrust", "eval", "--dev", "--dev-port", "0", str(tmp_path / "eval_stuck.py")],
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        url = proc.stdout.readline().split(" on ", 1)[1].strip()
        proc.stdout.readline()
        headers = {"x-bt-auth-token": bt_env.api_key, "x-bt-org-name": bt_env.org_name}
        threading.Thread(target=lambda: requests.post(url + "/eval", json={"name": "stuck-project", "stream": True},
                                                      headers=headers, timeout=10), daemon=True).start()
        assert proc.stdout.readline().strip() == "task started"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
    inputs = [row.get("input") for request in bt_env.requests_to("/logs3") for row in request.json["rows"]]
    assert "waiting" in inputs, proc.stderr.read()


def test_a_login_that_fails_when_switching_callers_is_a_502(bt_env):
    """Switching the process's login to another caller raised out of the handler: the connection
    was dropped without an answer."""
    bt_env.other_api_keys.add("second-user-key")
    second = {"x-bt-auth-token": "second-user-key", "x-bt-org-name": bt_env.org_name}
    with serving(bt_env, {"plain": plain()}) as dev:
        assert call(dev, "POST", "/eval", json={"name": "plain", "data": [{"input": "a"}]}).status_code == 200
        assert call(dev, "POST", "/eval", json={"name": "plain", "data": [{"input": "b"}]}, headers=second).status_code == 200
        bt_env.fail_always("POST", "/api/apikey/login", 400)  # (both tokens are checked already: only the switch logs in)
        answer = call(dev, "POST", "/eval", json={"name": "plain", "data": [{"input": "c"}]})
    assert answer.status_code == 502 and answer.json()["error"].startswith("Could not log in to Braintrust as the caller: "), answer.text
    assert bt_env.api_key not in answer.text
