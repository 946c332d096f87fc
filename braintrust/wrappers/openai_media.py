"""``wrap_openai`` on OpenAI's images and audio endpoints, traced as the public SDK 0.48.1 traces them.

Each call is an ``llm`` span with ``provider: "openai"`` and the request's parameters of its
endpoint as ``metadata``:

* ``images.generate`` / ``edit`` / ``create_variation`` (spans ``Image Generation``, ``Image
  Edit``, ``Image Variation``): the prompt as ``input`` (alone), or ``{prompt, image, mask}``
  with the uploaded files as attachments; as ``output``, the answer's ``created``,
  ``background``, ``output_format``, ``quality``, ``size``, ``images_count`` and ``images`` (each
  its ``revised_prompt``, a URL as ``image_url.url``, a base64 image as an attachment
  ``generated_image_<i>.<ext>`` with its ``mime_type`` and ``image_size_bytes``); token usage and
  ``duration`` as ``metrics``. A ``stream=True`` call's span ends when the stream is returned,
  without images (as in 0.48.1).
* ``audio.speech.create`` (``Speech``): the text as ``input``; the audio as an attachment
  ``generated_speech.<ext>`` (``{"type": "audio", "mime_type", "audio_size_bytes", "file"}``).
* ``audio.transcriptions.create`` (``Transcription``) and ``audio.translations.create``
  (``Translation``): ``{"file": attachment}`` as ``input``, the text as ``output``; a
  transcription's usage as ``metrics`` (a streamed one's with ``time_to_first_token`` and
  ``duration``).

As in 0.48.1, their ``with_raw_response`` / ``with_streaming_response`` variants (the resources'
and the client's) are not traced. A call that fails records its error.

A chat completion's audio answer (``modalities=["audio"]``), streamed or not, is logged the same
way: ``chat_audio`` makes its data an attachment ``generated_audio.<ext>`` typed by the format
the request asked for.
"""

from __future__ import annotations

import inspect
import mimetypes
import os
from typing import Any, Callable

from braintrust.attachments.kinds import Attachment
from braintrust.wrappers.calls import NamedWrapper, Kind, as_dict, field, omitted, start_call, traced_call
from braintrust.wrappers.inline_files import attachment_of, decoded_base64, default_filename

INSTRUMENTATION = "openai-auto"
PROVIDER = "openai"

# Request parameters kept as span metadata.
IMAGE_PARAMS = ("model", "n", "size", "quality", "style", "response_format", "background", "moderation",
                "output_format", "output_compression")
SPEECH_PARAMS = ("model", "voice", "response_format", "speed", "instructions", "stream_format")
AUDIO_FILE_PARAMS = ("model", "language", "prompt", "response_format", "temperature", "stream", "include",
                     "timestamp_granularities", "chunking_strategy")

#: The header the client adds to a ``with_raw_response`` / ``with_streaming_response`` call.
RAW_RESPONSE_HEADER = "x-stainless-raw-response"


class Images(NamedWrapper):
    """``client.images``: ``generate``, ``edit`` and ``create_variation`` traced."""

    def __init__(self, images: Any):
        super().__init__(images)
        self._bt_images = images

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        return media_call(_IMAGE_GENERATION, self._bt_images.generate, args, kwargs)

    def edit(self, *args: Any, **kwargs: Any) -> Any:
        return media_call(_IMAGE_EDIT, self._bt_images.edit, args, kwargs)

    def create_variation(self, *args: Any, **kwargs: Any) -> Any:
        return media_call(_IMAGE_VARIATION, self._bt_images.create_variation, args, kwargs)


class Audio(NamedWrapper):
    """``client.audio``: its ``speech``, ``transcriptions`` and ``translations`` traced."""

    def __init__(self, audio: Any):
        super().__init__(audio)
        self._bt_audio = audio

    @property
    def speech(self) -> Any:
        return _AudioEndpoint(self._bt_audio.speech, _SPEECH)

    @property
    def transcriptions(self) -> Any:
        return _AudioEndpoint(self._bt_audio.transcriptions, _TRANSCRIPTION)

    @property
    def translations(self) -> Any:
        return _AudioEndpoint(self._bt_audio.translations, _TRANSLATION)


