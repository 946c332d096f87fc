"""wrap_litellm: LiteLLM's completion (plain, streamed, an API error; with tools LiteLLM 1.106
imports the `mcp` package it does not require, nor install), acompletion (plain and streamed),
text_completion, responses (plain, streamed, async; `mcp` installed), embedding and moderation, traced into project
logs, one call nested under @traced; then patch_litellm(), which traces the module's own functions.

LiteLLM (1.106) calls the deterministic OpenAI stub (tests/openai_stub.py) as an OpenAI-compatible
provider, so both SDKs see the same answers. It runs in a virtual environment of its own (the
test extra's openai is newer than the one LiteLLM accepts): tests/sdk/test_litellm.py.
"""
import asyncio
import os
import sys
from pathlib import Path

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # no fetch of the price list at import

import braintrust
import litellm
from braintrust import traced, wrap_litellm
from braintrust.wrappers.litellm import patch_litellm

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for the stub
from openai_stub import OpenAIStub  # noqa: E402

stub = OpenAIStub().start()
common = {"api_base": stub.base_url, "api_key": "sk-stub"}

logger = braintrust.init_logger(project="recorder-litellm")
llm = wrap_litellm(litellm)
question = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is 2+2?"}]

reply = llm.completion(model="openai/gpt-4o-mini", messages=question, temperature=0.2, max_tokens=50, **common)
print("completion:", reply.choices[0].message.content)

stream = llm.completion(model="openai/gpt-4o-mini", messages=question, stream=True, stream_options={"include_usage": True}, **common)
print("stream:", "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices))


try:
    llm.completion(model="openai/missing-model", messages=question, **common)
except Exception as exc:
    print("error:", type(exc).__name__)

text = llm.text_completion(model="openai/gpt-4o-mini", prompt="Say hi", **common)
print("text completion:", text.choices[0].text)


response = llm.responses(model="openai/gpt-4o-mini", input="Capital of France?", instructions="One word.", **common)
print("responses:", response.output[0].content[0].text)

events = llm.responses(model="openai/gpt-4o-mini", input="Capital of France?", stream=True, **common)
print("responses stream:", [str(getattr(event.type, "value", event.type)) for event in events][-1])

embedding = llm.embedding(model="openai/text-embedding-3-small", input=["hello world"], **common)
print("embedding:", embedding.data[0]["embedding"])

moderation = llm.moderation(input="a kind message", model="openai/omni-moderation-latest", **common)
print("moderation:", moderation.results[0].flagged)


@traced
def answer(q):
    return llm.completion(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": q}], **common).choices[0].message.content


print("traced:", answer("What is 2+2?"))


async def main():
    done = await llm.acompletion(model="openai/gpt-4o-mini", messages=question, **common)
    print("async:", done.choices[0].message.content)
    parts = await llm.acompletion(model="openai/gpt-4o-mini", messages=question, stream=True, **common)
    print("async stream:", "".join([chunk.choices[0].delta.content or "" async for chunk in parts]))
    answered = await llm.aresponses(model="openai/gpt-4o-mini", input="Capital of Italy?", **common)
    print("async responses:", answered.output[0].content[0].text)


asyncio.run(main())

patch_litellm()  # (0.48.1 has it here only; ours at the top level too)
patched = litellm.completion(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "Patched?"}], **common)
print("patched:", patched.choices[0].message.content)

logger.flush()
stub.stop()
