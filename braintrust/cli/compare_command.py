"""``braintrust experiments [PROJECT]`` and ``braintrust compare [PROJECT [EXPERIMENT [BASE]]]`` on the local store.

Both read only; they raise ``LookupError`` (message: what exists instead) for an unknown project
or experiment. Scores and metrics come from ``braintrust.local_compare``, the
same numbers an offline ``Eval`` prints in its summary.
"""

from __future__ import annotations

import json
import shlex
from typing import IO, Any, Iterable, Iterator
from urllib.parse import quote

from braintrust.baseline import compare_with_base
from braintrust.cli.store_commands import (
    _existing_project, _names, _printable, _table, _when, git_head, git_short, named_experiment,
)
from braintrust.delivery.backend import EXPERIMENT
from braintrust.local_compare import compare_traces, group_traces
from braintrust.objects.reads import show_arguments
from braintrust.store.location import command_store_args
from braintrust.store.sqlite_store import LocalStore
from braintrust.summary import ExperimentSummary, improvement_lines, regression_lines


def _newest_experiments_project(local: LocalStore) -> dict[str, Any]:
    """The project of the store's newest experiment (the last run, whichever project it was)."""
    experiments = local.list_experiments(None)
    if not experiments:
        raise LookupError(f"no experiment yet in {local.path}.")
    return local.get_project(id=experiments[-1]["project_id"])


def _experiment(local: LocalStore, project: dict[str, Any], experiment: str | None, role: str = "experiment") -> dict[str, Any]:
    """An experiment of ``project`` by name or id (None: the newest)."""
    if experiment is None:
        newest = local.list_experiments(project["id"])
        if not newest:
            raise LookupError(f"project {project['name']!r} has no experiment yet in {local.path}.")
        return newest[-1]
    found = local.get_experiment(project_id=project["id"], name=experiment) or local.get_experiment(id=experiment)
    if found is None or found["project_id"] != project["id"]:
        names = _names(local.list_experiments(project["id"]), newest_last=True)
        command = f"braintrust experiments {shlex.quote(project['name'])}"
        raise LookupError(f"no {role} {experiment!r} in project {project['name']!r}; experiments: {names}. (`{command}` lists them.)")
    return found


class _Counted:
    """The rows of an iterable, counted as they are read (so they need not be held)."""

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self.rows, self.count = rows, 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for row in self.rows:
            self.count += 1
            yield row


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


# -- experiments -------------------------------------------------------------------------------


def experiment_entries(local: LocalStore, project: str | None, last: int | None = None) -> tuple[list[dict[str, Any]], int]:
    """The ``last`` newest experiments (of ``project``, else of all projects; None or 0: every
    one), oldest first, with their counts and score averages; and how many there are in all."""
    chosen = _existing_project(local, project) if project is not None else None
    names = {p["id"]: p["name"] for p in local.list_projects()}
    experiments = local.list_experiments(chosen["id"] if chosen else None)
    entries = []
    for experiment in experiments[-last:] if last else experiments:
        counted = _Counted(local.summary_rows(EXPERIMENT, experiment["id"]))  # (only the fields scores need, streamed)
        grouped = group_traces(counted, inputs=False)
        scores = compare_traces(grouped, None).scores
        base = local.get_experiment(id=experiment["base_exp_id"]) if experiment.get("base_exp_id") else None
        entries.append({
            "project": names.get(experiment["project_id"], experiment["project_id"]),
            "name": experiment["name"],
            "id": experiment["id"],
            "created": experiment["created"],
            "rows": counted.count,
            "traces": len(grouped.traces),
            "base_experiment": base["name"] if base else None,
            "git": git_head(experiment.get("repo_info")),
            "scores": {name: summary.score for name, summary in scores.items()},
        })
    return entries, len(experiments)


