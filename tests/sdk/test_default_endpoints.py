"""The real Braintrust hosts cannot be reached from here, so this one test mocks them with
`responses`: with no URL configured, login goes to https://www.braintrust.dev over verified TLS,
and rows go to the api_url that login returns (never to the app host)."""

from __future__ import annotations

import json

import responses

import braintrust


@responses.activate
def test_default_hosts_are_the_public_braintrust_endpoints(monkeypatch):
    monkeypatch.setenv("BRAINTRUST_API_KEY", "sk-test-0123456789")
    monkeypatch.delenv("BRAINTRUST_APP_URL", raising=False)
    login = responses.post(
        "https://www.braintrust.dev/api/apikey/login",
        json={"org_info": [{"id": "org-1", "name": "acme", "api_url": "https://api.braintrust.dev", "proxy_url": "https://api.braintrust.dev", "git_metadata": None}]},
    )
    project = responses.post("https://api.braintrust.dev/v1/project", json={"id": "p-1", "name": "prod"})
    responses.get("https://api.braintrust.dev/version", json={"logs3_payload_max_bytes": 6291456})
    logs = responses.post("https://api.braintrust.dev/logs3", json={"ids": []})

    logger = braintrust.init_logger(project="prod")
    logger.log(input="q", output="a")
    result = braintrust.flush()

    assert result.accepted == 1 and not result.spilled
    assert login.call_count == 1 and project.call_count == 1 and logs.call_count == 1
    assert login.calls[0].request.headers["Authorization"] == "Bearer sk-test-0123456789"
    assert json.loads(project.calls[0].request.body) == {"name": "prod", "org_name": "acme"}
    (row,) = json.loads(logs.calls[0].request.body)["rows"]
    assert row["project_id"] == "p-1" and row["log_id"] == "g"
    for call in responses.calls:
        assert call.request.req_kwargs["verify"] not in (False, None)  # TLS verification stays on (True or a CA bundle)
