"""wrap_openai on a Responses API answer that calls tools (a function call, a web search, an MCP
call that failed), plain and streamed: each tool call is its own tool span under the call's;
traced into project logs against the OpenAI stub (tests/openai_stub.py)."""
import sys
from pathlib import Path

import braintrust
from openai import OpenAI
from braintrust import wrap_openai

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for the stub
from openai_stub import OpenAIStub  # noqa: E402

stub = OpenAIStub().start()
logger = braintrust.init_logger(project="recorder-responses-tools")
client = wrap_openai(OpenAI(api_key="sk-stub", base_url=stub.base_url, max_retries=0))
tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]

response = client.responses.create(model="gpt-test", input="Weather in Paris?", tools=tools)
print("plain:", [item.type for item in response.output])
for event in client.responses.create(model="gpt-test", input="And streamed?", tools=tools, stream=True):
    pass
print("streamed:", event.type)
braintrust.flush()
print("flushed")
