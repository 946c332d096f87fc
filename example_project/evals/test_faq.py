"""The FAQ dataset: one eval case per line of data/faq.jsonl, scored by three plain scorers and
an LLM-style judge (judge.py)."""

from pytest_braintrust import eval_case
from judge import answers_question
from scorers import concise, helpfulness, intent

from support_bot import answer


@eval_case(data="data/faq.jsonl", scorers=[intent, helpfulness, concise, answers_question], tags=["faq"])
def test_faq(braintrust_case):
    reply = answer(braintrust_case.input)
    braintrust_case.log_output(reply)
    braintrust_case.check("has_reply", reply["reply"])
    assert reply["intent"] == braintrust_case.expected["intent"]
