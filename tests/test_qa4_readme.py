"""The README as a new user reads it (fourth pass): what its commands and options promise holds.
Each test named after a fix failed before it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CASES = """
from pytest_braintrust import eval_case

@eval_case(input="2+2", expected="4")
def test_adds(braintrust_case):
    return "4"
"""


@pytest.fixture
def suite(pytester):
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_qa4_readme_suite=CASES)  # (a basename no test module of ours has)
    return pytester


def _run(pytester, *args):
    from braintrust.delivery.runtime import reset_for_tests

    reset_for_tests()
    try:
        return pytester.runpytest("--braintrust", "-p", "no:cacheprovider", *args)
    finally:
        reset_for_tests()


@pytest.mark.parametrize("name_args", [("--braintrust-experiment", ""), ("--braintrust-experiment", "  "), ()],
                         ids=["empty", "blank", "left-out"])
def test_update_without_an_experiment_name_is_a_usage_error(suite, name_args):
    """README, xdist and CI shards: shards join one experiment with ``--braintrust-experiment NAME
    --braintrust-update``. With the name's variable unset (``"nightly-$RUN_ID"`` is never empty,
    but ``"$EXPERIMENT"`` is) or the option left out, each shard used to make an experiment of its
    own, silently, as the empty ``--braintrust-experiment-id`` did before it became a usage error."""
    result = _run(suite, *name_args, "--braintrust-update")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    err = result.stderr.str()
    assert "--braintrust-update: --braintrust-experiment is" in err and "give --braintrust-experiment NAME" in err
    assert "test_adds" not in result.stdout.str() and not os.listdir(os.environ["BRAINTRUST_LOCAL_DIR"])


def test_an_experiment_id_beside_an_experiment_name_is_a_usage_error(suite):
    """Both name the experiment to log into; the name was ignored without a word."""
    result = _run(suite, "--braintrust-experiment-id", "0b4d0c7e-0000-4000-8000-000000000001", "--braintrust-experiment", "nightly")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    assert "both name the experiment to log into; give one" in result.stderr.str()


def test_update_with_a_name_joins_that_experiment(suite):
    """The shard recipe itself still works: two runs with the same name make one experiment."""
    from braintrust.store.sqlite_store import LocalStore

    for _ in range(2):
        result = _run(suite, "--braintrust-experiment", "nightly-7", "--braintrust-update")
        assert result.ret == 0, result.stdout.str() + result.stderr.str()
    store = LocalStore(os.path.join(os.environ["BRAINTRUST_LOCAL_DIR"], "braintrust.sqlite"))
    (project,) = store.list_projects()
    assert [e["name"] for e in store.list_experiments(project["id"])] == ["nightly-7"]


def test_compare_json_links_the_experiment_as_the_runs_own_summary_does(tmp_path, monkeypatch):
    """README, Command line: ``braintrust compare --json`` is the summary of an experiment; its
    ``experiment_url`` / ``project_url`` were null, where ``braintrust eval --jsonl`` and
    ``braintrust gate --json`` (its ``link``) give the local store's link for the same one."""
    import json

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent / "cli"))
    from cli_support import cli_env, eval_source, run_cli, write

    store = tmp_path / "store"
    env = cli_env(store)
    write(tmp_path / "eval_a.py", eval_source("links", experiment="exp one"))
    assert run_cli("eval", "eval_a.py", "--no-progress-bars", cwd=tmp_path, env=env).returncode == 0
    compared = run_cli("compare", "links", "exp one", "--json", cwd=tmp_path, env=env)
    gated = run_cli("gate", "links", "exp one", "--fail-under", "exact=0", "--json", "gate.json", cwd=tmp_path, env=env)
    assert compared.returncode == 0 and gated.returncode == 0, compared.stderr + gated.stderr
    summary, (gate,) = json.loads(compared.stdout), json.loads((tmp_path / "gate.json").read_text())["experiments"]
    database = (store / "braintrust.sqlite").as_uri()
    assert summary["project_url"] == f"{database}?project=links"
    assert summary["experiment_url"] == gate["link"] == f"{database}?project=links&experiment=exp%20one"


@pytest.mark.parametrize("option", ["--base", "--json"])
def test_gate_option_given_empty_is_a_usage_error(tmp_path, monkeypatch, option):
    """README, Command line: ``braintrust gate`` is the last CI job after the shards, where
    ``--base "$BASE"`` or ``--json "$OUT"`` with the variable unset used to mean, silently, the
    default base or no JSON file (exit 0), as pytest's ``--braintrust-base-experiment`` and
    ``--braintrust-json`` given empty no longer do: a usage error (exit 2) naming the option."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent / "cli"))
    from cli_support import cli_env, eval_source, run_cli, write

    env = cli_env(tmp_path / "store")
    write(tmp_path / "eval_a.py", eval_source("gated", experiment="shards"))
    assert run_cli("eval", "eval_a.py", "--no-progress-bars", cwd=tmp_path, env=env).returncode == 0
    result = run_cli("gate", "gated", "shards", "--fail-under", "exact=0.5", option, "", cwd=tmp_path, env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"braintrust gate: {option}: an empty value names nothing" in result.stderr and "leave the option out" in result.stderr
    assert "gate PASSED" not in result.stdout
