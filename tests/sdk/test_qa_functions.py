"""``invoke`` and functions defined in code given hostile input: malformed stream events, a stream
that breaks off, a parent of the wrong type, prompts whose messages or names cannot be saved as
given, and values JSON does not know in what ``publish()`` sends."""

from __future__ import annotations

import datetime
import json
import socket
import threading

import pytest

import braintrust
from braintrust import BraintrustInvokeError, invoke
from btserver import Step


def sse(*events: tuple[str, str]) -> bytes:
    return "".join(f"event: {kind}\ndata: {data}\n\n" for kind, data in events).encode()


@pytest.mark.parametrize("body, message", [
    (sse(("text_delta", "not json"), ("done", "")), "malformed 'text_delta' event"),
    (sse(("text_delta", "5"), ("done", "")), "malformed 'text_delta' event .TypeError: expected a JSON string, got int"),
    (sse(("console", json.dumps({"message": "x"})), ("done", "")), "malformed 'console' event .KeyError: 'stream'"),
    (sse(("progress", json.dumps({"id": "x"})), ("done", "")), "malformed 'progress' event .KeyError: 'data'"),
    (sse(("json_delta", '{"a": '), ("done", "")), "the function's JSON output is not valid JSON"),
    (sse(("text_delta", '"ok"'), ("error", "Timed out calling the model"), ("done", "")), "^Timed out calling the model$"),
], ids=["text-not-json", "text-not-a-string", "console-without-stream", "progress-without-data", "json-cut-short",
        "error-as-plain-text"])
def test_malformed_stream_events_raise_invoke_errors_naming_them(bt_env, body, message):
    bt_env.script("POST", "/function/invoke", [Step(status=200, body=body, headers={"Content-Type": "text/event-stream"})])
    with pytest.raises(BraintrustInvokeError, match=message):
        invoke(project_name="p", slug="shout", input="x", stream=True).final_value()


def _proxy_that_breaks_off(events: bytes) -> tuple[socket.socket, threading.Thread]:
    """A loopback proxy that answers one request with a chunked stream of ``events``, then closes
    the connection before the stream's last chunk."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            received = b""
            while b"\r\n\r\n" not in received:
                received += connection.recv(65536)
            head, _, body = received.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
            while len(body) < length:
                body += connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                               + f"{len(events):x}\r\n".encode() + events + b"\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


def test_a_stream_that_breaks_off_raises_an_invoke_error(bt_env, monkeypatch):
    listener, thread = _proxy_that_breaks_off(sse(("text_delta", '"half of the ans"')))
    monkeypatch.setenv("BRAINTRUST_PROXY_URL", f"http://127.0.0.1:{listener.getsockname()[1]}")
    try:
        stream = invoke(project_name="p", slug="shout", input="x", stream=True)
        chunks = []
        with pytest.raises(BraintrustInvokeError, match="the stream of function 'shout' broke off before it ended"):
            for chunk in stream:
                chunks.append(chunk.data)
        assert chunks == ["half of the ans"]  # (what came is still given)
    finally:
        thread.join(5)
        listener.close()


def test_a_parent_of_the_wrong_type_is_refused_before_the_call(bt_env):
    with pytest.raises(TypeError, match="invoke parent= must be a span, an experiment or a logger"):
        invoke(project_name="p", slug="echo", input=1, parent={"span_id": "x"})
    assert bt_env.requests_to("/function/invoke") == []


def test_prompts_whose_messages_or_names_cannot_be_saved_are_refused_when_defined():
    project = braintrust.projects.create("defs")
    with pytest.raises(ValueError, match="messages= must be a list of messages .* got str"):
        project.prompts.create(name="text", model="m", messages="Say hi")
    with pytest.raises(ValueError, match="messages= must be a list of messages .* got dict"):
        project.prompts.create(name="one", model="m", messages={"role": "user", "content": "hi"})
    with pytest.raises(ValueError, match="'日本語' gives no slug .*pass slug="):
        project.prompts.create(name="日本語", model="m", messages=[{"role": "user", "content": "hi"}])
    with pytest.raises(ValueError, match="scorer '!!!': '!!!' gives no slug"):
        project.scorers.create(name="!!!", handler=lambda output: 1, parameters=dict)
    assert project.code_prompts == [] and project.code_functions == []
    named = project.prompts.create(name="日本語", slug="japanese", model="m", messages=[{"role": "user", "content": "hi"}])
    assert named.slug == "japanese"


def test_publish_sends_values_json_does_not_know_as_the_rows_have_them(bt_env):
    project = braintrust.projects.create("defs")
    when = datetime.datetime(2026, 1, 2, 3, 4, 5)
    project.prompts.create(name="dated", model="m", messages=[{"role": "user", "content": "hi"}], params={"seed_date": when})
    project.publish()
    [definition] = bt_env.inserted_functions
    assert definition["prompt_data"]["options"]["params"] == {"seed_date": "2026-01-02T03:04:05"}
