"""Hostile names in what we print: a score, project or experiment name holding a terminal escape
sequence must not drive the terminal from pytest's summary (in a UTF-8 or an ASCII-only
output), the store keeps the names exactly, and the ``braintrust show`` command that
``braintrust compare`` prints runs as printed (a name starting with ``-``, a store elsewhere)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from cli_support import cli_env, experiments, run_cli, write

#: Sets the terminal's title, and clears the screen, when printed as they are.
PROJECT = "pr\x1b]0;owned\x07 日本"
EXPERIMENT = "e\x1b[2Jx"
SCORE = "esc\x1b[31mred"

SUITE = f"""
from pytest_braintrust import eval_case

@eval_case()
def test_one(braintrust_case):
    braintrust_case.score({SCORE!r}, 0.5)
    braintrust_case.score("日本🚀", 0.25)
"""


def pytest_env(store: Path, **extra: str) -> dict[str, str]:
    env = cli_env(store, **extra)
    for name in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS"):
        env.pop(name, None)
    return env


def run_suite(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "--braintrust", *args],
        cwd=root, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
def test_the_terminal_summary_prints_control_characters_in_names_as_escapes(tmp_path, encoding):
    """Printed as they are, the score and experiment names would set the title and clear the
    screen of whoever reads the run (or its CI log); they are printed as ``\\x1b`` instead, with
    no crash in an ASCII-only output, and the store keeps them as they were given."""
    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "test_names.py", SUITE)
    env = pytest_env(tmp_path / "store", PYTHONIOENCODING=encoding)

    result = run_suite(tmp_path, env, f"--braintrust-project={PROJECT}", f"--braintrust-experiment={EXPERIMENT}")

    assert result.returncode == 0, result.stdout + result.stderr
    summary = result.stdout[result.stdout.index("Braintrust"):]
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", summary), summary
    assert r"'esc\x1b[31mred' score" in summary
    assert r"See results for e\x1b[2Jx in the local store" in summary
    (experiment,) = experiments(tmp_path / "store")
    assert experiment["name"] == EXPERIMENT
    assert {SCORE, "日本🚀"} <= {name for row in experiment["rows"] for name in (row.get("scores") or {})}


def test_compare_prints_a_show_command_that_runs_as_printed(tmp_path):
    """Names starting with ``-`` and a store given by ``--store`` from another folder: the
    printed command carries ``--store`` and ``--``, as the run's own summary does, and runs."""
    suite = tmp_path / "suite"
    write(suite / "pyproject.toml", "")
    write(suite / "test_dash.py", SUITE)
    store = tmp_path / "store"
    ran = run_suite(suite, pytest_env(store), "--braintrust-project=-p", "--braintrust-experiment=-x")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in cli_env(store).items() if k != "BRAINTRUST_LOCAL_DIR"}

    compared = run_cli("compare", "--store", str(store), "--", "-p", cwd=elsewhere, env=env)

    assert compared.returncode == 0, compared.stderr
    (command,) = re.findall(r"\(run `(braintrust show [^`]*)`\)", compared.stdout)
    shown = run_cli(*shlex.split(command)[1:], cwd=elsewhere, env=env)
    assert shown.returncode == 0, (command, shown.stderr)
    assert shown.stdout.startswith("Experiment -x  (project -p)"), shown.stdout


def test_the_printed_show_command_runs_for_names_holding_control_characters(tmp_path):
    """Printed with its escape characters as ``\\x1b`` (so as not to drive the terminal), the
    command must still name the experiment: quoted as bash's ``$'...'`` it does."""
    write(tmp_path / "pyproject.toml", "")
    write(tmp_path / "test_names.py", SUITE)
    env = pytest_env(tmp_path / "store")
    ran = run_suite(tmp_path, env, f"--braintrust-project={PROJECT}", f"--braintrust-experiment={EXPERIMENT}")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    (command,) = re.findall(r"\(run `(braintrust show [^`]*)`\)", ran.stdout)

    shown = subprocess.run(["bash", "-c", command.replace("braintrust", f"{shlex.quote(sys.executable)} -m braintrust", 1)],
                           cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)

    assert shown.returncode == 0, (command, shown.stderr)
    assert shown.stdout.startswith(r"Experiment e\x1b[2Jx  (project pr\x1b]0;owned\x07 日本)"), shown.stdout
