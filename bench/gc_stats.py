"""Time spent in the garbage collector, per generation, printed at exit (diagnostics only);
under pytest also the RSS around the session end (flush, summaries).

Imported (``-p gc_stats`` for pytest with bench/ on PYTHONPATH, or ``import gc_stats`` before a
workload) by bench/profile_top.py; never by the benchmarks themselves. At exit it writes one
line to stderr::

    GC-STATS {"0": {"collections": 528, "seconds": 0.027}, "1": {...}, "2": {...}}

A bigger live heap makes every full (generation 2) collection slower, so a plugin that keeps
objects alive slows all of pytest, not only its own frames. Loaded as a pytest plugin it also
writes ``SESSION-RSS {"before_mb", "after_mb", "peak_before_mb", "peak_after_mb"}``: the RSS
and peak RSS when ``pytest_sessionfinish`` starts (every test has run) and when it is done
(the plugins' flushes and summaries ran in between).
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import resource
import sys
import time

_totals = {generation: {"collections": 0, "seconds": 0.0} for generation in (0, 1, 2)}
_started = [0.0]


def _callback(phase: str, info: dict) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        entry = _totals[info["generation"]]
        entry["collections"] += 1
        entry["seconds"] += time.perf_counter() - _started[0]


def _report() -> None:
    sys.__stderr__.write("GC-STATS " + json.dumps({str(g): v for g, v in _totals.items()}) + "\n")
    sys.__stderr__.flush()


gc.callbacks.append(_callback)
atexit.register(_report)


if "pytest" in sys.modules:  # loaded with -p gc_stats
    import pytest

    def _rss_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6

    def _peak_mb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_sessionfinish(session):
        before = {"before_mb": round(_rss_mb(), 1), "peak_before_mb": round(_peak_mb(), 1)}
        yield
        after = {"after_mb": round(_rss_mb(), 1), "peak_after_mb": round(_peak_mb(), 1)}
        sys.__stderr__.write("\nSESSION-RSS " + json.dumps({**before, **after}) + "\n")
        sys.__stderr__.flush()
