"""init_dataset(_internal_btql=...) and Dataset.summarize(summarize_data=False): a dataset of five
records, one updated after a version is taken; read through a BTQL limit, a filter (pages of two),
the filter at the earlier version, a limit of 0; summarized without data; used as Eval data
through the filter (only the filtered records are cases). Public API only."""
import braintrust

PROJECT = "recorder-dataset-btql"
AT_LEAST_2 = {"op": "ge", "left": {"op": "ident", "name": ["metadata", "i"]}, "right": {"op": "literal", "value": 2}}

dataset = braintrust.init_dataset(project=PROJECT, name="numbers")
for i in range(5):
    dataset.insert(input=i, expected=i * 2, metadata={"i": i}, id=f"r{i}")
dataset.flush()
before = dataset.version
dataset.update(id="r3", expected="changed")
dataset.flush()

limited = braintrust.init_dataset(project=PROJECT, name="numbers", _internal_btql={"limit": 2})
print("limit 2:", len(list(limited)))
filtered = braintrust.init_dataset(project=PROJECT, name="numbers", _internal_btql={"filter": AT_LEAST_2})
print("filter:", sorted((r["id"], r["expected"]) for r in filtered.fetch(batch_size=2)))
print("filtered version is the newest:", filtered.version == dataset.version)
pinned = braintrust.init_dataset(project=PROJECT, name="numbers", version=before, _internal_btql={"filter": AT_LEAST_2})
print("filter at the earlier version:", sorted((r["id"], r["expected"]) for r in pinned))
print("limit 0:", list(braintrust.init_dataset(project=PROJECT, name="numbers", _internal_btql={"limit": 0})))

summary = dataset.summarize(summarize_data=False)
print("summary without data:", summary.data_summary, summary.dataset_name)
print("summary with data:", dataset.summarize().data_summary)

result = braintrust.Eval(
    PROJECT, data=braintrust.init_dataset(project=PROJECT, name="numbers", _internal_btql={"filter": AT_LEAST_2}),
    task=lambda i: i * 2, scores=[lambda output, expected: output == expected], experiment_name="filtered",
)
print("cases:", sorted(r.input for r in result.results))
