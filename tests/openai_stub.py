"""A deterministic loopback stand-in for the OpenAI API: chat completions (plain, streamed, with
tools, an unknown model's 400), the Responses API (with tool calls when given tools), embeddings and moderations.

Used by ``tests/data/captures/scenario_openai.py`` (run by both SDKs) and by the ``wrap_openai``
tests. ``OpenAIStub`` records each request body; ``cut_stream_after`` makes streamed answers stop
after that many chunks with the connection closed, as a dropped connection would.
"""

from __future__ import annotations

import json

from loopback_stub import LoopbackStub

USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17,
         "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 0}}


def chat_answer(body):
    if body["model"] == "missing-model":
        return 400, {"error": {"message": "The model `missing-model` does not exist", "type": "invalid_request_error",
                               "param": "model", "code": "model_not_found"}}
    if body.get("tools"):
        message = {"role": "assistant", "content": None, "refusal": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]}
        finish = "tool_calls"
    elif body.get("response_format"):  # structured output: JSON of the schema asked for
        message = {"role": "assistant", "content": "{\"answer\": \"4\", \"confident\": true}", "refusal": None}
        finish = "stop"
    else:
        message = {"role": "assistant", "content": "The answer is 4.", "refusal": None}
        finish = "stop"
    return 200, {"id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": body["model"],
                 "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                 "usage": USAGE, "system_fingerprint": "fp_1"}


def chat_stream(body):
    base = {"id": "chatcmpl-2", "object": "chat.completion.chunk", "created": 1700000000, "model": body["model"],
            "system_fingerprint": "fp_1"}
    if body.get("tools"):  # a tool call whose arguments arrive in pieces, as OpenAI streams them
        deltas = [{"role": "assistant", "content": None, "tool_calls": [
                      {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]},
                  {"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\": "}}]},
                  {"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}]
        finish = "tool_calls"
    else:
        deltas = [{"role": "assistant", "content": ""}, {"content": "The answer"}, {"content": " is 4."}]
        finish = "stop"
    # n choices (default 1), their chunks interleaved; the texts of choices after the first end in " (i)".
    choices = range(body.get("n") or 1)

    def of_choice(delta, i):
        return {**delta, "content": f"{delta['content']} ({i})"} if i and delta.get("content") else delta

    chunks = [{**base, "choices": [{"index": i, "delta": of_choice(d, i), "finish_reason": None, "logprobs": None}]}
              for d in deltas for i in choices]
    chunks += [{**base, "choices": [{"index": i, "delta": {}, "finish_reason": finish, "logprobs": None}]} for i in choices]
    if (body.get("stream_options") or {}).get("include_usage"):
        chunks.append({**base, "choices": [], "usage": USAGE})
    return "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"


#: The output items a Responses answer to a request with tools adds: a function call, a web
#: search and an MCP call that failed.
RESPONSE_TOOL_ITEMS = [
    {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather",
     "arguments": "{\"city\": \"Paris\"}", "status": "completed"},
    {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "weather Paris"}},
    {"type": "mcp_call", "id": "mcp_1", "server_label": "wiki", "name": "ask", "arguments": "{\"q\": \"rain\"}",
     "output": None, "error": "{\"code\": 503}"},
]


def responses_answer(body):
    structured = ((body.get("text") or {}).get("format") or {}).get("type") == "json_schema"
    text = "{\"answer\": \"Paris\", \"confident\": true}" if structured else "Paris."
    return {"id": "resp_1", "object": "response", "created_at": 1700000000, "status": "completed", "model": body["model"],
            "output": [{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                        "content": [{"type": "output_text", "text": text, "annotations": []}]},
                       *(RESPONSE_TOOL_ITEMS if body.get("tools") else [])],
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "error": None, "incomplete_details": None,
            "instructions": body.get("instructions"), "metadata": {}, "temperature": 1.0, "top_p": 1.0,
            "usage": {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12,
                      "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}}


def embeddings_answer(body):
    return {"object": "list", "model": body["model"], "usage": {"prompt_tokens": 3, "total_tokens": 3},
            "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5, 0.125]}]}


def moderations_answer(body):
    return {"id": "modr-1", "model": "omni-moderation-latest", "results": [
        {"flagged": False, "categories": {"harassment": False, "violence": False},
         "category_scores": {"harassment": 0.001, "violence": 0.002}}]}


def responses_stream(body):
    done = responses_answer(body)
    item = done["output"][0]
    text = item["content"][0]["text"]
    part = {"type": "output_text", "text": "", "annotations": []}
    events = [
        {"type": "response.created", "response": {**done, "status": "in_progress", "output": [], "usage": None}},
        {"type": "response.output_item.added", "output_index": 0, "item": {**item, "status": "in_progress", "content": []}},
        {"type": "response.content_part.added", "item_id": "msg_1", "output_index": 0, "content_index": 0, "part": part},
        {"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": text,
         "logprobs": []},
        {"type": "response.output_text.done", "item_id": "msg_1", "output_index": 0, "content_index": 0, "text": text,
         "logprobs": []},
        {"type": "response.content_part.done", "item_id": "msg_1", "output_index": 0, "content_index": 0,
         "part": {**part, "text": text}},
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": done},
    ]
    numbered = [{**event, "sequence_number": n} for n, event in enumerate(events)]
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in numbered)


class OpenAIStub(LoopbackStub):
    """The stub; ``base_url`` is what ``OpenAI(base_url=...)`` takes.

    ``chat_answer(body) -> dict``: the chat completion to answer instead of the default one.
    """

    def __init__(self, chat_answer=None, cut_stream_after=None):
        super().__init__()
        self.chat_answer = chat_answer
        self.cut_stream_after = cut_stream_after
        self.base_url = f"{self.url}/v1"

    def answer(self, handler, path, body):
        path = path.split("?", 1)[0]  # (the beta namespace adds ?beta=true)
        if path in ("/v1/chat/completions", "/v1/responses") and body.get("stream"):
            text = chat_stream(body) if path == "/v1/chat/completions" else responses_stream(body)
            if self.cut_stream_after is None:
                return handler.send(200, text.encode(), "text/event-stream")
            # A connection dropped mid-answer: fewer bytes than announced.
            data = "".join(event + "\n\n" for event in text.split("\n\n")[: self.cut_stream_after]).encode()
            return handler.send(200, data, "text/event-stream", announced_bytes=len(data) + 100)
        if path == "/v1/chat/completions" and self.chat_answer is not None:
            status, answer = 200, self.chat_answer(body)
        else:
            status, answer = {
                "/v1/chat/completions": chat_answer,
                "/v1/responses": lambda b: (200, responses_answer(b)),
                "/v1/embeddings": lambda b: (200, embeddings_answer(b)),
                "/v1/moderations": lambda b: (200, moderations_answer(b)),
            }[path](body)
        handler.send(status, json.dumps(answer).encode(), "application/json")
