"""invoke: functions of the test server's stand-in library (tests/btserver/functions.py) called by
slug, by id and as a global function, with input, messages, metadata, tags, mode and strict; streamed
as text and as JSON (every chunk kind printed, then final_value()); a function that fails, and one
whose stream fails halfway; calls under a span, under @traced and with an explicit parent (their
"parent" slugs); init_function. Public API only."""
import braintrust
from braintrust import BraintrustInvokeError, init_function, invoke, traced

PROJECT = "recorder-functions"


def describe(chunk):
    fields = {k: v for k, v in vars(chunk).items() if k != "type"}
    return f"{chunk.type} {fields}"


print("echo:", invoke(project_name=PROJECT, slug="echo", input={"a": [1, 2]}))
print("classify:", invoke(project_name=PROJECT, slug="classify", input="I love it", metadata={"source": "scenario"},
                          tags=["smoke"], strict=True))
print("messages:", invoke(project_name=PROJECT, slug="shout", messages=[{"role": "user", "content": "hi there"}], mode="auto"))
print("by id:", invoke(function_id="echo", version="3", input="x"))
print("global:", invoke(global_function="classify", function_type="scorer", input="thanks"))

for chunk in invoke(project_name=PROJECT, slug="shout", input="streamed words", stream=True):
    print("chunk:", describe(chunk))
print("text final:", repr(invoke(project_name=PROJECT, slug="shout", input="streamed words", stream=True).final_value()))
print("json final:", invoke(project_name=PROJECT, slug="classify", input="great", stream=True).final_value())

try:
    invoke(project_name=PROJECT, slug="fail", input=1)
except BraintrustInvokeError as exc:
    print("fail:", type(exc).__name__, isinstance(exc, ValueError))
try:
    invoke(project_name=PROJECT, slug="stream-error", input="abc", stream=True).final_value()
except Exception as exc:  # noqa: BLE001 - the kind of error is part of what is recorded
    print("stream error:", type(exc).__name__, exc)

logger = braintrust.init_logger(project=PROJECT)
with logger.start_span(name="calls a function") as span:
    print("under span:", invoke(project_name=PROJECT, slug="echo", input="in span"))
    exported = span.export()


@traced
def pipeline(text):
    return invoke(project_name=PROJECT, slug="classify", input=text)


print("traced:", pipeline("good stuff"))
print("explicit parent:", invoke(project_name=PROJECT, slug="echo", input="p", parent=exported))
print("logger parent:", invoke(project_name=PROJECT, slug="echo", input="l", parent=logger))

classify = init_function(PROJECT, "classify")
print("init_function:", classify(input="love"))

braintrust.flush()
print("flushed")
