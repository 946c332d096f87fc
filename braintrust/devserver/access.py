"""Who may use the dev server, and as whom its evals send to Braintrust.

* **Browsers** (CORS): only the Braintrust app's origins (``https://www.braintrust.dev``,
  ``https://www.braintrustdata.com``, ``https://*.preview.braintrust.dev``, ``BRAINTRUST_APP_URL``
  and ``WHITELISTED_ORIGIN``) get the ``Access-Control-*`` headers, preflights included, and the
  private-network permission when they ask for it.
* **Requests** to ``/list`` and ``/eval`` carry the user's Braintrust token (``x-bt-auth-token``,
  or ``Authorization: Bearer``) and organization (``x-bt-org-name``). The token is checked by
  logging in with it, at the app the request came from (its allowed ``Origin``, else the
  configured app URL), into that organization; the answer is kept (32 tokens) so a token is
  checked once. ``--dev-org-name`` admits only that organization.
* **Rows** of an eval go to Braintrust with the requester's token, as the public SDK's dev server
  sends them. This process has one Braintrust login at a time, so evals of one credential run
  side by side, and a request with another credential waits for them to finish, then the rows
  sent so far are flushed and the process logs in with the new one (``CredentialGate``).
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

__all__ = ["AccessDenied", "Caller", "CredentialGate", "TokenChecker", "caller_of", "cors_headers"]

APP_ORIGINS = ("https://www.braintrust.dev", "https://www.braintrustdata.com")
PREVIEW_ORIGIN = re.compile(r"https://.*\.preview\.braintrust\.dev")
ALLOWED_HEADERS = ("Content-Type", "X-Amz-Date", "Authorization", "X-Api-Key", "X-Amz-Security-Token", "x-bt-auth-token",
                   "x-bt-parent", "x-bt-org-name", "x-bt-project-id", "x-bt-stream-fmt", "x-bt-use-cache", "x-bt-use-gateway",
                   "x-stainless-os", "x-stainless-lang", "x-stainless-package-version", "x-stainless-runtime",
                   "x-stainless-runtime-version", "x-stainless-arch")
EXPOSED_HEADERS = ("x-bt-cursor", "x-bt-found-existing-experiment", "x-bt-span-id", "x-bt-span-export")


class AccessDenied(Exception):
    """The request may not run: ``status`` and ``message`` are the answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def allowed_origin(origin: str | None) -> str | None:
    """``origin`` when it is one of the Braintrust app's, else None."""
    if not origin:
        return None
    extra = {os.environ.get("WHITELISTED_ORIGIN"), os.environ.get("BRAINTRUST_APP_URL")} - {None, ""}
    if origin in APP_ORIGINS or origin in extra or PREVIEW_ORIGIN.fullmatch(origin):
        return origin
    return None


def cors_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The ``Access-Control-*`` headers for a request with these headers (none for other origins)."""
    origin = allowed_origin(headers.get("origin"))
    if origin is None:
        return {}
    answer = {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE, OPTIONS, PATCH",
        "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
        "Access-Control-Expose-Headers": ", ".join(EXPOSED_HEADERS),
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Max-Age": "86400",
    }
    if headers.get("access-control-request-private-network"):
        answer["Access-Control-Allow-Private-Network"] = "true"
    return answer


@dataclass(frozen=True)
class Caller:
    """Who sent a request: their token, organization, and the app they came from."""

    token: str | None = field(repr=False)  # (a credential: never in a printed caller)
    org_name: str | None
    app_url: str | None
    project_id: str | None = None  # (x-bt-project-id: the playground's project, sent on with its scorers' calls)


def caller_of(headers: Mapping[str, str]) -> Caller:
    """The caller a request names (headers in lower case). ``AccessDenied`` for a malformed token."""
    token = headers.get("x-bt-auth-token")
    if not token and "authorization" in headers:
        value = headers["authorization"]
        # ("Bearer" alone, its space gone with the whitespace around the value, names no token: the 400 below)
        token = "" if value.lower() == "bearer" else value[7:] if value.lower().startswith("bearer ") else value
    if token is not None and not token:  # (a token header sent empty, as 0.48.1 answers it)
        raise AccessDenied(400, "Invalid authorization token format")
    if token is not None and token.lower() == "null":
        token = None
    return Caller(token or None, headers.get("x-bt-org-name"), allowed_origin(headers.get("origin")), headers.get("x-bt-project-id"))


class TokenChecker:
    """Checks a caller may run evals here (their token logs into their organization), once per token."""

    def __init__(self, allowed_org: str | None = None, remembered: int = 32):
        self.allowed_org = allowed_org
        self._remembered = remembered
        self._checked: OrderedDict[tuple, bool] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, caller: Caller) -> None:
        if not caller.token:
            raise AccessDenied(401, "Unauthorized")
        if not caller.org_name:
            raise AccessDenied(400, "Missing x-bt-org-name header")
        if self.allowed_org and caller.org_name != self.allowed_org:
            raise AccessDenied(403, f"Org '{caller.org_name}' is not allowed. Only org '{self.allowed_org}' is allowed.")
        key = (caller.token, caller.app_url, caller.org_name)
        with self._lock:
            if key in self._checked:
                self._checked.move_to_end(key)
                return
        from braintrust.state import BraintrustState

        state = BraintrustState()
        state.configure(api_key=caller.token, app_url=caller.app_url, org_name=caller.org_name)
        try:
            state.login()
        except Exception as exc:
            import sys

            print(f"braintrust dev server: Authorization error: {exc}", file=sys.stderr)  # (0.48.1's words)
            raise AccessDenied(401, "Unauthorized") from None
        finally:
            state.close()
        with self._lock:
            self._checked[key] = True
            while len(self._checked) > self._remembered:
                self._checked.popitem(last=False)


class CredentialGate:
    """Lets evals run under one caller's credential at a time (see the module's docstring).
    ``AccessDenied`` (502) when the process cannot log in as the caller."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._current: tuple | None = None
        self._running = 0

    @contextmanager
    def using(self, caller: Caller) -> Iterator[None]:
        wanted = (caller.token, caller.app_url, caller.org_name)
        with self._condition:
            while self._current != wanted and self._running:
                self._condition.wait()
            if self._current != wanted:
                try:
                    _switch_login(caller)
                except Exception as exc:  # (Braintrust unreachable, say: the request's answer, not a dropped connection)
                    raise AccessDenied(502, f"Could not log in to Braintrust as the caller: {exc}") from None
                self._current = wanted
            self._running += 1
        try:
            yield
        finally:
            with self._condition:
                self._running -= 1
                self._condition.notify_all()


def _switch_login(caller: Caller) -> None:
    """Send what the previous credential logged, then log this process in as ``caller``."""
    from braintrust.delivery.runtime import flush
    from braintrust.state import global_state

    state: Any = global_state()
    if state.logged_in:
        flush()
    state.configure(api_key=caller.token, app_url=caller.app_url, org_name=caller.org_name, force_login=True)
    state.login(force_login=True)
