"""SpanComponents: the opaque slug returned by ``span.export()``, ``logger.export()`` and
``experiment.export()`` and accepted as ``parent=`` (braintrust-api.md §8).

Contract
--------
A slug is standard base64 (with ``=`` padding) of::

    byte 0      version: 3 (SpanComponentsV3) or 4 (SpanComponentsV4)
    byte 1      object type (SpanObjectTypeV3): 1 experiment, 2 project_logs, 3 playground_logs
    byte 2      N, the number of compressed id entries
    N entries   1 byte field id (1 object_id, 2 row_id, 3 span_id, 4 root_span_id) + the id bytes
    rest        optional compact JSON object (``,``/``:`` separators, ASCII) with, in this order,
                compute_object_metadata_args, propagated_event (each only when non-empty), then
                every id that was not compressed (object_id, row_id, span_id, root_span_id)

Compression: V3 compresses every id that is a canonical UUID string (16 bytes). V4 compresses only
span_id when it is 16 lowercase hex chars (8 bytes) and root_span_id when it is 32 lowercase hex
chars (16 bytes); object_id and row_id always go to the JSON part. (The public SDK also compresses
non-canonical spellings such as upper case, which then decode differently; we keep those in the
JSON so every slug decodes to exactly what was encoded. Slugs of canonical ids are byte-identical.)

Decoding: ``SpanComponentsV4.from_str`` reads versions 2, 3 and 4; ``SpanComponentsV3.from_str``
reads 2, 3 and (leniently) 4. Unknown JSON keys are ignored; a JSON value overrides a compressed one.
A compressed field 1/2 in a V4 slug (never written by the SDKs) is read as a 16-byte UUID.
Invalid slugs raise ``SpanComponentsError`` (a ``ValueError``, and an ``AssertionError`` for code
written against the public SDK's asserts) with the public SDK's message.

Invariants (checked on construction): exactly one of object_id / compute_object_metadata_args;
row_id, span_id and root_span_id are all set or all unset.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import json
import uuid
from typing import Any, Callable, Optional

__all__ = [
    "SpanComponentsError",
    "SpanComponentsV3",
    "SpanComponentsV4",
    "SpanObjectTypeV3",
    "span_components_to_object_id",
]


class SpanComponentsError(ValueError, AssertionError):
    """An invalid slug or invalid SpanComponents fields."""


def _invalid_encoding_message(version: int) -> str:
    return (
        "SpanComponents string is not properly encoded. This library only supports encoding versions up to "
        f"{version}. Please make sure the SDK library used to decode the SpanComponents is at least as new as "
        "any library used to encode it."
    )


class SpanObjectTypeV3(enum.IntEnum):
    EXPERIMENT = 1
    PROJECT_LOGS = 2
    PLAYGROUND_LOGS = 3

    def __str__(self) -> str:
        return _OBJECT_TYPE_NAMES[self.value]

    def __format__(self, spec: str) -> str:
        # f"{t}" gives the name as in the public SDK (a plain Enum there), not the int.
        return format(str(self), spec)


_OBJECT_TYPE_NAMES = {1: "experiment", 2: "project_logs", 3: "playground_logs"}
_OBJECT_TYPE_BY_NAME = {name: SpanObjectTypeV3(value) for value, name in _OBJECT_TYPE_NAMES.items()}

_FIELD_OBJECT_ID = 1
_FIELD_ROW_ID = 2
_FIELD_SPAN_ID = 3
_FIELD_ROOT_SPAN_ID = 4
_FIELD_NAMES = {
    _FIELD_OBJECT_ID: "object_id",
    _FIELD_ROW_ID: "row_id",
    _FIELD_SPAN_ID: "span_id",
    _FIELD_ROOT_SPAN_ID: "root_span_id",
}
_JSON_KEYS = (
    "object_id",
    "compute_object_metadata_args",
    "row_id",
    "span_id",
    "root_span_id",
    "propagated_event",
)
_HEX = frozenset("0123456789abcdef")


# ---------------------------------------------------------------------------------------------
# id compression


def _uuid_bytes(value: str) -> Optional[bytes]:
    """16 bytes if ``value`` is a canonical (lower-case, dashed) UUID string."""
    if len(value) != 36:
        return None
    try:
        parsed = uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None
    return parsed.bytes if str(parsed) == value else None


def _hex_bytes(value: str, n_chars: int) -> Optional[bytes]:
    if len(value) != n_chars or not _HEX.issuperset(value):
        return None
    return bytes.fromhex(value)


# ---------------------------------------------------------------------------------------------
# decoding (shared by both classes)


def _b64decode(slug: str) -> bytes:
    s = slug.strip()
    if "-" in s or "_" in s:  # tolerate the URL-safe alphabet
        s = s.replace("-", "+").replace("_", "/")
    s += "=" * (-len(s) % 4)
    return base64.b64decode(s)


def _decode_v2(raw: bytes) -> dict:
    """The public SDK's version-2 layout (flags, then fixed-size UUIDs)."""
    if raw[1] not in (1, 2) or any(b not in (0, 1) for b in raw[2:6]):
        raise ValueError("bad v2 header")
    has_object_id, has_args, has_row, row_is_uuid = raw[2], raw[3], raw[4], raw[5]
    fields: dict[str, Any] = {"object_type": raw[1]}
    pos = 6
    if has_object_id:
        fields["object_id"] = str(uuid.UUID(bytes=raw[pos : pos + 16]))
        pos += 16
    if has_args:
        length = int.from_bytes(raw[pos : pos + 4], "big")
        pos += 4
        fields["compute_object_metadata_args"] = json.loads(raw[pos : pos + length].decode("utf-8"))
        pos += length
    if has_row:
        fields["span_id"] = str(uuid.UUID(bytes=raw[pos : pos + 16]))
        fields["root_span_id"] = str(uuid.UUID(bytes=raw[pos + 16 : pos + 32]))
        rest = raw[pos + 32 :]
        fields["row_id"] = str(uuid.UUID(bytes=rest)) if row_is_uuid else rest.decode("utf-8")
    return fields


