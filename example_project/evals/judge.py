"""An LLM-as-a-judge scorer, built the way autoevals' LLMClassifier works: a prompt holding the
question and the reply, one model call (an `llm` span under the scorer's span), the letter the
model chose mapped to a score, and its reason kept in the score's metadata.

By default the judge model is a deterministic stand-in, so the suite runs offline and scores the
same every run. To grade with a real model, set JUDGE_MODEL to its name (with `openai` installed,
OPENAI_API_KEY set, and OPENAI_BASE_URL for another OpenAI-compatible server): the call goes
through `braintrust.wrap_openai`, which records it as an `llm` span in the same place.
"""

from __future__ import annotations

import functools
import os
import re

import braintrust
from braintrust import Score

PROMPT = """You are grading a customer-support bot's reply.

[Question]: {question}
[Reply]: {reply}

Does the reply answer the question the customer asked?
(A) Yes, it answers it.
(B) It hands the customer over to a human instead of answering.
(C) No, it answers a different question.

Answer with the letter of your choice, then one sentence saying why."""

CHOICE_SCORES = {"A": 1.0, "B": 0.5, "C": 0.0}

# What the stand-in model understands: the words that put a text on a support topic. It reads
# German too, which the bot does not, so it can tell a hand-off from an answer there.
TOPICS = {
    "refunds": ("refund", "money back", "reimburs", "rückerstattung"),
    "shipping": ("ship", "deliver", "package", "arrive", "tracking"),
    "the account": ("password", "log in", "login", "locked out", "account"),
    "the subscription": ("cancel", "subscription", "unsubscribe"),
    "opening hours": ("open", "hours", "sunday", "saturday", "monday"),
}


def topics(text: str) -> set[str]:
    text = text.lower()
    return {topic for topic, words in TOPICS.items() if any(word in text for word in words)}


def call_model(messages: list[dict]) -> str:
    """The judge's answer: from the model JUDGE_MODEL names, else from the offline stand-in."""
    model = os.environ.get("JUDGE_MODEL", "").strip()
    if not model:
        return stand_in_model(messages)
    response = openai_client(model).chat.completions.create(model=model, messages=messages, temperature=0)
    return response.choices[0].message.content or ""


@functools.cache
def openai_client(model: str):
    """One client for the run (made once: it reads its settings and certificates when made)."""
    try:
        from openai import OpenAI
    except ImportError:
        raise ImportError(f"JUDGE_MODEL={model} needs the openai package: pip install openai") from None
    return braintrust.wrap_openai(OpenAI())


@braintrust.traced(type="llm", name="judge model")
def stand_in_model(messages: list[dict]) -> str:
    """The stand-in model: reads the prompt's question and reply, answers with a letter and why."""
    braintrust.current_span().log(metadata={"model": "keyword-judge"})
    prompt = messages[-1]["content"]
    question = re.search(r"^\[Question\]: (.*)$", prompt, re.MULTILINE).group(1)
    reply = re.search(r"^\[Reply\]: (.*)$", prompt, re.MULTILINE).group(1)
    if "human agent" in reply.lower():
        return "B. The reply passes the question to a human agent."
    asked, answered = topics(question), topics(reply)
    if asked & answered:
        covered = ", ".join(sorted(asked & answered))
        return f"A. The customer asked about {', '.join(sorted(asked))}; the reply covers {covered}."
    return f"C. The customer asked about {', '.join(sorted(asked)) or 'something else'}; the reply does not cover it."


def answers_question(input, output):
    """1 when the judge finds that the reply answers the question, 0.5 for a hand-off to a
    human, 0 for an answer to another question."""
    prompt = PROMPT.format(question=input, reply=(output or {}).get("reply", ""))
    answer = call_model([{"role": "user", "content": prompt}])
    # (a real model may write "(A)" or "A." or "A:": the first letter, then the reason)
    chosen = re.match(r"\W*([A-Z])\b\W*(.*)", answer, re.DOTALL)
    if not chosen or chosen.group(1) not in CHOICE_SCORES:
        raise ValueError(f"the judge answered {answer!r}, which starts with none of {sorted(CHOICE_SCORES)}")
    choice = chosen.group(1)
    return Score(name="answers_question", score=CHOICE_SCORES[choice],
                 metadata={"choice": choice, "rationale": chosen.group(2).strip()})
