"""Every pytest outcome → the case's row (the table in pytest_braintrust/outcome.py), and
scorers: they run when the test fails, and their errors never change the outcome."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from delivery_helpers import subprocess_env
from plugin_helpers import tree

SUITE = '''
import pytest
from pytest_braintrust import eval_case


@pytest.fixture
def broken_setup():
    raise RuntimeError("no database")


@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("cleanup failed")


def exact(output, expected):
    return 1.0 if output == expected else 0.0


def explodes(output):
    raise ValueError("scorer bug")


@eval_case(input=1)
def test_passed():
    pass


@eval_case(input=2, expected=3, scorers=[exact, explodes])
def test_failed(braintrust_case):
    braintrust_case.log_output(3)
    assert 1 + 1 == 3, "arithmetic is off"


@eval_case(input=3)
def test_setup_error(broken_setup):
    pass


@eval_case(input=4)
def test_teardown_error(broken_teardown):
    pass


@eval_case(input=5)
@pytest.mark.skip(reason="not today")
def test_skipped_mark():
    pass


@eval_case(input=6)
def test_skipped_inside():
    pytest.skip("no network")


@eval_case(input=7)
@pytest.mark.xfail(reason="known bug")
def test_xfailed():
    assert False


@eval_case(input=8)
@pytest.mark.xfail(reason="fixed already")
def test_xpassed():
    pass


@eval_case(input=9)
@pytest.mark.xfail(reason="strict", strict=True)
def test_xpassed_strict():
    pass


@eval_case(input=10, expected="ok", scorers=[exact, explodes])
def test_scorer_error_keeps_pass(braintrust_case):
    braintrust_case.log_output("ok")
'''


def test_outcome_table(bt):
    bt.pytester.makepyfile(test_suite_outcomes=SUITE)
    result = bt.run("--braintrust", "-rA", "test_suite_outcomes.py")
    result.assert_outcomes(passed=3, failed=2, errors=2, skipped=2, xfailed=1, xpassed=1)
    rows = bt.rows()
    roots = {r["span_attributes"]["name"]: r for r in rows if not r.get("span_parents")}
    assert len(roots) == 10

    def md(name):
        return roots[name]["metadata"]["pytest"]

    def expect(name, outcome, passed):
        assert md(name)["outcome"] == outcome, name
        assert roots[name]["scores"].get("pass") == passed, name

    expect("test_passed", "passed", 1)
    assert "error" not in roots["test_passed"]

    expect("test_failed", "failed", 0)
    error = roots["test_failed"]["error"]
    assert "arithmetic is off" in error
    assert "test_suite_outcomes.py:32" in error  # file:line of the failing assertion
    assert md("test_failed")["phase"] == "call"
    # Scorers ran although the test failed, and the broken one did not change the outcome.
    t = tree(rows)
    assert t.child(roots["test_failed"], "exact")["scores"] == {"exact": 1}
    # The test body is the task: its span carries the failure, as Eval's task span does.
    assert t.child(roots["test_failed"], "task")["error"] == error
    assert "error" not in t.child(roots["test_passed"], "task")
    for name in ("test_skipped_inside", "test_xfailed", "test_teardown_error"):  # not failures of the body
        assert "error" not in t.child(roots[name], "task"), name
    assert "scorer bug" in roots["test_failed"]["metadata"]["scorer_errors"]["explodes"]
    assert "scorer bug" in t.child(roots["test_failed"], "explodes")["error"]

    expect("test_setup_error", "error", 0)
    assert md("test_setup_error")["phase"] == "setup"
    assert roots["test_setup_error"]["error"].startswith("error in setup: RuntimeError: no database")
    assert [c["span_attributes"]["name"] for c in t.children(roots["test_setup_error"])] == []  # no task ran

    expect("test_teardown_error", "error", 0)
    assert md("test_teardown_error")["phase"] == "teardown"
    assert "cleanup failed" in roots["test_teardown_error"]["error"]

    for name, reason in (("test_skipped_mark", "not today"), ("test_skipped_inside", "no network")):
        expect(name, "skipped", None)
        assert reason in md(name)["reason"]
        assert "error" not in roots[name]

    expect("test_xfailed", "xfailed", 0)
    assert md("test_xfailed")["reason"] == "known bug"
    assert "error" not in roots["test_xfailed"]

    expect("test_xpassed", "xpassed", 1)
    assert md("test_xpassed")["reason"] == "fixed already"

    expect("test_xpassed_strict", "failed", 0)
    assert "XPASS(strict)" in roots["test_xpassed_strict"]["error"]

    expect("test_scorer_error_keeps_pass", "passed", 1)
    assert roots["test_scorer_error_keeps_pass"]["metadata"]["scorer_errors"].keys() == {"explodes"}
    assert "error" not in roots["test_scorer_error_keeps_pass"]

    # The terminal summary counts the outcomes.
    result.stdout.fnmatch_lines(["10 eval cases: 2 passed, 2 failed, 2 error, 2 skipped, 1 xfailed, 1 xpassed"])


def test_an_error_raised_below_the_test_names_the_tests_line_and_where_it_was_raised(bt):
    bt.pytester.makepyfile(
        helpers="def parse(text):\n    return int(text)\n",
        test_suite_raised='''
        from pytest_braintrust import eval_case
        from helpers import parse


        @eval_case(input="x")
        def test_helper_raises(braintrust_case):
            parse(braintrust_case.input)


        @eval_case(input=1)
        def test_assert_here():
            assert 1 + 1 == 3, "arithmetic"


        def check(value):
            assert value == 2, "a helper in the test file"


        @eval_case(input=1)
        def test_local_helper_raises():
            check(1)
        ''',
    )
    bt.run("--braintrust").assert_outcomes(failed=3)
    roots = bt.roots()
    error = roots["test_helper_raises"]["error"]
    assert error.startswith("ValueError: invalid literal for int() with base 10: 'x'\n")
    assert error.endswith("\ntest_suite_raised.py:7 (raised at " + str(bt.path / "helpers.py") + ":2)")
    here = roots["test_assert_here"]["error"]
    assert here.startswith("AssertionError: arithmetic") and here.endswith("\ntest_suite_raised.py:12")
    local = roots["test_local_helper_raises"]["error"]
    assert local.startswith("AssertionError: a helper in the test file")
    assert local.endswith("\ntest_suite_raised.py:21 (raised at " + str(bt.path / "test_suite_raised.py") + ":16)")


def test_a_case_stopped_by_pytest_exit_is_interrupted_and_gates_are_not_applied(bt):
    bt.pytester.makepyfile(
        test_suite_exit='''
        import pytest
        from pytest_braintrust import eval_case


        @eval_case(input=1)
        def test_first():
            pass


        @eval_case(input=2)
        def test_stops_the_run():
            pytest.exit("enough for today")


        @eval_case(input=3)
        def test_never_runs():
            pass
        ''',
    )
    result = bt.run("--braintrust", "--braintrust-fail-under", "pass=1", "--braintrust-json", "summary.json")
    assert result.ret == 2  # pytest's "interrupted", not the gates' 10: a partial run is no verdict
    roots = bt.roots()
    assert set(roots) == {"test_first", "test_stops_the_run"}
    stopped = roots["test_stops_the_run"]
    assert stopped["metadata"]["pytest"]["outcome"] == "interrupted"
    assert stopped["metadata"]["pytest"]["phase"] == "call"
    assert stopped["error"] == "interrupted in call: Exit: enough for today"
    assert "pass" not in stopped["scores"]  # no verdict
    result.stdout.fnmatch_lines(
        ["2 eval cases: 1 passed, 1 interrupted", "gates not applied: the run ended with exit status 2 (interrupted)"]
    )
    document = json.loads((bt.path / "summary.json").read_text())
    assert document["cases"]["interrupted"] == 1 and document["gates"] == []


def test_quitting_the_debugger_on_a_failure_keeps_the_failure(bt):
    """``--pdb`` opens the debugger on a failed case and the user quits it (``q``): pytest stops
    the run, but that case had failed, and is logged as failed (not interrupted)."""
    bt.pytester.makepyfile(
        test_suite_pdb='''
        from pytest_braintrust import eval_case


        @eval_case(input=1)
        def test_fails():
            assert 1 == 2


        @eval_case(input=2)
        def test_never_runs():
            pass
        ''',
    )
    env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(bt.local_dir), PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--braintrust", "--pdb", "test_suite_pdb.py"],
                            cwd=bt.path, env=env, input="q\n", capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stdout  # pytest's own: the run was stopped
    assert "1 eval case: 1 failed" in result.stdout, result.stdout
    roots = bt.roots()
    assert set(roots) == {"test_fails"}
    failed = roots["test_fails"]
    assert failed["metadata"]["pytest"]["outcome"] == "failed" and failed["scores"]["pass"] == 0
    assert failed["error"].startswith("assert 1 == 2")


def test_ctrl_c_ends_the_run_at_once_with_the_interrupted_case_logged(bt):
    """A real SIGINT (Ctrl-C) to a real pytest process: the case that was running is logged as
    interrupted, the finished ones as they were, and the process exits with pytest's 2."""
    started = bt.path / "started"
    bt.pytester.makepyfile(
        test_suite_ctrl_c=f'''
        import pathlib
        import time
        from pytest_braintrust import eval_case


        @eval_case(input=1)
        def test_quick():
            pass


        @eval_case(input=2)
        def test_waits():
            pathlib.Path({str(started)!r}).write_text("yes")
            time.sleep(60)
        ''',
    )
    env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(bt.local_dir), PYTHONDONTWRITEBYTECODE="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--braintrust", "test_suite_ctrl_c.py"],
        cwd=bt.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert started.exists(), process.communicate()[0]
        process.send_signal(signal.SIGINT)
        interrupted_at = time.monotonic()
        output = process.communicate(timeout=30)[0]
    finally:
        process.kill()
    assert time.monotonic() - interrupted_at < 10, output  # flush and summary, not the test's 60 s
    assert process.returncode == 2, output
    assert "2 eval cases: 1 passed, 1 interrupted" in output, output
    roots = bt.roots()
    assert roots["test_quick"]["metadata"]["pytest"]["outcome"] == "passed"
    assert roots["test_waits"]["metadata"]["pytest"]["outcome"] == "interrupted"
    assert roots["test_waits"]["error"] == "interrupted in call: KeyboardInterrupt"


