"""Markdown for CI step summaries (GitHub's ``$GITHUB_STEP_SUMMARY``): an experiment's scores
against its baseline, and quality gates; and the JSON summary file. Written by ``pytest
--braintrust`` and ``braintrust gate``."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from braintrust.files import write_atomically
from braintrust.summary import improvement_lines, regression_lines


#: Line breaks and other control characters: one would end a table row or a list item early.
_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def md(text: Any) -> str:
    """``text`` shown as written inside a Markdown table cell or list item: one line, no HTML,
    no column breaks (a backslash is escaped too, or ``\\|`` would end the cell)."""
    text = _BREAKS.sub(" ", str(text))
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f}%"


def _diff(value: float | None) -> str:
    if value is None:
        return "–"
    return "±0.00%" if value == 0 else f"{'+' if value > 0 else '-'}{abs(value) * 100:.2f}%"


def summary_lines(summary: Any) -> list[str]:
    """The experiment (linked when it is on Braintrust), its baseline, and a table of scores."""
    base = summary.comparison_experiment_name
    compared = f" (compared to `{_BREAKS.sub(' ', base)}`)" if base else ""
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
        # (errors="replace": a lone surrogate, from a scorer's error say, must not end the run)
        with open(path, "a", encoding="utf-8", errors="replace") as handle:
            handle.write(text)
    except OSError as exc:
        return f"could not append the step summary to {path} ({exc.strerror or exc}); check GITHUB_STEP_SUMMARY"
    return None


def write_json(path: Path, document: Any) -> None:
    """Write ``document`` to ``path`` (its folders made) atomically: a reader, such as a later CI
    step, finds the whole new file or the file that was there, never part of one. Raises ``OSError``."""
    target = Path(os.path.realpath(path))  # (a symbolic link stays one: its target is replaced)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, indent=2, default=str) + "\n"
    # (mode 0666 less the umask, as a plain write's: the file is for other CI steps to read)
    write_atomically(target, text.encode("utf-8"), 0o666)
