"""Secrets held to reliability.md's promise: never in any output. Credentials written into a URL
(``BRAINTRUST_APP_URL=http://user:token@host``), an API key a server echoes back without the
spaces around it, a malformed ``--env-file`` line, a dev-server caller's token."""

from __future__ import annotations

import json
import os

import pytest

import braintrust
from btserver import Step
from braintrust.cli.eval_command import UsageError, read_env_file
from braintrust.delivery.backend import BackendError
from braintrust.delivery.replay import backend_for_target
from braintrust.devserver.access import caller_of
from braintrust.state import BraintrustState, LoginError
from delivery_helpers import closed_port_url

TOKEN = "urlTOKEN0123456789"


def credentialed(url: str) -> str:
    return url.replace("://", f"://someone:{TOKEN}@", 1)


def spilled_text() -> str:
    spill = os.path.join(os.environ["BRAINTRUST_LOCAL_DIR"], "spill")
    return "".join(open(os.path.join(spill, name)).read() for name in sorted(os.listdir(spill)))


def test_credentials_in_the_app_url_stay_out_of_errors_logs_and_spill_files(bt_env, monkeypatch, caplog):
    monkeypatch.setenv("BRAINTRUST_APP_URL", credentialed(bt_env.url))
    monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    experiment = braintrust.init(project="p")
    for i in range(3):
        experiment.log(input=i, output=i, scores={"s": 1})
    result = braintrust.flush(timeout=5)

    # (requests sends the URL's credentials as Basic auth, so Braintrust refuses: 0.48.1 alike)
    assert result.produced == 3 == result.accepted + result.spilled + sum(result.dropped.values())
    assert result.spilled == 3, result.describe()
    spilled = spilled_text()
    shown = "\n".join(result.errors) + result.describe() + caplog.text + spilled
    assert TOKEN not in shown
    assert json.loads(spilled)["target"]["app_url"] == bt_env.url.replace("://", "://***@")


@pytest.mark.parametrize("app_url", ["{url}/?x=1", "http://127.0.0.1:1"], ids=["malformed", "unreachable"])
def test_a_login_error_shows_the_app_url_without_its_credentials(bt_env, monkeypatch, app_url):
    monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    state = BraintrustState()
    state.configure(app_url=credentialed(app_url.format(url=bt_env.url)))
    with pytest.raises(LoginError) as raised:
        state.login()
    assert TOKEN not in str(raised.value)
    assert "://***@127.0.0.1:" in str(raised.value)