@pytest.mark.parametrize("stage", ["flush", "summary"])
def test_ctrl_c_during_the_session_finish_stops_at_once_and_exits_2(bt_api, stage):
    """Braintrust hangs; the tests are done and the final flush (or the summary request) waits.
    The user presses Ctrl-C: no more waiting (rows not delivered are spilled at once), the run
    exits 2 (interrupted) with one message and no traceback; replayed later, every row arrives."""
    server = bt_api.server
    finishing = bt_api.path / "finishing"
    bt_api.pytester.makeconftest(
        f'''
        import pathlib
        import pytest

        @pytest.hookimpl(wrapper=True)  # (runs around every implementation: before the plugin's flush)
        def pytest_sessionfinish():
            pathlib.Path({str(finishing)!r}).write_text("yes")
            return (yield)
        '''
    )
    bt_api.pytester.makepyfile(
        test_suite_finish='''
        import pytest
        from pytest_braintrust import eval_case

        @eval_case()
        @pytest.mark.parametrize("n", range(3))
        def test_case(n):
            pass
        '''
    )
    hanging = ("POST", "/logs3") if stage == "flush" else ("GET", "/v1/experiment/*")  # (the summary's GET)
    server.fail_always(*hanging, {"hang": True})
    env = subprocess_env(BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url, BRAINTRUST_LOCAL_DIR=str(bt_api.local_dir),
                         BRAINTRUST_FLUSH_TIMEOUT="60", PYTHONDONTWRITEBYTECODE="1")
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--braintrust", "test_suite_finish.py"],
        cwd=bt_api.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )

    def waiting() -> bool:  # the plugin's finish has started, and its request hangs
        if not finishing.exists():
            return False
        if stage == "flush":
            return bool(server.requests_to("/logs3", "POST"))
        return any(request.path.endswith("/summarize") for request in server.requests)

    try:
        deadline = time.monotonic() + 60
        while not waiting() and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert waiting(), process.communicate()[0]
        time.sleep(0.3)  # well inside the wait
        process.send_signal(signal.SIGINT)
        interrupted_at = time.monotonic()
        output = process.communicate(timeout=30)[0]
    finally:
        process.kill()
    assert time.monotonic() - interrupted_at < 5, output  # not the 60 s flush deadline, nor the summary's
    assert process.returncode == 2, output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert "3 eval cases: 3 passed" in output
    if stage == "flush":
        assert "rows: 0 sent, 6 spilled, 0 dropped" in output, output
        assert "braintrust: Ctrl-C interrupted the final flush; rows not delivered by then were spilled" in output
        server.clear_faults()
        replay = subprocess.run([sys.executable, "-m", "braintrust", "replay", str(bt_api.local_dir / "spill")], cwd=bt_api.path,
                                env=env, capture_output=True, text=True, timeout=60)
        assert replay.returncode == 0, replay.stdout + replay.stderr
    else:
        assert "rows: 6 sent, 0 spilled, 0 dropped" in output, output
        assert "braintrust: Ctrl-C interrupted the summary; every row was delivered" in output
    roots = [row for row in server.rows("experiment") if not row.get("span_parents")]
    assert sorted(row["span_attributes"]["name"] for row in roots) == ["test_case[0]", "test_case[1]", "test_case[2]"]
    assert len(server.rows("experiment")) == 6


