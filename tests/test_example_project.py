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
    assert result.returncode == 6, result.stdout + result.stderr
    assert "score 'intent' is 90.91%, which is below the bar of 99.00%" in result.stdout
