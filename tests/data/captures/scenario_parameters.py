"""Saved parameters: declared in code (a prompt, a model, a pydantic model with one `value` field,
another pydantic model, an untyped one), saved with project.parameters.create + publish(), read
back with load_parameters, then an Eval with the declaration and one with the saved parameters
(the task builds the prompt and reads the model); the experiment of the second records which
parameters it ran with. Also: validate(), an unknown slug, a version that does not exist. Public
API only."""
import json

import braintrust
from pydantic import BaseModel


class Shout(BaseModel):
    value: bool = False


class Style(BaseModel):
    tone: str = "friendly"
    max_words: int = 50


schema = {
    "main": {"type": "prompt", "description": "The reply prompt",
             "default": {"prompt": {"type": "chat", "messages": [{"role": "system", "content": "Be {{tone}}."},
                                                                 {"role": "user", "content": "{{input}}"}]},
                         "options": {"model": "gpt-4o-mini", "params": {"temperature": 0.1}}}},
    "model": {"type": "model", "default": "gpt-4o-mini", "description": "Which model"},
    "shout": Shout,
    "style": Style,
    "anything": None,
}
project = braintrust.projects.create(name="recorder-parameters")
returned = project.parameters.create(name="Support knobs", schema=schema, description="knobs", metadata={"team": "support"})
print("create returns the schema:", returned is schema)
answer = project.publish()
print("published:", [(f["slug"], f["found_existing"]) for f in answer["functions"]])

saved = braintrust.load_parameters(project="recorder-parameters", slug="support-knobs")
print("loaded:", type(saved).__name__, saved.name, saved.slug, saved.id is not None, saved.version is not None)
print("schema:", json.dumps(saved.schema, sort_keys=True))
print("data:", json.dumps(saved.data, sort_keys=True))
print("validate:", saved.validate({"model": "gpt-4o"}), saved.validate({"model": 3}))


def task(input, hooks):
    p = hooks.parameters
    built = p["main"].build(input=input, tone="kind")
    return {"kinds": {k: type(v).__name__ for k, v in sorted(p.items())}, "model": p["model"], "messages": built["messages"],
            "shout": p["shout"]}


for label, parameters in (("declared", schema), ("saved", saved)):
    result = braintrust.Eval("recorder-parameters", data=[{"input": "hi"}], task=task, scores=[], parameters=parameters,
                             experiment_name=f"parameters-{label}")
    print(label, json.dumps(result.results[0].output, sort_keys=True), result.results[0].error)

for args in ({"slug": "nope"}, {"slug": "support-knobs", "version": "123"}):
    try:
        braintrust.load_parameters(project="recorder-parameters", **args)
    except Exception as exc:
        print("error:", args, isinstance(exc, Exception), "not found" in str(exc) or "404" in str(exc))
