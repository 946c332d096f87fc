"""Streams of wrapped OpenAI and Anthropic clients that their callers do not finish: a stream
helper never entered, a stream dropped unread or half read (collected, or still held when the
process exits), an error in an OpenAI stream helper's block; and wrapped streams passing for the
clients' own stream classes. Real clients talk to the loopback stubs (tests/openai_stub.py,
tests/anthropic_stub.py); rows go to the loopback Braintrust server."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import anthropic
import openai
import pytest
from anthropic import Anthropic, AsyncAnthropic
from openai import AsyncOpenAI, OpenAI

import braintrust
from braintrust import wrap_anthropic, wrap_openai
from braintrust.wrappers.calls import AT_EXIT, DROPPED, UNFINISHED, TracedAsyncStream, TracedStream, settle_dropped

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from anthropic_stub import AnthropicStub  # noqa: E402
from openai_stub import OpenAIStub  # noqa: E402

QUESTION = [{"role": "user", "content": "What is 2+2?"}]


@pytest.fixture
def stubs():
    with OpenAIStub() as openai_stub, AnthropicStub() as anthropic_stub:
        yield {"openai": openai_stub, "anthropic": anthropic_stub}


@pytest.fixture
def logger(bt_logs):
    return braintrust.init_logger(project="wrapped-streams")


def openai_client(stubs, cls=OpenAI):
    return wrap_openai(cls(api_key="sk-stub", base_url=stubs["openai"].base_url, max_retries=0))


def anthropic_client(stubs, cls=Anthropic):
    return wrap_anthropic(cls(api_key="sk-stub", base_url=stubs["anthropic"].base_url, max_retries=0))


# -- a stream helper never entered -------------------------------------------------------------

HELPERS = {
    "openai": lambda stubs: openai_client(stubs).chat.completions.stream(model="m", messages=QUESTION),
    "anthropic": lambda stubs: anthropic_client(stubs).messages.stream(model="m", max_tokens=10, messages=QUESTION),
}


@pytest.mark.parametrize("provider", HELPERS)
def test_a_stream_helper_never_entered_sends_no_request_and_records_nothing(bt_logs, logger, stubs, provider):
    manager = HELPERS[provider](stubs)
    del manager
    gc.collect()
    assert settle_dropped()
    bt_logs.flush()
    assert stubs[provider].requests == []  # (the client sends the request on entering the block)
    assert bt_logs.sent_rows() == []


# -- a stream dropped unfinished ---------------------------------------------------------------

#: name -> (a stream handed to the caller, the stub it talks to); each is dropped without being
#: closed. The helpers are entered by hand (``__enter__``), as code that keeps the stream does.
STREAMS = {
    "openai create": (lambda stubs: openai_client(stubs).chat.completions.create(model="m", messages=QUESTION, stream=True),
                      "openai"),
    "openai helper": (lambda stubs: HELPERS["openai"](stubs).__enter__(), "openai"),
    "anthropic create": (lambda stubs: anthropic_client(stubs).messages.create(model="m", max_tokens=10, messages=QUESTION,
                                                                               stream=True), "anthropic"),
    "anthropic helper": (lambda stubs: HELPERS["anthropic"](stubs).__enter__(), "anthropic"),
}


def read_until_the_first_words(stream) -> None:
    for event in stream:
        if "The answer" in repr(event):
            return
    raise AssertionError("the stream ended before its first words")


@pytest.mark.parametrize("read", [False, True], ids=["unread", "half read"])
@pytest.mark.parametrize("way", STREAMS)
def test_a_stream_dropped_unfinished_ends_its_span_when_collected_with_what_arrived(bt_logs, logger, stubs, way, read):
    open_stream, _ = STREAMS[way]
    stream = open_stream(stubs)
    if read:
        read_until_the_first_words(stream)
    del stream
    gc.collect()  # (a helper's stream refers to itself: only the collector frees it)
    assert settle_dropped()  # (the span is ended on the reaper thread)
    (row,) = bt_logs.rows()
    assert row["metrics"]["end"] >= row["metrics"]["start"] and "error" not in row
    assert row["metadata"][UNFINISHED] == DROPPED
    assert ("The answer" in json.dumps(row.get("output"))) is read
    assert "is 4" not in json.dumps(row.get("output"))  # (what arrived only: the rest was never read)


def test_an_async_stream_dropped_unread_ends_its_span_when_collected(bt_logs, logger, stubs):
    async def drop_unread():
        stream = await openai_client(stubs, AsyncOpenAI).chat.completions.create(model="m", messages=QUESTION, stream=True)
        del stream
        helper = await anthropic_client(stubs, AsyncAnthropic).messages.stream(model="m", max_tokens=10, messages=QUESTION).__aenter__()
        del helper
        gc.collect()

    asyncio.run(drop_unread())
    assert settle_dropped()
    rows = bt_logs.rows()
    assert len(rows) == 2
    for row in rows:
        assert row["metrics"]["end"] >= row["metrics"]["start"] and "error" not in row
        assert row["metadata"][UNFINISHED] == DROPPED and "The answer" not in json.dumps(row.get("output"))


def test_a_stream_closed_or_read_to_the_end_has_no_unfinished_note(bt_logs, logger, stubs):
    stream = openai_client(stubs).chat.completions.create(model="m", messages=QUESTION, stream=True)
    read_until_the_first_words(stream)
    stream.close()
    list(anthropic_client(stubs).messages.create(model="m", max_tokens=10, messages=QUESTION, stream=True))
    with HELPERS["anthropic"](stubs) as helper:
        read_until_the_first_words(helper)
    gc.collect()
    assert settle_dropped()
    rows = bt_logs.rows()
    assert len(rows) == 3
    assert all(UNFINISHED not in row["metadata"] and row["metrics"]["end"] >= row["metrics"]["start"] for row in rows)


EXIT_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import braintrust
from anthropic import Anthropic
from openai import OpenAI

braintrust.init_logger(project="exit")
openai_client = braintrust.wrap_openai(OpenAI(api_key="sk-stub", base_url={openai_url!r}, max_retries=0))
anthropic_client = braintrust.wrap_anthropic(Anthropic(api_key="sk-stub", base_url={anthropic_url!r}, max_retries=0))
half_read = openai_client.chat.completions.create(model="m", messages=[{{"role": "user", "content": "q"}}], stream=True)
next(half_read), next(half_read)
unread = anthropic_client.messages.stream(model="m", max_tokens=10, messages=[{{"role": "user", "content": "q"}}]).__enter__()
print("holding both")  # (kept in globals: the process exits with them unfinished)
"""


