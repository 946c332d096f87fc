"""wrap_openai through the resources' raw-response variants: with_raw_response (chat completions
plain and streamed, the Responses API, embeddings: sync; chat completions: async) and
with_streaming_response (chat completions, sync and async), against the OpenAI stub."""
import asyncio
import sys
from pathlib import Path

import braintrust
from braintrust import wrap_openai
from openai import AsyncOpenAI, OpenAI

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for the stub
from openai_stub import OpenAIStub  # noqa: E402

stub = OpenAIStub().start()
logger = braintrust.init_logger(project="recorder-openai-variants")
client = wrap_openai(OpenAI(api_key="sk-stub", base_url=stub.base_url, max_retries=0))
question = [{"role": "user", "content": "What is 2+2?"}]

raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=question, temperature=0)
print("raw:", raw.http_response.status_code, raw.headers.get("content-type"), raw.parse().choices[0].message.content)

raw_stream = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=question, stream=True,
                                                              stream_options={"include_usage": True})
print("raw stream:", "".join(c.choices[0].delta.content or "" for c in raw_stream.parse() if c.choices))

with client.chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=question) as streamed:
    print("streaming response:", streamed.parse().choices[0].message.content)

raw_responses = client.responses.with_raw_response.create(model="gpt-4o-mini", input="Capital of France?")
print("raw responses:", raw_responses.parse().output_text)


async def main():
    aclient = wrap_openai(AsyncOpenAI(api_key="sk-stub", base_url=stub.base_url, max_retries=0))
    araw = await aclient.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=question)
    print("async raw:", araw.parse().choices[0].message.content)
    async with aclient.chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=question) as astreamed:
        print("async streaming response:", (await astreamed.parse()).choices[0].message.content)

asyncio.run(main())
braintrust.flush()
