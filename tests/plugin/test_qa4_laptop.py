"""QA of the plugin at a laptop: pytest's own rerun options (``--sw``, ``--lf``) with the
Braintrust summary, gates and notes, and the ``braintrust`` commands a person runs next."""

from __future__ import annotations

import pytest

from braintrust.gates import GATE_FAILED_EXIT_CODE

STEPWISE_SUITE = '''
import os
from pytest_braintrust import eval_case

@eval_case()
def test_a(braintrust_case):
    braintrust_case.score("quality", 0.2)
    assert os.environ.get("FIXED")

@eval_case()
def test_b(braintrust_case):
    braintrust_case.score("quality", 0.2)
'''


TWO_CASES = '''
from pytest_braintrust import eval_case

@eval_case(input="a")
def test_a(braintrust_case):
    braintrust_case.score("quality", 1.0)

@eval_case(input="b")
def test_b(braintrust_case):
    braintrust_case.score("quality", 0.5)
'''


def _with_cache(bt, *args: str) -> pytest.RunResult:
    """An in-process run with pytest's cache plugin (which ``--sw`` and ``--lf`` need, and the
    other runs turn off)."""
    from braintrust.delivery.runtime import reset_for_tests

    reset_for_tests()
    try:
        return bt.pytester.runpytest("-p", "no:hypothesispytest", "-p", "no:benchmark", "--braintrust", *args)
    finally:
        reset_for_tests()


def test_a_stepwise_run_that_resumes_at_the_first_test_is_judged_as_the_whole_suite(bt, monkeypatch):
    """``--sw`` after the suite's first test failed resumes at that test, "skipping 0 already
    passed items": every case runs, yet --braintrust-fail-under was not applied ("resumed at the
    last failure, leaving out the tests that passed before it") and the run passed at 20%."""
    bt.pytester.makepyfile(test_suite_sw0=STEPWISE_SUITE)
    gate = ("--braintrust-fail-under", "quality=0.5")
    assert _with_cache(bt, "--sw", *gate).ret == pytest.ExitCode.INTERRUPTED  # (stopped at test_a)
    monkeypatch.setenv("FIXED", "1")
    resumed = _with_cache(bt, "--sw", *gate)
    text = resumed.stdout.str()
    resumed.stdout.fnmatch_lines(["*skipping 0 already passed items*", "2 eval cases: 2 passed"])
    assert "not applied" not in text
    resumed.stdout.fnmatch_lines(["gate FAILED: score 'quality' is 20.00%, which is below the bar of 50.00%"])
    assert resumed.ret == GATE_FAILED_EXIT_CODE, text


@pytest.mark.parametrize("option", ["--lf", "--sw"])
def test_a_rerun_option_that_ran_the_whole_suite_is_not_called_a_partial_selection(bt_api, option):
    """With a key, a run that selected part of the suite gets a note that Braintrust compares it
    with a whole experiment. ``--lf`` with no failure on record (and ``--sw`` with none to resume
    at) runs every test, as pytest says ("not deselecting" / "not skipping"): the note said the run
    "selected part of the suite (--lf)" all the same."""
    bt_api.pytester.makepyfile(test_suite_whole=TWO_CASES)
    first = _with_cache(bt_api, option)
    assert first.ret == pytest.ExitCode.OK, first.stdout.str()
    second = _with_cache(bt_api, option)
    text = second.stdout.str()
    assert second.ret == pytest.ExitCode.OK, text
    second.stdout.fnmatch_lines(["2 eval cases: 2 passed", "* compared to *"])
    assert "selected part of the suite" not in text


def test_a_lf_rerun_of_failures_still_gets_the_partial_selection_note(bt_api, monkeypatch):
    """The other side of the test above: a ``--lf`` run that reran just the last failure does get the note."""
    bt_api.pytester.makepyfile(test_suite_lf=STEPWISE_SUITE.replace("@eval_case()", "@eval_case(input='x')", 1))
    assert _with_cache(bt_api).ret == pytest.ExitCode.TESTS_FAILED
    monkeypatch.setenv("FIXED", "1")
    rerun = _with_cache(bt_api, "--lf")
    assert rerun.ret == pytest.ExitCode.OK, rerun.stdout.str()
    rerun.stdout.fnmatch_lines(["1 eval case: 1 passed", "note: this run selected part of the suite (--lf); *"])


