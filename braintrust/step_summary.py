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


#: Characters that start emphasis, strikethrough or a code span wherever they are.
_INLINE = re.compile(r"([*~`])")
#: An underscore emphasizes unless it is inside a word (``non_empty`` is plain text as it is).
_UNDERSCORE = re.compile(r"(?<![^\W_])_|_(?![^\W_])")


def md(text: Any) -> str:
    """``text`` shown as written inside a Markdown table cell or list item: one line, no HTML,
    no column breaks (a backslash is escaped too, or ``\\|`` would end the cell), no emphasis
    or code span made of its ``*``, ``_``, ``~`` or backticks."""
    text = _BREAKS.sub(" ", str(text))
    text = text.replace("\\", "\\\\").replace("|", "\\|").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _UNDERSCORE.sub(r"\\_", _INLINE.sub(r"\\\1", text))


def _link_text(text: Any) -> str:
    """``text`` as a link's text: ``md`` with its brackets escaped too (a ``]`` would end the text
    early, breaking the link)."""
    return md(text).replace("[", "\\[").replace("]", "\\]")


def _code(text: str) -> str:
    """``text`` as a code span, shown as written whatever backticks it holds (its fence is longer
    than any run of them; a backtick at an end is set off by a space)."""
    text = _BREAKS.sub(" ", text)
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _url(url: str) -> str:
    """``url`` as a link's destination (a space or parenthesis there would end it)."""
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.2f}%"


def _diff(value: float | None) -> str:
    if value is None:
        return "–"
    return "±0.00%" if value == 0 else f"{'+' if value > 0 else '-'}{abs(value) * 100:.2f}%"


def summary_lines(summary: Any) -> list[str]:
    """The experiment (linked when it is on Braintrust), its baseline, and a table of scores."""
    base = summary.comparison_experiment_name
    compared = f" (compared to {_code(base)})" if base else ""
    url = summary.experiment_url or ""
    if url.startswith(("https://", "http://")):
        title = f"[{_link_text(summary.project_name)} / {_link_text(summary.experiment_name)}]({_url(url)})"
    else:
        title = f"{md(summary.project_name)} / {md(summary.experiment_name)}"
    lines = [f"**{title}**{compared}", ""]
    coverage = getattr(summary, "case_coverage", None)
    if coverage is not None:
        lines += [md(coverage.describe(summary.comparison_experiment_name)), ""]
    if getattr(summary, "comparison_status", "success") == "skipped":
        # (an empty table would read as "no scores"; they are unknown)
        return lines + [f"Summary skipped: {md(summary.skip_description())}", ""]
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
    """Append ``text`` to ``$GITHUB_STEP_SUMMARY`` when it is set, whole or not at all; returns why
    that failed (None: done or not set), never raises."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return None
    # (errors="replace": a lone surrogate, from a scorer's error say, must not end the run)
    data = text.encode("utf-8", errors="replace")
    try:
        with open(path, "ab", buffering=0) as handle:  # (unbuffered: nothing left to write at close)
            start = os.fstat(handle.fileno()).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[handle.write(view):]
            except OSError:
                # A full disk took part of it: cut it off, or the page ends in half a table.
                handle.truncate(start)
                raise
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
