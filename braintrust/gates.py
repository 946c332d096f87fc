"""Quality gates on experiment summaries: ``pytest --braintrust-fail-under`` /
``--braintrust-max-regression``, and ``braintrust gate`` (after CI shards joined one experiment).

A gate fails when a score's average is below its bar, or dropped more than the allowed delta
below the baseline. A gate naming a score the run never produced fails too (a typo must not
pass silently), and so does one that cannot be checked because a summary is missing (say,
Braintrust was unreachable): its message says which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

#: Exit status when a quality gate fails (pytest itself uses 0-5).
GATE_FAILED_EXIT_CODE = 10
#: How far below a bar a value may be and still meet it: averages carry floating-point error
#: (the mean of 0.1 and 0.7 is 0.39999999999999997), far below anything a bar can mean.
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Gate:
    score: str
    value: float
    #: Where the gate was written, as the user wrote it (``--braintrust-fail-under``, or an ini
    #: key in its file): the messages about it name that. None: the option ``evaluate`` names.
    source: str | None = field(default=None, compare=False)


@dataclass
class GateResult:
    kind: str  # "fail-under" | "max-regression"
    score: str
    bar: float
    value: float | None
    passed: bool
    message: str
    #: The project and experiment judged (None: the gate found its score in none).
    project: str | None = None
    experiment: str | None = None


def verdict(result: GateResult) -> str:
    """``PASSED``, ``FAILED``, or ``SKIPPED`` (a regression gate with no baseline to check against)."""
    return "FAILED" if not result.passed else "SKIPPED" if result.value is None else "PASSED"


def _pct(value: float) -> str:
    return f"{value * 100:.2f}%"


def _pcts(value: float, bar: float) -> tuple[str, str]:
    """``value`` and ``bar`` as percentages, with as many decimals as it takes to tell them apart
    (83.333% below 83.334%, not 83.33% below 83.33%)."""
    for decimals in range(2, 10):
        shown = f"{value * 100:.{decimals}f}%", f"{bar * 100:.{decimals}f}%"
        if shown[0] != shown[1] or abs(value - bar) <= TOLERANCE:
            return shown
    return shown


def parse_fraction(text: str, option: str) -> float:
    """``0.8``, ``80%`` → 0.8 (``ValueError`` naming ``option`` and the fix otherwise)."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ValueError(f"{option}: {text!r} is not a number; write a fraction (0.8) or a percentage (80%).") from None
    if not 0 <= value <= 1:
        raise ValueError(f"{option}: {text!r} is outside 0..1 (0%..100%); scores are fractions: write 0.8 or 80%.")
    return value + 0.0  # ("-0%": 0, not -0.0, shown "-0.00%")


def parse_gates(text: str | None, option: str, example: str | None = None) -> tuple[Gate, ...]:
    """``exact=0.8,relevance=75%`` → gates (``ValueError`` naming ``option`` and the fix, with
    ``example``: how to write it there, by default ``{option}=exact=0.8,relevance=75%``)."""
    if not text:
        return ()
    gates = []
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep or not name.strip() or not re.match(r"^[^=]+$", name.strip()):
            raise ValueError(f"{option}: {part!r} should look like SCORE=VALUE, e.g. {example or f'{option}=exact=0.8,relevance=75%'}")
        if "=" in value:  # ("exact=0.8 pass=0.9": gates separated by something other than a comma)
            raise ValueError(f"{option}: {part.strip()!r} holds more than one '='; separate gates with commas, "
                             f"e.g. {example or f'{option}=exact=0.8,relevance=75%'}")
        gates.append(Gate(name.strip(), parse_fraction(value, option), source=option))
    if not gates:  # ("," or " ": a value meant to hold gates, such as an unset variable's, holds none)
        raise ValueError(f"{option}: {text!r} names no gate; write SCORE=VALUE, e.g. {example or f'{option}=exact=0.8,relevance=75%'}")
    return tuple(gates)


def evaluate(fail_under: tuple[Gate, ...], max_regression: tuple[Gate, ...], summaries: list[Any],
             summary_missing: str | None = None, option_prefix: str = "--braintrust-",
             scope: str = "this run", unscored: dict[str, str] | None = None) -> list[GateResult]:
    """Check every gate against every experiment summary. ``summary_missing``: why some summary
    is missing, if one is (a score not found is then reported as unchecked). ``unscored``: why
    a score may be missing (a scorer that raised), by score name. Messages name a gate by its
    ``source``, else as ``{option_prefix}fail-under``, and what was judged as ``scope``."""

    def not_found(option: str, gate: Gate) -> str:
        option, score = gate.source or f"{option_prefix}{option}", gate.score
        if summary_missing:
            return f"{option}: score {score!r} could not be checked: {summary_missing}"
        if any(score in (getattr(s, "metrics", None) or {}) for s in summaries):
            return (f"{option}: {score!r} is a metric, not a score; gates judge scores (fractions "
                    f"0..1, higher is better): name a score")
        why = f" ({unscored[score]})" if unscored and score in unscored else ""
        return f"{option}: no score named {score!r} was logged in {scope}{why}"

    results: list[GateResult] = []

    def scores_for(kind: str, gate: Gate) -> list[tuple[Any, Any]]:
        """(summary, the gate's score) of every summary that has it (none found: a failed result
        saying so)."""
        found = [(s, s.scores[gate.score]) for s in summaries if gate.score in s.scores]
        if not found:
            results.append(GateResult(kind, gate.score, gate.value, None, False, not_found(kind, gate)))
        return found

    several = len(summaries) > 1

    def judged(kind: str, gate: Gate, summary: Any, value: float | None, ok: bool, message: str) -> GateResult:
        """A result naming its project and experiment (in the message too, when several were judged)."""
        project, experiment = getattr(summary, "project_name", None), getattr(summary, "experiment_name", None)
        if several:
            message = f"project {project!r} (experiment {experiment!r}): {message}"
        return GateResult(kind, gate.score, gate.value, value, ok, message, project, experiment)

    for gate in fail_under:
        for summary, score in scores_for("fail-under", gate):
            value = score.score if score.score is not None else 0.0
            ok = value >= gate.value - TOLERANCE
            verdict = "meets" if ok else "is below"
            shown, bar = _pcts(value, gate.value)
            results.append(judged("fail-under", gate, summary, value, ok, f"score {gate.score!r} is {shown}, which {verdict} the bar of {bar}"))
    for gate in max_regression:
        for summary, score in scores_for("max-regression", gate):
            coverage = getattr(summary, "case_coverage", None)
            if score.diff is None:
                why = "no input in common with the baseline" if coverage is not None and not coverage.common else "no baseline to compare with"
                results.append(judged("max-regression", gate, summary, None, True, f"score {gate.score!r} has {why}, so this gate was not checked"))
                continue
            drop = -score.diff
            ok = drop <= gate.value + TOLERANCE
            shown, allowed = _pcts(drop, gate.value) if drop > 0 else (None, _pct(gate.value))
            detail = f"dropped {shown}" if drop > 0 else f"changed by {'+' if score.diff > 0 else ''}{_pct(score.diff)}"
            verdict = "within" if ok else "more than"
            against = "the baseline" if coverage is None else f"the baseline on the {coverage.common} input{'s' if coverage.common != 1 else ''} both ran"
            results.append(judged("max-regression", gate, summary, score.diff, ok, f"score {gate.score!r} {detail} against {against}, {verdict} the allowed {allowed}"))
    return results
