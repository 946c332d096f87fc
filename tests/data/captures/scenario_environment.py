"""context.span_origin.environment: recorded with GITHUB_ACTIONS=true (the CI detection), on
logger.log rows, start_span and @traced spans and experiment rows (a new logger for each part); then init_logger(environment=...)
(an explicit environment for every later span, the experiment's included); then init_logger()
without one (detected again). Public API only."""
import braintrust

experiment = braintrust.init(project="recorder-environment", experiment="environment", set_current=False)


@braintrust.traced
def step(x):
    return x + 1


def write(tag, logger):
    logger.log(input=tag, output="logged")
    with logger.start_span(name=f"span {tag}") as span:
        span.log(output=step(1))
    experiment.log(input=tag, output="experiment row", scores={"ok": 1})


write("detected", braintrust.init_logger(project="recorder-environment"))
write("explicit", braintrust.init_logger(project="recorder-environment", environment={"type": "server", "name": "production"}))
write("detected again", braintrust.init_logger(project="recorder-environment"))
braintrust.flush()
print("flushed")
