"""What a run reports: the terminal summary, ``$GITHUB_STEP_SUMMARY`` Markdown and the JSON
summary file (``--braintrust-json``). The JSON schema (version 1)::

    {"schema_version": 1,
     "experiments": [{"project", "experiment", "experiment_id", "link", "comparison_experiment",
                      "compared_inputs" (local store, when the base ran other inputs): {"common", "this_run", "base"},
                      "scores":  {name: {"score", "diff", "improvements", "regressions",
                                         "regressed_cases", "improved_cases" (local store: the cases' names)}},
                      "metrics": {name: {"value", "unit", "diff", "improvements", "regressions"}}}],
     "cases": {"total": n, "passed": n, "failed": n, "error": n, "skipped": n, "xfailed": n, "xpassed": n, "interrupted": n},
     "scorer_errors": {scorer: {"cases": n, "first": "case name: ExceptionType: message"}},
     "gates": [{"kind", "score", "bar", "value", "passed", "message", "project", "experiment"}],
     "gates_skipped": why the gates given were not applied (or some not), else null,
     "delivery": {"produced", "accepted", "spilled", "dropped": {reason: n}, "spill_files": [...],
                  "errors": [why rows were not delivered, each once],
                  "attachments_stored", "attachments_spilled", "attachments_dropped": {reason: n}},
     "errors": [...]}
"""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest

from braintrust import step_summary
from braintrust.annotations import annotation_lines
from braintrust.cli.terminal import escape_controls
from braintrust.gates import GATE_FAILED_EXIT_CODE, verdict
from braintrust.summary import improvement_lines, regression_lines, report_entry
from pytest_braintrust.xdist import WORKERS_START

OUTCOMES = ("passed", "failed", "error", "skipped", "xfailed", "xpassed", "interrupted")


def junit_score_property(name: str) -> str:
    """The JUnit XML property of score ``name``: ``braintrust.score.<name>``, each character XML
    cannot hold (a control character, half a surrogate pair) as ``?``. Written as it is, such a
    name stopped pytest from writing the file (a lone surrogate) or made it unreadable."""
    if not name.isprintable() or not name.isascii():
        name = "".join(char if _xml_char(char) else "?" for char in name)
    return f"braintrust.score.{name}"


def _xml_char(char: str) -> bool:
    code = ord(char)
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000


def summary_document(run: Any) -> dict[str, Any]:
    counts = run.outcome_counts()
    return {
        "schema_version": 1,
        "experiments": [report_entry(s) for s in run.summaries],
        "cases": {"total": sum(counts.values()), **{o: counts.get(o, 0) for o in OUTCOMES}},
        "scorer_errors": run.scorer_failures(),
        "gates": [gate.__dict__ for gate in run.gates],
        "gates_skipped": run.gates_skipped,  # (else an empty "gates" read as none given, or all passed)
        "delivery": run.delivery_counts(),
        "errors": list(run.errors),
    }


def write_outputs(run: Any) -> None:
    """The JSON summary and the step summary. A file that cannot be written is reported in
    ``run.errors`` (shown in the terminal summary); it never ends the run with a traceback."""
    if run.settings.json_path is not None:
        path = run.settings.json_path
        try:
            step_summary.write_json(path, summary_document(run))
        except OSError as exc:
            run.errors.append(f"could not write the JSON summary to {path} ({exc.strerror or exc}); check --braintrust-json")
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        problem = step_summary.append(markdown(run))
        if problem:
            run.errors.append(problem)


def markdown(run: Any) -> str:
    """A GitHub step summary: scores against the baseline (with the terminal's notes on them),
    gates, delivery (and why rows were not delivered)."""
    lines = ["## Braintrust eval results", "", f"{case_breakdown(run)}.", ""]
    failures = scorer_failure_lines(run)
    if failures:
        lines += [f"- {step_summary.md(line)}" for line in failures] + [""]
    for summary in run.summaries:
        lines += step_summary.summary_lines(summary)
    if run.notes:  # (say, that the scores above leave out rows this run did not deliver)
        lines += [f"- {step_summary.md(note)}" for note in run.notes] + [""]
    if run.gates_skipped:
        lines += [step_summary.md(run.gates_skipped), ""]
    lines += step_summary.gate_lines(run.gates)
    counts = run.delivery_counts()
    dropped = sum(counts["dropped"].values())
    lines.append(f"Rows: {counts['accepted']} delivered, {counts['spilled']} spilled, {dropped} dropped{attachment_counts(counts)[0]}.")
    lines += [f"Not delivered: {step_summary.md(error)}" for error in counts["errors"]]
    return "\n".join(lines) + "\n\n"


def _by_reason(counts: dict[str, int]) -> str:
    """`` (spill_failed: 2, deadline: 1)`` for the nonzero counts (empty when there are none)."""
    shown = ", ".join(f"{reason}: {count}" for reason, count in sorted(counts.items()) if count)
    return f" ({shown})" if shown else ""


