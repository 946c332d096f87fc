"""A deterministic loopback stand-in for the OpenAI API: chat completions (plain, streamed, with
tools, an unknown model's 400), the Responses API (with tool calls when given tools), embeddings and moderations;
images (generations as JSON; edits and variations as multipart uploads) and audio (speech as bytes;
transcriptions and translations as multipart uploads answered as JSON, text or, streamed, events).

Used by ``tests/data/captures/scenario_openai.py`` (run by both SDKs) and by the ``wrap_openai``
tests. ``OpenAIStub`` records each request body; ``cut_stream_after`` makes streamed answers stop
after that many chunks with the connection closed, as a dropped connection would.
"""

from __future__ import annotations

import base64
import json
from email.parser import BytesParser

from loopback_stub import LoopbackStub, StubHandler

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


def responses_answer(body, extra=None):
    structured = ((body.get("text") or {}).get("format") or {}).get("type") == "json_schema"
    text = "{\"answer\": \"Paris\", \"confident\": true}" if structured else "Paris."
    return {"id": "resp_1", "object": "response", "created_at": 1700000000, "status": "completed", "model": body["model"],
            "output": [{"type": "message", "id": "msg_1", "status": "completed", "role": "assistant",
                        "content": [{"type": "output_text", "text": text, "annotations": []}]},
                       *(RESPONSE_TOOL_ITEMS if body.get("tools") else [])],
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "error": None, "incomplete_details": None,
            "instructions": body.get("instructions"), "metadata": {}, "temperature": 1.0, "top_p": 1.0,
            "usage": {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12,
                      "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}},
            **(extra or {})}


def embeddings_answer(body):
    return {"object": "list", "model": body["model"], "usage": {"prompt_tokens": 3, "total_tokens": 3},
            "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5, 0.125]}]}


def moderations_answer(body):
    return {"id": "modr-1", "model": "omni-moderation-latest", "results": [
        {"flagged": False, "categories": {"harassment": False, "violence": False},
         "category_scores": {"harassment": 0.001, "violence": 0.002}}]}


def responses_stream(body, extra=None):
    done = responses_answer(body, extra)
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


#: What the image and audio endpoints answer: a tiny PNG (its bytes, as b64_json) and "speech".
IMAGE_BYTES = b"\x89PNG\r\n\x1a\n stub pixels"
SPEECH_BYTES = b"ID3\x04\x00 stub speech"
TRANSCRIPT = "Hello from the stub."
AUDIO_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "opus": "audio/opus", "aac": "audio/aac", "flac": "audio/flac",
               "pcm": "audio/pcm"}


def multipart_fields(content_type: str, data: bytes) -> dict:
    """A multipart/form-data body as ``{name: value}``: text fields as strings, files as
    ``{"filename", "content_type", "size"}``; a name sent more than once (``image[]``) as a list."""
    message = BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + data)
    fields: dict = {}
    for part in message.get_payload():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        filename = part.get_filename()
        value = ({"filename": filename, "content_type": part.get_content_type(), "size": len(payload)}
                 if filename is not None else payload.decode())
        if name in fields:
            fields[name] = (fields[name] if isinstance(fields[name], list) else [fields[name]]) + [value]
        else:
            fields[name] = [value] if name.endswith("[]") else value
    return fields


class MediaStubHandler(StubHandler):
    """The stub's handler: JSON bodies, and also multipart uploads (sent with a length or chunked);
    every answer carries the stub's ``headers``."""

    def end_headers(self):
        for name, value in (getattr(self.server.stub, "headers", None) or {}).items():
            self.send_header(name, value)
        super().end_headers()

    def do_POST(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                chunk = self.rfile.read(size + 2)[:size]
                if not size:
                    break
                data += chunk
        else:
            data = self.rfile.read(int(self.headers["Content-Length"]))
        content_type = self.headers.get("Content-Type", "")
        body = multipart_fields(content_type, data) if content_type.startswith("multipart/") else json.loads(data)
        self.server.stub.requests.append((self.path, body))
        self.server.stub.answer(self, self.path, body)

    def do_GET(self):
        """``GET /v1/responses/<id>?stream=true``: a stored response streamed again (``responses.stream(response_id=...)``)."""
        self.server.stub.requests.append((self.path, None))
        path, _, query = self.path.partition("?")
        if path.startswith("/v1/responses/") and "stream=true" in query:
            extra = {**(self.server.stub.responses_extra or {}), "id": path.rsplit("/", 1)[1]}
            return self.send(200, responses_stream({"model": "m"}, extra).encode(), "text/event-stream")
        self.send(404, b'{"error": {"message": "not found"}}', "application/json")


def missing_model(body):
    return {"error": {"message": f"The model `{body.get('model')}` does not exist", "type": "invalid_request_error",
                      "param": "model", "code": "model_not_found"}}


def images_answer(body):
    """An images answer: URLs when ``response_format="url"`` (DALL-E), else base64 PNGs; a
    ``gpt-image-*`` model adds its usage and the image's format, quality and size."""
    n = int(body.get("n") or 1)
    revised = {"revised_prompt": f"A revised {body['prompt']}"} if body.get("prompt") else {}
    if body.get("response_format") == "url":
        data = [{"url": f"https://images.example.com/img-{i}.png", **revised} for i in range(n)]
    else:
        data = [{"b64_json": base64.b64encode(IMAGE_BYTES).decode(), **revised} for i in range(n)]
    answer = {"created": 1700000000, "data": data}
    if str(body.get("model") or "").startswith("gpt-image"):
        answer.update(background="opaque", output_format=body.get("output_format") or "png", quality=body.get("quality") or "low",
                      size=body.get("size") or "1024x1024",
                      usage={"input_tokens": 20, "output_tokens": 272, "total_tokens": 292,
                             "input_tokens_details": {"image_tokens": 10, "text_tokens": 10}})
    return answer


def images_stream(body):
    """A streamed generation: one partial image, then the completed one."""
    image = base64.b64encode(IMAGE_BYTES).decode()
    common = {"b64_json": image, "background": "opaque", "created_at": 1700000000, "output_format": "png",
              "quality": "low", "size": "1024x1024"}
    events = [{"type": "image_generation.partial_image", "partial_image_index": 0, **common},
              {"type": "image_generation.completed", **common, "usage": {
                  "input_tokens": 20, "output_tokens": 272, "total_tokens": 292,
                  "input_tokens_details": {"image_tokens": 10, "text_tokens": 10}}}]
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events)


