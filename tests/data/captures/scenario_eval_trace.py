"""``Eval`` with scorers reading their trial's trace (``trace.get_spans``), when the spans must be
read back from Braintrust: 0.48.1 answers from an in-process span cache unless a span was exported
first (``span.export()`` turns that cache off for the process), as the task here does. Then
each call is a ``POST /btql`` over the experiment, filtered by the trace's ``root_span_id``."""

import asyncio

import braintrust


def task(input):
    braintrust.current_span().export()  # (e.g. to pass the trace on in a request's headers)
    with braintrust.start_span(name="lookup", type="tool") as span:
        span.log(input={"q": input}, output=input * 2)
    return input * 2


async def spans_seen(input, output, trace):
    spans = await trace.get_spans(include_scorers=True)
    names = sorted(s.span_attributes["name"] for s in spans)
    print("trace", input, names)
    return 1.0 if "lookup" in names else 0.0


braintrust.Eval("capture-eval-trace", data=[{"input": 1}, {"input": 2}], task=task, scores=[spans_seen],
                max_concurrency=1)