def test_a_rerun_case_counts_once_with_its_last_attempt(bt):
    """pytest-rerunfailures (``--reruns``): one case per test, whose row, outcome and scores are
    those of the last attempt; earlier attempts stay in the trace (their task spans, and score
    spans without scores), so the summary does not average a flaky failure into the score."""
    bt.pytester.makepyfile(
        test_suite_reruns='''
        import itertools
        from pytest_braintrust import eval_case

        attempts = {"flaky": itertools.count(1), "broken": itertools.count(1)}


        def exact(output, expected):
            return output == expected


        @eval_case(input="q", expected="A", scorers=[exact])
        def test_flaky(braintrust_case):
            attempt = next(attempts["flaky"])
            braintrust_case.check("first_try", attempt == 1)
            braintrust_case.log_metadata(attempt=attempt)
            assert attempt == 3, f"attempt {attempt} failed"
            return "A"


        @eval_case(input="r", expected="B", scorers=[exact])
        def test_broken():
            attempt = next(attempts["broken"])
            assert False, f"attempt {attempt} failed"
        ''',
    )
    result = bt.run("--braintrust", "--reruns", "2", "--braintrust-json", "summary.json", "-p", "no:randomly")
    assert result.parseoutcomes() == {"passed": 1, "failed": 1, "rerun": 4}
    rows = bt.rows()
    roots = {r["span_attributes"]["name"]: r for r in rows if not r.get("span_parents")}
    assert set(roots) == {"test_flaky", "test_broken"}
    t = tree(rows)

    flaky = roots["test_flaky"]
    assert flaky["metadata"]["pytest"]["outcome"] == "passed" and flaky["metadata"]["pytest"]["reruns"] == 2
    assert flaky["scores"] == {"pass": 1, "first_try": 0} and flaky["metadata"]["attempt"] == 3
    assert flaky["output"] == "A" and "error" not in flaky
    assert sorted(t.kinds(flaky)) == [("exact", "score")] * 3 + [("task", "task")] * 3
    score_spans = sorted((c for c in t.children(flaky) if c["span_attributes"]["name"] == "exact"), key=lambda c: c["metrics"]["start"])
    assert [s.get("scores") for s in score_spans] == [None, None, {"exact": 1}]
    tasks = sorted((c for c in t.children(flaky) if c["span_attributes"]["name"] == "task"), key=lambda c: c["metrics"]["start"])
    assert ["attempt 1 failed" in (c.get("error") or "") for c in tasks] == [True, False, False]
    assert "attempt 2 failed" in tasks[1]["error"] and "error" not in tasks[2]
    assert all("superseded" in s["metadata"] for s in score_spans[:2])

    broken = roots["test_broken"]
    assert broken["metadata"]["pytest"]["outcome"] == "failed" and broken["metadata"]["pytest"]["reruns"] == 2
    assert broken["error"].startswith("AssertionError: attempt 3 failed")

    scores = json.loads((bt.path / "summary.json").read_text())["experiments"][0]["scores"]
    assert scores["exact"]["score"] == 0.5  # 1 (flaky's last attempt) and 0 (broken's), nothing else
    assert scores["pass"]["score"] == 0.5
    result.stdout.fnmatch_lines(["2 eval cases: 1 passed, 1 failed"])


