"""``--env-file``: a dotenv-style file read as python-dotenv (0.48.1's ``--env-file``) reads it,
and ``UsageError``, the ``braintrust eval`` command's error for its command line and files."""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["UsageError", "load_env_file", "read_env_file"]


class UsageError(Exception):
    """A problem with the command line or its files: exit status 2."""


def read_env_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """The variables of a dotenv-style file, read as python-dotenv (0.48.1's ``--env-file``) reads
    them: a quoted value may span lines and be followed by a ``#`` comment, a double-quoted one
    takes backslash escapes, and ``${NAME}`` / ``${NAME:-default}`` are replaced (by the
    environment's value, else the file's so far). Raises ``UsageError`` naming the file and line."""
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--env-file {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--env-file {path}: cannot read it ({exc})") from None
    lines = text.splitlines()
    values: dict[str, str] = {}
    index = 0
    while index < len(lines):
        raw = lines[index]
        index += 1
        number = index
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", name):
            # (the line is not quoted: it may be a secret, e.g. ``BRAINTRUST_API_KEY: sk-...``)
            raise UsageError(f"--env-file {path}, line {number}: expected KEY=VALUE, with a name of letters, digits, "
                             "'_' and '.' before the '='")
        value = value.strip()
        if value[:1] in ("'", '"'):
            quote, body = value[0], value[1:]
            while (end := _closing_quote(body, quote)) is None:
                if index == len(lines):
                    raise UsageError(f"--env-file {path}, line {number}: the value of {name} opens a {quote} quote that is never closed")
                body += "\n" + lines[index]
                index += 1
            rest = body[end + 1:].strip()
            if rest and not rest.startswith("#"):
                raise UsageError(f"--env-file {path}, line {number}: unexpected {rest[:40]!r} after the quoted value of {name}; "
                                 f"put the whole value in the quotes")
            value = _unescape(body[:end], quote)
        else:
            comment = re.search(r"\s#", value)  # unquoted: a " #" starts a comment
            value = value[: comment.start()].rstrip() if comment else value
        values[name] = _interpolate(value, values)
    return values


_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_VARIABLE = re.compile(r"\$\{([^}:]+)(?::-([^}]*))?\}")


def _closing_quote(body: str, quote: str) -> int | None:
    """Where ``body``'s closing ``quote`` is (a backslash escapes the character after it)."""
    position = 0
    while position < len(body):
        if body[position] == "\\":
            position += 2
        elif body[position] == quote:
            return position
        else:
            position += 1
    return None


def _unescape(value: str, quote: str) -> str:
    if quote == "'":  # only the quote and the backslash itself
        return re.sub(r"\\([\\'])", r"\1", value)
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), value)


def _interpolate(value: str, earlier: dict[str, str]) -> str:
    def variable(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        current = os.environ.get(name)
        if current is not None and current.strip():
            return current
        if name in earlier:
            return earlier[name]
        return current if current is not None else (default or "")

    return _VARIABLE.sub(variable, value)


def load_env_file(path: str | os.PathLike[str]) -> list[str]:
    """Load the file into ``os.environ`` (set, non-blank variables win); returns the names set."""
    loaded = []
    for name, value in read_env_file(path).items():
        current = os.environ.get(name)
        if current is not None and current.strip():
            continue
        os.environ[name] = value
        loaded.append(name)
    return loaded
