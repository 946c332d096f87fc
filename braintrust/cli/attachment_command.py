"""``braintrust attachment KEY``: an attachment's bytes out of the local store.

``braintrust show`` prints an attachment as ``[attachment NAME TYPE KEY8]``; the key (or the
first characters of it, when they name one attachment) gets the bytes, into ``--output FILE``,
or onto standard output when that is not a terminal. Saved into a folder, the file is named after
the attachment's filename with any folder part dropped (a logged name such as ``../../.bashrc``
must not write outside the folder).
"""

from __future__ import annotations

import os
import sqlite3
import sys
from typing import IO, Any

from braintrust.store.sqlite_store import LocalStore


def find_attachment(local: LocalStore, key: str) -> dict[str, Any]:
    """The attachment whose key is ``key`` or starts with it; ``LookupError`` otherwise."""
    found = local.get_attachment(key)
    if found is not None:
        return found
    try:
        rows = local.connection().execute(
            "SELECT key FROM attachments WHERE key >= ? AND key < ? ORDER BY key LIMIT 3", (key, key + "\uffff")
        ).fetchall()
    except sqlite3.OperationalError as exc:  # (a store from before attachments, read where it cannot be upgraded)
        if "no such table" not in str(exc):
            raise
        rows = []
    if not rows:
        raise LookupError(f"no attachment with a key starting {key!r} in the local store {local.path}")
    if len(rows) > 1:
        keys = ", ".join(row[0] for row in rows)
        raise LookupError(f"{key!r} starts several attachments' keys ({keys}{', ...' if len(rows) == 3 else ''}); give more of it")
    return local.get_attachment(rows[0][0])  # type: ignore[return-value]


def file_name_in_folder(filename: Any, key: str) -> str:
    """The attachment's filename as one plain name inside a folder: its last path component
    (``/`` or ``\\``), without control characters; ``attachment-KEY8`` when nothing usable is left."""
    name = str(filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if char.isprintable())
    return name if name not in ("", ".", "..") else f"attachment-{key[:8]}"


def save_attachment(local: LocalStore, key: str, output: str | None, out: IO[bytes], err: IO[str], out_is_terminal: bool) -> int:
    attachment = find_attachment(local, key)
    name = file_name_in_folder(attachment["filename"], attachment["key"])
    if output is None and out_is_terminal:
        err.write(f"braintrust: {name} ({attachment['content_type']}, {attachment['byte_size']} bytes) is not "
                  f"printed to a terminal: add --output {name}, or redirect the output.\n")
        return 2
    if output is None:
        out.write(attachment["data"])
        out.flush()
        return 0
    target = os.path.join(output, name) if os.path.isdir(output) else output
    with open(target, "wb") as handle:
        handle.write(attachment["data"])
    err.write(f"braintrust: wrote {name} ({attachment['content_type']}, {attachment['byte_size']} bytes) to {target}\n")
    return 0


def default_streams() -> tuple[IO[bytes], bool]:
    return sys.stdout.buffer, sys.stdout.isatty()
