"""QA of a scorer's ``trace.get_spans()`` read back from Braintrust (the span cache off), against
0.48.1's behaviour (its ``LocalTrace`` over a ``CachedSpanFetcher``, as its ``test_trace.py``
specifies it, checked on 0.48.1 against the test server): the ``/btql`` filter carries the scorer
exclusion and the filters, and what was read is kept per span type, so a later call that it
answers sends nothing."""

from __future__ import annotations

import braintrust
from braintrust.framework import Eval

ROOT = {"op": "eq", "left": {"op": "ident", "name": ["root_span_id"]}, "right": {"op": "literal", "value": "<root>"}}
NOT_SCORERS = {"op": "or", "children": [
    {"op": "isnull", "expr": {"op": "ident", "name": ["span_attributes", "purpose"]}},
    {"op": "ne", "left": {"op": "ident", "name": ["span_attributes", "purpose"]}, "right": {"op": "literal", "value": "scorer"}},
]}


def _in(attribute, values):
    return {"op": "in", "left": {"op": "ident", "name": ["span_attributes", attribute]}, "right": {"op": "literal", "value": values}}


def _task(input):
    with braintrust.start_span(name="lookup", type="tool") as span:
        span.log(output=input, metadata={"k": 1})
    with braintrust.start_span(name="gen", type="llm") as span:
        span.log(output="x", metadata={"k": True})
    try:
        with braintrust.start_span(name="bad", type="function"):
            raise ValueError("down")
    except ValueError:
        pass
    return input


def _run(calls):
    """One trial whose scorer makes ``calls`` (get_spans keyword arguments); the span names each got."""
    seen = []

    async def reads(trace):
        for kwargs in calls:
            seen.append([(span.span_attributes or {}).get("name") for span in await trace.get_spans(**kwargs)])
        return 1

    Eval("trace-read-back", data=[{"input": 1}], task=_task, scores=[reads], enable_cache=False)
    return seen


def _filters(server):
    found = []
    for request in server.requests_to("/btql", "POST"):
        condition = request.json["query"]["filter"]
        condition["children"][0]["right"]["value"] = "<root>"
        found.append(condition["children"])
    return found


def test_read_back_is_kept_by_span_type_and_queries_only_what_it_lacks(bt_logs):
    """0.48.1: a type query reads only the types not read yet; once every span was read, any
    query (by type, error, ...) is answered from what was kept; scorer spans are asked for
    each time; ``span_type: []`` is no span, without a request."""
    seen = _run([
        {"span_type": ["llm"]},
        {"span_type": ["llm", "tool"]},
        {},
        {"span_type": ["tool"]},
        {"filters": {"has_error": True}},
        {"include_scorers": True, "filters": {"name": ["gen"]}},
        {"filters": {"span_type": []}},
    ])
    assert seen[:2] == [["gen"], ["gen", "lookup"]] and seen[3:] == [["lookup"], ["bad"], ["gen"], []]
    assert sorted(seen[2]) == ["bad", "eval", "gen", "lookup", "task"]  # (in the order the server answers)
    assert _filters(bt_logs.server) == [
        [ROOT, NOT_SCORERS, _in("type", ["llm"])],
        [ROOT, NOT_SCORERS, _in("type", ["tool"])],
        [ROOT, NOT_SCORERS],
        [ROOT, _in("name", ["gen"])],
    ]


def test_other_filters_go_to_btql_until_every_span_was_read(bt_logs):
    """Before a full read, a query on anything but the span type is sent each time with its
    clauses (not kept); metadata is checked again here, as 0.48.1 does, since BTQL may coerce
    ``True`` to ``1``."""
    seen = _run([
        {"filters": {"has_error": False, "span_type": ["tool", "llm"]}},
        {"filters": {"metadata": {"k": 1}}},
        {"filters": {"metadata": {"k": 1}}},
        {"filters": {"duration": {"min": 0}, "name": ["bad"]}},
    ])
    assert seen == [["lookup", "gen"], ["lookup"], ["lookup"], ["bad"]]
    elapsed = {"op": "sub", "left": {"op": "ident", "name": ["metrics", "end"]}, "right": {"op": "ident", "name": ["metrics", "start"]}}
    metadata = {"op": "eq", "left": {"op": "ident", "name": ["metadata", "k"]}, "right": {"op": "literal", "value": 1}}
    assert _filters(bt_logs.server) == [
        [ROOT, NOT_SCORERS, _in("type", ["tool", "llm"]), {"op": "isnull", "expr": {"op": "ident", "name": ["error"]}}],
        [ROOT, NOT_SCORERS, metadata],
        [ROOT, NOT_SCORERS, metadata],
        [ROOT, NOT_SCORERS, _in("name", ["bad"]), {"op": "ge", "left": elapsed, "right": {"op": "literal", "value": 0}}],
    ]


def test_the_local_store_answers_the_same_calls_the_same():
    """No API key: the same calls, the same spans (read from the store, filtered here)."""
    seen = _run([
        {"span_type": ["llm"]},
        {"span_type": ["llm", "tool"]},
        {"filters": {"metadata": {"k": 1}}},
        {"filters": {"span_type": []}},
        {"include_scorers": True, "filters": {"span_type": ["score"]}},
    ])
    assert seen == [["gen"], ["gen", "lookup"], ["lookup"], [], ["reads"]]
