"""Benchmark: N trivial eval tests under ``pytest --braintrust``, against plain ``pytest`` and
against the public SDK's plugin on the same file, side by side in one run.

    python bench/bench_pytest.py                     # 10,000 tests (and 2,000 for memory), every run
    python bench/bench_pytest.py --tests 2000 --repeat 3 --skip-public --json bench/results/pytest.json

One generated test file (in a fresh temporary folder with its own ``pytest.ini``, so nothing of
this repository is picked up) holds N tests that both plugins log as separate cases::

    @pytest.mark.parametrize("x", [pytest.param(i, marks=pytest.mark.braintrust(input=i, expected=i)) for i in range(N)])
    def test_case(x):
        assert x == x

(``--scorer`` adds ``scorers=[exact]`` to the marker: ours then writes a score span per test too;
the public plugin ignores the argument.) Runs, each a whole ``python -m pytest -q`` process:

* ``plain``:         the system python, our plugin disabled (``-p no:braintrust``);
* ``plain-n2``:      the same with ``-n 2`` (pytest-xdist), the baseline of ``ours-local-n2``;
* ``plain-public``:  the public SDK's venv (bench/.venvs/public-sdk), its plugin disabled;
* ``ours-local``:    ``--braintrust`` with no API key: the embedded local store (a fresh folder);
* ``ours-local-rerun``: the same, into a store that already holds a run of the same file (made
  first, untimed), as at a laptop from the second run on: its summary compares with that run;
* ``ours-server``:   ``--braintrust`` into the loopback test server (bench/count_server.py, fresh per run);
* ``ours-local-n2``: ``--braintrust -n 2`` into the local store (2 cores: not expected to be faster);
* ``public-server``: the public SDK's plugin, ``--braintrust`` in its venv, into the test server
  (with ``BRAINTRUST_QUEUE_SIZE=1000000``: its default queue drops the oldest rows when full).

Every run gets ``-p no:cacheprovider -p no:hypothesispytest -p no:benchmark -p no:asyncio -p
no:rerunfailures -p no:repeat`` (the same for all; pytest-xdist stays loaded in the system python) and
``--braintrust-project bench-pytest``. Time: wall seconds of the pytest process (``time.perf_counter`` around it in
the launcher, so the session-end flush and summary are in it); ms/test over plain and the ratio to plain use the
plain run of the same interpreter (``plain`` for ours, ``plain-public`` for the public plugin;
``-n 2`` runs are also compared with ``plain-n2``). Memory: peak RSS from ``wait4`` (the
largest single process of the run's tree: under ``-n 2`` the largest of controller and
workers), taken by a small launcher process that forks pytest (``LAUNCHER``: forked from this
process, pytest would report at least this process's own size). Each run is repeated with ``--small`` tests (2,000): "KB/test" is the slope of the
peak over plain's, ``((peak - plain peak) at N - (same) at small) / (N - small)``; flat means at
most FLAT_KB_PER_TEST.

Rows are counted on arrival: distinct rows and their span types at the server after pytest
exits, or distinct ids per experiment in the local store's ``row_log``. Ours must write its full
layout, N root spans (type ``eval``, with a ``pass`` score) and N task spans (plus N score spans
with ``--scorer``); the public plugin writes one root span per test (reported as it arrives).

Installed but unused: a 50-test file without ``--braintrust``, run ``--unused-repeat`` times
(15) per variant, interleaved: with the plugin enabled vs ``-p no:braintrust``, for ours (system
python) and for the public SDK (its venv). Reported: both medians and the median of the paired
differences, in ms.

Targets for ours: ``ours-local`` and ``ours-server`` within 1.10x plain, memory flat, and the
unused plugin adding under 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import API_KEY, BENCH, TestServer, clean_env, git_tree, setup_public_sdk, short

PUBLIC_VENV = BENCH / ".venvs" / "public-sdk"
PUBLIC_PYTHON = PUBLIC_VENV / "bin" / "python"
PUBLIC_QUEUE_SIZE = "1000000"
PYTEST_VERSION_FALLBACK = "9.0.3"
PROJECT = "bench-pytest"
COMMON_ARGS = ["-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark", "-p", "no:asyncio",
               "-p", "no:rerunfailures", "-p", "no:repeat"]
TARGET_RATIO = 1.10
TARGET_UNUSED_MS = 50.0
FLAT_KB_PER_TEST = 2.0
UNIT = "tests"
RUN_TIMEOUT_SECONDS = 1800

# case -> (interpreter, extra pytest args, where rows go, baseline case)
CASES = {
    "plain":         ("ours",   ["-p", "no:braintrust"], None, None),
    "plain-n2":      ("ours",   ["-p", "no:braintrust", "-n", "2"], None, None),
    "plain-public":  ("public", ["-p", "no:braintrust"], None, None),
    "ours-local":    ("ours",   ["--braintrust"], "local", "plain"),
    "ours-local-rerun": ("ours", ["--braintrust"], "local", "plain"),
    "ours-server":   ("ours",   ["--braintrust"], "server", "plain"),
    "ours-local-n2": ("ours",   ["--braintrust", "-n", "2"], "local", "plain"),
    "public-server": ("public", ["--braintrust"], "server", "plain-public"),
}

TEST_FILE = '''"""{n} trivial eval tests, generated by bench/bench_pytest.py."""
import pytest

{scorer_def}
CASES = [pytest.param(i, marks=pytest.mark.braintrust(input=i, expected=i{scorer_arg})) for i in range({n})]


@pytest.mark.parametrize("x", CASES)
def test_case(x):
    assert x == x
'''

SCORER_DEF = '''
def exact(input, expected):
    return 1.0 if input == expected else 0.0

'''

SMALL_FILE = '''"""50 trivial tests (no marker), for the installed-but-unused overhead."""
import pytest


@pytest.mark.parametrize("x", range(50))
def test_small(x):
    assert x >= 0
'''


def python_of(interpreter: str) -> str:
    return sys.executable if interpreter == "ours" else str(PUBLIC_PYTHON)


#: Starts pytest and reports its wall time and rusage. Linux keeps a process's peak RSS across
#: exec, and a child forked straight from this (large) benchmark process starts with the
#: benchmark's pages: wait4 would report at least the benchmark's own size. This small process
#: forks pytest instead, so the peak is pytest's (and its workers').
LAUNCHER = """
import json, os, sys, time
report, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execv(argv[0], argv)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
with open(report, "w") as f:
    json.dump({"seconds": seconds, "status": status, "maxrss_kb": usage.ru_maxrss, "cpu": usage.ru_utime + usage.ru_stime}, f)