def test_streams_still_held_unfinished_at_exit_end_their_spans_before_the_exit_time_flush(bt_logs, stubs, tmp_path):
    script = tmp_path / "hold.py"
    script.write_text(textwrap.dedent(EXIT_SCRIPT.format(tests=str(TESTS), openai_url=stubs["openai"].base_url,
                                                         anthropic_url=stubs["anthropic"].base_url)))
    proc = subprocess.run([sys.executable, str(script)], env=dict(os.environ), capture_output=True, text=True, timeout=60)
    # CPython 3.13.0 itself crashes collecting a half-read OpenAI stream at exit, after the
    # exit-time flush (a script with no braintrust in it, only the client, crashes the same way).
    crash_of_3_13_0 = sys.version_info[:3] == (3, 13, 0) and proc.returncode == -signal.SIGSEGV
    assert proc.returncode == 0 or crash_of_3_13_0, proc.stderr
    assert proc.stdout.strip() == "holding both", proc.stderr
    rows = {row["span_attributes"]["name"]: row for row in bt_logs.server.rows("project_logs")}
    assert set(rows) == {"Chat Completion", "anthropic.messages.stream"}
    for row in rows.values():
        assert row["metrics"]["end"] >= row["metrics"]["start"] and "error" not in row
        assert row["metadata"][UNFINISHED] == AT_EXIT
    assert rows["Chat Completion"]["output"][0]["message"]["content"] == "The answer"  # the two chunks read
    assert "The answer" not in json.dumps(rows["anthropic.messages.stream"].get("output"))


COLLECTED_UNDER_THE_QUEUE_LOCK = """
import gc, sys, threading
sys.path.insert(0, {tests!r})
import braintrust
from anthropic import Anthropic
from braintrust.delivery.runtime import get_processor
from braintrust.wrappers.calls import settle_dropped

braintrust.init_logger(project="collected")
client = braintrust.wrap_anthropic(Anthropic(api_key="sk-stub", base_url={anthropic_url!r}, max_retries=0))
helper = client.messages.stream(model="m", max_tokens=10, messages=[{{"role": "user", "content": "q"}}]).__enter__()
del helper
lock = get_processor()._lock
with lock:  # (as when the collector runs while this thread queues a row)
    gc.collect()
assert settle_dropped(10), "the dropped stream's span was not ended"
print("ended")
"""


