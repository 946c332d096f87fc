"""The README's main command, run as a user would: `pytest example_project --braintrust`, offline,
twice (the second run compares with the first), and with -n 2 (one experiment, one summary)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from braintrust.store.sqlite_store import LocalStore
from delivery_helpers import subprocess_env

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"
pytestmark = pytest.mark.slow


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A private copy of the example project (its local store starts empty)."""
    copy = tmp_path / "example_project"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(".braintrust", "__pycache__", ".pytest_cache"))
    return copy


def run_example(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = subprocess_env()
    env.pop("GITHUB_STEP_SUMMARY", None)
    command = [sys.executable, "-m", "pytest", str(project), "--braintrust", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, cwd=project.parent, env=env, capture_output=True, text=True, timeout=180)


def experiments(project: Path) -> list[dict]:
    store = LocalStore(project / ".braintrust" / "braintrust.sqlite")
    (support_bot,) = [p for p in store.list_projects() if p["name"] == "support-bot"]
    return store.list_experiments(support_bot["id"])


def test_two_offline_runs_pass_and_the_second_compares_with_the_first(project):
    first = run_example(project)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "braintrust: logging eval cases to project 'support-bot'" in first.stdout
    assert "compared to" not in first.stdout
    assert "gate PASSED" in first.stdout and "1 failed" in first.stdout  # a failing case, gates-only
    second = run_example(project)
    assert second.returncode == 0, second.stdout + second.stderr
    runs = experiments(project)
    assert len(runs) == 2
    assert f"{runs[1]['name']} compared to {runs[0]['name']}:" in second.stdout
    assert "(0 improvements, 0 regressions)" in second.stdout  # deterministic bot: same scores


def test_the_command_the_summary_prints_works_from_where_pytest_ran(project):
    """The README runs pytest from the repository root, whose pyproject.toml would make
    `braintrust` look for the store there; pytest put it in example_project/ (the rootdir), so
    the printed command names the store."""
    (project.parent / "pyproject.toml").write_text("[project]\nname = 'checkout'\n")
    result = run_example(project)
    (line,) = [line for line in result.stdout.splitlines() if line.startswith("See results for ")]
    command = line.split("(run `", 1)[1].rstrip(")`")
    assert command.startswith("braintrust show --store ")
    command = f"{shlex.quote(sys.executable)} -m {command}"  # the same program, whatever PATH holds
    env = subprocess_env()
    shown = subprocess.run(command, shell=True, cwd=project.parent, env=env, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert experiments(project)[0]["name"] in shown.stdout


def test_with_two_xdist_workers_there_is_one_experiment_and_one_summary(project):
    result = run_example(project, "-n", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("=========================SUMMARY=========================") == 1
    (run,) = experiments(project)
    store = LocalStore(project / ".braintrust" / "braintrust.sqlite")
    rows, _ = store.fetch_rows("experiment", run["id"], limit=10000)
    roots = [r for r in rows if not r.get("span_parents")]
    assert len(roots) == 11
    assert {r["metadata"]["pytest"]["worker"] for r in roots} == {"gw0", "gw1"}


def test_a_gate_that_is_not_met_fails_the_run_with_exit_6(project):
    result = run_example(project, "--braintrust-fail-under", "intent=0.99")
    assert result.returncode == 10, result.stdout + result.stderr
    assert "score 'intent' is 90.91%, which is below the bar of 99.00%" in result.stdout


def rows_of_first_run(project: Path) -> list[dict]:
    store = LocalStore(project / ".braintrust" / "braintrust.sqlite")
    rows, _ = store.fetch_rows("experiment", experiments(project)[0]["id"], limit=10000)
    return rows


def named(rows: list[dict], name: str) -> list[dict]:
    return [r for r in rows if r["span_attributes"]["name"] == name]


def test_the_llm_judge_asks_its_model_under_its_score_span_and_keeps_its_reason(project):
    """The suite models a real one: an LLM-style judge among the scorers, whose model call is an
    `llm` span under the judge's score span, its choice and reason in that span's metadata."""
    result = run_example(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "93.75% 'answers_question' score" in result.stdout  # 7 answers, 1 hand-off (German)
    rows = rows_of_first_run(project)
    judged = named(rows, "answers_question")
    assert len(judged) == 8  # one per FAQ line
    roots = {r["root_span_id"]: r for r in rows if not r.get("span_parents")}
    for score in judged:
        (call,) = [r for r in named(rows, "judge model") if r["span_parents"] == [score["span_id"]]]
        assert call["span_attributes"]["type"] == "llm"
        root = roots[score["root_span_id"]]
        assert f"[Question]: {root['input']}" in call["input"]["messages"][0]["content"]
        choice = score["metadata"]["choice"]
        assert call["output"].startswith(choice) and score["metadata"]["rationale"]
        assert score["scores"] == {"answers_question": {"A": 1.0, "B": 0.5}[choice]}
    (german,) = [s for s in judged if roots[s["root_span_id"]]["input"] == "Ich möchte eine Rückerstattung"]
    assert german["metadata"] == {"choice": "B", "rationale": "The reply passes the question to a human agent."}


def test_every_call_of_the_bots_model_logs_its_tokens(project):
    """A model call costs tokens whatever it answers, so the token averages cover every case
    (not only those the bot understood, which made them jump when a case regressed)."""
    result = run_example(project)
    assert result.returncode == 0, result.stdout + result.stderr
    calls = named(rows_of_first_run(project), "classify")
    assert len(calls) == 11
    assert all(c["metrics"].get("prompt_tokens", 0) > 0 and c["metrics"].get("completion_tokens") == 1 for c in calls)


def test_a_records_own_tags_add_to_the_marks(project):
    result = run_example(project)
    assert result.returncode == 0, result.stdout + result.stderr
    tags = {r["span_attributes"]["name"]: r.get("tags") for r in rows_of_first_run(project) if not r.get("span_parents")}
    assert tags["test_faq[refund-german]"] == ["faq", "i18n"] and tags["test_faq[refund-basic]"] == ["faq"]


def test_the_example_readme_explains_every_score_the_run_prints(project):
    result = run_example(project)
    summary = result.stdout.split("=SUMMARY=", 1)[1].split("See results for", 1)[0]
    printed = {line.split("'")[1] for line in summary.splitlines() if line.endswith(" score")}
    readme = (project / "README.md").read_text(encoding="utf-8")
    table = readme.split("| score | from | meaning |", 1)[1].split("\n\n", 1)[0]
    explained = {line.split("`")[1] for line in table.splitlines() if line.startswith("| `")}
    assert printed == explained
    assert "12 items" in readme and "collected 12 items" in result.stdout
    assert "test_faq[refund-german]" in readme  # the failure it explains is the run's only one
    assert "1 failed" in result.stdout and "test_faq.py::test_faq[refund-german] - " in result.stdout
