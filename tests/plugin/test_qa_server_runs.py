"""``pytest --braintrust`` with an API key, against the loopback test server, under faults: the
gates, the exit status and the summary stay true to what Braintrust actually received, and a
slow Braintrust does not keep the run from ending."""

from __future__ import annotations

import json
import time

from btserver import Step

#: One passing case, then two failing ones; the second waits until the first case's rows have
#: reached the server (so that they are delivered, and the failures' rows are not).
PASS_THEN_FAIL = '''
import os
import time

import requests
from pytest_braintrust import eval_case


@eval_case(input="a")
def test_1_passes():
    pass


@eval_case(input="b")
def test_2_fails():
    url = os.environ["BRAINTRUST_APP_URL"] + "/_test/stats"
    deadline = time.monotonic() + 10
    while requests.get(url).json()["rows_received"] < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert False


@eval_case(input="c")
def test_3_fails():
    assert False
'''

TWO_CASES = '''
from pytest_braintrust import eval_case


@eval_case(input="a")
def test_passes():
    pass


@eval_case(input="b")
def test_fails():
    assert False
'''


def test_a_gate_does_not_pass_on_a_summary_that_leaves_out_rows_not_delivered(bt_api):
    """Braintrust goes down after the first case's rows arrived: its summary holds that passing
    case alone (100 %). The run had 1 pass in 3, so the gate must not pass on that summary (with
    --braintrust-gates-only that meant exit 0 in CI); it fails as unchecked, naming why."""
    server = bt_api.server
    server.script("POST", "/logs3", [Step()])  # the first batch is accepted, every later one fails
    server.fail_always("POST", "/logs3", 500)
    bt_api.pytester.makepyfile(test_suite_partial=PASS_THEN_FAIL)
    result = bt_api.run_subprocess(
        "--braintrust", "--braintrust-gates-only", "--braintrust-fail-under", "pass=0.9", "--braintrust-json=summary.json",
        env={"BRAINTRUST_NUM_RETRIES": "0", "BRAINTRUST_FLUSH_TIMEOUT": "5",
             "BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR": str(bt_api.path / "spilled")},
    )
    output = result.stdout.str()
    assert result.ret == 10, output
    result.stdout.fnmatch_lines([
        "note: the summary leaves out 4 of this run's 6 rows, which were not delivered (4 spilled); its scores are not this run's",
        "gate FAILED: --braintrust-fail-under: score 'pass' could not be checked: the summary leaves out 4 of this run's 6 rows*",
        "rows: 2 sent, 4 spilled, 0 dropped*",
    ])
    assert "gate PASSED" not in output
    document = json.loads((bt_api.path / "summary.json").read_text())
    (gate,) = document["gates"]
    assert gate["passed"] is False and gate["value"] is None
    assert document["delivery"]["accepted"] == 2 and document["delivery"]["spilled"] == 4


def test_a_summary_braintrust_cannot_give_leaves_the_gates_unchecked_and_says_why(bt_api):
    """Every row arrived, but the summary request fails: the gate must say it could not be
    checked (not that the score was never logged, a typo's message), and the run says why."""
    server = bt_api.server
    server.fail_always("GET", "/v1/experiment/*", 500)
    bt_api.pytester.makepyfile(test_suite_unsummarized=TWO_CASES)
    result = bt_api.run_subprocess("--braintrust", "--braintrust-fail-under", "pass=0.4", "--braintrust-json=summary.json",
                                   env={"BRAINTRUST_NUM_RETRIES": "0"})
    output = result.stdout.str()
    assert result.ret == 10, output
    result.stdout.fnmatch_lines([
        "gate FAILED: --braintrust-fail-under: score 'pass' could not be checked: the experiment of project * could not be summarized",
        "rows: 4 sent, 0 spilled, 0 dropped*",
        "braintrust: could not summarize the experiment of project *: Experiment comparison could not be retrieved: *500*",
    ])
    assert "no score named" not in output
    document = json.loads((bt_api.path / "summary.json").read_text())
    assert any("could not summarize" in error for error in document["errors"])


def test_a_hanging_summary_request_ends_within_the_flush_deadline(bt_api):
    """Every row arrived; the summary request hangs. The run ends after the flush deadline (3 s
    here), not after the minute a read may take elsewhere, with the gate unchecked."""
    server = bt_api.server
    server.fail_always("GET", "/v1/experiment/*", Step(hang=True))
    bt_api.pytester.makepyfile(test_suite_hanging=TWO_CASES)
    started = time.monotonic()
    result = bt_api.run_subprocess("--braintrust", "--braintrust-fail-under", "pass=0.4",
                                   env={"BRAINTRUST_FLUSH_TIMEOUT": "3"}, timeout=90)
    took = time.monotonic() - started
    output = result.stdout.str()
    assert took < 20, (took, output)  # (the deadline, process start and a loaded machine; it was 60 s)
    assert result.ret == 10, output
    result.stdout.fnmatch_lines([
        "gate FAILED: --braintrust-fail-under: score 'pass' could not be checked: the experiment of project * could not be summarized",
        "rows: 4 sent, 0 spilled, 0 dropped*",
        "braintrust: could not summarize the experiment of project *",
    ])


