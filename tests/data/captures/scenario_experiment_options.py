"""Experiments past a basic run: log with ids, tags and metadata; log_feedback on a row;
start_span and @traced under an experiment; summarize(summarize_scores=False); init(update=True)
adding rows; init(open=True) reading the rows back (fetch, as_dataset). Public API only."""
import braintrust
from braintrust import traced

PROJECT = "recorder-experiment-options"

exp = braintrust.init(project=PROJECT, experiment="options", metadata={"model": "m1"}, description="probe")
exp.log(input={"q": 1}, output="one", expected="one", scores={"exact": 1}, metadata={"k": "a"}, tags=["t"], id="row-1")
exp.log(input={"q": 2}, output="two", expected="deux", scores={"exact": 0}, id="row-2")
exp.log_feedback(id="row-2", scores={"exact": 0.5}, expected="two", comment="close enough", metadata={"by": "reviewer"})

with exp.start_span(name="manual", input={"q": 3}) as span:
    span.log(output="three", scores={"exact": 1})


@traced
def answer(q):
    return str(q)


with exp.start_span(name="with-child", input={"q": 4}) as span:
    span.log(output=answer(4), scores={"exact": 1})

print(exp.summarize(summarize_scores=False))

more = braintrust.init(project=PROJECT, experiment="options", update=True)
more.log(input={"q": 5}, output="five", scores={"exact": 1}, id="row-5")
more.flush()

opened = braintrust.init(project=PROJECT, experiment="options", open=True)
rows = sorted((r.get("input") or {}).get("q", 0) for r in opened.fetch() if not r.get("span_parents"))
print("fetched roots:", rows)
# (0.48.1 yields records only under BRAINTRUST_LEGACY_IDS: it compares a root's trace id with its span id)
records = sorted(((r["input"] or {}).get("q", 0), r["expected"], r["tags"], r["metadata"], sorted(r)) for r in opened.as_dataset())
print("as_dataset records:", records)
