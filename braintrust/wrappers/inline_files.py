"""Images and files sent inline (base64) in a model call, logged as attachments.

A call's logged ``input`` keeps the request's shape, but an inline file in it becomes an
``Attachment`` (uploaded once, shown in the UI, and not a megabyte of base64 in the row), as
0.48.1 logs them:

* OpenAI (chat messages, the Responses API's ``input``, embeddings and moderations): an
  ``image_url`` part whose ``url`` is a ``data:<type>;base64,...`` URL gets the attachment as its
  ``url``; a Responses ``input_image`` part with such a URL becomes that ``image_url`` part (its
  ``detail`` moves into ``image_url``); a ``file`` part's ``file_data`` data URL becomes the
  attachment (named by its ``filename`` when given).
* Anthropic: an ``image`` or ``document`` block whose ``source`` is ``{"type": "base64", ...}``
  loses ``source.data`` and gains ``image_url: {"url": attachment}`` (images) or
  ``file: {"file_data": attachment, "filename": ...}`` (documents).

Anything else (URLs, file ids, text) stays as it is; so does data that is not valid base64. The
request sent to the model is never changed: these are copies.
"""

from __future__ import annotations

import base64
import binascii
import mimetypes
import re
from typing import Any

from braintrust.attachments.kinds import Attachment

_DATA_URL = re.compile(r"^data:([^;,]+);base64,(.+)$", re.DOTALL)
# Extensions Python's mimetypes names differently across platforms.
_EXTENSIONS = {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx"}


def default_filename(content_type: str, prefix: str | None = None) -> str:
    """``image.png``, ``file.pdf``, ``document.pdf``...: ``prefix`` (else ``image`` for images,
    ``file`` for the rest) and the type's usual extension."""
    extension = _EXTENSIONS.get(content_type)
    if extension is None:
        guessed = mimetypes.guess_extension(content_type)
        extension = guessed.lstrip(".") if guessed else (content_type.split("/", 1)[-1].split("+", 1)[0] or "bin")
    if prefix is None:
        prefix = "image" if content_type.startswith("image/") else "file"
    return f"{prefix}.{extension}"


def attachment_of(data: Any, content_type: str | None = None, filename: str | None = None,
                  prefix: str | None = None) -> Attachment | None:
    """The attachment for a ``data:`` URL, or for bare base64 ``data`` of ``content_type``; None
    when ``data`` is neither (or does not decode)."""
    if not isinstance(data, str):
        return None
    match = _DATA_URL.match(data)
    if match is not None:
        content_type, data = content_type or match.group(1), match.group(2)
    elif content_type is None:
        return None
    decoded = decoded_base64(data)
    if decoded is None:
        return None
    return Attachment(data=decoded, filename=filename or default_filename(content_type, prefix), content_type=content_type)


def decoded_base64(text: str) -> bytes | None:
    """Bare base64 ``text`` decoded (strictly: anything else is not base64); None when it is not."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def openai_input(value: Any) -> Any:
    """An OpenAI request's input with its inline images and files as attachments."""
    if isinstance(value, list):
        return [openai_input(item) for item in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("type")
    if kind == "input_image" and isinstance(value.get("image_url"), str):
        attachment = attachment_of(value["image_url"])
        if attachment is not None:
            part = {key: item for key, item in value.items() if key != "detail"}
            part["type"] = "image_url"
            part["image_url"] = {"url": attachment, **({"detail": value["detail"]} if "detail" in value else {})}
            return part
        return value
    if kind == "image_url" and isinstance(value.get("image_url"), dict):
        attachment = attachment_of(value["image_url"].get("url"))
        return {**value, "image_url": {**value["image_url"], "url": attachment}} if attachment is not None else value
    if kind == "file" and isinstance(value.get("file"), dict):
        named = value["file"].get("filename")
        attachment = attachment_of(value["file"].get("file_data"), filename=named if isinstance(named, str) else None)
        return {**value, "file": {**value["file"], "file_data": attachment}} if attachment is not None else value
    return {key: openai_input(item) for key, item in value.items()}


def anthropic_input(value: Any) -> Any:
    """An Anthropic request's messages (or system prompt) with base64 sources as attachments."""
    if isinstance(value, list):
        return [anthropic_input(item) for item in value]
    if not isinstance(value, dict):
        return value
    kind, source = value.get("type"), value.get("source")
    if kind in ("image", "document") and isinstance(source, dict) and source.get("type") == "base64" \
            and isinstance(source.get("media_type"), str):
        attachment = attachment_of(source.get("data"), source["media_type"], prefix="image" if kind == "image" else "document")
        if attachment is not None:
            block = {key: anthropic_input(item) for key, item in value.items() if key != "source"}
            block["source"] = {key: anthropic_input(item) for key, item in source.items() if key != "data"}
            if source["media_type"].startswith("image/"):
                block["image_url"] = {"url": attachment}
            else:
                block["file"] = {"file_data": attachment, "filename": attachment.reference["filename"]}
            return block
    return {key: anthropic_input(item) for key, item in value.items()}