def test_the_gate_command_suggested_for_an_experiment_of_another_project_runs_as_printed(bt):
    """``braintrust gate PROJECT ID`` with the id of another project's experiment names the
    command to run instead; with a project name holding a space (as Braintrust's often do) it was
    printed unquoted, ``braintrust gate my evals <id>``, which names no project when run."""
    import os
    import shlex
    import subprocess
    import sys

    bt.pytester.makepyfile(test_suite_gate='''
from pytest_braintrust import eval_case

@eval_case(input="a")
def test_a(braintrust_case):
    braintrust_case.score("quality", 1.0)
''')
    assert bt.run("--braintrust", "--braintrust-project", "my evals").ret == pytest.ExitCode.OK
    (experiment,) = bt.experiments("my evals")
    env = {k: v for k, v in os.environ.items() if k != "BRAINTRUST_API_KEY"}

    def gate(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "braintrust", "gate", *args], cwd=bt.path, env=env,
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    wrong = gate("evals", experiment["id"], "--fail-under", "quality=0.5")
    assert wrong.returncode == 1, wrong.stderr
    suggested = wrong.stderr.split("name that project: ", 1)[1].strip()
    words = shlex.split(suggested)
    assert words[:2] == ["braintrust", "gate"]
    right = gate(*words[2:], "--fail-under", "quality=0.5")
    assert right.returncode == 0, right.stdout + right.stderr
    assert "gate PASSED: score 'quality' is 100.00%" in right.stdout


def test_a_k_run_of_one_of_two_tests_over_one_dataset_is_compared_with_that_test(bt):
    """Two tests over one dataset (accuracy and tone, a common layout) log the same inputs. A
    ``-k tone`` run after the full run was compared with each input's mean over BOTH tests
    ("'pass' improved in 1 case", +25%, though nothing changed); and a ``-k accuracy`` run after
    it took the tone run for "the last run of the same cases" (same inputs), so an unchanged
    rerun "regressed" by 50% and --braintrust-max-regression failed it with exit 10."""
    bt.pytester.makepyfile(test_suite_two='''
from pytest_braintrust import eval_case

DATA = [{"input": "q1", "expected": "a1"}, {"input": "q2", "expected": "a2"}]

@eval_case(data=DATA)
def test_accuracy(braintrust_case):
    assert braintrust_case.input == "q1"

@eval_case(data=DATA)
def test_tone(braintrust_case):
    pass
''')
    gate = ("--braintrust", "--braintrust-max-regression", "pass=0")
    full = bt.run(*gate)
    assert full.ret == pytest.ExitCode.TESTS_FAILED, full.stdout.str()
    full_name = bt.experiments()[-1]["name"]
    tone = bt.run(*gate, "-k", "tone")
    text = tone.stdout.str()
    assert tone.ret == pytest.ExitCode.OK, text
    tone.stdout.fnmatch_lines([f"* compared to {full_name}:", "100.00% (-) 'pass' score\t(0 improvements, 0 regressions)"])
    assert "improved" not in text
    tone_name = bt.experiments()[-1]["name"]
    accuracy = bt.run(*gate, "-k", "accuracy")
    text = accuracy.stdout.str()
    assert accuracy.ret == pytest.ExitCode.TESTS_FAILED, text  # (its own failure, not a gate's 10)
    assert f"compared to {tone_name}" not in text
    accuracy.stdout.fnmatch_lines([f"* compared to {full_name}:", "50.00% (-) 'pass' score\t(0 improvements, 0 regressions)",
                                   "gate PASSED: *"])
    assert "regressed" not in text


def test_a_renamed_test_is_still_compared_by_its_inputs(bt):
    """The other side of the test above: when no test ran an input on both sides (the test was
    renamed), its traces are still compared by input, as Braintrust compares them."""
    bt.pytester.makepyfile(test_suite_renamed='''
import os
import pytest
from pytest_braintrust import eval_case

def body(braintrust_case):
    assert braintrust_case.input == "q1"

globals()[os.environ.get("TEST_NAME", "test_old")] = eval_case(data=["q1", "q2"])(body)
''')
    assert bt.run("--braintrust").ret == pytest.ExitCode.TESTS_FAILED
    bt.monkeypatch.setenv("TEST_NAME", "test_new")
    renamed = bt.run("--braintrust")
    assert renamed.ret == pytest.ExitCode.TESTS_FAILED, renamed.stdout.str()
    renamed.stdout.fnmatch_lines(["* compared to *", "50.00% (-) 'pass' score\t(0 improvements, 0 regressions)"])


