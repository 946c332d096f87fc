"""wrap_anthropic: messages.create (plain, with a system prompt, with tools, streamed, an API error,
async) and the messages.stream helper (sync and async), traced into project logs, one call nested
under @traced.

The Anthropic API is a deterministic loopback stub (tests/anthropic_stub.py), so both SDKs see the
same answers.
"""
import asyncio
import sys
from pathlib import Path

import braintrust
from anthropic import Anthropic, AsyncAnthropic, BadRequestError
from braintrust import traced, wrap_anthropic

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for the stub
from anthropic_stub import AnthropicStub  # noqa: E402

stub = AnthropicStub().start()
logger = braintrust.init_logger(project="recorder-anthropic")
client = wrap_anthropic(Anthropic(api_key="sk-stub", base_url=stub.base_url, max_retries=0))
question = [{"role": "user", "content": "What is 2+2?"}]

reply = client.messages.create(model="claude-test", max_tokens=100, system="You are terse.", messages=question,
                               stop_sequences=["###"], metadata={"user_id": "u-1"})
print("create:", reply.content[0].text)

tools = [{"name": "get_weather", "description": "Weather in a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]
tool_reply = client.messages.create(model="claude-test", max_tokens=100, tools=tools,
                                    messages=[{"role": "user", "content": "Weather in Paris?"}])
print("tool use:", tool_reply.content[1].name)

events = client.messages.create(model="claude-test", max_tokens=100, messages=question, stream=True)
print("stream events:", [event.type for event in events])

with client.messages.stream(model="claude-test", max_tokens=100, messages=question) as stream:
    print("stream helper:", "".join(stream.text_stream))

try:
    client.messages.create(model="missing-model", max_tokens=100, messages=question)
except BadRequestError as exc:
    print("error:", exc.status_code)


@traced
def answer(q):
    return client.messages.create(model="claude-test", max_tokens=100, messages=[{"role": "user", "content": q}]).content[0].text


print("traced:", answer("What is 2+2?"))


async def main():
    async_client = wrap_anthropic(AsyncAnthropic(api_key="sk-stub", base_url=stub.base_url, max_retries=0))
    result = await async_client.messages.create(model="claude-test", max_tokens=100, messages=question)
    print("async:", result.content[0].text)
    async with async_client.messages.stream(model="claude-test", max_tokens=100, messages=question) as stream:
        text = "".join([t async for t in stream.text_stream])
    print("async stream helper:", text)


asyncio.run(main())
logger.flush()
stub.stop()
print("flushed")
