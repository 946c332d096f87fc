"""``pytest --braintrust`` as a CI job runs it against a Braintrust server (the loopback test
server): what ``$GITHUB_STEP_SUMMARY`` shows when names hold Markdown, when Braintrust cannot
summarize the experiment, and when the scores shown leave out rows this run did not deliver."""

from __future__ import annotations

import json

import pytest
import requests
from btserver import Step
from test_qa_server_runs import PASS_THEN_FAIL  # (the second case waits until the first one's rows arrived)

ONE_CASE = '''
from pytest_braintrust import eval_case


@eval_case(input="a")
def test_one(braintrust_case):
    braintrust_case.score("*bold*", 0.5)
    braintrust_case.score("__init__", 1)
    braintrust_case.score("non_empty", 1)
'''


def test_project_experiment_and_score_names_keep_the_step_summary_link_and_text_intact(bt_api):
    """A ``]`` in the project or experiment name ended the link's text early (no link, and the
    rest rendered as emphasis), a backtick in the baseline's name ended its code span, and a
    score named ``*bold*`` was shown bold: each is now shown as written."""
    step = bt_api.path / "step.md"
    bt_api.pytester.makepyfile(test_names=ONE_CASE)
    project = "p]r*o*"
    first = bt_api.run("--braintrust", "--braintrust-project", project, "--braintrust-experiment", "base`one")
    assert first.ret == 0, first.stdout.str()
    bt_api.monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))

    second = bt_api.run("--braintrust", "--braintrust-project", project, "--braintrust-experiment", "next]_x_",
                        "--braintrust-base-experiment", "base`one")

    assert second.ret == 0, second.stdout.str()
    second.stdout.fnmatch_lines(["next]_x_ compared to base`one:"])
    url = f"{bt_api.server.url}/app/test-org/p/p%5Dr%2Ao%2A/experiments/next%5D_x_"
    markdown = step.read_text()
    assert f"**[p\\]r\\*o\\* / next\\]\\_x\\_]({url})** (compared to ``base`one``)" in markdown.splitlines(), markdown
    assert "| \\*bold\\* | 50.00% | ±0.00% | 0 | 0 |" in markdown
    assert "| \\_\\_init\\_\\_ | 100.00% |" in markdown
    assert "| non_empty | 100.00% |" in markdown  # (inside a word an underscore is plain text)


def test_a_summary_braintrust_could_not_give_is_not_shown_as_an_empty_score_table(bt_api):
    """Every row arrived but the summary request failed: the step summary showed the table's
    header with no rows, as if no score was logged; it says the summary was skipped, and why."""
    step = bt_api.path / "step.md"
    bt_api.monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    bt_api.server.fail_always("GET", "/v1/experiment/*", 500)
    bt_api.pytester.makepyfile(test_names=ONE_CASE)

    result = bt_api.run_subprocess("--braintrust", "--braintrust-project", "unsummarized",
                                   env={"BRAINTRUST_NUM_RETRIES": "0"})

    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["Summary skipped: Experiment comparison could not be retrieved"])
    markdown = step.read_text()
    assert "| score |" not in markdown, markdown
    assert "Summary skipped: Experiment comparison could not be retrieved: GET /v1/experiment/" in markdown
    assert "answered 500" in markdown
    assert "Rows: 2 delivered, 0 spilled, 0 dropped." in markdown


def test_the_step_summary_says_its_scores_leave_out_rows_that_were_not_delivered(bt_api):
    """Braintrust fails after the first case's rows arrived: its summary holds the passing case
    alone (pass 100%). The terminal notes that these scores are not the run's; the step summary
    showed the same table without that note (no gate given, nothing else said so)."""
    step = bt_api.path / "step.md"
    server = bt_api.server
    server.script("POST", "/logs3", [Step()])  # the first batch is accepted, every later one fails
    server.fail_always("POST", "/logs3", 500)
    bt_api.pytester.makepyfile(test_partial=PASS_THEN_FAIL)

    result = bt_api.run_subprocess(
        "--braintrust", "--braintrust-project", "partial",
        env={"BRAINTRUST_NUM_RETRIES": "0", "BRAINTRUST_FLUSH_TIMEOUT": "5", "GITHUB_STEP_SUMMARY": str(step),
             "BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR": str(bt_api.path / "spilled")},
    )

    assert result.ret == 1, result.stdout.str()
    note = "note: the summary leaves out 4 of this run's 6 rows, which were not delivered (4 spilled); its scores are not this run's"
    result.stdout.fnmatch_lines([note])
    markdown = step.read_text()
    assert "| pass | 100.00% |" in markdown  # (what arrived)
    assert f"- {note}" in markdown.splitlines(), markdown
    assert "Rows: 2 delivered, 4 spilled, 0 dropped." in markdown


