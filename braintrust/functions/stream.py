"""Streamed function output (braintrust-api.md §13): server-sent events as typed chunks.

``text_delta`` events carry a JSON string, ``json_delta`` a raw fragment of JSON, ``error`` a
JSON string, ``console`` and ``progress`` JSON objects; other events (``start``, ``done``) carry
nothing a caller needs and are skipped. ``BraintrustStream.final_value()`` is the parsed JSON
deltas if any came, else the text, else ``None``; an error chunk raises ``BraintrustInvokeError``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, AsyncIterator, Iterable, Iterator, Literal, Union

__all__ = [
    "BraintrustConsoleChunk", "BraintrustErrorChunk", "BraintrustInvokeError", "BraintrustJsonChunk",
    "BraintrustProgressChunk", "BraintrustStream", "BraintrustStreamChunk", "BraintrustTextChunk", "parse_stream",
]


class BraintrustInvokeError(ValueError):
    """The function failed: Braintrust answered 500, or its stream sent an error."""


@dataclass
class BraintrustTextChunk:
    data: str
    type: Literal["text_delta"] = "text_delta"


@dataclass
class BraintrustJsonChunk:
    data: str
    type: Literal["json_delta"] = "json_delta"


@dataclass
class BraintrustErrorChunk:
    data: str
    type: Literal["error"] = "error"


@dataclass
class BraintrustConsoleChunk:
    message: str
    stream: Literal["stderr", "stdout"]
    type: Literal["console"] = "console"


@dataclass
class BraintrustProgressChunk:
    data: str
    id: str
    object_type: str
    format: str
    output_type: str
    name: str
    event: Literal["json_delta", "text_delta", "reasoning_delta"]
    type: Literal["progress"] = "progress"


BraintrustStreamChunk = Union[BraintrustTextChunk, BraintrustJsonChunk, BraintrustErrorChunk, BraintrustConsoleChunk, BraintrustProgressChunk]
_CHUNK_TYPES = (BraintrustTextChunk, BraintrustJsonChunk, BraintrustErrorChunk, BraintrustConsoleChunk, BraintrustProgressChunk)


def server_sent_events(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``(event, data)`` pairs from the lines of an event stream (the WHATWG rules: ``data``
    lines joined with newlines, one leading space dropped, comments and other fields ignored)."""
    event, data = "", []
    for line in lines:
        if line == "":
            if data or event:
                yield event or "message", "\n".join(data)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data or event:
        yield event or "message", "\n".join(data)


def chunk_of(event: str, data: str) -> BraintrustStreamChunk | None:
    """The chunk an event stands for, or None for events callers do not need. An event that
    does not hold what its kind must raises ``BraintrustInvokeError`` naming it."""
    try:
        return _parsed_chunk(event, data)
    except (ValueError, KeyError, TypeError) as exc:
        raise BraintrustInvokeError(f"the function's stream sent a malformed {event!r} event ({type(exc).__name__}: {exc}): "
                                    f"{data[:200]!r}") from None


def _parsed_chunk(event: str, data: str) -> BraintrustStreamChunk | None:
    if event == "text_delta":
        return BraintrustTextChunk(_string(json.loads(data)))
    if event == "json_delta":
        return BraintrustJsonChunk(data)
    if event == "error":  # (a JSON string; an error sent as plain text is still the function's error)
        try:
            message = json.loads(data)
        except ValueError:
            message = data
        return BraintrustErrorChunk(message if isinstance(message, str) else data)
    if event == "console":
        fields = json.loads(data)
        return BraintrustConsoleChunk(fields["message"], fields["stream"])
    if event == "progress":
        fields = json.loads(data)
        return BraintrustProgressChunk(**{name: fields[name] for name in
                                          ("data", "id", "object_type", "format", "output_type", "name", "event")})
    return None


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a JSON string, got {type(value).__name__}")
    return value


_END = object()


class BraintrustStream:
    """The chunks of a streamed function call, read as they arrive (iterate it once), or
    ``final_value()``. Chunks already read still count towards ``final_value()``. A stream made
    from a list of chunks reads the whole list each time, as 0.48.1's does."""

    def __init__(self, base_stream: Iterable[Any], *, on_close: Any = None):
        self._replay: list[BraintrustStreamChunk] | None = list(base_stream) if isinstance(base_stream, (list, tuple)) \
            and all(isinstance(chunk, _CHUNK_TYPES) for chunk in base_stream) else None
        self._source = iter(base_stream)
        self._seen: list[BraintrustStreamChunk] = []
        self._anext_chunks: Iterator[BraintrustStreamChunk] | None = None
        self._on_close = on_close

    def __iter__(self) -> Iterator[BraintrustStreamChunk]:
        if self._replay is not None:
            yield from self._replay
            return
        for chunk in self._source:
            if not isinstance(chunk, _CHUNK_TYPES):
                chunk = chunk_of(*chunk)  # an (event, data) pair
                if chunk is None:
                    continue
            self._seen.append(chunk)
            yield chunk
        self.close()

    def copy(self) -> "BraintrustStream":
        """A stream of the chunks not read yet, which this one will still give too."""
        if self._replay is not None:
            return BraintrustStream(list(self._replay))
        rest = list(self)
        self._source = iter(rest)
        self._seen = self._seen[: len(self._seen) - len(rest)]
        return BraintrustStream(list(rest))

    def final_value(self) -> Any:
        if self._replay is not None:
            return _final_value(self._replay)
        for _ in self:
            pass
        return _final_value(self._seen)

    async def final_value_async(self) -> Any:
        """``final_value()`` read on a worker thread: the event loop is not blocked."""
        return await asyncio.to_thread(self.final_value)

    def __aiter__(self) -> AsyncIterator[BraintrustStreamChunk]:
        """``async for chunk in stream``: each chunk read on a worker thread."""
        return self._chunks_async()

    async def __anext__(self) -> BraintrustStreamChunk:
        """The next chunk, read on a worker thread (``anext(stream)``)."""
        if self._anext_chunks is None:
            self._anext_chunks = iter(self)
        chunk = await asyncio.to_thread(next, self._anext_chunks, _END)
        if chunk is _END:
            raise StopAsyncIteration
        return chunk

    async def _chunks_async(self) -> AsyncIterator[BraintrustStreamChunk]:
        chunks = iter(self)
        while True:
            chunk = await asyncio.to_thread(next, chunks, _END)
            if chunk is _END:
                return
            yield chunk

    def close(self) -> None:
        if self._on_close is not None:
            on_close, self._on_close = self._on_close, None
            on_close()


def _final_value(chunks: list[BraintrustStreamChunk]) -> Any:
    text, json_parts = [], []
    for chunk in chunks:
        if isinstance(chunk, BraintrustErrorChunk):
            raise BraintrustInvokeError(chunk.data)
        if isinstance(chunk, BraintrustTextChunk):
            text.append(chunk.data)
        elif isinstance(chunk, BraintrustJsonChunk):
            json_parts.append(chunk.data)
    if json_parts:
        text_of_json = "".join(json_parts)
        try:
            return json.loads(text_of_json)
        except ValueError as exc:
            raise BraintrustInvokeError(f"the function's JSON output is not valid JSON ({exc}): {text_of_json[:200]!r}") from None
    if text:
        return "".join(text)
    return None


def parse_stream(stream: BraintrustStream) -> Any:
    """``stream.final_value()``."""
    return stream.final_value()
