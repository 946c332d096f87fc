"""Spans started on a logger or an experiment while another span is current: each is that
span's child (0.48.1 looks the current span up), written to the object it was started on, of
that object's root type (task / eval) unless given one; an explicit root_span_id is then
ignored, an explicit span_id kept. Under @traced, inside a span of another object (a logger span
in an experiment's trace, and the reverse), with set_current=False, and at top level (roots).
Public API only."""
import braintrust

PROJECT = "recorder-object-spans"
logger = braintrust.init_logger(project=PROJECT)


@braintrust.traced
def handler():
    with logger.start_span(name="logger span in traced") as span:
        span.log(output="in traced")


with logger.start_span(name="outer") as outer:
    with logger.start_span(name="inner") as inner:
        inner.log(input="nested")
    handler()
    logger.start_span(name="explicit ids", span_id="explicit-span-id", root_span_id="ignored-root-id").end()
    logger.start_span(name="typed", type="llm").end()
    detached = logger.start_span(name="not current", set_current=False)
    with logger.start_span(name="beside a detached span"):
        pass
    detached.end()
logger.start_span(name="top level", root_span_id="explicit-root-id").end()

experiment = braintrust.init(project=PROJECT, experiment="object-spans")
with experiment.start_span(name="eval outer") as eval_outer:
    with experiment.start_span(name="eval inner") as eval_inner:
        eval_inner.log(output=1, scores={"ok": 1})
    with logger.start_span(name="logger span in an experiment trace"):
        pass
with logger.start_span(name="logger outer"):
    with experiment.start_span(name="experiment span in a logger trace"):
        pass
braintrust.flush()
print("flushed")
