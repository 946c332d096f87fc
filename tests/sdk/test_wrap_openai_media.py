"""``wrap_openai`` on the images and audio endpoints beyond the capture scenario
(scenario_openai_media.py, compared in tests/sdk/test_public_sdk_captures.py): uploads still sent
whole, files that cannot be read back, answers of odd shapes, copies of the client, the
resources' own variants, and ``auto_instrument``. A real openai client talks to the loopback stub."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openai import OpenAI

import braintrust
from braintrust import wrap_openai
from braintrust.wrappers.openai_media import _images_result, _speech_result, _transcription_events, logged_file

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))
from openai_stub import OpenAIStub  # noqa: E402

AUDIO = b"ID3\x04\x00 some speech"


@pytest.fixture
def stub():
    with OpenAIStub() as running:
        yield running


@pytest.fixture
def client(bt_logs, stub):
    braintrust.init_logger(project="openai-media-tests")
    return wrap_openai(OpenAI(api_key="sk-stub", base_url=stub.base_url, max_retries=0))


class Unseekable(io.RawIOBase):
    """A file that can be read once only (a pipe, a socket)."""

    name = "pipe.mp3"

    def __init__(self, data: bytes):
        self._data = data

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data, self._data = self._data, b""
        return data

    def tell(self) -> int:
        raise OSError("not seekable")


def test_an_open_file_read_for_its_attachment_is_still_sent_whole(bt_logs, client, stub):
    audio = io.BytesIO(AUDIO)
    audio.name = "/somewhere/voice.mp3"
    client.audio.transcriptions.create(file=audio, model="whisper-1")
    (row,) = bt_logs.rows()
    reference = row["input"]["file"]
    assert (reference["filename"], reference["content_type"]) == ("voice.mp3", "audio/mpeg")
    ((_, sent),) = stub.requests
    assert sent["file"]["size"] == len(AUDIO)


def test_a_file_that_cannot_be_read_back_is_sent_and_not_logged_as_an_attachment(bt_logs, client, stub):
    client.audio.translations.create(file=Unseekable(AUDIO), model="whisper-1")
    (row,) = bt_logs.rows()
    assert row["span_attributes"]["name"] == "Translation" and row["output"] == "Hello from the stub."
    assert not isinstance(row["input"]["file"], dict) or row["input"]["file"].get("type") != "braintrust_attachment"
    ((_, sent),) = stub.requests
    assert sent["file"]["size"] == len(AUDIO)


def test_uploaded_files_are_named_and_typed_as_0_48_1_names_them(tmp_path):
    path = tmp_path / "photo.jpeg"
    path.write_bytes(b"jpeg bytes")
    named = {
        "bytes": logged_file(b"raw"),
        "two-tuple": logged_file(("take.mp3", b"ID3")),
        "typed tuple": logged_file(("x", b"data", "audio/flac")),
        "path": logged_file(path),
        "path as text": logged_file(str(path)),
        "data URL": logged_file("data:image/png;base64,iVBORw=="),
    }
    assert {key: (a.reference["filename"], a.reference["content_type"]) for key, a in named.items()} == {
        "bytes": ("file.bin", "application/octet-stream"), "two-tuple": ("take.mp3", "audio/mpeg"),
        "typed tuple": ("x", "audio/flac"), "path": ("photo.jpeg", "image/jpeg"), "path as text": ("photo.jpeg", "image/jpeg"),
        "data URL": ("image.png", "image/png"),
    }
    assert logged_file("no such file") == "no such file" and logged_file(42) == 42
    assert [a.reference["filename"] for a in logged_file([b"a", ("b.png", b"b")])] == ["file.bin", "b.png"]


def test_answers_of_other_shapes():
    # base64 that does not decode is noted, not logged; another output format names the file
    odd = _images_result({"created": 1, "output_format": "webp", "data": [{"b64_json": "not base64!"}, {"b64_json": "AAAA"}]})
    first, second = odd["output"]["images"]
    assert first == {"b64_json_present": True}
    assert (second["mime_type"], second["image_url"]["url"].reference["filename"]) == ("image/webp", "generated_image_1.webp")
    assert _speech_result(object()) == {"output": {"type": "audio"}}
    # a stream whose text arrived only as segments
    segments = [{"type": "transcript.text.segment", "text": "Hello "}, {"type": "transcript.text.segment", "text": "there."}]
    assert _transcription_events(segments) == {"metrics": {}, "output": "Hello there."}
    assert _transcription_events([]) == {"metrics": {}}


def test_copies_of_the_client_are_traced_and_the_resources_variants_are_not(bt_logs, client):
    copy = client.with_options(timeout=5)
    copy.images.generate(prompt="A copy", model="dall-e-2", response_format="url")
    raw = client.images.with_raw_response.create_variation(image=b"\x89PNG", model="dall-e-2", response_format="url")
    assert raw.http_response.status_code == 200 and raw.parse().data[0].url.startswith("https://")
    with client.audio.transcriptions.with_streaming_response.create(file=("a.mp3", AUDIO), model="whisper-1") as response:
        assert response.parse().text == "Hello from the stub."
    (row,) = bt_logs.rows()
    assert (row["span_attributes"]["name"], row["input"]) == ("Image Generation", "A copy")


def test_a_transcription_stream_left_early_keeps_what_arrived(bt_logs, client):
    events = client.audio.transcriptions.create(file=("a.mp3", AUDIO), model="gpt-4o-transcribe", stream=True)
    next(iter(events))
    events.close()
    (row,) = bt_logs.rows()
    assert row["output"] == "Hello" and {"duration", "time_to_first_token"} <= set(row["metrics"])


SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import braintrust, openai
from openai_stub import OpenAIStub
stub = OpenAIStub().start()
braintrust.auto_instrument()
logger = braintrust.init_logger(project="auto-media")
client = openai.OpenAI(api_key="sk", base_url=stub.base_url, max_retries=0)
client.images.generate(prompt="Auto", model="dall-e-2", response_format="url")
client.audio.speech.create(input="Auto.", model="tts-1", voice="alloy")
braintrust.wrap_openai(client).audio.translations.create(file=("a.mp3", b"ID3"), model="whisper-1")
client.images.with_raw_response.generate(prompt="Raw", model="dall-e-2")
print(braintrust.flush().ok)
"""


def test_auto_instrument_traces_images_and_audio_once(bt_logs, tmp_path):
    script = tmp_path / "auto_media.py"
    script.write_text(SCRIPT.format(tests=str(TESTS)))
    proc = subprocess.run([sys.executable, str(script)], env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    names = sorted(row["span_attributes"]["name"] for row in bt_logs.server.rows())
    assert names == ["Image Generation", "Speech", "Translation"]
