"""wrap_openai on OpenAI's images and audio endpoints, against the OpenAI stub: images.generate
(base64, URLs, streamed), edit (a list of images and a mask file), create_variation (a path);
audio.speech (mp3, wav), transcriptions (JSON with token usage, text, verbose JSON, streamed),
translations (JSON, text); failing calls; the raw-response variants (resource and client level,
with_streaming_response); a call under @traced; the async client."""
import asyncio
import io
import sys
import tempfile
import warnings
from pathlib import Path

import braintrust
from braintrust import traced, wrap_openai
from openai import AsyncOpenAI, BadRequestError, OpenAI

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/, for the stub
from openai_stub import OpenAIStub  # noqa: E402

warnings.simplefilter("ignore", DeprecationWarning)  # (translations and variations are marked deprecated)
stub = OpenAIStub().start()
logger = braintrust.init_logger(project="recorder-openai-media")
client = wrap_openai(OpenAI(api_key="sk-stub", base_url=stub.base_url, max_retries=0))
folder = Path(tempfile.mkdtemp())
(folder / "cat.png").write_bytes(b"\x89PNG\r\n\x1a\n a cat")
(folder / "mask.png").write_bytes(b"\x89PNG\r\n\x1a\n a mask")
AUDIO = ("hello.mp3", b"ID3\x04\x00 some speech", "audio/mpeg")

image = client.images.generate(prompt="A cat in a hat", model="gpt-image-1", size="1024x1024", quality="low")
print("generate:", len(image.data), image.data[0].b64_json[:8], image.usage.total_tokens)
urls = client.images.generate(prompt="A dog", model="dall-e-3", n=2, response_format="url", style="vivid", user="u-1")
print("generate urls:", [d.url for d in urls.data])
streamed = client.images.generate(prompt="A bird", model="gpt-image-1", stream=True, partial_images=1)
print("generate streamed:", [event.type for event in streamed])
with open(folder / "mask.png", "rb") as mask:
    edited = client.images.edit(image=[("cat.png", b"\x89PNG\r\n\x1a\n a cat", "image/png"), b"\x89PNG more"],
                                mask=mask, prompt="Add a hat", model="gpt-image-1", output_format="png")
print("edit:", edited.data[0].revised_prompt)
variation = client.images.create_variation(image=folder / "cat.png", model="dall-e-2", n=1, response_format="url")
print("variation:", variation.data[0].url)

speech = client.audio.speech.create(input="Hello there.", model="gpt-4o-mini-tts", voice="alloy")
print("speech:", speech.content, speech.response.headers["content-type"])
wav = client.audio.speech.create(input="Slowly.", model="tts-1", voice="nova", response_format="wav", speed=0.5,
                                 instructions="Calm.")
print("speech wav:", len(wav.content))
print("transcription:", client.audio.transcriptions.create(file=AUDIO, model="gpt-4o-transcribe", language="en").text)
print("transcription text:", repr(client.audio.transcriptions.create(file=io.BytesIO(b"ID3 bytes"), model="whisper-1",
                                                                     response_format="text", temperature=0)))
verbose = client.audio.transcriptions.create(file=folder / "cat.png", model="whisper-1", response_format="verbose_json",
                                             timestamp_granularities=["segment"], prompt="Cats.")
print("transcription verbose:", verbose.duration, verbose.text)
events = client.audio.transcriptions.create(file=AUDIO, model="gpt-4o-transcribe", stream=True)
print("transcription streamed:", "".join(getattr(e, "delta", "") for e in events))
print("translation:", client.audio.translations.create(file=AUDIO, model="whisper-1").text)
print("translation text:", repr(client.audio.translations.create(file=AUDIO, model="whisper-1", response_format="text")))

for name, call in [("generate", lambda: client.images.generate(prompt="Nothing", model="missing-model")),
                   ("transcription", lambda: client.audio.transcriptions.create(file=AUDIO, model="missing-model"))]:
    try:
        call()
    except BadRequestError as exc:
        print(f"failed {name}:", exc.status_code)

raw = client.images.with_raw_response.generate(prompt="Raw", model="gpt-image-1")
print("raw generate:", raw.http_response.status_code, len(raw.parse().data))
raw_speech = client.audio.speech.with_raw_response.create(input="Raw.", model="tts-1", voice="alloy")
print("raw speech:", raw_speech.parse().content)
raw_transcription = client.audio.transcriptions.with_raw_response.create(file=AUDIO, model="whisper-1")
print("raw transcription:", raw_transcription.parse().text)
with client.audio.speech.with_streaming_response.create(input="Streamed.", model="tts-1", voice="alloy") as response:
    print("streaming speech:", response.read())
print("client raw generate:", len(client.with_raw_response.images.generate(prompt="Client raw", model="dall-e-2").parse().data))


@traced
def illustrate(subject):
    return client.images.generate(prompt=f"A {subject}", model="dall-e-2", response_format="url").data[0].url


print("traced:", illustrate("fox"))


async def main():
    aclient = wrap_openai(AsyncOpenAI(api_key="sk-stub", base_url=stub.base_url, max_retries=0))
    image = await aclient.images.generate(prompt="An async cat", model="gpt-image-1")
    print("async generate:", len(image.data))
    edited = await aclient.images.edit(image=("cat.png", b"\x89PNG async", "image/png"), prompt="Async hat", model="gpt-image-1")
    print("async edit:", edited.data[0].revised_prompt)
    variation = await aclient.images.create_variation(image=folder / "cat.png", model="dall-e-2", response_format="url")
    print("async variation:", variation.data[0].url)
    speech = await aclient.audio.speech.create(input="Async hello.", model="tts-1", voice="echo", response_format="opus")
    print("async speech:", speech.content)
    transcription = await aclient.audio.transcriptions.create(file=AUDIO, model="gpt-4o-transcribe")
    print("async transcription:", transcription.text)
    events = await aclient.audio.transcriptions.create(file=AUDIO, model="gpt-4o-mini-transcribe", stream=True)
    print("async transcription streamed:", "".join([getattr(e, "delta", "") async for e in events]))
    translation = await aclient.audio.translations.create(file=AUDIO, model="whisper-1", response_format="verbose_json")
    print("async translation:", translation.text)
    try:
        await aclient.audio.speech.create(input="No.", model="missing-model", voice="alloy")
    except BadRequestError as exc:
        print("async failed speech:", exc.status_code)
    raw = await aclient.images.with_raw_response.generate(prompt="Async raw", model="dall-e-2", response_format="url")
    print("async raw generate:", len(raw.parse().data))

asyncio.run(main())
braintrust.flush()
print("flushed")
