"""Process-wide delivery policy switches set by the host (the pytest plugin)."""

from __future__ import annotations

from typing import Any

#: How long a producer waits for room in a full queue before its row spills to disk.
#: Outside pytest rows spill at once; under pytest the producer waits briefly (back-pressure).
PYTEST_QUEUE_FULL_WAIT_SECONDS = 0.1

queue_full_wait_seconds = 0.0


def enable_pytest_backpressure() -> None:
    global queue_full_wait_seconds
    queue_full_wait_seconds = PYTEST_QUEUE_FULL_WAIT_SECONDS

#: How many batches' worth of writes the sender waits for before it takes them (and how long at
#: most), and so how far ahead a producer may get before it paces. A test suite logs a steady
#: trickle (two rows per test); taking it in rounds of 100 rows woke the sender, and moved the
#: GIL between it and the tests, ten times as often as rounds of 1,000 (about 4 % of a run of
#: trivial tests). ``LINGER_SECONDS`` / one batch outside pytest (see ``processor``).
PYTEST_ROUND_BATCHES = 10
PYTEST_LINGER_SECONDS = 0.25
round_batches = 1
linger_seconds: float | None = None  # None: ``processor.LINGER_SECONDS``


def enable_pytest_rounds() -> None:
    global round_batches, linger_seconds
    round_batches, linger_seconds = PYTEST_ROUND_BATCHES, PYTEST_LINGER_SECONDS

#: Hosts that announce the local store themselves (the pytest plugin's header) silence the
#: one-line notice printed when the first row goes to the local store.
quiet_local_notice = False

#: A ``requests`` adapter installed with ``set_http_adapter`` (mounted on new sessions).
http_adapter: Any = None


def set_http_adapter(adapter: Any) -> None:
    """Use this ``requests`` adapter for every Braintrust request made from now on."""
    global http_adapter
    http_adapter = adapter