def list_experiments(local: LocalStore, project: str | None, out: IO[str], as_json: bool = False, last: int | None = None) -> int:
    entries, total = experiment_entries(local, project, last)
    if as_json:
        out.write(json.dumps(entries, indent=2) + "\n")
        return 0
    if not entries:
        where = f"project {project!r}" if project else str(local.path)
        out.write(f"No experiments in {where} yet.\n")
        return 0
    header = ("EXPERIMENT", "CREATED (UTC)", "GIT", "ROWS", "TRACES", "SCORES")
    if project is None:
        header = ("PROJECT",) + header
    table: list[tuple[str, ...]] = [header]
    for entry in entries:
        scores = "  ".join(f"{name}={_percent(value)}" for name, value in entry["scores"].items()) or "-"
        cells = (entry["name"], _when(entry["created"]), git_short(entry["git"]), str(entry["rows"]), str(entry["traces"]), scores)
        table.append(((entry["project"],) + cells) if project is None else cells)
    shift = 1 if project is None else 0
    which = f"the newest {len(entries)} of {total}, oldest first; --last 0 lists all" if len(entries) < total else "oldest first"
    if project is not None:
        out.write(f"Experiments of project {_printable(project)} ({which})\n")
    else:
        out.write(f"Experiments in {local.path} ({which})\n")
    out.write("\n".join(_table(table, "  ", right=(3 + shift, 4 + shift))) + "\n")
    return 0


# -- compare -----------------------------------------------------------------------------------


def compare_summary(local: LocalStore, project: str | None, experiment: str | None, base: str | None) -> tuple[ExperimentSummary, dict[str, Any] | None]:
    """The summary of ``experiment`` (None: the project's newest; project None: the project of the store's
    newest experiment; a lone experiment name: that one, as ``named_experiment`` says) compared with
    ``base`` (default: its recorded base experiment, else the default baseline, ``braintrust.baseline``;
    none → no comparison) and the base's record."""
    found_project, experiment = named_experiment(local, project, experiment, "compare")
    found_project = found_project or _newest_experiments_project(local)
    current = _experiment(local, found_project, experiment)
    named = _experiment(local, found_project, base, role="base experiment") if base is not None else None
    comparison, base_experiment = compare_with_base(local, current["id"], named)
    # (as the run's own summary prints it: `--` before a name starting with "-", and the store when elsewhere)
    command = f"braintrust show{command_store_args(local.path)}{show_arguments(found_project['name'], current['name'])}"
    # (the links the run's own summary gave: `braintrust eval --jsonl`, `braintrust gate --json`)
    project_url = f"{local.path.as_uri()}?project={quote(found_project['name'])}"
    summary = ExperimentSummary(
        project_name=found_project["name"],
        project_id=found_project["id"],
        experiment_id=current["id"],
        experiment_name=current["name"],
        project_url=project_url,
        experiment_url=f"{project_url}&experiment={quote(current['name'])}",
        comparison_experiment_name=base_experiment["name"] if base_experiment else None,
        scores=comparison.scores,
        metrics=comparison.metrics,
        case_coverage=comparison.coverage,
        local_hint=f"See results for {current['name']} in the local store at {local.path} (run `{command}`)",
    )
    return summary, base_experiment


def compare(local: LocalStore, project: str | None, experiment: str | None, base: str | None, out: IO[str], err: IO[str], as_json: bool = False) -> int:
    summary, base_experiment = compare_summary(local, project, experiment, base)
    if as_json:
        data = summary.as_dict()
        data["comparison_experiment_id"] = base_experiment["id"] if base_experiment else None
        if summary.case_coverage is not None:
            data["compared_inputs"] = summary.case_coverage.as_dict()
        for name, score in summary.scores.items():
            if score.regressed_cases is not None:
                data["scores"][name]["regressed_cases"] = score.regressed_cases
                data["scores"][name]["improved_cases"] = score.improved_cases
        out.write(json.dumps(data, indent=2) + "\n")
    else:
        if base_experiment is None:
            err.write(
                f"braintrust compare: {summary.experiment_name} has no base experiment and is the first experiment of "
                f"project {summary.project_name}; showing its scores alone (pass BASE to compare with another).\n"
            )
        writer = local.running_experiments([summary.experiment_id]).get(summary.experiment_id)
        if writer is not None:
            err.write(f"braintrust compare: {summary.experiment_name} is still being written by a run (process {writer}); "
                      "these are its scores so far.\n")
        out.write(f"{summary}\n")
        for line in regression_lines(summary) + improvement_lines(summary):
            out.write(line + "\n")
    return 0
