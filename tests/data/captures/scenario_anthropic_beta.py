"""wrap_anthropic on the beta Messages API: client.beta.messages.create (plain, with betas, streamed)
and the beta messages.stream helper, sync and async, traced into project logs.

The Anthropic API is the deterministic loopback stub (tests/anthropic_stub.py).
"""
import asyncio
import sys
from pathlib import Path

import braintrust
from anthropic import Anthropic, AsyncAnthropic
from braintrust import wrap_anthropic

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for the stub
from anthropic_stub import AnthropicStub  # noqa: E402

stub = AnthropicStub().start()
logger = braintrust.init_logger(project="recorder-anthropic-beta")
client = wrap_anthropic(Anthropic(api_key="sk-stub", base_url=stub.base_url, max_retries=0))
question = [{"role": "user", "content": "What is 2+2?"}]

reply = client.beta.messages.create(model="claude-beta", max_tokens=100, messages=question, betas=["some-beta-2025-01-01"])
print("beta create:", reply.content[0].text)
events = client.beta.messages.create(model="claude-beta", max_tokens=100, messages=question, stream=True)
print("beta stream events:", [event.type for event in events])
with client.beta.messages.stream(model="claude-beta", max_tokens=100, messages=question) as stream:
    print("beta stream helper:", "".join(stream.text_stream))


async def main():
    async_client = wrap_anthropic(AsyncAnthropic(api_key="sk-stub", base_url=stub.base_url, max_retries=0))
    result = await async_client.beta.messages.create(model="claude-beta", max_tokens=100, messages=question)
    print("beta async:", result.content[0].text)


asyncio.run(main())
logger.flush()
stub.stop()
print("flushed")
