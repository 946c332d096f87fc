"""pytest-xdist (issue items 3 and 6), in real processes: one experiment per project for the
whole run, workers logging into it, one summary with merged counts from the controller, and a
dataset pinned so that every worker collects the same ids even when it changes meanwhile."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import braintrust
from braintrust.objects.dataset import init_dataset
from delivery_helpers import subprocess_env

CONFTEST = '''
import os
from pathlib import Path

def pytest_collection_finish(session):
    if os.environ.get("PYTEST_XDIST_WORKER") == "gw0":
        Path(os.environ["SYNC_DIR"], "gw0-collected").write_text("")
'''

SUITE = '''
import os
import time
from pathlib import Path

import braintrust
import pytest
from braintrust.objects.dataset import init_dataset
from pytest_braintrust import eval_case

if os.environ.get("PYTEST_XDIST_WORKER") == "gw1":
    # gw1 collects after gw0 and after the dataset changed: without the version gw0 pinned it
    # would collect one more case and xdist would stop ("Different tests were collected").
    marker = Path(os.environ["SYNC_DIR"], "gw0-collected")
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    init_dataset(project="xdist", name="qa").insert(id="late", input="late", expected="LATE")
    braintrust.flush()


@eval_case(data=init_dataset(project="xdist", name="qa"))
def test_dataset(braintrust_case):
    return braintrust_case.input.upper()


@eval_case()
@pytest.mark.parametrize("n", range(12))
def test_default(n):
    assert n != 5


def broken(input):
    return 1 / (input["n"] % 6)  # raises for n = 0 and 6


@eval_case(project="xdist-other", scorers=[broken])
@pytest.mark.parametrize("n", range(12))
def test_other(n):
    pass
'''


def test_xdist_one_experiment_one_summary_pinned_dataset(bt, tmp_path):
    dataset = init_dataset(project="xdist", name="qa")
    for word in ("alpha", "beta", "gamma"):
        dataset.insert(id=word, input=word, expected=word.upper())
    braintrust.flush()
    braintrust.delivery.runtime.reset_for_tests()

    # Earlier runs: the run's experiment in "xdist" will be "nightly-1", a name the other
    # project already has; its workers must not join that old experiment.
    with bt.store() as store:
        store.create_experiment(store.get_or_create_project("xdist")["id"], name="nightly")
        old_other = store.create_experiment(store.get_or_create_project("xdist-other")["id"], name="nightly-1")

    bt.pytester.makeconftest(CONFTEST)
    bt.pytester.makepyfile(test_suite_xdist=SUITE)
    result = bt.run_subprocess(
        "--braintrust",
        "--braintrust-project",
        "xdist",
        "--braintrust-experiment",
        "nightly",
        "--braintrust-gates-only",
        "--braintrust-fail-under",
        "pass=0.9",
        "--braintrust-json",
        "summary.json",
        "-n",
        "2",
        env={"SYNC_DIR": str(tmp_path)},
    )
    assert (tmp_path / "gw0-collected").exists()
    result.assert_outcomes(passed=26, failed=1)
    assert result.ret == 0  # --braintrust-gates-only: the failing case only lowers "pass" (26/27)
    out = result.stdout.str()
    assert "Different tests were collected" not in out

    # One experiment per project, holding the cases of both workers.
    (main,) = [e for e in bt.experiments("xdist") if e["name"] != "nightly"]
    assert main["name"] == "nightly-1"
    (other,) = [e for e in bt.experiments("xdist-other") if e["id"] != old_other["id"]]
    assert bt.rows(old_other) == []
    main_roots = bt.roots(main)
    assert sorted(main_roots) == sorted(
        [f"test_dataset[{w}]" for w in ("alpha", "beta", "gamma")] + [f"test_default[{n}]" for n in range(12)]
    )
    assert main_roots["test_dataset[beta]"]["output"] == "BETA"
    assert sorted(bt.roots(other)) == sorted(f"test_other[{n}]" for n in range(12))
    workers = {r["metadata"]["pytest"].get("worker") for r in main_roots.values()}
    assert workers == {"gw0", "gw1"}
    # Linked to the dataset its cases were read from (the version the workers pinned), as
    # without xdist; the other project read none.
    assert main["dataset_id"] == dataset.id and main["dataset_version"]
    assert other["dataset_id"] is None

    # The controller prints the header, the merged counts and the summaries, once.
    assert out.count("braintrust: logging eval cases to project 'xdist'") == 1
    assert out.count("= Braintrust =") == 1
    result.stdout.fnmatch_lines(["27 eval cases: 26 passed, 1 failed"])
    assert out.count("=========================SUMMARY=========================") == 2
    result.stdout.fnmatch_lines([f"See results for {main['name']} in the local store at *", f"See results for {other['name']} in the local store at *"])
    result.stdout.fnmatch_lines(["rows: * sent, 0 spilled, 0 dropped*"])
    # Scorer failures on both workers, counted together.
    result.stdout.fnmatch_lines(["scorer 'broken' failed in 2 cases (first: test_other[[]*[]]: ZeroDivisionError: *)*"])
    sent = int(out.split("rows: ")[1].split(" sent")[0])
    assert sent >= 2 * (15 + 12)  # every worker's rows are counted (root + task per case at least)
    document = json.loads((bt.path / "summary.json").read_text())
    assert document["cases"]["total"] == 27 and document["cases"]["failed"] == 1
    assert sorted(e["project"] for e in document["experiments"]) == ["xdist", "xdist-other"]
    assert document["delivery"]["accepted"] == sent
    assert document["scorer_errors"]["broken"]["cases"] == 2
    assert [g["passed"] for g in document["gates"]] == [True, True]  # "pass" of each experiment


def test_a_run_with_no_eval_case_leaves_no_experiment(bt):
    """Under xdist too (its controller used to register the experiment before the workers
    collected): an empty experiment would become the next run's baseline."""
    bt.pytester.makepyfile(
        test_suite_no_case='''
        import pytest
        from pytest_braintrust import eval_case

        @eval_case()
        @pytest.mark.parametrize("n", range(4))
        def test_case(n):
            return n

        def test_unit():
            pass
        '''
    )
    for args in ((), ("-n", "2")):
        result = bt.run_subprocess("--braintrust", "--braintrust-project", "no-case", "-k", "test_unit", *args)
        assert result.ret == 0, args
        result.stdout.fnmatch_lines(["0 eval cases"])
        assert bt.experiments("no-case") == [], args
    result = bt.run_subprocess("--braintrust", "--braintrust-project", "no-case", "-n", "2")
    result.stdout.fnmatch_lines(["4 eval cases: 4 passed"])
    (experiment,) = bt.experiments("no-case")
    assert sorted(bt.roots(experiment)) == [f"test_case[{n}]" for n in range(4)]


