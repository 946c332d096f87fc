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

#: Hosts that announce the local store themselves (the pytest plugin's header) silence the
#: one-line notice printed when the first row goes to the local store.
quiet_local_notice = False

#: A ``requests`` adapter installed with ``set_http_adapter`` (mounted on new sessions).
http_adapter: Any = None


def set_http_adapter(adapter: Any) -> None:
    """Use this ``requests`` adapter for every Braintrust request made from now on."""
    global http_adapter
    http_adapter = adapter