"""


def run_pytest(python: str, args: list[str], env: dict, cwd: Path, log: Path) -> dict:
    """One pytest process (started by ``LAUNCHER``): wall seconds from its start to its exit,
    exit code, and the rusage of its process tree."""
    report = log.with_suffix(".rusage.json")
    with open(log, "w") as out:
        command = [sys.executable, "-c", LAUNCHER, str(report), python, "-m", "pytest", *args]
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=RUN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise RuntimeError(f"pytest ran over {RUN_TIMEOUT_SECONDS} s: {args}") from None
    if proc.returncode != 0:
        raise RuntimeError(f"the launcher failed ({proc.returncode}): {log.read_text(errors='replace')[-1500:]}")
    measured = json.loads(report.read_text())
    seconds = measured["seconds"]
    proc.returncode = os.waitstatus_to_exitcode(measured["status"])
    text = log.read_text(errors="replace")
    match = re.search(r"(\d+) passed", text)
    return {
        "seconds": seconds,
        "exit_code": proc.returncode,
        "passed": int(match.group(1)) if match else 0,
        "peak_rss_mb": measured["maxrss_kb"] * 1024 / 1e6,  # KiB on Linux
        "cpu_seconds": measured["cpu"],
        "output_tail": text[-1500:],
    }


def count_store_rows(store_dir: Path) -> dict:
    """Distinct rows, row writes and distinct rows per span type of the experiments in the
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


def expected_layout(case: str, tests: int, scorer: bool) -> dict[str, int]:
    if CASES[case][2] is None:
        return {}
    if case.startswith("public"):
        return {"eval": tests}  # the public plugin: one root span per test
    return {"eval": tests, "task": tests, **({"score": tests} if scorer else {})}


