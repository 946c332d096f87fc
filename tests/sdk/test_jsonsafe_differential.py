"""Awkward values logged through our SDK reach the server as 0.48.1 sent them, or differ on purpose.

The corpus and the runner are ``tests/data/record_jsonsafe_outputs.py``; what 0.48.1 sent (as
installed, and with orjson) is ``tests/data/jsonsafe_public_outputs.json``.
"""

from __future__ import annotations

import collections
import json
import sys
import types
from pathlib import Path

import pytest

from braintrust.jsonsafe import MAX_DEPTH_EXCEEDED, snapshot

DATA = Path(__file__).resolve().parents[1] / "data"
sys.path.insert(0, str(DATA))
import record_jsonsafe_outputs as corpus  # noqa: E402

PUBLIC = json.loads((DATA / "jsonsafe_public_outputs.json").read_text())["variants"]

#: Where 0.48.1's output depends on orjson being installed, we send what it sends with orjson.
LIKE_ORJSON = {
    "datetime_naive", "datetime_utc", "datetime_offset", "pydantic_rich",  # isoformat(), not str()
    "enum_str_value", "enum_int_value", "flag", "enums_in_list",  # the member's value
    "np_int64", "np_float32", "np_bool", "np_array_int", "np_array_2d", "np_in_dict",  # numbers and lists
}
LIKE_STDLIB = {"np_datetime64": "str() of the item; orjson adds a time"}


def deep(n: int, leaf: object) -> object:
    return corpus._nested(n, leaf)


#: Deliberate differences: case -> (what our row's ``input`` is, why).
KEPT = {
    "set_mixed": (["b", 1, 2.5, None], "set items sorted by repr (0.48.1: iteration order, hash dependent)"),
    "bad_key": ({"<unserializable object of type BadBoth>": 1}, "our placeholder text (0.48.1: <non-stringifiable-key: X>)"),
    "bad_str": ("<unserializable object of type BadStr>", "our placeholder text (0.48.1: <non-serializable: X>)"),
    "bad_repr": ("<unserializable object of type BadRepr>", "same"),
    "bad_both": ("<unserializable object of type BadBoth>", "same"),
    "bad_both_in_list": (["<unserializable object of type BadBoth>"], "same"),
    "pydantic_arbitrary": ({"amount": "1", "other": "<unserializable object of type BadStr>", "path": "/", "raw": "b''",
                            "when": "2024-01-02T00:00:00"}, "same"),
    "model_dump_raises": ("ModelDumpRaises()", "str() when model_dump raises (0.48.1: <non-sanitizable: X>)"),
    "namedtuple": ([1, [2]], "a tuple, so a list (0.48.1: [1, '{2}'], or str() with orjson)"),
    "huge_int": ("1180591620717411303424", "ints beyond 64 bits as strings (0.48.1: a JSON number)"),
    "huge_negative_int": ("-1180591620717411303424", "same"),
    "u64_max_plus_1": ("18446744073709551616", "same"),
    "i64_min_minus_1": ("-9223372036854775809", "same"),
    "int_5000_digits": ("<int with 16610 bits>", "0.48.1 cannot encode the batch: the rows never arrive"),
    "memoryview": ("b'mv'", "its bytes (0.48.1: '<memory at 0x...>')"),
    "lone_surrogate": ("a\ufffdb", "lone surrogates -> U+FFFD, valid UTF-8 (0.48.1 sends the escape)"),
    "surrogate_key": ({"\ufffd": 1}, "same"),
    "pydantic_nested": ({"address": {"city": "c"}, "name": "u", "tags": []},
                        "a set inside model_dump() is a list (0.48.1: 'set()')"),
    "np_array_nan": ([1.0, "NaN", "Infinity"], "NaN/inf as everywhere (0.48.1: null with orjson, str() without)"),
    "np_array_0d": (5, "tolist() (0.48.1: str())"),
    "np_array_str": (["a", "b"], "same"),
    "np_array_object": ([{"k": 1}, None], "same"),
    # Depth: 0.48.1 cuts at 200 levels counted from the row (the input is level 1); we cut at 255.
    "depth_199": (deep(199, "leaf"), "we cut deeper (see jsonsafe.MAX_DEPTH)"),
    "depth_200": (deep(200, "leaf"), "same"),
    "depth_201": (deep(201, "leaf"), "same"),
    "depth_500": (deep(254, MAX_DEPTH_EXCEEDED), "same"),
    "dict_depth_200": (corpus._nested(200, kind="dict"), "same"),
    "dict_depth_201": (corpus._nested(201, kind="dict"), "same"),
}


