"""braintrust.jsonsafe: snapshot() placeholders, size estimate, dumps_row() with and without orjson."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import math
import pathlib
import threading
import uuid

import pytest

from braintrust import jsonsafe
from braintrust.jsonsafe import CIRCULAR_REFERENCE, MAX_DEPTH_EXCEEDED, dumps_row, snapshot


def std_dumps(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


@pytest.fixture(params=["orjson", "stdlib"])
def encoder(request, monkeypatch):
    """Run a test with orjson (when installed) and with the standard-library path."""
    if request.param == "orjson":
        if jsonsafe._orjson is None:
            pytest.skip("orjson not installed")
    else:
        monkeypatch.setattr(jsonsafe, "_orjson", None)
    return request.param


# -- test doubles -----------------------------------------------------------------------------


class BadRepr:
    def __repr__(self):
        raise RuntimeError("no repr")

    __str__ = __repr__


@dataclasses.dataclass
class Point:
    x: int
    y: float
    tags: set


@dataclasses.dataclass
class Node:
    name: str
    child: object = None


class FakePydanticV2:
    """Duck-typed like a pydantic v2 model."""

    def __init__(self, **fields):
        self.fields = fields

    def model_dump(self, exclude_none=False):
        return {k: v for k, v in self.fields.items() if not (exclude_none and v is None)}


class FakePydanticV1:
    __fields__ = {"a": None, "b": None}

    def dict(self, exclude_none=False):
        d = {"a": 1, "b": None}
        return {k: v for k, v in d.items() if not (exclude_none and v is None)}


class FakeArray:
    """numpy-array-like: tolist() gives nested lists."""

    dtype = "float64"

    def tolist(self):
        return [[1.0, float("nan")], [2.0, 3.0]]


class FakeScalar:
    """numpy-scalar-like without tolist."""

    dtype = "int64"

    def item(self):
        return 7


class FailingModelDump:
    def model_dump(self, exclude_none=False):
        raise ValueError("boom")

    def __str__(self):
        return "failing-model"


class Placeholdered:
    __braintrust_placeholder__ = "<span>"

    def __str__(self):
        raise AssertionError("must not be called")


class Color(enum.Enum):
    RED = "red"
    TUPLE = (1, 2)


class Level(enum.IntEnum):
    HIGH = 3


class Letter(str, enum.Enum):
    A = "a"


class Bits(enum.Flag):
    R = 1


class Text(str):
    def __str__(self):
        return "overridden"


def cyclic_list():
    a = [1]
    a.append(a)
    return a


def cyclic_dict():
    d = {"k": 1}
    d["self"] = d
    return d


def deep(n):
    v: object = "leaf"
    for _ in range(n):
        v = [v]
    return v


def deep_dict(n):
    v: object = "leaf"
    for _ in range(n):
        v = {"d": v}
    return v


# -- the nasty-value loop ------------------------------------------------------------------------

NASTY = [
    # (value, a placeholder / value that must appear in the JSON text)
    (float("nan"), '"NaN"'),
    (float("inf"), '"Infinity"'),
    (float("-inf"), '"-Infinity"'),
    ({"v": [float("nan"), float("inf")]}, '["NaN","Infinity"]'),
    (b"bytes", "\"b'bytes'\""),
    (bytearray(b"ab"), "\"bytearray(b'ab')\""),
    (memoryview(b"mv"), "\"b'mv'\""),
    ({3, 1, 2}, "[1,2,3]"),
    (frozenset({1}), '"frozenset({1})"'),  # (0.48.1's: str())
    ((1, (2, 3)), "[1,[2,3]]"),
    (cyclic_list(), CIRCULAR_REFERENCE),
    (cyclic_dict(), CIRCULAR_REFERENCE),
    (deep(500), MAX_DEPTH_EXCEEDED),
    (deep_dict(500), MAX_DEPTH_EXCEEDED),
    (10**400, '"1' + "0" * 400 + '"'),
    (-(10**30), '"-1' + "0" * 30 + '"'),
    (2**64, '"18446744073709551616"'),
    (2**64 - 1, "18446744073709551615"),  # unsigned 64-bit: a number (as orjson writes it)
    (2**63, "9223372036854775808"),
    (-(2**63), "-9223372036854775808"),
    (10**5000, "<int with 16610 bits>"),
    ("\ud800", '"\ufffd"'),
    ("a\udfffb", '"a\ufffdb"'),
    ("\ud83d\ude00", '"\U0001f600"'),
    ({"\ud800key": 1}, '"\ufffdkey"'),
    (BadRepr(), "<unserializable object of type BadRepr>"),
    ([BadRepr()], "<unserializable object of type BadRepr>"),
    (Point(1, 2.5, {"z"}), '{"tags":["z"],"x":1,"y":2.5}'),
    (FakePydanticV2(a=1, b=None, c=datetime.date(2024, 1, 2)), '{"a":1,"c":"2024-01-02"}'),
    (FakePydanticV1(), '{"a":1}'),
    (FailingModelDump(), '"failing-model"'),
    (datetime.datetime(2024, 5, 6, 7, 8, 9, 10, tzinfo=datetime.timezone.utc), '"2024-05-06T07:08:09.000010+00:00"'),
    (datetime.date(2024, 5, 6), '"2024-05-06"'),
    (datetime.time(1, 2, 3), '"01:02:03"'),
    (decimal.Decimal("1.50"), '"1.50"'),  # (0.48.1's: str(), every digit kept)
    (decimal.Decimal("12345678901234567890.123"), '"12345678901234567890.123"'),
    (decimal.Decimal("NaN"), '"NaN"'),
    (decimal.Decimal("-Infinity"), '"-Infinity"'),
    (decimal.Decimal("1e400"), '"1E+400"'),
    (uuid.UUID("12345678-1234-5678-1234-567812345678"), '"12345678-1234-5678-1234-567812345678"'),
    (pathlib.PurePosixPath("/a/b"), '"/a/b"'),
    (Color.RED, '"red"'),  # (its value, as orjson writes every member; 0.48.1 writes "Color.RED")
    (Color.TUPLE, "[1,2]"),
    (Level.HIGH, "3"),
    (Letter.A, '"a"'),
    (Bits.R, "1"),
    (Text("plain"), '"plain"'),
    (FakeArray(), '[[1.0,"NaN"],[2.0,3.0]]'),
    (FakeScalar(), "7"),
    (Placeholdered(), '"<span>"'),
    ({1: "a", None: "b", (1, 2): "c"}, '{"(1, 2)":"c","1":"a","None":"b"}'),
    ({BadRepr(): 1}, "<unserializable object of type BadRepr>"),
    (object, "\"<class 'object'>\""),
    (Node("a", Node("b", None)), '{"child":{"child":null,"name":"b"},"name":"a"}'),
    (True, "true"),
    (None, "null"),
    ("", '""'),
]


@pytest.mark.parametrize("value,expected", NASTY, ids=[f"{i}-{type(v).__name__}" for i, (v, _) in enumerate(NASTY)])
def test_nasty_values_become_valid_json_with_placeholder(value, expected, encoder):
    copy, size = snapshot(value)
    assert isinstance(size, int) and size > 0
    text = dumps_row({"x": copy})
    parsed = json.loads(text)
    assert "x" in parsed
    decoded = text.decode("utf-8")  # valid UTF-8
    assert expected in decoded, decoded[:300]
    # the raw value in a row (not snapshotted) still gives valid JSON
    json.loads(dumps_row({"x": value}))


def test_nasty_values_all_at_once(encoder):
    values = [v for v, _ in NASTY]
    copy, _ = snapshot({"values": values, "nested": {"again": values}})
    parsed = json.loads(dumps_row(copy))
    assert len(parsed["values"]) == len(values)


def test_real_numpy_and_pydantic_when_installed(encoder):
    np = pytest.importorskip("numpy")
    pydantic = pytest.importorskip("pydantic")

    class M(pydantic.BaseModel):
        a: int
        b: str | None = None

    value = {
        "arr": np.array([[1, 2], [3, 4]]),
        "f32": np.float32(0.5),
        "i64": np.int64(9),
        "b": np.bool_(True),
        "nan": np.float64("nan"),
        "model": M(a=1),
    }
    copy, _ = snapshot(value)
    assert copy == {"arr": [[1, 2], [3, 4]], "f32": 0.5, "i64": 9, "b": True, "nan": "NaN", "model": {"a": 1}}
    json.loads(dumps_row(copy))


def test_mock_objects_become_their_str_quickly():
    from unittest import mock
    import time

    start = time.perf_counter()
    copy, _ = snapshot({"m": mock.MagicMock(), "n": mock.Mock(name="client")})
    assert time.perf_counter() - start < 0.5
    assert copy["m"].startswith("<MagicMock") and copy["n"].startswith("<Mock name='client'")


def test_more_numpy_kinds_when_installed():
    np = pytest.importorskip("numpy")
    copy, _ = snapshot([np.datetime64("2024-01-01T00:00:00"), np.array(["a", "b"]), np.complex128(1 + 2j),
                        np.array([1.5, np.inf]), np.str_("s"), np.zeros((0,))])
    assert copy == ["2024-01-01T00:00:00", ["a", "b"], "(1+2j)", [1.5, "Infinity"], "s", []]


# -- semantics -------------------------------------------------------------------------------------


def test_plain_data_is_equal_but_a_deep_copy():
    row = {"input": {"q": "x", "ctx": ["a", "b"]}, "n": 1, "f": 0.5, "ok": True, "none": None}
    copy, _ = snapshot(row)
    assert copy == row
    assert copy is not row and copy["input"] is not row["input"] and copy["input"]["ctx"] is not row["input"]["ctx"]
    row["input"]["ctx"].append("c")
    assert copy["input"]["ctx"] == ["a", "b"]


def test_shared_reference_is_not_a_cycle():
    shared = {"k": [1, 2]}
    copy, _ = snapshot({"a": shared, "b": shared, "c": [shared, shared]})
    assert copy == {"a": shared, "b": shared, "c": [shared, shared]}
    assert CIRCULAR_REFERENCE not in json.dumps(copy)


def test_cycle_through_dataclass():
    n = Node("a")
    n.child = n
    copy, _ = snapshot(n)
    assert copy == {"name": "a", "child": CIRCULAR_REFERENCE}


def test_depth_limit_exact():
    copy, _ = snapshot(deep(jsonsafe.MAX_DEPTH))
    assert MAX_DEPTH_EXCEEDED not in json.dumps(copy)
    copy, _ = snapshot(deep(jsonsafe.MAX_DEPTH + 2))
    assert MAX_DEPTH_EXCEEDED in json.dumps(copy)


def test_sets_are_sorted_deterministically():
    assert snapshot({"b", "a", "c"})[0] == ["a", "b", "c"]
    mixed, _ = snapshot({1, "1", (2, 3)})
    assert sorted(map(repr, mixed)) == list(map(repr, mixed))


def test_bools_stay_bools_and_ints_stay_ints():
    copy, _ = snapshot([True, False, 1, 0, 1.0])
    assert [type(x) for x in copy] == [bool, bool, int, int, float]


def test_snapshot_never_raises_on_mutation_during_iteration():
    class Evil(dict):
        def items(self):
            raise RuntimeError("dictionary changed size during iteration")

    copy, _ = snapshot({"e": Evil(a=1)})
    assert copy == {"e": "<unserializable object of type Evil>"}


def test_snapshot_with_almost_exhausted_stack():
    def recurse(n):
        if n == 0:
            return snapshot(deep(190))
        return recurse(n - 1)

    import sys

    limit = sys.getrecursionlimit()
    copy, _ = recurse(limit - 150)  # leaves too little stack for 190 levels
    json.loads(dumps_row({"x": copy}))


def test_threads_snapshotting_concurrently():
    data = {"k": list(range(100))}
    errors = []

    def work():
        try:
            for _ in range(200):
                assert snapshot(data)[0] == data
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# -- size estimate -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"input": {"question": "q" * 200, "context": ["c" * 60] * 3}, "output": "o" * 300, "expected": "e" * 40,
         "metadata": {"model": "x", "temperature": 0.2, "tags": ["a", "b"]}},
        {"k%d" % i: i for i in range(200)},
        [0.123456789] * 100,
        ["short"] * 100,
        {"text": "héllo wörld ünïcode " * 50},
        {"text": "日本語のテキスト" * 50},
        "x" * 10000,
        [{"a": None, "b": True}] * 50,
    ],
)
def test_size_estimate_within_2x(value):
    copy, estimate = snapshot(value)
    real = len(std_dumps(copy))
    assert real / 2 <= estimate <= real * 2, (estimate, real)


# -- dumps_row ------------------------------------------------------------------------------------------

PLAIN_CORPUS = [
    {},
    {"b": 1, "a": 2, "c": {"z": 1, "y": [3, 2, 1]}},
    {"id": "3f0c", "span_parents": None, "_is_merge": False, "metrics": {"start": 1767100000.123456, "end": 1767100001.5}},
    {"text": "héllo, 日本語, emoji \U0001f600, quote \" backslash \\ newline \n tab \t"},
    {"ctrl": "\x00\x01\x1f\x7f", "sep": "\u2028\u2029", "slash": "a/b", "html": "<script>&</script>"},
    {"nums": [0, -1, 2**63 - 1, -(2**63), 0.1, 0.2 + 0.1, -0.0, 1.5, 3.0, 1234567.891, 0.001, 5e-324]},
    {"bools": [True, False, None]},
    {"keys": {"B": 1, "a": 2, "é": 3, "Z": 4, "_": 5, "10": 6, "9": 7}},
    {"nested": [[[[{"deep": [1, {"x": "y"}]}]]]]},
]


@pytest.mark.parametrize("row", PLAIN_CORPUS)
def test_dumps_row_matches_stdlib_json_for_plain_data(row, encoder):
    assert dumps_row(row) == std_dumps(row)


def test_dumps_row_exponent_floats_parse_identically(encoder):
    row = {"f": [1e16, 1e-7, 1e22, 1.7976931348623157e308, 12345678901234567.0]}
    out = dumps_row(row)
    assert json.loads(out) == row
    if encoder == "stdlib":
        assert out == std_dumps(row)


def test_dumps_row_is_compact_sorted_utf8():
    out = dumps_row({"b": "é", "a": [1, 2]})
    assert out == '{"a":[1,2],"b":"é"}'.encode("utf-8")
    assert isinstance(out, bytes)


def test_dumps_row_on_unsnapshotted_rows(encoder):
    row = {"a": float("nan"), 1: "int key", "s": "\ud800", "o": object(), "dt": datetime.date(2020, 1, 1)}
    parsed = json.loads(dumps_row(row))
    assert parsed["a"] == "NaN" and parsed["1"] == "int key" and parsed["s"] == "\ufffd"
    assert parsed["dt"] == "2020-01-01"


def test_dumps_row_on_snapshot_output_of_nasty_values(encoder):
    for value, _ in NASTY:
        copy, _ = snapshot(value)
        out = dumps_row({"input": copy, "id": "x"})
        assert json.loads(out)["id"] == "x"


# -- speed (smoke check; the numbers are reported by the benchmark, not asserted tightly) ---------------


def test_snapshot_is_fast_for_plain_rows():
    import timeit

    row = {"input": {"question": "q" * 200, "context": ["c" * 60] * 3}, "output": "o" * 300, "expected": "e" * 40,
           "metadata": {"model": "x", "temperature": 0.2, "tags": ["a", "b"]}}
    n = 2000
    per_call = min(timeit.repeat(lambda: snapshot(row), number=n, repeat=5)) / n
    assert per_call < 100e-6  # generous: ~3-5 µs on a normal machine
    assert not math.isnan(per_call)


# -- encode_fresh: encoding without the snapshot must give the very same bytes ------------------------


def _envelope(value):
    return {"id": "x", "span_parents": None, "created": "2026-01-01T00:00:00+00:00", "input": value}


@pytest.mark.parametrize("value", [v for v, _ in NASTY] + PLAIN_CORPUS, ids=lambda v: type(v).__name__)
def test_encode_fresh_gives_the_snapshot_bytes_or_declines(value):
    row = _envelope(value)
    fresh = jsonsafe.encode_fresh(row)
    exact = dumps_row(snapshot(row)[0])
    assert fresh is None or fresh == exact


def test_encode_fresh_takes_plain_rows_and_declines_what_snapshot_rewrites():
    if jsonsafe._orjson is None:
        pytest.skip("orjson not installed")
    plain = _envelope({"q": ["a", 1, 2.5, True, {"k": "é"}], "n": 2**64 - 1})
    assert jsonsafe.encode_fresh(plain) == dumps_row(snapshot(plain)[0])
    # (a tuple anywhere: orjson does not count tuples toward its nesting limit, see _for_orjson)
    for value in (float("nan"), float("inf"), [{"x": -float("inf")}], 2**64, {1: "x"}, "\ud800", {1, 2}, (1, 2), [{"t": (1,)}]):
        assert jsonsafe.encode_fresh(_envelope(value)) is None, value
    for value in ({"k": None}, "a null word", [None, {"n": None}], -0.0, 1e300):  # (written as snapshot writes them)
        assert jsonsafe.encode_fresh(_envelope(value)) == dumps_row(snapshot(_envelope(value))[0]), value
    assert jsonsafe.encode_fresh(_envelope(None)) == dumps_row(snapshot(_envelope(None))[0])  # a top-level None
    for depth in (jsonsafe.MAX_DEPTH - 2, jsonsafe.MAX_DEPTH - 1, jsonsafe.MAX_DEPTH, jsonsafe.MAX_DEPTH + 1):
        row = {"input": deep(depth)}
        fresh = jsonsafe.encode_fresh(row)
        assert fresh is None or fresh == dumps_row(snapshot(row)[0]), depth
