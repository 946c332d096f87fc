"""Markdown for CI step summaries (GitHub's ``$GITHUB_STEP_SUMMARY``): an experiment's scores
against its baseline, and quality gates. Written by ``pytest --braintrust`` and ``braintrust gate``."""

from __future__ import annotations

import os
from typing import Any

from braintrust.summary import improvement_lines, regression_lines


def md(text: Any) -> str:
    """``text`` safe inside a Markdown table cell (no HTML, no column breaks)."""
    return str(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f}%"


def _diff(value: float | None) -> str:
    if value is None:
        return "–"
    return "±0.00%" if value == 0 else f"{'+' if value > 0 else '-'}{abs(value) * 100:.2f}%"


def summary_lines(summary: Any) -> list[str]:
    """The experiment (linked when it is on Braintrust), its baseline, and a table of scores."""
    compared = f" (compared to `{summary.comparison_experiment_name}`)" if summary.comparison_experiment_name else ""
    title = f"{md(summary.project_name)} / {md(summary.experiment_name)}"
    url = summary.experiment_url or ""
    lines = [(f"**[{title}]({url})**" if url.startswith(("https://", "http://")) else f"**{title}**") + compared, ""]
    coverage = getattr(summary, "case_coverage", None)
    if coverage is not None:
        lines += [md(coverage.describe(summary.comparison_experiment_name)), ""]
    lines += ["| score | value | diff | improvements | regressions |", "|---|---:|---:|---:|---:|"]
    for name, s in summary.scores.items():
        lines.append(f"| {md(name)} | {_pct(s.score)} | {_diff(s.diff)} | {s.improvements or 0} | {s.regressions or 0} |")
    lines.append("")
    changed = [f"- ❌ {md(line)}" for line in regression_lines(summary)] + [f"- ✅ {md(line)}" for line in improvement_lines(summary)]
    return lines + (changed + [""] if changed else [])


def gate_lines(gates: list[Any]) -> list[str]:
    """A table of gates with their verdicts (nothing when there are none)."""
    if not gates:
        return []
    lines = ["| gate | result |", "|---|---|"]
    for gate in gates:
        mark = "❌" if not gate.passed else "➖" if gate.value is None else "✅"  # (➖: nothing to check it against)
        lines.append(f"| {gate.kind} {md(gate.score)} | {mark} {md(gate.message)} |")
    return lines + [""]


def append(text: str) -> str | None:
    """Append ``text`` to ``$GITHUB_STEP_SUMMARY`` when it is set; returns why that failed (None: done
    or not set), never raises."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return None
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        return f"could not append the step summary to {path} ({exc.strerror or exc}); check GITHUB_STEP_SUMMARY"
    return None
