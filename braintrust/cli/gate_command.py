"""``braintrust gate PROJECT EXPERIMENT``: an experiment's summary, judged by quality gates.

For CI shards that joined one experiment (``pytest --braintrust-experiment-id ID`` on each
machine): no shard sees the whole experiment when it finishes, so a last job, after every shard,
judges it with the same gates as ``pytest --braintrust-fail-under/--braintrust-max-regression``.
It reads Braintrust when ``BRAINTRUST_API_KEY`` is set, else the local store, and appends the
summary and the verdicts to ``$GITHUB_STEP_SUMMARY`` when that is set.

Exit status: 0 every gate passed (or none was given); 1 the experiment could not be found or
summarized; 2 usage error; 10 a gate failed (as pytest's).
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from braintrust import step_summary
from braintrust.annotations import annotation_lines
from braintrust.gates import GATE_FAILED_EXIT_CODE, Gate, evaluate, parse_gates, verdict
from braintrust.summary import ExperimentSummary, improvement_lines, regression_lines, report_entry

GATE_OPTIONS = "--"  # this command names the gates --fail-under and --max-regression


def add_gate_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "gate",
        help="summarize an experiment and fail (exit 10) when a quality gate fails: the last job after CI shards",
        description="Summarize an experiment (of Braintrust with BRAINTRUST_API_KEY, else of the local store) "
        "and judge it with quality gates, as pytest --braintrust-fail-under/--braintrust-max-regression do.",
    )
    parser.add_argument("project", help="project name")
    parser.add_argument("experiment", help="experiment name (or id)")
    parser.add_argument("--base", help="experiment to compare with (default: its base experiment, else, in the local store, the last run of the same cases)")
    parser.add_argument("--fail-under", action="append", metavar="SCORE=VALUE[,...]",
                        help="fail when a score's average is below VALUE (0.8 or 80%%); repeatable")
    parser.add_argument("--max-regression", action="append", metavar="SCORE=DELTA[,...]",
                        help="fail when a score dropped more than DELTA below the base; repeatable")
    parser.add_argument("--json", metavar="PATH", help="also write the summary and the gates as JSON to PATH")
    parser.add_argument("--store", help="without BRAINTRUST_API_KEY: the local store folder or database file "
                        "(default: .braintrust/ in the project root)")
    parser.set_defaults(func=cmd_gate)


def _experiment(project: str, name_or_id: str) -> dict[str, Any]:
    """An existing experiment's identity, by name (else by id, as CI shards joined it with
    ``--braintrust-experiment-id``); ``LookupError`` naming it when there is none."""
    from braintrust.delivery.backend import BackendError
    from braintrust.objects.experiment import init
    from braintrust.objects.reads import reads

    try:
        found = init(project=project, experiment=name_or_id, open=True)
        return {"experiment_id": found.id, "experiment_name": found.name, "project_name": project}
    except BackendError as exc:
        by_name_error = str(exc)
    try:
        identity = reads().experiment_identity(name_or_id)
    except BackendError:
        identity = None
    if identity is None:
        raise LookupError(by_name_error)
    if identity.get("project_name") not in (None, project):
        raise LookupError(f"experiment {name_or_id!r} is in project {identity['project_name']!r}, not {project!r}; "
                          f"name that project: braintrust gate {shlex.quote(identity['project_name'])} {shlex.quote(name_or_id)}")
    return {**identity, "project_name": identity.get("project_name") or project}


def _local_experiment(store: Any, project: str, name_or_id: str) -> dict[str, Any]:
    """As ``_experiment``, read from the local store ``store`` without writing to it."""
    owner = store.get_project(name=project)
    found = store.get_experiment(project_id=owner["id"], name=name_or_id) if owner else None
    if found is None:
        found = store.get_experiment(id=name_or_id)
        owner = store.get_project(id=found["project_id"]) if found else None
    if found is None:
        raise LookupError(f"Experiment {name_or_id!r} not found in project {project!r} of the local store; "
                          "`braintrust list` shows the experiments it holds.")
    if owner is not None and owner["name"] != project:
        raise LookupError(f"experiment {name_or_id!r} is in project {owner['name']!r}, not {project!r}; "
                          f"name that project: braintrust gate {shlex.quote(owner['name'])} {shlex.quote(name_or_id)}")
    return {"experiment_id": found["id"], "experiment_name": found["name"], "project_id": found["project_id"], "project_name": project}


def _local_summary(store: Any, project: str, experiment: str, base: str | None) -> ExperimentSummary:
    """The experiment's summary (against ``base``, else its default) from the store this command
    opened, as a run's own summary reads it (the SDK's reader would open the default store)."""
    from braintrust.objects.experiment import attach_experiment
    from braintrust.objects.reads import LocalReads

    identity = _local_experiment(store, project, experiment)
    base_id = _local_experiment(store, project, base)["experiment_id"] if base else None
    return LocalReads(store).summarize_experiment(attach_experiment(identity).ref, True, base_id)


def _gates(given: list[str] | None, option: str) -> tuple[Gate, ...]:
    """The gates of every ``option`` given (each may be given more than once); one given with
    no gate in it (``--fail-under "$UNSET"``) is a ``ValueError``, not a run with no gate."""
    if given is None:
        return ()
    gates = tuple(gate for text in given for gate in parse_gates(text, option))
    if not gates:
        raise ValueError(f"{option}: no gate given ({given[-1]!r}); write SCORE=VALUE, e.g. {option} exact=0.8,relevance=75%")
    return gates


#: Options whose empty value (an unset variable's: ``--base "$BASE"``) would silently mean
#: something else (the default base, no JSON file), with the fix.
_NON_EMPTY = {"base": "give the name (or id) of the experiment to compare with", "json": "give the path to write, e.g. --json gate.json"}


def _check_non_empty(args: argparse.Namespace) -> None:
    for dest, fix in _NON_EMPTY.items():
        value = getattr(args, dest)
        if value is not None and not value.strip():
            raise ValueError(f"--{dest}: an empty value names nothing; {fix}, or leave the option out.")


def cmd_gate(args: argparse.Namespace) -> int:
    try:
        _check_non_empty(args)
        fail_under = _gates(args.fail_under, "--fail-under")
        max_regression = _gates(args.max_regression, "--max-regression")
    except ValueError as exc:
        print(f"braintrust gate: {exc}", file=sys.stderr)
        return 2
    from braintrust.delivery import policy
    from braintrust.objects.experiment import attach_experiment
    from braintrust.state import global_state

    if global_state().is_local():
        # The store the other commands read (found as they find it; never a new, empty one),
        # only read: a read-only or busy store is judged too, and `--store FILE` is that file.
        from braintrust.cli.main import _read_store

        found: list[ExperimentSummary] = []
        status = _read_store(args, lambda store: found.append(_local_summary(store, args.project, args.experiment, args.base)))
        if not found:
            return status or 1
        summary = found[0]
    elif args.store:
        print("braintrust gate: --store is for the local store; with BRAINTRUST_API_KEY set this reads Braintrust.", file=sys.stderr)
        return 2
    else:
        policy.quiet_local_notice = True  # (it says "writing to"; this command only reads)
        try:
            identity = _experiment(args.project, args.experiment)
            base_id = _experiment(args.project, args.base)["experiment_id"] if args.base else None
            summary = attach_experiment(identity).summarize(comparison_experiment_id=base_id)
        except LookupError as exc:
            print(f"braintrust: {exc}", file=sys.stderr)
            return 1
    if summary.comparison_status == "skipped" and not summary.scores:
        print(f"braintrust: could not summarize experiment {args.experiment!r}: {summary.skip_description()}", file=sys.stderr)
        return 1
    print(summary)
    for line in regression_lines(summary) + improvement_lines(summary):
        print(line)
    results = evaluate(fail_under, max_regression, [summary], option_prefix=GATE_OPTIONS,
                       scope=f"experiment {args.experiment!r}")
    for result in results:
        print(f"gate {verdict(result)}: {result.message}")
    if args.json:
        document = {"schema_version": 1, "experiments": [report_entry(summary)], "gates": [r.__dict__ for r in results]}
        path = Path(args.json)
        try:
            step_summary.write_json(path, document)
        except OSError as exc:  # reported; the verdict below still stands
            print(f"braintrust: could not write the JSON summary to {path} ({exc.strerror or exc}); check --json", file=sys.stderr)
    headline = "❌ a gate failed" if any(not r.passed for r in results) else "✅ every gate passed" if results else "no gates given"
    problem = step_summary.append(
        "\n".join([f"## Braintrust gate: {headline}", "", *step_summary.summary_lines(summary), *step_summary.gate_lines(results)]) + "\n"
    )
    if problem:
        print(f"braintrust: {problem}", file=sys.stderr)
    for line in annotation_lines(results):
        print(line)
    if any(not result.passed for result in results):
        print(f"braintrust: a quality gate failed; exit status {GATE_FAILED_EXIT_CODE}", file=sys.stderr)
        return GATE_FAILED_EXIT_CODE
    return 0