class _AudioEndpoint(NamedWrapper):
    def __init__(self, resource: Any, kind: Kind):
        super().__init__(resource)
        self._bt_resource = resource
        self._bt_kind = kind

    def create(self, *args: Any, **kwargs: Any) -> Any:
        return media_call(self._bt_kind, self._bt_resource.create, args, kwargs)


def media_call(kind: Kind, create: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """``create`` traced as ``kind`` says; a raw-response call untraced; a streamed image call's
    span ended at once, without following the stream (0.48.1 does both)."""
    if _raw_response_requested(kwargs):
        return create(*args, **kwargs)
    if kind.aggregate is not None or not kwargs.get("stream"):
        return traced_call(kind, create, args, kwargs)
    call = start_call(kind, kwargs, create)
    try:
        result = create(*args, **kwargs)
    except BaseException as exc:
        call.fail(exc)
        raise
    if inspect.isawaitable(result):
        return call.finish_async(result, False)
    call.done(result)
    return result


def _raw_response_requested(kwargs: dict) -> bool:
    headers = kwargs.get("extra_headers")
    for key, value in (headers.items() if isinstance(headers, dict) else ()):
        if isinstance(key, str) and key.lower() == RAW_RESPONSE_HEADER:
            return value.lower() in ("true", "stream") if isinstance(value, str) else bool(value)
    return False


# -- uploaded files as attachments ---------------------------------------------------------------


def logged_file(value: Any) -> Any:
    """An uploaded file (bytes, a path, an open file, a ``(filename, content[, type])`` tuple, or
    a list of them) as logged: an attachment each; a value it cannot read as it is."""
    if isinstance(value, list):
        return [logged_file(item) for item in value]
    attachment = file_attachment(value)
    return attachment if attachment is not None else value


def file_attachment(value: Any, content_type: str | None = None, filename: str | None = None) -> Attachment | None:
    """The attachment for one uploaded file, named and typed as 0.48.1 names them: the file's own
    name (else ``file.<ext>``), the type given or guessed from the name (else
    ``application/octet-stream``)."""
    if value is None or isinstance(value, Attachment):
        return value
    if isinstance(value, tuple):
        name = value[0] if value and isinstance(value[0], (str, os.PathLike)) else None
        given_type = value[2] if len(value) > 2 and isinstance(value[2], str) else None
        return file_attachment(value[1] if len(value) > 1 else None, content_type or given_type,
                               filename or (os.path.basename(os.fspath(name)) if name is not None else None))
    if isinstance(value, (bytes, bytearray)):
        return _attachment(bytes(value), content_type, filename)
    if isinstance(value, (str, os.PathLike)):
        if isinstance(value, str) and value.startswith("data:"):
            return attachment_of(value, content_type, filename)
        try:
            with open(value, "rb") as file:
                data = file.read()
        except OSError:
            return attachment_of(value, content_type, filename) if isinstance(value, str) and content_type else None
        return _attachment(data, content_type, filename or os.path.basename(os.fspath(value)))
    if callable(getattr(value, "read", None)):
        name = getattr(value, "name", None)
        return _read_file(value, content_type, filename or (os.path.basename(name) if isinstance(name, str) else None))
    return None


def _read_file(file: Any, content_type: str | None, filename: str | None) -> Attachment | None:
    """An open file's contents, read from where it stands; the position is put back (so the
    upload still sends them). A file that cannot be put back is not read."""
    try:
        position = file.tell()
        data = file.read()
        file.seek(position)
    except Exception:
        return None
    if isinstance(data, str):
        data = data.encode()
    return _attachment(data, content_type, filename) if isinstance(data, (bytes, bytearray)) else None


def _attachment(data: bytes, content_type: str | None, filename: str | None, prefix: str | None = None) -> Attachment:
    content_type = content_type or (mimetypes.guess_type(filename)[0] if filename else None) or "application/octet-stream"
    return Attachment(data=bytes(data), filename=filename or default_filename(content_type, prefix), content_type=content_type)


# -- what each endpoint records ------------------------------------------------------------------


def _metadata(kwargs: dict, params: tuple[str, ...]) -> dict:
    # (None is kept, as 0.48.1 keeps it; only the client's "not given" markers are left out)
    metadata = {"provider": PROVIDER}
    metadata.update((key, kwargs[key]) for key in params if key in kwargs and not omitted(kwargs[key]))
    return metadata


def _image_request(kwargs: dict) -> dict:
    given = {key: value for key, value in (("prompt", kwargs.get("prompt")), ("image", logged_file(kwargs.get("image"))),
                                           ("mask", logged_file(kwargs.get("mask")))) if value is not None}
    logged_input = kwargs["prompt"] if list(given) == ["prompt"] else (given or None)
    return {"input": logged_input, "metadata": _metadata(kwargs, IMAGE_PARAMS)}


def _speech_request(kwargs: dict) -> dict:
    return {"input": kwargs.get("input"), "metadata": _metadata(kwargs, SPEECH_PARAMS)}


def _audio_file_request(kwargs: dict) -> dict:
    file = logged_file(kwargs.get("file"))
    return {"input": {"file": file} if file is not None else None, "metadata": _metadata(kwargs, AUDIO_FILE_PARAMS)}


def _usage_metrics(usage: Any) -> dict:
    from braintrust.wrappers.openai import usage_metrics  # (openai.py imports this module)

    return usage_metrics(usage)


def _images_result(result: Any) -> dict:
    """The images answer as 0.48.1 logs it (a stream, not being read, gives no images)."""
    answer = as_dict(result)
    if not isinstance(answer, dict):
        answer = {}
    output_format = answer.get("output_format")
    images = []
    for index, image in enumerate(answer.get("data") or []):
        image = as_dict(image)
        if not isinstance(image, dict):
            continue
        entry: dict[str, Any] = {"revised_prompt": image["revised_prompt"]} if image.get("revised_prompt") is not None else {}
        if isinstance(image.get("url"), str):
            entry["image_url"] = {"url": image["url"]}
        encoded = image.get("b64_json")
        if isinstance(encoded, str):
            extension = output_format if isinstance(output_format, str) and output_format else "png"
            content_type = extension if "/" in extension else f"image/{extension}"
            attachment = attachment_of(encoded, content_type, prefix=f"generated_image_{index}")
            if attachment is None:
                entry["b64_json_present"] = True
            else:
                entry.update(image_url={"url": attachment}, image_size_bytes=len(attachment.data), mime_type=content_type)
        images.append(entry)
    output = {key: answer.get(key) for key in ("created", "background", "output_format", "quality", "size")}
    output.update(images_count=len(images), images=images)
    return {"output": {key: value for key, value in output.items() if value is not None},
            "metrics": _usage_metrics(answer.get("usage"))}


def _speech_result(result: Any) -> dict:
    """The audio (``HttpxBinaryResponseContent``) as an attachment, typed by the answer's header."""
    audio = getattr(result, "content", None)
    if not isinstance(audio, (bytes, bytearray)):
        return {"output": {"type": "audio"}}
    headers = getattr(getattr(result, "response", None), "headers", None)
    content_type = (headers.get("content-type") or "") if headers is not None else ""
    content_type = content_type.split(";", 1)[0].strip() or "application/octet-stream"
    attachment = _attachment(bytes(audio), content_type, None, prefix="generated_speech")
    return {"output": {"type": "audio", "mime_type": content_type, "audio_size_bytes": len(audio),
                       "file": {"file_data": attachment, "filename": attachment.reference["filename"]}}}


def _text_of(result: Any) -> Any:
    if isinstance(result, str):  # (response_format "text", "srt", "vtt")
        return result.strip()
    return field(result, "text")


def _transcription_result(result: Any) -> dict:
    usage = field(result, "usage") if not isinstance(result, str) else None
    return {"output": _text_of(result), "metrics": _usage_metrics(usage) if usage else {}}


def _transcription_events(events: list) -> dict:
    """A streamed transcription: the ``transcript.text.done`` text (else the deltas, else the
    segments) and that event's usage."""
    deltas, segments, text, usage = [], [], None, None
    for event in events:
        kind = field(event, "type")
        if kind == "transcript.text.delta" and isinstance(field(event, "delta"), str):
            deltas.append(field(event, "delta"))
        elif kind == "transcript.text.done":
            text = field(event, "text") if isinstance(field(event, "text"), str) else text
            usage = field(event, "usage") if field(event, "usage") is not None else usage
        elif kind == "transcript.text.segment" and isinstance(field(event, "text"), str):
            segments.append(field(event, "text"))
    output = (text if text is not None else "".join(deltas)) or "".join(segments)
    fields: dict[str, Any] = {"metrics": _usage_metrics(usage)}
    if output:
        fields["output"] = output
    return fields


def _translation_result(result: Any) -> dict:
    return {"output": _text_of(result)}


_IMAGE_GENERATION = Kind("Image Generation", INSTRUMENTATION, _image_request, _images_result, timed=False, duration="call")
_IMAGE_EDIT = _IMAGE_GENERATION.named("Image Edit")
_IMAGE_VARIATION = _IMAGE_GENERATION.named("Image Variation")
_SPEECH = Kind("Speech", INSTRUMENTATION, _speech_request, _speech_result, timed=False)
_TRANSCRIPTION = Kind("Transcription", INSTRUMENTATION, _audio_file_request, _transcription_result, _transcription_events,
                      timed=False, duration="stream")
_TRANSLATION = Kind("Translation", INSTRUMENTATION, _audio_file_request, _translation_result, timed=False)


# -- a chat answer's audio (``wrap_openai``'s chat completions) ------------------------------------


#: Where a streamed audio answer's decoded bytes wait for ``chat_audio`` (never logged as such).
CHAT_AUDIO_BYTES = "_bt_audio_bytes"
#: The chat API's audio formats and their media types (another format ``f``: ``audio/f``).
AUDIO_MEDIA_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "opus": "audio/opus", "aac": "audio/aac",
                     "flac": "audio/flac", "pcm": "audio/pcm", "pcm16": "audio/pcm"}


