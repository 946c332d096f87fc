"""Workload: ``logger.log`` of N typical eval-sized rows, then ``logger.flush()``.

Run unchanged by both interpreters (ours: the system python; the public SDK: the venv python
made by bench/setup_public_sdk.sh); bench/bench_logger.py runs it and reads its output.

    BRAINTRUST_API_KEY=... BRAINTRUST_APP_URL=http://127.0.0.1:PORT python bench/log_rows.py 100000
    BRAINTRUST_LOCAL=1 BRAINTRUST_LOCAL_DIR=/tmp/store python bench/log_rows.py 100000   # ours only

Measures the seconds from the first ``logger.log`` call until ``logger.flush()`` returns, and
memory: the resident set size (from /proc/self/statm) before the first row, after 10k, 50k and
100k rows (those not above N, and N itself) and after the flush, and the peak RSS of the
process (``resource.getrusage(RUSAGE_SELF).ru_maxrss``), and its CPU seconds; after the timed
part, the peak RSS of its child processes (ours into the local store: the store's writer). With ``BENCH_STATS_URL`` set (the test
server's ``/_test/stats``), it also reads how many rows had arrived when ``flush()`` returned
(outside the timed span). Prints one JSON line on stdout.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import urllib.request

import braintrust

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
CHECKPOINTS = (10_000, 50_000, 100_000)

QUESTION = (
    "Given the quarterly report excerpts below, which business unit had the largest change in "
    "operating margin between Q2 and Q3, and what was the main driver cited by management? Answer in "
    "one or two sentences."
)
CONTEXTS = [
    "Q2 report: The cloud services unit posted revenue of $4.1B with an operating margin of 21%, "
    "held back by data-center depreciation and a one-off restructuring charge of $120M. Management "
    "expects the charge not to recur and guided margins upward for the second half of the year.",
    "Q3 report: Cloud services revenue rose to $4.6B and operating margin reached 27%, as the "
    "restructuring charge rolled off and utilization of the new regions improved. Devices revenue "
    "fell 3% on weaker consumer demand; its margin slipped from 12% to 11% on freight costs.",
    "Analyst call transcript: the CFO attributed most of the cloud margin expansion to higher "
    "utilization and lower energy costs under renegotiated contracts, and said pricing was flat. "
    "Advertising margins were stable at 33% while headcount in sales grew by roughly 4 percent.",
]
OUTPUT = (
    "Cloud services had the largest change: its operating margin rose from 21% in Q2 to 27% in Q3, "
    "a six-point increase. Management attributed it mainly to higher utilization of the new data-center "
    "regions and lower energy costs, with the one-off Q2 restructuring charge no longer weighing on "
    "results. Devices slipped one point; advertising was flat."
)
EXPECTED = "Cloud services, up six points (21% to 27%), driven by higher utilization and lower energy costs."


def rss_mb() -> float:
    """Current resident set size in MB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_BYTES / 1e6


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all threads, imports included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def log_row(logger, i: int) -> None:
    """One typical eval row; ``i`` varies the question, the scores and the metadata."""
    logger.log(
        input={"question": f"[{i}] {QUESTION}", "context": CONTEXTS},
        output=OUTPUT,
        expected=EXPECTED,
        scores={"factuality": (i % 100) / 100, "relevance": 1 - (i % 7) / 7},
        metadata={"model": "gpt-4o-mini", "temperature": 0.2, "tags": ["bench", f"shard-{i % 16}"], "case": i},
        metrics={"prompt_tokens": 512 + i % 97, "completion_tokens": 96 + i % 31, "tokens": 608 + i % 128},
    )


def children_peak_rss_mb() -> float | None:
    """Peak RSS of this process's finished child processes in MB, None if there were none.
    Ours logging into the local store has one, the store's writer process: it is stopped
    here, after the timed part. The public SDK has no such processor and starts no children."""
    try:
        from braintrust.delivery.runtime import get_processor

        get_processor().close()
    except Exception:
        pass
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak * 1024 / 1e6 if peak else None


def rows_arrived() -> int | None:
    url = os.environ.get("BENCH_STATS_URL")
    if not url:
        return None
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)["rows_received"]


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    checkpoints = sorted({c for c in CHECKPOINTS if c <= rows} | {rows})

    logger = braintrust.init_logger(project="bench")
    rss = {"start": rss_mb()}

    start = time.perf_counter()
    done = 0
    for checkpoint in checkpoints:
        for i in range(done, checkpoint):
            log_row(logger, i)
        done = checkpoint
        rss[str(checkpoint)] = rss_mb()  # a /proc read: a few µs per checkpoint
    log_seconds = time.perf_counter() - start
    result = logger.flush()
    seconds = time.perf_counter() - start

    rss["after_flush"] = rss_mb()
    describe = getattr(result, "describe", None)  # ours returns a FlushResult, the public SDK None
    flush_result = describe() if describe else None
    arrived = rows_arrived()
    peak, cpu = peak_rss_mb(), cpu_seconds()
    children_peak = children_peak_rss_mb()
    print(
        json.dumps(
            {
                "sdk": getattr(braintrust, "__file__", ""),
                "rows": rows,
                "seconds": seconds,
                "log_seconds": log_seconds,
                "peak_rss_mb": peak,
                "cpu_seconds": cpu,
                "rss_mb": {k: round(v, 1) for k, v in rss.items()},
                "arrived_at_flush": arrived,
                "flush_result": flush_result,
                "children_peak_rss_mb": children_peak,
                "queue_size_env": os.environ.get("BRAINTRUST_QUEUE_SIZE"),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
