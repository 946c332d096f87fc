"""``braintrust eval --dev``: the dev server the Braintrust playground runs remote evals on, served
for real (a thread here, or the command in a subprocess) against the loopback Braintrust server."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import pytest
import requests
from pydantic import BaseModel

import braintrust
from braintrust.devserver.server import DevServer
from braintrust.eval.evaluator import Evaluator

PROMPT = {"prompt": {"type": "chat", "messages": [{"role": "user", "content": "Reply to {{input}}"}]}, "options": {"model": "gpt-4o-mini"}}


class Shout(BaseModel):
    value: bool = False


def reply_task(input, hooks):
    built = hooks.parameters["main"].build(input=input)
    text = built["messages"][0]["content"]
    return {"text": text.upper() if hooks.parameters["shout"] else text, "model": hooks.parameters["model"]}


def exact(output, expected):
    return 1.0 if expected is None or output["text"] == expected else 0.0


def tone(output):
    return {"name": "tone", "id": "loud" if output["text"].isupper() else "calm"}


def evaluator(**fields) -> Evaluator:
    defaults = dict(project_name="dev-project", eval_name="support-bot", data=[{"input": "hi", "expected": "Reply to hi"}],
                    task=reply_task, scores=[exact], classifiers=[tone],
                    parameters={"main": {"type": "prompt", "default": PROMPT}, "model": {"type": "model", "default": "gpt-4o-mini"},
                                "shout": Shout})
    return Evaluator(**{**defaults, **fields})


def plain(**fields) -> Evaluator:
    """An evaluator without parameters or scorers whose task echoes its input."""
    return evaluator(**{"eval_name": "plain", "parameters": None, "task": lambda input: input, "scores": [], "classifiers": [], **fields})


@contextmanager
def serving(bt_env, evaluators: dict[str, Evaluator]) -> Iterator[requests.Session]:
    """A dev server of ``evaluators``, and a requests session that speaks for the test server's user."""
    server = DevServer(evaluators, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    session = requests.Session()
    session.headers.update({"x-bt-auth-token": bt_env.api_key, "x-bt-org-name": bt_env.org_name, "Origin": bt_env.url})
    session.base = server.url  # type: ignore[attr-defined]
    try:
        yield session
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def dev(bt_env):
    """A dev server with two evaluators (``serving``)."""
    with serving(bt_env, {"support-bot": evaluator(), "plain": plain()}) as session:
        yield session


def call(session, method: str, path: str, **kwargs) -> requests.Response:
    return session.request(method, session.base + path, timeout=30, **kwargs)


def events(answer: requests.Response) -> list[tuple[str, str]]:
    """The ``(event, data)`` pairs of a streamed answer, read as the SDK reads a function's stream."""
    from braintrust.functions.stream import server_sent_events

    return list(server_sent_events(answer.text.splitlines()))


def test_hello_and_the_evaluator_list(dev, bt_env):
    assert call(dev, "GET", "/").text == "Hello, world!"
    listing = call(dev, "GET", "/list").json()
    assert set(listing) == {"support-bot", "plain"}
    bot = listing["support-bot"]
    assert bot["scores"] == [{"name": "exact"}] and bot["classifiers"] == [{"name": "tone"}]
    assert bot["parameters"]["type"] == "braintrust.staticParameters" and bot["parameters"]["source"] is None
    schema = bot["parameters"]["schema"]
    assert schema["main"] == {"type": "prompt", "default": PROMPT}
    assert schema["model"] == {"type": "model", "default": "gpt-4o-mini"}
    assert schema["shout"] == {"type": "data", "schema": {"default": False, "title": "Value", "type": "boolean"}, "default": False}
    assert listing["plain"] == {"parameters": None, "scores": [], "classifiers": []}


def test_a_run_with_the_playgrounds_data_and_parameters(dev, bt_env):
    answer = call(dev, "POST", "/eval", json={
        "name": "support-bot", "experiment_name": "from-playground",
        "data": {"data": [{"input": "hello", "expected": "REPLY TO HELLO"}, {"input": "bye"}]},
        "parameters": {"shout": True, "model": "gpt-4o"},
    })
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert summary["experimentName"] == "from-playground" and summary["projectName"] == "dev-project"
    assert summary["scores"]["exact"]["score"] == 1.0 and "experimentUrl" in summary
    (experiment,) = [e for e in bt_env.experiments() if e["name"] == "from-playground"]
    roots = [r for r in bt_env.rows("experiment", experiment["id"]) if not r.get("span_parents")]
    assert sorted(r["output"]["text"] for r in roots) == ["REPLY TO BYE", "REPLY TO HELLO"]
    assert {r["output"]["model"] for r in roots} == {"gpt-4o"}


def test_a_streamed_run_sends_start_progress_summary_done(dev, bt_env):
    answer = call(dev, "POST", "/eval", json={"name": "support-bot", "stream": True, "data": [{"input": "hey"}]}, stream=True)
    assert answer.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert answer.headers["Access-Control-Allow-Origin"] == bt_env.url
    sent = events(answer)
    kinds = [kind for kind, _ in sent]
    assert kinds[0] == "start" and kinds[-2:] == ["summary", "done"] and "progress" in kinds
    progress = json.loads(next(data for kind, data in sent if kind == "progress"))
    assert progress["event"] == "json_delta" and json.loads(progress["data"]) == {"text": "Reply to hey", "model": "gpt-4o-mini"}
    assert progress["object_type"] == "task" and progress["name"] == "support-bot"
    start = json.loads(sent[0][1])
    assert start["projectName"] == "dev-project" and start["projectUrl"].endswith("/p/dev-project")
    assert json.loads(sent[-2][1])["scores"]["exact"]["score"] == 1.0


def test_a_dataset_a_remote_scorer_and_a_parent(dev, bt_env):
    dataset = braintrust.init_dataset(project="dev-project", name="greetings")
    dataset.insert(id="g1", input="good morning")
    braintrust.flush()
    answer = call(dev, "POST", "/eval", json={
        "name": "plain", "data": {"project_name": "dev-project", "dataset_name": "greetings"},
        "scores": [{"name": "sentiment", "function_id": {"function_id": "classify"}}],
        "parent": {"object_type": "experiment", "object_id": "parent-experiment-id"},
    }, headers={"x-bt-project-id": "playground-project"})
    assert answer.status_code == 200, answer.text
    (invoked,) = [r for r in bt_env.requests if r.path == "/function/invoke"]
    # The request 0.48.1's dev server sends: the function as named, the org's and the project's headers.
    assert set(invoked.json) == {"function_id", "input", "parent", "stream", "mode", "strict"}
    assert invoked.json["function_id"] == "classify" and invoked.json["input"]["output"] == "good morning"
    assert invoked.json["mode"] == "auto" and invoked.json["strict"] is True and invoked.json["parent"]
    assert invoked.header("x-bt-project-id") == "playground-project" and invoked.header("x-bt-org-name") == bt_env.org_name
    rows = bt_env.rows("experiment", "parent-experiment-id")  # (a parent: no experiment of its own)
    root = next(r for r in rows if r.get("span_attributes", {}).get("type") == "eval")
    assert root["output"] == "good morning" and root["origin"]["id"] == "g1"
    scored = next(r for r in rows if r.get("span_attributes", {}).get("name") == "sentiment")
    assert scored["scores"] == {"sentiment": 0.9}  # (the function's {"label", "score"} answer)
    assert not [r for r in bt_env.requests if r.path == "/v1/experiment" and r.method == "POST"]


def test_a_server_without_a_key_of_its_own_reads_the_dataset_as_the_caller(dev, bt_env, monkeypatch):
    """The dataset is read with the caller's login, not the process's (here it has none)."""
    dataset = braintrust.init_dataset(project="dev-project", name="faq")
    dataset.insert(id="q1", input="where is my parcel")
    braintrust.flush()
    braintrust.delivery.runtime.reset_for_tests()
    from braintrust.state import global_state

    global_state().reset()
    monkeypatch.delenv("BRAINTRUST_API_KEY")
    answer = call(dev, "POST", "/eval", json={"name": "plain", "data": {"project_name": "dev-project", "dataset_name": "faq"}})
    assert answer.status_code == 200, answer.text
    braintrust.flush()
    roots = [r for r in bt_env.rows() if r.get("span_attributes", {}).get("type") == "eval"]
    assert [r["output"] for r in roots] == ["where is my parcel"]


@pytest.mark.parametrize("body, status, message", [
    ({"name": "nobody"}, 404, "Evaluator 'nobody' not found"),
    ({}, 400, "name is required"),
    ({"name": "support-bot", "parameters": {"model": 4}}, 400, "Invalid parameters: Invalid parameter 'model'"),
    ({"name": "support-bot", "data": {"dataset_id": "no-such-dataset", "nothing": 1}}, 400, "Failed to load dataset"),
    ({"name": "support-bot", "data": {"rows": []}}, 400, "Failed to load dataset: data must name a dataset"),
    ({"name": "plain", "scores": [{"name": "s", "function_id": {"code": "x"}}]}, 400, "cannot call a function given by code"),
    ({"name": "plain", "scores": [{"name": "s", "function_id": {"version": "1"}}]}, 400, "scores[0] must specify function_id, name"),
    ({"name": "plain", "parent": {"object_type": "dataset", "object_id": "x"}}, 400, "parent must be an export slug"),
])
def test_requests_that_cannot_run_say_why(dev, bt_env, body, status, message):
    answer = call(dev, "POST", "/eval", json=body)
    assert (answer.status_code, message in answer.json()["error"]) == (status, True), answer.text
    assert not [r for r in bt_env.requests if r.path == "/v1/experiment" and r.method == "POST"]


@pytest.mark.parametrize("body, message", [
    ([1], "the request body must be an object, got array [1]"),
    ({"name": 3}, "name must be a string, got number 3"),
    ({"name": "plain", "data": 5}, "data must be an object, an array or null, got number 5"),
    ({"name": "plain", "data": {"data": "rows"}}, 'data.data must be an array, got string "rows"'),
    ({"name": "plain", "data": {"dataset_id": 3}}, "data.dataset_id must be a string, got number 3"),
    ({"name": "support-bot", "parameters": "x"}, 'parameters must be an object or null, got string "x"'),
    ({"name": "plain", "experiment_name": ["a"]}, 'experiment_name must be a string or null, got array ["a"]'),
    ({"name": "plain", "stream": "yes"}, 'stream must be a boolean or null, got string "yes"'),
    ({"name": "plain", "scores": {}}, "scores must be an array or null, got object {}"),
    ({"name": "plain", "scores": ["exact"]}, 'scores[0] must be an object, got string "exact"'),
    ({"name": "plain", "scores": [{"name": 1, "function_id": {"function_id": "f"}}]}, "scores[0].name must be a string, got number 1"),
    ({"name": "plain", "scores": [{"name": "s", "function_id": {"function_id": 5}}]},
     "scores[0].function_id.function_id must be a string, got number 5"),
    ({"name": "plain", "parent": {"object_type": "experiment", "object_id": "e", "row_ids": 5}},
     "parent.row_ids must be an object or null, got number 5"),
])
def test_a_field_of_the_wrong_type_is_named_up_front(dev, bt_env, body, message):
    """400 before anything runs, saying which field, what it must be and what it is."""
    answer = call(dev, "POST", "/eval", json=body)
    assert (answer.status_code, answer.json()) == (400, {"error": message})
    assert not [r for r in bt_env.requests if r.path in ("/v1/experiment", "/v1/project")]


def test_the_fields_the_protocol_allows_to_be_null_may_be(dev, bt_env):
    answer = call(dev, "POST", "/eval", json={"name": "plain", "data": {"data": [{"input": "x"}], "dataset_version": None},
                                              "parameters": None, "scores": None, "experiment_name": None, "project_id": None,
                                              "parent": None, "stream": None})
    assert answer.status_code == 200, answer.text


def test_a_content_length_that_is_not_a_size_is_a_400(dev, bt_env):
    for declared in ("lots", "-1"):
        connection = http.client.HTTPConnection(dev.base.removeprefix("http://"), timeout=10)
        connection.putrequest("POST", "/eval")
        for name, value in {**dev.headers, "Content-Length": declared}.items():
            connection.putheader(name, value)
        connection.endheaders()
        answer = connection.getresponse()
        assert (answer.status, json.loads(answer.read())) == (400, {"error": f"Content-Length must be a number of bytes, got {declared!r}"})
        connection.close()


def broken_rows():
    yield {"input": "first"}
    raise RuntimeError("row 2 could not be read")


def assert_ends_with_the_error(answer: requests.Response, message: str) -> None:
    """A stream that started (200, SSE) and ends with an ``error`` event (its data the message as a
    JSON string, as the SDK's stream reader takes it), then ``done``."""
    from braintrust.functions.stream import chunk_of

    assert (answer.status_code, answer.headers["Content-Type"]) == (200, "text/event-stream; charset=utf-8"), answer.text
    (error, error_data), done = events(answer)[-2:]
    assert (error, done) == ("error", ("done", ""))
    assert message in chunk_of(error, error_data).data


def test_data_that_fails_while_streaming_is_the_streams_error_event(dev, bt_env):
    with serving(bt_env, {"broken": plain(eval_name="broken", data=broken_rows)}) as broken:
        assert_ends_with_the_error(call(broken, "POST", "/eval", json={"name": "broken", "stream": True}), "row 2 could not be read")
    dataset = braintrust.init_dataset(project="dev-project", name="unreadable")
    dataset.insert(id="u1", input="hello")
    braintrust.flush()
    bt_env.fail_always("POST", "/v1/dataset/*", 400)  # (its rows cannot be fetched)
    unreadable = {"project_name": "dev-project", "dataset_name": "unreadable"}
    assert_ends_with_the_error(call(dev, "POST", "/eval", json={"name": "plain", "stream": True, "data": unreadable}), "answered 400")


def test_a_streamed_run_that_fails_before_its_first_event_still_ends_with_an_error_event(dev, monkeypatch):
    def cannot_build(*args, **kwargs):
        raise ValueError("no evaluator today")

    monkeypatch.setattr("braintrust.devserver.server._evaluator_for", cannot_build)
    streamed = call(dev, "POST", "/eval", json={"name": "plain", "stream": True, "data": [{"input": "x"}]})
    assert_ends_with_the_error(streamed, "no evaluator today")
    answer = call(dev, "POST", "/eval", json={"name": "plain", "data": [{"input": "x"}]})
    assert (answer.status_code, answer.json()) == (500, {"error": "Failed to run evaluation: no evaluator today"})


def test_a_dataset_that_cannot_be_found_is_a_json_error_before_the_stream(dev, bt_env):
    answer = call(dev, "POST", "/eval", json={"name": "plain", "stream": True, "data": {"dataset_id": "no-such-dataset"}})
    assert answer.status_code == 400 and answer.json()["error"].startswith("Failed to load dataset")


def test_json_answers_say_their_charset(dev, bt_env):
    answers = [call(dev, "GET", "/list"), call(dev, "POST", "/eval", json={"name": "plain", "data": [{"input": "é"}]}),
               call(dev, "POST", "/eval", json={"name": "nobody"}), call(dev, "POST", "/eval", json={"name": 1}),
               call(dev, "GET", "/nothing"), requests.get(dev.base + "/list", timeout=30)]
    assert [(a.status_code, a.headers["Content-Type"]) for a in answers] == [
        (status, "application/json; charset=utf-8") for status in (200, 200, 404, 400, 404, 401)]
    assert call(dev, "GET", "/").headers["Content-Type"] == "text/plain; charset=utf-8"


def test_who_may_call(dev, bt_env):
    anonymous = requests.Session()
    anonymous.base = dev.base  # type: ignore[attr-defined]
    assert call(anonymous, "GET", "/list").status_code == 401
    assert call(anonymous, "GET", "/list", headers={"x-bt-auth-token": "null"}).status_code == 401
    assert call(anonymous, "GET", "/list", headers={"Authorization": "Bearer "}).json() == {"error": "Invalid authorization token format"}
    no_org = call(anonymous, "GET", "/list", headers={"Authorization": f"Bearer {bt_env.api_key}"})
    assert (no_org.status_code, no_org.json()) == (400, {"error": "Missing x-bt-org-name header"})
    wrong = call(anonymous, "GET", "/list", headers={"x-bt-auth-token": "not-the-key", "x-bt-org-name": bt_env.org_name})
    assert (wrong.status_code, wrong.json()) == (401, {"error": "Unauthorized"})
    other_org = call(anonymous, "GET", "/list", headers={"x-bt-auth-token": bt_env.api_key, "x-bt-org-name": "elsewhere"})
    assert other_org.status_code == 401
    logins = len(bt_env.requests_to("/api/apikey/login"))
    assert call(dev, "GET", "/list").status_code == 200
    assert call(dev, "GET", "/list").status_code == 200
    assert len(bt_env.requests_to("/api/apikey/login")) == logins + 1  # (a token is checked once)


def test_only_the_braintrust_app_gets_cors_headers(dev, bt_env):
    preflight = call(dev, "OPTIONS", "/eval", headers={"Origin": "https://www.braintrust.dev", "Access-Control-Request-Private-Network": "true"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://www.braintrust.dev"
    assert "x-bt-auth-token" in preflight.headers["Access-Control-Allow-Headers"]
    assert preflight.headers["Access-Control-Allow-Private-Network"] == "true"
    assert call(dev, "OPTIONS", "/eval", headers={"Origin": "https://x.preview.braintrust.dev"}).headers["Access-Control-Allow-Origin"]
    stranger = call(dev, "OPTIONS", "/eval", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers


def test_each_callers_rows_go_with_their_own_credential(bt_env):
    """Evals of one credential run side by side; a caller with another waits for them, then the
    process flushes and logs in as that caller, whose rows carry their key."""
    bt_env.other_api_keys.add("second-user-key")
    started, release = threading.Event(), threading.Event()

    def slow(input):
        started.set()
        assert release.wait(30)
        return input

    server = DevServer({"slow": evaluator(eval_name="slow", parameters=None, task=slow, scores=[], classifiers=[]),
                        "fast": evaluator(eval_name="fast", parameters=None, task=lambda input: input, scores=[], classifiers=[])}, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    answers = {}

    def run(name: str, key: str, value: str) -> None:
        answers[name] = requests.post(server.url + "/eval", json={"name": name, "data": [{"input": value}], "experiment_name": name},
                                      headers={"x-bt-auth-token": key, "x-bt-org-name": bt_env.org_name}, timeout=60)

    try:
        first = threading.Thread(target=run, args=("slow", bt_env.api_key, "from-first"))
        first.start()
        assert started.wait(30)
        second = threading.Thread(target=run, args=("fast", "second-user-key", "from-second"))
        second.start()
        time.sleep(0.5)
        assert "fast" not in answers  # (waiting for the first caller's eval)
        release.set()
        first.join(60)
        second.join(60)
    finally:
        server.shutdown()
        server.server_close()
    assert answers["slow"].status_code == answers["fast"].status_code == 200, (answers["slow"].text, answers["fast"].text)
    sent_by = {}
    for request in bt_env.requests_to("/logs3"):
        for row in request.json["rows"]:
            if isinstance(row.get("output"), str):
                sent_by[row["output"]] = request.header("Authorization")
    assert sent_by == {"from-first": f"Bearer {bt_env.api_key}", "from-second": "Bearer second-user-key"}


def test_an_allowed_organization_only(bt_env):
    server = DevServer({"plain": evaluator(eval_name="plain", parameters=None)}, port=0, org_name="another-org")
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answer = requests.get(server.url + "/list", headers={"x-bt-auth-token": bt_env.api_key, "x-bt-org-name": bt_env.org_name}, timeout=30)
        assert (answer.status_code, answer.json()["error"]) == (403, "Org 'test-org' is not allowed. Only org 'another-org' is allowed.")
    finally:
        server.shutdown()
        server.server_close()


def test_the_command_serves_an_eval_file_until_interrupted(bt_env, tmp_path):
    (tmp_path / "eval_bot.py").write_text(textwrap.dedent("""
        import braintrust

        braintrust.Eval("cli-project", data=[{"input": "a"}], task=lambda input: input + "!", scores=[])
    """))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "braintrust", "eval", "--dev", "--dev-port", "0", str(tmp_path / "eval_bot.py")],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        first = proc.stdout.readline()
        assert first.startswith("Starting dev server on http://localhost:"), first + proc.stderr.read()
        assert proc.stdout.readline().strip() == "Loaded 1 evaluator(s): ['cli-project']"
        url = first.split(" on ", 1)[1].strip()
        headers = {"x-bt-auth-token": bt_env.api_key, "x-bt-org-name": bt_env.org_name}
        assert requests.get(url + "/list", headers=headers, timeout=30).json() == {"cli-project": {"parameters": None, "scores": [], "classifiers": []}}
        answer = requests.post(url + "/eval", json={"name": "cli-project", "data": [{"input": "b"}]}, headers=headers, timeout=60)
        assert answer.status_code == 200, answer.text
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    roots = [r for r in bt_env.rows() if r.get("span_attributes", {}).get("type") == "eval"]
    assert [r["output"] for r in roots] == ["b!"]


def test_dev_cannot_be_combined_with_watch_or_list(tmp_path):
    for extra in ("--watch", "--list"):
        proc = subprocess.run([sys.executable, "-m", "braintrust", "eval", "--dev", extra, str(tmp_path)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and f"--dev cannot be combined with {extra}" in proc.stderr


def test_saved_parameters_are_listed_with_their_source():
    from braintrust import RemoteEvalParameters
    from braintrust.devserver.protocol import parameters_container

    saved = RemoteEvalParameters(id="p1", project_id="proj", name="Knobs", slug="knobs", version="100",
                                 schema={"type": "object", "properties": {"model": {"type": "string", "x-bt-type": "model"}}}, data={})
    assert parameters_container(saved) == {
        "type": "braintrust.parameters", "schema": saved.schema,
        "source": {"parametersId": "p1", "slug": "knobs", "name": "Knobs", "projectId": "proj", "version": "100"},
    }


def test_a_known_path_asked_with_another_method_is_405_with_cors(dev, bt_env):
    """As 0.48.1's server: 405 and ``Allow`` (readable by the browser: CORS headers too); 404 elsewhere."""
    origin = {"Origin": "https://www.braintrust.dev"}
    for method, path, allowed in (("GET", "/eval", "POST"), ("PUT", "/eval", "POST"), ("POST", "/list", "GET, HEAD"), ("DELETE", "/", "GET, HEAD")):
        answer = call(dev, method, path, headers=origin)
        assert (answer.status_code, answer.headers["Allow"]) == (405, allowed), (method, path)
        assert answer.headers["Access-Control-Allow-Origin"] == "https://www.braintrust.dev"
    assert call(dev, "HEAD", "/").status_code == 200
    assert call(dev, "PUT", "/nothing").status_code == 404 and call(dev, "GET", "/nothing").status_code == 404
