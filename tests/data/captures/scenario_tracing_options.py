"""Tracing options past the basics: @traced with notrace_io, span_attributes, on a generator, an
async generator, a coroutine and methods; start_span with start_time / end(end_time=),
propagated_event and event fields; span.set_attributes; span.log_feedback and logger.log_feedback
(scores, expected, comment, metadata, tags, source); a generator that raises. Public API only."""
import asyncio

import braintrust
from braintrust import current_span, start_span, traced

logger = braintrust.init_logger(project="recorder-tracing-options")


@traced(notrace_io=True)
def secret(password):
    return "ok"


@traced(span_attributes={"team": "search"}, type="tool", name="lookup")
def lookup(query, limit=3):
    return [query] * limit


@traced
def counting(n):
    for i in range(n):
        yield i


@traced
async def async_counting(n):
    for i in range(n):
        await asyncio.sleep(0)
        yield {"i": i}


@traced
async def fetch(url):
    await asyncio.sleep(0)
    return {"url": url, "status": 200}


@traced
def broken_stream():
    yield 1
    raise RuntimeError("stream broke")


class Agent:
    def __repr__(self):
        return "Agent()"

    @traced
    def act(self, goal):
        return f"did {goal}"

    @classmethod
    @traced
    def build(cls, name):
        return name.upper()

    @staticmethod
    @traced
    def helper(x):
        return x + 1


async def run_async():
    items = [item async for item in async_counting(2)]
    return items, await fetch("https://example.com")


with start_span(name="job", input={"n": 2}, propagated_event={"metadata": {"run": "r1"}}) as job:
    print("secret:", secret("hunter2"))
    print("lookup:", lookup("cats", limit=2))
    print("counting:", list(counting(3)))
    print("async:", asyncio.run(run_async()))
    try:
        list(broken_stream())
    except RuntimeError:
        pass
    agent = Agent()
    print("agent:", agent.act("search"), Agent.build("bot"), Agent.helper(1))
    timed = job.start_span(name="timed", start_time=1700000000.0, input="t", metadata={"k": 1})
    timed.log(output="done")
    timed.set_attributes(name="timed-renamed", type="function", span_attributes={"extra": True})
    print("end:", timed.end(end_time=1700000001.5))
    current_span().log(output={"finished": True})
    job.log_feedback(scores={"quality": 0.5}, comment="meh", metadata={"by": "qa"}, source="external")
    job_id = job.id

braintrust.flush()
logger.log_feedback(id=job_id, expected={"finished": True}, tags=["reviewed"], comment="second look", source="app")
logger.log_feedback(id=job_id, scores={"quality": 1.0})
braintrust.flush()
