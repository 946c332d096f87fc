"""Hand-written cases: ambiguous and out-of-scope questions."""

import pytest
from pytest_braintrust import eval_case
from scorers import intent

from support_bot import answer


@eval_case(input="What's the weather like?", expected={"intent": "unknown"}, scorers=[intent])
def test_out_of_scope_question_is_handed_to_a_human(braintrust_case):
    reply = answer(braintrust_case.input)
    assert "human" in reply["reply"]
    return reply  # the return value is the case's output


@eval_case(scorers=[intent], metadata={"kind": "ambiguous"})
@pytest.mark.parametrize(
    "question, expected",
    [
        ("My delivery never arrived, I want a refund", {"intent": "refund"}),
        ("Cancel the order and refund me", {"intent": "refund"}),
    ],
    ids=["late-delivery-refund", "cancel-and-refund"],
)
def test_ambiguous_questions_pick_the_customers_goal(braintrust_case, question, expected):
    # A parameter named `expected` is the case's expected value; the others are its input.
    reply = answer(question)
    braintrust_case.log_output(reply)
    assert reply["intent"] == expected["intent"]


def test_every_intent_has_an_answer():
    """An ordinary unit test: runs, but is not an eval case."""
    from support_bot.knowledge import ANSWERS, INTENT_KEYWORDS

    assert set(INTENT_KEYWORDS) <= set(ANSWERS)
