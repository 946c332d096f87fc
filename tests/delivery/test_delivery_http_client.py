"""``HttpClient``: what is retried, how long it waits, where the API key goes. Sleeps go through
a fake clock (instant); requests go to the real loopback server."""

from __future__ import annotations

import email.utils
import random
import re
import time
from pathlib import Path

import pytest
import requests
import urllib3.util.connection
from requests.adapters import HTTPAdapter

from btserver import BraintrustTestServer, Step
from braintrust.config import DeliverySettings
from braintrust.delivery import policy
from braintrust.delivery.deadline import Deadline
from braintrust.delivery.http_client import (
    HttpClient,
    HttpError,
    RetryRequestExceptionsAdapter,
    TransportError,
    origin_of,
    retry_after_seconds,
)
from braintrust.state import BraintrustState
from delivery_helpers import FakeClock, client_for, closed_port_url

REPO = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def no_adapter(monkeypatch):
    monkeypatch.setattr(policy, "http_adapter", None)


@pytest.fixture
def connections(monkeypatch) -> list:
    """Every TCP connection attempt urllib3 makes (address), recorded."""
    made: list = []
    real = urllib3.util.connection.create_connection

    def counting(address, *args, **kwargs):
        made.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", counting)
    return made


def ping(client: HttpClient, server: BraintrustTestServer, deadline, **kwargs):
    return client.request("GET", f"{server.url}/version", deadline, **kwargs)


# -- what is retried ----------------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried_until_success(bt_server, clock, status):
    bt_server.script("GET", "/version", [Step(status=status), Step(status=status)])
    response = ping(client_for(bt_server.url), bt_server, clock.deadline(30))
    assert response.status_code == 200
    assert len(bt_server.requests_to("/version")) == 3
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422])
def test_other_4xx_are_never_retried(bt_server, clock, status):
    bt_server.script("GET", "/version", [Step(status=status)])
    with pytest.raises(HttpError) as info:
        ping(client_for(bt_server.url), bt_server, clock.deadline(30))
    assert info.value.status == status and not info.value.deadline_reached
    assert len(bt_server.requests_to("/version")) == 1
    assert clock.sleeps == []


def test_attempts_default_to_five_with_doubling_jittered_backoff(bt_server, clock, monkeypatch):
    monkeypatch.delenv("BRAINTRUST_NUM_RETRIES", raising=False)
    bt_server.fail_always("GET", "/version", Step(status=503))
    client = HttpClient(bt_server.api_key, DeliverySettings.from_env(), rng=random.Random(0))
    client.trust(bt_server.url)
    with pytest.raises(HttpError) as info:
        ping(client, bt_server, clock.deadline(100))
    assert info.value.status == 503 and not info.value.deadline_reached
    assert len(bt_server.requests_to("/version")) == 5
    assert len(clock.sleeps) == 4
    for n, slept in enumerate(clock.sleeps, start=1):
        base = 0.5 * 2 ** (n - 1)
        assert 0.8 * base <= slept <= 1.2 * base


def test_num_retries_variable_sets_the_attempts(bt_server, clock, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "2")
    bt_server.fail_always("GET", "/version", Step(status=500))
    client = HttpClient(bt_server.api_key, DeliverySettings.from_env(), rng=random.Random(0))
    client.trust(bt_server.url)
    with pytest.raises(HttpError):
        ping(client, bt_server, clock.deadline(100))
    assert len(bt_server.requests_to("/version")) == 3


def test_backoff_is_capped_at_eight_seconds_including_jitter():
    client = HttpClient("k", DeliverySettings(), rng=random.Random(1))
    for attempt in range(1, 40):
        base = min(8.0, 0.5 * 2 ** (attempt - 1))
        for _ in range(20):
            wait = client.backoff_seconds(attempt)
            assert 0.8 * base <= wait <= min(8.0, 1.2 * base)


def test_connection_errors_are_retried_with_one_connection_per_attempt(clock, connections):
    url = closed_port_url()
    with pytest.raises(TransportError) as info:
        client_for(url).request("GET", f"{url}/version", clock.deadline(100))
    assert info.value.reason == "connection"
    assert len(connections) == 5
    assert len(clock.sleeps) == 4


def test_a_connection_reset_is_retried(bt_server, clock):
    bt_server.script("GET", "/version", [Step(reset=True)])
    assert ping(client_for(bt_server.url), bt_server, clock.deadline(30)).status_code == 200
    assert len(bt_server.requests_to("/version")) == 2


def test_a_read_timeout_is_retried(bt_server, clock):
    bt_server.script("GET", "/version", [Step(hang=True)])
    client = client_for(bt_server.url, read_timeout_seconds=0.2)
    assert ping(client, bt_server, clock.deadline(30)).status_code == 200
    assert len(bt_server.requests_to("/version")) == 2
    assert len(clock.sleeps) == 1


# -- Retry-After and the deadline ---------------------------------------------------------------