def run_case(case: str, tests: int, folder: Path, scorer: bool) -> dict:
    """One run of one case on ``folder``'s test file, with a fresh store folder / server."""
    interpreter, extra, destination, _ = CASES[case]
    test_file = f"test_bench_{tests}.py"
    args = [*COMMON_ARGS, "--braintrust-project", PROJECT, *extra, test_file] if destination else [*COMMON_ARGS, *extra, test_file]
    with tempfile.TemporaryDirectory(prefix=f"bench-pytest-{case}-") as tmp:
        workdir = Path(tmp)
        store_dir = workdir / "store"
        env = clean_env(BRAINTRUST_LOCAL_DIR=str(store_dir))  # ours' local store / spill folder
        server = TestServer(workdir) if destination == "server" else None
        try:
            if server is not None:
                env.update(BRAINTRUST_API_KEY=API_KEY, BRAINTRUST_APP_URL=server.url)
                if interpreter == "public":
                    env["BRAINTRUST_QUEUE_SIZE"] = PUBLIC_QUEUE_SIZE
            before = None
            if case.endswith("-rerun"):  # the earlier run it compares with (untimed)
                earlier = run_pytest(python_of(interpreter), args, env, folder, workdir / "earlier.log")
                if earlier["exit_code"] != 0:
                    raise RuntimeError(f"the earlier run of {case} failed:\n{earlier['output_tail']}")
                before = count_store_rows(store_dir)
            result = run_pytest(python_of(interpreter), args, env, folder, workdir / "pytest.log")
            if server is not None:
                counts = server.stats()
            elif destination == "local":
                counts = count_store_rows(store_dir)
                if before is not None:  # this run's rows only
                    counts = {key: (counts[key] - before[key] if key != "distinct_by_span_type" else
                                    {t: n - before[key].get(t, 0) for t, n in counts[key].items()}) for key in counts}
            else:
                counts = None
        finally:
            if server is not None:
                server.stop()
        spills = sum(1 for p in store_dir.rglob("*") if p.is_file() and "spill" in p.parts) if store_dir.exists() else 0
    result.update(case=case, tests=tests, load_average=round(os.getloadavg()[0], 2), spill_files=spills)
    result["ms_per_test"] = result["seconds"] * 1000 / tests
    problems = []
    if result["exit_code"] != 0 or result["passed"] != tests:
        problems.append(f"exit code {result['exit_code']}, {result['passed']} passed of {tests}")
    layout = expected_layout(case, tests, scorer)
    if counts is not None:
        result["arrived"] = counts["distinct_rows"]
        result["writes"] = counts["rows_received"]
        result["requests"] = counts.get("requests")  # HTTP requests the server answered (None: local store)
        result["by_span"] = counts.get("distinct_by_span_type", {})
        result["expected_rows"] = sum(layout.values())
        wrong = {t: result["by_span"].get(t, 0) for t, n in layout.items() if result["by_span"].get(t, 0) != n}
        if result["arrived"] != result["expected_rows"] or wrong:
            problems.append(f"{result['arrived']} distinct rows arrived ({result['by_span']}), expected {layout}")
    if spills:
        problems.append(f"{spills} spill files")
    if case.endswith("-rerun") and " compared to " not in result["output_tail"]:
        problems.append("the summary did not compare with the earlier run")
    result["ok"] = not problems
    result["status"] = "ok" if not problems else "MISMATCH"
    if problems:
        print(f"!!!!! MISMATCH in {case} ({tests} tests): {'; '.join(problems)} !!!!!", file=sys.stderr)
        print(result["output_tail"], file=sys.stderr)
    return result


def write_test_files(folder: Path, sizes: set[int], scorer: bool) -> None:
    # The rootdir (no config of this repository). The marker is registered here too, so plain
    # runs (-p no:braintrust) do not warn about an unknown mark.
    (folder / "pytest.ini").write_text("[pytest]\nmarkers =\n    braintrust: an eval case (both plugins)\n")
    for n in sizes:
        (folder / f"test_bench_{n}.py").write_text(TEST_FILE.format(
            n=n, scorer_def=SCORER_DEF if scorer else "", scorer_arg=", scorers=[exact]" if scorer else ""))
    (folder / "test_small.py").write_text(SMALL_FILE)


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


