"""Suites that outgrow one process: CI shards started at the same moment, and pytest-xdist
workers whose experiment could not be registered when the first case started."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from plugin_helpers import QUIET

SUITE = '''
import pytest
from pytest_braintrust import eval_case


@eval_case()
@pytest.mark.parametrize("n", range(6))
def test_case(n):
    return n
'''


def start_at_once(bt, runs: list[list[str]]) -> list[subprocess.CompletedProcess]:
    """Start one ``pytest`` process per argument list together; wait for all (bounded)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    processes = [
        subprocess.Popen([sys.executable, "-m", "pytest", *QUIET, "-p", "no:randomly", *args], cwd=bt.path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for args in runs
    ]
    results = []
    deadline = time.monotonic() + 60
    for process, args in zip(processes, runs):
        try:
            output = process.communicate(timeout=max(1.0, deadline - time.monotonic()))[0]
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            raise AssertionError(f"a shard hung: {args}") from None
        results.append(subprocess.CompletedProcess(args, process.returncode, output))
    return results


def shard_args(project: str, shard: int, *extra: str) -> list[str]:
    return ["--braintrust", "--braintrust-project", project, "-k", f"{shard} or {shard + 3}", *extra]


def test_shards_started_at_once_join_one_experiment_in_the_local_store(bt):
    bt.pytester.makepyfile(test_suite_shards=SUITE)
    runs = [shard_args("at-once", n, "--braintrust-experiment", "nightly", "--braintrust-update") for n in range(3)]
    runs.append(shard_args("at-once", 0, "--braintrust-experiment", "nightly", "--braintrust-update", "-n", "2"))
    for result in start_at_once(bt, runs):
        assert result.returncode == 0, result.stdout
        assert "rows: 4 sent, 0 spilled, 0 dropped" in result.stdout, result.stdout
    (experiment,) = bt.experiments("at-once")
    assert experiment["name"] == "nightly"
    names = [r["span_attributes"]["name"] for r in bt.rows(experiment) if not r.get("span_parents")]
    assert sorted(names) == sorted([f"test_case[{n}]" for n in range(6)] + ["test_case[0]", "test_case[3]"])


def test_shards_started_at_once_join_one_experiment_on_braintrust(bt_api):
    server = bt_api.server
    bt_api.pytester.makepyfile(test_suite_shards=SUITE)
    runs = [shard_args("at-once-api", n, "--braintrust-experiment", "nightly", "--braintrust-update", "-n", "2") for n in range(3)]
    for result in start_at_once(bt_api, runs):
        assert result.returncode == 0, result.stdout
        assert "rows: 4 sent, 0 spilled, 0 dropped" in result.stdout, result.stdout
    (project,) = [p for p in server.projects() if p["name"] == "at-once-api"]
    (experiment,) = server.experiments(project["id"])
    assert experiment["name"] == "nightly"
    roots = sorted(r["span_attributes"]["name"] for r in server.rows("experiment", experiment["id"]) if not r.get("span_parents"))
    assert roots == [f"test_case[{n}]" for n in range(6)]


def test_shards_joining_by_id_at_once_add_to_that_experiment(bt):
    bt.pytester.makepyfile(test_suite_shards=SUITE)
    assert bt.run_subprocess("--braintrust", "--braintrust-project", "by-id", "-k", "0").ret == 0
    (experiment,) = bt.experiments("by-id")
    runs = [shard_args("by-id", n, "--braintrust-experiment-id", experiment["id"], "-n", "2") for n in range(3)]
    for result in start_at_once(bt, runs):
        assert result.returncode == 0, result.stdout
    assert [e["id"] for e in bt.experiments("by-id")] == [experiment["id"]]
    assert len([r for r in bt.rows(experiment) if not r.get("span_parents")]) == 7


def test_xdist_workers_that_could_not_register_their_experiment_replay_into_one(bt_api):
    """Braintrust down while an xdist run logs: the worker that creates the experiment cannot
    register it, and every worker spills its rows. They spill them under one experiment, so the
    replay makes one experiment of the run, not one per worker."""
    server = bt_api.server
    server.stop()
    spill = bt_api.path / "spill"
    env = {"BRAINTRUST_NUM_RETRIES": "0", "BRAINTRUST_FLUSH_TIMEOUT": "3", "BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR": str(spill)}
    bt_api.pytester.makepyfile(test_suite_down=SUITE)
    result = bt_api.run_subprocess("--braintrust", "--braintrust-project", "down", "-n", "2", "-p", "no:randomly", env=env)
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["6 eval cases: 6 passed", "rows: 0 sent, 12 spilled, 0 dropped*"])
    spilled_by = {path.name.split("-")[2] for path in spill.glob("spill-*.json")}
    assert len(spilled_by) == 2, f"both workers should have spilled rows: {sorted(p.name for p in spill.iterdir())}"

    server.start()
    replay = subprocess.run([sys.executable, "-m", "braintrust", "replay", str(spill)], cwd=bt_api.path,
                            capture_output=True, text=True, timeout=60)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    (project,) = [p for p in server.projects() if p["name"] == "down"]
    experiments = server.experiments(project["id"])
    assert len(experiments) == 1, [e["name"] for e in experiments]
    roots = sorted(r["span_attributes"]["name"] for r in server.rows("experiment", experiments[0]["id"]) if not r.get("span_parents"))
    assert roots == [f"test_case[{n}]" for n in range(6)]
