"""GitHub Actions annotations: failed quality gates (and rows that did not reach Braintrust) as
workflow commands, which GitHub shows on the run's page and on the pull request's changes.
Printed by ``pytest --braintrust`` and ``braintrust gate`` only when ``GITHUB_ACTIONS=true``."""

from __future__ import annotations

import os
from typing import Any


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


def _data(text: str) -> str:
    """A workflow command's message, escaped as GitHub requires (one line)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def annotation_lines(gates: list[Any], not_delivered: str | None = None) -> list[str]:
    """``::error`` per failed gate and ``::warning`` for rows not delivered (``not_delivered``:
    what to say, None when every row was); nothing outside GitHub Actions."""
    if not in_github_actions():
        return []
    lines = [f"::error title={_property('Braintrust quality gate')}::{_data(gate.message)}" for gate in gates if not gate.passed]
    if not_delivered:
        lines.append(f"::warning title={_property('Braintrust rows not delivered')}::{_data(not_delivered)}")
    return lines
