"""The bot itself. The "model" is deterministic (keyword matching), so the suite runs offline
and gives the same scores every run; each step is traced, so its spans nest under the case."""

from __future__ import annotations

import braintrust

from support_bot.knowledge import ANSWERS, INTENT_KEYWORDS


@braintrust.traced(type="llm")
def classify(question: str) -> str:
    text = question.lower()
    # A model call costs tokens whatever it answers: logged on this `llm` span, summed per case.
    braintrust.current_span().log(metrics={"prompt_tokens": len(text.split()), "completion_tokens": 1})
    for intent, keywords in INTENT_KEYWORDS.items():
        if any(keyword in text for keyword in keywords):
            return intent
    return "unknown"


@braintrust.traced
def answer(question: str) -> dict:
    intent = classify(question)
    return {"intent": intent, "reply": ANSWERS[intent]}
