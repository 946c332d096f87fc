"""Test reports → the case's outcome, ``pass`` score and error text.

| pytest result              | ``outcome``  | ``pass`` | error logged                         |
|----------------------------|--------------|----------|--------------------------------------|
| passed                     | ``passed``   | 1        | –                                    |
| failed in the call         | ``failed``   | 0        | message and the test's ``file:line`` |
| error in setup / teardown  | ``error``    | 0        | the error, prefixed with the phase   |
| skipped                    | ``skipped``  | none     | –  (reason in metadata)              |
| xfail, failed as expected  | ``xfailed``  | 0        | –  (reason in metadata)              |
| xfail, but passed          | ``xpassed``  | 1        | –  (strict xpass: ``failed``, 0)     |
| interrupted (Ctrl-C,       | ``interrupted`` | none  | what stopped it, with the phase      |
| ``pytest.exit``; not after |              |          |                                      |
| a failure: quitting        |              |          |                                      |
| ``--pdb`` keeps ``failed``)|              |          |                                      |

An exception raised below the test (a helper, a library) also names where it was raised.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
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
    """The exception's message and where: the line of the test file that failed, and where the
    exception was raised when that is elsewhere (a helper, a library, this SDK)."""
    longrepr = report.longrepr
    crash = getattr(longrepr, "reprcrash", None)
    if crash is None:
        return str(longrepr)
    where = f"{crash.path}:{crash.lineno}"
    in_test = _last_line_in(longrepr, report.location[0])
    if in_test is not None and in_test != (os.path.basename(crash.path), crash.lineno):
        where = f"{report.location[0]}:{in_test[1]} (raised at {where})"
    return f"{crash.message}\n{where}"


def _last_line_in(longrepr: Any, test_file: str) -> tuple[str, int] | None:
    """(file name, line) of the last traceback entry in ``test_file``, if pytest kept entries."""
    entries = getattr(getattr(longrepr, "reprtraceback", None), "reprentries", None) or []
    wanted = test_file.replace(os.sep, "/")
    for entry in reversed(entries):
        location = getattr(entry, "reprfileloc", None)
        if location is not None and str(location.path).replace(os.sep, "/").endswith(wanted):
            return os.path.basename(str(location.path)), location.lineno
    return None


def outcome_of(reports: dict[str, pytest.TestReport]) -> Outcome:
    """Combine the setup/call/teardown reports of one test item."""
    duration = sum(r.duration for r in reports.values())
    setup, call, teardown = reports.get("setup"), reports.get("call"), reports.get("teardown")
    if setup is not None and setup.failed:
        return Outcome("error", 0.0, f"error in setup: {error_text(setup)}", "setup", duration=duration)
    if setup is not None and setup.skipped:
        return _skipped(setup, duration)
    if call is None:
        return Outcome("skipped", None, duration=duration)
    if hasattr(call, "wasxfail"):
        if call.skipped:
            return Outcome("xfailed", 0.0, reason=call.wasxfail or None, duration=duration)
        if call.passed:
            result = Outcome("xpassed", 1.0, reason=call.wasxfail or None, duration=duration)
            return _with_teardown(result, teardown)
    if call.failed:
        result = Outcome("failed", 0.0, error_text(call), "call", duration=duration)
        return result
    if call.skipped:
        return _skipped(call, duration)
    return _with_teardown(Outcome("passed", 1.0, duration=duration), teardown)


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
    if teardown is not None and teardown.failed:
        return Outcome("error", 0.0, f"error in teardown: {error_text(teardown)}", "teardown", duration=result.duration)
    return result
