"""Test reports → the case's outcome, ``pass`` score and error text.

| pytest result              | ``outcome``  | ``pass`` | error logged                         |
|----------------------------|--------------|----------|--------------------------------------|
| passed                     | ``passed``   | 1        | –                                    |
| failed in the call         | ``failed``   | 0        | assertion message and ``file:line``  |
| error in setup / teardown  | ``error``    | 0        | the error, prefixed with the phase   |
| skipped                    | ``skipped``  | none     | –  (reason in metadata)              |
| xfail, failed as expected  | ``xfailed``  | 0        | –  (reason in metadata)              |
| xfail, but passed          | ``xpassed``  | 1        | –  (strict xpass: ``failed``, 0)     |
"""

from __future__ import annotations

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


def _error_text(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return f"{crash.message}\n{crash.path}:{crash.lineno}"
    return str(longrepr)


def outcome_of(reports: dict[str, pytest.TestReport]) -> Outcome:
    """Combine the setup/call/teardown reports of one test item."""
    duration = sum(r.duration for r in reports.values())
    setup, call, teardown = reports.get("setup"), reports.get("call"), reports.get("teardown")
    if setup is not None and setup.failed:
        return Outcome("error", 0.0, f"error in setup: {_error_text(setup)}", "setup", duration=duration)
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
        result = Outcome("failed", 0.0, _error_text(call), "call", duration=duration)
        return result
    if call.skipped:
        return _skipped(call, duration)
    return _with_teardown(Outcome("passed", 1.0, duration=duration), teardown)


def _skipped(report: pytest.TestReport, duration: float) -> Outcome:
    reason = None
    if isinstance(report.longrepr, tuple) and len(report.longrepr) == 3:
        reason = str(report.longrepr[2])
    return Outcome("skipped", None, reason=reason, duration=duration)


def _with_teardown(result: Outcome, teardown: Any) -> Outcome:
    if teardown is not None and teardown.failed:
        return Outcome("error", 0.0, f"error in teardown: {_error_text(teardown)}", "teardown", duration=result.duration)
    return result
