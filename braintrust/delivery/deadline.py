"""Deadlines for delivery work: every wait and every request is bounded by one of these.

A ``Deadline`` can be tightened while it runs (a flush at exit caps the background sender's
batch deadline) and its sleeps wake early when that happens. Clock and sleep are injectable so
retry tests run in milliseconds.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Callable


#: The longest single wait: a day. (A ``Retry-After`` of 1e10 seconds, a wait the system's
#: timers cannot hold, raised ``OverflowError`` from the sleep.)
MAX_SLEEP_SECONDS = 86400.0


class Deadline:
    def __init__(
        self,
        seconds: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        cap: Callable[[], float | None] | None = None,
        wakeup: threading.Event | None = None,
        sleeper: Callable[[float], None] | None = None,
    ):
        self._clock = clock
        self.end = math.inf if seconds is None else clock() + seconds
        self._cap = cap
        self._wakeup = wakeup
        self._sleeper = sleeper

    def _effective_end(self) -> float:
        cap = self._cap() if self._cap is not None else None
        return self.end if cap is None else min(self.end, cap)

    def remaining(self) -> float:
        return max(0.0, self._effective_end() - self._clock())

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds``; False, at once, when the sleep would end past the deadline.

        A wait that cannot finish before the deadline is pointless (nothing can be sent after
        it), so it is not started. If the deadline is tightened while sleeping (a flush caps the
        sender's deadline and sets ``wakeup``), the sleep re-checks and gives up at once too.
        """
        wanted_end = self._clock() + max(0.0, seconds)
        while True:
            now = self._clock()
            end = self._effective_end()
            if wanted_end > end or now >= end:
                return False
            budget = min(wanted_end - now, MAX_SLEEP_SECONDS)  # (the loop sleeps the rest)
            if budget <= 0:
                return True
            if self._sleeper is not None:
                self._sleeper(budget)
            elif self._wakeup is not None:
                if self._wakeup.wait(budget):
                    self._wakeup.clear()
            else:
                time.sleep(budget)

