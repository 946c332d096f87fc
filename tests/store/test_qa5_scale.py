"""The store commands at scale: memory that must not grow with an experiment's rows.

Each check is a scaled-down run (a few thousand rows) measured with ``tracemalloc``: a command
that reads every row of an experiment into memory at once grows with the rows; one that reads
them page by page stays flat (or holds only the small per-trace aggregates it needs)."""

from __future__ import annotations

import io
import tracemalloc

from braintrust.cli.compare_command import experiment_entries
from braintrust.cli.store_commands import show_experiment
from braintrust.store.sqlite_store import LocalStore

BIG = "x" * 4000  # (a row's bulk: what holding every row would cost)


def _experiment(store: LocalStore, project: str, name: str, traces: int) -> str:
    project_id = store.get_or_create_project(project)["id"]
    experiment = store.create_experiment(project_id, name)["id"]
    rows = []
    for n in range(traces):
        trace = f"{name}-{n}"
        rows.append({"id": f"{trace}-root", "span_id": trace, "root_span_id": trace, "span_parents": None,
                     "experiment_id": experiment, "input": {"n": n, "text": BIG}, "output": BIG,
                     "span_attributes": {"name": f"case-{n}"}, "scores": {"pass": n % 2}})
        rows.append({"id": f"{trace}-task", "span_id": f"{trace}-t", "root_span_id": trace, "span_parents": [trace],
                     "experiment_id": experiment, "output": BIG, "error": "boom" if n == traces - 1 else None})
    store.write_rows(rows)
    return experiment


def _peak(call) -> tuple[int, object]:
    tracemalloc.start()
    try:
        result = call()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def _store(tmp_path, traces: int) -> LocalStore:
    store = LocalStore(tmp_path / f"s{traces}" / "braintrust.sqlite")
    _experiment(store, "p", "e", traces)
    store.count_rows("experiment", store.get_experiment(name="e")["id"])  # (the fold, outside the measure)
    return store


def _shown(store: LocalStore, **options) -> str:
    out = io.StringIO()
    assert show_experiment(store, "p", "e", out, **options) == 0
    return out.getvalue()


def test_show_of_the_first_traces_does_not_hold_every_row(tmp_path):
    small, large = _store(tmp_path, 1000), _store(tmp_path, 4000)
    small_peak, _ = _peak(lambda: _shown(small, limit=5))
    large_peak, text = _peak(lambda: _shown(large, limit=5))
    assert "rows:     8000" in text and "4000 traces, the first 5 shown" in text
    assert text.count("case-") == 5
    # Holding the rows makes the peak grow 4x with them; reading them page by page, it stays put.
    assert large_peak < 2 * small_peak, (small_peak, large_peak)


def test_show_of_a_case_or_of_errors_does_not_hold_every_row(tmp_path):
    small, large = _store(tmp_path, 1000), _store(tmp_path, 4000)
    small_peak, _ = _peak(lambda: _shown(small, case="case-7", limit=50))
    large_peak, text = _peak(lambda: _shown(large, case="case-7", limit=50))
    assert text.endswith("111 of 4000 traces with 'case-7' in the name or input; the first 50 shown (--limit 0 shows all)\n")
    assert large_peak < 2 * small_peak, (small_peak, large_peak)
    _, errors = _peak(lambda: _shown(large, errors_only=True))
    assert errors.endswith("0 of 4000 traces with an error\n")  # (the error is the task's, not the root's)


def test_experiments_listing_does_not_hold_an_experiments_rows(tmp_path):
    store = _store(tmp_path, 4000)
    peak, (entries, total) = _peak(lambda: experiment_entries(store, "p"))
    assert total == 1 and entries[0]["rows"] == 8000 and entries[0]["traces"] == 4000
    assert entries[0]["scores"] == {"pass": 0.5}
    # The rows' inputs alone are 16 MB; the per-trace aggregates a listing needs are far less.
    assert peak < 6_000_000, peak
