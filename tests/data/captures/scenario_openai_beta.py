"""wrap_openai on the beta namespace: client.beta.chat.completions create, parse (structured output)
and the stream helper, and client.beta.responses.create, traced into project logs.

The OpenAI API is the deterministic loopback stub (tests/openai_stub.py).
"""
import sys
from pathlib import Path

import braintrust
from braintrust import wrap_openai
from openai import OpenAI
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for the stub
from openai_stub import OpenAIStub  # noqa: E402

stub = OpenAIStub().start()
logger = braintrust.init_logger(project="recorder-openai-beta")
client = wrap_openai(OpenAI(api_key="sk-stub", base_url=stub.base_url, max_retries=0))
question = [{"role": "user", "content": "What is 2+2?"}]


class Answer(BaseModel):
    answer: str
    confident: bool


print("beta create:", client.beta.chat.completions.create(model="gpt-beta", messages=question).choices[0].message.content)
print("beta parse:", client.beta.chat.completions.parse(model="gpt-beta", messages=question, response_format=Answer).choices[0].message.parsed)
with client.beta.chat.completions.stream(model="gpt-beta", messages=question) as helper:
    print("beta stream helper:", helper.get_final_completion().choices[0].message.content)
print("beta responses:", client.beta.responses.create(model="gpt-beta", input="Capital of France?").id)
logger.flush()
stub.stop()
print("flushed")