def attachment_counts(delivery: dict[str, Any]) -> tuple[str, int]:
    """``"; attachments: 3 stored, 1 spilled"`` (empty when the run logged none), and how many
    were spilled or dropped."""
    dropped = sum(delivery["attachments_dropped"].values())
    lost = delivery["attachments_spilled"] + dropped
    if not delivery["attachments_stored"] and not lost:
        return "", 0
    text = f"; attachments: {delivery['attachments_stored']} stored"
    if lost:
        text += f", {delivery['attachments_spilled']} spilled, {dropped} dropped{_by_reason(delivery['attachments_dropped'])}"
    return text, lost


def case_breakdown(run: Any) -> str:
    """``11 eval cases: 10 passed, 1 failed`` (over this process and every worker)."""
    counts = run.outcome_counts()
    breakdown = ", ".join(f"{counts[o]} {o}" for o in OUTCOMES if counts.get(o))
    unreported = f" (and {run.unreported_cases} not reported back: see below)" if run.unreported_cases else ""
    total = sum(counts.values())
    return f"{total} eval case{'' if total == 1 else 's'}" + (f": {breakdown}" if breakdown else "") + unreported


def scorer_failure_lines(run: Any) -> list[str]:
    """One line per scorer that raised: its score is missing from those cases, which the
    score averages alone would not show."""
    lines = []
    for scorer, failure in sorted(run.scorer_failures().items()):
        if failure["cases"] == 1:
            where = f"1 case ({failure['first']}); its score is missing there, and the score span holds the traceback"
        else:
            where = (f"{failure['cases']} cases (first: {failure['first']}); its score is missing there, "
                     "and the score spans hold the tracebacks")
        lines.append(f"scorer {scorer!r} failed in {where}")
    return lines


#: Exit statuses of runs that went through their tests (not a usage or internal error, not Ctrl-C).
RAN_ITS_TESTS = (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED)


def terminal_summary(run: Any, tr: Any, exitstatus: int = pytest.ExitCode.OK) -> None:
    """The ``Braintrust`` section of pytest's terminal summary. Every line goes through ``_write``:
    names, messages and errors come from user code and may hold escape sequences."""
    if run.runs_nothing:
        return
    tr.write_sep("=", "Braintrust", bold=True)  # (as pytest's own sections: after the progress line ends)
    _write(tr, case_breakdown(run))
    ran_normally = exitstatus in RAN_ITS_TESTS and not tr.stats.get("error")  # (else pytest says what went wrong)
    if not sum(run.outcome_counts().values()) and not run.unreported_cases and ran_normally:
        deselected = run.deselected_tests()
        skipped_modules = sum(1 for report in tr.stats.get("skipped", ()) if isinstance(report, pytest.CollectReport))
        if deselected:  # (-k, -m, --lf... may have left the cases out)
            _write(tr, f"({deselected} deselected test{'s' if deselected != 1 else ''} not run)")
        elif skipped_modules:  # (pytest.skip(allow_module_level=True), importorskip: their cases never collected)
            _write(tr, f"({skipped_modules} module{'s' if skipped_modules != 1 else ''} skipped at collection: "
                       "see pytest's short summary for why)")
        else:
            _write(tr, "(a test is an eval case when marked @eval_case(...) or @pytest.mark.braintrust, "
                       "or when it requests the braintrust_case fixture)")
    for line in scorer_failure_lines(run):
        _write(tr, line, yellow=True)
    if not run.settings.no_summary:
        for summary in run.summaries:
            for line in str(summary).splitlines():
                _write(tr, line)
            for line in regression_lines(summary):
                _write(tr, line, red=True)
            for line in improvement_lines(summary):
                _write(tr, line, green=True)
            _write(tr, "")
        for note in run.notes:
            _write(tr, note, yellow=True)
    else:  # (where the results went still shows: the header saying so is gone under -q)
        for summary in run.summaries:
            where = summary.results_line()
            if where:
                _write(tr, where)
    for gate in run.gates:
        word = verdict(gate)
        _write(tr, f"gate {word}: {gate.message}", red=word == "FAILED", green=word == "PASSED", yellow=word == "SKIPPED")
    if run.gates_skipped:
        _write(tr, run.gates_skipped, yellow=True)
    delivery = run.delivery_counts()
    dropped = sum(delivery["dropped"].values())
    line = f"rows: {delivery['accepted']} sent, {delivery['spilled']} spilled, {dropped} dropped{_by_reason(delivery['dropped'])}"
    attachments, attachments_lost = attachment_counts(delivery)
    _write(tr, f"{line}{attachments} (flush {run.flush_seconds:.2f}s)", red=bool(delivery["spilled"] or dropped or attachments_lost))
    if delivery["spill_files"]:
        folder = os.path.dirname(delivery["spill_files"][-1])
        what = "spilled rows are" if delivery["spilled"] else "spilled attachments are"
        _write(tr, f"{what} kept in {folder}; send them with `braintrust replay {folder}`{_store_hint(folder)}", red=True)
    for error in delivery["errors"]:
        _write(tr, f"braintrust: {error}", red=True)
    for error in run.errors:
        # (the xdist controller's login failing as the workers' did: told once, above)
        if not any(error == f"{WORKERS_START}: {shown}" for shown in delivery["errors"]):
            _write(tr, f"braintrust: {error}", red=True)
    if any(not gate.passed for gate in run.gates):
        _write(tr, f"braintrust: a quality gate failed; exit status {GATE_FAILED_EXIT_CODE}", red=True)
    elif run.failures_waived:  # (pytest's own line still says "failed")
        too_many = _warnings_over_limit(tr)
        status = f"exit status 0, but {too_many}" if too_many else "exit status 0"
        _write(tr, "braintrust: --braintrust-gates-only: failing eval cases lower the scores but do not fail the run; "
                   f"{status}", yellow=True)
    lost = f"{delivery['spilled']} rows spilled and {dropped} dropped" if delivery["spilled"] or dropped else None
    if attachments_lost:
        lost = (f"{lost}; " if lost else "") + f"{attachments_lost} attachments not stored"
    if lost and delivery["spill_files"]:
        lost += f"; send what was spilled with `braintrust replay {os.path.dirname(delivery['spill_files'][-1])}`"
    for line in annotation_lines(run.gates, lost):
        _write(tr, line)


