"""Eval() options beyond a basic run: data from a generator function, a generator, an iterable
object and an async generator; EvalAsync; description, metadata, tags, trial_count; a base
experiment by name; summarize_scores=False; update=True into an existing experiment; parent= (an
Eval whose traces hang under a logger's span). Public API only."""
import asyncio

import braintrust
from braintrust import Eval, EvalAsync, EvalCase

PROJECT = "recorder-eval-options"


def exact(output, expected):
    return 1.0 if output == expected else 0.0


def upper(input):
    return input.upper()


def cases():
    yield {"input": "a", "expected": "A"}
    yield EvalCase(input="b", expected="B", tags=["gen"], metadata={"source": "generator"})


first = Eval(PROJECT, data=cases, task=upper, scores=[exact], experiment_name="from-generator",
             description="the first run", metadata={"model": "v1"}, tags=["nightly"], trial_count=2,
             max_concurrency=1)
print("first:", sorted((r.input, r.scores["exact"]) for r in first.results))


class Cases:
    def __iter__(self):
        return iter([{"input": "a", "expected": "A"}, {"input": "c", "expected": "x"}])


second = Eval(PROJECT, data=Cases(), task=upper, scores=[exact], experiment_name="from-iterable",
              base_experiment_name="from-generator", summarize_scores=False)
print("second summary scores:", second.summary.scores)


async def async_cases():
    for word in ("d", "e"):
        await asyncio.sleep(0)
        yield {"input": word, "expected": word.upper()}


async def async_upper(input):
    await asyncio.sleep(0)
    return input.upper()


async def run_async():
    return await EvalAsync(PROJECT, data=async_cases, task=async_upper, scores=[exact], experiment_name="async")


third = asyncio.run(run_async())
print("third:", sorted(r.output for r in third.results))

fourth = Eval(PROJECT, data=(case for case in [{"input": "f", "expected": "F"}]), task=upper, scores=[exact],
              experiment_name="from-generator", update=True)
print("fourth:", [r.output for r in fourth.results])

logger = braintrust.init_logger(project=PROJECT)
with logger.start_span(name="nightly-job", input={"job": 7}) as job:
    fifth = Eval(PROJECT, data=[{"input": "g", "expected": "G"}], task=upper, scores=[exact], parent=job.export())
print("fifth:", [r.output for r in fifth.results])
braintrust.flush()