def transcription_answer(body, translated=False):
    """``(data, content type)`` per ``response_format``: JSON (a ``gpt-4o`` model's with token
    usage, whisper's with seconds; none for translations), ``verbose_json`` with segments, or text."""
    fmt = body.get("response_format") or "json"
    if fmt in ("text", "srt", "vtt"):
        text = TRANSCRIPT if fmt == "text" else f"1\n00:00:00,000 --> 00:00:02,000\n{TRANSCRIPT}"
        return (text + "\n").encode(), "text/plain"
    answer: dict = {"text": TRANSCRIPT}
    if fmt == "verbose_json":
        answer = {"task": "translate" if translated else "transcribe", "language": "english", "duration": 2.0,
                  "text": TRANSCRIPT, "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": 2.0, "text": TRANSCRIPT,
                                                    "tokens": [1, 2, 3], "temperature": 0.0, "avg_logprob": -0.2,
                                                    "compression_ratio": 0.9, "no_speech_prob": 0.01}]}
    if not translated:
        answer["usage"] = ({"type": "tokens", "input_tokens": 14, "output_tokens": 5, "total_tokens": 19,
                            "input_token_details": {"text_tokens": 0, "audio_tokens": 14}}
                           if str(body.get("model")).startswith("gpt-4o") else {"type": "duration", "seconds": 2})
    return json.dumps(answer).encode(), "application/json"


def transcription_stream(body):
    words = ["Hello", " from", " the", " stub."]
    events = [{"type": "transcript.text.delta", "delta": word} for word in words]
    events.append({"type": "transcript.text.done", "text": "".join(words), "usage": {
        "type": "tokens", "input_tokens": 14, "output_tokens": 5, "total_tokens": 19,
        "input_token_details": {"text_tokens": 0, "audio_tokens": 14}}})
    return "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"


MEDIA_PATHS = ("/v1/images/generations", "/v1/images/edits", "/v1/images/variations", "/v1/audio/speech",
               "/v1/audio/transcriptions", "/v1/audio/translations")


def media_answer(handler, path, body):
    """Answer an images or audio request (``missing-model``: a 400)."""
    if body.get("model") == "missing-model":
        return handler.send(400, json.dumps(missing_model(body)).encode(), "application/json")
    if path == "/v1/images/generations" and body.get("stream"):
        return handler.send(200, images_stream(body).encode(), "text/event-stream")
    if path.startswith("/v1/images/"):
        return handler.send(200, json.dumps(images_answer(body)).encode(), "application/json")
    if path == "/v1/audio/speech":
        fmt = body.get("response_format") or "mp3"
        return handler.send(200, SPEECH_BYTES, AUDIO_TYPES.get(fmt, f"audio/{fmt}"))
    if body.get("stream") == "true":
        return handler.send(200, transcription_stream(body).encode(), "text/event-stream")
    handler.send(200, *transcription_answer(body, translated=path == "/v1/audio/translations"))


class OpenAIStub(LoopbackStub):
    """The stub; ``base_url`` is what ``OpenAI(base_url=...)`` takes.

    ``chat_answer(body) -> dict``: the chat completion to answer instead of the default one;
    ``chat_chunks(body) -> list[dict]``: the chunks of a streamed one; ``responses_extra``: fields
    added to every Responses answer (streamed: to its terminal event's response); ``headers``:
    response headers added to every answer (the AI proxy's ``x-bt-cached``, say).
    """

    def __init__(self, chat_answer=None, cut_stream_after=None, chat_chunks=None, responses_extra=None, headers=None):
        super().__init__()
        self.chat_answer = chat_answer
        self.chat_chunks = chat_chunks
        self.responses_extra = responses_extra
        self.headers = headers
        self.cut_stream_after = cut_stream_after
        self.base_url = f"{self.url}/v1"
        self._server.RequestHandlerClass = MediaStubHandler  # (multipart uploads too)

    def answer(self, handler, path, body):
        path = path.split("?", 1)[0]  # (the beta namespace adds ?beta=true)
        if path in MEDIA_PATHS:
            return media_answer(handler, path, body)
        if path in ("/v1/chat/completions", "/v1/responses") and body.get("stream"):
            if path == "/v1/responses":
                text = responses_stream(body, self.responses_extra)
            elif self.chat_chunks is not None:
                text = "".join(f"data: {json.dumps(c)}\n\n" for c in self.chat_chunks(body)) + "data: [DONE]\n\n"
            else:
                text = chat_stream(body)
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
                "/v1/responses": lambda b: (200, responses_answer(b, self.responses_extra)),
                "/v1/embeddings": lambda b: (200, embeddings_answer(b)),
                "/v1/moderations": lambda b: (200, moderations_answer(b)),
            }[path](body)
        handler.send(status, json.dumps(answer).encode(), "application/json")
