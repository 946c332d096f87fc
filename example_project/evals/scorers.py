"""Scorers for the support bot: plain functions with Eval's calling convention."""

from __future__ import annotations


def intent(output, expected):
    """1 when the bot recognised the intent the case expects."""
    return 1.0 if output and output.get("intent") == expected.get("intent") else 0.0


def helpfulness(output, expected):
    """The share of the expected key phrases that the reply contains."""
    phrases = expected.get("mentions") or []
    if not phrases:
        return None  # nothing to check: skipped, not counted
    reply = (output or {}).get("reply", "").lower()
    return sum(phrase.lower() in reply for phrase in phrases) / len(phrases)


def concise(output):
    """Replies of up to 20 words score 1, longer ones less."""
    words = len((output or {}).get("reply", "").split())
    return 1.0 if words <= 20 else max(0.0, 1 - (words - 20) / 20)
