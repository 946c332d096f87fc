"""``Eval`` with scorers reading their trial's trace while 0.48.1's in-process span cache is on
(nothing exported a span, no ``init_function``): ``trace.get_spans()`` answers from it, with
no flush and no request. Spans nested under the task, two trials, filters by type, name, error
and metadata, scorer spans (the last scorer's ``include_scorers=True``), ``get_thread()`` (a
preprocessor invoke, which leaves the cache on), a sync scorer on its own loop. Prints what
each scorer saw: span ids as span names, start/end times as the metric names present, errors
as their last line."""

import asyncio
import json

import braintrust


def seen(label, trial, spans):
    names = {span.span_id: (span.span_attributes or {}).get("name") for span in spans}
    shown = []
    for span in spans:
        fields = span.to_dict()
        fields.pop("span_id")
        if "span_parents" in fields:
            fields["span_parents"] = [names.get(parent, "<not in the answer>") for parent in fields["span_parents"]]
        if "metrics" in fields:
            fields["metrics"] = {k: v for k, v in fields["metrics"].items() if k not in ("start", "end")} | {
                "has": sorted(k for k in fields["metrics"] if k in ("start", "end"))}
        fields.get("span_attributes", {}).pop("exec_counter", None)
        if "error" in fields:
            fields["error"] = fields["error"].strip().splitlines()[-1]  # (a traceback: its last line)
        shown.append(fields)
    print(label, trial, json.dumps(shown, sort_keys=True))


def task(input, hooks):
    with braintrust.start_span(name="retrieve", type="tool") as span:
        span.log(input={"q": input}, output=[input, input + 1], metadata={"source": "kb", "rank": {"top": 1}})
        with braintrust.start_span(name="rerank", type="function") as inner:
            inner.log(output="draft", tags=["a"])
            inner.log(output=None, metadata={"kept": True}, tags=["b", "a"])  # (None keeps "draft")
    with braintrust.start_span(name="answer", type="llm") as llm:
        llm.log(input=[{"role": "user", "content": f"q{input}"}], output={"role": "assistant", "content": "ok"},
                metrics={"prompt_tokens": 3, "completion_tokens": 1})
    try:
        with braintrust.start_span(name="flaky", type="tool"):
            raise ValueError("tool down")
    except ValueError:
        pass
    hooks.metadata["answered"] = True
    return input * 10


async def spans_seen(input, trace):
    trial = f"input={input}"
    seen("all", trial, await trace.get_spans())
    seen("llm", trial, await trace.get_spans(["llm"]))
    seen("tools", trial, await trace.get_spans(span_type=["tool", "function"]))
    seen("named", trial, await trace.get_spans(filters={"name": ["rerank", "task"]}))
    seen("errors", trial, await trace.get_spans(filters={"has_error": True}))
    seen("metadata", trial, await trace.get_spans(filters={"metadata": {"rank": {"top": 1}}}))
    seen("none", trial, await trace.get_spans(filters={"span_type": []}))
    return 1.0


async def thread_seen(input, trace):
    print("thread", f"input={input}", json.dumps(await trace.get_thread()))
    seen("after thread", f"input={input}", await trace.get_spans(["llm"]))
    return 1.0


def on_its_own_loop(input, trace):
    seen("sync", f"input={input}", asyncio.run(trace.get_spans(["task"])))
    return 1.0


async def with_scorers(input, trace):
    seen("scorers", f"input={input}", await trace.get_spans(include_scorers=True, filters={"span_type": ["score", "task"]}))
    return 1.0


braintrust.Eval("capture-eval-trace-cache",
                data=[{"input": 1, "expected": 10, "metadata": {"case": "one"}, "tags": ["t1"]}, {"input": 2, "expected": 20}],
                task=task, scores=[spans_seen, thread_seen, with_scorers], max_concurrency=1, trial_count=2)
braintrust.Eval("capture-eval-trace-cache", data=[{"input": 3}], task=task, scores=[on_its_own_loop])