def test_xdist_against_the_api(bt_api):
    server = bt_api.server
    bt_api.pytester.makepyfile(
        test_suite_xdist_api='''
        import pytest
        from pytest_braintrust import eval_case

        @eval_case()
        @pytest.mark.parametrize("n", range(10))
        def test_case(n):
            return n

        @eval_case(project="api-other")
        @pytest.mark.parametrize("n", range(6))
        def test_other(n):
            pass
        '''
    )
    result = bt_api.run_subprocess("--braintrust", "--braintrust-project", "api-xdist", "-n", "2")
    result.assert_outcomes(passed=16)
    projects = {p["name"]: p for p in server.projects()}
    (main,) = server.experiments(projects["api-xdist"]["id"])
    (other,) = server.experiments(projects["api-other"]["id"])
    roots = [r for r in server.rows("experiment", main["id"]) if not r.get("span_parents")]
    assert sorted(r["output"] for r in roots) == list(range(10))
    assert {r["metadata"]["pytest"]["worker"] for r in roots} == {"gw0", "gw1"}
    assert len([r for r in server.rows("experiment", other["id"]) if not r.get("span_parents")]) == 6
    out = result.stdout.str()
    assert out.count("= Braintrust =") == 1
    result.stdout.fnmatch_lines(
        [
            "16 eval cases: 16 passed",
            f"See results for {main['name']} at {server.url}/app/test-org/p/api-xdist/experiments/{main['name']}",
        ]
    )
    result.stdout.fnmatch_lines([f"See results for {other['name']} at {server.url}/app/test-org/p/api-other/experiments/{other['name']}"])


