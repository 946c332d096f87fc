"""What ``log`` accepts and refuses (``braintrust.tracing.record.validate_event``, behind
``span.log``, ``logger.log``, ``experiment.log`` and the plugin's case): the same verdicts as the
public SDK 0.48.1's check (``_validate_and_sanitize_experiment_log_partial_args``, probed with
these events), but for two deliberate differences marked below."""

from __future__ import annotations

import dataclasses

import pydantic
import pytest

from braintrust.tracing.record import validate_event


@dataclasses.dataclass
class RunInfo:
    run: str
    n: int


class PydanticRunInfo(pydantic.BaseModel):
    run: str
    n: int = 2


ACCEPTED = [
    ({"inputs": {"q": 1}}, {"input": {"q": 1}}),  # the deprecated alias
    ({"metrics": {"tokens": True}}, {"metrics": {"tokens": True}}),  # a bool is a number there
    ({"metrics": {"tokens": None}}, {"metrics": {"tokens": None}}),  # (0.48.1 refuses a None metric: ours sends null)
    ({"scores": {"ok": True, "bad": False}}, {"scores": {"ok": 1, "bad": 0}}),
    ({"scores": {"x": None}}, {"scores": {"x": None}}),
    ({"metadata": RunInfo("a", 1)}, {"metadata": {"run": "a", "n": 1}}),
    ({"metadata": PydanticRunInfo(run="b")}, {"metadata": {"run": "b", "n": 2}}),
    ({"tags": ("a", "b")}, {"tags": ["a", "b"]}),
    ({"input": 1, "output": None}, {"input": 1}),  # None values are dropped
]

REFUSED = [
    ({"inputs": 1, "input": 2}, "either input or the deprecated inputs"),
    ({"metrics": [1]}, "metrics must be a dict of numbers"),
    ({"metrics": {1: 2}}, "metric names must be strings"),
    ({"metrics": {"tokens": "5"}}, "metric 'tokens' must be a number"),
    ({"scores": [0.5]}, "scores must be a dict"),  # (0.48.1: an AttributeError)
    ({"scores": {1: 0.5}}, "score names must be strings"),
    ({"scores": {"x": 1j}}, "must be a number in \\[0, 1\\] or None"),
    ({"scores": {"x": 1.5}}, "'x' must be between 0 and 1"),
    ({"scores": {"x": -0.1}}, "'x' must be between 0 and 1"),
    ({"scores": {"x": "0.5"}}, "must be a number in \\[0, 1\\] or None"),
    ({"scores": {"x": float("nan")}}, "'x' must be between 0 and 1"),  # (0.48.1 lets NaN through, sent as "NaN")
    ({"metadata": [1, 2]}, "metadata must be a dict"),
    ({"metadata": {1: "a"}}, "metadata keys must be strings"),
    ({"tags": "smoke"}, "write tags=\\['smoke'\\]"),
    ({"tags": ["a", "a"]}, "tags must be unique"),
    ({"tags": ["a", 1]}, "tags must be strings"),
    ({"tags": {"a": 1}}, "tags must be a list of unique strings"),
    ({"input": 1, "ouptut": 2}, "Unexpected log field\\(s\\) \\['ouptut'\\]"),
]


@pytest.mark.parametrize("event, cleaned", ACCEPTED, ids=[repr(e)[:50] for e, _ in ACCEPTED])
def test_accepted_events_are_cleaned(event, cleaned):
    assert validate_event(dict(event)) == cleaned


@pytest.mark.parametrize("event, message", REFUSED, ids=[repr(e)[:50] for e, _ in REFUSED])
def test_refused_events_name_the_field_and_the_rule(event, message):
    with pytest.raises(ValueError, match=message):
        validate_event(dict(event))


def test_a_scorers_result_given_as_a_score_says_to_pass_its_score():
    """``braintrust_case.score("x", Levenshtein()(...))``: the result object, not its number."""
    from braintrust.score import Score

    with pytest.raises(ValueError, match=r"score 'x' must be a number in \[0, 1\] or None, got Score\(.*pass its \.score"):
        validate_event({"scores": {"x": Score(name="x", score=0.5)}})
