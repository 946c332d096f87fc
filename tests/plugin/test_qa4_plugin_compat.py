"""``pytest --braintrust`` beside the other pytest plugins users run (pytest-rerunfailures,
pytest-repeat, pytest-xdist's scheduling modes, pytester): every case once, the right outcome,
one experiment, and the exit status the summary announces."""

from __future__ import annotations

import pytest

FLAKY_SUITE = '''
import itertools
import pytest
from pytest_braintrust import eval_case

attempts = itertools.count(1)


def exact(output, expected):
    return output == expected


@eval_case(input="q", expected="A", scorers=[exact])
def test_flaky():
    assert next(attempts) > 1, "first attempt flaked"
    return "A"


@eval_case(input="r", expected="B", scorers=[exact])
def test_wrong():
    return "not B"
'''


def test_fail_on_flaky_keeps_the_gate_exit_status_the_summary_announces(bt):
    """pytest-rerunfailures' ``--fail-on-flaky`` turns a passing run with a rerun into exit 7
    in its own (trylast) session finish, after ours set 10 for a failed gate: the run printed
    "a quality gate failed; exit status 10" and exited 7. A failed gate wins, as it does over
    pytest's own 1."""
    bt.pytester.makepyfile(test_flaky_gate=FLAKY_SUITE)
    passing_gate = bt.run("--braintrust", "--reruns", "1", "--fail-on-flaky", "--braintrust-fail-under", "pass=0.5")
    assert passing_gate.ret == 7  # rerunfailures' own status stands when every gate passed
    passing_gate.stdout.fnmatch_lines(["gate PASSED: score 'pass'*"])

    failing_gate = bt.run("--braintrust", "--reruns", "1", "--fail-on-flaky", "--braintrust-fail-under", "exact=0.9")
    failing_gate.stdout.fnmatch_lines(["gate FAILED: score 'exact' is 50.00%*", "*a quality gate failed; exit status 10"])
    assert failing_gate.ret == 10


def test_only_rerun_counts_a_case_once_with_its_reruns(bt):
    """``--only-rerun`` reruns the matching failures only: the flaky case is one passed row
    with one rerun, and a failure that does not match is one failed row with none."""
    bt.pytester.makepyfile(
        test_only_rerun='''
        import itertools
        from pytest_braintrust import eval_case

        attempts = itertools.count(1)

        @eval_case(input="q")
        def test_transient():
            if next(attempts) == 1:
                raise ConnectionError("transient")

        @eval_case(input="r")
        def test_real_bug():
            assert False, "a real bug"
        '''
    )
    result = bt.run("--braintrust", "--reruns", "3", "--only-rerun", "ConnectionError")
    assert result.parseoutcomes() == {"passed": 1, "failed": 1, "rerun": 1}
    roots = bt.roots()
    assert set(roots) == {"test_transient", "test_real_bug"}
    transient, real = roots["test_transient"]["metadata"]["pytest"], roots["test_real_bug"]["metadata"]["pytest"]
    assert (transient["outcome"], transient.get("reruns")) == ("passed", 1)
    assert (real["outcome"], real.get("reruns")) == ("failed", None)
    result.stdout.fnmatch_lines(["2 eval cases: 1 passed, 1 failed"])


def test_repeat_scope_session_copies_are_trials_of_one_case(bt):
    """pytest-repeat's ``--repeat-scope session`` runs the whole suite N times in a row
    (another order than the default): the copies are still trials of one case each."""
    bt.pytester.makepyfile(
        test_repeat_session='''
        from pytest_braintrust import eval_case

        @eval_case(input="a")
        def test_one():
            return 1

        @eval_case(input="b")
        def test_two():
            return 2
        '''
    )
    result = bt.run("--braintrust", "--count", "3", "--repeat-scope", "session", "-v")
    result.assert_outcomes(passed=6)
    roots = bt.roots()
    assert len(roots) == 6
    for name in ("test_one", "test_two"):
        copies = [row["metadata"]["pytest"] for row_name, row in roots.items() if row_name.startswith(name + "[")]
        assert sorted(c["trial_index"] for c in copies) == [0, 1, 2]
        assert {c["case"] for c in copies} == {f"test_repeat_session.py::{name}"}