def test_links_to_the_app_leave_credentials_in_its_url_out(bt_env, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_APP_PUBLIC_URL", f"https://someone:{TOKEN}@app.example.test")
    experiment = braintrust.init(project="p", experiment="e")
    with experiment.start_span(name="s") as span:
        span.log(input=1, output=1, scores={"s": 1})
    summary = experiment.summarize()
    links = [summary.experiment_url, summary.project_url, span.link(), span.permalink()]
    assert all(link.startswith("https://app.example.test/app/test-org/") for link in links), links


def test_a_spill_of_a_credentialed_url_replays_to_that_url_only(monkeypatch):
    monkeypatch.setenv("BRAINTRUST_API_KEY", "sk-replay-key-0123456789")
    monkeypatch.setenv("BRAINTRUST_APP_URL", credentialed("http://127.0.0.1:9"))
    for recorded in ("http://***@127.0.0.1:9", credentialed("http://127.0.0.1:9")):  # (and a file written before)
        backend_for_target({"kind": "api", "app_url": recorded, "org_name": None})
    with pytest.raises(BackendError) as raised:
        backend_for_target({"kind": "api", "app_url": "http://***@127.0.0.2:9", "org_name": None})
    assert raised.value.reason == "wrong_target" and TOKEN not in str(raised.value)


def test_the_key_a_server_echoes_without_its_surrounding_spaces_is_still_hidden(bt_server):
    # An HTTP server trims the spaces around a header's value: a key pasted with a trailing space
    # comes back without it.
    key = "sk-echoedKEY0123456789"
    bt_server.script("POST", "/api/apikey/login", [Step(status=401, body={"error": f"bad key Bearer {key}"})])
    state = BraintrustState()
    state.configure(api_key=key + " ", app_url=bt_server.url)
    with pytest.raises(LoginError) as raised:
        state.login()
    assert key not in str(raised.value)
    assert "bad key Bearer sk*****89" in str(raised.value)


@pytest.mark.parametrize("where", ["unreachable", "refusing"])
def test_a_signed_upload_url_s_credentials_stay_out_of_errors_logs_and_spill_files(bt_env, monkeypatch, caplog, where):
    monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    query = "X-Amz-Credential=AKIAEXAMPLE%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=5ec12e7516"
    if where == "unreachable":
        signed = f"{closed_port_url()}/bucket/object?{query}"
    else:  # (object stores quote the request they refuse)
        signed = f"{bt_env.url}/_objstore/object?{query}"
        bt_env.script("PUT", "/_objstore/object", [Step(status=403, body=f"<Error>denied: PUT /object?{query}</Error>".encode())])
    bt_env.script("POST", "/attachment", [Step(status=200, body={"signedUrl": signed, "headers": {}})])
    logger = braintrust.init_logger(project="p")
    logger.log(input={"file": braintrust.Attachment(data=b"bytes", filename="f.txt", content_type="text/plain")})
    result = braintrust.flush(timeout=5)

    assert result.accepted == result.produced == 1 and result.attachments_spilled == 1, result.describe()
    assert result.errors and "could not upload attachment 'f.txt'" in result.errors[0]
    assert "5ec12e7516" not in "\n".join(result.errors) + result.describe() + caplog.text + spilled_text()


@pytest.mark.parametrize("line", [
    "BRAINTRUST_API_KEY: sk-envfileKEY0123456789",  # (YAML's separator)
    "sk-envfileKEY0123456789",  # (a key pasted alone)
    "export BRAINTRUST-API-KEY=sk-envfileKEY0123456789",  # (a name the shell would refuse)
])
def test_a_malformed_env_file_line_is_named_by_its_number_not_quoted(tmp_path, line):
    (tmp_path / "bad.env").write_text(f"OTHER=1\n{line}\n")
    with pytest.raises(UsageError) as raised:
        read_env_file(tmp_path / "bad.env")
    message = str(raised.value)
    assert "bad.env, line 2: expected KEY=VALUE" in message
    assert "envfileKEY" not in message


def test_a_dev_server_caller_prints_without_its_token():
    caller = caller_of({"authorization": "Bearer sk-callerTOKEN0123456789", "x-bt-org-name": "org"})
    assert caller.token == "sk-callerTOKEN0123456789"
    assert "callerTOKEN" not in repr(caller) and "org" in repr(caller)


def test_the_pytest_run_shows_the_app_url_without_its_credentials(bt_env, pytester, monkeypatch):
    from braintrust.delivery.runtime import reset_for_tests

    monkeypatch.setenv("BRAINTRUST_APP_URL", credentialed(bt_env.url))
    monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_case="""
        from pytest_braintrust import eval_case

        @eval_case()
        def test_one(braintrust_case):
            return "out"
    """)
    json_path = pytester.path / "run.json"
    reset_for_tests()
    try:
        result = pytester.runpytest("-p", "no:cacheprovider", "--braintrust", f"--braintrust-json={json_path}")
    finally:
        reset_for_tests()
    output = "\n".join(result.outlines + result.errlines)
    assert f"in Braintrust at {bt_env.url.replace('://', '://***@')}" in output
    assert TOKEN not in output + json_path.read_text() + spilled_text()
    assert json.loads(json_path.read_text())["delivery"]["spilled"] == 2