def audio_bytes(data: Any) -> bytes | None:
    """Audio data as bytes: bytes as they are, base64 (or a base64 data URL) decoded; else None."""
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    if not isinstance(data, str):
        return None
    return decoded_base64(data.partition(",")[2] if data.startswith("data:") else data)


def chat_audio_media_type(request: dict) -> str:
    audio_format = (request.get("audio") or {}).get("format") if isinstance(request.get("audio"), dict) else None
    if not isinstance(audio_format, str) or not audio_format:
        return "application/octet-stream"
    audio_format = audio_format.lower()
    return AUDIO_MEDIA_TYPES.get(audio_format, audio_format if "/" in audio_format else f"audio/{audio_format}")


def chat_audio(value: Any, media_type: str) -> Any:
    """``value`` (a chat answer's choices) with each ``audio`` object's data as an attachment
    ``generated_audio.<ext>`` (with its ``mime_type`` and ``audio_size_bytes``), as 0.48.1 logs
    it; data that does not decode stays as it is."""
    if isinstance(value, list):
        return [chat_audio(item, media_type) for item in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key != "audio" or not isinstance(item, dict):
            out[key] = chat_audio(item, media_type)
            continue
        audio = {k: v for k, v in item.items() if k not in ("data", CHAT_AUDIO_BYTES)}
        data = item.get(CHAT_AUDIO_BYTES, item.get("data"))
        decoded = audio_bytes(data) if data is not None else None
        if decoded is not None:
            attachment = Attachment(data=decoded, filename=default_filename(media_type, "generated_audio"),
                                    content_type=media_type)
            audio.update(mime_type=media_type, audio_size_bytes=len(decoded),
                         file={"file_data": attachment, "filename": attachment.reference["filename"]})
        elif data is not None:
            audio["data"] = item.get("data", data)
        out[key] = audio
    return out