def test_retry_after_seconds_is_honoured(bt_server, clock):
    bt_server.script("GET", "/version", [Step(status=429, retry_after="3")])
    ping(client_for(bt_server.url), bt_server, clock.deadline(30))
    assert clock.sleeps == [pytest.approx(3.0, abs=0.05)]


def test_retry_after_http_date_is_honoured(bt_server, clock):
    wall = 1_800_000_000.0
    bt_server.script("GET", "/version", [Step(status=503, retry_after=email.utils.formatdate(wall + 4, usegmt=True))])
    client = HttpClient(bt_server.api_key, DeliverySettings(), rng=random.Random(0), wall_clock=lambda: wall)
    client.trust(bt_server.url)
    ping(client, bt_server, clock.deadline(30))
    assert clock.sleeps == [pytest.approx(4.0, abs=0.05)]


@pytest.mark.parametrize("header", ["30", "DATE+30"])
def test_retry_after_beyond_the_deadline_gives_up_at_once(bt_server, clock, header):
    wall = 1_800_000_000.0
    if header.startswith("DATE"):
        header = email.utils.formatdate(wall + 30, usegmt=True)
    bt_server.script("GET", "/version", [Step(status=429, retry_after=header)])
    client = HttpClient(bt_server.api_key, DeliverySettings(), rng=random.Random(0), wall_clock=lambda: wall)
    client.trust(bt_server.url)
    started = time.monotonic()
    with pytest.raises(HttpError) as info:
        ping(client, bt_server, clock.deadline(5))
    assert info.value.status == 429 and info.value.deadline_reached
    assert clock.sleeps == [] and time.monotonic() - started < 1.0
    assert len(bt_server.requests_to("/version")) == 1


def test_a_backoff_that_would_pass_the_deadline_is_not_slept(bt_server, clock):
    bt_server.fail_always("GET", "/version", Step(status=500))
    with pytest.raises(HttpError) as info:
        ping(client_for(bt_server.url), bt_server, clock.deadline(1.0))  # 0.5 s, then 1 s would pass it
    assert info.value.deadline_reached
    assert len(clock.sleeps) == 1 and len(bt_server.requests_to("/version")) == 2


def test_retry_after_parsing():
    assert retry_after_seconds("2.5") == 2.5
    assert retry_after_seconds("-4") == 0.0
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("nan") is None
    assert retry_after_seconds(None) is None
    date = email.utils.formatdate(1000.0 + 7, usegmt=True)
    assert retry_after_seconds(date, now=lambda: 1000.0) == 7.0
    assert retry_after_seconds(date, now=lambda: 2000.0) == 0.0


class RecordingAdapter(HTTPAdapter):
    def __init__(self, deadline):
        super().__init__()
        self.deadline = deadline
        self.seen: list[tuple[tuple[float, float], float]] = []

    def send(self, request, **kwargs):
        self.seen.append((kwargs["timeout"], self.deadline.remaining()))
        return super().send(request, **kwargs)


def test_per_request_timeout_never_exceeds_the_remaining_deadline(bt_server, clock, monkeypatch):
    bt_server.script("GET", "/version", [Step(status=500), Step(status=500)])
    deadline = clock.deadline(2.5)
    adapter = RecordingAdapter(deadline)
    monkeypatch.setattr(policy, "http_adapter", adapter)
    ping(client_for(bt_server.url), bt_server, deadline)
    assert len(adapter.seen) == 3
    for (connect, read), remaining in adapter.seen:
        assert connect <= remaining + 0.01 and read <= remaining + 0.01  # (measured a moment later)
    assert adapter.seen[-1][0][1] < 1.5  # a 30 s read timeout was cut to what was left


def test_a_hanging_server_is_abandoned_within_the_deadline(bt_server):
    bt_server.fail_always("GET", "/version", Step(hang=True))
    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        ping(client_for(bt_server.url), bt_server, Deadline(0.6))
    elapsed = time.monotonic() - started
    assert info.value.reason in ("timeout", "deadline")
    assert elapsed < 0.6 + 0.4, elapsed


# -- where the key goes -------------------------------------------------------------------------


def test_the_key_is_refused_to_untrusted_origins(bt_server_factory, clock):
    trusted, other = bt_server_factory(), bt_server_factory()
    client = client_for(trusted.url)
    with pytest.raises(TransportError) as info:
        client.request("GET", f"{other.url}/version", clock.deadline(5))
    assert info.value.reason == "untrusted_host"
    assert other.requests == []
    with pytest.raises(HttpError):  # no key: the server refuses, but nothing secret was sent
        client.request("GET", f"{other.url}/version", clock.deadline(5), authenticate=False)
    assert [r.header("Authorization") for r in other.requests] == [None]


