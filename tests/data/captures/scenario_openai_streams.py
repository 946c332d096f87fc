"""wrap_openai on streamed chat completions beyond plain text: a tool call whose arguments arrive
in pieces, several choices (n=2), a stream without usage, the same through the async client and
the stream helper with tools; traced into project logs, against the OpenAI stub."""
import asyncio
import sys
from pathlib import Path

import braintrust
from braintrust import wrap_openai
from openai import AsyncOpenAI, OpenAI

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for the stub
from openai_stub import OpenAIStub  # noqa: E402

stub = OpenAIStub().start()
logger = braintrust.init_logger(project="recorder-openai-streams")
client = wrap_openai(OpenAI(api_key="sk-stub", base_url=stub.base_url, max_retries=0))
question = [{"role": "user", "content": "Weather in Paris?"}]
tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]

calls = client.chat.completions.create(model="gpt-4o-mini", messages=question, tools=tools, stream=True,
                                       stream_options={"include_usage": True})
pieces = [c.choices[0].delta.tool_calls[0].function.arguments for c in calls if c.choices and c.choices[0].delta.tool_calls]
print("tool call stream:", "".join(pieces))

two = client.chat.completions.create(model="gpt-4o-mini", messages=question, n=2, stream=True)
texts = {}
for chunk in two:
    for choice in chunk.choices:
        texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
print("two choices:", texts)

with client.chat.completions.stream(model="gpt-4o-mini", messages=question, tools=tools) as helper:
    final = helper.get_final_completion()
print("stream helper with tools:", final.choices[0].message.tool_calls[0].function.arguments)


async def main():
    aclient = wrap_openai(AsyncOpenAI(api_key="sk-stub", base_url=stub.base_url, max_retries=0))
    stream = await aclient.chat.completions.create(model="gpt-4o-mini", messages=question, tools=tools, stream=True)
    names = [c.choices[0].delta.tool_calls[0].function.name async for c in stream
             if c.choices and c.choices[0].delta.tool_calls and c.choices[0].delta.tool_calls[0].function.name]
    print("async tool call stream:", names)


asyncio.run(main())
braintrust.flush()
print("flushed")
