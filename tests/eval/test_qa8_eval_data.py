"""``Eval(data=...)`` case fields held to 0.48.1's behaviour, found by running the same scripts
with the public SDK and ours against the test server (local store here)."""

from __future__ import annotations

import pytest

from braintrust.framework import Eval, EvalCase
from eval_support import exact, roots, stored_rows

NO_ROWS_WARNING = "Warning: no data rows found for evaluator"


def identity(input):
    return input


def test_case_trial_count_zero_runs_no_trial_of_that_case():
    # 0.48.1 runs range(case.trial_count) when the case has one: 0 skips the case, whatever
    # Eval's trial_count is; a negative count, too.
    data = [EvalCase(input=1, expected=1, trial_count=0), {"input": 2, "expected": 2, "trial_count": -1}, {"input": 3, "expected": 3}]

    result = Eval("qa8", data=data, task=identity, scores=[exact], trial_count=2)

    assert sorted(r.input for r in result.results) == [3, 3]
    assert sorted(row["input"] for row in roots(stored_rows(result))) == [3, 3]


def test_no_trial_at_all_warns_that_the_experiment_is_empty(capsys):
    data = [{"input": 1, "trial_count": 0}]

    result = Eval("qa8", data=data, task=identity, scores=[exact])

    assert result.results == []
    assert NO_ROWS_WARNING in capsys.readouterr().err


def test_case_trial_count_none_uses_evals():
    result = Eval("qa8", data=[{"input": 1, "expected": 1, "trial_count": None}], task=identity, scores=[exact], trial_count=3)

    assert [r.input for r in result.results] == [1, 1, 1]


def test_case_trial_count_that_is_not_an_integer_is_a_clear_error():
    with pytest.raises(TypeError, match=r"trial_count must be an integer or None, got '2'.*input 1"):
        Eval("qa8", data=[{"input": 1, "trial_count": "2"}], task=identity, scores=[exact])
