"""Benchmark: ``Eval`` over N trivial cases with one scorer, ours vs the public SDK, until flushed.

    python bench/bench_eval.py                         # 10,000 cases (and 2,000 for memory), all three cases
    python bench/bench_eval.py --cases 2000 --repeat 3 --skip-public --json bench/results/eval.json

The workload is bench/eval_cases.py, run unchanged by both interpreters in a fresh process and a
fresh temporary folder per run::

    Eval("bench-eval", data=[{"input": i, "expected": i} for i in range(N)], task=<identity>, scores=[exact])

timed from just before ``Eval`` until it returns and ``braintrust.flush()`` has returned (both
SDKs flush inside ``Eval``; the extra flush is a no-op then). Cases:

* ``ours-server``:   our package (the system python) into the loopback test server
  (bench/count_server.py: ``tests.btserver`` in count-only mode, also counting distinct rows),
  started in another process, fresh for every run;
* ``public-server``: the public SDK (braintrust==0.48.1 in bench/.venvs/public-sdk, made by
  bench/setup_public_sdk.sh) into the same kind of server. Its queue drops the oldest rows when
  full (25,000 by default), so it runs with ``BRAINTRUST_QUEUE_SIZE=1000000``; ours uses defaults;
* ``ours-local``:    our package into the embedded local store (``BRAINTRUST_LOCAL=1``, a fresh
  folder); the public SDK has no local store.

Rows are counted on arrival. Every case is three spans -- the root (type ``eval``), the task
and the scorer's span (type ``score``) -- so 3N distinct rows are expected, N of each type. At
the server: distinct ``(object, row id)`` keys and their span types when ``Eval`` returns and
again after the process exits (a span written as a start row plus merge rows is one distinct
row; ``writes`` counts every row write). In the local store: distinct ids per experiment in
``row_log`` (braintrust/store/schema.sql) after the process exits. Fewer distinct rows than
expected is a loud MISMATCH (for the public SDK it is reported as what arrived).

Memory: the workload's peak RSS (``ru_maxrss``), its RSS when the task runs for case 1k and 5k
and after ``Eval``; each case also runs once with ``--small`` cases (2,000), and the table gives
the slope between the two peaks in KB per case: "flat" means at most FLAT_KB_PER_CASE.

With ``--repeat K`` the runs are interleaved (so a busy machine hurts all cases alike) and the
run with the median time is reported, plus the best. Targets: ours-server at most a fifth of
the public SDK's ms per case, and memory flat in the number of cases.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from common import API_KEY, BENCH, TestServer, clean_env, git_tree, run_json_workload, setup_public_sdk, short

WORKLOAD = BENCH / "eval_cases.py"
PUBLIC_PYTHON = BENCH / ".venvs" / "public-sdk" / "bin" / "python"
PUBLIC_QUEUE_SIZE = "1000000"
SPANS_PER_CASE = ("eval", "task", "score")  # root, task, one scorer
TARGET_RATIO = 0.20  # ours ms/case <= a fifth of the public SDK's
FLAT_KB_PER_CASE = 2.0  # peak RSS growth per extra case that still counts as flat
UNIT = "cases"
RUN_TIMEOUT_SECONDS = 3600


def run_workload(python: Path | str, cases: int, env: dict, workdir: Path) -> dict:
    """eval_cases.py for ``cases`` cases, in ``workdir``."""
    return run_json_workload(python, WORKLOAD, cases, env, workdir, RUN_TIMEOUT_SECONDS)


def count_store_rows(store_dir: Path) -> dict:
    """Distinct rows, row writes and distinct rows per span type of every experiment in the
    local store (rows are appended to ``row_log``; see braintrust/store/schema.sql)."""
    databases = sorted(store_dir.rglob("*.sqlite"))
    if not databases:
        return {"distinct_rows": 0, "rows_received": 0, "distinct_by_span_type": {}, "experiments": 0}
    with sqlite3.connect(databases[0]) as db:
        per_experiment = db.execute(
            "SELECT object_id, count(DISTINCT id), count(*) FROM row_log WHERE object_type = 'experiment' GROUP BY object_id"
        ).fetchall()
        by_span = dict(db.execute(
            "SELECT t, count(DISTINCT id) FROM (SELECT id, json_extract(data, '$.span_attributes.type') AS t "
            "FROM row_log WHERE object_type = 'experiment') WHERE t IS NOT NULL GROUP BY t"
        ).fetchall())
    return {
        "distinct_rows": sum(r[1] for r in per_experiment),
        "rows_received": sum(r[2] for r in per_experiment),
        "distinct_by_span_type": by_span,
        "experiments": len(per_experiment),
    }


def spill_files(folder: Path) -> int:
    return sum(1 for path in folder.rglob("*") if path.is_file() and "spill" in path.parts)


def run_case(case: str, cases: int) -> dict:
    """One run of one case in a fresh temporary folder (and a fresh server)."""
    with tempfile.TemporaryDirectory(prefix=f"bench-eval-{case}-") as tmp:
        workdir = Path(tmp)
        store_dir = workdir / "store"
        if case == "ours-local":
            env = clean_env(BRAINTRUST_LOCAL="1", BRAINTRUST_LOCAL_DIR=str(store_dir))
            result = run_workload(sys.executable, cases, env, workdir)
            counts = count_store_rows(store_dir)
        else:
            server = TestServer(workdir)
            try:
                env = clean_env(
                    BRAINTRUST_API_KEY=API_KEY,
                    BRAINTRUST_APP_URL=server.url,
                    BRAINTRUST_LOCAL_DIR=str(store_dir),  # where ours would spill; must stay empty
                    BENCH_STATS_URL=f"{server.url}/_test/bench_stats",
                )
                python: Path | str = sys.executable
                if case == "public-server":
                    env["BRAINTRUST_QUEUE_SIZE"] = PUBLIC_QUEUE_SIZE
                    python = PUBLIC_PYTHON
                result = run_workload(python, cases, env, workdir)
                counts = server.stats()
                result["server_cpu_seconds"] = server.cpu_seconds()
            finally:
                server.stop()
        result["spill_files"] = spill_files(store_dir)
    at_return = result.get("server_at_return") or {}
    result.update(
        case=case,
        arrived=counts["distinct_rows"],
        arrived_at_return=at_return.get("distinct_rows"),
        writes=counts["rows_received"],
        requests=counts.get("requests"),  # HTTP requests the server answered (None: local store)
        by_span=counts.get("distinct_by_span_type", {}),
        load_average=round(os.getloadavg()[0], 2),  # 1-minute load, just after the run
    )
    expected = cases * len(SPANS_PER_CASE)
    problems = []
    if result["arrived"] != expected:
        problems.append(f"{result['arrived']} distinct rows arrived, {expected} expected")
    if result["arrived_at_return"] not in (None, result["arrived"]):
        problems.append(f"only {result['arrived_at_return']} had arrived when Eval returned")
    wrong_types = {t: result["by_span"].get(t, 0) for t in SPANS_PER_CASE if result["by_span"].get(t, 0) != cases}
    if wrong_types:
        problems.append(f"rows per span type {wrong_types} (expected {cases} each)")
    if result["results"] != cases or result["errors"] or result["exact_sum"] != cases:
        problems.append(f"Eval returned {result['results']} results, {result['errors']} errors, exact sum {result['exact_sum']}")
    if result["spill_files"]:
        problems.append(f"{result['spill_files']} spill files")
    result["ok"] = not problems
    result["status"] = "ok" if not problems else "MISMATCH"
    if problems:
        print(f"!!!!! MISMATCH in {case} ({cases} cases): {'; '.join(problems)} !!!!!", file=sys.stderr)
        if result["stderr_tail"]:
            print(result["stderr_tail"], file=sys.stderr)
    return result


FAILURES: list[str] = []  # runs that could not be measured at all (reported after the table)


def attempt(case: str, size: int, *args) -> dict | None:
    """``run_case``, but a run that fails outright (the workload crashed, a timeout, a server
    that did not start) is reported loudly and skipped, so the other cases still get measured."""
    try:
        return run_case(case, size, *args)
    except Exception as exc:  # noqa: BLE001 - anything: the table must still be printed
        FAILURES.append(f"{case} ({size} {UNIT}): {exc}")
        print(f"!!!!! FAILED {case} ({size} {UNIT}): {exc} !!!!!", file=sys.stderr)
        return None


def run_all(cases_to_run: list[str], cases: int, repeat: int) -> dict:
    """``repeat`` interleaved rounds of every case; per case the run with the median time."""
    runs: dict[str, list[dict]] = {case: [] for case in cases_to_run}
    for i in range(repeat):
        for case in cases_to_run:
            run = attempt(case, cases)
            if run is None:
                continue
            print(f"  {case:<14} {cases:>6} cases  run {i + 1}/{repeat}: {run['seconds']:7.2f} s  "
                  f"{run['ms_per_case']:6.3f} ms/case  peak {run['peak_rss_mb']:6.1f} MB  "
                  f"rows {run['arrived']} ({run['writes']} writes)  load {run['load_average']}", file=sys.stderr)
            runs[case].append(run)
    results = {}
    for case, case_runs in runs.items():
        if not case_runs:
            continue
        case_runs.sort(key=lambda r: r["seconds"])
        chosen = dict(case_runs[len(case_runs) // 2])
        chosen["all_seconds"] = [round(r["seconds"], 3) for r in case_runs]
        chosen["best_ms_per_case"] = case_runs[0]["ms_per_case"]
        chosen["ok"] = all(r["ok"] for r in case_runs)
        chosen["status"] = "ok" if chosen["ok"] else "MISMATCH"
        chosen["load_average"] = max(r["load_average"] for r in case_runs)
        results[case] = chosen
    return results


def kb_per_case(result: dict, cases: int, small: int) -> float | None:
    """Peak-RSS slope between the small run and the full run, in KB per case."""
    small_peak = result.get("small", {}).get("peak_rss_mb")
    if small_peak is None or cases == small:
        return None
    return (result["peak_rss_mb"] - small_peak) * 1000 / (cases - small)


def print_table(results: dict, cases: int, small: int) -> None:
    nan = float("nan")
    header = (f"{'case':<14} {'ms/case':>8} {'best':>7} {'seconds':>8} {'cpu s':>6} {'srv cpu':>7} "
              f"{'peak MB':>8} {f'peak@{short(small)}':>8} {'KB/case':>8} {'rss@1k':>7} {'rss@5k':>7} {'rss end':>7}  "
              f"{'rows':>6} {'writes':>7} {'reqs':>6}  status")
    print(header)
    print("-" * len(header))
    for case, r in results.items():
        slope = kb_per_case(r, cases, small)
        rss = r["rss_mb"]
        print(f"{case:<14} {r['ms_per_case']:>8.3f} {r['best_ms_per_case']:>7.3f} {r['seconds']:>8.2f} {r['cpu_seconds']:>6.1f} "
              f"{r.get('server_cpu_seconds', nan):>7.1f} {r['peak_rss_mb']:>8.1f} "
              f"{r.get('small', {}).get('peak_rss_mb', nan):>8.1f} {slope if slope is not None else nan:>8.2f} "
              f"{rss.get('1000', nan):>7.1f} {rss.get('5000', nan):>7.1f} {rss.get('after_eval', nan):>7.1f}  "
              f"{r['arrived']:>6} {r['writes']:>7} {r['requests'] if r.get('requests') is not None else '-':>6}  {r['status']}")
    public = results.get("public-server")
    print()
    if public:
        for case in ("ours-server", "ours-local"):
            if case in results:
                r = results[case]
                print(f"{case} / public-server:  ms/case x{r['ms_per_case'] / public['ms_per_case']:.3f} "
                      f"(public is {public['ms_per_case'] / r['ms_per_case']:.1f}x slower)   "
                      f"peak MB x{r['peak_rss_mb'] / public['peak_rss_mb']:.2f}")
        print()
    expected = cases * len(SPANS_PER_CASE)
    print(f"{cases} cases per run, {len(SPANS_PER_CASE)} spans each ({'/'.join(SPANS_PER_CASE)}): {expected} distinct rows expected;")
    print("rows: distinct rows counted on arrival (server) or in the store's row_log (local); writes: every row write;"
          " reqs: HTTP requests the server answered (login and registration included).")
    print(f"public SDK run with BRAINTRUST_QUEUE_SIZE={PUBLIC_QUEUE_SIZE} (its default 25000 drops the oldest rows); ours with defaults.")
    print("ms/case, seconds, cpu s, peak MB, rss@: the run with the median time; best: the fastest run's ms/case.")
    if small and small != cases:
        print(f"peak@{short(small)}: peak MB of a {small}-case run; KB/case: (peak - peak@{short(small)}) / {cases - small} extra cases.")
    print("rss@1k/5k: RSS when the task runs for that case; rss end: after Eval.")
    loads = [r["load_average"] for r in results.values()]
    cores = os.cpu_count() or 1
    print(f"1-minute load average after the runs: {min(loads):.1f}-{max(loads):.1f} on {cores} cores"
          + " (a run and its server count for up to 2)"
          + ("  <-- other processes competed for the CPU: numbers are pessimistic" if max(loads) > cores + 1 else ""))
    for case in ("ours-server", "ours-local"):
        if case not in results:
            continue
        r = results[case]
        if not r["ok"]:
            print(f"{case}: no verdict: a run failed or rows are missing (MISMATCH above).")
            continue
        verdicts = []
        if public and case == "ours-server":
            ratio = r["ms_per_case"] / public["ms_per_case"]
            verdicts.append(f"{'meets' if ratio <= TARGET_RATIO else 'MISSES'} the time target "
                            f"(x{ratio:.3f} of the public SDK's ms/case; target <= x{TARGET_RATIO:.2f})")
        slope = kb_per_case(r, cases, small)
        if slope is not None:
            verdicts.append(f"memory {'is flat' if slope <= FLAT_KB_PER_CASE else 'GROWS'} "
                            f"({slope:.2f} KB/case; flat <= {FLAT_KB_PER_CASE} KB/case)")
        if verdicts:
            print(f"{case}: " + "; ".join(verdicts) + ".")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=2_000, help="cases of the extra run comparing peak RSS (0: skip)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; the median is reported")
    parser.add_argument("--skip-public", action="store_true")
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON ('-' for stdout)")
    args = parser.parse_args(argv)

    cases_to_run = ["ours-server"]
    if not args.skip_public:
        setup_public_sdk()
        cases_to_run.append("public-server")
    if not args.skip_local:
        cases_to_run.append("ours-local")

    results = run_all(cases_to_run, args.cases, args.repeat)
    if args.small and args.small != args.cases:
        for case in results:
            small = attempt(case, args.small)
            if small is None:
                continue
            print(f"  {case:<14} {args.small:>6} cases  (memory run): {small['seconds']:7.2f} s  "
                  f"peak {small['peak_rss_mb']:6.1f} MB  rows {small['arrived']}", file=sys.stderr)
            results[case]["small"] = small
            if not small["ok"]:
                results[case]["ok"], results[case]["status"] = False, "MISMATCH"

    print()
    if results:
        print_table(results, args.cases, args.small)
    if args.json:
        document = {"cases": args.cases, "small": args.small, "repeat": args.repeat,
                    "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "tree": git_tree(),
                    "public_queue_size": PUBLIC_QUEUE_SIZE, "results": results}
        text = json.dumps(document, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(text + "\n")
    for failure in FAILURES:
        print(f"FAILED (not in the table): {failure}")
    return 0 if all(r["ok"] for r in results.values()) and not FAILURES else 1


if __name__ == "__main__":
    sys.exit(main())
