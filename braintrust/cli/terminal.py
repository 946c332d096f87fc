"""The ``braintrust`` command's output streams, as a shell user meets them.

Names, errors and values in a store are whatever code logged: a character the output's
encoding cannot hold (``PYTHONIOENCODING=ascii``) is written as its Python escape instead of
failing the command, and the store commands write control characters (an escape sequence or a
carriage return in a name, a coloured error message) as their escapes, so that what they print
neither drives the terminal nor leaves escape codes in a file it is redirected to.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Any, Iterator

#: Control characters (C0 but newline and tab, DEL, C1) -> their Python escapes, for ``str.translate``.
_ESCAPES = {code: f"\\x{code:02x}" for code in [*range(0x20), *range(0x7F, 0xA0)] if chr(code) not in "\n\t"}


def escape_controls(text: str) -> str:
    """``text`` with its control characters, but newlines and tabs, as Python escapes."""
    return text.translate(_ESCAPES)


class _ControlEscaping:
    """A text stream that writes control characters as their escapes; all else is the stream's."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(escape_controls(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def never_fail_to_encode() -> None:
    """Make stdout write what its encoding cannot hold as escapes (stderr already does)."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        try:
            reconfigure(errors="backslashreplace")
        except (ValueError, OSError):  # a closed or unusual stream: left as it is
            pass


@contextmanager
def escaped_controls() -> Iterator[None]:
    """Within it, ``sys.stdout`` and ``sys.stderr`` escape control characters (see the module)."""
    saved = sys.stdout, sys.stderr
    if sys.stdout is not None and sys.stderr is not None:  # (None: no console at all)
        sys.stdout, sys.stderr = _ControlEscaping(sys.stdout), _ControlEscaping(sys.stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
