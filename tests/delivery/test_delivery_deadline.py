"""``Deadline``: sleeps never pass it, and a flush that tightens it wakes a sleeping sender."""

from __future__ import annotations

import threading
import time

import pytest

from braintrust.delivery.deadline import Deadline
from delivery_helpers import FakeClock


def test_a_sleep_that_fits_is_slept():
    clock = FakeClock()
    deadline = clock.deadline(10)
    assert deadline.sleep(3) is True
    assert sum(clock.sleeps) == pytest.approx(3, abs=0.01)
    assert 6.9 < deadline.remaining() <= 7.0


def test_a_sleep_that_would_pass_the_deadline_is_not_started():
    clock = FakeClock()
    deadline = clock.deadline(2)
    assert deadline.sleep(5) is False
    assert clock.sleeps == []
    assert not deadline.expired()


def test_no_deadline_means_no_limit():
    clock = FakeClock()
    deadline = clock.deadline(None)
    assert deadline.sleep(3600) is True and deadline.remaining() == float("inf")


def test_tightening_the_cap_wakes_a_sleeper_at_once():
    cap: list[float | None] = [None]
    wakeup = threading.Event()
    deadline = Deadline(None, cap=lambda: cap[0], wakeup=wakeup)
    outcome: list[bool] = []
    sleeper = threading.Thread(target=lambda: outcome.append(deadline.sleep(30)))
    sleeper.start()
    time.sleep(0.05)
    started = time.monotonic()
    cap[0] = time.monotonic() + 0.2  # a flush with 0.2 s left: the 30 s sleep cannot finish
    wakeup.set()
    sleeper.join(2)
    assert outcome == [False]
    assert time.monotonic() - started < 0.15  # given up at once, not slept until the cap


def test_a_loose_cap_lets_the_sleep_finish():
    cap = [time.monotonic() + 5]
    deadline = Deadline(None, cap=lambda: cap[0], wakeup=threading.Event())
    started = time.monotonic()
    assert deadline.sleep(0.05) is True
    assert time.monotonic() - started >= 0.05
