"""``wrap_anthropic``'s ``messages.stream(...)`` helper where it differed from the public SDK 0.48.1
(found by running the same scripts with both against the test server): a helper stream whose
events fail while its block catches the error, and a helper entered by hand, read to its end and
dropped. A real anthropic client talks to the loopback stub (tests/anthropic_stub.py)."""

from __future__ import annotations

import asyncio
import gc

import pytest
from anthropic import APIStatusError, AsyncAnthropic

from braintrust.wrappers.calls import settle_dropped

# (the stub server, the logger and a wrapped client pointed at the stub, as test_wrap_anthropic makes them)
from test_wrap_anthropic import client_for, logger, stub  # noqa: F401

QUESTION = [{"role": "user", "content": "What is 2+2?"}]
UNFINISHED = "stream_unfinished"


def test_a_helper_stream_that_fails_is_the_spans_error_even_when_its_block_catches_it(bt_logs, logger, stub):
    # 0.48.1 logs the stream's failure on the span as the events raise it; the block going on
    # (and leaving cleanly) does not make the failed call a success.
    with client_for(stub).messages.stream(model="overloaded-midstream", max_tokens=10, messages=QUESTION) as stream:
        with pytest.raises(APIStatusError):
            stream.get_final_message()
    (row,) = bt_logs.rows()
    assert "overloaded_error" in row["error"]
    assert row["output"]["content"] == [{"type": "text", "text": "The answer"}]
    assert row["metrics"]["time_to_first_token"] >= 0


def test_an_async_helper_stream_that_fails_is_the_spans_error_even_when_its_block_catches_it(bt_logs, logger, stub):
    async def run():
        client = client_for(stub, AsyncAnthropic)
        async with client.messages.stream(model="overloaded-midstream", max_tokens=10, messages=QUESTION) as stream:
            with pytest.raises(APIStatusError):
                async for _ in stream.text_stream:
                    pass

    asyncio.run(run())
    (row,) = bt_logs.rows()
    assert "overloaded_error" in row["error"]
    assert row["output"]["content"] == [{"type": "text", "text": "The answer"}]


def test_a_helper_entered_by_hand_read_to_its_end_and_dropped_is_not_unfinished(bt_logs, logger, stub):
    # Its block is never left, so the span ends when the stream is collected; the stream was read
    # to its end, so nothing is missing (0.48.1 logs no such note either).
    stream = client_for(stub).messages.stream(model="m", max_tokens=10, messages=QUESTION).__enter__()
    assert stream.get_final_text() == "The answer is 4."
    del stream
    gc.collect()
    assert settle_dropped()
    (row,) = bt_logs.rows()
    assert UNFINISHED not in (row.get("metadata") or {}) and "error" not in row
    assert row["output"]["stop_reason"] == "end_turn" and row["metrics"]["tokens"] == 21.0


def test_an_async_helper_entered_by_hand_read_to_its_end_and_dropped_is_not_unfinished(bt_logs, logger, stub):
    async def run():
        manager = client_for(stub, AsyncAnthropic).messages.stream(model="m", max_tokens=10, messages=QUESTION)
        stream = await manager.__aenter__()
        return await stream.get_final_text()

    assert asyncio.run(run()) == "The answer is 4."
    gc.collect()
    assert settle_dropped()
    (row,) = bt_logs.rows()
    assert UNFINISHED not in (row.get("metadata") or {}) and "error" not in row
    assert row["output"]["stop_reason"] == "end_turn"


def test_a_helper_entered_by_hand_and_dropped_half_read_is_still_unfinished(bt_logs, logger, stub):
    stream = client_for(stub).messages.stream(model="m", max_tokens=10, messages=QUESTION).__enter__()
    assert next(iter(stream.text_stream)) == "The answer"
    del stream
    gc.collect()
    assert settle_dropped()
    (row,) = bt_logs.rows()
    assert UNFINISHED in row["metadata"] and row["output"]["content"] == [{"type": "text", "text": "The answer"}]
