"""A minimal progress bar on stderr, drawn only when stderr is a terminal.

While a bar is shown, ``print_above_bar`` prints a message on its own line(s): it erases the bar,
prints, then draws the bar again below the message.
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
_screen = threading.Lock()


class ProgressBar:
    def __init__(self, label: str, total: int, enabled: bool = True, stream: TextIO | None = None):
        self.stream = stream if stream is not None else sys.stderr
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


def print_above_bar(*args: Any, file: TextIO | None = None) -> None:
    """``print(*args, file=file)`` (default stderr); while a bar is shown, on its own line(s) above it."""
    stream = file if file is not None else sys.stderr
    if _shown is None:  # (the usual case: no lock)
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


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False
