"""Settings resolved once: explicit arguments > ``BRAINTRUST_*`` environment > defaults.

Every reader validates its value and raises ``ValueError`` naming the variable, the rule and
the offending value, so a typo in CI configuration fails loudly instead of silently using a
default.
"""

from __future__ import annotations

import math
import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_APP_URL = "https://www.braintrust.dev"
DEFAULT_MAX_REQUEST_BYTES = 6 * 1024 * 1024

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def env_str(name: str) -> str | None:
    """The variable's value, or None when unset or only whitespace."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def env_bool(name: str) -> bool:
    """The variable as a boolean; False when unset."""
    value = env_str(name)
    if value is None:
        return False
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(
        f"{name}={value!r} is not a boolean: use one of true/1/yes/on or false/0/no/off."
    )


def env_number(name: str, default: float, *, minimum: float = 0.0, maximum: float = math.inf, integer: bool = False) -> float:
    value = env_str(name)
    if value is None:
        return default
    try:
        number = int(value) if integer else float(value)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise ValueError(f"{name}={value!r} is not {kind}; set it to e.g. {default!r} or unset it.") from None
    if not math.isfinite(number):
        raise ValueError(f"{name}={value!r} is not a finite number; set it to e.g. {default!r} or unset it.")
    if number < minimum:
        raise ValueError(f"{name}={value!r} must be at least {minimum}; unset it to use the default {default!r}.")
    if number > maximum:
        raise ValueError(f"{name}={value!r} must be at most {maximum}; unset it to use the default {default!r}.")
    return number


#: ``scheme://`` then credentials written into a URL (``user:token@``), up to the host.
_URL_CREDENTIALS = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


def redacted_url(url: str) -> str:
    """``url`` as output may show it: credentials written into it (``https://user:token@host``)
    become ``***@``."""
    return _URL_CREDENTIALS.sub(r"\1***@", url)


def url_without_credentials(url: str) -> str:
    """``url`` with any credentials written into it left out (links printed for a browser)."""
    return _URL_CREDENTIALS.sub(r"\1", url)


def checked_url(value: str, name: str) -> str:
    """``value`` when it is an http(s) URL with a host (and no query or fragment, which would
    swallow the paths appended to it); else a ``ValueError`` naming ``name``, the value and the fix."""
    parts = urlsplit(value)
    try:
        parts.port  # (raises on a port that is not a number)
        usable = parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and not parts.query and not parts.fragment
    except ValueError:
        usable = False
    if not usable:
        raise ValueError(
            f"{name}={redacted_url(value)!r} is not an http(s) URL of a host: write it with its scheme and without a query, "
            f"e.g. {DEFAULT_APP_URL}."
        )
    return value


#: The longest wait a variable may ask for. (Far beyond it, the system's timers overflow: a
#: ``BRAINTRUST_HTTP_TIMEOUT`` of 1e10 seconds failed every request with an ``OverflowError``.)
MAX_WAIT_SECONDS = 86400


@dataclass(frozen=True)
class DeliverySettings:
    """How rows travel: the reliability doc's defaults table, overridable through the environment."""

    flush_timeout_seconds: float = 10.0
    attempts_per_batch: int = 5
    backoff_initial_seconds: float = 0.5
    backoff_max_seconds: float = 8.0
    connect_timeout_seconds: float = 5.0
    read_timeout_seconds: float = 30.0
    queue_max_rows: int = 100_000
    queue_max_bytes: int = 256 * 1024 * 1024
    queue_full_wait_seconds: float = 0.0
    batch_max_rows: int = 100
    max_request_bytes: int | None = None
    spill_dir: Path | None = None
    #: Where a copy of every payload sent to ``/logs3`` goes (``payload_copies``), if anywhere.
    payload_copy_dir: Path | None = None
    spill_budget_bytes: int = 500 * 1024 * 1024
    sync_flush: bool = False
    disable_atexit_flush: bool = False

    @classmethod
    def from_env(cls) -> "DeliverySettings":
        retries = env_number("BRAINTRUST_NUM_RETRIES", 4, minimum=0, integer=True)
        max_request = env_str("BRAINTRUST_MAX_REQUEST_SIZE")
        spill = env_str("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR")
        copies = env_str("BRAINTRUST_ALL_PUBLISH_PAYLOADS_DIR")
        return cls(
            flush_timeout_seconds=env_number("BRAINTRUST_FLUSH_TIMEOUT", 10.0, maximum=MAX_WAIT_SECONDS),
            attempts_per_batch=int(retries) + 1,
            read_timeout_seconds=env_number("BRAINTRUST_HTTP_TIMEOUT", 30.0, minimum=0.001, maximum=MAX_WAIT_SECONDS),
            queue_max_rows=int(env_number("BRAINTRUST_QUEUE_SIZE", 100_000, minimum=1, integer=True)),
            batch_max_rows=int(env_number("BRAINTRUST_DEFAULT_BATCH_SIZE", 100, minimum=1, integer=True)),
            max_request_bytes=(
                int(env_number("BRAINTRUST_MAX_REQUEST_SIZE", DEFAULT_MAX_REQUEST_BYTES, minimum=1024, integer=True))
                if max_request
                else None
            ),
            spill_dir=folder_path(spill) if spill else None,
            payload_copy_dir=folder_path(copies) if copies else None,
            sync_flush=env_bool("BRAINTRUST_SYNC_FLUSH"),
            disable_atexit_flush=env_bool("BRAINTRUST_DISABLE_ATEXIT_FLUSH"),
        )


def folder_path(value: str) -> Path:
    """A folder named by a variable: ``~`` expanded (a ``.env`` file or a CI setting does not
    expand it as a shell does) and made absolute, so messages name where the files really are."""
    return Path(value).expanduser().resolve()


def default_project_name() -> str | None:
    """``BRAINTRUST_PROJECT_NAME`` (or the plugin-era ``BRAINTRUST_PROJECT``)."""
    return env_str("BRAINTRUST_PROJECT_NAME") or env_str("BRAINTRUST_PROJECT")


def default_project_id() -> str | None:
    return env_str("BRAINTRUST_PROJECT_ID")


#: The file the API key and the environment's type and name are also read from (as 0.48.1 does).
ENV_FILE = ".env.braintrust"
ENV_FILE_PARENTS = 64


def env_file_value(name: str, start: Path | None = None) -> str | None:
    """``name`` from the nearest ``.env.braintrust`` (in ``start``, default the working
    directory, or one of its 64 nearest parents), read as the public SDK reads it: ``NAME=value``
    lines, an optional ``export``, ``#`` comments, shell quoting, the value's first word. Only the
    nearest file is read. None when there is none, it does not set ``name``, or it cannot be read."""
    here = start or Path(os.getcwd())
    for directory in [here, *list(here.parents)[:ENV_FILE_PARENTS]]:
        try:
            text = (directory / ENV_FILE).read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError):
            return None
        return _env_file_lookup(text, name)
    return None