def _decode_v3_v4(raw: bytes) -> dict:
    version = raw[0]
    fields: dict[str, Any] = {"object_type": raw[1]}
    count = raw[2]
    pos = 3
    for _ in range(count):
        field_id = raw[pos]
        name = _FIELD_NAMES[field_id]  # KeyError for an unknown field id
        if version >= 4 and field_id == _FIELD_SPAN_ID:
            chunk = raw[pos + 1 : pos + 9]
            if len(chunk) != 8:
                raise ValueError("truncated span_id")
            fields[name] = chunk.hex()
            pos += 9
        elif version >= 4 and field_id == _FIELD_ROOT_SPAN_ID:
            chunk = raw[pos + 1 : pos + 17]
            if len(chunk) != 16:
                raise ValueError("truncated root_span_id")
            fields[name] = chunk.hex()
            pos += 17
        else:
            fields[name] = str(uuid.UUID(bytes=raw[pos + 1 : pos + 17]))
            pos += 17
    if pos < len(raw):
        extra = json.loads(raw[pos:].decode("utf-8"))
        if not isinstance(extra, dict):
            raise ValueError("trailing JSON is not an object")
        for key in _JSON_KEYS:
            if key in extra:
                fields[key] = extra[key]
    return fields


def _decode(slug: str) -> dict:
    """Constructor arguments from a slug of version 2, 3 or 4 (raises on anything malformed)."""
    raw = _b64decode(slug)
    version = raw[0]
    if version == 2:
        fields = _decode_v2(raw)
    elif version in (3, 4):
        fields = _decode_v3_v4(raw)
    else:
        raise ValueError(f"unsupported version {version}")
    fields["object_type"] = SpanObjectTypeV3(fields["object_type"])
    return fields


def _from_slug(cls: Any, slug: str, max_version: int) -> Any:
    try:
        return cls(**_decode(slug))
    except Exception as e:
        raise SpanComponentsError(_invalid_encoding_message(max_version)) from e


# ---------------------------------------------------------------------------------------------
# the classes