def test_a_name_taken_note_reaches_the_step_summary(bt_api):
    """``--braintrust-experiment NAME`` without ``--braintrust-update`` when NAME exists: the run
    logs to another experiment, and the step summary says so, as the terminal does."""
    step = bt_api.path / "step.md"
    bt_api.pytester.makepyfile(test_names=ONE_CASE)
    assert bt_api.run("--braintrust", "--braintrust-project", "taken", "--braintrust-experiment", "nightly").ret == 0
    bt_api.monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))

    result = bt_api.run("--braintrust", "--braintrust-project", "taken", "--braintrust-experiment", "nightly")

    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["note: project 'taken' already has an experiment named 'nightly', so this run is *"])
    assert "- note: project 'taken' already has an experiment named 'nightly', so this run is " in step.read_text()


def test_the_header_of_a_shard_joining_by_id_does_not_name_a_project_its_rows_do_not_go_to(bt_api):
    """``--braintrust-experiment-id`` of an experiment in project 'home', run from a checkout whose
    default project is another: the rows (and the summary's link) go to 'home', but the header
    said ``logging eval cases to project '<rootdir name>', joining experiment id ...``."""
    server = bt_api.server
    headers = {"Authorization": f"Bearer {server.api_key}"}
    project = requests.post(f"{server.url}/v1/project", json={"name": "home"}, headers=headers).json()
    experiment = requests.post(f"{server.url}/v1/experiment", json={"project_id": project["id"], "name": "shared"},
                               headers=headers).json()
    bt_api.pytester.makepyfile(test_names=ONE_CASE)

    result = bt_api.run("--braintrust", "--braintrust-experiment-id", experiment["id"])

    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([f"See results for shared at {server.url}/app/test-org/p/home/experiments/shared"])
    (header,) = [line for line in result.stdout.lines if line.startswith("braintrust: logging eval cases to")]
    assert experiment["id"] in header
    assert f"project {bt_api.path.name!r}" not in header, header


SCORED = '''
from pytest_braintrust import eval_case


def exact(output, expected):
    return output == expected


def traced(output, trace):
    return 1


@eval_case(data=[{"input": "a", "expected": "a"}, {"input": "b", "expected": "c"}], scorers=[exact, traced])
def test_scored(braintrust_case):
    return braintrust_case.input
'''


def test_braintrust_down_from_the_start_spills_the_rows_of_scored_cases_and_the_run_goes_on(bt_api):
    """README (CI shards): when Braintrust cannot be reached the run goes on and its rows spill.
    A case with declared scorers built the scorers' ``trace`` from the experiment's id, which
    needs Braintrust: the login error escaped pytest's report hook (INTERNALERROR, exit 3). Only
    a scorer that takes the trace misses it (its error), the others score."""
    bt_api.server.stop()
    bt_api.pytester.makepyfile(test_scored=SCORED)

    result = bt_api.run_subprocess(
        "--braintrust", "--braintrust-json=summary.json",
        env={"BRAINTRUST_NUM_RETRIES": "0", "BRAINTRUST_FLUSH_TIMEOUT": "5",
             "BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR": str(bt_api.path / "spilled")},
    )

    output = result.stdout.str()
    assert result.ret == 0, output
    assert "INTERNALERROR" not in output + result.stderr.str()
    result.stdout.fnmatch_lines(["2 eval cases: 2 passed", "rows: 0 sent, * spilled, 0 dropped*"])
    document = json.loads((bt_api.path / "summary.json").read_text())
    assert list(document["scorer_errors"]) == ["traced"], document["scorer_errors"]
    assert document["scorer_errors"]["traced"]["cases"] == 2
    assert document["delivery"]["spilled"] == document["delivery"]["produced"] > 0