def _env_file_lookup(text: str, name: str) -> str | None:
    for line in text.splitlines():
        line = line.lstrip()
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, sep, value = line.partition("=")
        if line.startswith("#") or not sep or key.strip() != name:
            continue
        words = shlex.shlex(value.lstrip(), posix=True)
        words.whitespace_split = True
        words.commenters = "#"
        try:
            first = next(iter(words), None)
        except ValueError:  # an unclosed quote
            return None
        return first if first and first.strip() else None
    return None


def env_or_file(name: str) -> str | None:
    """The variable, else its value in the nearest ``.env.braintrust``."""
    return env_str(name) or env_file_value(name)


def find_api_key() -> str | None:
    """``BRAINTRUST_API_KEY`` from the environment, else from the nearest ``.env.braintrust``
    (as a ``Secret``)."""
    return secret(env_or_file("BRAINTRUST_API_KEY"))


class Secret(str):
    """A string (an API key, a header carrying one) whose ``repr`` is masked as
    ``mask_secret`` masks it. Tracebacks with locals (``pytest -l``), debuggers and logged
    containers show values by ``repr``: there the key stays hidden. Everything else (formatting,
    comparison, hashing, encoding) sees the whole value."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(mask_secret(self))


def secret(value: str | None) -> str | None:
    """``value`` as a ``Secret`` (anything but a non-empty string as it is)."""
    return Secret(value) if isinstance(value, str) and value and not isinstance(value, Secret) else value


def mask_secret(secret: str | None) -> str:
    """At most four characters of a secret ever appear in output."""
    if not secret:
        return "<none>"
    if len(secret) <= 8:
        return "****"
    return f"{secret[:2]}*****{secret[-2:]}"  # (as 0.48.1 writes "Invalid API key wr*****ey")
