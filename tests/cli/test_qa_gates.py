"""Quality gates held to their promises, through real ``pytest --braintrust`` and ``braintrust
gate`` processes: an average equal to its bar meets it (whatever its floating-point rounding),
every gate given is judged, an option given with no gate in it is a usage error rather than a
run with no gate, and ``--json`` is never left half written."""

from __future__ import annotations

import json
import resource
import signal
import subprocess
import sys
from pathlib import Path

from cli_support import cli_env, run_cli, write
from delivery_helpers import subprocess_env

#: Two cases whose mean is 0.4 on paper and 0.39999999999999997 in floating point.
SUITE = '''
import pytest
from pytest_braintrust import eval_case

@eval_case()
@pytest.mark.parametrize("value", [0.1, 0.7])
def test_scored(braintrust_case, value):
    braintrust_case.score("s", value)
'''


def run_pytest(folder: Path, *args: str, env: dict[str, str], **popen: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-p", "no:benchmark", "--braintrust",
                           "--braintrust-project", "qa-gates", *args],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, **popen)


def test_an_average_equal_to_its_bar_meets_it(tmp_path):
    env = cli_env(tmp_path / "store")
    write(tmp_path / "test_scored.py", SUITE)

    run = run_pytest(tmp_path, "--braintrust-experiment", "first", "--braintrust-fail-under", "s=0.4", "test_scored.py", env=env)
    assert run.returncode == 0, run.stdout
    assert "gate PASSED: score 's' is 40.00%, which meets the bar of 40.00%" in run.stdout

    gate = run_cli("gate", "qa-gates", "first", "--fail-under", "s=40%", cwd=tmp_path, env=env)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert "gate PASSED: score 's' is 40.00%, which meets the bar of 40.00%" in gate.stdout

    above = run_cli("gate", "qa-gates", "first", "--fail-under", "s=40.001%", cwd=tmp_path, env=env)
    assert above.returncode == 10  # (a bar above the average still fails)
    assert "gate FAILED: score 's' is 40.000%, which is below the bar of 40.001%" in above.stdout


def test_every_gate_option_given_to_braintrust_gate_is_judged(tmp_path):
    env = cli_env(tmp_path / "store")
    write(tmp_path / "test_scored.py", SUITE)
    assert run_pytest(tmp_path, "--braintrust-experiment", "first", "test_scored.py", env=env).returncode == 0

    result = run_cli("gate", "qa-gates", "first", "--fail-under", "pass=0.9", "--fail-under", "s=0.9",
                     "--max-regression", "s=5%", "--max-regression", "pass=5%", cwd=tmp_path, env=env)

    assert result.returncode == 10, result.stdout + result.stderr
    verdicts = [line for line in result.stdout.splitlines() if line.startswith("gate ")]
    assert verdicts == [
        "gate PASSED: score 'pass' is 100.00%, which meets the bar of 90.00%",
        "gate FAILED: score 's' is 40.00%, which is below the bar of 90.00%",
        "gate SKIPPED: score 's' has no baseline to compare with, so this gate was not checked",
        "gate SKIPPED: score 'pass' has no baseline to compare with, so this gate was not checked",
    ]


def test_a_gate_option_with_no_gate_in_it_is_a_usage_error(tmp_path):
    """``--fail-under "$GATES"`` with the variable unset must not judge nothing and pass."""
    env = cli_env(tmp_path / "store")
    write(tmp_path / "test_scored.py", SUITE)
    assert run_pytest(tmp_path, "--braintrust-experiment", "first", "test_scored.py", env=env).returncode == 0

    for option, value in (("--fail-under", ""), ("--fail-under", ","), ("--max-regression", " ")):
        result = run_cli("gate", "qa-gates", "first", option, value, cwd=tmp_path, env=env)
        assert result.returncode == 2, (option, value, result.stdout, result.stderr)
        assert f"braintrust gate: {option}: " in result.stderr and "SCORE=VALUE" in result.stderr

    run = run_pytest(tmp_path, "--braintrust-fail-under=,", "test_scored.py", env=env)
    assert run.returncode == 4, run.stdout + run.stderr  # pytest's usage error, before any test runs
    assert "--braintrust-fail-under: ',' names no gate; write SCORE=VALUE" in run.stderr


def _small_files() -> None:
    """In the child: files stop growing at 512 bytes (a full disk, for the file being written)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # (then a write past the limit fails with EFBIG)
    resource.setrlimit(resource.RLIMIT_FSIZE, (512, resource.RLIM_INFINITY))


def test_gate_json_is_never_left_half_written(tmp_path, bt_server):
    """A JSON file that cannot be written whole (disk full) leaves the file that was there, not
    a truncated one a later CI step fails to parse; the failure is reported."""
    env = subprocess_env(BRAINTRUST_API_KEY=bt_server.api_key, BRAINTRUST_APP_URL=bt_server.url, PYTHONDONTWRITEBYTECODE="1")
    write(tmp_path / "test_scored.py", SUITE)
    assert run_pytest(tmp_path, "--braintrust-experiment", "first", "test_scored.py", env=env).returncode == 0
    summary = tmp_path / "gate.json"
    summary.write_text('{"previous": true}\n')

    result = subprocess.run([sys.executable, "-m", "braintrust", "gate", "qa-gates", "first", "--fail-under", "s=0.9",
                             "--json", str(summary)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL, preexec_fn=_small_files)

    assert result.returncode == 10, result.stdout + result.stderr  # the verdict stands
    assert f"braintrust: could not write the JSON summary to {summary} (File too large); check --json" in result.stderr
    assert json.loads(summary.read_text()) == {"previous": True}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".gate.json")] == []  # no temporary file left

    written = run_cli("gate", "qa-gates", "first", "--json", str(summary), cwd=tmp_path, env=env)
    assert written.returncode == 0
    document = json.loads(summary.read_text())
    assert document["schema_version"] == 1 and document["experiments"][0]["experiment"] == "first"
