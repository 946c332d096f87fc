"""HTTP to the Braintrust API: one ``requests`` session, one retry policy, one deadline.

Retries only what can succeed (connection errors, read timeouts, 408/429/5xx gateway errors),
with exponential backoff and jitter, honouring ``Retry-After``; every wait is bounded by the
caller's deadline. The API key goes only to the hosts that were configured or returned by login,
never across a redirect. ``set_http_adapter`` and ``RetryRequestExceptionsAdapter`` are kept for
compatibility; retries they make count against the same attempts and deadline.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from braintrust.config import DeliverySettings, mask_secret
from braintrust.delivery import policy
from braintrust.delivery.deadline import Deadline

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

_budget = threading.local()


class RetryRequestExceptionsAdapter(HTTPAdapter):
    """An adapter that retries connection errors and timeouts with backoff.

    Unlike the public SDK's, its retries draw on the attempts and the deadline of the request
    being made, so it can never stretch an exit-time flush.
    """

    def __init__(self, *args: Any, base_num_retries: int = 10, backoff_factor: float = 0.5, default_timeout_secs: float = 60, **kwargs: Any):
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
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
                retries += 1
                if retries > self.base_num_retries:
                    raise
                if budget is not None:
                    if not budget.take_attempt():
                        raise
                    if not budget.deadline.sleep(self.backoff_factor * (2 ** (retries - 1))):
                        raise
                else:
                    time.sleep(self.backoff_factor * (2 ** (retries - 1)))


@dataclass
class _Budget:
    deadline: Deadline
    attempts_left: int

    def take_attempt(self) -> bool:
        if self.attempts_left <= 0:
            return False
        self.attempts_left -= 1
        return True


class HttpError(Exception):
    """A request finished with a non-2xx status (after any retries)."""

    def __init__(self, method: str, url: str, status: int, body: str):
        self.status = status
        self.body = body
        super().__init__(f"{method} {urlsplit(url).path} answered {status}: {body[:300]}")


class TransportError(Exception):
    """No answer: connection refused/reset, timeout, or the deadline ran out. ``reason`` names it."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if parsed is None:
        return None
    return max(0.0, parsed.timestamp() - time.time())


class HttpClient:
    """A session bound to one API key and the hosts allowed to receive it."""

    def __init__(self, api_key: str, settings: DeliverySettings, *, rng: random.Random | None = None):
        self.api_key = api_key
        self.settings = settings
        self._trusted_origins: set[str] = set()
        self._rng = rng or random.Random()
        self.session = requests.Session()
        self.session.trust_env = True
        self.session.cookies.set_policy(_RejectCookies())
        if policy.http_adapter is not None:
            self.session.mount("http://", policy.http_adapter)
            self.session.mount("https://", policy.http_adapter)

    def trust(self, url: str | None) -> None:
        """Allow the API key to be sent to this URL's origin."""
        if url:
            parts = urlsplit(url)
            self._trusted_origins.add(f"{parts.scheme}://{parts.netloc}")

    def backoff_seconds(self, attempt: int) -> float:
        """Sleep before retry number ``attempt`` (1-based): 0.5 s doubling, ±20 %, at most 8 s."""
        base = min(self.settings.backoff_max_seconds, self.settings.backoff_initial_seconds * (2 ** (attempt - 1)))
        return base * self._rng.uniform(0.8, 1.2)

    def request(
        self,
        method: str,
        url: str,
        deadline: Deadline,
        *,
        data: bytes | None = None,
        json_body: Any = None,
        params: dict | None = None,
        headers: dict | None = None,
        retry: bool = True,
        attempts: int | None = None,
        authenticate: bool = True,
    ) -> requests.Response:
        """Send with retries under ``deadline``. Raises ``HttpError`` or ``TransportError``."""
        attempts = attempts if attempts is not None else (self.settings.attempts_per_batch if retry else 1)
        request_headers = dict(headers or {})
        if authenticate:
            origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
            if origin not in self._trusted_origins:
                raise TransportError(f"refusing to send the API key to untrusted host {origin}", "untrusted_host")
            request_headers["Authorization"] = f"Bearer {self.api_key}"
        budget = _Budget(deadline, attempts)
        attempt = 0
        last_error = "no attempt made"
        while budget.take_attempt():
            attempt += 1
            remaining = deadline.remaining()
            if remaining <= 0:
                break
            timeout = (min(self.settings.connect_timeout_seconds, remaining), min(self.settings.read_timeout_seconds, remaining))
            _budget.current = budget
            try:
                response = self.session.request(
                    method, url, data=data, json=json_body, params=params, headers=request_headers,
                    timeout=timeout, allow_redirects=False,
                )
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                last_error = f"{type(exc).__name__}: {_scrub(str(exc), self.api_key)}"
                reason = "timeout" if isinstance(exc, requests.exceptions.Timeout) else "connection"
                if not retry or budget.attempts_left <= 0 or not deadline.sleep(self.backoff_seconds(attempt)):
                    raise TransportError(f"{method} {urlsplit(url).path} failed: {last_error}", reason) from None
                continue
            finally:
                _budget.current = None
            if response.status_code < 300:
                return response
            body = _scrub(response.text, self.api_key)
            if retry and response.status_code in RETRYABLE_STATUSES and budget.attempts_left > 0:
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                if wait is None:
                    wait = self.backoff_seconds(attempt)
                elif wait > deadline.remaining():
                    raise HttpError(method, url, response.status_code, body)
                last_error = f"HTTP {response.status_code}"
                if deadline.sleep(wait):
                    continue
            raise HttpError(method, url, response.status_code, body)
        raise TransportError(f"{method} {urlsplit(url).path} gave up: deadline reached after {attempt} attempt(s) ({last_error})", "deadline")

    def close(self) -> None:
        self.session.close()


def _scrub(text: str, secret: str) -> str:
    """Never let the API key reach a message."""
    if secret and secret in text:
        return text.replace(secret, mask_secret(secret))
    return text


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