@pytest.mark.skipif(int(pytest.__version__.split(".")[0]) < 9, reason="the subtests fixture is pytest 9's")
def test_subtests_are_counted_on_their_case_and_scorers_score_the_whole_test(bt):
    """pytest's ``subtests`` fixture reports each subtest while the test still runs: those
    reports are not the case's outcome, and the declared scorers run once, on the output the
    test logged at its end (not on the first subtest's report, before any output)."""
    bt.pytester.makepyfile(
        test_suite_subtests='''
        from pytest_braintrust import eval_case


        def exact(output, expected):
            return output == expected


        @eval_case(input="ab", expected="AB", scorers=[exact])
        def test_letters(subtests, braintrust_case):
            for letter in "ab":
                with subtests.test(msg=letter):
                    assert letter != "b", "no b please"
            braintrust_case.log_output("AB")


        @eval_case(input="cd", expected="CD", scorers=[exact])
        def test_all_subtests_pass(subtests):
            for letter in "cd":
                with subtests.test(msg=letter):
                    assert letter.isalpha()
            return "CD"
        ''',
    )
    bt.run("--braintrust")
    rows = bt.rows()
    roots = {r["span_attributes"]["name"]: r for r in rows if not r.get("span_parents")}
    t = tree(rows)

    letters = roots["test_letters"]
    assert letters["metadata"]["pytest"]["outcome"] == "failed"
    assert letters["metadata"]["pytest"]["subtests"] == {"passed": 1, "failed": 1}
    assert "subtest failed: [b]: AssertionError: no b please" in letters["error"]
    assert t.child(letters, "exact")["scores"] == {"exact": 1}  # scored on "AB", once
    assert [k for k in t.kinds(letters)].count(("exact", "score")) == 1

    passing = roots["test_all_subtests_pass"]
    assert passing["metadata"]["pytest"]["outcome"] == "passed" and passing["scores"]["pass"] == 1
    assert passing["metadata"]["pytest"]["subtests"] == {"passed": 2}
    assert t.child(passing, "exact")["scores"] == {"exact": 1} and passing["output"] == "CD"
