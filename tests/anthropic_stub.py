"""A deterministic loopback stand-in for Anthropic's Messages API: a plain answer, a tool call,
server tool calls (web search), streamed answers, an unknown model's 400, a stream failing
halfway (model ``overloaded-midstream``).

Used by ``tests/data/captures/scenario_anthropic.py`` (run by both SDKs) and by the
``wrap_anthropic`` tests. ``AnthropicStub`` records each request body.
"""

from __future__ import annotations

import json

from loopback_stub import LoopbackStub

USAGE = {"input_tokens": 12, "output_tokens": 5, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 4}


#: The answer to a request with a server tool (web search): two searches, the second failed,
#: with the usage details such answers carry.
SERVER_TOOL_CONTENT = [
    {"type": "text", "text": "Searching."},
    {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "weather Paris"}},
    {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [
        {"type": "web_search_result", "url": "https://example.com/weather", "title": "Weather", "encrypted_content": "e1",
         "page_age": None}]},
    {"type": "server_tool_use", "id": "srvtoolu_2", "name": "web_search", "input": {"query": "again"}},
    {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_2",
     "content": {"type": "web_search_tool_result_error", "error_code": "max_uses_exceeded"}},
    {"type": "text", "text": "It is sunny."},
]
SERVER_TOOL_USAGE = {**USAGE, "cache_creation": {"ephemeral_5m_input_tokens": 1, "ephemeral_1h_input_tokens": 2},
                     "server_tool_use": {"web_search_requests": 2}, "service_tier": "standard"}


def message_answer(body):
    if body["model"] == "missing-model":
        return 400, {"type": "error", "error": {"type": "invalid_request_error", "message": "model: missing-model"}}
    if any(str(tool.get("type", "")).startswith("web_search") for tool in body.get("tools") or []):
        return 200, {"id": "msg_3", "type": "message", "role": "assistant", "model": body["model"], "content": SERVER_TOOL_CONTENT,
                     "stop_reason": "end_turn", "stop_sequence": None, "usage": SERVER_TOOL_USAGE}
    if body.get("tools"):
        content = [{"type": "text", "text": "Let me check."},
                   {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]
        stop = "tool_use"
    else:
        content = [{"type": "text", "text": "The answer is 4."}]
        stop = "end_turn"
    return 200, {"id": "msg_1", "type": "message", "role": "assistant", "model": body["model"], "content": content,
                 "stop_reason": stop, "stop_sequence": None, "usage": USAGE}


def message_stream(body):
    start = {"id": "msg_2", "type": "message", "role": "assistant", "model": body["model"], "content": [],
             "stop_reason": None, "stop_sequence": None, "usage": {**USAGE, "output_tokens": 1}}
    events = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "The answer"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " is 4."}},
        {"type": "content_block_stop", "index": 0},
    ]
    if body["model"] == "overloaded-midstream":  # the stream fails after its first text, as the API's can
        return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events[:3] + [
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}])
    stop = "end_turn"
    if body.get("tools"):  # a tool call, its input streamed as JSON fragments
        events += [
            {"type": "content_block_start", "index": 1,
             "content_block": {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}}},
            {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"city\": "}},
            {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "\"Paris\"}"}},
            {"type": "content_block_stop", "index": 1},
        ]
        stop = "tool_use"
    events += [
        {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": 5}},
        {"type": "message_stop"},
    ]
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)


class AnthropicStub(LoopbackStub):
    """The stub; ``base_url`` is what ``Anthropic(base_url=...)`` takes."""

    def __init__(self):
        super().__init__()
        self.base_url = self.url

    def answer(self, handler, path, body):
        if body.get("stream") and body["model"] != "missing-model":
            return handler.send(200, message_stream(body).encode(), "text/event-stream")
        status, answer = message_answer(body)
        handler.send(status, json.dumps(answer).encode(), "application/json")
