"""pytest-xdist and CI shards under stress, in real processes: a controller SIGTERMed as a
cancelled CI job is, and shards joining one experiment by id whose suite logs into a second
project through a marker's ``project=``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from delivery_helpers import subprocess_env
from plugin_helpers import QUIET


def test_sigterm_to_the_xdist_controller_ends_with_its_summary(bt):
    """A cancelled CI job SIGTERMs pytest: under xdist the controller, which logs nothing itself,
    had no SIGTERM handler, so it died at once (status -15) with no Braintrust section, where the
    same run without xdist exits 2 with its summary. It now ends as after Ctrl-C."""
    started = bt.path / "started"
    started.mkdir()
    bt.pytester.makepyfile(
        test_suite_sigterm=f'''
        import pathlib
        import time
        import pytest
        from pytest_braintrust import eval_case

        @eval_case()
        @pytest.mark.parametrize("n", range(300))
        def test_case(n):
            pathlib.Path({str(started)!r}, str(n)).write_text("")
            time.sleep(0.05)
        '''
    )
    env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(bt.local_dir), PYTHONDONTWRITEBYTECODE="1")
    args = [*QUIET, "-p", "no:randomly", "--braintrust", "--braintrust-project", "cancelled", "-n", "2", "test_suite_sigterm.py"]
    process = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=bt.path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(list(started.iterdir())) < 10 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)  # the controller only, as `kill PID` does
        output = process.communicate(timeout=60)[0]
    finally:
        process.kill()
    assert process.returncode == 2, output
    assert "INTERNALERROR" not in output, output
    assert "= Braintrust =" in output, output
    assert "KeyboardInterrupt: SIGTERM" in output, output
    assert "See results for" in output, output
    (experiment,) = bt.experiments("cancelled")
    roots = [r["span_attributes"]["name"] for r in bt.rows(experiment) if not r.get("span_parents")]
    assert roots and len(roots) == len(set(roots))  # what the workers finished arrived, each case once


SUITE = '''
import pytest
from pytest_braintrust import eval_case


@eval_case()
@pytest.mark.parametrize("n", range(6))
def test_case(n):
    return n


@eval_case(project="qa3-shards-other")
@pytest.mark.parametrize("n", range(6))
def test_other(n):
    assert n != 4
    return n
'''


def test_shards_joining_by_id_put_a_marker_projects_cases_in_one_experiment(bt):
    """Three shards (each with -n 2) started at once with --braintrust-experiment-id: the cases
    of the marker's other project went into a new experiment per shard (three partial
    experiments, each the next one's baseline); they now join one experiment there, named as
    the experiment joined by id, as --braintrust-experiment NAME --braintrust-update does."""
    bt.pytester.makepyfile(test_suite_id_shards=SUITE)
    first = bt.run_subprocess("--braintrust", "--braintrust-project", "qa3-shards", "--braintrust-experiment", "nightly",
                              "-k", "test_case and 0")
    assert first.ret == 0, first.stdout.str()
    (experiment,) = bt.experiments("qa3-shards")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    processes = [
        subprocess.Popen([sys.executable, "-m", "pytest", *QUIET, "-p", "no:randomly", "--braintrust", "--braintrust-project",
                          "qa3-shards", "--braintrust-experiment-id", experiment["id"], "-k", f"{n} or {n + 3}", "-n", "2"],
                         cwd=bt.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for n in range(3)
    ]
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=60)[0])
    finally:
        for process in processes:
            process.kill()
    assert [p.returncode for p in processes] == [0, 1, 0], outputs  # shard 1 runs the failing test_other[4]
    assert [e["id"] for e in bt.experiments("qa3-shards")] == [experiment["id"]]
    (other,) = bt.experiments("qa3-shards-other")
    assert other["name"] == "nightly"
    roots = sorted(r["span_attributes"]["name"] for r in bt.rows(other) if not r.get("span_parents"))
    assert roots == [f"test_other[{n}]" for n in range(6)]
    assert all("braintrust show qa3-shards-other nightly`" in output for output in outputs), outputs
