"""``POST /function/invoke`` of the test server (braintrust-api.md §13): stand-in functions.

The service runs the function the body names; this server runs one of a few deterministic
stand-ins, chosen by the ``slug`` (or ``function_id``, or ``global_function``) and recorded with
the request like any other:

* ``echo``: answers the input as given;
* ``shout``: the input (or the last message's content) upper-cased, as text;
* ``classify``: ``{"label": "positive" | "negative", "score"}`` from the input's text;
* ``fail``: a 500 with ``{"error": ...}`` (an error the function raised);
* ``stream-error``: streams some text, then an ``error`` event;
* ``project_default`` (``function_type: "preprocessor"``, what a scorer's ``trace.get_thread()``
  runs): the conversation of the trace ``input.trace_ref`` names, each ``llm`` span's messages
  then its answer's, in the order the spans started (scorers' spans left out).

With ``"stream": true`` the answer is server-sent events: text as ``text_delta`` events of a few
characters (data: a JSON string), anything else as ``json_delta`` fragments (data: raw JSON),
after a ``console`` and a ``progress`` event, ending with ``done``. An unknown function is a 404.
"""

from __future__ import annotations

import json

from .objects import ApiError


def _text_of(body: dict) -> str:
    value = body.get("input")
    if value is None and body.get("messages"):
        value = body["messages"][-1].get("content")
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _run(name: str, body: dict):
    if name == "echo":
        return body.get("input")
    if name in ("shout", "stream-error"):
        return _text_of(body).upper()
    if name == "classify":
        text = _text_of(body).lower()
        positive = any(word in text for word in ("good", "great", "love", "thanks"))
        return {"label": "positive" if positive else "negative", "score": 0.9 if positive else 0.2}
    if name == "fail":
        raise ApiError(500, "function 'fail' raised: ValueError: deliberately broken")
    raise ApiError(404, f"no function {name!r} on the Braintrust test server (try echo, shout, classify, fail, stream-error)")


def _thread(server, body: dict) -> list:
    ref = (body.get("input") or {}).get("trace_ref") or {}
    spans = [r for r in server.rows(ref.get("object_type"), ref.get("object_id"))
             if r.get("root_span_id") == ref.get("root_span_id") and (r.get("span_attributes") or {}).get("type") == "llm"
             and (r.get("span_attributes") or {}).get("purpose") != "scorer"]
    messages: list = []
    for span in sorted(spans, key=lambda r: r["span_attributes"].get("exec_counter", 0)):
        messages += [m for m in span.get("input") or [] if isinstance(m, dict)]
        messages += [c["message"] for c in span.get("output") or [] if isinstance(c, dict) and "message" in c]
    return messages


def _event(kind: str, data: str) -> bytes:
    return f"event: {kind}\ndata: {data}\n\n".encode()


def _stream(name: str, output, body: dict) -> bytes:
    events = [
        _event("start", ""),
        _event("console", json.dumps({"message": f"running {name}", "stream": "stderr"})),
        _event("progress", json.dumps({"id": "span-1", "object_type": "prompt", "format": "llm", "output_type": "completion",
                                       "name": name, "event": "text_delta", "data": "\"…\""})),
    ]
    if isinstance(output, str):
        events += [_event("text_delta", json.dumps(output[i:i + 4])) for i in range(0, len(output), 4)]
    else:
        encoded = json.dumps(output)
        events += [_event("json_delta", encoded[i:i + 5]) for i in range(0, len(encoded), 5)]
    if name == "stream-error":
        events.append(_event("error", json.dumps("the function failed halfway")))
    events.append(_event("done", ""))
    return b"".join(events)


def invoke(server, request):
    from .handlers import Response, _json_body

    body = _json_body(request)
    name = body.get("slug") or body.get("function_id") or body.get("global_function")
    if not isinstance(name, str):
        raise ApiError(400, "name the function: slug (with project_name or project_id), function_id or global_function")
    output = _thread(server, body) if (name, body.get("function_type")) == ("project_default", "preprocessor") else _run(name, body)
    if body.get("stream"):
        return Response(200, _stream(name, output, body), content_type="text/event-stream")
    return Response(200, json.dumps(output).encode(), content_type="application/json")