def test_login_trusts_the_app_and_the_api_and_proxy_urls_it_returns(bt_server_factory, monkeypatch, clock):
    app, api, proxy, stranger = (bt_server_factory() for _ in range(4))
    app.api_url, app.proxy_url = api.url, proxy.url
    monkeypatch.setenv("BRAINTRUST_API_KEY", app.api_key)
    monkeypatch.setenv("BRAINTRUST_APP_URL", app.url)
    for name in ("BRAINTRUST_API_URL", "BRAINTRUST_PROXY_URL", "BRAINTRUST_ORG_NAME"):
        monkeypatch.delenv(name, raising=False)
    state = BraintrustState()
    state.login(clock.deadline(10))
    client = state.http_client()
    assert state.api_url == api.url and state.proxy_url == proxy.url
    for server in (app, api, proxy):
        assert client.is_trusted(f"{server.url}/anything")
    assert not client.is_trusted(f"{stranger.url}/anything")
    client.request("GET", f"{api.url}/version", clock.deadline(5))
    assert api.requests[-1].header("Authorization") == f"Bearer {api.api_key}"


def test_origins_are_compared_normalised():
    assert origin_of("HTTPS://API.Example.com:443/x") == "https://api.example.com"
    assert origin_of("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000"
    assert origin_of("https://example.com.evil.net/") != origin_of("https://example.com/")


def test_a_redirect_is_never_followed_so_the_key_never_crosses_it(bt_server_factory, clock):
    api, elsewhere = bt_server_factory(), bt_server_factory()
    api.script("POST", "/logs3", [Step(status=302, body=b"", headers={"Location": f"{elsewhere.url}/logs3"})])
    with pytest.raises(HttpError) as info:
        client_for(api.url).request("POST", f"{api.url}/logs3", clock.deadline(5), data=b'{"rows": []}')
    assert info.value.status == 302
    assert elsewhere.requests == []
    assert len(api.requests_to("/logs3")) == 1


def test_the_key_never_appears_in_error_messages(bt_server, clock):
    bt_server.script("GET", "/version", [Step(status=400, body={"error": f"bad key {bt_server.api_key}"})])
    with pytest.raises(HttpError) as info:
        ping(client_for(bt_server.url), bt_server, clock.deadline(5))
    assert bt_server.api_key not in str(info.value)


def test_tls_verification_is_never_disabled():
    pattern = re.compile(r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False|disable_warnings")
    offenders = []
    for package in ("braintrust", "pytest_braintrust"):
        for path in (REPO / package).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == []
    assert requests.Session().verify is True


# -- set_http_adapter / RetryRequestExceptionsAdapter -------------------------------------------


def test_adapter_retries_count_against_the_same_attempts(clock, connections, monkeypatch):
    client_url = closed_port_url()
    client = client_for(client_url)  # made before the adapter is set: it is still used
    monkeypatch.setattr(policy, "http_adapter", RetryRequestExceptionsAdapter(base_num_retries=10, backoff_factor=0.5))
    with pytest.raises(TransportError):
        client.request("GET", f"{client_url}/version", clock.deadline(1000))
    assert len(connections) == 5  # not 5 x 11
    assert len(clock.sleeps) == 4


def test_adapter_retries_sleep_under_the_same_deadline(clock, connections, monkeypatch):
    url = closed_port_url()
    monkeypatch.setattr(policy, "http_adapter", RetryRequestExceptionsAdapter(base_num_retries=10, backoff_factor=0.5))
    with pytest.raises(TransportError):
        client_for(url).request("GET", f"{url}/version", clock.deadline(2.0))
    assert sum(clock.sleeps) <= 2.0
    assert len(connections) == 3  # 0.5 s + 1 s fit in 2 s, the next 2 s does not


def test_adapter_on_its_own_retries_as_configured_and_by_default_not_at_all(connections, monkeypatch):
    """Mounted on a session of the user's (outside our requests), it is 0.48.1's adapter: no
    retry by default, ``base_num_retries`` retries with the doubling backoff when asked."""
    sleeps: list[float] = []
    monkeypatch.setattr("braintrust.delivery.http_client.time.sleep", sleeps.append)
    url = closed_port_url()
    for adapter, attempts in ((RetryRequestExceptionsAdapter(), 1), (RetryRequestExceptionsAdapter(base_num_retries=2), 3)):
        session = requests.Session()
        session.mount("http://", adapter)
        connections.clear()
        with pytest.raises(requests.exceptions.ConnectionError):
            session.get(f"{url}/version")
        assert len(connections) == attempts
    assert sleeps == [0.5, 1.0]


def test_set_http_adapter_is_used_and_can_be_removed(bt_server, clock, monkeypatch):
    client = client_for(bt_server.url)
    adapter = RecordingAdapter(clock.deadline(10))
    policy.set_http_adapter(adapter)
    ping(client, bt_server, clock.deadline(10))
    assert len(adapter.seen) == 1
    policy.set_http_adapter(None)
    ping(client, bt_server, clock.deadline(10))
    assert len(adapter.seen) == 1
