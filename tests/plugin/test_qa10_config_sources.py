"""Where the plugin's settings come from (command line, ini files, ``-o``) and what its messages
call them: each names the setting as the user wrote it, and a bad value from any source is a
usage error (exit 4) with the fix, never a traceback."""

from __future__ import annotations

import json

import pytest

from braintrust.gates import GATE_FAILED_EXIT_CODE, parse_gates

SUITE = '''
from pytest_braintrust import eval_case


@eval_case(input=1)
def test_case(braintrust_case):
    braintrust_case.log_output(1)
'''

ASYNCIO_INI = "asyncio_default_fixture_loop_scope = function\n"


@pytest.fixture
def suite(bt):
    bt.pytester.makepyfile(test_suite_sources=SUITE)
    return bt


def _use_pyproject(bt, body: str) -> None:
    """The suite's settings in pyproject.toml's ``[tool.pytest.ini_options]`` (instead of the
    ``bt`` fixture's tox.ini, which pytest would prefer)."""
    (bt.path / "tox.ini").unlink()
    (bt.path / "pyproject.toml").write_text(f'[tool.pytest.ini_options]\nasyncio_default_fixture_loop_scope = "function"\n{body}')


@pytest.mark.parametrize("key", ["braintrust_fail_under", "braintrust_max_regression"])
def test_a_gate_from_the_ini_file_is_named_by_its_key_when_its_score_was_not_logged(suite, tmp_path, key):
    """A typo in an ini gate fails the run, and the message (terminal and JSON) names the ini key
    and its file, not a command-line option the user never gave."""
    suite.pytester.makeini(f"[pytest]\n{ASYNCIO_INI}{key} = nope=0.5\n")
    summary = tmp_path / "summary.json"
    result = suite.run("--braintrust", f"--braintrust-json={summary}")
    assert result.ret == GATE_FAILED_EXIT_CODE
    result.stdout.fnmatch_lines([f"gate FAILED: {key} (in tox.ini): no score named 'nope' was logged in this run"])
    assert "--braintrust-" not in "".join(line for line in result.stdout.lines if line.startswith("gate "))
    (gate,) = json.loads(summary.read_text())["gates"]
    assert gate["message"].startswith(f"{key} (in tox.ini): no score named 'nope'")