def _coerce_object_type(value: Any) -> SpanObjectTypeV3:
    if isinstance(value, SpanObjectTypeV3):
        return value
    if isinstance(value, str) and value in _OBJECT_TYPE_BY_NAME:
        return _OBJECT_TYPE_BY_NAME[value]
    if isinstance(value, int) and not isinstance(value, bool) and value in _OBJECT_TYPE_NAMES:
        return SpanObjectTypeV3(value)
    if isinstance(value, enum.Enum) and value.value in _OBJECT_TYPE_NAMES:  # another SDK's enum
        return SpanObjectTypeV3(value.value)
    raise SpanComponentsError(f"object_type must be a SpanObjectTypeV3, got {value!r}")


class _SpanComponentsBase:
    """Fields, validation, JSON part and helpers shared by V3 and V4 (subclasses are dataclasses)."""

    _VERSION = 0

    object_type: SpanObjectTypeV3
    object_id: Optional[str]
    compute_object_metadata_args: Optional[dict]
    row_id: Optional[str]
    span_id: Optional[str]
    root_span_id: Optional[str]
    propagated_event: Optional[dict]

    def __post_init__(self) -> None:
        self.object_type = _coerce_object_type(self.object_type)
        cls = type(self).__name__
        if self.object_id and self.compute_object_metadata_args:
            raise SpanComponentsError(f"{cls}: give either object_id or compute_object_metadata_args, not both")
        if not (self.object_id or self.compute_object_metadata_args):
            raise SpanComponentsError(f"{cls}: one of object_id or compute_object_metadata_args is required")
        if self.object_id is not None and not isinstance(self.object_id, str):
            raise SpanComponentsError(f"{cls}: object_id must be a str")
        if self.compute_object_metadata_args and not isinstance(self.compute_object_metadata_args, dict):
            raise SpanComponentsError(f"{cls}: compute_object_metadata_args must be a dict")
        if self.propagated_event is not None and not isinstance(self.propagated_event, dict):
            raise SpanComponentsError(f"{cls}: propagated_event must be a dict")
        if self.row_id:
            for name in ("row_id", "span_id", "root_span_id"):
                value = getattr(self, name)
                if not value or not isinstance(value, str):
                    raise SpanComponentsError(
                        f"{cls}: row_id, span_id and root_span_id must all be set (non-empty str) or all unset"
                    )
        elif self.span_id or self.root_span_id:
            raise SpanComponentsError(f"{cls}: row_id, span_id and root_span_id must all be set or all unset")

    # -- encoding ----------------------------------------------------------------------------

    def _compress(self, field_id: int, value: str) -> Optional[bytes]:
        raise NotImplementedError

    def to_str(self) -> str:
        json_part: dict[str, Any] = {}
        if self.compute_object_metadata_args:
            json_part["compute_object_metadata_args"] = self.compute_object_metadata_args
        if self.propagated_event:
            json_part["propagated_event"] = self.propagated_event
        entries = []
        for field_id, value in (
            (_FIELD_OBJECT_ID, self.object_id),
            (_FIELD_ROW_ID, self.row_id),
            (_FIELD_SPAN_ID, self.span_id),
            (_FIELD_ROOT_SPAN_ID, self.root_span_id),
        ):
            if not value:
                continue
            packed = self._compress(field_id, value)
            if packed is None:
                json_part[_FIELD_NAMES[field_id]] = value
            else:
                entries.append(bytes([field_id]) + packed)
        raw = bytearray([self._VERSION, int(self.object_type), len(entries)])
        for entry in entries:
            raw += entry
        if json_part:
            raw += _dumps_json_part(json_part)
        return base64.b64encode(bytes(raw)).decode("ascii")

    def export(self) -> str:
        """Same as ``to_str()`` (so components can be passed wherever an exportable is expected)."""
        return self.to_str()

    # -- helpers -----------------------------------------------------------------------------

    def object_id_fields(self) -> dict[str, str]:
        """The row fields naming the object: experiment_id, or project_id/prompt_session_id + log_id."""
        if not self.object_id:
            raise SpanComponentsError(
                f"cannot invoke `object_id_fields` unless {type(self).__name__} is initialized with an `object_id`"
            )
        if self.object_type == SpanObjectTypeV3.EXPERIMENT:
            return {"experiment_id": self.object_id}
        if self.object_type == SpanObjectTypeV3.PROJECT_LOGS:
            return {"project_id": self.object_id, "log_id": "g"}
        return {"prompt_session_id": self.object_id, "log_id": "x"}

    @staticmethod
    def get_version(slug: str) -> int:
        """The encoding version (first byte) of a slug."""
        try:
            return _b64decode(slug)[0]
        except Exception as e:
            raise SpanComponentsError(_invalid_encoding_message(4)) from e


