"""W3C trace context, part two: extract_trace_context (headers in any case, other headers left
out, invalid ones), a span continuing the trace passing on the traceparent's flags and the
tracestate (its children too; the carrier's own tracestate replaced, its other baggage kept),
inject_trace_context (current span, a given span, none), parent_context with trace context
(valid: spans continue the trace, in the baggage's object or the current experiment; invalid:
nothing changes), get_span_parent_object with trace context."""
import braintrust


def trace_of(headers):
    """The stable part of injected headers: the trace, the flags, tracestate, baggage."""
    version, trace, _span, flags = headers["traceparent"].split("-")
    return {**{k: v for k, v in headers.items() if k != "traceparent"}, "trace": trace, "flags": flags}


TRACE = "0af7651916cd43dd8448eb211c80319c"
logger = braintrust.init_logger(project="recorder-trace-context")
incoming = {"TraceParent": f"00-{TRACE}-b7ad6b7169203331-00", "tracestate": "vendor=abc",
            "Baggage": "braintrust.parent=project_name%3Arecorder-trace-context,k=v", "x-request-id": "r1"}
ctx = braintrust.extract_trace_context(incoming)
print("extracted:", ctx)
print("invalid:", braintrust.extract_trace_context({"traceparent": "garbage"}), braintrust.extract_trace_context({}))

with braintrust.start_span(name="handler", parent=ctx) as span:
    print("handler:", span.root_span_id == TRACE, span.span_parents, trace_of(span.inject()))
    with span.start_span(name="child") as child:
        print("child:", trace_of(child.inject({"tracestate": "mine=1", "baggage": "k=v"})))
    with braintrust.start_span(name="implicit child") as implicit:
        print("implicit child:", trace_of(implicit.inject()))
    print("free inject:", trace_of(braintrust.inject_trace_context({"a": "b"})))
    print("free inject, given span:", trace_of(braintrust.inject_trace_context(span=span)))
print("free inject, no span:", braintrust.inject_trace_context())
with braintrust.start_span(name="fresh") as fresh:
    print("fresh:", fresh.root_span_id != TRACE, trace_of(fresh.inject())["flags"])

with braintrust.parent_context(ctx):
    with braintrust.start_span(name="under parent_context") as under:
        print("parent_context:", under.root_span_id == TRACE, under.span_parents)
    found = braintrust.get_span_parent_object()
    print("parent object:", type(found).__name__, found.object_type, found.compute_object_metadata_args,
          found.span_id, found.root_span_id == TRACE, found.row_id)
with braintrust.parent_context({"traceparent": "garbage"}):
    with braintrust.start_span(name="bad parent_context") as bad:
        print("bad parent_context:", bad.root_span_id != TRACE, bad.span_parents)
    print("parent object, bad:", type(braintrust.get_span_parent_object()).__name__)

experiment = braintrust.init(project="recorder-trace-context", experiment="continued")
sampled = braintrust.extract_trace_context({"traceparent": f"00-{TRACE}-b7ad6b7169203331-01"})
with braintrust.parent_context(sampled):
    found = braintrust.get_span_parent_object()
    print("parent object, experiment:", found.object_type, found.object_id == experiment.id, found.compute_object_metadata_args)
    with braintrust.start_span(name="in experiment") as inside:
        print("in experiment:", inside.span_parents, trace_of(inside.inject())["baggage"] == f"braintrust.parent=experiment_id%3A{experiment.id}")
    with braintrust.start_span(name="explicit", parent=ctx) as explicit:  # (an explicit parent wins)
        print("explicit parent:", explicit.span_parents)
braintrust.flush()
print("flushed")
