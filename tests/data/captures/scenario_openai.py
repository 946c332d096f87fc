"""wrap_openai: chat completions (plain, streamed, through the stream helper, with tools, parsed into
a model, an API error, async), the Responses API (created, streamed through its helper, parsed),
embeddings and moderations, traced into project logs, one call nested under @traced.

The OpenAI API is a deterministic loopback stub (tests/openai_stub.py), so both SDKs see the same answers.
"""
import asyncio
import sys
from pathlib import Path

import braintrust
from braintrust import traced, wrap_openai
from openai import AsyncOpenAI, BadRequestError, OpenAI
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for the stub
from openai_stub import OpenAIStub  # noqa: E402

stub = OpenAIStub().start()
base_url = stub.base_url

logger = braintrust.init_logger(project="recorder-openai")
client = wrap_openai(OpenAI(api_key="sk-stub", base_url=base_url, max_retries=0))
question = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"}]

reply = client.chat.completions.create(model="gpt-4o-mini", messages=question, temperature=0.2, max_tokens=50)
print("chat:", reply.choices[0].message.content)

stream = client.chat.completions.create(model="gpt-4o-mini", messages=question, stream=True,
                                        stream_options={"include_usage": True})
print("stream:", "".join(c.choices[0].delta.content or "" for c in stream if c.choices))

with client.chat.completions.stream(model="gpt-4o-mini", messages=question) as helper:
    kinds = [event.type for event in helper]
print("stream helper:", kinds[-1], helper.get_final_completion().choices[0].message.content)

tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
tool_reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Weather in Paris?"}],
                                            tools=tools)
print("tool call:", tool_reply.choices[0].message.tool_calls[0].function.name)

class Answer(BaseModel):
    answer: str
    confident: bool


parsed = client.chat.completions.parse(model="gpt-4o-mini", messages=question, response_format=Answer)
print("parsed:", parsed.choices[0].message.parsed)

try:
    client.chat.completions.create(model="missing-model", messages=question)
except BadRequestError as exc:
    print("error:", exc.status_code)

response = client.responses.create(model="gpt-4o-mini", input="Capital of France?", instructions="One word.")
print("responses:", response.output_text)

with client.responses.stream(model="gpt-4o-mini", input="Capital of France?") as events:
    print("responses stream helper:", events.get_final_response().output_text)

parsed_response = client.responses.parse(model="gpt-4o-mini", input="Capital of France?", text_format=Answer)
print("responses parsed:", parsed_response.output_parsed)

embedding = client.embeddings.create(model="text-embedding-3-small", input="hello world")
print("embedding:", embedding.data[0].embedding)

moderation = client.moderations.create(input="a kind message")
print("moderation:", moderation.results[0].flagged)


@traced
def answer(q):
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": q}]).choices[0].message.content


print("traced:", answer("What is 2+2?"))


async def main():
    async_client = wrap_openai(AsyncOpenAI(api_key="sk-stub", base_url=base_url, max_retries=0))
    result = await async_client.chat.completions.create(model="gpt-4o-mini", messages=question, seed=7)
    print("async:", result.choices[0].message.content)
    chunks = await async_client.chat.completions.create(model="gpt-4o-mini", messages=question, stream=True)
    text = ""
    async for chunk in chunks:
        text += (chunk.choices[0].delta.content or "") if chunk.choices else ""
    print("async stream:", text)


asyncio.run(main())
logger.flush()
stub.stop()
print("flushed")