def test_a_stream_collected_while_its_thread_holds_the_queue_lock_does_not_deadlock(bt_logs, stubs, tmp_path):
    """The collector may free a dropped stream on a thread that holds the lock queueing a row
    takes (it runs wherever memory is allocated): ending the span there, as ``__del__`` once
    did, waited for that lock forever. The span is ended on the reaper thread instead."""
    script = tmp_path / "collect.py"
    script.write_text(textwrap.dedent(COLLECTED_UNDER_THE_QUEUE_LOCK.format(tests=str(TESTS), anthropic_url=stubs["anthropic"].base_url)))
    try:
        proc = subprocess.run([sys.executable, str(script)], env=dict(os.environ), capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the process deadlocked ending a collected stream's span")
    assert proc.returncode == 0 and proc.stdout.strip() == "ended", proc.stderr
    (row,) = bt_logs.server.rows("project_logs")
    assert row["metadata"][UNFINISHED] == DROPPED


# -- passing for the clients' own stream classes -----------------------------------------------


def test_wrapped_streams_pass_for_the_clients_own_stream_classes_and_still_work(bt_logs, logger, stubs):
    client = openai_client(stubs)
    stream = client.chat.completions.create(model="m", messages=QUESTION, stream=True)
    assert isinstance(stream, openai.Stream) and isinstance(stream, TracedStream)
    assert stream.response.status_code == 200
    with stream as entered:
        assert entered is stream
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    assert text == "The answer is 4." and stream.response.is_closed
    second = client.chat.completions.create(model="m", messages=QUESTION, stream=True)
    assert type(second) is type(stream)  # (one class per stream type)
    second.close()
    raw = client.chat.completions.with_raw_response.create(model="m", messages=QUESTION, stream=True).parse()
    assert isinstance(raw, openai.Stream)
    assert next(raw).choices[0].delta.role == "assistant"
    raw.close()
    events = anthropic_client(stubs).messages.create(model="m", max_tokens=10, messages=QUESTION, stream=True)
    assert isinstance(events, anthropic.Stream) and not isinstance(events, openai.Stream)
    # The client class's own class-level names are the wrapped stream's, not the class defaults.
    assert events._options is events._bt_stream._options is not None
    assert [event.type for event in events][-1] == "message_stop"

    async def run_async():
        async_stream = await openai_client(stubs, AsyncOpenAI).chat.completions.create(model="m", messages=QUESTION, stream=True)
        assert isinstance(async_stream, openai.AsyncStream) and isinstance(async_stream, TracedAsyncStream)
        async with async_stream:
            chunks = [chunk async for chunk in async_stream]
        async_events = await anthropic_client(stubs, AsyncAnthropic).messages.create(model="m", max_tokens=10, messages=QUESTION,
                                                                                    stream=True)
        assert isinstance(async_events, anthropic.AsyncStream)
        await async_events.close()
        return len(chunks)

    assert asyncio.run(run_async()) == 4
    chat, closed, raw_row, created, async_chat, async_closed = bt_logs.rows()
    assert chat["output"][0]["message"]["content"] == "The answer is 4." and "time_to_first_token" in chat["metrics"]
    assert raw_row["output"][0]["message"]["role"] == "assistant"
    assert created["output"]["content"] == [{"type": "text", "text": "The answer is 4."}]
    assert async_chat["output"][0]["message"]["content"] == "The answer is 4."
    for row in (chat, closed, raw_row, created, async_chat, async_closed):
        assert row["metrics"]["end"] >= row["metrics"]["start"] and "error" not in row


# -- an error in an OpenAI stream helper's block -----------------------------------------------

OPENAI_HELPERS = {
    "chat": lambda client: client.chat.completions.stream(model="m", messages=QUESTION),
    "beta chat": lambda client: client.beta.chat.completions.stream(model="m", messages=QUESTION),
    "responses": lambda client: client.responses.stream(model="m", input="Capital of France?"),
}
FULL_ANSWERS = {"chat": "The answer is 4.", "beta chat": "The answer is 4.", "responses": "Paris."}


@pytest.mark.parametrize("read", [True, False], ids=["after reading", "before reading"])
@pytest.mark.parametrize("helper", OPENAI_HELPERS)
def test_an_error_in_an_openai_stream_helpers_block_is_the_spans_error(bt_logs, logger, stubs, helper, read):
    with pytest.raises(RuntimeError, match="parsing failed"):
        with OPENAI_HELPERS[helper](openai_client(stubs)) as stream:
            if read:
                stream.until_done()
            raise RuntimeError("parsing failed")
    (row,) = bt_logs.rows()
    assert "RuntimeError: parsing failed" in row["error"] and row["metrics"]["end"] >= row["metrics"]["start"]
    assert (FULL_ANSWERS[helper] in json.dumps(row.get("output"))) is read


def test_an_error_in_an_async_openai_stream_helpers_block_is_the_spans_error(bt_logs, logger, stubs):
    async def run():
        async with openai_client(stubs, AsyncOpenAI).chat.completions.stream(model="m", messages=QUESTION) as stream:
            await stream.until_done()
            raise RuntimeError("parsing failed")

    with pytest.raises(RuntimeError, match="parsing failed"):
        asyncio.run(run())
    (row,) = bt_logs.rows()
    assert "RuntimeError: parsing failed" in row["error"] and row["output"][0]["message"]["content"] == "The answer is 4."


@pytest.mark.parametrize("provider", HELPERS)
def test_a_stream_helpers_span_info_names_its_span_and_is_not_sent(bt_logs, logger, stubs, provider):
    if provider == "openai":
        manager = openai_client(stubs).chat.completions.stream(model="m", messages=QUESTION, span_info={"name": "judge"})
    else:
        manager = anthropic_client(stubs).messages.stream(model="m", max_tokens=10, messages=QUESTION, span_info={"name": "judge"})
    with manager as stream:
        stream.until_done()
    (row,) = bt_logs.rows()
    assert row["span_attributes"]["name"] == "judge" and "span_info" not in stubs[provider].requests[-1][1]