def _dumps_json_part(obj: dict) -> bytes:
    try:
        text = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        from braintrust.jsonsafe import snapshot

        text = json.dumps(snapshot(obj)[0], separators=(",", ":"))
    return text.encode("ascii")


@dataclasses.dataclass
class SpanComponentsV3(_SpanComponentsBase):
    """Version 3: UUID-shaped ids are compressed (legacy ids; 0.7.0's default)."""

    object_type: SpanObjectTypeV3
    object_id: Optional[str] = None
    compute_object_metadata_args: Optional[dict] = None
    row_id: Optional[str] = None
    span_id: Optional[str] = None
    root_span_id: Optional[str] = None
    propagated_event: Optional[dict] = None

    _VERSION = 3

    def _compress(self, field_id: int, value: str) -> Optional[bytes]:
        return _uuid_bytes(value) if isinstance(value, str) else None

    @classmethod
    def from_str(cls, s: str) -> "SpanComponentsV3":
        return _from_slug(cls, s, 3)


@dataclasses.dataclass
class SpanComponentsV4(_SpanComponentsBase):
    """Version 4 (0.48.1's default): hex span ids (8 bytes) and trace ids (16 bytes) compressed."""

    object_type: SpanObjectTypeV3
    object_id: Optional[str] = None
    compute_object_metadata_args: Optional[dict] = None
    row_id: Optional[str] = None
    span_id: Optional[str] = None
    root_span_id: Optional[str] = None
    propagated_event: Optional[dict] = None

    _VERSION = 4

    def _compress(self, field_id: int, value: str) -> Optional[bytes]:
        if not isinstance(value, str):
            return None
        if field_id == _FIELD_SPAN_ID:
            return _hex_bytes(value, 16)
        if field_id == _FIELD_ROOT_SPAN_ID:
            return _hex_bytes(value, 32)
        return None

    @classmethod
    def from_str(cls, s: str) -> "SpanComponentsV4":
        return _from_slug(cls, s, 4)


# ---------------------------------------------------------------------------------------------


def span_components_to_object_id(
    components: "SpanComponentsV3 | SpanComponentsV4 | str",
    resolve_project: Optional[Callable[[dict], str]] = None,
) -> str:
    """The id of the object (experiment, project logs, playground) a slug points into.

    ``object_id`` when the slug has one; otherwise, for project logs, the
    ``compute_object_metadata_args["project_id"]`` when set, else ``resolve_project(args)``.

    ``resolve_project`` is the hook for resolving a project by name (the public SDK logs in and
    registers the project here): called with the ``compute_object_metadata_args`` dict (e.g.
    ``{"project_name": "my-traces", "project_id": None}``), it must return the project id.
    Without it, such a slug raises ``ValueError``. Experiments and playground logs always carry
    their object_id.
    """
    if isinstance(components, str):
        components = SpanComponentsV4.from_str(components)
    if components.object_id:
        return components.object_id
    args = components.compute_object_metadata_args or {}
    if components.object_type != SpanObjectTypeV3.PROJECT_LOGS:
        raise ValueError(
            f"cannot resolve the object id of a {components.object_type} slug without object_id "
            "(compute_object_metadata_args is only supported for project logs)"
        )
    project_id = args.get("project_id")
    if project_id:
        return str(project_id)
    if resolve_project is not None:
        return resolve_project(args)
    raise ValueError(
        "this span slug names its project only by name "
        f"({args.get('project_name')!r}); resolving it needs a login (pass resolve_project=)"
    )
