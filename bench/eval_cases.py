"""Workload: ``Eval`` over N trivial cases with one scorer, timed until everything is flushed.

Run unchanged by both interpreters (ours: the system python; the public SDK 0.48.1: the venv
python made by bench/setup_public_sdk.sh); bench/bench_eval.py runs it and reads its output.

    BRAINTRUST_API_KEY=test-api-key BRAINTRUST_APP_URL=http://127.0.0.1:PORT python bench/eval_cases.py 10000
    BRAINTRUST_LOCAL=1 BRAINTRUST_LOCAL_DIR=/tmp/store python bench/eval_cases.py 10000   # ours only

The call measured::

    Eval("bench-eval", data=[{"input": i, "expected": i} for i in range(N)],
         task=<identity>, scores=[exact])

Both SDKs flush the experiment inside ``Eval`` before it returns; ``braintrust.flush()`` is
called afterwards anyway (a no-op when nothing is left) and is inside the timed span, so the
time runs from just before ``Eval`` until every row has been handed over (to the server, or
written to the local store). Building the data list and importing the SDK are outside it
(the import is timed separately).

Memory: the peak RSS of the process (``ru_maxrss``) and the RSS when the task is called for
cases 1k, 2k, 5k and 10k (those below N; read from /proc/self/statm inside the task, which is
otherwise ``lambda x: x``). With ``BENCH_STATS_URL`` set (the test server's stats URL), it
also reads the server's counters right after ``Eval`` returns (outside the timed span).
Prints one JSON line on stdout (the last line starting with ``{``).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import urllib.request

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
CHECKPOINTS = (1_000, 2_000, 5_000, 10_000, 20_000, 50_000)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_BYTES / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def server_stats() -> dict | None:
    url = os.environ.get("BENCH_STATS_URL")
    if not url:
        return None
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def main() -> None:
    cases = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    rss = {"before_import": rss_mb()}
    started_import = time.perf_counter()
    import braintrust
    from braintrust import Eval

    import_seconds = time.perf_counter() - started_import
    rss["after_import"] = rss_mb()

    sample_at = {c for c in CHECKPOINTS if c < cases}

    def task(x):
        if x in sample_at:  # x is the case number: sample RSS when the x-th case's task runs
            rss[str(x)] = rss_mb()
        return x

    def exact(input, output, expected):
        return 1.0 if output == expected else 0.0

    data = [{"input": i, "expected": i} for i in range(cases)]
    rss["before_eval"] = rss_mb()

    start = time.perf_counter()
    result = Eval("bench-eval", data=data, task=task, scores=[exact])
    eval_seconds = time.perf_counter() - start
    braintrust.flush()
    seconds = time.perf_counter() - start

    rss["after_eval"] = rss_mb()
    stats = server_stats()
    results = getattr(result, "results", None) or []
    errors = sum(1 for r in results if getattr(r, "error", None) is not None)
    scores = [(getattr(r, "scores", None) or {}).get("exact") for r in results]
    print(
        json.dumps(
            {
                "sdk": getattr(braintrust, "__file__", ""),
                "cases": cases,
                "seconds": seconds,
                "eval_seconds": eval_seconds,
                "ms_per_case": seconds * 1000 / cases,
                "import_seconds": import_seconds,
                "peak_rss_mb": peak_rss_mb(),
                "cpu_seconds": cpu_seconds(),
                "rss_mb": {k: round(v, 1) for k, v in rss.items()},
                "results": len(results),
                "errors": errors,
                "exact_sum": sum(s for s in scores if s is not None),
                "server_at_return": stats,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
