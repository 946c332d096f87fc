"""Logging past the basics: a masking function; init_logger(async_flush=False); logger.log while a
span is open (allow_concurrent_with_spans); the top-level braintrust.log and current_experiment /
current_logger; a row whose values are not JSON (sets, bytes, dataclasses, datetimes, NaN in
metadata, a cycle); update_span on a logger row by its export; logger.start_span with an explicit
id; a span's children under set_current=False. Public API only."""
import dataclasses
import datetime

import braintrust

SECRET = "sk-live-123"


def mask(value):
    if isinstance(value, str):
        return value.replace(SECRET, "[masked]")
    return value


braintrust.set_masking_function(mask)
logger = braintrust.init_logger(project="recorder-logger-options", async_flush=False)
print("current logger is it:", braintrust.current_logger() is logger)

logger.log(input=f"key {SECRET}", output={"said": f"use {SECRET}"}, metadata={"nested": [SECRET, 1]})

with logger.start_span(name="open-span", id="explicit-span-id") as span:
    logger.log(input="while a span is open", output="ok", allow_concurrent_with_spans=True)
    child = span.start_span(name="not-current", set_current=False)
    child.log(output="child")
    child.end()
    exported = span.export()


@dataclasses.dataclass
class Point:
    x: int
    y: int


cyclic = {"name": "loop"}
cyclic["self"] = cyclic
logger.log(
    input={"set": {3}, "bytes": b"\x00\x01", "point": Point(1, 2), "when": datetime.datetime(2026, 1, 2, 3, 4, 5)},
    output={"cycle": cyclic},
    metadata={"ratio": float("nan"), "big": 10 ** 30},
    allow_concurrent_with_spans=True,  # (0.48.1 refuses a logger.log once the logger has started a span)
)
braintrust.update_span(exported, metadata={"reviewed": True})

experiment = braintrust.init(project="recorder-logger-options", experiment="top-level")
print("current experiment is it:", braintrust.current_experiment() is experiment)
braintrust.log(input="via braintrust.log", output="logged", scores={"ok": 1})
experiment.flush()
braintrust.set_masking_function(None)
logger.flush()
print("flushed")
