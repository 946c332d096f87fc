"""Benchmark: ``logger.log`` of N typical eval rows until ``flush()`` returns, ours vs the public SDK.

    python bench/bench_logger.py                      # 100,000 rows, all three cases
    python bench/bench_logger.py --rows 20000 --skip-public --repeat 3 --json bench/results/logger.json

Cases, each running bench/log_rows.py in a fresh process:

* ``ours-server``:   our package (the system python) into the test server (``python -m
  tests.btserver --count-only``), started in another process, fresh for every run;
* ``public-server``: the public SDK (braintrust==0.48.1, in bench/.venvs/public-sdk, made by
  bench/setup_public_sdk.sh) into the same kind of server. Its queue drops the oldest rows when
  full (25,000 by default), so it runs with ``BRAINTRUST_QUEUE_SIZE=1000000``; ours uses defaults;
* ``ours-local``:    our package into the embedded local store (``BRAINTRUST_LOCAL=1``, a fresh
  folder); the public SDK has no local store.

Rows are counted on arrival: the server's ``GET /_test/stats`` when ``flush()`` returns and again
after the process exits; distinct row ids in the store's ``row_log`` (SQLite) after the process exits. A
count below N (or any spill file) is a loud MISMATCH; a count above N is flagged EXTRA (extra row
writes, nothing lost). Memory: the workload's peak RSS (ru_maxrss) and its RSS after 10k/50k/100k
rows; each case also runs once with ``--small`` rows (20,000) so the two peaks show whether memory
grows with the number of rows. With ``--repeat K`` the cases run K rounds, interleaved, and the
run with the median time is reported (plus the best rows/s). The table gives rows/s, seconds and
peak MB, and the ratios ours/public.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import API_KEY, BENCH, REPO, TestServer, clean_env, git_tree, run_json_workload, setup_public_sdk

WORKLOAD = BENCH / "log_rows.py"
PUBLIC_PYTHON = BENCH / ".venvs" / "public-sdk" / "bin" / "python"
LOCAL_BACKEND = REPO / "braintrust" / "delivery" / "local_backend.py"
PUBLIC_QUEUE_SIZE = "1000000"
TARGET_ROWS_PER_SECOND = 50_000


#: The server: ``tests.btserver`` count-only, as in the test suite (no distinct-row counting).
SERVER_COMMAND = [sys.executable, "-m", "tests.btserver", "--port", "0", "--count-only", "--api-key", API_KEY]


def start_server(workdir: Path) -> TestServer:
    return TestServer(workdir, command=SERVER_COMMAND, cwd=REPO)


def run_workload(python: Path | str, rows: int, env: dict, workdir: Path) -> dict:
    """log_rows.py for ``rows`` rows, in ``workdir``."""
    return run_json_workload(python, WORKLOAD, rows, env, workdir, 1800)


def count_store_rows(store_dir: Path) -> tuple[int, int]:
    """(distinct project-log rows, row writes) in the local store's SQLite file.

    braintrust/store/schema.sql: every write is appended to ``row_log``; ``object_rows`` is
    folded from it by the first read, so arrivals are counted in ``row_log`` (``object_rows``
    on a store without it).
    """
    databases = sorted(store_dir.rglob("*.sqlite"))
    if not databases:
        return 0, 0
    with sqlite3.connect(databases[0]) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        table = "row_log" if "row_log" in tables else "object_rows"
        return db.execute(
            f"SELECT count(DISTINCT id), count(*) FROM {table} WHERE object_type = 'project_logs'"
        ).fetchone()


def spill_files(workdir: Path) -> int:
    return sum(1 for path in workdir.rglob("*") if path.is_file() and "spill" in path.parts)


def run_case(case: str, rows: int, ours_env: dict | None = None) -> dict:
    """One run of one case in a fresh temporary folder (and a fresh server)."""
    ours_env = ours_env or {}
    with tempfile.TemporaryDirectory(prefix=f"bench-{case}-") as tmp:
        workdir = Path(tmp)
        store_dir = workdir / "store"
        if case == "ours-local":
            env = clean_env(BRAINTRUST_LOCAL="1", BRAINTRUST_LOCAL_DIR=str(store_dir), **ours_env)
            result = run_workload(sys.executable, rows, env, workdir)
            result["arrived"], result["store_writes"] = count_store_rows(store_dir)
        else:
            server = start_server(workdir)
            try:
                env = clean_env(
                    BRAINTRUST_API_KEY=API_KEY,
                    BRAINTRUST_APP_URL=server.url,
                    BRAINTRUST_LOCAL_DIR=str(store_dir),  # where ours would spill; must stay empty
                    BENCH_STATS_URL=f"{server.url}/_test/stats",
                )
                if case == "public-server":
                    env["BRAINTRUST_QUEUE_SIZE"] = PUBLIC_QUEUE_SIZE
                    python = PUBLIC_PYTHON
                else:
                    env.update(ours_env)
                    python = sys.executable
                result = run_workload(python, rows, env, workdir)
                result["arrived"] = server.rows_received()
                result["server_cpu_seconds"] = server.cpu_seconds()
            finally:
                server.stop()
        result["spill_files"] = spill_files(store_dir)
    result["case"] = case
    result["rows_per_second"] = rows / result["seconds"]
    result["load_average"] = round(os.getloadavg()[0], 2)  # 1-minute load, just after the run
    # More row writes than rows is not a loss: the public SDK's log() is a start write plus an end
    # write (metrics.end, _is_merge) that its queue merges, unless a batch boundary falls between them.
    counts = [result["arrived"]] + ([result["arrived_at_flush"]] if result.get("arrived_at_flush") is not None else [])
    result["missing"] = max(rows - min(counts), 0)
    result["extra"] = max(max(counts) - rows, 0)
    problems = []
    if result["arrived"] != rows:
        problems.append(f"{result['arrived']} rows arrived after exit")
    if result.get("arrived_at_flush") not in (None, rows):
        problems.append(f"{result['arrived_at_flush']} rows had arrived when flush() returned")
    if result["spill_files"]:
        problems.append(f"{result['spill_files']} spill files")
    result["ok"] = not result["missing"] and not result["spill_files"]
    result["status"] = "ok" if not problems else "MISMATCH" if not result["ok"] else f"EXTRA +{result['extra']}"
    if problems:
        print(f"!!!!! {result['status']} in {case} ({rows} rows logged): {'; '.join(problems)} !!!!!", file=sys.stderr)
        if result["stderr_tail"]:
            print(result["stderr_tail"], file=sys.stderr)
    return result


def run_all(cases: list[str], rows: int, repeat: int, ours_env: dict) -> dict:
    """``repeat`` rounds of every case, interleaved (so a busy machine hurts them alike); per
    case, the run with the median time, with every run's seconds and the best rows/s."""
    runs: dict[str, list[dict]] = {case: [] for case in cases}
    for i in range(repeat):
        for case in cases:
            run = run_case(case, rows, ours_env)
            print(f"  {case:<14} {rows:>7} rows  run {i + 1}/{repeat}: {run['seconds']:7.2f} s  "
                  f"{run['rows_per_second']:>9,.0f} rows/s  peak {run['peak_rss_mb']:6.1f} MB  "
                  f"arrived {run['arrived']}  load {run['load_average']}", file=sys.stderr)
            runs[case].append(run)
    results = {}
    for case, case_runs in runs.items():
        case_runs.sort(key=lambda r: r["seconds"])
        chosen = dict(case_runs[len(case_runs) // 2])
        chosen["all_seconds"] = [r["seconds"] for r in case_runs]
        chosen["best_rows_per_second"] = rows / case_runs[0]["seconds"]
        chosen["ok"] = all(r["ok"] for r in case_runs)
        statuses = {r["status"] for r in case_runs}
        chosen["status"] = "ok" if statuses == {"ok"} else "MISMATCH" if not chosen["ok"] else chosen["status"]
        chosen["load_average"] = max(r["load_average"] for r in case_runs)
        results[case] = chosen
    return results


def wait_for_local_backend(seconds: float) -> bool:
    end = time.monotonic() + seconds
    while not LOCAL_BACKEND.exists():
        if time.monotonic() >= end:
            return False
        print(f"waiting for {LOCAL_BACKEND.relative_to(REPO)} (being written) ...", file=sys.stderr)
        time.sleep(min(30.0, max(0.0, end - time.monotonic())))
    return True


def ours_encoder(ours_env: dict) -> str:
    """What our package encodes rows with in the benchmark's environment (orjson, a dependency,
    or the standard library where orjson cannot be imported)."""
    probe = "import braintrust.jsonsafe as j; print('orjson ' + j._orjson.__version__ if j._orjson else 'the standard library (no orjson)')"
    done = subprocess.run([sys.executable, "-c", probe], env=clean_env(**ours_env), cwd=tempfile.gettempdir(),
                          capture_output=True, text=True, timeout=60)
    return done.stdout.strip() or f"? ({done.stderr.strip().splitlines()[-1:]})"


def print_table(results: dict, rows: int, small: int, ours_env: dict) -> None:
    rss_points = [str(c) for c in (10_000, 50_000, 100_000) if c <= rows]
    header = (f"{'case':<14} {'rows/s':>9} {'best':>7} {'seconds':>8} {'cpu s':>6} {'srv cpu':>7} {'peak MB':>8} {f'peak@{small // 1000}k':>9}  "
              + " ".join(f"{'rss@' + str(int(p) // 1000) + 'k':>8}" for p in rss_points)
              + f"  {'arrived':>8}  status")
    print(header)
    print("-" * len(header))
    for case, r in results.items():
        small_peak = r.get("small", {}).get("peak_rss_mb")
        print(f"{case:<14} {r['rows_per_second']:>9,.0f} {r['best_rows_per_second']:>7,.0f} {r['seconds']:>8.2f} {r['cpu_seconds']:>6.1f} "
              f"{r.get('server_cpu_seconds', float('nan')):>7.1f} {r['peak_rss_mb']:>8.1f} "
              f"{small_peak if small_peak is not None else float('nan'):>9.1f}  "
              + " ".join(f"{r['rss_mb'].get(p, float('nan')):>8.1f}" for p in rss_points)
              + f"  {r['arrived']:>8}  {r['status']}")
    public = results.get("public-server")
    if public:
        print()
        for case in ("ours-server", "ours-local"):
            if case in results:
                r = results[case]
                print(f"{case} / public-server:  rows/s x{r['rows_per_second'] / public['rows_per_second']:.1f}   "
                      f"seconds x{r['seconds'] / public['seconds']:.3f}   peak MB x{r['peak_rss_mb'] / public['peak_rss_mb']:.2f}")
    print()
    print(f"{rows} rows per run; public SDK run with BRAINTRUST_QUEUE_SIZE={PUBLIC_QUEUE_SIZE} "
          f"(its default 25000 drops the oldest rows); ours with "
          + (" ".join(f"{k}={v}" for k, v in ours_env.items()) + " (NOT the defaults)" if ours_env else "defaults") + ".")
    print(f"ours encodes rows with {ours_encoder(ours_env)}.")
    print("rows/s, seconds, cpu s, peak MB, rss@: the run with the median time; best: the fastest run's rows/s.")
    print("cpu s: CPU seconds of the logging process (imports included); srv cpu: of the server process.")
    loads = [r["load_average"] for r in results.values()]
    cores = os.cpu_count() or 1
    print(f"1-minute load average after the runs: {min(loads):.1f}-{max(loads):.1f} on {cores} cores"
          + ("  <-- other processes competed for the CPU: numbers are pessimistic" if max(loads) > cores else ""))
    if any(r["status"].startswith("EXTRA") for r in results.values()):
        print("EXTRA +k: k more row writes arrived than rows were logged, none missing. The public SDK sends a")
        print("row's end time as a second write (_is_merge) when a batch boundary splits it from the row.")
    local = results.get("ours-local")
    if local and local.get("children_peak_rss_mb"):
        small_child = local.get("small", {}).get("children_peak_rss_mb")
        print(f"ours-local also runs the local store's writer process: peak RSS {local['children_peak_rss_mb']:.1f} MB"
              + (f" ({small:,} rows: {small_child:.1f} MB)" if small_child else "") + ".")
    for case in ("ours-server", "ours-local"):
        ours = results.get(case)
        if ours:
            verdict = "meets" if ours["rows_per_second"] >= TARGET_ROWS_PER_SECOND and ours["ok"] else "MISSES"
            print(f"{case} {verdict} the target of {TARGET_ROWS_PER_SECOND:,} rows/s with every row counted on arrival.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=20_000, help="rows of the extra run comparing peak RSS (0: skip)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; the median is reported")
    parser.add_argument("--skip-public", action="store_true")
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument("--wait-local", type=float, default=300.0, help="seconds to wait for the local backend to exist")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON ('-' for stdout)")
    parser.add_argument("--ours-env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for our runs only (diagnostics; the benchmark itself uses defaults)")
    args = parser.parse_args(argv)
    ours_env = dict(item.split("=", 1) for item in args.ours_env)

    cases = ["ours-server"]
    if not args.skip_public:
        setup_public_sdk()
        cases.append("public-server")
    if not args.skip_local:
        if wait_for_local_backend(args.wait_local):
            cases.append("ours-local")
        else:
            print(f"!!!!! {LOCAL_BACKEND.relative_to(REPO)} does not exist: skipping ours-local !!!!!", file=sys.stderr)

    results = run_all(cases, args.rows, args.repeat, ours_env)
    for case in cases:
        if args.small and args.small != args.rows:
            results[case]["small"] = run_case(case, args.small, ours_env)
            results[case]["ok"] = results[case]["ok"] and results[case]["small"]["ok"]
            if not results[case]["small"]["ok"]:
                results[case]["status"] = "MISMATCH"

    print()
    print_table(results, args.rows, args.small, ours_env)
    if args.json:
        document = {"rows": args.rows, "small": args.small, "repeat": args.repeat, "ours_env": ours_env,
                    "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "tree": git_tree(),
                    "public_queue_size": PUBLIC_QUEUE_SIZE, "results": results}
        text = json.dumps(document, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).parent.mkdir(parents=True, exist_ok=True)
            Path(args.json).write_text(text + "\n")
    return 0 if all(r["ok"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
