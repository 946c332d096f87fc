"""``braintrust eval`` against what 0.48.1's CLI does, for what earlier rounds left out: names and
reporters defined by several files (0.48.1 keeps one registry per file; the expected outputs were
recorded from its CLI on the same files), and why a file with an un-awaited ``EvalAsync`` ran nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_support import cli_env, run_cli, write

REPORTER = """
from braintrust import Eval, Reporter
Reporter("r", report_eval=lambda evaluator, result, verbose, jsonl: print("{tag}-report", evaluator.eval_name) or True,
         report_run=lambda eval_reports, verbose, jsonl: print("{tag}-run", len(eval_reports)) or True)
Eval("qa4", data=[{{"input": 1, "expected": 1}}], task=lambda x: x, scores=[lambda output, expected: 1.0],
     experiment_name="{tag}", reporter="r")
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path / "store")


def _evals(project: str, *experiments: str) -> str:
    calls = "".join(
        f"Eval({project!r}, data=[{{'input': 1, 'expected': 1}}], task=lambda x: x, "
        f"scores=[lambda output, expected: 1.0], experiment_name={name!r})\n" for name in experiments
    )
    return "from braintrust import Eval\n" + calls


def test_an_evaluator_name_another_file_used_is_not_renamed(tmp_path, env):
    # 0.48.1 numbers a repeated name within its file only: P, Q | P, P_1 (not P_2, P_3).
    write(tmp_path / "evals" / "eval_a.py", _evals("qa4", "P", "Q"))
    write(tmp_path / "evals" / "eval_b.py", _evals("qa4", "P", "P"))
    done = run_cli("eval", "--list", "evals", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "qa4 [experiment_name=P]", "qa4 [experiment_name=Q]", "qa4 [experiment_name=P]", "qa4 [experiment_name=P]_1",
    ]


def test_a_reporter_name_defined_twice_in_one_file_fails_that_file(tmp_path, env):
    # 0.48.1's Reporter() raises "Reporter r already exists": the file does not import.
    write(tmp_path / "evals" / "eval_a.py", REPORTER.format(tag="A") + REPORTER.format(tag="A2").split("\n", 2)[2])
    write(tmp_path / "evals" / "eval_b.py", _evals("qa4", "B"))
    done = run_cli("eval", "--no-send-logs", "--no-progress-bars", "evals", cwd=tmp_path, env=env)
    assert done.returncode == 1
    assert "failed to import" in done.stderr and "ValueError: Reporter r already exists" in done.stderr
    assert "A-report" not in done.stdout and "A2-report" not in done.stdout
    assert "SUMMARY" in done.stdout and "'scorer_0' score" in done.stdout  # eval_b ran, with the default reporter


def test_a_reporter_an_earlier_file_defined_keeps_that_file_s_with_a_warning(tmp_path, env):
    write(tmp_path / "evals" / "eval_a.py", REPORTER.format(tag="A"))
    write(tmp_path / "evals" / "eval_b.py", REPORTER.format(tag="B"))
    done = run_cli("eval", "--no-send-logs", "--no-progress-bars", "evals", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "A-report qa4 [experiment_name=A]", "A-report qa4 [experiment_name=B]", "A-run 2",
    ]
    first, second = (str((tmp_path / "evals" / name).resolve()) for name in ("eval_a.py", "eval_b.py"))
    assert f"Reporter r already exists (in {first} and {second}). Will skip r in {second}." in done.stderr


def test_an_eval_async_never_awaited_is_named_as_the_reason_none_ran(tmp_path, env):
    write(tmp_path / "eval_bare.py", """
        from braintrust import EvalAsync
        EvalAsync("qa4", data=[{"input": 1}], task=lambda x: x, scores=[lambda output: 1.0])
    """)
    done = run_cli("eval", "--no-send-logs", "eval_bare.py", cwd=tmp_path, env=env)
    assert done.returncode == 1
    assert "eval_bare.py defines no evaluator" in done.stderr
    assert "EvalAsync(...) returns a coroutine that registers its evaluator only when awaited" in done.stderr
