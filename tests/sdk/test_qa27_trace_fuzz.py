"""Span parentage held to 0.48.1, from seeded differential fuzzing (random programs nesting spans
in every way the SDK allows, run under both SDKs against the loopback server, span trees compared).
Each test pins one difference the fuzzer found, with the rows 0.48.1 wrote for it."""

from __future__ import annotations

import pytest

import braintrust
from braintrust import start_span
from braintrust.logger import get_span_parent_object
from braintrust.span_identifier_v4 import SpanComponentsV4


def _parents_by_name(rows):
    ids = {row["span_id"]: row["span_attributes"]["name"] for row in rows}
    return {row["span_attributes"]["name"]: [ids.get(p, p) for p in row.get("span_parents") or []] for row in rows}


@pytest.mark.parametrize("parent", ["", {}, {"traceparent": "junk"}], ids=["empty-slug", "empty-headers", "bad-headers"])
def test_an_explicit_parent_without_a_span_overrides_parent_context(bt_logs, parent):
    # 0.48.1 reads parent_context only when no parent= is given: "" or headers naming no trace
    # start a root in the current logger, not a child of the context's span.
    logger = braintrust.init_logger(project="qa27-trace-fuzz")
    with logger.start_span(name="context") as context_span:
        slug = context_span.export()
    with braintrust.parent_context(slug):
        with start_span(name="explicit", parent=parent):
            pass
        with start_span(name="implicit"):
            pass
    rows = bt_logs.rows()
    parents = _parents_by_name(rows)
    assert parents["explicit"] == []
    assert parents["implicit"] == ["context"]
    explicit = next(row for row in rows if row["span_attributes"]["name"] == "explicit")
    assert explicit["span_attributes"]["type"] == "task"  # (a root of the logger, typed as its roots are)


def test_get_span_parent_object_given_an_empty_parent_ignores_parent_context(bt_logs):
    logger = braintrust.init_logger(project="qa27-trace-fuzz")
    with logger.start_span(name="context") as context_span:
        slug = context_span.export()
    with braintrust.parent_context(slug):
        assert get_span_parent_object("") is logger
        assert get_span_parent_object({}) is logger
        assert isinstance(get_span_parent_object(), SpanComponentsV4)
    assert get_span_parent_object("") is logger
