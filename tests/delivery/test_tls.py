"""HTTPS, the way every user reaches Braintrust: the sender's direct connections (``direct_http``)
and ``requests`` both verify the server against the CA bundle ``requests`` would use
(``REQUESTS_CA_BUNDLE`` here), pool their connections, and refuse a certificate they cannot
verify at once, without retrying. The loopback server's certificate comes from a certificate
authority made for each run (``trustme``)."""

from __future__ import annotations

import ssl
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import trustme

from btserver import BraintrustTestServer
from braintrust.delivery import policy
from braintrust.delivery.http_client import TransportError
from delivery_helpers import FakeClock, client_for, subprocess_env


@pytest.fixture(scope="module")
def authority(tmp_path_factory) -> tuple[trustme.CA, Path]:
    """A certificate authority made for this run, and its certificate as a CA bundle file."""
    ca = trustme.CA()
    bundle = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return ca, bundle


@pytest.fixture
def https_server(authority):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority[0].issue_cert("127.0.0.1", "localhost").configure_cert(context)
    with BraintrustTestServer(tls=context) as server:
        yield server


@pytest.fixture(autouse=True)
def no_adapter(monkeypatch):
    monkeypatch.setattr(policy, "http_adapter", None)


def test_direct_posts_verify_the_server_and_reuse_their_connection(https_server, authority, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority[1]))
    client = client_for(https_server.url)
    assert client._direct_settings(f"{https_server.url}/logs3") is not None  # (the direct path applies)
    for n in range(3):
        client.post(f"{https_server.url}/logs3", f'{{"rows": [{{"id": "r{n}", "project_id": "p", "log_id": "g"}}]}}'.encode(),
                    FakeClock().deadline(10))
    assert [body["rows"][0]["id"] for body in https_server.logs3_bodies] == ["r0", "r1", "r2"]
    idle = [conn for conns in client._direct._idle.values() for conn in conns]
    assert len(idle) == 1 and isinstance(idle[0].sock, ssl.SSLSocket)  # one connection, kept for the next post
    assert client.request("GET", f"{https_server.url}/version", FakeClock().deadline(10)).status_code == 200  # (requests)


@pytest.mark.parametrize("path", ["logs3", "version"])
def test_a_certificate_that_cannot_be_verified_is_refused_at_once(https_server, path, monkeypatch):
    """The system's CA bundle does not know the loopback certificate: the first attempt fails and
    nothing is retried (a TLS failure is not transient) or sent."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    client, clock = client_for(https_server.url), FakeClock()
    with pytest.raises(TransportError) as info:
        if path == "logs3":
            client.post(f"{https_server.url}/logs3", b'{"rows": []}', clock.deadline(30))
        else:
            client.request("GET", f"{https_server.url}/version", clock.deadline(30))
    assert "certificate verify failed" in str(info.value), info.value
    assert clock.sleeps == []  # (no backoff: no second attempt)
    assert https_server.requests == []


def test_a_logger_sends_its_rows_over_https(https_server, authority, tmp_path):
    """Login, registration (``requests``) and ``/logs3`` (the direct connections) end to end, in a
    process of its own."""
    script = tmp_path / "log_over_https.py"
    script.write_text(textwrap.dedent("""
        import braintrust
        logger = braintrust.init_logger(project="tls")
        for i in range(50):
            logger.log(input=i, output=i * 2)
        print(braintrust.flush().ok)
    """))
    env = subprocess_env(BRAINTRUST_API_KEY=https_server.api_key, BRAINTRUST_APP_URL=https_server.url,
                         BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"), REQUESTS_CA_BUNDLE=str(authority[1]))
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True"
    assert sorted(row["input"] for row in https_server.rows()) == list(range(50))
    assert {r.path for r in https_server.requests} >= {"/api/apikey/login", "/v1/project", "/logs3"}


def test_an_unverifiable_certificate_at_login_names_the_fix_and_rows_spill(https_server, tmp_path):
    """A network whose proxy re-signs TLS: the login error says what to set, and nothing is lost."""
    script = tmp_path / "untrusted.py"
    script.write_text("import braintrust\nlogger = braintrust.init_logger(project='tls')\nlogger.log(input=1)\nprint(braintrust.flush().spilled)\n")
    env = subprocess_env(BRAINTRUST_API_KEY=https_server.api_key, BRAINTRUST_APP_URL=https_server.url,
                         BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"))
    env.pop("REQUESTS_CA_BUNDLE", None)
    env.pop("CURL_CA_BUNDLE", None)
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1"
    assert "certificate verify failed" in proc.stderr
    assert "point REQUESTS_CA_BUNDLE at that CA's bundle" in proc.stderr
    assert https_server.api_key not in proc.stderr


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_body_larger_than_the_socket_buffer_arrives_whole(scheme, https_server, authority, monkeypatch):
    """A 5 MB batch (a large output, an image as text) over one connection: the direct path's
    first ``write()`` takes what the socket buffer holds and the rest follows, intact, and the
    connection is kept."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(authority[1]))
    blob = "".join(chr(0x61 + i % 26) for i in range(5_000_000))
    body = ('{"rows": [{"id": "big", "project_id": "p", "log_id": "g", "output": "%s"}]}' % blob).encode()
    with BraintrustTestServer(payload_max_bytes=None) as plain:
        server = https_server if scheme == "https" else plain
        client = client_for(server.url)
        client.post(f"{server.url}/logs3", body, FakeClock().deadline(30))
        client.post(f"{server.url}/logs3", body.replace(b'"big"', b'"big2"'), FakeClock().deadline(30))
        assert [len(r.body) for r in server.requests_to("/logs3", "POST")] == [len(body), len(body) + 1]
        assert server.logs3_bodies[0]["rows"][0]["output"] == blob
        assert sum(len(conns) for conns in client._direct._idle.values()) == 1