def test_unreachable_braintrust_never_breaks_the_run(bt_api):
    """Braintrust down: the tests' result stands, rows are spilled, the trouble is reported (with
    xdist too, where the controller cannot create the experiment before the workers start)."""
    bt_api.server.stop()
    spill_dir = bt_api.path / "spill"
    env = {"BRAINTRUST_NUM_RETRIES": "0", "BRAINTRUST_FLUSH_TIMEOUT": "3", "BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR": str(spill_dir)}
    for name, value in env.items():
        bt_api.monkeypatch.setenv(name, value)
    bt_api.pytester.makepyfile(
        test_suite_down='''
        import pytest
        from pytest_braintrust import eval_case

        @eval_case()
        @pytest.mark.parametrize("n", range(4))
        def test_case(n):
            return n
        '''
    )
    for args in ((), ("-n", "2")):
        result = bt_api.run_subprocess("--braintrust", "--braintrust-project", "down", *args)
        assert result.ret == 0, args
        out = result.stdout.str()
        assert "INTERNALERROR" not in out
        result.stdout.fnmatch_lines(
            [
                "4 eval cases: 4 passed",
                "rows: 0 sent, * spilled, 0 dropped*",
                f"spilled rows are kept in {spill_dir}; send them with `braintrust replay {spill_dir}`",
                "braintrust: *Could not reach Braintrust*",
            ]
        )
        assert "SUMMARY" not in out


def test_workers_take_the_controllers_unreachable_verdict(bt_api):
    """The controller could not reach Braintrust just now: its workers do not each wait
    through the same login retries again (an offline run took 25 s instead of 9)."""
    bt_api.server.stop()
    bt_api.monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    bt_api.monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(bt_api.path / "spill"))
    bt_api.pytester.makepyfile(
        test_suite_verdict='''
        import pytest
        from braintrust.state import global_state
        from pytest_braintrust import eval_case

        @eval_case()
        @pytest.mark.parametrize("n", range(4))
        def test_case(n):
            verdict = global_state().unreachable_verdict()
            assert verdict is not None and "Could not reach Braintrust" in verdict["message"]
            assert 0 < verdict["seconds_left"] <= 10
        '''
    )
    result = bt_api.run_subprocess("--braintrust", "--braintrust-project", "verdict", "-n", "2")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["4 eval cases: 4 passed", "rows: 0 sent, * spilled, 0 dropped*"])
    assert result.stdout.str().count("braintrust: Could not reach Braintrust") == 1  # each error once


def test_a_worker_that_crashes_is_reported_with_the_cases_it_may_have_lost(bt):
    bt.pytester.makepyfile(
        test_suite_crash='''
        import os
        import pytest
        from pytest_braintrust import eval_case

        @eval_case()
        @pytest.mark.parametrize("n", range(6))
        def test_case(n):
            if n == 3:
                os._exit(1)  # the worker dies without its session finish (no flush)
            return n
        '''
    )
    result = bt.run_subprocess("--braintrust", "--braintrust-project", "crash", "-n", "2", "-p", "no:randomly",
                               "--braintrust-fail-under", "pass=0.1", "--braintrust-json", "summary.json")
    assert result.ret == 10  # (the gate could not be checked: a failed gate, as when rows spill)
    out = result.stdout.str()
    assert "INTERNALERROR" not in out
    result.stdout.fnmatch_lines(
        ["braintrust: worker gw* went down before flushing: of the * eval case(s) it finished (test_*::test_case[[]*), "
         "those whose rows it had not sent yet are lost and not in the counts above; rerun them (pass their ids to pytest*"]
    )
    # The gates are not judged on what arrived (a worse run could pass them): unchecked, and said.
    assert "gate PASSED" not in out, out
    gates = json.loads((bt.path / "summary.json").read_text())["gates"]
    assert gates and not any(gate["passed"] for gate in gates), gates
    assert all("never reported" in gate["message"] for gate in gates), gates


def test_a_crashed_worker_counts_a_rerun_case_once(bt):
    """pytest-rerunfailures under xdist: the worker that crashed had finished 2 cases, one of
    them after a rerun; a replacement worker that finished none is not reported."""
    bt.pytester.makepyfile(
        test_suite_crash_reruns=f'''
        import os
        import pathlib
        from pytest_braintrust import eval_case

        ATTEMPTED = pathlib.Path({str(bt.path / "attempted")!r})

        @eval_case()
        def test_a_flaky():
            if not ATTEMPTED.exists():
                ATTEMPTED.write_text("")
                assert False, "the first attempt fails"

        @eval_case()
        def test_b_fine():
            pass

        @eval_case()
        def test_c_crashes():
            os._exit(1)
        '''
    )
    result = bt.run_subprocess("--braintrust", "--braintrust-project", "crash", "-n", "1", "--reruns", "2", "-p", "no:randomly")
    assert result.ret == 1
    out = result.stdout.str()
    assert "INTERNALERROR" not in out
    result.stdout.fnmatch_lines([
        "0 eval cases (and 2 not reported back: see below)",
        "braintrust: worker gw0 went down before flushing: of the 2 eval case(s) it finished (*), *",
    ])
    assert out.count("went down before flushing") == 1, out  # (not the replacements that finished none)


