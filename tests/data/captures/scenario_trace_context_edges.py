"""W3C trace context, part three: inject into a carrier forwarded from a request, whose header
names are in other cases (replaced under lowercase names, never sent twice; baggage members
without '=' dropped); a braintrust.parent naming no object (an unknown kind, a kind without a
value, no kind: the span starts a new trace), an empty one (as none: the current logger's), the
last of two; a traceparent in upper case (invalid); the same through parent_context and
get_span_parent_object."""
import braintrust

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE}-{PARENT}-01"
logger = braintrust.init_logger(project="recorder-trace-edges")

with logger.start_span(name="client") as client:
    forwarded = {"Traceparent": TRACEPARENT, "TraceState": "up=1", "BAGGAGE": "k=v,junk, braintrust.parent=old",
                 "X-Request-Id": "r1"}
    out = client.inject(dict(forwarded))
    print("forwarded:", sorted(out), out["traceparent"] == f"00-{client.root_span_id}-{client.span_id}-01",
          out["baggage"], out["TraceState"])

for baggage in ("braintrust.parent=dataset_id%3Ax", "braintrust.parent=project_id%3A", "braintrust.parent=nonsense",
                "braintrust.parent=", "k=v", "braintrust.parent=nonsense,braintrust.parent=project_name%3Arecorder-trace-edges"):
    with braintrust.start_span(name=f"baggage {baggage}", parent={"traceparent": TRACEPARENT, "baggage": baggage}) as span:
        print(repr(baggage), span.root_span_id == TRACE, span.span_parents)
with braintrust.start_span(name="upper case", parent={"traceparent": TRACEPARENT.upper()}) as span:
    print("upper case:", span.root_span_id == TRACE, span.span_parents)

invalid = {"traceparent": TRACEPARENT, "baggage": "braintrust.parent=dataset_id%3Ax"}
print("extracted, invalid parent:", braintrust.extract_trace_context(invalid))
with braintrust.parent_context(invalid):
    print("parent object, invalid parent:", type(braintrust.get_span_parent_object()).__name__)
    with braintrust.start_span(name="parent_context, invalid parent") as span:
        print("parent_context, invalid parent:", span.root_span_id == TRACE, span.span_parents)
braintrust.flush()
print("flushed")
