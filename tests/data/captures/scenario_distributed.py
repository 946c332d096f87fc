"""Distributed tracing through W3C trace context: span.inject() on the calling side (a new carrier,
and one that already holds headers and other baggage), start_span(parent=headers) and
@traced(parent=headers) on the receiving side, under project logs and an experiment, with
traceparent only (the current logger holds the span), and with headers that carry no valid
traceparent (the span starts as without a parent). Public API only."""
from urllib.parse import unquote

import braintrust

logger = braintrust.init_logger(project="recorder-w3c")
experiment = braintrust.init(project="recorder-w3c", experiment="w3c", set_current=False)


def describe(headers, span):
    parent = unquote(headers["baggage"].split("braintrust.parent=", 1)[1])
    print(" traceparent is the span's:", headers["traceparent"] == f"00-{span.root_span_id}-{span.span_id}-01")
    print(" baggage names:", parent.split(":", 1)[0])


@braintrust.traced(name="lookup")
def lookup(key):
    return {"key": key, "found": True}


def service(headers, request):
    """Another service: continues the caller's trace from the headers it received."""
    with braintrust.start_span(name="service", parent=headers) as span:
        span.log(input=request, output=lookup(request))


with logger.start_span(name="client") as client:
    headers = client.inject()
    print("logs:")
    describe(headers, client)
    service(headers, "logs request")

with experiment.start_span(name="eval client") as client:
    carrier = {"x-request-id": "r-1", "baggage": "tenant=acme,braintrust.parent=stale"}
    same = client.inject(carrier)
    print("experiment:")
    print(" same carrier:", same is carrier, sorted(carrier))
    print(" other baggage kept:", carrier["baggage"].startswith("tenant=acme,braintrust.parent=experiment_id%3A"))
    describe(carrier, client)
    service(carrier, "experiment request")

    @braintrust.traced(parent=carrier)
    def handler(x):
        return x * 2

    print("traced with parent:", handler(21))

with logger.start_span(name="traceparent only") as client:
    service({"traceparent": client.inject()["traceparent"]}, "no baggage")

for bad in ({"traceparent": "garbage"}, {"traceparent": "00-" + "0" * 32 + "-" + "1" * 16 + "-01"}, {"other": "x"}):
    with braintrust.start_span(name="no valid parent", parent=bad) as span:
        span.log(input=bad)

print("noop:", braintrust.NOOP_SPAN.inject(), repr(braintrust.NOOP_SPAN.name))
braintrust.flush()
print("flushed")
