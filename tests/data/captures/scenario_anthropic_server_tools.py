"""wrap_anthropic on an answer that used a server tool (web search: one search that found a page,
one that failed), with usage details (cache creation by time to live, server tool counts, the
service tier): each server tool call is a tool span under the call's; traced into project logs
against the Anthropic stub (tests/anthropic_stub.py)."""
import sys
from pathlib import Path

import braintrust
from anthropic import Anthropic
from braintrust import wrap_anthropic

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for the stub
from anthropic_stub import AnthropicStub  # noqa: E402

stub = AnthropicStub().start()
logger = braintrust.init_logger(project="recorder-anthropic-server-tools")
client = wrap_anthropic(Anthropic(api_key="sk-stub", base_url=stub.base_url, max_retries=0))
message = client.messages.create(model="claude-test", max_tokens=100, messages=[{"role": "user", "content": "Weather in Paris?"}],
                                 tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 2}])
print("blocks:", [block.type for block in message.content])
braintrust.flush()
print("flushed")
