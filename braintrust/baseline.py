"""Which earlier experiment a run in the local store is compared with when none was named, and
the comparison itself, each experiment's rows read once.

Braintrust picks the project's most recent experiment. Locally we pick for the way people
iterate: a run of one file, a ``-k`` selection or a ``--lf`` rerun is often followed by a full
run, and the previous experiment would then be the subset, sharing few of the full run's cases
(none, when it was another file). So the baseline is:

1. the most recent earlier experiment of the project that ran every case this one ran;
2. else the one sharing the most cases with it (the more recent on a tie);
3. else (none shares a case, or this one has no rows yet) the previous experiment.

Only finished experiments are candidates: one another run is still writing (two runs overlapping
on one store, ``store.runs``) holds part of its cases, and comparing with it would report
regressions that are not real. Skipping one is logged, naming it and the process writing it.

Cases are inputs with the pytest tests that ran them (``ExperimentTraces.cases``): a ``-k``
run of one of two tests over one dataset has not run the other's cases. Only the
``CANDIDATES`` most recent earlier experiments are read, so the cost stays bounded; the common
case, a rerun of the same suite, reads just the previous one, and the comparison reuses what
choosing it read (for 10,000 cases that halves the time a summary takes).
"""

from __future__ import annotations

import logging
from typing import Any

from braintrust.delivery.backend import EXPERIMENT
from braintrust.local_compare import ExperimentTraces, LocalComparison, compare_traces, group_traces

log = logging.getLogger("braintrust")

#: How many earlier experiments (newest first) may be read to find the baseline.
CANDIDATES = 10


def default_baseline(store: Any, experiment_id: str) -> dict[str, Any] | None:
    """The experiment record ``experiment_id`` is compared with by default (None: the first of
    its project). ``store`` is a ``LocalStore``."""
    earlier = _finished(store, store.earlier_experiments(experiment_id, CANDIDATES))
    if not earlier:
        return None
    return _choose(store, earlier, _traces_of(store, experiment_id))[0]


def base_of(store: Any, experiment_id: str) -> dict[str, Any] | None:
    """Its recorded base experiment (``base_exp_id``), else the default baseline."""
    return _recorded_base(store, experiment_id) or default_baseline(store, experiment_id)


def compare_with_base(store: Any, experiment_id: str, base: dict[str, Any] | None = None) -> tuple[LocalComparison, dict[str, Any] | None]:
    """Experiment ``experiment_id`` compared with ``base`` (an experiment record), else with
    ``base_of`` it; and the base it was compared with (None: no earlier experiment, no comparison).
    Summarized by the process that created it, the experiment counts as finished from now on."""
    store.finish_experiment(experiment_id)
    base = base or _recorded_base(store, experiment_id)
    if base is not None:
        return compare_traces(_traces_of(store, experiment_id), _traces_of(store, base["id"])), base
    earlier = _finished(store, store.earlier_experiments(experiment_id, CANDIDATES))
    if not earlier:
        return compare_alone(store, experiment_id), None
    current = _traces_of(store, experiment_id)
    base, base_traces = _choose(store, earlier, current)
    return compare_traces(current, base_traces), base


def compare_alone(store: Any, experiment_id: str) -> LocalComparison:
    """Experiment ``experiment_id``'s scores and metrics, compared with nothing."""
    return compare_traces(group_traces(store.summary_rows(EXPERIMENT, experiment_id), inputs=False), None)


def _recorded_base(store: Any, experiment_id: str) -> dict[str, Any] | None:
    experiment = store.get_experiment(id=experiment_id) or {}
    return store.get_experiment(id=experiment["base_exp_id"]) if experiment.get("base_exp_id") else None


def _finished(store: Any, earlier: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``earlier`` without the experiments a live run is still writing (each skip logged)."""
    live = store.running_experiments([record["id"] for record in earlier])
    for record in earlier:
        if record["id"] in live:
            log.warning("braintrust: not comparing with experiment %r: another run (process %d) is still writing it; "
                        "pass it as the base experiment once that run has finished to compare with it.",
                        record["name"], live[record["id"]])
    return [record for record in earlier if record["id"] not in live]


def _traces_of(store: Any, experiment_id: str) -> ExperimentTraces:
    return group_traces(store.summary_rows(EXPERIMENT, experiment_id))


def _choose(store: Any, earlier: list[dict[str, Any]], current: ExperimentTraces) -> tuple[dict[str, Any], ExperimentTraces]:
    """The baseline among ``earlier`` (newest first, not empty) and its traces: the first that
    ran every case (with no case, the previous one), else the one sharing most (the newer on a
    tie; the previous one when none shares a case)."""
    cases = current.cases()
    best, best_shared = None, 0
    for candidate in earlier:
        read = (candidate, _traces_of(store, candidate["id"]))
        shared = len(cases & read[1].cases())
        if shared == len(cases):
            return read
        if best is None or shared > best_shared:
            best, best_shared = read, shared
    return best