@pytest.mark.parametrize("dist", ["loadscope", "loadfile", "worksteal"])
def test_xdist_scheduling_modes_log_every_case_once_in_one_experiment(bt, dist):
    """pytest-xdist's other schedulers send whole modules/classes or steal work between
    workers: still one experiment, every case once, the controller's summary merged."""
    for module in ("a", "b"):
        bt.pytester.makepyfile(
            **{
                f"test_mod_{module}": f'''
                from pytest_braintrust import eval_case

                class TestGroup:
                    @eval_case(input="{module}1")
                    def test_first(self):
                        return 1

                    @eval_case(input="{module}2")
                    def test_second(self):
                        assert False, "wrong"
                '''
            }
        )
    result = bt.run_subprocess("--braintrust", "-n", "2", "--dist", dist)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["4 eval cases: 2 passed, 2 failed"])
    roots = [r["metadata"]["pytest"] for r in bt.rows() if r.get("span_attributes") and not r.get("span_parents")]
    assert sorted((p["nodeid"], p["outcome"]) for p in roots) == [
        (f"test_mod_{module}.py::TestGroup::{test}", outcome)
        for module in ("a", "b")
        for test, outcome in (("test_first", "passed"), ("test_second", "failed"))
    ]


PYTESTER_SUITE = '''
pytest_plugins = ["pytester"]

INNER = """
from pytest_braintrust import eval_case

@eval_case(input="inner")
def test_inner():
    return 1
"""


from pytest_braintrust import eval_case


@eval_case(input="runs a plugin's own acceptance test")
def test_plugin_under_test(pytester):
    # (Its spans are open while the inner run logs and flushes.)
    pytester.makepyfile(test_inner=INNER)
    result = pytester.runpytest("--braintrust", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


@eval_case(input="outer-before")
def test_outer_before():
    return 1


@eval_case(input="outer-after")
def test_outer_after():
    return 2
'''


def test_pytester_inside_a_braintrust_run_leaves_the_outer_rows_in_the_outer_store(bt):
    """A plugin's own tests run pytest in-process (``pytester.runpytest("--braintrust")``)
    inside a ``pytest --braintrust`` run. Each run's rows belong in its own rootdir's store: the
    outer run's summary names its store, and its experiment and cases must be there. (One
    run's rows went to the other's store: the processor is process-wide, and opens one store,
    in whichever rootdir is active when it first sends; the inner run's flush also sends the
    outer case's open spans.)"""
    # Two rootdirs, so two stores: the outer suite's folder (its ini file), and the inner run's
    # pytester folder, under a basetemp outside the outer rootdir with no ini file above it.
    outer = bt.path / "outer"
    outer.mkdir()
    (bt.path / "tox.ini").rename(outer / "tox.ini")
    (outer / "test_outer.py").write_text(PYTESTER_SUITE)
    bt.monkeypatch.delenv("BRAINTRUST_LOCAL_DIR")  # each run's store in its own rootdir
    result = bt.run_subprocess("--braintrust", "outer", f"--basetemp={bt.path / 'inner-runs'}")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["3 eval cases: 3 passed", f"*in the local store at {outer}/.braintrust/braintrust.sqlite*"])
    outer_store = outer / ".braintrust"
    inner_store = bt.path / "inner-runs" / "test_plugin_under_test0" / ".braintrust"
    assert _cases_by_experiment(outer_store) == [["test_outer_after", "test_outer_before", "test_plugin_under_test"]]
    assert _cases_by_experiment(inner_store) == [["test_inner"]]


def _cases_by_experiment(folder):
    """The root span names of each experiment in the local store in ``folder``."""
    from braintrust.store.sqlite_store import LocalStore

    if not (folder / "braintrust.sqlite").exists():
        return []
    found = []
    with LocalStore(folder / "braintrust.sqlite") as store:
        for experiment in store.list_experiments(None):
            rows, names, cursor = [], [], None
            while True:
                page, cursor = store.fetch_rows("experiment", experiment["id"], cursor=cursor)
                rows.extend(page)
                if not cursor:
                    break
            found.append(sorted(r["span_attributes"]["name"] for r in rows if r.get("span_attributes") and not r.get("span_parents")))
    return found
