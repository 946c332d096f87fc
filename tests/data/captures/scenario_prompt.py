"""load_prompt: prompts written to the test server through its API, loaded (latest, a pinned version,
by id, with defaults), built with variables (sections, lists, dotted names, escaping, content parts,
tools, a json_schema response format), each build logged as a row; then one built prompt sent
through wrap_openai, whose llm span records the prompt's id, version and variables.

The OpenAI API is the deterministic loopback stub (tests/openai_stub.py).
"""
import os
import sys
from pathlib import Path

import braintrust
import requests
from braintrust import wrap_openai
from openai import OpenAI

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for the stub
from openai_stub import OpenAIStub  # noqa: E402

# -- the prompts, written as the Braintrust UI would ------------------------------------------------
api = os.environ["BRAINTRUST_APP_URL"]
auth = {"Authorization": f"Bearer {os.environ['BRAINTRUST_API_KEY']}"}
project_id = requests.post(f"{api}/v1/project", json={"name": "recorder-prompts"}, headers=auth).json()["id"]


def write(slug, prompt, options, **fields):
    body = {"project_id": project_id, "slug": slug, "name": slug.replace("-", " ").title(),
            "prompt_data": {"prompt": prompt, "options": options}, **fields}
    answer = requests.put(f"{api}/v1/prompt", json=body, headers=auth)
    answer.raise_for_status()
    return answer.json()


first = write("support-reply", {"type": "chat", "messages": [{"role": "user", "content": "Old: {{question}}"}]},
              {"model": "gpt-4o-mini", "params": {"temperature": 0.9}})
write("support-reply", {
    "type": "chat",
    "messages": [
        {"role": "system", "content": "You are {{bot.name}}, helping {{customer}} & team.\n{{#rules}}\n- {{.}}\n{{/rules}}"},
        {"role": "user", "content": [{"type": "text", "text": "Order {{order.id}}: {{question}}"},
                                     {"type": "image_url", "image_url": {"url": "https://img.example/{{order.id}}.png"}}]},
        {"role": "assistant", "content": "{{^history}}No history.{{/history}}", "name": "agent"},
    ],
    "tools": "[{\"type\": \"function\", \"function\": {\"name\": \"refund\", \"description\": \"Refund {{customer}}\", "
             "\"parameters\": {\"type\": \"object\", \"properties\": {}}}}]",
}, {"model": "gpt-4o-mini", "params": {"temperature": 0.2, "max_tokens": 200, "use_cache": True,
    "response_format": {"type": "json_schema", "json_schema": {"name": "reply", "schema": {
        "type": "object", "description": "A reply to {{customer}} <support>", "properties": {"text": {"type": "string"}}}}}},
    "position": "0|a"}, description="Replies to support tickets", tags=["support"])
write("summarize", {"type": "completion", "content": "Summarize for {{audience}}:\n{{{text}}}"},
      {"model": "gpt-3.5-turbo-instruct", "params": {"max_tokens": 64}})
write("greet", {"type": "chat", "messages": [{"role": "system", "content": "Be brief."},
                                           {"role": "user", "content": "Say hi to {{name}}."}]},
      {"model": "gpt-4o-mini", "params": {"temperature": 0}})

# -- loading and building ---------------------------------------------------------------------------
logger = braintrust.init_logger(project="recorder-prompts")
variables = {"bot": {"name": "Ada"}, "customer": "Bob <b@x.io>", "rules": ["Be kind", "Cite \"policy\""],
             "order": {"id": 42}, "question": "Where's my parcel?", "history": []}

latest = braintrust.load_prompt("recorder-prompts", "support-reply")
print("latest:", latest.name, latest.slug, latest.version != first["_xact_id"], sorted(latest))
logger.log(input={"case": "latest"}, output=latest.build(**variables))

pinned = braintrust.load_prompt("recorder-prompts", "support-reply", version=first["_xact_id"])
logger.log(input={"case": "pinned"}, output=pinned.build(question="Hello?"))

summarize = braintrust.load_prompt("recorder-prompts", "summarize", defaults={"temperature": 0.5, "max_tokens": 1})
logger.log(input={"case": "completion"}, output=summarize.build(audience="<execs>", text="a < b & c"))

by_id = braintrust.load_prompt(id=latest.id, no_trace=True)
logger.log(input={"case": "by id"}, output={"slug": by_id.slug, "built": by_id.build(customer="Cy")})

try:
    latest.build(strict=True, question="?")
except ValueError:
    print("strict: ValueError")

try:
    braintrust.load_prompt("recorder-prompts", "no-such-prompt").build()
except ValueError:
    print("missing: ValueError")

# -- a built prompt sent to the model ------------------------------------------------------------------
stub = OpenAIStub().start()
client = wrap_openai(OpenAI(api_key="sk-stub", base_url=stub.base_url, max_retries=0))
greet = braintrust.load_prompt("recorder-prompts", "greet")
reply = client.chat.completions.create(**greet.build(name="Dee"))
print("reply:", reply.choices[0].message.content)

braintrust.flush()
stub.stop()
print("flushed")
