"""``braintrust gate``: the last CI job after shards joined one experiment, judging the whole
experiment with the gates each shard could only judge in part. Real pytest shards in
subprocesses, into the loopback test server and into the local store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli_support import cli_env, run_cli, write
from delivery_helpers import subprocess_env

SHARD_1 = '''
import pytest
from pytest_braintrust import eval_case

@eval_case()
@pytest.mark.parametrize("n", [1, 2])
def test_good(n):
    pass
'''

SHARD_2 = '''
import pytest
from pytest_braintrust import eval_case

@eval_case()
@pytest.mark.parametrize("n", [3, 4])
def test_half(n):
    assert n == 3
'''


@pytest.fixture(params=["server", "local"])
def shard_env(request, tmp_path) -> dict[str, str]:
    """Where the shards log and ``braintrust gate`` reads: the test server, or a local store."""
    if request.param == "local":
        return cli_env(tmp_path / "store")
    server = request.getfixturevalue("bt_server")
    return subprocess_env(BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url, PYTHONDONTWRITEBYTECODE="1")


def run_shard(folder: Path, test_file: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    args = ["-p", "no:cacheprovider", "-p", "no:randomly", "--braintrust", "--braintrust-project", "shards",
            "--braintrust-experiment", "nightly-42", "--braintrust-update", test_file]
    return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=120)


def test_gate_judges_the_experiment_every_shard_logged_into(tmp_path, shard_env):
    write(tmp_path / "test_shard_1.py", SHARD_1)
    write(tmp_path / "test_shard_2.py", SHARD_2)
    first, second = run_shard(tmp_path, "test_shard_1.py", shard_env), run_shard(tmp_path, "test_shard_2.py", shard_env)
    assert first.returncode == 0, first.stdout
    assert second.returncode == 1, second.stdout  # one case failed there

    step = tmp_path / "step.md"
    failing = run_cli("gate", "shards", "nightly-42", "--fail-under", "pass=80%", "--json", "gate.json", cwd=tmp_path,
                      env={**shard_env, "GITHUB_STEP_SUMMARY": str(step), "GITHUB_ACTIONS": "true"})
    passing = run_cli("gate", "shards", "nightly-42", "--fail-under", "pass=0.7", cwd=tmp_path, env=shard_env)

    assert failing.returncode == 10, failing.stdout + failing.stderr
    # The whole experiment: 3 of the 4 cases of both shards passed.
    assert "75.00% 'pass' score" in failing.stdout
    assert "gate FAILED: score 'pass' is 75.00%, which is below the bar of 80.00%" in failing.stdout
    assert "braintrust: a quality gate failed; exit status 10" in failing.stderr
    # On GitHub Actions the failed gate is also an annotation on the run and the pull request
    # ("%" escaped as the workflow command requires; GitHub shows "75.00%").
    assert "::error title=Braintrust quality gate::score 'pass' is 75.00%25, which is below the bar of 80.00%25" in failing.stdout
    document = json.loads((tmp_path / "gate.json").read_text())
    assert document["experiments"][0]["experiment"] == "nightly-42" and document["experiments"][0]["scores"]["pass"]["score"] == 0.75
    assert [(g["kind"], g["score"], g["passed"]) for g in document["gates"]] == [("fail-under", "pass", False)]
    markdown = step.read_text()  # the CI job's page shows the verdict
    assert markdown.startswith("## Braintrust gate: ❌ a gate failed\n")
    assert "| pass | 75.00% |" in markdown
    assert "| fail-under pass | ❌ score 'pass' is 75.00%, which is below the bar of 80.00% |" in markdown
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "gate PASSED: score 'pass' is 75.00%, which meets the bar of 70.00%" in passing.stdout
    # Shards that joined with --braintrust-experiment-id know the id: it works in place of the name.
    by_id = run_cli("gate", "shards", document["experiments"][0]["experiment_id"], "--fail-under", "pass=0.7", cwd=tmp_path, env=shard_env)
    assert by_id.returncode == 0, by_id.stdout + by_id.stderr
    assert "See results for nightly-42" in by_id.stdout and "75.00% 'pass' score" in by_id.stdout


def test_gate_compares_with_a_named_base_and_names_what_is_missing(tmp_path, shard_env):
    write(tmp_path / "test_shard_2_fixed.py", SHARD_2.replace("assert n == 3", "pass"))  # the same cases, all passing
    write(tmp_path / "test_shard_2.py", SHARD_2)
    base = ["-p", "no:cacheprovider", "--braintrust", "--braintrust-project", "shards"]
    for experiment, test_file in (("good-run", "test_shard_2_fixed.py"), ("half-run", "test_shard_2.py")):
        subprocess.run([sys.executable, "-m", "pytest", *base, "--braintrust-experiment", experiment, test_file],
                       cwd=tmp_path, env=shard_env, capture_output=True, timeout=120)

    (tmp_path / "a-file").write_text("not a folder")
    dropped = run_cli("gate", "shards", "half-run", "--base", "good-run", "--max-regression", "pass=0.25", cwd=tmp_path, env=shard_env)
    typo = run_cli("gate", "shards", "half-run", "--fail-under", "passs=0.5", "--json", "a-file/gate.json", cwd=tmp_path, env=shard_env)
    unknown = run_cli("gate", "shards", "no-such-run", "--fail-under", "pass=0.5", cwd=tmp_path, env=shard_env)
    bad_bar = run_cli("gate", "shards", "half-run", "--fail-under", "pass=150%", cwd=tmp_path, env=shard_env)

    assert dropped.returncode == 10, dropped.stdout + dropped.stderr
    assert "half-run compared to good-run" in dropped.stdout
    assert "gate FAILED: score 'pass' dropped 50.00% against the baseline, more than the allowed 25.00%" in dropped.stdout
    assert typo.returncode == 10  # (its JSON file could not be written: said, and the verdict stands)
    assert "braintrust: could not write the JSON summary to a-file/gate.json (File exists); check --json" in typo.stderr
    assert "gate FAILED: --fail-under: no score named 'passs' was logged in experiment 'half-run'" in typo.stdout
    assert unknown.returncode == 1 and "no-such-run" in unknown.stderr and "Traceback" not in unknown.stderr
    assert bad_bar.returncode == 2
    assert "--fail-under: 'pass=150%'" not in bad_bar.stderr and "'150%' is outside 0..1" in bad_bar.stderr


def test_gate_says_when_the_summary_cannot_be_had_and_exits_1(tmp_path, bt_server):
    """Braintrust answers, but not the summary: no gate is judged on nothing (exit 1, not 10)."""
    env = subprocess_env(BRAINTRUST_API_KEY=bt_server.api_key, BRAINTRUST_APP_URL=bt_server.url,
                         BRAINTRUST_NUM_RETRIES="0", PYTHONDONTWRITEBYTECODE="1")
    write(tmp_path / "test_shard_1.py", SHARD_1)
    assert run_shard(tmp_path, "test_shard_1.py", env).returncode == 0
    (project,) = [p for p in bt_server.projects() if p["name"] == "shards"]
    (experiment,) = bt_server.experiments(project["id"])
    bt_server.fail_always("GET", f"/v1/experiment/{experiment['id']}/summarize", 500)

    result = run_cli("gate", "shards", "nightly-42", "--fail-under", "pass=0.5", cwd=tmp_path, env=env)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "braintrust: could not summarize experiment 'nightly-42': Experiment comparison could not be retrieved" in result.stderr
    assert "gate " not in result.stdout


def test_gate_reads_the_store_the_other_commands_read_and_never_makes_one(tmp_path):
    """Without a key: the store found as `braintrust list` finds it, or --store; none there is
    exit 1 with the fix, and no empty store is left behind to hide the real one."""
    store = tmp_path / "elsewhere" / "store"
    write(tmp_path / "test_shard_1.py", SHARD_1)
    assert run_shard(tmp_path, "test_shard_1.py", cli_env(store)).returncode == 0
    env = {k: v for k, v in cli_env(store).items() if k != "BRAINTRUST_LOCAL_DIR"}
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "pyproject.toml").touch()

    missing = run_cli("gate", "shards", "nightly-42", cwd=tmp_path / "proj", env=env)
    assert missing.returncode == 1 and "no local store at" in missing.stderr
    assert not (tmp_path / "proj" / ".braintrust").exists()

    found = run_cli("gate", "shards", "nightly-42", "--store", str(store), "--fail-under", "pass=1", cwd=tmp_path / "proj", env=env)
    assert found.returncode == 0, found.stderr
    assert "gate PASSED: score 'pass' is 100.00%" in found.stdout

    [listed] = json.loads(run_cli("experiments", "shards", "--json", "--store", str(store), cwd=tmp_path, env=env).stdout)
    experiment_id = listed["id"]
    other = run_cli("gate", "another-project", experiment_id, "--store", str(store), cwd=tmp_path / "proj", env=env)
    assert other.returncode == 1
    assert f"experiment {experiment_id!r} is in project 'shards', not 'another-project'" in other.stderr