def test_a_regression_in_an_input_two_tests_ran_does_not_blame_the_test_that_did_not_change(bt, monkeypatch):
    """Two tests over one dataset: comparisons group each input's traces (both tests'), and a
    regressed group is named by its test only when that name is the group's own. The group of an
    input both tests ran was named after whichever trace came first: test_tone[q2] failed and the
    summary said "'pass' regressed in 1 case: test_accuracy[q2]". It is named by its input."""
    bt.pytester.makepyfile(test_suite_blame='''
import os
from pytest_braintrust import eval_case

DATA = [{"input": "q1", "expected": "a1"}, {"input": "q2", "expected": "a2"}]

@eval_case(data=DATA)
def test_accuracy(braintrust_case):
    pass

@eval_case(data=DATA)
def test_tone(braintrust_case):
    assert not (os.environ.get("BREAK") and braintrust_case.input == "q2")
''')
    assert bt.run("--braintrust").ret == pytest.ExitCode.OK
    monkeypatch.setenv("BREAK", "1")
    broken = bt.run("--braintrust", "--braintrust-json=summary.json")
    text = broken.stdout.str()
    assert broken.ret == pytest.ExitCode.TESTS_FAILED, text
    assert "test_accuracy[q2]" not in text
    broken.stdout.fnmatch_lines(["'pass' regressed in 1 case: input \"q2\""])
    import json

    (entry,) = json.loads((bt.path / "summary.json").read_text())["experiments"]
    assert entry["scores"]["pass"]["regressed_cases"] == ['input "q2"']


TWO_CASES_AND_A_PLAIN_TEST = TWO_CASES + '''
def test_plain():
    pass
'''


@pytest.mark.parametrize("selection", [("-m", "braintrust"), ("-k", "not test_plain")])
def test_a_selection_that_left_out_only_plain_tests_is_not_called_a_partial_selection(bt_api, selection):
    """``-m braintrust`` (README: "runs exactly the cases") leaves out only tests that are not
    eval cases, so every case of the experiment ran; with a key the summary still said "this run
    selected part of the suite (-m 'braintrust'); ... its diffs may count cases this run did not run"."""
    bt_api.pytester.makepyfile(test_suite_mixed=TWO_CASES_AND_A_PLAIN_TEST)
    assert bt_api.run("--braintrust").ret == pytest.ExitCode.OK
    selected = bt_api.run("--braintrust", *selection)
    text = selected.stdout.str()
    assert selected.ret == pytest.ExitCode.OK, text
    selected.stdout.fnmatch_lines(["2 eval cases: 2 passed", "* compared to *"])
    assert "selected part of the suite" not in text
    partial = bt_api.run("--braintrust", "-k", "test_a")  # (a case left out: the note stays)
    partial.stdout.fnmatch_lines(["note: this run selected part of the suite (-k 'test_a'); *"])


def test_under_xdist_a_selection_that_left_out_only_plain_tests_is_not_called_partial(bt_api):
    """The same under pytest-xdist: the workers say how many eval cases they deselected (the
    controller collects nothing), so ``-m braintrust`` draws no note there either."""
    bt_api.pytester.makepyfile(test_suite_mixed_xdist=TWO_CASES_AND_A_PLAIN_TEST)
    assert bt_api.run("--braintrust").ret == pytest.ExitCode.OK
    selected = bt_api.run_subprocess("--braintrust", "-n", "2", "-m", "braintrust")
    assert selected.ret == pytest.ExitCode.OK, selected.stdout.str()
    selected.stdout.fnmatch_lines(["* compared to *"])
    assert "selected part of the suite" not in selected.stdout.str()
    partial = bt_api.run_subprocess("--braintrust", "-n", "2", "-k", "not test_b")
    partial.stdout.fnmatch_lines(["note: this run selected part of the suite (-k *"])


def test_the_show_command_printed_for_a_project_named_like_an_option_runs_as_printed(bt):
    """The summary's ``braintrust show PROJECT EXPERIMENT`` for a project whose name starts with
    ``-``: printed bare, argparse read the name as an option and the command failed."""
    import os
    import re
    import shlex
    import subprocess
    import sys

    bt.pytester.makepyfile(test_suite_dash='''
from pytest_braintrust import eval_case

@eval_case(input="a")
def test_a():
    return "out"
''')
    result = bt.run("--braintrust", "--braintrust-project=-dash")
    assert result.ret == pytest.ExitCode.OK
    printed = re.search(r"\(run `(braintrust show [^`]+)`\)", result.stdout.str()).group(1)
    assert " -- " in printed
    env = {k: v for k, v in os.environ.items() if k != "BRAINTRUST_API_KEY"}
    shown = subprocess.run([sys.executable, "-m", "braintrust", *shlex.split(printed)[1:]], cwd=bt.path, env=env,
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "(project -dash)" in shown.stdout