def test_ctrl_c_under_xdist_says_what_the_workers_did_not_report(bt):
    """Ctrl-C (a real SIGINT to the controller) while workers run cases: the controller stops
    before the workers report back. It says how many finished cases that leaves uncounted, still
    summarizes what reached the experiment, and exits with pytest's 2."""
    finished = bt.path / "finished"
    finished.mkdir()
    bt.pytester.makepyfile(
        test_suite_ctrl_c=f'''
        import pathlib
        import time
        import pytest
        from pytest_braintrust import eval_case

        @eval_case()
        @pytest.mark.parametrize("n", range(400))
        def test_case(n):
            pathlib.Path({str(finished)!r}, str(n)).write_text("")
            time.sleep(0.05)
        '''
    )
    env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(bt.local_dir), PYTHONDONTWRITEBYTECODE="1")
    args = ["-p", "no:cacheprovider", "-p", "no:randomly", "--braintrust", "--braintrust-project", "stopped", "-n", "2"]
    process = subprocess.Popen([sys.executable, "-m", "pytest", *args, "test_suite_ctrl_c.py"], cwd=bt.path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(list(finished.iterdir())) < 40 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=60)[0]
    finally:
        process.kill()
    assert process.returncode == 2, output
    assert "INTERNALERROR" not in output, output
    uncounted = re.search(r"the run ended before worker\(s\) gw\d(, gw\d)? reported back: (\d+) finished eval case\(s\) "
                          r"are not counted above, nor the rows the workers sent; the summary shows what had arrived", output)
    # (40 cases had started; how many the controller saw finish before the signal varies)
    assert uncounted and int(uncounted.group(2)) >= 1, output
    assert f"(and {uncounted.group(2)} not reported back: see below)" in output
    assert "See results for" in output  # the experiment the controller registered is summarized


def test_ctrl_c_under_xdist_while_the_workers_flush_to_a_hanging_braintrust(bt_api):
    """Ctrl-C to the whole process group while both workers wait in their final flush: they spill
    at once, and the controller, which they never reported to, says where the spill files are;
    replayed, every row arrives."""
    server = bt_api.server
    finishing = bt_api.path / "finishing"
    finishing.mkdir()
    bt_api.pytester.makeconftest(
        f'''
        import os
        import pathlib
        import pytest

        @pytest.hookimpl(wrapper=True)  # (around every implementation: before the plugin's flush)
        def pytest_sessionfinish():
            worker = os.environ.get("PYTEST_XDIST_WORKER")
            if worker:
                pathlib.Path({str(finishing)!r}, worker).write_text("")
            return (yield)
        '''
    )
    bt_api.pytester.makepyfile(
        test_suite_hang='''
        import pytest
        from pytest_braintrust import eval_case

        @eval_case()
        @pytest.mark.parametrize("n", range(10))
        def test_case(n):
            pass
        '''
    )
    server.fail_always("POST", "/logs3", {"hang": True})
    env = subprocess_env(BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url, BRAINTRUST_LOCAL_DIR=str(bt_api.local_dir),
                         BRAINTRUST_FLUSH_TIMEOUT="60", PYTHONDONTWRITEBYTECODE="1")
    args = ["-p", "no:cacheprovider", "-p", "no:randomly", "--braintrust", "-n", "2", "test_suite_hang.py"]
    process = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=bt_api.path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)  # (its own group, as a terminal's job)
    try:
        deadline = time.monotonic() + 60
        while len(list(finishing.iterdir())) < 2 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert len(list(finishing.iterdir())) == 2, process.communicate()[0]
        time.sleep(0.5)  # inside both flushes' waits
        import os

        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        interrupted_at = time.monotonic()
        output = process.communicate(timeout=30)[0]
    finally:
        process.kill()
    assert time.monotonic() - interrupted_at < 10, output
    assert process.returncode == 2, output
    spill = bt_api.local_dir / "spill"
    assert f"spill file(s) appeared in {spill} meanwhile: send them with `braintrust replay {spill}`" in output, output

    server.clear_faults()
    replay = subprocess.run([sys.executable, "-m", "braintrust", "replay", str(spill)], cwd=bt_api.path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert len({row["id"] for row in server.rows("experiment")}) == 20  # 10 cases: root and task each
