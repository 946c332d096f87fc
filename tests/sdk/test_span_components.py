"""braintrust.tracing.span_components: exact slugs captured from the public SDK, layout, round trips."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from braintrust.tracing.span_components import (
    SpanComponentsError,
    SpanComponentsV3,
    SpanComponentsV4,
    SpanObjectTypeV3,
    span_components_to_object_id,
)

# Printed by the public SDK 0.48.1 (reference/public-sdk-captures/traced.out.txt).
ROOT_EXPORT = (
    "BAICAxVE18PwcpGZBIHk+EfB6O9ZoXvHAGxHZ6l7ImNvbXB1dGVfb2JqZWN0X21ldGFkYXRhX2FyZ3MiOnsicHJvamVjdF9uYW1lIjoicmVjb3JkZXItdHJh"
    "Y2VzIiwicHJvamVjdF9pZCI6bnVsbH0sInJvd19pZCI6ImZiZTI4ZDE3LTkyMWUtNDFlYS05MjVkLWU4NGMzMTMyNTJiNSJ9"
)
ROOT_DECODED = (
    "SpanComponentsV4(object_type=<SpanObjectTypeV3.PROJECT_LOGS: 2>, object_id=None, "
    "compute_object_metadata_args={'project_name': 'recorder-traces', 'project_id': None}, "
    "row_id='fbe28d17-921e-41ea-925d-e84c313252b5', span_id='1544d7c3f0729199', "
    "root_span_id='81e4f847c1e8ef59a17bc7006c4767a9', propagated_event=None)"
)
LOGGER_EXPORT = "BAIAeyJvYmplY3RfaWQiOiJkMmVmMDQ0YS1iY2Q2LTUzZDYtOGYwMi05MWU1Nzc3ZDdiOWEifQ=="

U1 = "d2ef044a-bcd6-53d6-8f02-91e5777d7b9a"
U2 = "fbe28d17-921e-41ea-925d-e84c313252b5"
U3 = "0b7e2f7c-1a55-4c43-9a1e-44d6f0f3c0d1"
U4 = "6a0b2ad5-5a3f-4b53-8c71-3b1c9f5bd0e2"
SPAN = "1544d7c3f0729199"
TRACE = "81e4f847c1e8ef59a17bc7006c4767a9"


# -- the captured slugs ----------------------------------------------------------------------------


def test_decode_captured_span_export():
    c = SpanComponentsV4.from_str(ROOT_EXPORT)
    assert c.object_type is SpanObjectTypeV3.PROJECT_LOGS
    assert c.object_id is None
    assert c.compute_object_metadata_args == {"project_name": "recorder-traces", "project_id": None}
    assert c.row_id == "fbe28d17-921e-41ea-925d-e84c313252b5"
    assert c.span_id == "1544d7c3f0729199"
    assert c.root_span_id == "81e4f847c1e8ef59a17bc7006c4767a9"
    assert c.propagated_event is None
    assert repr(c) == ROOT_DECODED
    assert str(c) == ROOT_DECODED  # what print() showed


def test_reencode_captured_span_export_is_identical():
    c = SpanComponentsV4.from_str(ROOT_EXPORT)
    assert c.to_str() == ROOT_EXPORT
    assert c.export() == ROOT_EXPORT
    fresh = SpanComponentsV4(
        object_type=SpanObjectTypeV3.PROJECT_LOGS,
        compute_object_metadata_args={"project_name": "recorder-traces", "project_id": None},
        row_id="fbe28d17-921e-41ea-925d-e84c313252b5",
        span_id="1544d7c3f0729199",
        root_span_id="81e4f847c1e8ef59a17bc7006c4767a9",
    )
    assert fresh.to_str() == ROOT_EXPORT
    assert fresh == c


def test_captured_span_export_byte_layout():
    raw = base64.b64decode(ROOT_EXPORT)
    assert raw[:3] == bytes([4, 2, 2])
    assert raw[3] == 3 and raw[4:12].hex() == SPAN
    assert raw[12] == 4 and raw[13:29].hex() == TRACE
    assert raw[29:].decode() == (
        '{"compute_object_metadata_args":{"project_name":"recorder-traces","project_id":null},'
        '"row_id":"fbe28d17-921e-41ea-925d-e84c313252b5"}'
    )


def test_captured_logger_export():
    c = SpanComponentsV4.from_str(LOGGER_EXPORT)
    assert c == SpanComponentsV4(object_type=SpanObjectTypeV3.PROJECT_LOGS, object_id=U1)
    assert c.to_str() == LOGGER_EXPORT
    assert base64.b64decode(LOGGER_EXPORT) == bytes([4, 2, 0]) + b'{"object_id":"d2ef044a-bcd6-53d6-8f02-91e5777d7b9a"}'
    assert c.object_id_fields() == {"project_id": U1, "log_id": "g"}
    assert span_components_to_object_id(c) == U1


# -- enum ----------------------------------------------------------------------------------------------


def test_object_type_enum():
    assert [int(t) for t in SpanObjectTypeV3] == [1, 2, 3]
    assert [str(t) for t in SpanObjectTypeV3] == ["experiment", "project_logs", "playground_logs"]
    assert f"{SpanObjectTypeV3.EXPERIMENT}" == "experiment"
    assert repr(SpanObjectTypeV3.PLAYGROUND_LOGS) == "<SpanObjectTypeV3.PLAYGROUND_LOGS: 3>"
    assert SpanObjectTypeV3(2) is SpanObjectTypeV3.PROJECT_LOGS


# -- round trips ------------------------------------------------------------------------------------------

CASES = [
    dict(object_type=SpanObjectTypeV3.EXPERIMENT, object_id=U1),
    dict(object_type=SpanObjectTypeV3.EXPERIMENT, object_id=U1, row_id=U2, span_id=SPAN, root_span_id=TRACE),
    dict(object_type=SpanObjectTypeV3.PROJECT_LOGS, object_id=U1, row_id=U2, span_id=U3, root_span_id=U4),
    dict(object_type=SpanObjectTypeV3.PROJECT_LOGS, compute_object_metadata_args={"project_name": "p", "project_id": None}),
    dict(object_type=SpanObjectTypeV3.PLAYGROUND_LOGS, object_id="not-a-uuid", row_id="my row",
         span_id="span", root_span_id="trace", propagated_event={"metadata": {"k": "é"}}),
    dict(object_type=SpanObjectTypeV3.PROJECT_LOGS, object_id=U1.upper(), row_id=U2,
         span_id=SPAN.upper(), root_span_id=TRACE.upper()),
    dict(object_type=SpanObjectTypeV3.EXPERIMENT, object_id=U1, row_id=U2, span_id="g" * 16, root_span_id="z" * 32),
]


@pytest.mark.parametrize("cls", [SpanComponentsV3, SpanComponentsV4])
@pytest.mark.parametrize("fields", CASES)
def test_round_trip(cls, fields):
    c = cls(**fields)
    s = c.to_str()
    back = cls.from_str(s)
    assert back == c
    assert back.to_str() == s
    # the other class reads it too
    other = SpanComponentsV4 if cls is SpanComponentsV3 else SpanComponentsV3
    assert dataclass_fields(other.from_str(s)) == dataclass_fields(c)


def dataclass_fields(c):
    return {k: getattr(c, k) for k in (
        "object_type", "object_id", "compute_object_metadata_args", "row_id", "span_id", "root_span_id",
        "propagated_event")}


def test_v3_layout_compresses_uuids():
    c = SpanComponentsV3(SpanObjectTypeV3.EXPERIMENT, object_id=U1, row_id=U2, span_id=U3, root_span_id=U4)
    raw = base64.b64decode(c.to_str())
    assert raw[:3] == bytes([3, 1, 4])
    assert len(raw) == 3 + 4 * 17  # no JSON at all
    for i, (field_id, value) in enumerate([(1, U1), (2, U2), (3, U3), (4, U4)]):
        entry = raw[3 + 17 * i : 3 + 17 * (i + 1)]
        assert entry[0] == field_id and entry[1:] == uuid.UUID(value).bytes
    assert c.to_str().startswith("AwEE")


def test_v3_keeps_hex_ids_in_json():
    c = SpanComponentsV3(SpanObjectTypeV3.PROJECT_LOGS, object_id=U1, row_id=U2, span_id=SPAN, root_span_id=TRACE)
    raw = base64.b64decode(c.to_str())
    assert raw[:3] == bytes([3, 2, 2])
    assert json.loads(raw[3 + 34 :]) == {"span_id": SPAN, "root_span_id": TRACE}
    assert list(json.loads(raw[3 + 34 :])) == ["span_id", "root_span_id"]


def test_v4_never_compresses_object_or_row_id():
    c = SpanComponentsV4(SpanObjectTypeV3.EXPERIMENT, object_id=U1, row_id=U2, span_id=SPAN, root_span_id=TRACE)
    raw = base64.b64decode(c.to_str())
    assert raw[:3] == bytes([4, 1, 2])
    assert raw[3] == 3 and raw[12] == 4
    assert raw[29:] == b'{"object_id":"%s","row_id":"%s"}' % (U1.encode(), U2.encode())


def test_v4_legacy_uuid_ids_all_go_to_json_in_order():
    c = SpanComponentsV4(SpanObjectTypeV3.PROJECT_LOGS, object_id=U1, row_id=U2, span_id=U3, root_span_id=U4,
                         propagated_event={"span_attributes": {"x": 1}})
    raw = base64.b64decode(c.to_str())
    assert raw[:3] == bytes([4, 2, 0])
    assert list(json.loads(raw[3:])) == ["propagated_event", "object_id", "row_id", "span_id", "root_span_id"]


def test_empty_compute_args_and_event_are_omitted():
    c = SpanComponentsV4(SpanObjectTypeV3.EXPERIMENT, object_id="e", propagated_event={})
    assert json.loads(base64.b64decode(c.to_str())[3:]) == {"object_id": "e"}


# -- older versions, unknown keys, bad slugs ---------------------------------------------------------


def make_slug(version, object_type, entries=(), json_part=None):
    raw = bytes([version, object_type, len(entries)])
    for field_id, payload in entries:
        raw += bytes([field_id]) + payload
    if json_part is not None:
        raw += json.dumps(json_part, separators=(",", ":")).encode()
    return base64.b64encode(raw).decode()


def test_v4_reads_v3_slug():
    slug = SpanComponentsV3(SpanObjectTypeV3.EXPERIMENT, object_id=U1, row_id=U2, span_id=U3, root_span_id=U4).to_str()
    c = SpanComponentsV4.from_str(slug)
    assert (c.object_id, c.row_id, c.span_id, c.root_span_id) == (U1, U2, U3, U4)
    assert SpanComponentsV4.get_version(slug) == 3


def v2_slug(object_type, object_id=None, args=None, row=None, row_is_uuid=True):
    raw = bytes([2, object_type, int(bool(object_id)), int(bool(args)), int(bool(row)), int(bool(row and row_is_uuid))])
    if object_id:
        raw += uuid.UUID(object_id).bytes
    if args:
        blob = json.dumps(args).encode()
        raw += len(blob).to_bytes(4, "big") + blob
    if row:
        row_id, span_id, root_span_id = row
        raw += uuid.UUID(span_id).bytes + uuid.UUID(root_span_id).bytes
        raw += uuid.UUID(row_id).bytes if row_is_uuid else row_id.encode()
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize("cls", [SpanComponentsV3, SpanComponentsV4])
def test_reads_v2_slugs(cls):
    c = cls.from_str(v2_slug(1, object_id=U1, row=(U2, U3, U4)))
    assert (c.object_type, c.object_id, c.row_id, c.span_id, c.root_span_id) == (
        SpanObjectTypeV3.EXPERIMENT, U1, U2, U3, U4)
    c = cls.from_str(v2_slug(2, args={"project_name": "p"}, row=("custom-row", U3, U4), row_is_uuid=False))
    assert c.compute_object_metadata_args == {"project_name": "p"}
    assert c.row_id == "custom-row"
    c = cls.from_str(v2_slug(2, object_id=U1))
    assert c.row_id is None and c.object_id == U1


def test_unknown_json_keys_are_ignored():
    slug = make_slug(4, 2, [(3, bytes.fromhex(SPAN)), (4, bytes.fromhex(TRACE))],
                     {"object_id": U1, "row_id": "r", "future_field": [1, 2], "object_type": 1})
    c = SpanComponentsV4.from_str(slug)
    assert c.object_type is SpanObjectTypeV3.PROJECT_LOGS  # byte 1 wins
    assert (c.object_id, c.row_id, c.span_id, c.root_span_id) == (U1, "r", SPAN, TRACE)


def test_v4_compressed_uuid_fields_from_other_encoders():
    slug = make_slug(4, 1, [(1, uuid.UUID(U1).bytes)])
    assert SpanComponentsV4.from_str(slug).object_id == U1


def test_tolerates_missing_padding_and_urlsafe_alphabet():
    assert SpanComponentsV4.from_str(LOGGER_EXPORT.rstrip("=")).object_id == U1
    urlsafe = base64.urlsafe_b64encode(base64.b64decode(ROOT_EXPORT)).decode()
    assert SpanComponentsV4.from_str(urlsafe) == SpanComponentsV4.from_str(ROOT_EXPORT)
    assert SpanComponentsV4.from_str("  " + ROOT_EXPORT + "\n").to_str() == ROOT_EXPORT


@pytest.mark.parametrize(
    "slug",
    [
        "",
        "!!!!",
        base64.b64encode(bytes([9, 1, 0])).decode(),  # unknown version
        base64.b64encode(bytes([1, 1, 0])).decode(),  # v1 is not supported
        base64.b64encode(bytes([4, 7, 0])).decode(),  # unknown object type
        base64.b64encode(bytes([4, 1, 1, 9]) + b"x" * 16).decode(),  # unknown field id
        base64.b64encode(bytes([4, 1, 1, 3, 1, 2])).decode(),  # truncated
        base64.b64encode(bytes([4, 1, 0]) + b"{not json").decode(),
        base64.b64encode(bytes([4, 1, 0]) + b"[1]").decode(),
        base64.b64encode(bytes([4, 1, 0])).decode(),  # no object id at all
        make_slug(4, 1, [(3, bytes(8))], {"object_id": "e"}),  # span_id without row_id
    ],
)
def test_bad_slugs_raise_a_clear_error(slug):
    with pytest.raises(SpanComponentsError, match="not properly encoded"):
        SpanComponentsV4.from_str(slug)
    with pytest.raises(ValueError):
        SpanComponentsV3.from_str(slug)
    with pytest.raises(AssertionError):  # code written against the public SDK's asserts
        SpanComponentsV4.from_str(slug)


# -- validation ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(object_type=SpanObjectTypeV3.EXPERIMENT),
        dict(object_type=SpanObjectTypeV3.EXPERIMENT, object_id="e", compute_object_metadata_args={"a": 1}),
        dict(object_type=SpanObjectTypeV3.EXPERIMENT, object_id="e", row_id="r"),
        dict(object_type=SpanObjectTypeV3.EXPERIMENT, object_id="e", row_id="r", span_id="s"),
        dict(object_type=SpanObjectTypeV3.EXPERIMENT, object_id="e", span_id="s", root_span_id="t"),
        dict(object_type=SpanObjectTypeV3.EXPERIMENT, object_id=5),
        dict(object_type=SpanObjectTypeV3.EXPERIMENT, compute_object_metadata_args=["x"]),
        dict(object_type=SpanObjectTypeV3.EXPERIMENT, object_id="e", propagated_event="x"),
        dict(object_type=7, object_id="e"),
        dict(object_type=True, object_id="e"),
    ],
)
@pytest.mark.parametrize("cls", [SpanComponentsV3, SpanComponentsV4])
def test_validation(cls, kwargs):
    with pytest.raises(ValueError):
        cls(**kwargs)


def test_object_type_coercion():
    assert SpanComponentsV4(2, object_id="p").object_type is SpanObjectTypeV3.PROJECT_LOGS
    assert SpanComponentsV4("experiment", object_id="e").object_type is SpanObjectTypeV3.EXPERIMENT


def test_object_id_fields():
    assert SpanComponentsV3(SpanObjectTypeV3.EXPERIMENT, object_id="e").object_id_fields() == {"experiment_id": "e"}
    assert SpanComponentsV4(SpanObjectTypeV3.PROJECT_LOGS, object_id="p").object_id_fields() == {
        "project_id": "p", "log_id": "g"}
    assert SpanComponentsV4(SpanObjectTypeV3.PLAYGROUND_LOGS, object_id="s").object_id_fields() == {
        "prompt_session_id": "s", "log_id": "x"}
    with pytest.raises(ValueError, match="object_id"):
        SpanComponentsV4.from_str(ROOT_EXPORT).object_id_fields()


# -- span_components_to_object_id --------------------------------------------------------------------


def test_to_object_id_direct_and_from_slug():
    assert span_components_to_object_id(SpanComponentsV4(SpanObjectTypeV3.EXPERIMENT, object_id="e")) == "e"
    assert span_components_to_object_id(LOGGER_EXPORT) == U1


def test_to_object_id_uses_known_project_id():
    c = SpanComponentsV4(SpanObjectTypeV3.PROJECT_LOGS,
                         compute_object_metadata_args={"project_name": "p", "project_id": "pid"})
    assert span_components_to_object_id(c) == "pid"


def test_to_object_id_by_name_needs_the_hook():
    c = SpanComponentsV4.from_str(ROOT_EXPORT)
    with pytest.raises(ValueError, match="recorder-traces"):
        span_components_to_object_id(c)
    seen = []

    def resolve(args):
        seen.append(args)
        return "resolved-id"

    assert span_components_to_object_id(c, resolve_project=resolve) == "resolved-id"
    assert seen == [{"project_name": "recorder-traces", "project_id": None}]


def test_to_object_id_rejects_compute_args_for_other_types():
    c = SpanComponentsV4(SpanObjectTypeV3.EXPERIMENT, compute_object_metadata_args={"project_name": "p"})
    with pytest.raises(ValueError, match="experiment"):
        span_components_to_object_id(c, resolve_project=lambda args: "x")
