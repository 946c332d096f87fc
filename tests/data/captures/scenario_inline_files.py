"""Inline (base64) images and files in model calls: wrap_openai's chat messages (an image data URL
with detail, an image by URL, a file part with and without its filename) and Responses API input
(an input_image data URL), wrap_anthropic's base64 image and PDF blocks beside a URL image; traced
into project logs against the stubs (tests/openai_stub.py, tests/anthropic_stub.py)."""
import base64
import sys
from pathlib import Path

import braintrust
from anthropic import Anthropic
from openai import OpenAI
from braintrust import wrap_anthropic, wrap_openai

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for the stubs
from anthropic_stub import AnthropicStub  # noqa: E402
from openai_stub import OpenAIStub  # noqa: E402

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n pixels").decode()
PDF = base64.b64encode(b"%PDF-1.4 pages").decode()
openai_stub = OpenAIStub().start()
anthropic_stub = AnthropicStub().start()
logger = braintrust.init_logger(project="recorder-inline-files")

client = wrap_openai(OpenAI(api_key="sk-stub", base_url=openai_stub.base_url, max_retries=0))
client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": [
    {"type": "text", "text": "What is in these?"},
    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}", "detail": "low"}},
    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
    {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}", "filename": "report.pdf"}},
    {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PDF}"}},
    {"type": "image_url", "image_url": {"url": "data:image/png;base64,not base64!"}},
]}])
client.responses.create(model="gpt-test", input=[{"role": "user", "content": [
    {"type": "input_text", "text": "Describe it."},
    {"type": "input_image", "image_url": f"data:image/jpeg;base64,{PNG}", "detail": "high"},
]}])
print("openai: sent")

claude = wrap_anthropic(Anthropic(api_key="sk-stub", base_url=anthropic_stub.base_url, max_retries=0))
claude.messages.create(model="claude-test", max_tokens=10, system="Be brief.", messages=[{"role": "user", "content": [
    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
    {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}},
    {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
    {"type": "text", "text": "Compare them."},
]}])
print("anthropic: sent")
braintrust.flush()
print("flushed")