def test_a_gate_from_the_command_line_is_still_named_by_its_option(suite):
    suite.pytester.makeini(f"[pytest]\n{ASYNCIO_INI}braintrust_fail_under = pass=0.5\n")
    result = suite.run("--braintrust", "--braintrust-fail-under", "nope=0.5")
    assert result.ret == GATE_FAILED_EXIT_CODE
    result.stdout.fnmatch_lines(["gate FAILED: --braintrust-fail-under: no score named 'nope' was logged in this run"])


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("braintrust_fail_under=exact=high", "*braintrust_fail_under (given with -o): 'high' is not a number*"),
        ("braintrust_max_regression=typo", "*braintrust_max_regression (given with -o): 'typo' should look like "
                                           "SCORE=VALUE, e.g. -o braintrust_max_regression=exact=0.8,relevance=75%"),
        ("braintrust_gates_only=maybe", "*braintrust_gates_only given with -o:*'maybe'*; write true or false.*"),
    ],
)
def test_a_bad_value_given_with_o_is_named_as_given_not_as_the_ini_files(suite, override, expected):
    """``-o KEY=VALUE`` wins over the ini file: a mistake in it is reported as given with -o,
    not as in tox.ini (whose value is fine), nor as in some ini file when there is none."""
    key = override.partition("=")[0]
    suite.pytester.makeini(f"[pytest]\n{ASYNCIO_INI}{key} = {'true' if key.endswith('only') else 'pass=0.5'}\n")
    result = suite.run("--braintrust", "-o", override)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([expected])
    assert "tox.ini" not in result.stderr.str()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('braintrust_fail_under = ["pass=0.5", "exact=0.8"]\n',
         "braintrust_fail_under (in pyproject.toml): ['pass=0.5', 'exact=0.8'] is a list; write one string, "
         'e.g. braintrust_fail_under = "exact=0.8,relevance=75%"\n'),
        ('braintrust_project = ["evals"]\n',
         "braintrust_project (in pyproject.toml): ['evals'] is a list; write one string, "),
    ],
)
def test_a_toml_list_where_a_string_belongs_is_a_usage_error_not_a_traceback(suite, body, expected):
    """pytest passes a TOML list under ``[tool.pytest.ini_options]`` through as it is (and, from
    9.2, warns: an error under ``filterwarnings = error``)."""
    _use_pyproject(suite, body + 'filterwarnings = ["error"]\n')
    result = suite.run("--braintrust")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"ERROR: {expected}" in result.stderr.str()  # (a plain substring: fnmatch reads [...] as a class)
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_a_bad_gate_in_pyproject_shows_the_fix_in_toml(suite):
    """The example in the message is valid where the mistake is: quoted in a TOML file."""
    _use_pyproject(suite, 'braintrust_fail_under = "exact"\n')
    result = suite.run("--braintrust")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*braintrust_fail_under (in pyproject.toml): 'exact' should look like SCORE=VALUE, "
                                 'e.g. braintrust_fail_under = "exact=0.8,relevance=75%"'])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("exact=0.8 pass=0.9", "'exact=0.8 pass=0.9' holds more than one '='; separate gates with commas"),
        ("exact=0.8;pass=0.9", "'exact=0.8;pass=0.9' holds more than one '='; separate gates with commas"),
        ("exact=80", "'80' is outside 0..1 (0%..100%); scores are fractions: write 0.8 or 80%."),
    ],
)
def test_gate_mistakes_name_the_fix(text, expected):
    with pytest.raises(ValueError) as raised:
        parse_gates(text, "--braintrust-fail-under")
    assert str(raised.value).startswith(f"--braintrust-fail-under: {expected}"), str(raised.value)


def test_a_gate_given_without_braintrust_says_it_is_not_applied(suite):
    """``pytest --braintrust-fail-under exact=0.9`` (``--braintrust`` forgotten in a CI step):
    the gate never judges anything and the run passes; a warning says so (under -W error, a
    usage error), and gates from the ini file alone say nothing."""
    result = suite.run("--braintrust-fail-under", "nope=0.9", "--braintrust-gates-only")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*--braintrust-fail-under, --braintrust-gates-only given without --braintrust: not applied*"])
    strict = suite.run("--braintrust-max-regression", "nope=0.1", "-W", "error")
    assert strict.ret == pytest.ExitCode.USAGE_ERROR
    strict.stderr.fnmatch_lines(["*--braintrust-max-regression given without --braintrust*"])
    assert "Traceback" not in strict.stderr.str()
    assert "without --braintrust" not in suite.run().stdout.str()


def test_a_bar_from_the_ini_file_left_out_of_a_rerun_is_named_by_its_key(suite):
    """``--lf`` leaves the bars on averages out (they judge a whole suite): the line saying so
    names the ini key the bar came from, not an option the user never gave."""
    suite.pytester.makepyfile(test_suite_sources='''
from pytest_braintrust import eval_case


@eval_case(input=1)
def test_passes(braintrust_case):
    braintrust_case.log_output(1)


@eval_case(input=2)
def test_fails(braintrust_case):
    assert False
''')
    suite.pytester.makeini(f"[pytest]\n{ASYNCIO_INI}braintrust_fail_under = pass=0.9\n")
    first = suite.run("--braintrust", "-p", "cacheprovider")
    assert first.ret == GATE_FAILED_EXIT_CODE
    rerun = suite.run("--braintrust", "-p", "cacheprovider", "--lf")
    rerun.stdout.fnmatch_lines(["braintrust_fail_under (in tox.ini) not applied: this run reran only the last failures (--lf)*"])