def run_all(cases: list[str], tests: int, repeat: int, folder: Path, scorer: bool) -> dict:
    """``repeat`` interleaved rounds of every case; per case the run with the median time."""
    runs: dict[str, list[dict]] = {case: [] for case in cases}
    for i in range(repeat):
        for case in cases:
            run = attempt(case, tests, folder, scorer)
            if run is None:
                continue
            rows = f"  rows {run['arrived']} ({run['writes']} writes)" if "arrived" in run else ""
            print(f"  {case:<16} {tests:>6} tests  run {i + 1}/{repeat}: {run['seconds']:7.2f} s  "
                  f"{run['ms_per_test']:6.3f} ms/test  peak {run['peak_rss_mb']:6.1f} MB{rows}  load {run['load_average']}",
                  file=sys.stderr)
            runs[case].append(run)
    results = {}
    for case, case_runs in runs.items():
        if not case_runs:
            continue
        case_runs.sort(key=lambda r: r["seconds"])
        chosen = dict(case_runs[len(case_runs) // 2])
        chosen["all_seconds"] = [round(r["seconds"], 3) for r in case_runs]
        chosen["best_seconds"] = case_runs[0]["seconds"]
        chosen["ok"] = all(r["ok"] for r in case_runs)
        chosen["status"] = "ok" if chosen["ok"] else "MISMATCH"
        chosen["load_average"] = max(r["load_average"] for r in case_runs)
        results[case] = chosen
    return results


def measure_unused(folder: Path, repeat: int, public: bool) -> dict:
    """Median wall ms of ``pytest -q test_small.py`` with the plugin enabled vs disabled."""
    variants = {"ours-enabled": ("ours", []), "ours-disabled": ("ours", ["-p", "no:braintrust"])}
    if public:
        variants.update({"public-enabled": ("public", []), "public-disabled": ("public", ["-p", "no:braintrust"])})
    times: dict[str, list[float]] = {name: [] for name in variants}
    env = clean_env(BRAINTRUST_LOCAL_DIR=str(folder / "unused-store"))
    for name, (interpreter, extra) in variants.items():  # warm-up (pyc, page cache), not measured
        run_pytest(python_of(interpreter), [*COMMON_ARGS, *extra, "test_small.py"], env, folder, folder / "unused.log")
    for i in range(repeat):
        order = list(variants.items())
        if i % 2:
            order.reverse()  # alternate which variant runs first in a round
        for name, (interpreter, extra) in order:
            run = run_pytest(python_of(interpreter), [*COMMON_ARGS, *extra, "test_small.py"], env, folder, folder / "unused.log")
            if run["exit_code"] != 0 or run["passed"] != 50:
                raise RuntimeError(f"unused-overhead run {name} failed:\n{run['output_tail']}")
            times[name].append(run["seconds"] * 1000)
    result = {"repeat": repeat, "ms": {k: [round(v, 2) for v in vs] for k, vs in times.items()}}
    for sdk in ("ours", "public"):
        if f"{sdk}-enabled" in times:
            on, off = times[f"{sdk}-enabled"], times[f"{sdk}-disabled"]
            result[sdk] = {
                "enabled_median_ms": statistics.median(on),
                "disabled_median_ms": statistics.median(off),
                "difference_ms": statistics.median(on) - statistics.median(off),
                "paired_difference_ms": statistics.median(a - b for a, b in zip(on, off)),
            }
    return result


def ensure_public_sdk() -> None:
    """The public SDK's venv (bench/setup_public_sdk.sh), plus pytest in it (the system's version)."""
    setup_public_sdk()
    probe = "import braintrust, pytest; print(braintrust.__file__); print(pytest.__version__)"
    check = subprocess.run([str(PUBLIC_PYTHON), "-c", probe], cwd=tempfile.gettempdir(), capture_output=True, text=True)
    if check.returncode != 0:
        try:
            import pytest

            version = pytest.__version__
        except ImportError:
            version = PYTEST_VERSION_FALLBACK
        print(f"installing pytest=={version} into {PUBLIC_VENV}", file=sys.stderr)
        subprocess.run([str(PUBLIC_PYTHON), "-m", "pip", "install", "--quiet", f"pytest=={version}"], check=True, stdout=sys.stderr)
        check = subprocess.run([str(PUBLIC_PYTHON), "-c", probe], cwd=tempfile.gettempdir(), capture_output=True, text=True, check=True)
    if str(PUBLIC_VENV) not in check.stdout.splitlines()[0]:
        raise RuntimeError(f"the public venv imports braintrust from {check.stdout.splitlines()[0]}, not from {PUBLIC_VENV}")


def kb_per_test(results: dict, case: str, tests: int, small: int) -> float | None:
    """Peak-RSS growth per extra test between the small and the full run, in KB: over the
    baseline's peak for a plugin run, the run's own peak for a plain run."""
    r = results[case]
    if "small" not in r or tests == small:
        return None
    growth = r["peak_rss_mb"] - r["small"]["peak_rss_mb"]
    baseline = results.get(CASES[case][3] or "")
    if baseline is not None:
        if "small" not in baseline:
            return None
        growth -= baseline["peak_rss_mb"] - baseline["small"]["peak_rss_mb"]
    return growth * 1000 / (tests - small)


def print_table(results: dict, tests: int, small: int, unused: dict | None, scorer: bool) -> None:
    nan = float("nan")
    header = (f"{'case':<16} {'seconds':>8} {'best':>7} {'ms/test':>8} {'+ms/test':>8} {'x plain':>7} "
              f"{'cpu s':>6} {'peak MB':>8} {f'peak@{short(small)}':>8} {'KB/test':>8}  {'rows':>6} {'writes':>7} {'reqs':>6}  status")
    print(header)
    print("-" * len(header))
    for case, r in results.items():
        baseline = results.get(CASES[case][3] or "")
        over = f"{(r['seconds'] - baseline['seconds']) * 1000 / tests:8.3f}" if baseline else f"{'-':>8}"
        ratio = f"{r['seconds'] / baseline['seconds']:7.3f}" if baseline else f"{'-':>7}"
        slope = kb_per_test(results, case, tests, small)
        requests = r.get("requests")
        rows = (f"{r['arrived']:>6} {r['writes']:>7} {requests if requests is not None else '-':>6}" if "arrived" in r
                else f"{'-':>6} {'-':>7} {'-':>6}")
        print(f"{case:<16} {r['seconds']:>8.2f} {r['best_seconds']:>7.2f} {r['ms_per_test']:>8.3f} {over} {ratio} "
              f"{r['cpu_seconds']:>6.1f} {r['peak_rss_mb']:>8.1f} {r.get('small', {}).get('peak_rss_mb', nan):>8.1f} "
              f"{slope if slope is not None else nan:>8.2f}  {rows}  {r['status']}")
    print()
    if "plain-n2" in results:
        for case in ("ours-local-n2",):
            if case in results:
                r, base = results[case], results["plain-n2"]
                print(f"{case} vs plain-n2: x{r['seconds'] / base['seconds']:.3f}, "
                      f"+{(r['seconds'] - base['seconds']) * 1000 / tests:.3f} ms/test")
    if all(c in results for c in ("public-server", "ours-server", "plain", "plain-public")):
        ours, public = results["ours-server"], results["public-server"]
        base_ours, base_public = results["plain"]["seconds"], results["plain-public"]["seconds"]
        ours_over = (ours["seconds"] - base_ours) * 1000 / tests
        public_over = (public["seconds"] - base_public) * 1000 / tests
        print(f"plugin overhead per test into the server: ours {ours_over:.3f} ms, public {public_over:.3f} ms"
              + (f" (public / ours: x{public_over / ours_over:.2f})" if ours_over > 0 else ""))
    print()
    layout = "root (eval, with a pass score) + task" + (" + score" if scorer else "")
    print(f"{tests} tests per run. Ours writes {layout} per test ({tests * (3 if scorer else 2)} distinct rows);"
          f" the public plugin one root span per test ({tests}).")
    print("rows: distinct rows counted on arrival (server) or in the store's row_log (local); writes: every row write;"
          " reqs: HTTP requests the server answered (login and registration included).")
    print("seconds: wall time of the whole pytest process (run with the median time; best: the fastest);"
          " +ms/test and x plain: against plain (ours) or plain-public (public SDK).")
    print(f"peak MB: largest single process (wait4); peak@{short(small)}: the same for {small} tests;"
          f" KB/test: growth per extra test of the peak over plain's (plain rows: their own growth).")
    print(f"public SDK run with BRAINTRUST_QUEUE_SIZE={PUBLIC_QUEUE_SIZE}; ours with defaults.")
    loads = [r["load_average"] for r in results.values()]
    cores = os.cpu_count() or 1
    print(f"1-minute load average after the runs: {min(loads):.1f}-{max(loads):.1f} on {cores} cores"
          + " (a run and its server count for up to 2)"
          + ("  <-- other processes competed for the CPU: numbers are pessimistic" if max(loads) > cores + 1 else ""))
    if unused:
        print()
        print(f"installed but unused (pytest -q on 50 unmarked tests, {unused['repeat']} runs each, interleaved):")
        for sdk in ("ours", "public"):
            if sdk in unused:
                u = unused[sdk]
                print(f"  {sdk:<7} enabled {u['enabled_median_ms']:7.1f} ms  -p no:braintrust {u['disabled_median_ms']:7.1f} ms"
                      f"  difference of medians {u['difference_ms']:+7.1f} ms  median paired difference {u['paired_difference_ms']:+7.1f} ms")
    print()
    for case in ("ours-local", "ours-local-rerun", "ours-server"):
        if case not in results:
            continue
        r = results[case]
        if not r["ok"] or not results.get("plain", {}).get("ok"):
            print(f"{case}: no verdict: a run failed or rows are missing (MISMATCH above).")
            continue
        ratio = r["seconds"] / results["plain"]["seconds"]
        slope = kb_per_test(results, case, tests, small)
        verdicts = [f"{'meets' if ratio <= TARGET_RATIO else 'MISSES'} the time target (x{ratio:.3f} plain; target <= x{TARGET_RATIO:.2f})"]
        if slope is not None:
            verdicts.append(f"memory {'is flat' if slope <= FLAT_KB_PER_TEST else 'GROWS'} ({slope:.2f} KB/test over plain; flat <= {FLAT_KB_PER_TEST})")
        print(f"{case}: " + "; ".join(verdicts) + ".")
    if unused and "ours" in unused:
        d = unused["ours"]["paired_difference_ms"]
        print(f"unused plugin: {'meets' if d < TARGET_UNUSED_MS else 'MISSES'} the target ({d:+.1f} ms; target < {TARGET_UNUSED_MS:.0f} ms).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=2_000, help="tests of the extra runs comparing peak RSS (0: skip)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per case; the median is reported")
    parser.add_argument("--unused-repeat", type=int, default=15, help="runs per variant of the unused-plugin overhead (0: skip)")
    parser.add_argument("--scorer", action="store_true", help="declare a scorer on every test (ours then writes 3 spans per test)")
    parser.add_argument("--skip-public", action="store_true")
    parser.add_argument("--cases", help=f"comma-separated subset of {','.join(CASES)}")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON ('-' for stdout)")
    args = parser.parse_args(argv)

    cases = [c.strip() for c in args.cases.split(",")] if args.cases else list(CASES)
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; known: {list(CASES)}")
    if args.skip_public:
        cases = [c for c in cases if CASES[c][0] != "public"]
    else:
        ensure_public_sdk()
    for case in list(cases):  # a case needs its baseline
        baseline = CASES[case][3]
        if baseline and baseline not in cases:
            cases.insert(0, baseline)
    small = args.small if args.small and args.small != args.tests else 0

    with tempfile.TemporaryDirectory(prefix="bench-pytest-") as tmp:
        folder = Path(tmp)
        write_test_files(folder, {args.tests, small} - {0}, args.scorer)
        for interpreter in sorted({CASES[c][0] for c in cases}):  # warm-up: pyc files, page cache
            run_pytest(python_of(interpreter), [*COMMON_ARGS, "-p", "no:braintrust", "test_small.py"],
                       clean_env(), folder, folder / "warmup.log")
        results = run_all(cases, args.tests, args.repeat, folder, args.scorer)
        if small:
            for case in list(results):
                run = attempt(case, small, folder, args.scorer)
                if run is None:
                    continue
                print(f"  {case:<16} {small:>6} tests  (memory run): {run['seconds']:7.2f} s  peak {run['peak_rss_mb']:6.1f} MB",
                      file=sys.stderr)
                results[case]["small"] = run
                if not run["ok"]:
                    results[case]["ok"], results[case]["status"] = False, "MISMATCH"
        unused = measure_unused(folder, args.unused_repeat, not args.skip_public) if args.unused_repeat else None

    print()
    if results:
        print_table(results, args.tests, small or args.tests, unused, args.scorer)
    if args.json:
        document = {"tests": args.tests, "small": small, "repeat": args.repeat, "scorer": args.scorer,
                    "common_args": COMMON_ARGS, "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "tree": git_tree(),
                    "public_queue_size": PUBLIC_QUEUE_SIZE, "results": results, "unused": unused}
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
