"""Test reports → the case's outcome, ``pass`` score and error text.

| pytest result              | ``outcome``  | ``pass`` | error logged                         |
|----------------------------|--------------|----------|--------------------------------------|
| passed                     | ``passed``   | 1        | –                                    |
| failed in the call         | ``failed``   | 0        | message and the test's ``file:line`` |
| error in setup / teardown  | ``error``    | 0        | the error, prefixed with the phase   |
| skipped                    | ``skipped``  | none     | –  (reason in metadata)              |
| xfail, failed as expected  | ``xfailed``  | 0        | –  (reason in metadata; also an      |
|                            |              |          | xfail before the body: ``run=False``)|
| xfail, but passed          | ``xpassed``  | 1        | –  (strict xpass: ``failed``, 0)     |
| interrupted (Ctrl-C,       | ``interrupted`` | none  | what stopped it, with the phase      |
| ``pytest.exit``; not after |              |          |                                      |
| a failure: quitting        |              |          |                                      |
| ``--pdb`` keeps ``failed``)|              |          |                                      |

An exception raised below the test (a helper, a library) also names where it was raised. A
teardown error after a failure is added to its error; after a skip it makes the case ``error``.
A teardown that skips or xfails (``pytest.skip``/``pytest.xfail`` in a fixture's teardown, an
error an xfail mark expected) after a pass makes the case that outcome (phase ``teardown``).
A test whose subtests failed (``self.subTest``, the ``subtests`` fixture) is ``failed``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

import pytest


@dataclass
class Outcome:
    outcome: str
    passed: float | None
    error: str | None = None
    phase: str | None = None
    reason: str | None = None
    duration: float = 0.0


def error_text(report: pytest.TestReport) -> str:
    """The exception's message and where: the line of the test that failed, and where the
    exception was raised when that is elsewhere (a helper, in the test file or not, a library,
    this SDK)."""
    longrepr = report.longrepr
    crash = getattr(longrepr, "reprcrash", None)
    if crash is None:
        return str(longrepr)
    where = f"{crash.path}:{crash.lineno}"
    test_file = report.location[0]
    in_test = _test_line(longrepr, test_file)
    if in_test is not None:
        raised_here = os.path.basename(crash.path) == os.path.basename(test_file) and crash.lineno == in_test
        where = f"{test_file}:{in_test}" + ("" if raised_here else f" (raised at {where})")
    elif report.location[1] is not None and os.path.basename(crash.path) != os.path.basename(test_file):
        # (no traceback in the test: pytest.fail(pytrace=False) by a plugin, say): the test's own line
        where = f"{test_file}:{report.location[1] + 1} (raised at {where})"
    elif str(crash.path).replace(os.sep, "/").endswith(test_file.replace(os.sep, "/")):
        # (no traceback entries to look in: --tb=native, line or no): the file as pytest names it
        where = f"{test_file}:{crash.lineno}"
    return f"{crash.message}\n{where}"


def _test_line(longrepr: Any, test_file: str) -> int | None:
    """The line of the first traceback entry in ``test_file`` (the test's own frame: pytest's
    traceback starts there), if pytest kept entries."""
    entries = getattr(getattr(longrepr, "reprtraceback", None), "reprentries", None) or []
    wanted = test_file.replace(os.sep, "/")
    for entry in entries:
        location = getattr(entry, "reprfileloc", None)
        if location is not None and str(location.path).replace(os.sep, "/").endswith(wanted):
            return location.lineno
    return None


def outcome_of(reports: dict[str, pytest.TestReport], failed_subtests: int = 0) -> Outcome:
    """Combine the setup/call/teardown reports of one test item (``failed_subtests``: how many
    of its subtests failed)."""
    duration = sum(r.duration for r in reports.values())
    result = _before_teardown(reports.get("setup"), reports.get("call"), duration, failed_subtests)
    return _with_teardown(result, reports.get("teardown"))


def _before_teardown(setup: Any, call: Any, duration: float, failed_subtests: int) -> Outcome:
    if setup is not None and setup.failed:
        return Outcome("error", 0.0, f"error in setup: {error_text(setup)}", "setup", duration=duration)
    report = call if setup is None or not setup.skipped else setup
    if report is None:
        return Outcome("skipped", None, duration=duration)
    if hasattr(report, "wasxfail"):
        if report.skipped:
            return Outcome("xfailed", 0.0, reason=report.wasxfail or None, duration=duration)
        if report.passed:
            return Outcome("xpassed", 1.0, reason=report.wasxfail or None, duration=duration)
    if report.failed:
        return Outcome("failed", 0.0, error_text(report), "call", duration=duration)
    if report.skipped:
        return _skipped(report, duration)
    if failed_subtests:  # (pytest fails the test itself for the ``subtests`` fixture's, not unittest's)
        plural = "s" if failed_subtests > 1 else ""
        return Outcome("failed", 0.0, f"contains {failed_subtests} failed subtest{plural}", "call", duration=duration)
    return Outcome("passed", 1.0, duration=duration)


def interrupted_outcome(reports: dict[str, pytest.TestReport], stop: BaseException) -> Outcome:
    """The test was stopped in the middle (``KeyboardInterrupt``, ``pytest.exit``): pytest made
    no report for the phase that was running, so it is the first one missing. A phase that had
    already failed keeps its outcome (``--pdb`` opened on the failure, then the user quit it)."""
    if any(report.failed for report in reports.values()):
        return outcome_of(reports)
    phase = next(when for when in ("setup", "call", "teardown") if when not in reports)
    message = str(stop).strip()
    what = type(stop).__name__ + (f": {message}" if message else "")
    duration = sum(r.duration for r in reports.values())
    return Outcome("interrupted", None, f"interrupted in {phase}: {what}", phase, duration=duration)


def _skipped(report: pytest.TestReport, duration: float) -> Outcome:
    reason = None
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        reason = str(report.longrepr[2])
    return Outcome("skipped", None, reason=reason, duration=duration)


def _with_teardown(result: Outcome, teardown: Any) -> Outcome:
    """A teardown error: added to the error of a case that already had one, else the outcome.
    A teardown that skipped (``pytest.skip``/``xfail`` in a fixture's teardown, or an error an
    xfail mark expected) is the outcome of a case that had passed, as JUnit XML records it."""
    if teardown is None:
        return result
    if teardown.skipped and result.outcome in ("passed", "xpassed"):
        if hasattr(teardown, "wasxfail"):
            return Outcome("xfailed", 0.0, phase="teardown", reason=teardown.wasxfail or None, duration=result.duration)
        return replace(_skipped(teardown, result.duration), phase="teardown")
    if not teardown.failed:
        return result
    error = f"error in teardown: {error_text(teardown)}"
    if result.error:
        return replace(result, error=f"{result.error}\n{error}")
    return Outcome("error", 0.0, error, "teardown", duration=result.duration)
