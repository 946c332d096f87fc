"""Span types (``span_attributes.type``); also importable as ``braintrust.span_types``."""

from __future__ import annotations

from enum import Enum


class SpanTypeAttribute(str, Enum):
    LLM = "llm"
    SCORE = "score"
    FUNCTION = "function"
    EVAL = "eval"
    TASK = "task"
    TOOL = "tool"
    AUTOMATION = "automation"
    FACET = "facet"
    PREPROCESSOR = "preprocessor"
    CLASSIFIER = "classifier"
    REVIEW = "review"
    DECISION = "decision"
    QUESTION = "question"
    LOG = "log"


class SpanPurpose(str, Enum):
    """``span_attributes.purpose``: what a span is for (a scorer's span: ``scorer``)."""

    SCORER = "scorer"


def span_type_value(value: "SpanTypeAttribute | str | None") -> str | None:
    if value is None:
        return None
    if isinstance(value, SpanTypeAttribute):
        return value.value
    return str(value)
