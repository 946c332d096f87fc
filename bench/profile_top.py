"""Profile our side of bench_eval.py / bench_pytest.py with py-spy and name the top functions.

    python bench/profile_top.py eval-server              # Eval, 10,000 cases, into the test server
    python bench/profile_top.py eval-local --n 10000
    python bench/profile_top.py pytest-local             # pytest --braintrust, 10,000 tests, local store
    python bench/profile_top.py pytest-server --n 10000 --out bench/results/profiles
    python bench/profile_top.py pytest-plain             # plain pytest on the same file (reference)

Runs the same workload as the benchmark (ours only, the system python, a fresh temporary
folder and a fresh bench/count_server.py for the server scenarios) under ``py-spy record --gil
--format speedscope`` (only the thread holding the GIL is sampled, so the samples are the
process's Python CPU time, without threads that merely wait for the GIL; ``--all-threads``
samples every running thread instead), keeps the speedscope file (open it at https://www.speedscope.app) and prints:

* the threads and their CPU seconds (samples whose leaf is a blocking call -- ``Condition.wait``,
  a socket read waiting for the server, ``sleep``... -- are counted apart as blocked: py-spy's
  idle detection does not catch them all here);
* the top functions of our code (``braintrust/``, ``pytest_braintrust/``) by self time, in ms
  and in µs per case/test;
* the top functions of our code by *attributed* time: a sample counts for the innermost frame
  of our code on its stack, so library calls (json, sqlite3, http, pytest...) made from one of
  our functions count for that function;
* the top functions of any code by self time;
* the time spent in the garbage collector (bench/gc_stats.py, loaded into the run) and, for
  pytest, the RSS before and after the session end (flush, summaries);
* with ``--against pytest-plain`` (profiled before, same ``--n``): the functions whose self
  time grew most against that profile -- for pytest, most of the plugin's cost is in pytest's
  and the garbage collector's frames, not in ours.

py-spy's sampling adds some overhead; the numbers are for ranking, not for the benchmark table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))

import bench_eval  # noqa: E402
import bench_pytest  # noqa: E402

OUR_DIRS = (str(REPO / "braintrust") + "/", str(REPO / "pytest_braintrust") + "/")
#: Leaf frames that mean "this thread is blocked" (py-spy's own idle detection misses some):
#: their samples are reported as waiting and left out of every table.
WAITING = {"Condition.wait", "Event.wait", "Thread._wait_for_tstate_lock", "Thread.join", "sleep",
           "SocketIO.readinto", "EpollSelector.select", "PollSelector.select", "BaseSelector.select",
           "Queue.get", "SimpleQueue.get", "wait", "select", "accept", "_worker"}
SCENARIOS = ("eval-server", "eval-local", "pytest-local", "pytest-server", "pytest-plain")


def is_ours(frame: dict) -> bool:
    return (frame.get("file") or "").startswith(OUR_DIRS)


def label(frame: dict) -> str:
    path = frame.get("file") or "?"
    if path.startswith(str(REPO) + "/"):
        path = path[len(str(REPO)) + 1:]
    elif "site-packages/" in path:
        path = path.split("site-packages/", 1)[1]
    elif "/lib/python3" in path:
        path = "stdlib/" + path.split("/lib/python3", 1)[1].split("/", 1)[-1]
    return f"{frame['name']} ({path}:{frame.get('line')})"


def summarize(profile_path: Path, n: int, unit: str, top: int) -> str:
    data = json.loads(profile_path.read_text())
    frames = data["shared"]["frames"]
    self_time: Counter = Counter()
    attributed: Counter = Counter()
    ours_self: Counter = Counter()
    threads = []
    total = 0.0
    waiting: Counter = Counter()
    for profile in data["profiles"]:
        thread_total = 0.0
        for stack, weight in zip(profile["samples"], profile["weights"]):
            if not stack:
                continue
            leaf = frames[stack[-1]]
            if leaf["name"] in WAITING and not is_ours(leaf):
                waiting[profile["name"]] += weight
                continue
            thread_total += weight
            # py-spy keys frames by (name, file, line of the *current* statement): fold by function.
            self_time[label({**leaf, "line": None})] += weight
            if is_ours(leaf):
                ours_self[label({**leaf, "line": None})] += weight
            for index in reversed(stack):  # the innermost frame of our code pays for this sample
                if is_ours(frames[index]):
                    attributed[label({**frames[index], "line": None})] += weight
                    break
            else:
                attributed["(no frame of our code on the stack)"] += weight
        threads.append((profile["name"], thread_total))
        total += thread_total
    per = 1e6 / n

    def table(title: str, counter: Counter) -> list[str]:
        lines = [title, f"  {'ms':>9} {f'µs/{unit}':>9} {'%':>6}  function"]
        for name, seconds in counter.most_common(top):
            lines.append(f"  {seconds * 1000:9.1f} {seconds * per:9.1f} {100 * seconds / total:6.1f}  {name.replace(':None', '')}")
        return lines

    out = [f"profile {profile_path}: {total:.2f} CPU seconds sampled over {len(threads)} threads, {n} {unit}s "
           f"({total * per:.1f} µs/{unit}); of it in our code's own frames: {sum(ours_self.values()):.2f} s"]
    out.append(f"threads (CPU s; blocked samples left out: {sum(waiting.values()):.2f} s):")
    for name, seconds in sorted(threads, key=lambda t: -t[1]):
        out.append(f"  {seconds:7.2f} s  {name}  (+{waiting[name]:.2f} s blocked)")
    out += table(f"top {top} functions of our code by self time:", ours_self)
    out += table(f"top {top} functions of our code by attributed time (self + library calls they make):", attributed)
    out += table(f"top {top} functions of any code by self time:", self_time)
    return "\n".join(out)


def record(command: list[str], env: dict, cwd: Path, output: Path, rate: int, gil: bool) -> str:
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("py-spy is not installed")
    proc = subprocess.run(
        [py_spy, "record", "--rate", str(rate), *(["--gil"] if gil else []), "--format", "speedscope",
         "--output", str(output), "--", *command],
        cwd=cwd, env=env, capture_output=True, text=True,
    )
    if proc.returncode != 0 or not output.exists():
        raise SystemExit(f"py-spy failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc.stderr


def gc_summary(stderr: str, n: int, unit: str) -> str | None:
    """The GC-STATS line bench/gc_stats.py printed at exit, as text."""
    lines = [line for line in stderr.splitlines() if line.startswith("GC-STATS ")]
    if not lines:
        return None
    stats = json.loads(lines[-1].split(" ", 1)[1])
    total = sum(v["seconds"] for v in stats.values())
    parts = ", ".join(f"gen{g}: {v['collections']} x {v['seconds'] * 1000:.0f} ms" for g, v in stats.items())
    return f"garbage collector: {total * 1000:.0f} ms ({total * 1e6 / n:.1f} µs/{unit}): {parts}"


def self_times(profile_path: Path) -> tuple[Counter, float]:
    """Self time per function (any code) of a speedscope file, blocked samples left out."""
    data = json.loads(profile_path.read_text())
    frames = data["shared"]["frames"]
    counter: Counter = Counter()
    total = 0.0
    for profile in data["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"]):
            if not stack:
                continue
            leaf = frames[stack[-1]]
            if leaf["name"] in WAITING and not is_ours(leaf):
                continue
            counter[label({**leaf, "line": None}).replace(":None", "")] += weight
            total += weight
    return counter, total


def difference(profile_path: Path, baseline_path: Path, n: int, unit: str, top: int) -> str:
    """Functions whose self time grew most against a baseline profile (e.g. plain pytest)."""
    ours, ours_total = self_times(profile_path)
    base, base_total = self_times(baseline_path)
    per = 1e6 / n
    delta = Counter({name: seconds - base.get(name, 0.0) for name, seconds in ours.items()})
    lines = [f"against {baseline_path.name}: {ours_total:.2f} s vs {base_total:.2f} s "
             f"(+{(ours_total - base_total) * per:.1f} µs/{unit}); top {top} functions by added self time:",
             f"  {f'+µs/{unit}':>9}  function"]
    for name, seconds in delta.most_common(top):
        lines.append(f"  {seconds * per:9.1f}  {name}{'  <- ours' if name.split('(')[-1].startswith(('braintrust/', 'pytest_braintrust/')) else ''}")
    return "\n".join(lines)


def callers(profile_path: Path, function: str, n: int, unit: str, top: int) -> str:
    """Where the self time of ``function`` (a leaf, by name) comes from: its nearest callers
    and the innermost frame of our code above it."""
    data = json.loads(profile_path.read_text())
    frames = data["shared"]["frames"]
    chains: Counter = Counter()
    for profile in data["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"]):
            if not stack or frames[stack[-1]]["name"] != function:
                continue
            near = [label(frames[i]) for i in reversed(stack[-4:-1])]
            ours = next((label(frames[i]) for i in reversed(stack) if is_ours(frames[i])), "(no frame of our code)")
            chains[" < ".join(near) + "  ||  ours: " + ours] += weight
    lines = [f"self time of {function}, by caller chain (innermost first):"]
    for chain, seconds in chains.most_common(top):
        lines.append(f"  {seconds * 1e6 / n:8.1f} µs/{unit}  {chain}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenario", choices=SCENARIOS)
    parser.add_argument("--n", type=int, default=10_000, help="cases (eval) or tests (pytest)")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--against", metavar="SCENARIO|PATH",
                        help="also list the functions whose self time grew most against this profile "
                             "(e.g. pytest-plain: profile that scenario first, with the same --n)")
    parser.add_argument("--callers", metavar="FUNCTION", action="append", default=[],
                        help="also show where the self time of this function (e.g. unwrap) comes from")
    parser.add_argument("--from-profile", metavar="PATH",
                        help="do not run anything: summarize this speedscope file (with --n for the per-unit numbers)")
    parser.add_argument("--all-threads", action="store_true",
                        help="sample every running thread, not only the one holding the GIL (then threads waiting "
                             "for the GIL inflate the self times; C code that releases the GIL, e.g. SQLite, shows)")
    parser.add_argument("--out", default=str(BENCH / "results" / "profiles"), help="folder for the speedscope files")
    args = parser.parse_args(argv)

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = (out_dir / f"{args.scenario}-{args.n}.speedscope.json").resolve()
    unit = "case" if args.scenario.startswith("eval") else "test"
    if args.from_profile:
        print(summarize(Path(args.from_profile), args.n, unit, args.top))
        for function in args.callers:
            print(callers(Path(args.from_profile), function, args.n, unit, args.top))
        return 0
    with tempfile.TemporaryDirectory(prefix=f"profile-{args.scenario}-") as tmp:
        workdir = Path(tmp)
        env = bench_eval.clean_env(BRAINTRUST_LOCAL_DIR=str(workdir / "store"))
        if args.scenario.startswith("eval"):
            # The workload as its own __main__, with bench/gc_stats.py imported first.
            bootstrap = (f"import sys, runpy; sys.path.insert(0, {str(BENCH)!r}); import gc_stats; "
                         f"sys.argv = [{str(bench_eval.WORKLOAD)!r}, {str(args.n)!r}]; "
                         f"runpy.run_path({str(bench_eval.WORKLOAD)!r}, run_name='__main__')")
            command = [sys.executable, "-c", bootstrap]
        else:
            env["PYTHONPATH"] = str(BENCH)  # for -p gc_stats
            bench_pytest.write_test_files(workdir, {args.n}, scorer=False)
            extra = ["-p", "no:braintrust"] if args.scenario == "pytest-plain" else ["--braintrust-project", bench_pytest.PROJECT, "--braintrust"]
            command = [sys.executable, "-m", "pytest", *bench_pytest.COMMON_ARGS, "-p", "gc_stats", *extra, f"test_bench_{args.n}.py"]
        server = bench_eval.TestServer(workdir) if args.scenario.endswith("-server") else None
        try:
            if server is not None:
                env.update(BRAINTRUST_API_KEY=bench_eval.API_KEY, BRAINTRUST_APP_URL=server.url)
            elif args.scenario == "eval-local":
                env["BRAINTRUST_LOCAL"] = "1"
            stderr = record(command, env, workdir, output, args.rate, not args.all_threads)
            if server is not None:
                stats = server.stats()
                print(f"server: {stats['distinct_rows']} distinct rows, {stats['rows_received']} writes, by span type {stats['distinct_by_span_type']}")
        finally:
            if server is not None:
                server.stop()
    print(summarize(output, args.n, unit, args.top))
    gc_line = gc_summary(stderr, args.n, unit)
    if gc_line:
        print(gc_line)
    session_rss = [line for line in stderr.splitlines() if line.startswith("SESSION-RSS ")]
    if session_rss:
        rss = json.loads(session_rss[-1].split(" ", 1)[1])
        print(f"RSS when the session end starts: {rss['before_mb']} MB (peak so far {rss['peak_before_mb']} MB); "
              f"after it (flush, summaries): {rss['after_mb']} MB (peak {rss['peak_after_mb']} MB)")
    if args.against:
        baseline = Path(args.against)
        if not baseline.exists():  # a scenario name: its profile of the same size in --out
            baseline = out_dir / f"{args.against}-{args.n}.speedscope.json"
        print(difference(output, baseline, args.n, unit, args.top))
    for function in args.callers:
        print(callers(output, function, args.n, unit, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
