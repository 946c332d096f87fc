"""init_dataset(environment=...): a dataset written in two rounds, its "production" environment
pointed at the first round's version (through the test server's control endpoint, standing in for
the Braintrust UI), then read through environment= (the first round only), through version=
together with environment= (the version wins), through an environment that is not set (its
error), and used as Eval data (the experiment records the environment's version). Public API only."""
import os

import requests

import braintrust

PROJECT = "recorder-dataset-env"
dataset = braintrust.init_dataset(project=PROJECT, name="support")
for i in range(2):
    dataset.insert(input=f"q{i}", expected=f"a{i}", id=f"first-{i}")
dataset.flush()
first_version = dataset.version
dataset.insert(input="q-late", expected="a-late", id="second-0")
dataset.flush()
url = f"{os.environ['BRAINTRUST_APP_URL']}/_test/environment-object/dataset/{dataset.id}/production"
requests.post(url, json={"object_version": first_version}, timeout=10).raise_for_status()

production = braintrust.init_dataset(project=PROJECT, name="support", environment="production")
print("production:", sorted(r["id"] for r in production))
print("production version is the first round's:", production.version == first_version)
pinned = braintrust.init_dataset(project=PROJECT, name="support", version=dataset.version, environment="production")
print("version wins:", sorted(r["id"] for r in pinned))
try:
    print(sorted(r["id"] for r in braintrust.init_dataset(project=PROJECT, name="support", environment="staging")))
except Exception as exc:
    print("unset environment:", type(exc).__name__)

result = braintrust.Eval(
    PROJECT, data=braintrust.init_dataset(project=PROJECT, name="support", environment="production"),
    task=lambda q: q.replace("q", "a"), scores=[lambda input, output, expected: output == expected],
    experiment_name="on production",
)
print("cases:", len(result.results))
