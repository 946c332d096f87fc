"""App URLs, proxies and the network environment: links, login through a CA bundle variable,
credentials written into URLs (QA round 6)."""

from __future__ import annotations

import socket

import pytest

import braintrust
from braintrust.state import BraintrustState, LoginError

SECRET = "pw-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def exported_slug(bt_env):
    experiment = braintrust.init(project="p", experiment="e")
    with experiment.start_span(name="s") as span:
        slug = span.export()
    experiment.flush()
    return slug


@pytest.mark.parametrize("org_name", ["my-org", None], ids=["org-given", "org-from-login"])
def test_a_permalink_for_an_app_url_with_credentials_leaves_them_out(exported_slug, org_name):
    link = braintrust.permalink(exported_slug, org_name=org_name, app_url=f"https://someone:{SECRET}@bt.example.test/braintrust/")
    assert SECRET not in link and "someone" not in link, link
    org = org_name or "test-org"
    assert link.startswith(f"https://bt.example.test/braintrust/app/{org}/object?object_type=experiment&object_id="), link


def test_a_permalink_for_an_app_url_with_a_path_prefix_keeps_it_without_a_double_slash(exported_slug):
    link = braintrust.permalink(exported_slug, org_name="o", app_url="http://bt.example.test:8080/braintrust/")
    assert link.startswith("http://bt.example.test:8080/braintrust/app/o/object?"), link


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_ca_bundle_variable_naming_no_file_fails_login_as_tls_naming_the_variable(bt_env, monkeypatch, tmp_path, variable):
    # requests raises a bare OSError for it, before connecting: it escaped the transport's error
    # handling ("resolving experiment failed unexpectedly", a traceback, rows spilled as internal_error).
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv(variable, str(tmp_path / "missing-ca.pem"))
    monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    state = BraintrustState()
    state.configure(app_url=f"https://127.0.0.1:{_free_port()}")
    with pytest.raises(LoginError) as raised:
        state.login()
    assert raised.value.reason == "tls"
    assert variable in str(raised.value) and "missing-ca.pem" in str(raised.value)


def test_an_api_url_with_credentials_sends_what_0_48_1_sends_whatever_the_app_url(bt_env, monkeypatch):
    # 0.48.1 (requests) sends credentials written into a URL as Basic auth in place of the key.
    # Ours chose the authentication once per origin (scheme, host, port), from the first URL of
    # that origin: after an app URL without credentials at the same origin, the API URL's were
    # ignored; at another origin (localhost), they were sent.
    port = bt_env.url.rsplit(":", 1)[1]
    monkeypatch.setenv("BRAINTRUST_API_URL", f"http://someone:{SECRET}@127.0.0.1:{port}")
    monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    state = BraintrustState()
    state.login()
    client = state.http_client()
    from braintrust.delivery.deadline import Deadline

    with pytest.raises(Exception):
        client.request("GET", f"{state.api_url}/v1/project", Deadline(5))
    sent = bt_env.requests_to("/v1/project", "GET")
    assert sent and sent[-1].header("Authorization", "").startswith("Basic "), sent[-1].headers
