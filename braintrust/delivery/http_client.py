"""HTTP to the Braintrust API: one ``requests`` session, one retry policy, one deadline.

Retries only what can succeed (connection errors, read timeouts, 408/429/5xx gateway errors),
with exponential backoff and jitter, honouring ``Retry-After``; every wait is bounded by the
caller's deadline. The API key goes only to the hosts that were configured or returned by login,
never across a redirect. ``set_http_adapter`` and ``RetryRequestExceptionsAdapter`` are kept for
compatibility; retries they make count against the same attempts and deadline.
"""

from __future__ import annotations

import datetime
import email.utils
import http.client
import math
import os
import random
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from requests.utils import get_netrc_auth, requote_uri

from braintrust.config import DeliverySettings, mask_secret, secret
from braintrust.delivery import policy
from braintrust.delivery.deadline import MAX_SLEEP_SECONDS, Deadline
from braintrust.delivery.direct_http import Answer, DirectConnections

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

_budget = threading.local()
_STOCK_SEND = HTTPAdapter.send


class RetryRequestExceptionsAdapter(HTTPAdapter):
    """An adapter that retries connection errors and timeouts with backoff.

    Unlike the public SDK's, inside a Braintrust request its retries draw on the attempts and
    the deadline of that request (each retry takes one attempt, sleeps under the deadline and
    gets a timeout that fits in what remains), so it can never stretch an exit-time flush.
    Used on its own (outside ``HttpClient``) it behaves like the public SDK's.
    """

    def __init__(self, *args: Any, base_num_retries: int = 0, backoff_factor: float = 0.5, default_timeout_secs: float = 60, **kwargs: Any):
        self.base_num_retries = base_num_retries
        self.backoff_factor = backoff_factor
        self.default_timeout_secs = default_timeout_secs
        super().__init__(*args, **kwargs)

    def send(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout_secs
        budget: _Budget | None = getattr(_budget, "current", None)
        retries = 0
        while True:
            try:
                return super().send(*args, **kwargs)
            except (requests.exceptions.SSLError, requests.exceptions.InvalidURL):
                raise
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
                retries += 1
                if retries > self.base_num_retries:
                    raise
                wait = self.backoff_factor * (2 ** (retries - 1))
                if budget is None:
                    time.sleep(wait)
                    continue
                if not budget.take_attempt() or not budget.deadline.sleep(wait):
                    raise
                timeout = budget.timeout()
                if timeout is None:
                    raise
                kwargs["timeout"] = timeout


@dataclass
class _Budget:
    """The attempts and deadline of one ``HttpClient.request`` (shared with the adapter)."""

    deadline: Deadline
    attempts_left: int
    connect_timeout: float
    read_timeout: float

    def take_attempt(self) -> bool:
        if self.attempts_left <= 0:
            return False
        self.attempts_left -= 1
        return True

    def timeout(self) -> tuple[float, float] | None:
        """(connect, read) timeouts that fit in the remaining deadline; None when it is over."""
        remaining = self.deadline.remaining()
        if remaining <= 0:
            return None
        return (min(self.connect_timeout, remaining), min(self.read_timeout, remaining))


class HttpError(Exception):
    """A request finished with a non-2xx status (after any retries).

    ``deadline_reached`` is True when the status was retryable but the deadline left no time
    for another attempt (the rows then count under ``deadline``).
    """

    def __init__(self, method: str, url: str, status: int, body: str, *, deadline_reached: bool = False):
        self.status = status
        self.body = body
        self.deadline_reached = deadline_reached
        note = " (no time left for a retry)" if deadline_reached else ""
        super().__init__(f"{method} {urlsplit(url).path} answered {status}{note}: {one_line(body)[:300]}")


def one_line(body: str) -> str:
    """``body`` with every run of whitespace (line breaks included) as one space: an error
    quoting a proxy's HTML page stays one line."""
    return " ".join(body.split())


class TransportError(Exception):
    """No answer: connection refused/reset, timeout, or the deadline ran out. ``reason`` names it."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # an HTTP-date is always GMT
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, parsed.timestamp() - now())


def origin_of(url: str) -> str:
    """``scheme://host[:port]``, lower-cased, without the scheme's default port."""
    parts = urlsplit(url)
    scheme = (parts.scheme or "").lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None or _DEFAULT_PORTS.get(scheme) == port:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _check_ca_bundle(url: str, verify: Any) -> None:
    """A CA bundle path that does not exist, as the TLS error it is, naming the variable that gave
    it. (``requests`` raises a bare ``OSError`` for it before connecting, which no retry helps.)"""
    if urlsplit(url).scheme.lower() != "https" or not isinstance(verify, str) or os.path.exists(verify):
        return
    source = next((name for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE") if os.environ.get(name) == verify),
                  "the CA bundle")
    raise requests.exceptions.SSLError(f"{source}={verify!r} names no file or folder: point it at a CA bundle (PEM) or unset it")


class HttpClient:
    """A session bound to one API key and the hosts allowed to receive it."""

    def __init__(
        self,
        api_key: str,
        settings: DeliverySettings,
        *,
        rng: random.Random | None = None,
        wall_clock: Callable[[], float] = time.time,
    ):
        self.api_key = secret(api_key)
        self.settings = settings
        self._trusted_origins: set[str] = set()
        self._rng = rng or random.Random()
        self._wall_clock = wall_clock
        self.session = requests.Session()
        self.session.trust_env = True
        self.session.cookies.set_policy(_RejectCookies())
        self._mounted_adapter: Any = None
        self._environments: dict[str, tuple[dict[str, Any], Any]] = {}
        self._direct = DirectConnections()
        self._mount_policy_adapter()

    def _mount_policy_adapter(self) -> None:
        """Mount the adapter given to ``set_http_adapter`` (also one set after this client was made)."""
        adapter = policy.http_adapter
        if adapter is self._mounted_adapter:
            return
        mounted = adapter if adapter is not None else HTTPAdapter()
        self.session.mount("http://", mounted)
        self.session.mount("https://", mounted)
        self._mounted_adapter = adapter

    def _environment(self, url: str) -> tuple[dict[str, Any], Any]:
        """``(send settings, auth)`` for ``url``: proxies and CA bundle from the environment and
        ``~/.netrc`` credentials, as ``requests`` finds them, read once per origin. (``requests``
        reads the whole environment and stats ``~/.netrc`` on every request: about 0.2 ms.)"""
        parts = urlsplit(url)
        key = (origin_of(url), parts.username, parts.password)  # (a URL's own credentials decide its auth)
        found = self._environments.get(key)
        if found is None:
            settings = self.session.merge_environment_settings(url, {}, None, None, None)
            _check_ca_bundle(url, settings["verify"])
            auth = get_netrc_auth(url) if self.session.trust_env else None
            if auth is None and not parts.username:  # (else requests uses the URL's)
                auth = _NO_AUTH
            found = self._environments[key] = (settings, auth)
        return found

    def trust(self, url: str | None) -> None:
        """Allow the API key to be sent to this URL's origin."""
        if url:
            self._trusted_origins.add(origin_of(url))

    def is_trusted(self, url: str) -> bool:
        return origin_of(url) in self._trusted_origins

    def backoff_seconds(self, attempt: int) -> float:
        """Sleep before retry number ``attempt`` (1-based): 0.5 s doubling, ±20 %, at most 8 s."""
        base = self.settings.backoff_initial_seconds * (2 ** min(attempt - 1, 30))
        return min(self.settings.backoff_max_seconds, base * self._rng.uniform(0.8, 1.2))

    def request(
        self,
        method: str,
        url: str,
        deadline: Deadline,
        *,
        data: Any = None,
        json_body: Any = None,
        params: dict | None = None,
        headers: dict | None = None,
        files: Any = None,
        retry: bool = True,
        attempts: int | None = None,
        authenticate: bool = True,
        stream: bool = False,
        read_timeout_seconds: float | None = None,
    ) -> requests.Response:
        """Send with retries under ``deadline``. Raises ``HttpError`` or ``TransportError``.

        ``authenticate=False`` sends no credentials (signed upload URLs). Redirects are never
        followed: a 3xx is an ``HttpError``, so the key cannot travel to another host.
        ``stream``: the body is read as it arrives (server-sent events); ``read_timeout_seconds``
        replaces ``BRAINTRUST_HTTP_TIMEOUT`` as the longest wait for the next bytes.
        """
        request_headers = self._headers(url, headers, authenticate)
        self._mount_policy_adapter()

        def send(timeout: tuple[float, float]) -> requests.Response:
            settings, auth = self._environment(url)
            prepared = self.session.prepare_request(requests.Request(
                method.upper(), url, headers=request_headers, files=files, data=data or {},
                json=json_body, params=params or {}, auth=auth,
            ))
            return self.session.send(
                prepared, timeout=timeout, allow_redirects=False, proxies=dict(settings["proxies"]),
                stream=stream or settings["stream"], verify=settings["verify"], cert=settings["cert"],
            )

        return self._with_retries(method, url, deadline, send, retry, attempts, _RETRYABLE_EXCEPTIONS, read_timeout_seconds)

    def post(self, url: str, body: bytes, deadline: Deadline) -> None:
        """``request("POST", url, deadline, data=body)`` for an answer whose body is not needed:
        over a direct connection (``direct_http``) where that sends what ``requests`` would."""
        self._mount_policy_adapter()
        settings = self._direct_settings(url)
        if settings is None:
            self.request("POST", url, deadline, data=body)
            return
        request_headers = self._headers(url, None, True)
        header_list = [*self.session.headers.items(), *request_headers.items()]
        verify = settings["verify"]

        def send(timeout: tuple[float, float]) -> Answer:
            return self._direct.post(url, body, header_list, timeout, verify)

        self._with_retries("POST", url, deadline, send, True, None, _DIRECT_RETRYABLE)

    def _direct_settings(self, url: str) -> dict[str, Any] | None:
        """The environment settings for ``url`` when a direct connection sends what ``requests``
        would, else None: an adapter was given (``set_http_adapter``), ``requests`` is patched
        (``responses``, ``requests-mock``), a proxy, ``.netrc`` credentials or a client
        certificate applies, or the scheme is not HTTP(S)."""
        try:
            settings, auth = self._environment(url)
            adapter = self.session.get_adapter(url)
        except Exception:
            return None
        stock = type(adapter) is HTTPAdapter and getattr(adapter.send, "__func__", None) is _STOCK_SEND
        if (
            not stock
            or self._mounted_adapter is not None
            or settings["proxies"]
            or auth is not _NO_AUTH
            or settings["cert"] is not None
            or urlsplit(url).scheme not in ("http", "https")
        ):
            return None
        return settings

    def _headers(self, url: str, headers: dict | None, authenticate: bool) -> dict:
        request_headers = dict(headers or {})
        if authenticate:
            if not self.is_trusted(url):
                raise TransportError(f"refusing to send the API key to untrusted host {origin_of(url)}", "untrusted_host")
            if not (self.api_key.isascii() and self.api_key.isprintable()):
                # (else the HTTP libraries raise with the whole header, escaped past ``_scrub``)
                raise TransportError(
                    f"the API key {mask_secret(self.api_key)} holds a line break, a control or a non-ASCII character, "
                    "which an HTTP header cannot carry: check BRAINTRUST_API_KEY (or the api_key given to login), "
                    "e.g. for a trailing newline from a file", "bad_api_key",
                )
            request_headers["Authorization"] = secret(f"Bearer {self.api_key}")
        return request_headers

    def _with_retries(self, method: str, url: str, deadline: Deadline, send: Callable[[tuple[float, float]], Any],
                      retry: bool, attempts: int | None, retryable: tuple, read_timeout_seconds: float | None = None) -> Any:
        """Call ``send(timeout)`` until it answers below 300, under the retry policy;
        ``retryable``: the exceptions of the transport worth another attempt. The thread counts
        as sending meanwhile (``sending_now``)."""
        _transport.depth = getattr(_transport, "depth", 0) + 1
        try:
            return self._retry_loop(method, url, deadline, send, retry, attempts, retryable, read_timeout_seconds)
        finally:
            _transport.depth -= 1

    def _retry_loop(self, method: str, url: str, deadline: Deadline, send: Callable[[tuple[float, float]], Any],
                    retry: bool, attempts: int | None, retryable: tuple, read_timeout_seconds: float | None) -> Any:
        if attempts is None:
            attempts = self.settings.attempts_per_batch if retry else 1
        path = urlsplit(url).path
        hidden = (self.api_key, *_queries_of(url))

        def hide(text: str) -> str:
            for secret in hidden:
                text = _scrub(text, secret)
            return text

        budget = _Budget(deadline, attempts, self.settings.connect_timeout_seconds, read_timeout_seconds or self.settings.read_timeout_seconds)
        attempt = 0
        last_error = "no attempt made"
        while budget.take_attempt():
            timeout = budget.timeout()
            if timeout is None:
                break
            attempt += 1
            _budget.current = budget
            try:
                response = _send_by_deadline(send, timeout, deadline)
            except _PastDeadline:
                raise TransportError(f"{method} {path} gave up: no whole answer before the deadline "
                                     f"({attempt} attempt(s))", "deadline") from None
            except _TLS_ERRORS as exc:
                raise TransportError(f"{method} {path} failed: TLS error: {hide(str(exc))}", "tls") from None
            except retryable as exc:
                last_error = f"{type(exc).__name__}: {hide(str(exc))}"
                reason = "timeout" if isinstance(exc, _TIMEOUTS) else "connection"
                if not retry or budget.attempts_left <= 0:
                    raise TransportError(f"{method} {path} failed after {attempt} attempt(s): {last_error}", reason) from None
                if not deadline.sleep(self.backoff_seconds(attempt)):
                    raise TransportError(f"{method} {path} failed ({last_error}); no time left for a retry", "deadline") from None
                continue
            except requests.exceptions.RequestException as exc:
                # Invalid URLs, bad headers...: retrying cannot help.
                message = f"{method} {path} failed: {type(exc).__name__}: {hide(str(exc))}"
                raise TransportError(message, "request_error") from None
            finally:
                _budget.current = None
            if response.status_code < 300:
                return response
            body = hide(response.text)
            status = response.status_code
            if not retry or status not in RETRYABLE_STATUSES or budget.attempts_left <= 0:
                raise HttpError(method, url, status, body)
            wait = retry_after_seconds(response.headers.get("Retry-After"), self._wall_clock)
            if wait is None:
                wait = self.backoff_seconds(attempt)
            last_error = f"HTTP {status}"
            if not deadline.sleep(wait):
                raise HttpError(method, url, status, body, deadline_reached=True)
        if attempt == 0:
            raise TransportError(f"{method} {path} not sent: the deadline had passed", "deadline")
        raise TransportError(f"{method} {path} gave up: deadline reached after {attempt} attempt(s) ({last_error})", "deadline")

    def close(self) -> None:
        self._direct.close()
        self.session.close()


#: TLS failures: never retried (``requests`` and the direct connections raise different ones).
_TLS_ERRORS = (requests.exceptions.SSLError, ssl.SSLError)
#: Failures worth another attempt: no connection, a reset, a timeout, a response cut short.
#: (TLS errors, subclasses of some of these, are caught before.)
_RETRYABLE_EXCEPTIONS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
#: The same for the direct connections: refused, reset, timed out, name not resolved, an
#: answer cut short or malformed.
_DIRECT_RETRYABLE = (OSError, http.client.HTTPException)
_TIMEOUTS = (requests.exceptions.Timeout, TimeoutError)


_transport = threading.local()

#: How long past its deadline a request may run before it is abandoned (its own timeouts,
#: which fit in the deadline, end a silent server's request first).
ABANDON_AFTER_SECONDS = 0.1


class _PastDeadline(Exception):
    """A request was still running at its deadline and was left to finish on its own."""


def _send_by_deadline(send: Callable[[tuple[float, float]], Any], timeout: tuple[float, float], deadline: Deadline) -> Any:
    """``send(timeout)``, abandoned (``_PastDeadline``) once ``deadline`` has passed.

    Timeouts bound each wait for bytes, not the request: a server answering a byte at a time
    held a flush as long as it liked. So under a deadline the request runs on a thread of its
    own (a daemon, left to end by itself). Without one (the sender between flushes, which a
    flush past its deadline leaves behind anyway) it runs here.
    """
    if deadline.remaining() == math.inf:
        return send(timeout)
    done = threading.Event()
    outcome: list[tuple[bool, Any]] = []
    budget = _budget.current

    def run() -> None:
        _budget.current = budget  # (the thread-local state of the caller's request)
        _transport.depth = 1
        try:
            outcome.append((True, send(timeout)))
        except BaseException as exc:
            outcome.append((False, exc))
        finally:
            done.set()

    try:
        threading.Thread(target=run, name="braintrust-request", daemon=True).start()
    except RuntimeError:  # no new thread (at interpreter exit on 3.12.0/1): send from here
        return send(timeout)
    while not done.wait(min(deadline.remaining() + ABANDON_AFTER_SECONDS, MAX_SLEEP_SECONDS)):
        if deadline.expired():
            raise _PastDeadline
    answered, value = outcome[0]
    if not answered:
        raise value
    return value


def sending_now() -> bool:
    """This thread is inside one of this package's requests to Braintrust (so a log record that
    ``urllib3`` makes now is about that request: ``braintrust.logs`` leaves such records out)."""
    return getattr(_transport, "depth", 0) > 0


def _scrub(text: str, secret: str) -> str:
    """Never let a secret (the API key, a signed URL's query) reach a message. (Shorter than 8
    characters, it is a test key or no secret, and would mangle ordinary words in the message.)"""
    secret = secret.strip()  # (a server echoing the header echoes it without the spaces around it)
    if secret and len(secret) >= 8 and secret in text:
        return text.replace(secret, mask_secret(secret))
    return text


def _queries_of(url: str) -> tuple[str, ...]:
    """The query of ``url`` as given and as sent: a signed upload URL's carries its credentials
    (``X-Amz-Signature=...``), and the HTTP library's errors quote it."""
    query = urlsplit(url).query
    return tuple({query, urlsplit(requote_uri(url)).query}) if query else ()


class _NoAuth(AuthBase):
    """No credentials: stops ``requests`` from looking ``~/.netrc`` up again for every request."""

    def __call__(self, request: Any) -> Any:
        return request


_NO_AUTH = _NoAuth()


class _RejectCookies:
    """A cookie policy that accepts nothing (the API needs no cookies)."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = False

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def return_ok(self, cookie: Any, request: Any) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: Any) -> bool:
        return False

    def path_return_ok(self, path: str, request: Any) -> bool:
        return False
