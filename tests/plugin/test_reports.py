"""What a run reports (issue items 7 and 9): the header line, the terminal summary, the
``$GITHUB_STEP_SUMMARY`` Markdown, JUnit XML properties and the JSON summary file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

SUITE = '''
import pytest
from pytest_braintrust import eval_case


def exact(output, expected):
    return 1.0 if output == expected else 0.0


@eval_case(input="a", expected="A", scorers=[exact])
def test_good():
    return "A"


@eval_case(input="b", expected="B", scorers=[exact])
def test_bad():
    return "b"


@eval_case(input="c")
def test_fails():
    assert 1 == 2


def test_unit():
    pass
'''


def test_terminal_step_summary_junit_and_json(bt, tmp_path):
    step_summary = tmp_path / "step_summary.md"
    step_summary.write_text("earlier step\n")
    bt.monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    bt.pytester.makepyfile(test_suite_reports=SUITE)
    result = bt.run(
        "--braintrust",
        "--braintrust-project",
        "reports",
        "--braintrust-experiment",
        "ci-run",
        "--junitxml=junit.xml",
        "--braintrust-json",
        "out/summary.json",
        "--braintrust-fail-under",
        "exact=0.9",
    )
    assert result.ret == 10
    store = bt.local_dir / "braintrust.sqlite"
    # The header says where results go.
    result.stdout.fnmatch_lines(
        [f"braintrust: logging eval cases to project 'reports', a new experiment 'ci-run', in the local store at {store} (no BRAINTRUST_API_KEY)"]
    )
    # The terminal summary: counts, scores, where to look, the gate, delivery.
    result.stdout.fnmatch_lines(
        [
            "*= Braintrust =*",
            "3 eval cases: 2 passed, 1 failed",
            "=========================SUMMARY=========================",
            "66.67% 'pass'  score",
            "50.00% 'exact' score",
            f"See results for ci-run in the local store at {store} (run `braintrust show reports ci-run`)",
            "gate FAILED: score 'exact' is 50.00%, which is below the bar of 90.00%",
            "rows: * sent, 0 spilled, 0 dropped (flush *s)",
        ]
    )
    (experiment,) = bt.experiments("reports")
    assert experiment["name"] == "ci-run"

    # GitHub step summary: appended Markdown.
    markdown = step_summary.read_text()
    assert markdown.startswith("earlier step\n## Braintrust eval results\n\n3 eval cases: 2 passed, 1 failed.\n")
    assert "**reports / ci-run**" in markdown
    assert "| pass | 66.67% | – | 0 | 0 |" in markdown
    assert "| exact | 50.00% | – | 0 | 0 |" in markdown
    assert "| fail-under exact | ❌ score 'exact' is 50.00%, which is below the bar of 90.00% |" in markdown
    assert "delivered, 0 spilled, 0 dropped." in markdown

    # JUnit XML: scores as properties of each case's testcase.
    cases = {tc.get("name"): tc for tc in ET.parse(bt.path / "junit.xml").getroot().iter("testcase")}
    props = {name: {p.get("name"): p.get("value") for p in tc.iter("property")} for name, tc in cases.items()}
    assert props["test_good"] == {"braintrust.score.pass": "1.0", "braintrust.score.exact": "1.0"}
    assert props["test_bad"] == {"braintrust.score.pass": "1.0", "braintrust.score.exact": "0.0"}
    assert props["test_fails"] == {"braintrust.score.pass": "0.0"}
    assert props["test_unit"] == {}

    # The JSON summary (schema in pytest_braintrust/report.py).
    document = json.loads((bt.path / "out" / "summary.json").read_text())
    assert document["schema_version"] == 1
    (summary,) = document["experiments"]
    assert summary["project"] == "reports" and summary["experiment"] == "ci-run"
    assert summary["experiment_id"] == experiment["id"]
    assert summary["comparison_experiment"] is None
    assert summary["scores"]["pass"] == {"score": 2 / 3, "diff": None, "improvements": 0, "regressions": 0}
    assert summary["scores"]["exact"]["score"] == 0.5
    assert document["cases"] == {"total": 3, "passed": 2, "failed": 1, "error": 0, "skipped": 0, "xfailed": 0, "xpassed": 0, "interrupted": 0}
    assert document["gates"] == [
        {"kind": "fail-under", "score": "exact", "bar": 0.9, "value": 0.5, "passed": False, "message": "score 'exact' is 50.00%, which is below the bar of 90.00%",
         "project": "reports", "experiment": "ci-run"}
    ]
    assert document["delivery"]["accepted"] > 0 and document["delivery"]["dropped"] == {} and document["delivery"]["spilled"] == 0
    assert set(document["delivery"]) == {"produced", "accepted", "spilled", "dropped", "spill_files", "errors",
                                         "attachments_stored", "attachments_spilled", "attachments_dropped"}  # (the README's schema)
    assert document["errors"] == []


def test_the_header_says_why_results_stay_local_when_a_key_is_set(bt):
    """``BRAINTRUST_LOCAL=1`` with a key in the environment (offline at a laptop): the header must
    not claim there is no key."""
    bt.monkeypatch.setenv("BRAINTRUST_API_KEY", "sk-not-used")
    bt.monkeypatch.setenv("BRAINTRUST_LOCAL", "1")
    bt.pytester.makepyfile(test_suite_reports=SUITE)
    result = bt.run("--braintrust", "--braintrust-project", "offline")
    store = bt.local_dir / "braintrust.sqlite"
    result.stdout.fnmatch_lines([f"braintrust: logging eval cases to project 'offline', a new experiment, in the local store at {store} (BRAINTRUST_LOCAL is set)"])
    assert "sk-not-used" not in result.stdout.str()
    assert len(bt.roots(bt.experiments("offline")[0])) == 3


def test_scorers_that_raise_are_named_in_every_report_and_change_no_outcome(bt, tmp_path):
    """A broken scorer only leaves its score out of some cases, which the averages alone would
    hide: each report names it, with how many cases and the first error."""
    step_summary = tmp_path / "step_summary.md"
    bt.monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    bt.pytester.makepyfile(
        test_suite_broken_scorer='''
        import pytest
        from pytest_braintrust import eval_case

        def strict(output, expected):
            if output is None:
                raise ValueError("no output to score")
            return output == expected

        def too_high(output):
            return 2

        @eval_case(expected="A", scorers=[strict, too_high])
        @pytest.mark.parametrize("answer", ["A", None, None])
        def test_answer(answer):
            return answer
        '''
    )
    result = bt.run("--braintrust", "--braintrust-project", "broken", "--braintrust-json", "summary.json",
                    "--braintrust-fail-under", "too_high=0.5")
    assert result.ret == 10  # the gate's score is missing: it fails, and says why
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "3 eval cases: 3 passed",
            "scorer 'strict' failed in 2 cases (first: test_answer[[]None0[]]: ValueError: no output to score); "
            "its score is missing there, and the score spans hold the tracebacks",
            "scorer 'too_high' failed in 3 cases (first: test_answer[[]A[]]: ValueError: score 'too_high' (2) must be between 0 and 1)*",
            "*SUMMARY*",
            "100.00% 'pass'   score",
            "100.00% 'strict' score",
            "*",
            "gate FAILED: --braintrust-fail-under: no score named 'too_high' was logged in this run "
            "(scorer 'too_high' failed in 3 cases: see above)",
        ]
    )
    document = json.loads((bt.path / "summary.json").read_text())
    assert document["scorer_errors"] == {
        "strict": {"cases": 2, "first": "test_answer[None0]: ValueError: no output to score"},
        "too_high": {"cases": 3, "first": "test_answer[A]: ValueError: score 'too_high' (2) must be between 0 and 1"},
    }
    assert "- scorer 'strict' failed in 2 cases" in step_summary.read_text()
    errors = {r["span_attributes"]["name"]: r["metadata"].get("scorer_errors") for r in bt.roots().values()}
    assert "ValueError: no output to score" in errors["test_answer[None0]"]["strict"]


def test_api_header_url_and_comparison(bt_api):
    server = bt_api.server
    bt_api.pytester.makepyfile(test_suite_reports=SUITE)
    first = bt_api.run("--braintrust", "--braintrust-project", "api-reports")
    assert first.ret == 1
    first.stdout.fnmatch_lines(
        [
            f"braintrust: logging eval cases to project 'api-reports', a new experiment, in Braintrust at {server.url}",
            f"See results for * at {server.url}/app/test-org/p/api-reports/experiments/*",
        ]
    )
    assert "compared to" not in first.stdout.str()
    bt_api.monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(bt_api.path / "step.md"))
    second = bt_api.run("--braintrust", "--braintrust-project", "api-reports")
    (project,) = [p for p in server.projects() if p["name"] == "api-reports"]
    names = [e["name"] for e in server.experiments(project["id"])]
    assert len(names) == 2
    second.stdout.fnmatch_lines([f"{names[1]} compared to {names[0]}:"])
    # The step summary links the experiment's page.
    url = f"{server.url}/app/test-org/p/api-reports/experiments/{names[1]}"
    assert f"**[api-reports / {names[1]}]({url})** (compared to `{names[0]}`)" in (bt_api.path / "step.md").read_text()


def test_when_no_row_was_delivered_the_run_says_why_and_gates_say_they_were_not_checked(bt_api):
    """Braintrust refuses every login (503, so retried): rows are spilled, the reason is shown,
    no summary is asked for (that would wait through the same retries again), and a gate fails
    saying it could not be checked, not that the score does not exist."""
    server = bt_api.server
    server.fail_always("POST", "/api/apikey/login", 503)
    bt_api.monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "1")
    bt_api.monkeypatch.setenv("BRAINTRUST_FLUSH_TIMEOUT", "5")
    bt_api.monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(bt_api.path / "spilled"))
    bt_api.monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(bt_api.path / "step.md"))
    bt_api.pytester.makepyfile(test_suite_reports=SUITE)
    result = bt_api.run("--braintrust", "--braintrust-project", "refused", "--braintrust-fail-under", "pass=0.5",
                        "--braintrust-json", "summary.json")
    assert result.ret == 10
    result.stdout.fnmatch_lines(
        [
            "gate FAILED: --braintrust-fail-under: score 'pass' could not be checked: "
            "no summary, because none of this run's rows were delivered (* spilled)",
            "rows: 0 sent, * spilled, 0 dropped (flush *s)",
            "braintrust: *503*",
        ]
    )
    assert len(server.requests_to("/api/apikey/login")) == 2  # the flush's two attempts, no more
    document = json.loads((bt_api.path / "summary.json").read_text())
    assert document["experiments"] == [] and document["delivery"]["accepted"] == 0
    assert any("503" in error for error in document["delivery"]["errors"])
    step = (bt_api.path / "step.md").read_text()
    assert "❌ --braintrust-fail-under: score 'pass' could not be checked" in step
    assert "Not delivered: " in step and "503" in step


def test_a_local_store_that_cannot_be_written_is_named_with_the_fix_and_its_rows_kept_elsewhere(bt):
    """A read-only checkout, say: neither the store nor its spill folder can be made there. The
    rows spill to this user's folder in the system's temporary folder, the summary says where and
    how to send them, and a replay into a store that can be written delivers every one."""
    blocker = bt.path / "a-file"
    blocker.write_text("not a folder")
    bt.monkeypatch.setenv("BRAINTRUST_LOCAL_DIR", str(blocker / "store"))  # cannot exist (even as root)
    bt.monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(blocker / "spill"))
    bt.monkeypatch.setattr(tempfile, "tempdir", str(bt.path / "tmp"))
    (bt.path / "tmp").mkdir()
    fallback = bt.path / "tmp" / f"braintrust-spill-{os.getuid()}"
    bt.pytester.makepyfile(test_suite_reports=SUITE)
    result = bt.run("--braintrust", "--braintrust-fail-under", "pass=0.5")
    assert result.ret == 10
    result.stdout.fnmatch_lines(
        [
            "gate FAILED: --braintrust-fail-under: score 'pass' could not be checked: "
            "no summary, because none of this run's rows were delivered (* spilled)",
            "rows: 0 sent, * spilled, 0 dropped (flush *s)",
            f"spilled rows are kept in {fallback}; send them with `braintrust replay {fallback}` "
            "(or, if the local store still cannot be written, to another one: `--store FOLDER`)",
            f"braintrust: could not open or create the experiment in the local Braintrust store {blocker}*"
            "or set BRAINTRUST_LOCAL_DIR to another folder.",
            f"braintrust: could not write spill files to {blocker / 'spill'} (*); they are kept in {fallback} instead",
        ]
    )
    assert "could not summarize" not in result.stdout.str()
    assert oct(fallback.stat().st_mode & 0o777) == "0o700"

    def replay(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "braintrust", "replay", str(fallback), *args],
                              capture_output=True, text=True, timeout=60)

    again = replay()  # to the store that still cannot be written: the rows stay, and the way out is named
    assert again.returncode == 1 and f"`braintrust replay {fallback} --store FOLDER`" in again.stderr
    store = bt.path / "writable-store"
    replayed = replay("--store", str(store))
    assert replayed.returncode == 0, replayed.stderr
    assert "replayed 8 rows" in replayed.stdout and not list(fallback.glob("spill-*.json"))
    bt.local_dir = store
    (experiment,) = bt.experiments()
    assert {r["span_attributes"]["name"] for r in bt.rows(experiment) if not r.get("span_parents")} == {"test_good", "test_bad", "test_fails"}


def test_rows_that_cannot_be_sent_are_spilled_and_reported(bt_api):
    server = bt_api.server
    server.fail_always("POST", "/logs3", 500)
    bt_api.monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    bt_api.monkeypatch.setenv("BRAINTRUST_FLUSH_TIMEOUT", "3")
    spill_dir = bt_api.path / "spilled"
    bt_api.monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(spill_dir))
    bt_api.pytester.makepyfile(test_suite_reports=SUITE)
    result = bt_api.run("--braintrust", "--braintrust-project", "spills", "--braintrust-json", "summary.json")
    assert result.ret == 1  # the tests' own result: reporting trouble never fails the run
    result.stdout.fnmatch_lines(
        [
            "rows: 0 sent, * spilled, 0 dropped (flush *s)",
            f"spilled rows are kept in {spill_dir}; send them with `braintrust replay {spill_dir}`",
        ]
    )
    document = json.loads((bt_api.path / "summary.json").read_text())
    assert document["delivery"]["spilled"] > 0 and document["delivery"]["accepted"] == 0
    assert document["delivery"]["spill_files"] and all(f.startswith(str(spill_dir)) for f in document["delivery"]["spill_files"])
    assert list(spill_dir.iterdir())


def test_outputs_that_cannot_be_written_are_reported_and_the_gates_still_judge(bt):
    blocker = bt.path / "a-file"
    blocker.write_text("not a folder")
    bt.monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(blocker / "step.md"))
    bt.pytester.makepyfile(test_suite_reports=SUITE)
    result = bt.run("--braintrust", "--braintrust-json", str(blocker / "out" / "summary.json"), "--braintrust-fail-under", "pass=0.99")
    assert result.ret == 10  # the gate's verdict survives; no traceback ends the run
    result.stdout.fnmatch_lines(
        [
            f"braintrust: could not write the JSON summary to {blocker / 'out' / 'summary.json'} (*); check --braintrust-json",
            f"braintrust: could not append the step summary to {blocker / 'step.md'} (*); check GITHUB_STEP_SUMMARY",
        ]
    )
    assert "Traceback" not in result.stdout.str() and "INTERNALERROR" not in result.stdout.str()


def test_a_base_experiment_that_does_not_exist_is_named_with_what_was_compared_instead(bt):
    bt.pytester.makepyfile(test_suite_reports=SUITE)
    assert bt.run("--braintrust", "--braintrust-project", "bases").ret == 1
    (first,) = bt.experiments("bases")
    missing = bt.run("--braintrust", "--braintrust-project", "bases", "--braintrust-base-experiment", "nightly")
    missing.stdout.fnmatch_lines(
        [
            f"* compared to {first['name']}:",
            f"braintrust: --braintrust-base-experiment 'nightly': no such experiment in project 'bases'; "
            f"compared with '{first['name']}' (the default baseline) instead",
        ]
    )
    named = bt.run("--braintrust", "--braintrust-project", "bases", "--braintrust-base-experiment", first["name"])
    named.stdout.fnmatch_lines([f"* compared to {first['name']}:"])
    assert "--braintrust-base-experiment" not in named.stdout.str()


def test_each_run_in_one_process_reports_its_own_rows_and_errors(bt_api):
    """``pytest.main`` called again in the same process (a notebook, an IDE, a script running
    suites): each run reports its own rows, and why they were not delivered, not the process's
    totals so far."""
    from braintrust.delivery.runtime import reset_for_tests
    from plugin_helpers import QUIET

    server = bt_api.server
    bt_api.monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    bt_api.monkeypatch.setenv("BRAINTRUST_FLUSH_TIMEOUT", "3")
    bt_api.monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(bt_api.path / "spilled"))
    bt_api.pytester.makepyfile(test_suite_reports=SUITE)
    args = (*QUIET, "--braintrust", "--braintrust-project", "again")
    reset_for_tests()
    try:
        first = bt_api.pytester.runpytest(*args, "--braintrust-json", "first.json")
        server.fail_always("POST", "/logs3", 500)
        second = bt_api.pytester.runpytest(*args, "--braintrust-json", "second.json")
        third = bt_api.pytester.runpytest(*args, "--braintrust-json", "third.json")
    finally:
        server.clear_faults()
        reset_for_tests()
    delivery = [json.loads((bt_api.path / f"{run}.json").read_text())["delivery"] for run in ("first", "second", "third")]
    rows = delivery[0]["produced"]
    assert rows == 8  # root + task per case, and a score span for the two with a scorer
    assert (delivery[0]["accepted"], delivery[0]["spilled"], delivery[0]["errors"]) == (rows, 0, [])
    first.stdout.fnmatch_lines([f"rows: {rows} sent, 0 spilled, 0 dropped (flush *s)"])
    for result, counts in ((second, delivery[1]), (third, delivery[2])):
        assert (counts["produced"], counts["accepted"], counts["spilled"]) == (rows, 0, rows)
        assert any("500" in error for error in counts["errors"])  # said again by the third run
        assert counts["spill_files"]
        result.stdout.fnmatch_lines([f"rows: 0 sent, {rows} spilled, 0 dropped (flush *s)", "spilled rows are kept in *"])


def test_the_summary_names_the_cases_that_regressed_since_the_last_run(bt):
    """At a laptop (the local store): the second run's summary says which cases got worse."""
    bt.pytester.makepyfile(
        test_suite_regress='''
        import pathlib
        import pytest
        from pytest_braintrust import eval_case

        BROKEN = pathlib.Path("broken").exists()


        def exact(output, expected):
            return output == expected


        @eval_case(scorers=[exact])
        @pytest.mark.parametrize("word, expected", [("a", "A"), ("b", "B"), ("c", "C")])
        def test_upper(word, expected):
            return "?" if BROKEN and word != "a" else word.upper()
        ''',
    )
    first = bt.run("--braintrust")
    assert "regressed in" not in first.stdout.str()
    (bt.path / "broken").write_text("")
    second = bt.run("--braintrust", "--braintrust-json", "summary.json")
    second.stdout.fnmatch_lines(["'exact' regressed in 2 cases: test_upper[b-B], test_upper[c-C]"])
    scores = json.loads((bt.path / "summary.json").read_text())["experiments"][0]["scores"]
    assert scores["exact"]["regressed_cases"] == ["test_upper[b-B]", "test_upper[c-C]"]
    assert scores["exact"]["regressions"] == 2


