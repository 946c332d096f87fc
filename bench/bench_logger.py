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
after the process exits; the store's ``object_rows`` table (SQLite) after the process exits. Any
count other than N is printed as a loud MISMATCH. Memory: the workload's peak RSS (ru_maxrss) and
its RSS after 10k/50k/100k rows; each case also runs once with ``--small`` rows (20,000) so the
two peaks show whether memory grows with the number of rows. With ``--repeat K`` the run with the
median time is reported. The table gives rows/s, seconds and peak MB, and the ratios ours/public.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORKLOAD = BENCH / "log_rows.py"
PUBLIC_PYTHON = BENCH / ".venvs" / "public-sdk" / "bin" / "python"
LOCAL_BACKEND = REPO / "braintrust" / "delivery" / "local_backend.py"
PUBLIC_QUEUE_SIZE = "1000000"
API_KEY = "test-api-key"
TARGET_ROWS_PER_SECOND = 50_000


class TestServer:
    """``python -m tests.btserver --port 0 --count-only`` in its own process."""

    def __init__(self, workdir: Path):
        self.log_path = workdir / "server.log"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.btserver", "--port", "0", "--count-only", "--api-key", API_KEY],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=open(self.log_path, "w"),
            text=True,
        )
        line = self.process.stdout.readline()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"test server did not start: {line!r}; see {self.log_path}")
        self.url = line.split()[1]
        # Keep draining stdout so the server can never block on a full pipe.
        threading.Thread(target=self.process.stdout.read, daemon=True).start()

    def rows_received(self) -> int:
        with urllib.request.urlopen(f"{self.url}/_test/stats", timeout=30) as response:
            return json.load(response)["rows_received"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def clean_env(**extra: str) -> dict:
    """The current environment without any BRAINTRUST_* variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINTRUST_")}
    env.update(extra)
    return env


def run_workload(python: Path | str, rows: int, env: dict, workdir: Path) -> dict:
    """Run log_rows.py (in ``workdir``, so nothing in the repo is picked up) and parse its JSON line."""
    proc = subprocess.run(
        [str(python), str(WORKLOAD), str(rows)], cwd=workdir, env=env, capture_output=True, text=True, timeout=1800
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"workload failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    result = json.loads(lines[-1])
    result["stderr"] = proc.stderr.strip()[-2000:]
    return result


def count_store_rows(store_dir: Path) -> int:
    """Rows of project logs in the local store's SQLite file (table from braintrust/store/schema.sql)."""
    databases = sorted(store_dir.rglob("*.sqlite"))
    if not databases:
        return 0
    with sqlite3.connect(databases[0]) as db:
        return db.execute("SELECT count(*) FROM object_rows WHERE object_type = 'project_logs'").fetchone()[0]


def spill_files(workdir: Path) -> int:
    return sum(1 for path in workdir.rglob("*") if path.is_file() and "spill" in path.parts)


def run_case(case: str, rows: int) -> dict:
    """One run of one case in a fresh temporary folder (and a fresh server)."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{case}-") as tmp:
        workdir = Path(tmp)
        store_dir = workdir / "store"
        if case == "ours-local":
            env = clean_env(BRAINTRUST_LOCAL="1", BRAINTRUST_LOCAL_DIR=str(store_dir))
            result = run_workload(sys.executable, rows, env, workdir)
            result["arrived"] = count_store_rows(store_dir)
        else:
            server = TestServer(workdir)
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
                    python = sys.executable
                result = run_workload(python, rows, env, workdir)
                result["arrived"] = server.rows_received()
            finally:
                server.stop()
        result["spill_files"] = spill_files(store_dir)
    result["case"] = case
    result["rows_per_second"] = rows / result["seconds"]
    problems = []
    if result["arrived"] != rows:
        problems.append(f"{result['arrived']} rows arrived after exit")
    if result.get("arrived_at_flush") not in (None, rows):
        problems.append(f"{result['arrived_at_flush']} rows had arrived when flush() returned")
    if result["spill_files"]:
        problems.append(f"{result['spill_files']} spill files")
    result["ok"] = not problems
    if problems:
        print(f"!!!!! MISMATCH in {case} ({rows} rows logged): {'; '.join(problems)} !!!!!", file=sys.stderr)
        if result["stderr"]:
            print(result["stderr"], file=sys.stderr)
    return result


def median_run(case: str, rows: int, repeat: int) -> dict:
    runs = []
    for i in range(repeat):
        run = run_case(case, rows)
        print(f"  {case:<14} {rows:>7} rows  run {i + 1}/{repeat}: {run['seconds']:7.2f} s  "
              f"{run['rows_per_second']:>9,.0f} rows/s  peak {run['peak_rss_mb']:6.1f} MB  "
              f"arrived {run['arrived']}", file=sys.stderr)
        runs.append(run)
    runs.sort(key=lambda r: r["seconds"])
    chosen = dict(runs[len(runs) // 2])
    chosen["all_seconds"] = [r["seconds"] for r in runs]
    chosen["ok"] = all(r["ok"] for r in runs)
    return chosen


def wait_for_local_backend(seconds: float) -> bool:
    end = time.monotonic() + seconds
    while not LOCAL_BACKEND.exists():
        if time.monotonic() >= end:
            return False
        print(f"waiting for {LOCAL_BACKEND.relative_to(REPO)} (being written) ...", file=sys.stderr)
        time.sleep(min(30.0, max(0.0, end - time.monotonic())))
    return True


def ensure_public_sdk() -> None:
    subprocess.run(["bash", str(BENCH / "setup_public_sdk.sh")], check=True, stdout=sys.stderr)


def print_table(results: dict, rows: int, small: int) -> None:
    rss_points = [str(c) for c in (10_000, 50_000, 100_000) if c <= rows]
    header = (f"{'case':<14} {'rows/s':>9} {'seconds':>8} {'peak MB':>8} {f'peak@{small // 1000}k':>9}  "
              + " ".join(f"{'rss@' + str(int(p) // 1000) + 'k':>8}" for p in rss_points)
              + f"  {'arrived':>8}  status")
    print(header)
    print("-" * len(header))
    for case, r in results.items():
        small_peak = r.get("small", {}).get("peak_rss_mb")
        print(f"{case:<14} {r['rows_per_second']:>9,.0f} {r['seconds']:>8.2f} {r['peak_rss_mb']:>8.1f} "
              f"{small_peak if small_peak is not None else float('nan'):>9.1f}  "
              + " ".join(f"{r['rss_mb'].get(p, float('nan')):>8.1f}" for p in rss_points)
              + f"  {r['arrived']:>8}  {'ok' if r['ok'] else 'MISMATCH'}")
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
          f"(its default 25000 drops the oldest rows); ours with defaults.")
    ours = results.get("ours-server")
    if ours:
        verdict = "meets" if ours["rows_per_second"] >= TARGET_ROWS_PER_SECOND and ours["ok"] else "MISSES"
        print(f"ours-server {verdict} the target of {TARGET_ROWS_PER_SECOND:,} rows/s with every row counted on arrival.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=20_000, help="rows of the extra run comparing peak RSS (0: skip)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; the median is reported")
    parser.add_argument("--skip-public", action="store_true")
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument("--wait-local", type=float, default=300.0, help="seconds to wait for the local backend to exist")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON ('-' for stdout)")
    args = parser.parse_args(argv)

    cases = ["ours-server"]
    if not args.skip_public:
        ensure_public_sdk()
        cases.append("public-server")
    if not args.skip_local:
        if wait_for_local_backend(args.wait_local):
            cases.append("ours-local")
        else:
            print(f"!!!!! {LOCAL_BACKEND.relative_to(REPO)} does not exist: skipping ours-local !!!!!", file=sys.stderr)

    results = {}
    for case in cases:
        results[case] = median_run(case, args.rows, args.repeat)
        if args.small and args.small != args.rows:
            results[case]["small"] = run_case(case, args.small)
            results[case]["ok"] = results[case]["ok"] and results[case]["small"]["ok"]

    print()
    print_table(results, args.rows, args.small)
    if args.json:
        document = {"rows": args.rows, "small": args.small, "repeat": args.repeat,
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
