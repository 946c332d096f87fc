"""The ``braintrust`` command as a shell user meets it: usage errors naming the command and the
fix, an ASCII-only output with non-ASCII names, names and errors holding terminal escape
sequences, and Ctrl-C in the middle of a long ``show`` (in subprocesses)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cli_support import cli_env, run_cli, write

PROJECT = "prøject-☃"
EXPERIMENT = "ëxp"
#: An experiment name that, printed as is, would set the terminal's title.
TITLE_SETTING = "e\x1b]0;owned\x07x"
#: 400 traces: ``show --limit 0`` prints far more than a pipe holds (64 KiB).
EVAL_FILE = f"""
from braintrust import Eval

def exact(output, expected):
    return 1.0 if output == expected else 0.0

def task(x):
    if x == 3:
        raise ValueError("red \\x1b[31malert\\x1b[0m and \\x1b[2J")
    return x

Eval({PROJECT!r}, data=[{{"input": i, "expected": i}} for i in range(400)], task=lambda x: x, scores=[exact],
     experiment_name={EXPERIMENT!r})
Eval("escapes", data=[{{"input": i, "expected": i}} for i in range(5)], task=task, scores=[exact],
     experiment_name={TITLE_SETTING!r})
"""


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("qa5-cli")
    env = cli_env(root / "store")
    write(root / "eval_names.py", EVAL_FILE)
    result = run_cli("eval", "eval_names.py", "--no-progress-bars", cwd=root, env=env)
    assert result.returncode == 1, result.stderr  # (the escapes evaluator's task raised once)
    return root, env


@pytest.mark.parametrize("command", [["list"], ["experiments"], ["show", PROJECT], ["compare", PROJECT],
                                     ["gate", PROJECT, EXPERIMENT, "--fail-under", "exact=0.5"]])
def test_non_ascii_names_print_as_escapes_on_an_ascii_only_output(filled, command):
    """``PYTHONIOENCODING=ascii`` (an old CI image): names are escaped, never a UnicodeEncodeError."""
    root, env = filled

    result = run_cli(*command, cwd=root, env={**env, "PYTHONIOENCODING": "ascii"})

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert r"pr\xf8ject-\u2603" in result.stdout or r"\xebxp" in result.stdout


def test_eval_prints_its_summary_on_an_ascii_only_output(tmp_path):
    """0.48.1 exits 0 here (its reporter's failure is logged); the summary is printed, escaped."""
    env = cli_env(tmp_path / "store", PYTHONIOENCODING="ascii")
    write(tmp_path / "eval_one.py", f"""
        from braintrust import Eval
        Eval({PROJECT!r}, data=[{{"input": 1, "expected": 1}}], task=lambda x: x, scores=[],
             experiment_name={EXPERIMENT!r})
    """)

    result = run_cli("eval", "eval_one.py", "--no-progress-bars", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert r"\xebxp" in result.stdout and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["list"], ["experiments"], ["show", "escapes"], ["compare", "escapes"],
                                     ["show", "escapes", "no-such-experiment"]])
def test_control_characters_in_names_and_errors_are_printed_as_escapes(filled, command):
    """Printed as is, a name or an error holding escape sequences would drive the terminal (or leave
    escape codes in the file the output is redirected to)."""
    root, env = filled

    result = run_cli(*command, cwd=root, env=env)

    printed = result.stdout + result.stderr
    assert r"e\x1b]0;owned\x07x" in printed
    assert not any(c in printed for c in "\x1b\x07"), printed
    if command == ["show", "escapes"]:
        assert r"ValueError: red \x1b[31malert\x1b[0m and \x1b[2J" in result.stdout


def test_json_output_is_left_to_json(filled):
    root, env = filled

    result = run_cli("experiments", "escapes", "--json", cwd=root, env=env)

    assert result.returncode == 0
    assert '"name": "e\\u001b]0;owned\\u0007x"' in result.stdout


def test_ctrl_c_during_a_long_show_exits_130_without_a_traceback(filled):
    root, env = filled
    process = subprocess.Popen(
        [sys.executable, "-m", "braintrust", "show", PROJECT, "--limit", "0"],
        cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout.readline().startswith(b"Experiment ")  # (it is writing: the pipe fills up)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    finally:
        process.kill()

    assert process.returncode == 130, err.decode()
    assert err.decode() == "braintrust: interrupted\n"


@pytest.mark.parametrize("command", [["show", "--bogus"], ["list", "extra"], ["compare", "a", "b", "c", "d"]])
def test_an_unknown_argument_gets_its_commands_usage_and_the_fix(tmp_path, command):
    result = run_cli(*command, cwd=tmp_path, env=cli_env(tmp_path / "store"))

    assert result.returncode == 2
    assert result.stderr.startswith(f"usage: braintrust {command[0]} ")
    assert f"braintrust {command[0]}: error: unrecognized arguments: " in result.stderr
    assert f"(see `braintrust {command[0]} --help`)" in result.stderr


@pytest.mark.parametrize("command", ["push", "install"])
def test_a_command_of_the_public_sdk_that_is_not_here_says_so(tmp_path, command):
    """0.48.1's CLI has ``push`` and ``install``; README: this package has no ``braintrust push``."""
    result = run_cli(command, "file.py", cwd=tmp_path, env=cli_env(tmp_path / "store"))

    assert result.returncode == 2
    assert f"there is no `braintrust {command}` here" in result.stderr
    assert "public SDK" in result.stderr and "Traceback" not in result.stderr


def test_help_lists_the_exit_statuses(tmp_path):
    result = run_cli("--help", cwd=tmp_path, env=cli_env(tmp_path / "store"))

    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "Exit status: 0 done;" in text
    assert all(f"{status} " in text for status in ("1", "2", "10", "130", "141"))
    assert "10 a quality gate failed" in text


@pytest.mark.parametrize("command", [["list"], ["experiments"], ["show"], ["prune", "--keep", "1"]])
def test_an_empty_file_named_as_the_store_is_not_made_one(tmp_path, command):
    """SQLite opens a 0-byte file as an empty database: a read command turned it into a store."""
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    result = run_cli(*command, "--store", str(empty), cwd=tmp_path, env=cli_env(tmp_path / "store"))

    assert result.returncode == 1, result.stderr
    assert f"{empty} is an empty file, not a local store" in result.stderr
    assert empty.stat().st_size == 0