def test_github_actions_annotations_for_failed_gates_and_rows_not_delivered(bt_api):
    """On GitHub Actions a failed gate is an ``::error`` and undelivered rows a ``::warning``
    (shown on the run's page and the pull request); elsewhere neither is printed."""
    bt_api.pytester.makepyfile(test_suite_reports=SUITE)
    bt_api.server.fail_always("POST", "/logs3", 401)  # the key is refused: rows spill, no summary
    args = ("--braintrust", "--braintrust-project", "annotated", "--braintrust-fail-under", "exact=0.9")
    bt_api.monkeypatch.setenv("GITHUB_ACTIONS", "true")
    on_github = bt_api.run(*args)
    bt_api.monkeypatch.delenv("GITHUB_ACTIONS")
    elsewhere = bt_api.run(*args)

    assert on_github.ret == 10 and elsewhere.ret == 10
    on_github.stdout.fnmatch_lines([
        "::error title=Braintrust quality gate::--braintrust-fail-under: score 'exact' could not be checked: *",
        "::warning title=Braintrust rows not delivered::* rows spilled and 0 dropped; send what was spilled with `braintrust replay *`",
    ])
    assert "::error" not in elsewhere.stdout.str() and "::warning" not in elsewhere.stdout.str()



def test_a_taken_experiment_name_is_said_with_the_name_the_run_got(bt):
    bt.pytester.makepyfile(test_suite_named="from pytest_braintrust import eval_case\n\n@eval_case(input=1)\ndef test_it():\n    pass\n")
    first = bt.run("--braintrust", "--braintrust-project", "named", "--braintrust-experiment", "myexp")
    assert first.ret == 0 and "already has an experiment" not in first.stdout.str()
    second = bt.run("--braintrust", "--braintrust-project", "named", "--braintrust-experiment", "myexp")
    assert second.ret == 0
    second.stdout.fnmatch_lines(["note: project 'named' already has an experiment named 'myexp', so this run is 'myexp-*'; "
                                 "--braintrust-update adds this run's cases to 'myexp' instead"])
