"""A minimal progress bar on stderr, drawn only when stderr is a terminal.

While a bar is shown, ``print_above_bar`` prints a message on its own line(s): it erases the bar,
prints, then draws the bar again below the message. What tasks write to ``sys.stdout`` or
``sys.stderr`` (a ``print``) meanwhile goes above the bar the same way, a line at a time, when
that stream is a terminal: each is replaced until the bar closes.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, TextIO

WIDTH = 24

#: The bar on the terminal now, if any (messages printed meanwhile go above it).
_shown: ProgressBar | None = None
#: Held while the bar's line is written (messages may come from task threads).
_screen = threading.RLock()


class ProgressBar:
    def __init__(self, label: str, total: int, enabled: bool = True, stream: TextIO | None = None):
        self.stream = stream if stream is not None else sys.stderr
        if isinstance(self.stream, _AboveBar):  # (another bar is shown)
            self.stream = self.stream.stream
        self.label = label
        self.total = total
        self.done = 0
        self.enabled = enabled and _is_tty(self.stream) and total > 0
        self._last_draw = 0.0
        self._drawn = False
        self._text = ""

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if self.done >= self.total or now - self._last_draw >= 0.1:
            self._last_draw = now
            with _screen:
                self._draw()

    def _draw(self) -> None:
        """(with ``_screen`` held)"""
        global _shown
        filled = int(WIDTH * self.done / self.total) if self.total else WIDTH
        bar = "#" * filled + "-" * (WIDTH - filled)
        self._text = f"{self.label} (tasks): [{bar}] {self.done}/{self.total}"
        try:
            self.stream.write(f"\r{self._text}")
            self.stream.flush()
            _redirect()  # (again after another bar, closing, put the streams back)
            self._drawn = True
            _shown = self
        except (OSError, ValueError):
            self.enabled = False

    def _erase(self) -> None:
        """(with ``_screen`` held) Blank the bar's line and put the cursor at its start."""
        try:
            self.stream.write("\r" + " " * len(self._text) + "\r")
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False

    def close(self) -> None:
        global _shown
        with _screen:
            if _shown is self:
                _shown = None
            if self.enabled and self._drawn:
                try:
                    self.stream.write("\n")
                    self.stream.flush()
                except (OSError, ValueError):
                    pass
            self.enabled = False
            if _shown is None:
                _restore()


def print_above_bar(*args: Any, file: TextIO | None = None) -> None:
    """``print(*args, file=file)`` (default stderr); while a bar is shown, on its own line(s) above it."""
    stream = file if file is not None else sys.stderr
    if _shown is None or isinstance(stream, _AboveBar):  # (the usual case: no lock)
        print(*args, file=stream)
        return
    with _screen:
        bar = _shown
        if bar is None or not bar.enabled:
            print(*args, file=stream)
            return
        bar._erase()
        try:
            print(*args, file=stream)
            stream.flush()
        finally:
            bar._draw()


class _AboveBar:
    """``sys.stdout`` or ``sys.stderr`` while a bar is shown: each complete line written goes
    above the bar; a partial line waits for its end (or for the bar to close)."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.partial = ""
        self.replacing = True  # (False once put back: a reference kept to it writes through)

    def write(self, text: str) -> int:
        if not self.replacing:
            return self.stream.write(text)
        with _screen:
            lines, newline, self.partial = (self.partial + text).rpartition("\n")
            if newline:
                bar = _shown if _shown is not None and _shown.enabled else None
                if bar is not None:
                    bar._erase()
                self.stream.write(lines + newline)
                self.stream.flush()
                if bar is not None:
                    bar._draw()
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _redirect() -> None:
    """(with ``_screen`` held) Route what is printed to the terminal meanwhile above the bar."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, _AboveBar) and _is_tty(stream):
            setattr(sys, name, _AboveBar(stream))


def _restore() -> None:
    """(with ``_screen`` held) Put back the streams ``_redirect`` replaced, with what waits in them."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if isinstance(stream, _AboveBar):
            setattr(sys, name, stream.stream)
            stream.replacing = False
            try:
                stream.stream.write(stream.partial)
                stream.stream.flush()
            except (OSError, ValueError):
                pass
            stream.partial = ""


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False
