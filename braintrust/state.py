"""Who we are talking to: credentials, the login handshake and local-vs-API mode.

Login is lazy: nothing touches the network until rows are sent or an id is needed. With no API
key (or ``BRAINTRUST_LOCAL=1``) everything goes to the embedded local store instead.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

from braintrust.config import (
    DEFAULT_APP_URL, DeliverySettings, checked_url, env_bool, env_str, find_api_key, mask_secret, redacted_url, secret, url_without_credentials,
)
from braintrust.forks import at_fork

NO_KEY_MESSAGE = (
    "Could not login to Braintrust. You may need to set BRAINTRUST_API_KEY in your environment or nearest "
    ".env.braintrust file."
)


#: After a login could not reach Braintrust (its attempts failed to connect or timed out), a login
#: to the same URL within this many seconds fails at once with that same error instead of waiting
#: through the retries again: an offline laptop with a key set, or an xdist run whose controller
#: and workers each log in. Rows meanwhile spill (replayable); ``login(force_login=True)`` retries.
UNREACHABLE_RETRY_AFTER_SECONDS = 10.0


#: The least a login waits for another thread to let go of the state, even past its deadline.
LOCK_GRACE_SECONDS = 0.1


class LoginError(ValueError):
    """Login failed; ``reason`` is ``auth`` for a refused key, else the transport reason."""

    def __init__(self, message: str, reason: str = "auth"):
        super().__init__(message)
        self.reason = reason


class BraintrustState:
    def __init__(self) -> None:
        # ``_lock``: held by a login through its request (a name lookup there is bounded by no
        # timeout), so other logins wait for it only until their deadline. ``_fields``: the
        # credentials and the login's fields, held for no network call, so ``configure`` and
        # the rest never wait for a request.
        self._lock = threading.RLock()
        self._fields = threading.RLock()
        self.reset()

    def reset(self) -> None:
        if getattr(self, "_client_pid", None) == os.getpid():
            self._drop_login()  # (closes this process's sockets; a forked child's are its parent's)
        self.explicit_api_key: str | None = None
        self.explicit_app_url: str | None = None
        self.explicit_org_name: str | None = None
        self.org_id: str | None = None
        self.org_name: str | None = None
        self.api_url: str | None = None
        self.proxy_url: str | None = None
        self.git_metadata: Any = None
        self.logged_in = False
        self.user_info: dict[str, Any] | None = None  # (``GET /ping``'s answer, asked once)
        self._client: Any = None
        self._client_pid: int | None = None
        self._unreachable: tuple[str, float, LoginError] | None = None  # (app url, when, error)

    # -- configuration -------------------------------------------------------------------------

    def configure(self, api_key: str | None = None, app_url: str | None = None, org_name: str | None = None, force_login: bool = False) -> None:
        """Record credentials passed to ``login``/``init_*``; they win over the environment."""
        api_key = secret(api_key)  # (tracebacks with locals, e.g. pytest -l, show this frame's arguments)
        with self._fields:
            changed = (
                (api_key is not None and api_key != self.api_key())
                or (app_url is not None and app_url.rstrip("/") != self.app_url())
                or (org_name is not None and org_name != (self.org_name or self.explicit_org_name))
            )
            if self.logged_in and changed and not force_login:
                raise ValueError(
                    "Re-logging in with different credentials (app_url, api_key or org_name) is not "
                    "supported; pass force_login=True to switch."
                )
            if force_login:
                self._configure_anew(api_key, app_url, org_name)
                return
            if api_key is not None:
                self.explicit_api_key = api_key
            if app_url is not None:
                self.explicit_app_url = app_url.rstrip("/")
            if org_name is not None:
                self.explicit_org_name = org_name

    def _configure_anew(self, api_key: str | None, app_url: str | None, org_name: str | None) -> None:
        """``force_login``: as 0.48.1's, a credential not given is read from the environment
        again (not kept from an earlier ``login(...)``); the login is dropped when that changes
        where or as whom rows go. Leaving no key where there was one raises the no-key error,
        as 0.48.1's does, rather than silently switching to the local store."""
        saved = (self.explicit_api_key, self.explicit_app_url, self.explicit_org_name)
        before = (self.api_key(), self.app_url(), self.requested_org())
        self.explicit_api_key = api_key
        self.explicit_app_url = app_url.rstrip("/") if app_url is not None else None
        self.explicit_org_name = org_name
        after = (self.api_key(), self.app_url(), self.requested_org())
        if before[0] and not after[0]:
            self.explicit_api_key, self.explicit_app_url, self.explicit_org_name = saved
            raise LoginError(NO_KEY_MESSAGE, "no_api_key")
        stale = self._client is not None and (self._client.api_key != after[0] or not self._client.is_trusted(after[1]))
        if after != before or stale:  # (stale: the environment changed since the login)
            self._drop_login()

    @contextlib.contextmanager
    def credentials_kept_on_success(self) -> Any:
        """Credentials ``configure``d inside the block are kept only if it succeeds: a failed
        ``login(org_name="typo", force_login=True)`` leaves the earlier ones in place, as the
        public SDK's does (the next call logs in with them again), not a state that fails forever."""
        with self._fields:
            saved = (self.explicit_api_key, self.explicit_app_url, self.explicit_org_name)
        try:
            yield
        except BaseException:
            with self._fields:
                if (self.explicit_api_key, self.explicit_app_url, self.explicit_org_name) != saved:
                    self._drop_login()
                    self.explicit_api_key, self.explicit_app_url, self.explicit_org_name = saved
            raise

    def api_key(self) -> str | None:
        return self.explicit_api_key or find_api_key()

    def app_url(self) -> str:
        return (self.explicit_app_url or env_str("BRAINTRUST_APP_URL") or DEFAULT_APP_URL).rstrip("/")

    def app_public_url(self) -> str:
        """The app's address in links (never with credentials written into the URL)."""
        return url_without_credentials(env_str("BRAINTRUST_APP_PUBLIC_URL") or self.app_url()).rstrip("/")

    def shown_app_url(self) -> str:
        """The app URL as messages and files show it (``redacted_url``)."""
        return redacted_url(self.app_url())

    def requested_org(self) -> str | None:
        return self.explicit_org_name or env_str("BRAINTRUST_ORG_NAME")

    def is_local(self) -> bool:
        """Rows go to the embedded store: ``BRAINTRUST_LOCAL=1``, or no API key anywhere."""
        return env_bool("BRAINTRUST_LOCAL") or not self.api_key()

    def local_reason(self) -> str:
        """Why rows go to the embedded store, as the notices say it."""
        return "BRAINTRUST_LOCAL is set" if self.api_key() else "no BRAINTRUST_API_KEY"

    def target_description(self) -> dict[str, Any]:
        """Where rows go, for spill files (never includes the key)."""
        if self.is_local():
            from braintrust.store.location import database_path

            return {"kind": "local", "path": str(database_path())}
        return {"kind": "api", "app_url": self.shown_app_url(), "org_name": self.org_name or self.requested_org()}

    # -- login ---------------------------------------------------------------------------------

    def http_client(self) -> Any:
        from braintrust.delivery.http_client import HttpClient

        with self._fields:
            if self._client is None or self._client_pid != os.getpid():
                key = self.api_key()
                if not key:
                    raise LoginError(NO_KEY_MESSAGE, "no_api_key")
                self._client = HttpClient(key, DeliverySettings.from_env())
                self._client_pid = os.getpid()
                self._client.trust(self.app_url())
                for url in (self.api_url, self.proxy_url):
                    self._client.trust(url)
            return self._client

    def login(self, deadline: Any = None, force_login: bool = False) -> "BraintrustState":
        """Log in once (thread-safe), within ``deadline`` (30 s if none) even while another
        thread's login holds the state. Raises ``LoginError``."""
        from braintrust.delivery.deadline import Deadline

        if self.logged_in and not force_login:
            return self
        deadline = deadline or Deadline(30.0)
        if not self._acquire_within(deadline):
            raise LoginError(
                f"Could not log in to Braintrust at {self.shown_app_url()} before the deadline: another thread's "
                "login has held it longer (a name lookup or connection that does not end?); check the network "
                "and BRAINTRUST_APP_URL (to work offline, set BRAINTRUST_LOCAL=1 and rows go to the local store)",
                "deadline",
            )
        try:
            return self._login_locked(deadline, force_login)
        finally:
            self._lock.release()

    def _acquire_within(self, deadline: Any) -> bool:
        """Take ``_lock``, waiting no longer than ``deadline`` allows (and ``LOCK_GRACE_SECONDS``
        at least). A login holds the lock through its request, and a name lookup there is
        bounded by no timeout."""
        remaining = deadline.remaining()
        if remaining >= threading.TIMEOUT_MAX:
            return self._lock.acquire()
        return self._lock.acquire(timeout=max(LOCK_GRACE_SECONDS, remaining))

    def _login_locked(self, deadline: Any, force_login: bool) -> "BraintrustState":
        """The login itself (``_lock`` held). The request runs without ``_fields``; its answer
        is applied only if the credentials are still those it was made with, else (a
        ``configure`` meanwhile) it logs in again with those of now."""
        while True:
            with self._fields:
                if self.logged_in and not force_login:
                    return self
                attempt = self._start_login(force_login)
            client, key, app_url, _org = attempt
            try:
                outcome: Any = client.request("POST", f"{app_url}/api/apikey/login", deadline, data=b"")
            except Exception as exc:
                outcome = exc
            with self._fields:
                if self._login_attempt_current(attempt):
                    return self._finish_login(key, outcome)
                if deadline.expired():
                    raise LoginError(
                        f"Could not log in to Braintrust at {self.shown_app_url()} before the deadline: the "
                        "credentials changed while a login with the earlier ones was under way; try again",
                        "deadline",
                    )
            force_login = False  # (the change dropped the login, or it was not made yet)

    def _start_login(self, force_login: bool) -> tuple[Any, str, str, str | None]:
        """Checks before a login request (``_fields`` held): ``(client, key, app url, org)``."""
        key = self.api_key()
        if not key:
            raise LoginError(NO_KEY_MESSAGE, "no_api_key")
        if not force_login:
            self._raise_if_recently_unreachable()
        self._check_url(self.app_url(), "app_url" if self.explicit_app_url else "BRAINTRUST_APP_URL")
        if self._client is not None and (self._client.api_key != key or not self._client.is_trusted(self.app_url())):
            # (BRAINTRUST_API_KEY or BRAINTRUST_APP_URL changed since: log in with those of now,
            # and send the key only to the new app and the URLs its login gives)
            self._drop_login()
        return self.http_client(), key, self.app_url(), self.requested_org()

    def _login_attempt_current(self, attempt: tuple[Any, str, str, str | None]) -> bool:
        client, key, app_url, org = attempt
        return self._client is client and (self.api_key(), self.app_url(), self.requested_org()) == (key, app_url, org)

    def _finish_login(self, key: str, outcome: Any) -> "BraintrustState":
        """Apply the login's answer, or raise the ``LoginError`` its failure means (``_fields`` held)."""
        from braintrust.delivery.http_client import HttpError, TransportError, one_line

        if isinstance(outcome, HttpError):
            exc = outcome
            if exc.status in (401, 403):
                raise LoginError(f"Invalid API key {mask_secret(key)}: [{exc.status}] {one_line(exc.body)[:300]}", "auth") from None
            reason = "deadline" if exc.deadline_reached else f"http_{exc.status // 100}xx"
            hint = " (is BRAINTRUST_APP_URL the address of the Braintrust app?)" if exc.status == 404 else ""
            raise LoginError(f"Braintrust login at {self.shown_app_url()} failed: [{exc.status}] {one_line(exc.body)[:300]}{hint}", reason) from None
        if isinstance(outcome, TransportError):
            exc = outcome
            if exc.reason == "bad_api_key":  # (the network is not the problem)
                raise LoginError(str(exc), exc.reason) from None
            fix = ("its certificate could not be verified: if a proxy or a private CA signs it on this network, "
                   "point REQUESTS_CA_BUNDLE at that CA's bundle" if exc.reason == "tls"
                   else "check the network and BRAINTRUST_APP_URL")
            if exc.reason == "tls" and any(sign in str(exc).lower() for sign in _PLAIN_HTTP_SIGNS):
                fix = "it does not answer in TLS: if it serves plain HTTP, write BRAINTRUST_APP_URL with http://"
            error = LoginError(
                f"Could not reach Braintrust at {self.shown_app_url()} to log in: {exc} "
                f"({fix}; to work offline, set BRAINTRUST_LOCAL=1 and rows go to the local store)",
                exc.reason,
            )
            if exc.reason != "deadline":  # (a deadline cut the attempts short: that says less)
                self._unreachable = (self.app_url(), time.monotonic(), error)
            raise error from None
        if isinstance(outcome, BaseException):
            raise outcome
        response = outcome
        try:
            info = response.json()
        except ValueError:
            info = None
        if not isinstance(info, dict):
            raise LoginError(
                f"Braintrust login at {self.shown_app_url()} answered {response.status_code} without a JSON object; "
                "is BRAINTRUST_APP_URL the Braintrust app?",
                "bad_response",
            )
        self._apply_login(info)
        return self

    def unreachable_verdict(self) -> dict[str, Any] | None:
        """The last "could not reach Braintrust" while it still holds (see
        ``UNREACHABLE_RETRY_AFTER_SECONDS``), for another process: ``remember_unreachable``."""
        with self._fields:
            if self._unreachable is None:
                return None
            url, failed_at, error = self._unreachable
            left = UNREACHABLE_RETRY_AFTER_SECONDS - (time.monotonic() - failed_at)
            if left <= 0:
                return None
            return {"app_url": url, "message": str(error), "reason": error.reason, "seconds_left": left}

    def remember_unreachable(self, verdict: dict[str, Any]) -> None:
        """Adopt another process's ``unreachable_verdict`` (pytest-xdist workers take the
        controller's: they would each wait through the same retries again)."""
        with self._fields:
            failed_at = time.monotonic() - (UNREACHABLE_RETRY_AFTER_SECONDS - float(verdict["seconds_left"]))
            error = LoginError(str(verdict["message"]), str(verdict["reason"]))
            self._unreachable = (str(verdict["app_url"]), failed_at, error)

    def _raise_if_recently_unreachable(self) -> None:
        if self._unreachable is None:
            return
        url, failed_at, error = self._unreachable
        ago = time.monotonic() - failed_at
        if url != self.app_url() or ago >= UNREACHABLE_RETRY_AFTER_SECONDS:
            self._unreachable = None
            return
        raise LoginError(str(error), error.reason)  # (the same text: reports show each error once)

    @staticmethod
    def _check_url(url: str, name: str) -> None:
        """``LoginError`` for a URL that is not one; one warning per host when the API key would
        go to it in clear text (plain http to another machine: allowed, as self-hosted servers in
        private networks may serve it, but said, since 0.48.1 says nothing)."""
        try:
            checked_url(url, name)
        except ValueError as exc:
            raise LoginError(str(exc), "bad_url") from None
        host = clear_text_host(url)
        if host is not None and host not in _warned_clear_text:
            _warned_clear_text.add(host)
            import logging

            logging.getLogger("braintrust").warning(
                "braintrust: %s is plain http to %s, so the API key goes there unencrypted; use https:// unless "
                "every network in between is trusted.", name, host)

    def _apply_login(self, info: dict[str, Any]) -> None:
        orgs = info.get("org_info") or []
        if not isinstance(orgs, list) or not all(
            isinstance(o, dict) and all(isinstance(o.get(k), (str, type(None))) for k in _ORG_TEXT_FIELDS) for o in orgs
        ):
            raise LoginError(
                f"Braintrust login at {self.shown_app_url()} answered an org_info that is not a list of organizations "
                f"({', '.join(_ORG_TEXT_FIELDS)} as strings); is BRAINTRUST_APP_URL the Braintrust app?",
                "bad_response",
            )
        if not orgs:
            raise LoginError("This user is not part of any organizations.")
        wanted = self.requested_org()
        org = orgs[0]
        if wanted:
            matches = [o for o in orgs if o.get("name") == wanted]
            if not matches:
                names = ", ".join(str(o.get("name")) for o in orgs)
                raise LoginError(
                    f"Organization {wanted} not found. Must be one of {names} (set BRAINTRUST_ORG_NAME, or login's "
                    "org_name, to one of them, or unset it for the first)."
                )
            org = matches[0]
        self.user_info = None
        self.org_id = org.get("id")
        self.org_name = org.get("name")
        self.api_url = (env_str("BRAINTRUST_API_URL") or org.get("api_url") or "").rstrip("/")
        proxy = env_str("BRAINTRUST_PROXY_URL") or org.get("proxy_url") or self.api_url
        if proxy.endswith("/v1/proxy"):
            proxy = proxy[: -len("/v1/proxy")]
        self.proxy_url = proxy.rstrip("/")
        if not self.api_url:
            raise LoginError("Login returned no api_url for the organization; set BRAINTRUST_API_URL.")
        self._check_url(self.api_url, "BRAINTRUST_API_URL" if env_str("BRAINTRUST_API_URL") else "the organization's api_url")
        if env_str("BRAINTRUST_PROXY_URL"):
            self._check_url(self.proxy_url, "BRAINTRUST_PROXY_URL")
        policy = org.get("git_metadata")
        self.git_metadata = policy if isinstance(policy, dict) else None  # (another shape: no policy)
        client = self.http_client()
        client.trust(self.api_url)
        client.trust(self.proxy_url)
        self.logged_in = True
        self._unreachable = None

    def close(self) -> None:
        """Forget the login and close the HTTP connections (a state made for one check)."""
        with self._fields:
            self._drop_login()

    def _drop_login(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            except Exception:
                pass
        self._client = None
        self.logged_in = False
        self.org_id = self.org_name = self.api_url = self.proxy_url = None

    def after_fork(self) -> None:
        self._lock = threading.RLock()
        self._fields = threading.RLock()
        self._client = None


#: What OpenSSL says (by version) when the server answers TLS with plain HTTP.
_PLAIN_HTTP_SIGNS = ("wrong version number", "record layer failure", "packet length too long")

#: Fields of a login's organization that must be strings (or absent) to be used.
_ORG_TEXT_FIELDS = ("id", "name", "api_url", "proxy_url")

#: The hosts ``_check_url`` warned about (once each per process).
_warned_clear_text: set[str] = set()


def clear_text_host(url: str) -> str | None:
    """The host of an ``http://`` URL that leaves this machine (not a loopback name or address), else None."""
    import ipaddress
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() != "http":
        return None
    host = (parts.hostname or "").rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return host or None

_state = BraintrustState()


def user_info() -> dict[str, Any]:
    """Who the API key belongs to, as Braintrust answers ``GET {api}/ping`` (asked once per login).
    With no key there is nobody to ask: a ``ValueError`` says so."""
    from braintrust.delivery.deadline import Deadline

    state = _state
    if not state.api_key():
        raise ValueError("user_info() asks Braintrust who the API key belongs to, and no API key is set: "
                         "set BRAINTRUST_API_KEY (or call braintrust.login(api_key=...)).")
    if state.user_info is None:
        deadline = Deadline(30.0)
        state.login(deadline)
        answer = state.http_client().request("GET", f"{state.api_url}/ping", deadline).json()
        if not isinstance(answer, dict):
            raise ValueError(f"Braintrust answered GET /ping with {answer!r:.100}, not a JSON object.")
        state.user_info = answer
    return state.user_info


def global_state() -> BraintrustState:
    return _state


def check_state(state: Any, call: str) -> None:
    """``state=`` of the public SDK's entry points: this SDK keeps one state per process, so
    anything but that one (or None) is refused rather than silently logged through it."""
    if state is not None and state is not _state:
        raise ValueError(
            f"{call}(state=...): pytest-braintrust keeps one BraintrustState per process and cannot log "
            "through another; drop state= (pass api_key=, app_url= or org_name= to choose where rows go)."
        )


at_fork(after_in_child=_state.after_fork)
