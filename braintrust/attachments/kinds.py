"""Files logged with rows (braintrust-api.md §14): ``Attachment``, ``JSONAttachment``,
``ExternalAttachment``, and ``ReadonlyAttachment`` for reading one back.

Anywhere in logged data an attachment is written as its ``reference`` (a small dict naming a
key or a URL); its bytes are stored after the rows, by the processor (Braintrust's object
storage through ``/attachment``, or the local store), exactly once however often the object is
logged. An ``ExternalAttachment`` only points at a URL: nothing is uploaded.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import uuid
from typing import Any, Callable, Literal, Mapping, TypedDict, Union

log = logging.getLogger("braintrust")

_NOT_A_FILE = "not a regular file (a folder, a pipe or a device); read its bytes yourself and pass data=bytes"

__all__ = [
    "Attachment", "AttachmentMetadata", "AttachmentReference", "AttachmentStatus", "BaseAttachment",
    "BraintrustAttachmentReference", "ExternalAttachment", "ExternalAttachmentReference", "JSONAttachment",
    "ReadonlyAttachment",
]


class BraintrustAttachmentReference(TypedDict):
    type: Literal["braintrust_attachment"]
    filename: str
    content_type: str
    key: str


class ExternalAttachmentReference(TypedDict):
    type: Literal["external_attachment"]
    filename: str
    content_type: str
    url: str


AttachmentReference = Union[BraintrustAttachmentReference, ExternalAttachmentReference]


class AttachmentStatus(TypedDict, total=False):
    upload_status: Literal["uploading", "done", "error"]
    error_message: str


class AttachmentMetadata(TypedDict):
    downloadUrl: str
    status: AttachmentStatus


def _check_names(kind: str, filename: Any, content_type: Any) -> None:
    """Refuse now a filename or content type that storing would refuse at flush, after the call
    that made the attachment returned (the local store requires both strings)."""
    for name, value in (("filename", filename), ("content_type", content_type)):
        if not isinstance(value, str):
            raise TypeError(f"{kind} {name} must be a string (e.g. filename=\"report.pdf\", "
                            f"content_type=\"application/pdf\"), not {type(value).__name__}")
    # (It is sent as an HTTP header with the bytes: a line break in it would make every upload,
    # and every replay of it, fail.)
    if any(char < " " or char == "\x7f" for char in content_type):
        raise ValueError(f"{kind} content_type must be a MIME type without control characters (e.g. \"image/png\"), "
                         f"got {content_type!r:.100}")


class BaseAttachment:
    """What logged data may hold in place of a file: it is written as ``reference``."""

    #: Marks attachments for ``jsonsafe.snapshot`` (which imports nothing of ours).
    __braintrust_attachment__ = True

    @property
    def reference(self) -> AttachmentReference:
        raise NotImplementedError

    @property
    def data(self) -> bytes:
        raise NotImplementedError

    def upload(self) -> AttachmentStatus:
        raise NotImplementedError

    def debug_info(self) -> dict[str, Any]:
        return {"reference": self.reference}


class Attachment(BaseAttachment):
    """Bytes, or the path of a file, stored with the row that logs it.

    ``data``: ``bytes`` (or a bytes-like object: copied now) or a path (relative to the
    directory current when the attachment is made; read when it is stored, not before). A
    path that cannot be read is reported now as a warning, and again, as the attachment's
    error, when it is stored; the row keeps its reference either way.
    """

    def __init__(self, *, data: "str | os.PathLike[str] | bytes | bytearray | memoryview", filename: str, content_type: str):
        if not isinstance(data, (bytes, str, os.PathLike)):
            try:  # a bytearray, memoryview (BytesIO.getbuffer()), array...: what 0.48.1's bytes(data) takes
                data = memoryview(data).tobytes()
            except TypeError:
                raise TypeError(f"Attachment data must be bytes (or bytes-like) or a file path, not {type(data).__name__}") from None
        _check_names("Attachment", filename, content_type)
        self._given = data if isinstance(data, bytes) else os.fspath(data)
        # A path is read when the attachment is stored (at a flush, in pytest at the session's
        # end): resolved now, so that a change of directory in between (monkeypatch.chdir) does
        # not make it name another file, or none.
        self._data = self._given if isinstance(self._given, bytes) else os.path.abspath(self._given)
        self._reference: BraintrustAttachmentReference = {
            "type": "braintrust_attachment", "filename": filename, "content_type": content_type, "key": str(uuid.uuid4()),
        }
        self._status: AttachmentStatus | None = None
        self._lock = threading.Lock()
        if isinstance(self._data, str):
            try:
                if not stat.S_ISREG(os.stat(self._data).st_mode):
                    raise OSError(_NOT_A_FILE)
            except OSError as exc:
                log.warning("braintrust: attachment %r: cannot read %s (%s); its upload will fail unless the file appears "
                            "(data= given as a str is a file's path: pass bytes, e.g. text.encode(), for the content itself).",
                            filename, self._data, exc.strerror or exc)

    @property
    def reference(self) -> BraintrustAttachmentReference:
        return self._reference

    @property
    def data(self) -> bytes:
        """The bytes (a path is read on each call; ``OSError`` when it cannot be, or when it is
        not a regular file: a pipe or a device could block the flush, or never end)."""
        if isinstance(self._data, bytes):
            return self._data
        # O_NONBLOCK: opening a pipe that nobody writes to returns at once instead of waiting.
        descriptor = os.open(self._data, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                raise OSError(f"{_NOT_A_FILE}: {self._data}")
            return handle.read()

    @property
    def bytes_in_memory(self) -> int:
        """What keeping it pending costs in memory (a path's file is read only when stored)."""
        return len(self._data) if isinstance(self._data, bytes) else 0

    @property
    def status(self) -> AttachmentStatus | None:
        """How storing it went: None until the processor or ``upload()`` tried; an error once a
        try failed (then ``upload()`` answers it again, as 0.48.1's; its bytes were spilled)."""
        return self._status

    def upload(self) -> AttachmentStatus:
        """Store the bytes now, unless that was done already; the outcome is kept."""
        from braintrust.delivery.deadline import Deadline
        from braintrust.delivery.runtime import get_processor

        with self._lock:
            if self._status is None:
                processor = get_processor()
                self._status = processor.attachments.store_now(self, Deadline(processor.settings.flush_timeout_seconds))
            return self._status

    def _stored(self, status: AttachmentStatus) -> None:
        """Record how storing went (a later success replaces an earlier error)."""
        with self._lock:
            if self._status is None or self._status.get("upload_status") != "done":
                self._status = status

    def debug_info(self) -> dict[str, Any]:
        return {"input_data": self._given if isinstance(self._given, str) else "<in-memory data>", "reference": self._reference}

    def __repr__(self) -> str:
        return f"Attachment(filename={self._reference['filename']!r}, content_type={self._reference['content_type']!r})"


class JSONAttachment(Attachment):
    """A JSON value stored as a ``application/json`` file (for values too big to log inline).
    A value JSON cannot hold as it is (a datetime, NaN, a set, a cycle...) is written with the
    placeholders logged rows use (``braintrust.jsonsafe``), so the file is always valid JSON."""

    def __init__(self, data: Any, *, filename: str = "data.json", pretty: bool = False):
        indent = 2 if pretty else None
        try:
            text = json.dumps(data, indent=indent, allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            from braintrust.jsonsafe import snapshot

            text = json.dumps(snapshot(data)[0], indent=indent)
        super().__init__(data=text.encode("utf-8"), filename=filename, content_type="application/json")


class ExternalAttachment(BaseAttachment):
    """A file that stays where it is (``url``, e.g. in your own bucket): only its reference is logged."""

    def __init__(self, *, url: str, filename: str, content_type: str):
        if not isinstance(url, str) or not url:
            raise TypeError(f"ExternalAttachment url must be a non-empty string, not {url!r:.100}")
        _check_names("ExternalAttachment", filename, content_type)
        self._reference: ExternalAttachmentReference = {
            "type": "external_attachment", "filename": filename, "content_type": content_type, "url": url,
        }
        self._readonly = ReadonlyAttachment(self._reference)

    @property
    def reference(self) -> ExternalAttachmentReference:
        return self._reference

    @property
    def data(self) -> bytes:
        """The bytes at ``url``, fetched once."""
        return self._readonly.data

    def upload(self) -> AttachmentStatus:
        return {"upload_status": "done"}

    def __repr__(self) -> str:
        return f"ExternalAttachment(url={self._reference['url']!r})"


class ReadonlyAttachment:
    """An attachment read back from its ``reference`` (as found in a fetched row). Logged
    again, it is written as that reference."""

    __braintrust_attachment__ = True

    def __init__(self, reference: Mapping[str, Any]):
        kind = reference.get("type") if isinstance(reference, Mapping) else None
        if kind not in REFERENCE_TYPES:
            raise ValueError(f"Unknown attachment type: {kind!r} (expected a reference with type "
                             "'braintrust_attachment' or 'external_attachment')")
        self.reference = dict(reference)
        self._data: bytes | None = None

    @property
    def data(self) -> bytes:
        """The bytes, fetched once."""
        if self._data is None:
            from braintrust.attachments.reading import read_attachment

            self._data = read_attachment(self.reference)
        return self._data

    def metadata(self) -> AttachmentMetadata:
        """``{"downloadUrl", "status"}``, asked anew on each call."""
        from braintrust.attachments.reading import attachment_metadata

        return attachment_metadata(self.reference)

    def status(self) -> AttachmentStatus:
        return self.metadata()["status"]

    def __str__(self) -> str:
        """A ``data:`` URL of its bytes (fetched), as 0.48.1's: ready for a model's image input."""
        import base64

        return f"data:{self.reference.get('content_type')};base64,{base64.b64encode(self.data).decode('ascii')}"

    def __repr__(self) -> str:
        return f"ReadonlyAttachment({self.reference!r})"


#: The ``type`` of an attachment reference in row data.
REFERENCE_TYPES = ("braintrust_attachment", "external_attachment")


def map_attachment_references(value: Any, replace: Callable[[dict[str, Any]], Any]) -> Any:
    """``value`` with ``replace(reference)`` in place of every attachment reference in it, at any
    depth (dicts and lists are copied; other values are left as they are)."""
    if isinstance(value, dict):
        if value.get("type") in REFERENCE_TYPES:
            return replace(value)
        return {key: map_attachment_references(item, replace) for key, item in value.items()}
    if isinstance(value, list):
        return [map_attachment_references(item, replace) for item in value]
    return value


def with_readonly_attachments(value: Any) -> Any:
    """``value`` with each attachment reference as a ``ReadonlyAttachment``, as dataset records
    come to the public SDK's users."""
    return map_attachment_references(value, ReadonlyAttachment)
