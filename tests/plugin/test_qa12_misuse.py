"""Mistakes users make with the plugin's API, and what they get (QA round 12).

reliability.md: "Bad input gets a clear error that names the problem and the fix, and loses nothing".
"""

from __future__ import annotations

import pytest

SET_DATA = '''
from pytest_braintrust import eval_case

@eval_case(data={"alpha", "beta", "gamma", "delta", "eps", "zeta"})
def test_set(braintrust_case):
    pass

def frozen():
    return frozenset({"one", "two", "three", "four", "five"})

@eval_case(data=frozen)
def test_frozen(braintrust_case):
    pass
'''


def _collected(bt, seed: str) -> list[str]:
    bt.monkeypatch.setenv("PYTHONHASHSEED", seed)
    result = bt.run_subprocess("--collect-only", "-q", "-p", "no:xdist")
    assert result.ret == 0, result.stdout.str()
    return [line for line in result.outlines if "::" in line]


def test_set_data_is_collected_in_one_order_whatever_the_hash_seed(bt):
    """A set given as data= (or returned by a data callable) iterates in an order that changes with
    each process's hash seed: pytest-xdist workers then collect different tests and stop the run
    ("Different tests were collected between gw0 and gw1"). Its records come in a stable order."""
    bt.pytester.makepyfile(test_sets=SET_DATA)
    first, second = _collected(bt, "1"), _collected(bt, "2")
    assert first == second
    assert [i.split("[")[1].rstrip("]") for i in first if "test_set[" in i] == ["alpha", "beta", "delta", "eps", "gamma", "zeta"]
    assert len([i for i in first if "test_frozen[" in i]) == 5


def test_case_used_after_its_test_ended_is_an_error_not_a_lost_score(bt):
    """A ``braintrust_case`` kept past its test (a module global, a fixture of wider scope) and
    scored later: the case's row is already written, so the score is lost without a word."""
    bt.pytester.makepyfile(test_kept='''
        KEPT = []

        def test_first(braintrust_case):
            KEPT.append(braintrust_case)
            braintrust_case.log_output("first")

        def test_later():
            KEPT[0].score("late", 1)
    ''')
    result = bt.run("--braintrust", "-q")
    rows = {r["span_attributes"]["name"]: r for r in bt.rows() if r.get("span_attributes") and not r.get("span_parents")}
    assert "late" not in rows["test_first"]["scores"]  # (the row was written when test_first ended)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_first*ended*"])


def test_metadata_key_the_plugin_writes_is_refused_not_overwritten(bt):
    """``metadata={"pytest": ...}`` (or ``score_metadata`` / ``scorer_errors``): the plugin writes
    its own value under that key when the case ends, so the user's is replaced without a word."""
    bt.pytester.makepyfile(test_reserved='''
        from pytest_braintrust import eval_case

        @eval_case(input="q", metadata={"pytest": "the user's value"})
        def test_reserved():
            pass
    ''')
    result = bt.run("--braintrust", "-q")
    result.stdout.fnmatch_lines(["*metadata= key 'pytest' is written by the plugin*rename it*"])
    assert result.ret == 2  # refused at collection, naming the key


def test_metadata_key_the_plugin_writes_is_refused_when_logged_in_the_test(bt):
    """The same keys logged from the test (``log_metadata``, ``log(metadata=)``) fail it at its
    line, naming the key, and the case's other metadata is kept."""
    bt.pytester.makepyfile(test_logged='''
        def test_logged(braintrust_case):
            braintrust_case.log_metadata(mine=1)
            braintrust_case.log(metadata={"scorer_errors": "x"})
    ''')
    result = bt.run("--braintrust", "-q")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*metadata key 'scorer_errors' is written by the plugin*"])
    (root,) = [r for r in bt.rows() if r.get("span_attributes", {}).get("name") == "test_logged"]
    assert root["metadata"]["mine"] == 1 and "scorer_errors" not in root["metadata"]