def canonical(value) -> str:
    """Distinguishes 1 / 1.0 / true and -0.0 / 0.0, which == does not."""
    return json.dumps(value, sort_keys=True)


@pytest.fixture(scope="module")
def ours():
    return corpus.run(sys.executable)


def test_every_case_was_recorded():
    for variant in PUBLIC.values():
        keys = {k.split(":", 1)[1] for k in variant["rows"]}
        assert keys == set(corpus.CASES) - {"int_5000_digits"}
        assert variant["errors"] == {}  # 0.48.1 raised from no log call


def test_no_log_call_raises_and_every_row_arrives(ours):
    assert ours["errors"] == {}
    assert set(ours["rows"]) == {f"{way}:{case}" for way in corpus.WAYS for case in corpus.CASES}
    for row in ours["rows"].values():
        assert set(row) == set(corpus.FIELDS)


#: Cases whose expected text depends on the Python version, not on the SDK: 0.48.1 was recorded
#: on 3.11, where an IntEnum's str() (a dict key's text) is its value; on 3.10 it is its name.
RECORDED_ON_311 = {"enum_key"}


@pytest.mark.parametrize("case", sorted(set(corpus.CASES) - set(KEPT)))
def test_rows_match_public_sdk(case, ours):
    if case in RECORDED_ON_311 and sys.version_info < (3, 11):
        pytest.skip("str() of an IntEnum key differs on Python 3.10 (its name, not its value)")
    stdlib, fast = (PUBLIC[v]["rows"] for v in ("stdlib", "orjson"))
    for way in corpus.WAYS:
        key = f"{way}:{case}"
        if canonical(stdlib[key]) == canonical(fast[key]):
            assert case not in LIKE_ORJSON and case not in LIKE_STDLIB, "stale entry"
            expected = stdlib[key]
        else:
            assert case in LIKE_ORJSON or case in LIKE_STDLIB, f"0.48.1 depends on orjson for {case}: choose"
            expected = fast[key] if case in LIKE_ORJSON else stdlib[key]
        assert canonical(ours["rows"][key]) == canonical(expected), key


@pytest.mark.parametrize("case", sorted(KEPT))
def test_deliberate_differences(case, ours):
    kept, _reason = KEPT[case]
    for way in corpus.WAYS:
        row = ours["rows"][f"{way}:{case}"]
        assert canonical(row["input"]) == canonical(corpus.normalize(kept))
        assert row["output"] == row["expected"] == row["input"]
        # Still a difference: when 0.48.1 starts sending the same, move the case out of KEPT.
        for variant in PUBLIC.values():
            assert canonical(variant["rows"].get(f"{way}:{case}")) != canonical(row)


# -- the fixes this comparison led to ----------------------------------------------------------------


class PlainMapping(collections.abc.Mapping):
    def __getitem__(self, key):
        return {"a": (1, 2)}[key]

    def __iter__(self):
        return iter(["a"])

    def __len__(self):
        return 1


def test_any_mapping_becomes_a_dict():
    assert snapshot(types.MappingProxyType({1: "a"}))[0] == {"1": "a"}
    assert snapshot(collections.ChainMap({"a": 1}, {"b": 2}))[0] == {"a": 1, "b": 2}
    assert snapshot([collections.UserDict({"u": {2}})])[0] == [{"u": [2]}]
    assert snapshot(PlainMapping())[0] == {"a": [1, 2]}


def test_object_with_a_dict_method():
    class Record:
        def dict(self, exclude_none=False):
            return {"a": 1} if exclude_none else {"a": 1, "b": None}

    class NotADict:
        def dict(self, exclude_none=False):
            return "nope"

        def __str__(self):
            return "NotADict()"

    assert snapshot(Record())[0] == {"a": 1}
    assert snapshot(NotADict())[0] == "NotADict()"


def test_model_class_becomes_its_json_schema():
    class Model:
        @classmethod
        def model_json_schema(cls):
            return {"title": "Model", "type": "object"}

    class Broken:
        @classmethod
        def model_json_schema(cls):
            raise ValueError("no schema")

    assert snapshot({"m": Model})[0] == {"m": {"title": "Model", "type": "object"}}
    assert snapshot(Broken)[0] == str(Broken)
