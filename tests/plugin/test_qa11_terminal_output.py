"""What the plugin prints at pytest's verbosity and summary settings: the ``Braintrust`` section
is set off as pytest's own sections are, where the results went always shows (the header saying
so is gone under ``-q``), and a run without pytest's terminal reporter (``-p no:terminal``)
still tells why it exits 10."""

from __future__ import annotations

import pytest

SUITE = '''
from pytest_braintrust import eval_case


@eval_case(input="a", expected="a")
def test_right(braintrust_case):
    braintrust_case.log_output("a")
    braintrust_case.score("exact", 1.0)


@eval_case(input="b", expected="b")
def test_wrong(braintrust_case):
    braintrust_case.log_output("c")
    braintrust_case.score("exact", 0.0)
'''

@pytest.fixture
def suite(bt):
    bt.pytester.makepyfile(test_suite_terminal=SUITE)
    return bt


def _section(out: str) -> list[str]:
    lines = out.splitlines()
    (start,) = [i for i, line in enumerate(lines) if "= Braintrust =" in line]
    return lines[start - 1:start + 2]


@pytest.mark.parametrize("args", [(), ("-q",), ("--no-summary",), ("-s",), ("-rA", "--tb=no"), ("-v", "--no-header")])
def test_the_section_is_set_off_as_pytests_own_are(suite, args):
    """Its title line follows the progress line's end (a blank line at default verbosity, none
    under ``-q``, as before pytest's ``warnings summary``), and the counts follow the title: there
    was no blank line before the title and a stray one after it."""
    result = suite.run("--braintrust", "-p", "no:warnings", *args)
    before, title, after = _section(result.stdout.str())
    assert title.startswith("=") and after == "2 eval cases: 2 passed", result.stdout.str()
    quiet = "-q" in args
    assert (before == "") is not quiet, result.stdout.str()
    assert result.ret == 0


def test_no_summary_still_says_where_the_results_went(suite):
    """``--braintrust-no-summary`` leaves out the scores; with ``-q`` (no header line) nothing
    else said where the experiment is."""
    result = suite.run("--braintrust", "-q", "--braintrust-no-summary", "--braintrust-experiment", "quiet-run")
    out = result.stdout.str()
    assert "SUMMARY" not in out and "'exact' score" not in out, out
    result.stdout.fnmatch_lines(["See results for quiet-run in the local store at *braintrust.sqlite (run `braintrust show * quiet-run`)"])


def test_no_summary_still_links_the_experiment_on_braintrust(bt_api):
    bt_api.pytester.makepyfile(test_suite_terminal=SUITE)
    result = bt_api.run("--braintrust", "-q", "--braintrust-no-summary", "--braintrust-experiment", "linked")
    assert "SUMMARY" not in result.stdout.str(), result.stdout.str()
    result.stdout.fnmatch_lines([f"See results for linked at {bt_api.server.url}/*"])


# (pytester sets PY_COLORS=0, which would decide alone)
@pytest.mark.parametrize("env, colored", [({"PY_COLORS": "", "NO_COLOR": "1", "FORCE_COLOR": "1"}, False),
                                          ({"PY_COLORS": "", "FORCE_COLOR": "1"}, True)])
def test_without_the_terminal_reporter_the_section_goes_to_stderr(suite, env, colored):
    """Under ``-p no:terminal`` (``report.summary_without_terminal``): the gate that failed, the
    rows and where the results went, once, on stderr, coloured as pytest colours."""
    result = suite.run_subprocess("--braintrust", "-p", "no:terminal", "-p", "no:asyncio",
                                  "--braintrust-fail-under", "exact=0.9", env=env)
    assert result.ret == 10, result.stderr.str()
    err = result.stderr.str()
    result.stderr.fnmatch_lines([
        "*= Braintrust =*",
        "2 eval cases: 2 passed",
        "See results for * in the local store at *",
        "*gate FAILED: score 'exact' is 50.00%, which is below the bar of 90.00%*",
        "rows: 4 sent, 0 spilled, 0 dropped*",
        "*braintrust: a quality gate failed; exit status 10*",
    ])
    assert ("\x1b[" in err) is colored, err
    assert err.count("= Braintrust =") == 1, err
    assert "Braintrust" not in result.stdout.str()


def test_without_the_terminal_reporter_a_failed_gate_is_told(suite):
    """``-p no:terminal``: pytest prints nothing, and the run exited 10 without a word of why."""
    result = suite.run_subprocess("--braintrust", "-p", "no:terminal", "-p", "no:asyncio",
                                  "--braintrust-fail-under", "exact=0.9")
    assert result.ret == 10, result.stderr.str()
    result.stderr.fnmatch_lines(["*gate FAILED: score 'exact'*", "*a quality gate failed; exit status 10*"])
