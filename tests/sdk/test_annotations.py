"""GitHub Actions annotations: escaped as workflow commands require, printed only there."""

from __future__ import annotations

from braintrust.annotations import annotation_lines
from braintrust.gates import GateResult


def test_messages_are_escaped_and_only_failed_gates_are_errors(monkeypatch):
    failed = GateResult("fail-under", "exact", 0.8, 0.5, False, "score 'exact' is 50%\nsee 100% of it")
    passed = GateResult("fail-under", "pass", 0.5, 0.9, True, "fine")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert annotation_lines([failed, passed], "3 rows spilled") == [
        "::error title=Braintrust quality gate::score 'exact' is 50%25%0Asee 100%25 of it",
        "::warning title=Braintrust rows not delivered::3 rows spilled",
    ]
    monkeypatch.setenv("GITHUB_ACTIONS", "false")
    assert annotation_lines([failed], "3 rows spilled") == []