def test_sigterm_during_the_final_flush_spills_at_once_names_the_signal_and_replays_once(bt_api):
    """CI cancels the job (SIGTERM) while the final flush waits on a hanging Braintrust: the run
    ends at once (not after its 30 s deadline), exits 2, says SIGTERM (not Ctrl-C) stopped the
    flush, counts every row as spilled, and ``braintrust replay`` then delivers each one once."""
    import os
    import signal
    import subprocess
    import sys

    server = bt_api.server
    server.fail_always("POST", "/logs3", Step(hang=True))
    finishing = bt_api.path / "finishing"
    bt_api.pytester.makeconftest(f'''
import pathlib
import pytest


@pytest.hookimpl(wrapper=True)  # (around every implementation: before the plugin's flush)
def pytest_sessionfinish():
    pathlib.Path({str(finishing)!r}).write_text("yes")
    return (yield)
''')
    bt_api.pytester.makepyfile(test_suite_cancelled=TWO_CASES)
    spill = bt_api.path / "spilled"
    env = dict(os.environ, BRAINTRUST_FLUSH_TIMEOUT="30", BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR=str(spill),
               PYTHONDONTWRITEBYTECODE="1")
    process = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--braintrust", "test_suite_cancelled.py",
                                "--braintrust-json=summary.json"],
                               cwd=bt_api.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        waiting_until = time.monotonic() + 60
        while not (finishing.exists() and server.requests_to("/logs3")) and time.monotonic() < waiting_until and process.poll() is None:
            time.sleep(0.05)
        assert finishing.exists() and server.requests_to("/logs3"), process.communicate()[0]
        time.sleep(0.3)  # well inside the flush's wait
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        output = process.communicate(timeout=60)[0]
    finally:
        process.kill()
    assert time.monotonic() - signalled < 10, output
    assert process.returncode == 2, output
    assert "Traceback" not in output, output
    assert "braintrust: SIGTERM interrupted the final flush; rows not delivered by then were spilled" in output, output
    assert "Ctrl-C" not in output, output
    assert "rows: 0 sent, 4 spilled, 0 dropped" in output, output
    document = json.loads((bt_api.path / "summary.json").read_text())
    assert (document["delivery"]["produced"], document["delivery"]["spilled"]) == (4, 4)

    server.clear_faults()
    for _ in range(2):  # a second replay finds nothing left to send
        replay = subprocess.run([sys.executable, "-m", "braintrust", "replay", str(spill)], env=env, capture_output=True, text=True, timeout=60)
        assert replay.returncode == 0, replay.stdout + replay.stderr
    assert len(server.experiments()) == 1
    roots = sorted(row["span_attributes"]["name"] for row in server.rows("experiment") if not row.get("span_parents"))
    assert roots == ["test_fails", "test_passes"] and len(server.rows("experiment")) == 4


def test_ctrl_c_during_the_summary_after_a_partial_delivery_does_not_claim_every_row_arrived(bt_api):
    """Some rows spilled, then the summary request hangs and the user presses Ctrl-C: the run
    must not say that every row was delivered."""
    import os
    import signal
    import subprocess
    import sys

    server = bt_api.server
    server.script("POST", "/logs3", [Step()])
    server.fail_always("POST", "/logs3", 500)
    server.fail_always("GET", "/v1/experiment/*", Step(hang=True))
    bt_api.pytester.makepyfile(test_suite_partial=PASS_THEN_FAIL)
    env = dict(os.environ, BRAINTRUST_NUM_RETRIES="0", BRAINTRUST_FLUSH_TIMEOUT="30",
               BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR=str(bt_api.path / "spilled"), PYTHONDONTWRITEBYTECODE="1")
    process = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--braintrust", "test_suite_partial.py"],
                               cwd=bt_api.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def summarizing() -> bool:
        return any(request.path.endswith("/summarize") for request in server.requests)

    try:
        waiting_until = time.monotonic() + 60
        while not summarizing() and time.monotonic() < waiting_until and process.poll() is None:
            time.sleep(0.05)
        assert summarizing(), process.communicate()[0]
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=30)[0]
    finally:
        process.kill()
    assert process.returncode == 2, output
    assert "rows: 2 sent, 4 spilled, 0 dropped" in output, output
    assert "every row was delivered" not in output, output
    assert "braintrust: Ctrl-C interrupted the summary; some rows were not delivered (counted above)" in output, output
