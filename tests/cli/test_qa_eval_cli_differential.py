"""``braintrust eval`` where it differed from 0.48.1's command, run side by side; the expectations
below were recorded from the public SDK's CLI on the same eval files."""

from __future__ import annotations

import json
from pathlib import Path

from cli_support import cli_env, experiments, roots, run_cli, write

RED = "\033[91m"
END = "\033[0m"

FAILING = """
from braintrust import Eval

print("FILE", __file__)

def task(x):
    raise ValueError(f"bad {x}")

Eval("qa-diff", data=[{"input": 1}, {"input": 2}], task=task, scores=[lambda output: 1])
"""


def test_an_eval_file_is_imported_by_its_absolute_path(tmp_path):
    """0.48.1 imports the file by its absolute path: ``__file__`` and the tracebacks logged and
    printed for a failing task name it so, whatever folder the command was given from."""
    path = write(tmp_path / "evals" / "eval_failing.py", FAILING)

    result = run_cli("eval", "--no-send-logs", "--jsonl", "evals/eval_failing.py", cwd=tmp_path, env=cli_env(tmp_path / "store"))

    assert result.returncode == 1
    assert f"FILE {path}\n" in result.stdout
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["eval_name"] == "qa-diff"
    for number, error in zip((1, 2), report["errors"]):
        # (the public SDK's lines: the whole traceback, its last newline kept)
        assert f'File "{path}", line 6, in task\n' in error
        assert error.endswith(f"ValueError: bad {number}\n")


def test_task_failures_are_printed_in_one_red_block_as_in_the_public_sdk(tmp_path):
    write(tmp_path / "eval_failing.py", FAILING)
    env = cli_env(tmp_path / "store")

    short = run_cli("eval", "--no-send-logs", "eval_failing.py", cwd=tmp_path, env=env)
    verbose = run_cli("eval", "--no-send-logs", "--verbose", "eval_failing.py", cwd=tmp_path, env=env)

    assert short.returncode == verbose.returncode == 1
    assert (
        f"{RED}Evaluator qa-diff failed with 2 errors{END}\n"
        f"{RED}ValueError: bad 1\nValueError: bad 2{END}\n"
        f"{RED}Add --verbose to see full stack traces.{END}\n"
    ) in short.stderr
    block = verbose.stderr.split(f"{RED}Evaluator qa-diff failed with 2 errors{END}\n", 1)[1]
    block = block.split(f"{RED}Add --verbose to see full stack traces.{END}\n", 1)[0]
    assert block.startswith(f"{RED}Traceback (most recent call last):\n")
    assert block.endswith(f"ValueError: bad 2{END}\n")
    assert block.count(RED) == 1 and block.count("Traceback (most recent call last):") == 2
    assert "ValueError: bad 1\nTraceback (most recent call last):\n" in block


def test_a_filter_written_as_a_json_string_is_that_string(tmp_path):
    """0.48.1 reads a filter's value as JSON first: ``input.name="baz"`` is the regex ``baz``."""
    write(tmp_path / "eval_filtered.py", """
        from braintrust import Eval
        Eval("qa-filter", data=[{"input": {"name": "foobar"}}, {"input": {"name": "baz"}}, {"input": {"name": '"baz"'}}],
             task=lambda x: x["name"], scores=[lambda output: 1])
    """)
    store = tmp_path / "store"

    result = run_cli("eval", "eval_filtered.py", "--filter", 'input.name="baz"', cwd=tmp_path, env=cli_env(store))

    assert result.returncode == 0, result.stderr
    (experiment,) = experiments(store)
    assert [r["output"] for r in roots(experiment["rows"])] == ["baz"]


def test_a_filter_value_that_is_json_but_no_string_stays_a_regex(tmp_path):
    write(tmp_path / "eval_filtered.py", """
        from braintrust import Eval
        Eval("qa-filter", data=[{"input": 1, "metadata": {"n": 3}}, {"input": 2, "metadata": {"n": 33}}, {"input": 3, "metadata": {"n": 4}}],
             task=lambda x: x, scores=[lambda output: 1])
    """)
    store = tmp_path / "store"

    result = run_cli("eval", "eval_filtered.py", "--filter", "metadata.n=3", cwd=tmp_path, env=cli_env(store))

    assert result.returncode == 0, result.stderr
    (experiment,) = experiments(store)
    assert sorted(r["output"] for r in roots(experiment["rows"])) == [1, 2]
