"""Which earlier experiment a run in the local store is compared with when none was named.

Braintrust picks the project's most recent experiment. Locally we pick for the way people
iterate: a run of one file, a ``-k`` selection or a ``--lf`` rerun is often followed by a full
run, and the previous experiment would then be the subset, sharing few of the full run's cases
(none, when it was another file). So the baseline is:

1. the most recent earlier experiment of the project that ran every case this one ran;
2. else the one sharing the most cases with it (the more recent on a tie);
3. else (none shares a case, or this one has no rows yet) the previous experiment.

Cases are matched as comparisons match them (``local_compare.input_keys``). Only the
``CANDIDATES`` most recent earlier experiments are read, so the cost stays bounded; the common
case, a rerun of the same suite, reads just the previous one.
"""

from __future__ import annotations

from typing import Any

from braintrust.delivery.backend import EXPERIMENT
from braintrust.local_compare import input_keys

#: How many earlier experiments (newest first) may be read to find the baseline.
CANDIDATES = 10


def default_baseline(store: Any, experiment_id: str) -> dict[str, Any] | None:
    """The experiment record ``experiment_id`` is compared with by default (None: the first of
    its project). ``store`` is a ``LocalStore``."""
    earlier = store.earlier_experiments(experiment_id, CANDIDATES)
    if not earlier:
        return None
    cases = input_keys(store.summary_rows(EXPERIMENT, experiment_id))
    if not cases:
        return earlier[0]
    best, best_shared = earlier[0], 0
    for candidate in earlier:
        shared = len(cases & input_keys(store.summary_rows(EXPERIMENT, candidate["id"])))
        if shared == len(cases):
            return candidate
        if shared > best_shared:
            best, best_shared = candidate, shared
    return best
