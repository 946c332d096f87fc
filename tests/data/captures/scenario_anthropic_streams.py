"""wrap_anthropic on streamed tool calls: messages.create(stream=True) with tools (its input arrives
as JSON fragments), sync and async, and the messages.stream helper with tools; traced into project
logs, against the Anthropic stub (tests/anthropic_stub.py)."""
import asyncio
import sys
from pathlib import Path

import braintrust
from anthropic import Anthropic, AsyncAnthropic
from braintrust import wrap_anthropic

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for the stub
from anthropic_stub import AnthropicStub  # noqa: E402

stub = AnthropicStub().start()
logger = braintrust.init_logger(project="recorder-anthropic-streams")
client = wrap_anthropic(Anthropic(api_key="sk-stub", base_url=stub.base_url, max_retries=0))
question = [{"role": "user", "content": "Weather in Paris?"}]
tools = [{"name": "get_weather", "description": "Weather in a city",
          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]

events = client.messages.create(model="claude-test", max_tokens=100, messages=question, tools=tools, stream=True)
print("tool stream:", "".join(e.delta.partial_json for e in events if e.type == "content_block_delta" and e.delta.type == "input_json_delta"))

with client.messages.stream(model="claude-test", max_tokens=100, messages=question, tools=tools) as stream:
    final = stream.get_final_message()
print("stream helper with tools:", [block.type for block in final.content], final.stop_reason)


async def main():
    aclient = wrap_anthropic(AsyncAnthropic(api_key="sk-stub", base_url=stub.base_url, max_retries=0))
    events = await aclient.messages.create(model="claude-test", max_tokens=100, messages=question, tools=tools,
                                           system="Be brief.", stream=True)
    print("async tool stream:", [e.type async for e in events][-1])


asyncio.run(main())
braintrust.flush()
print("flushed")
