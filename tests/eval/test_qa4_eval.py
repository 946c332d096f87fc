"""Eval scorers' return values and results held to 0.48.1's behaviour (found by running the same
scripts under both SDKs against the test server): a score whose metadata is None, and a ``Score``
made with the deprecated ``error=``."""

from __future__ import annotations

import warnings

import pytest

from braintrust import Eval, Score
from eval_support import stored_rows, trace_of


def test_a_score_whose_metadata_is_none_logs_it_as_0_48_1_does():
    """0.48.1 logs a single score's metadata as given (None: no metadata on the span) and several
    scores' metadata by name, None included; ours logged {} for each."""

    def one(output):
        return Score(name="one", score=1, metadata=None)

    def as_dict(output):
        return {"name": "as_dict", "score": 0.5, "metadata": None}

    def without_metadata(output):
        return {"score": 0.5}

    def several(output):
        return [Score(name="m1", score=1, metadata=None), {"name": "m2", "score": 0, "metadata": {"x": 1}}]

    result = Eval("qa4-score-metadata", data=[{"input": "a"}], task=lambda input: input,
                  scores=[one, as_dict, without_metadata, several])
    assert result.results[0].scores == {"one": 1, "as_dict": 0.5, "without_metadata": 0.5, "m1": 1, "m2": 0}
    _, spans = trace_of(stored_rows(result), "a")
    assert "metadata" not in spans["one"] and spans["one"]["scores"] == {"one": 1}
    assert "metadata" not in spans["as_dict"]
    assert spans["without_metadata"]["metadata"] == {}  # (no key: the default {}, sent as {} there too)
    assert spans["several"]["metadata"] == {"m1": None, "m2": {"x": 1}}


def test_a_score_keeps_metadata_none_as_given():
    score = Score(name="a", score=0.5, metadata=None)
    assert score.metadata is None and score.as_dict() == {"name": "a", "score": 0.5, "metadata": None}
    assert Score(name="b", score=0.5).metadata == {}


def test_a_score_made_with_the_deprecated_error_field_warns():
    with pytest.warns(UserWarning, match="The error field is deprecated"):
        score = Score(name="a", score=0, error=ValueError("x"))
    assert "error" not in score.as_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Score(name="b", score=1)  # (no error: no warning)


def _failing_task(input):
    raise ValueError("task failed")


def test_error_score_handler_is_not_called_when_no_scorer_is_left_unscored():
    """0.48.1 calls the handler only for scorers left without a score: with ``scores=[]`` a failing
    task leaves none (ours called it with [] and kept what it returned)."""
    calls = []

    def handler(root_span, case, unhandled):
        calls.append(list(unhandled))
        return {"fallback": 0}

    result = Eval("qa4-handler", data=[{"input": "a"}], task=_failing_task, scores=[], error_score_handler=handler)
    assert calls == [] and result.results[0].scores == {}
    assert isinstance(result.results[0].error, ValueError)

    result = Eval("qa4-handler", data=[{"input": "b"}], task=_failing_task, scores=[lambda output: 1], error_score_handler=handler)
    assert calls == [["scorer_0"]] and result.results[0].scores == {"fallback": 0}


def test_a_failing_error_score_handler_prints_the_public_sdks_line(capsys):
    def broken(root_span, case, unhandled):
        raise RuntimeError("handler broke")

    result = Eval("qa4-handler", data=[{"input": "a"}], task=_failing_task, scores=[lambda output: 1], error_score_handler=broken)
    assert result.results[0].scores == {}
    assert "Error score handler failed for scorers: scorer_0 handler broke\n" in capsys.readouterr().err


def test_results_have_the_public_sdks_fields_and_keep_their_trial_index():
    """0.48.1's ``EvalResult`` has ten fields: ``dataclasses.asdict`` (a DataFrame's columns) and
    ``fields`` showed an eleventh, ``trial_index``, which stays readable as an attribute."""
    import dataclasses

    result = Eval("qa4-fields", data=[{"input": 1}], task=lambda input: input, scores=[lambda output: 1], trial_count=2)
    names = ["input", "output", "scores", "classifications", "expected", "metadata", "tags", "error", "exc_info", "origin"]
    assert [f.name for f in dataclasses.fields(result.results[0])] == names
    assert all(list(dataclasses.asdict(r)) == names for r in result.results)
    assert sorted(r.trial_index for r in result.results) == [0, 1]


def test_a_scorer_object_whose_call_is_async_is_awaited():
    """README, "Accepted here, refused there": 0.48.1 calls such an object without awaiting it
    (each case's scorer fails comparing a coroutine); here it is awaited and its score logged."""

    class Closeness:
        name = "closeness"

        async def __call__(self, input, output, expected=None):
            return Score(name="closeness", score=1.0 if output == expected else 0.25)

    result = Eval("qa4-async-call-scorer", data=[{"input": "a", "expected": "a"}, {"input": "b", "expected": "c"}],
                  task=lambda input: input, scores=[Closeness()])
    assert [case.scores for case in result.results] == [{"closeness": 1.0}, {"closeness": 0.25}]
    assert all(case.error is None for case in result.results)
