"""How low can a pytest plugin's per-test cost go? Two stand-in plugins on bench_pytest.py's file.

    python bench/pytest_floor.py                 # 10,000 tests, 5 interleaved rounds
    python bench/pytest_floor.py --tests 2000 --rounds 3

Neither stand-in writes a row; they bound what any design of ``--braintrust`` pays before it
makes spans, so the 1.10x target of bench_pytest.py can be weighed against them:

* ``hook-shape``: the hooks ours implements per test (a ``pytest_runtest_protocol`` wrapper, two
  ``pytest_runtest_setup``, ``pytest_runtest_call`` and ``pytest_runtest_makereport`` wrappers,
  ``pytest_runtest_logreport``, ``pytest_pyfunc_call``) with empty bodies, plus finding the cases
  once at collection: what pluggy's dispatch costs;
* ``minimal-case``: no per-test hook but ``pytest_runtest_logreport``; each case's test function
  is wrapped at collection to make a context variable current and keep its return value, and
  each report's outcome and times are kept: about the least a plugin can do that still knows each
  case's input, outcome, output and timing and lets traced code nest under it.

And ours itself, with nothing to record:

* ``active-no-case``: ``--braintrust`` on the same tests marked with another marker, so none is a
  case: our hooks, options, SDK import, session start and finish, with no case and no row. What
  ``--braintrust`` costs before its first case.

Each run is a whole ``python -m pytest -q`` process (the same ``-p no:...`` arguments as
bench_pytest.py; ``-p no:braintrust`` for plain and the stand-ins, so only the stand-in differs from plain),
timed by wall clock; rounds are interleaved so the VM's drift hits every variant alike. Printed:
medians, the ratio to plain, and the added ms per test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_pytest import COMMON_ARGS, write_test_files
from common import clean_env

HOOK_SHAPE = '''
import pytest
CASES = set()

def pytest_collection_modifyitems(config, items):
    CASES.update(item.nodeid for item in items if item.get_closest_marker("braintrust") is not None)

@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    return (yield)

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    pass

class PerCase:
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        pass

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        return (yield)

    def pytest_runtest_logreport(self, report):
        pass

@pytest.hookimpl
def pytest_pyfunc_call(pyfuncitem):
    return None

def pytest_configure(config):
    config.pluginmanager.register(PerCase(), "floor-per-case")
'''

MINIMAL_CASE = '''
import contextvars
CURRENT = contextvars.ContextVar("case", default=None)
DECLARED, OUTPUTS, REPORTS = {}, {}, []

def pytest_collection_modifyitems(config, items):
    for item in items:
        mark = item.get_closest_marker("braintrust")
        if mark is None:
            continue
        DECLARED[item.nodeid] = (mark.kwargs.get("input"), mark.kwargs.get("expected"))
        def run(*args, _test=item.obj, _id=item.nodeid, **kwargs):
            token = CURRENT.set(_id)
            try:
                OUTPUTS[_id] = _test(*args, **kwargs)
            finally:
                CURRENT.reset(token)
        item.obj = run

def pytest_runtest_logreport(report):
    if report.nodeid in DECLARED:
        REPORTS.append((report.nodeid, report.when, report.outcome, report.start, report.stop))
'''

VARIANTS = {"plain": None, "hook-shape": HOOK_SHAPE, "minimal-case": MINIMAL_CASE, "active-no-case": None}
#: Variants that run our plugin (``--braintrust``) instead of a stand-in, on the unmarked file.
OURS = {"active-no-case"}


def write_unmarked_file(folder: Path, tests: int) -> str:
    """The benchmark's file with its marker renamed (registered, so pytest does not warn)."""
    marked = (folder / f"test_bench_{tests}.py").read_text()
    name = f"test_unmarked_{tests}.py"
    (folder / name).write_text(marked.replace("pytest.mark.braintrust(", "pytest.mark.notacase("))
    ini = folder / "pytest.ini"
    ini.write_text(ini.read_text() + "    notacase: the same mark under another name\n")
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-pytest-floor-") as tmp:
        folder = Path(tmp)
        write_test_files(folder, {args.tests}, scorer=False)
        unmarked = write_unmarked_file(folder, args.tests)
        for name, source in VARIANTS.items():
            if source is not None:
                (folder / f"floor_{name.replace('-', '_')}.py").write_text(source)
        env = clean_env(PYTHONPATH=str(folder))
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # (cached bytecode, as users' runs have it)
        seconds: dict[str, list[float]] = {name: [] for name in VARIANTS}
        for _ in range(args.rounds):
            for name, source in VARIANTS.items():
                if name in OURS:
                    selection = ["--braintrust", "--braintrust-project", "bench-floor", unmarked]
                else:
                    plugin = ["-p", f"floor_{name.replace('-', '_')}"] if source is not None else []
                    selection = ["-p", "no:braintrust", *plugin, f"test_bench_{args.tests}.py"]
                command = [sys.executable, "-m", "pytest", *COMMON_ARGS, *selection]
                start = time.perf_counter()
                proc = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
                seconds[name].append(time.perf_counter() - start)
                if proc.returncode != 0:
                    print(f"{name} failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}", file=sys.stderr)
                    return 1
    plain = statistics.median(seconds["plain"])
    print(f"{args.tests} tests, {args.rounds} interleaved rounds, load {os.getloadavg()[0]:.2f}")
    for name, runs in seconds.items():
        median = statistics.median(runs)
        print(f"  {name:13s} {median:7.3f} s  {median / plain:5.3f}x plain  "
              f"{(median - plain) * 1000 / args.tests:+.4f} ms/test  runs {[round(s, 2) for s in runs]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