def _warnings_over_limit(tr: Any) -> str | None:
    """Why pytest 9.2's ``--max-warnings`` (or ini ``max_warnings``) will set exit status 6 on a
    run this summary calls 0: pytest checks it after the terminal summary, on a status of 0 (the
    one ``--braintrust-gates-only`` leaves). None when no limit is set or it is met."""
    config = getattr(tr, "config", None)
    if config is None:  # (no terminal reporter: pytest checks no limit then)
        return None
    limit = getattr(config.option, "max_warnings", None)
    if limit is None:
        try:
            limit = config.getini("max_warnings")
        except ValueError:  # (pytest before 9.2 has no such key)
            return None
    try:
        limit = int(limit) if limit is not None else None
    except (TypeError, ValueError):  # (pytest itself reports a limit that is not a number)
        return None
    count = len(tr.stats.get("warnings", ()))
    if limit is None or count <= limit:
        return None
    return f"pytest's --max-warnings sets exit status {int(pytest.ExitCode.MAX_WARNINGS_ERROR)} ({count} warnings > {limit})"


class _StreamReporter:
    """What ``terminal_summary`` uses of pytest's terminal reporter, on a stream of its own: for
    runs without one (``-p no:terminal``). Colour as pytest's: ``NO_COLOR``, ``FORCE_COLOR``,
    ``PY_COLORS``, a tty or not."""

    def __init__(self, stream: Any) -> None:
        from _pytest._io import TerminalWriter  # (pytest names it publicly nowhere)

        self._tw = TerminalWriter(file=stream)
        self.stats: dict[str, list[Any]] = {}  # (pytest's counts are not known here)

    def write_sep(self, sep: str, title: str, **markup: bool) -> None:
        self._tw.sep(sep, title, **markup)

    def write_line(self, line: str, **markup: bool) -> None:
        self._tw.line(line, **markup)


def summary_without_terminal(run: Any, exitstatus: int) -> None:
    """The ``Braintrust`` section on stderr when pytest runs without its terminal reporter
    (``-p no:terminal``): else a failed gate's exit status 10, rows spilled and where the results
    went would go unexplained."""
    terminal_summary(run, _StreamReporter(sys.stderr), exitstatus)


def _write(tr: Any, line: str, **markup: bool) -> None:
    """``tr.write_line`` with control characters (but tabs) as escapes (``\\x1b``): a score or
    experiment name holding an escape sequence must not drive the terminal or a CI log. So are
    the characters the output's encoding cannot hold (``PYTHONIOENCODING=ascii``, a lone
    surrogate), each alone: else pytest escapes the whole line, backslashes too."""
    stream = getattr(getattr(tr, "_tw", None), "_file", None) or sys.stdout  # (pytest has no public name for it)
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        line = escape_controls(line).encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:  # (an encoding Python does not know: pytest's own fallback stands)
        line = escape_controls(line)
    tr.write_line(line, **markup)


def _store_hint(spill_folder: str) -> str:
    """Rows that could not go into the local store (it cannot be written) spill to a private
    folder; replayed as they are they would fail again: say how to send them to another store."""
    from braintrust.state import global_state
    from braintrust.store.location import spill_dir

    if not global_state().is_local() or os.path.abspath(spill_folder) == os.path.abspath(spill_dir()):
        return ""
    return " (or, if the local store still cannot be written, to another one: `--store FOLDER`)"
