"""Record the rows an SDK sends for a corpus of awkward values (JSON safety, API doc §5.2).

    python tests/data/record_jsonsafe_outputs.py bench/.venvs/public-sdk/bin/python > tests/data/jsonsafe_public_outputs.json

Each value in ``CASES`` is logged as input/output/expected and metadata ``{"v": value}`` through
``logger.log``, ``span.log`` and ``experiment.log`` against the loopback test server. The public
SDK runs twice: as installed (no orjson) and with orjson (its ``performance`` extra); numpy is
put on its path both times (the public venv has none), from this interpreter's site-packages.
``tests/sdk/test_jsonsafe_differential.py`` runs the same corpus on our package and compares.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import decimal
import enum
import fractions
import hashlib
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import types
import uuid
from typing import NamedTuple, TypedDict

WAYS = ("logger", "span", "experiment")
FIELDS = ("input", "output", "expected", "metadata")


# -- corpus ---------------------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    ONE = 1


class Level(enum.IntEnum):
    HIGH = 3


if hasattr(enum, "StrEnum"):
    _StrEnum = enum.StrEnum
else:  # Python 3.10: the same members (str instances whose str() is their value)
    class _StrEnum(str, enum.Enum):
        __str__ = str.__str__


class Letter(_StrEnum):
    A = "a"


class Bits(enum.Flag):
    R = 1
    W = 2


@dataclasses.dataclass
class Inner:
    x: int
    tags: set = dataclasses.field(default_factory=lambda: {2, 1})


@dataclasses.dataclass
class Outer:
    name: str
    inner: Inner
    items: list = dataclasses.field(default_factory=list)
    when: object = None


@dataclasses.dataclass(frozen=True)
class Frozen:
    a: tuple
    b: float = float("nan")


@dataclasses.dataclass(slots=True)
class Slotted:
    a: int
    b: bytes = b"xy"


@dataclasses.dataclass
class Linked:
    name: str
    next: object = None


class Pair(NamedTuple):
    a: int
    b: object


class Movie(TypedDict):
    title: str
    year: int


class BadStr:
    def __str__(self):
        raise RuntimeError("no str")


class BadRepr:
    def __repr__(self):
        raise RuntimeError("no repr")


class BadBoth:
    def __repr__(self):
        raise RuntimeError("no repr")

    __str__ = __repr__


class BadEq:
    def __eq__(self, other):
        raise RuntimeError("no eq")

    def __hash__(self):
        raise RuntimeError("no hash")

    def __str__(self):
        return "BadEq()"


class StrSub(str):
    pass


class IntSub(int):
    pass


class DictSub(dict):
    pass


class ListSub(list):
    pass


class PlainMapping(collections.abc.Mapping):
    def __init__(self, data):
        self._data = data

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)


class HasDictMethod:
    """Not pydantic, but with a ``dict`` method (0.48.1 calls it)."""

    def dict(self, exclude_none=False):
        return {"from": "dict()"}

    def __str__(self):
        return "HasDictMethod()"


class ModelDumpRaises:
    def model_dump(self, exclude_none=False):
        raise ValueError("broken")

    def __str__(self):
        return "ModelDumpRaises()"


def _nested(n, leaf="leaf", kind="list"):
    v = leaf
    for _ in range(n):
        v = [v] if kind == "list" else {"d": v}
    return v


def _cyclic_list():
    a = [1]
    a.append(a)
    return a


def _cyclic_dict():
    d = {"k": 1}
    d["self"] = d
    return d


def _mutual():
    a, b = [], {}
    a.append(b)
    b["a"] = a
    return a


def _cyclic_dataclass():
    node = Linked("a")
    node.next = Linked("b", node)
    return node


def _cycle_through_tuple():
    inner = []
    t = (1, inner)
    inner.append(t)
    return t


def _shared():
    s = [1, 2]
    return {"a": s, "b": s, "c": [s, s]}


def _generator():
    return (i for i in range(3))


def _pydantic_cases():
    try:
        import pydantic
    except ImportError:
        return {}

    class Address(pydantic.BaseModel):
        city: str
        zip: str | None = None

    class User(pydantic.BaseModel):
        name: str
        age: int | None = None
        address: Address
        tags: set[str] = set()

    class Aliased(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(populate_by_name=True)
        first_name: str = pydantic.Field(alias="firstName")

    class Rich(pydantic.BaseModel):
        model_config = pydantic.ConfigDict(arbitrary_types_allowed=True)
        when: dt.datetime
        raw: bytes
        amount: decimal.Decimal
        other: BadStr | None = None
        path: pathlib.PurePosixPath

    return {
        "pydantic_nested": lambda ctx: User(name="u", address=Address(city="c")),
        "pydantic_aliases": lambda ctx: Aliased(firstName="Ada"),
        "pydantic_rich": lambda ctx: Rich(when=dt.datetime(2024, 1, 2, 3, 4, 5), raw=b"r",
                                          amount=decimal.Decimal("1.50"), path=pathlib.PurePosixPath("/p")),
        "pydantic_arbitrary": lambda ctx: Rich(when=dt.datetime(2024, 1, 2), raw=b"", amount=decimal.Decimal(1),
                                               other=BadStr(), path=pathlib.PurePosixPath("/")),
        "pydantic_in_list": lambda ctx: [Address(city="x"), {"m": Address(city="y", zip="1")}],
        "pydantic_class": lambda ctx: Address,
    }


def _numpy_cases():
    try:
        import numpy as np
    except ImportError:
        return {}
    return {
        "np_int64": lambda ctx: np.int64(7),
        "np_float32": lambda ctx: np.float32(0.5),
        "np_float64_nan": lambda ctx: np.float64("nan"),
        "np_bool": lambda ctx: np.bool_(True),
        "np_array_int": lambda ctx: np.array([1, 2, 3]),
        "np_array_2d": lambda ctx: np.array([[1.5, 2.0], [3.0, 4.0]]),
        "np_array_nan": lambda ctx: np.array([1.0, np.nan, np.inf]),
        "np_array_0d": lambda ctx: np.array(5),
        "np_array_str": lambda ctx: np.array(["a", "b"]),
        "np_array_object": lambda ctx: np.array([{"k": 1}, None], dtype=object),
        "np_datetime64": lambda ctx: np.datetime64("2024-01-02"),
        "np_in_dict": lambda ctx: {"a": np.arange(3), "s": np.int32(4)},
    }


CASES = {
    # containers and keys
    "mix": lambda ctx: {"a": [1, (2, 3), {4, 5}, frozenset({6})], "b": ({"c": (7,)},), "n": None, "t": True},
    "tuple": lambda ctx: (1, ("a", None), ()),
    "set_ints": lambda ctx: {3, 1, 2},
    "set_mixed": lambda ctx: {"b", 1, None, 2.5},
    "frozenset": lambda ctx: frozenset({1}),
    "frozenset_in_list": lambda ctx: [frozenset()],
    "int_keys": lambda ctx: {2: "b", 1: "a"},
    "tuple_keys": lambda ctx: {(1, 2): "a", ("x",): "b"},
    "none_bool_float_keys": lambda ctx: {None: 1, True: 2, False: 0, 2.5: 3, float("nan"): 4},
    "mixed_keys": lambda ctx: {"b": 1, 10: 2, "a": 3},
    "colliding_keys": lambda ctx: {1: "int", "1": "str"},
    "bad_key": lambda ctx: {BadBoth(): 1},
    "enum_key": lambda ctx: {Color.RED: 1, Level.HIGH: 2},
    "dict_subclass": lambda ctx: DictSub(a=1),
    "list_subclass": lambda ctx: ListSub([1, 2]),
    "defaultdict": lambda ctx: collections.defaultdict(list, {"a": [1]}),
    "ordereddict": lambda ctx: collections.OrderedDict([("b", 1), ("a", 2)]),
    "counter": lambda ctx: collections.Counter("aab"),
    "mappingproxy": lambda ctx: types.MappingProxyType({"a": 1}),
    "chainmap": lambda ctx: collections.ChainMap({"a": 1}, {"b": 2}),
    "userdict": lambda ctx: collections.UserDict({"a": 1}),
    "mapping": lambda ctx: PlainMapping({"a": (1, 2)}),
    "userlist": lambda ctx: collections.UserList([1, 2]),
    "deque": lambda ctx: collections.deque([1, 2]),
    "range": lambda ctx: range(3),
    "namedtuple": lambda ctx: Pair(1, {2}),
    "typeddict": lambda ctx: Movie(title="t", year=1999),
    "shared_not_cycle": lambda ctx: _shared(),
    # numbers
    "huge_int": lambda ctx: 2**70,
    "huge_negative_int": lambda ctx: -(2**70),
    "u64_max": lambda ctx: 2**64 - 1,
    "u64_max_plus_1": lambda ctx: 2**64,
    "i64_min": lambda ctx: -(2**63),
    "i64_min_minus_1": lambda ctx: -(2**63) - 1,
    "int_5000_digits": lambda ctx: 10**5000,
    "int_subclass": lambda ctx: IntSub(5),
    "bool": lambda ctx: [True, False],
    "floats": lambda ctx: [float("nan"), float("inf"), float("-inf"), -0.0, 1e308, 5e-324, 1e16, 1e-7, 0.1],
    "nan_alone": lambda ctx: float("nan"),
    "decimal": lambda ctx: [decimal.Decimal("1.10"), decimal.Decimal("NaN"), decimal.Decimal("1e1000")],
    "fraction": lambda ctx: fractions.Fraction(1, 3),
    "complex": lambda ctx: complex(1, 2),
    # dates, ids, paths
    "datetime_naive": lambda ctx: dt.datetime(2024, 1, 2, 3, 4, 5, 6),
    "datetime_utc": lambda ctx: dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
    "datetime_offset": lambda ctx: dt.datetime(2024, 1, 2, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
    "date": lambda ctx: dt.date(2024, 1, 2),
    "time": lambda ctx: dt.time(3, 4, 5),
    "time_tz": lambda ctx: dt.time(3, 4, tzinfo=dt.timezone.utc),
    "timedelta": lambda ctx: dt.timedelta(days=1, seconds=2),
    "uuid": lambda ctx: uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "path": lambda ctx: pathlib.PurePosixPath("/tmp/x"),
    # enums
    "enum_str_value": lambda ctx: Color.RED,
    "enum_int_value": lambda ctx: Color.ONE,
    "int_enum": lambda ctx: Level.HIGH,
    "str_enum": lambda ctx: Letter.A,
    "flag": lambda ctx: Bits.R | Bits.W,
    "enums_in_list": lambda ctx: [Color.RED, Level.HIGH, Letter.A],
    # bytes
    "bytes": lambda ctx: b"\x00\xffab",
    "bytearray": lambda ctx: bytearray(b"ab"),
    "memoryview": lambda ctx: memoryview(b"mv"),
    # dataclasses and friends
    "dataclass_nested": lambda ctx: Outer("o", Inner(1), [Inner(2, {3})], dt.date(2024, 1, 2)),
    "dataclass_frozen": lambda ctx: Frozen((1, 2)),
    "dataclass_slots": lambda ctx: Slotted(1),
    "dataclass_class": lambda ctx: Inner,
    "dataclass_in_dict": lambda ctx: {"k": Inner(5)},
    # broken objects
    "bad_str": lambda ctx: BadStr(),
    "bad_repr": lambda ctx: BadRepr(),
    "bad_both": lambda ctx: BadBoth(),
    "bad_both_in_list": lambda ctx: [BadBoth()],
    "bad_eq_hash": lambda ctx: BadEq(),
    "has_dict_method": lambda ctx: HasDictMethod(),
    "model_dump_raises": lambda ctx: ModelDumpRaises(),
    # callables, iterators, exceptions
    "generator": lambda ctx: _generator(),
    "iterator": lambda ctx: iter([1, 2]),
    "function": lambda ctx: _nested,
    "lambda": lambda ctx: (lambda: 1),
    "builtin": lambda ctx: len,
    "class": lambda ctx: BadStr,
    "exception": lambda ctx: ValueError("boom"),
    "key_error": lambda ctx: KeyError("k"),
    "object": lambda ctx: object,
    # cycles and depth
    "cyclic_list": lambda ctx: _cyclic_list(),
    "cyclic_dict": lambda ctx: _cyclic_dict(),
    "mutual_cycle": lambda ctx: _mutual(),
    "cyclic_dataclass": lambda ctx: _cyclic_dataclass(),
    "cycle_through_tuple": lambda ctx: _cycle_through_tuple(),
    "depth_199": lambda ctx: _nested(199),
    "depth_200": lambda ctx: _nested(200),
    "depth_201": lambda ctx: _nested(201),
    "depth_500": lambda ctx: _nested(500),
    "dict_depth_200": lambda ctx: _nested(200, kind="dict"),
    "dict_depth_201": lambda ctx: _nested(201, kind="dict"),
    # strings
    "lone_surrogate": lambda ctx: "a\ud800b",
    "surrogate_pair": lambda ctx: "\ud83d\ude00",
    "surrogate_key": lambda ctx: {"\udfff": 1},
    "nul": lambda ctx: "a\x00b",
    "line_separators": lambda ctx: "a\u2028b\u2029c",
    "controls": lambda ctx: "\t\n\x1f\x7f",
    "emoji": lambda ctx: "h\U0001f600",
    "long_string": lambda ctx: "x" * 100_000,
    "str_subclass": lambda ctx: StrSub("s"),
    # the SDK's own objects
    "sdk_logger": lambda ctx: ctx["logger"],
    "sdk_experiment": lambda ctx: ctx["experiment"],
    "sdk_span": lambda ctx: ctx["span"],
}
CASES.update(_pydantic_cases())
CASES.update(_numpy_cases())


# -- the child: log every case ----------------------------------------------------------------------


def child() -> None:
    """Log every case with whatever ``braintrust`` is importable; print the errors raised as JSON."""
    import braintrust

    logger = braintrust.init_logger(project="jsonsafe")
    experiment = braintrust.init(project="jsonsafe", experiment="jsonsafe")
    holder = logger.start_span(name="holder")
    ctx = {"logger": logger, "experiment": experiment, "span": holder}
    errors = {}
    for name, make in CASES.items():
        for way in WAYS:
            key = f"{way}:{name}"
            try:
                value = make(ctx)
                fields = dict(input=value, output=value, expected=value, metadata={"v": value})
                if way == "logger":
                    logger.log(id=key, allow_concurrent_with_spans=True, **fields)
                elif way == "span":
                    span = logger.start_span(name=key)
                    span.log(**fields)
                    span.end()
                else:
                    experiment.log(id=key, scores={}, allow_concurrent_with_spans=True, **fields)
            except Exception as e:
                errors[key] = f"{type(e).__name__}"
        # One batch per case: a value the SDK cannot send must not take the other cases with it.
        for obj in (logger, experiment):
            try:
                obj.flush()
            except Exception as e:
                errors[f"flush:{name}"] = f"{type(e).__name__}"
    holder.end()
    logger.flush()
    experiment.flush()
    print(json.dumps(errors))


# -- the parent: run a child against the test server ---------------------------------------------------

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def normalize(value):
    """Stable form of a received value: memory addresses and long strings shortened."""
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, str):
        value = _ADDRESS.sub(" at 0x?", value)
        if len(value) > 300:
            digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]
            return f"<{len(value)} chars, sha256 {digest}>"
    return value


def results_from_rows(rows: list[dict]) -> dict:
    """``{"way:case": {field: value}}`` from the server's merged rows (absent fields left out)."""
    out = {}
    for row in rows:
        name = (row.get("span_attributes") or {}).get("name", "")
        key = name if name.startswith("span:") else row.get("id")
        if not isinstance(key, str) or key.split(":", 1)[0] not in WAYS:
            continue
        out[key] = {f: normalize(row[f]) for f in FIELDS if f in row}
    return out


def run(python: str, pythonpath: list[str] = (), cwd: str | None = None) -> dict:
    """Run the corpus in ``python`` against a fresh test server: received fields and raised errors."""
    tests = str(pathlib.Path(__file__).resolve().parents[1])
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from btserver import BraintrustTestServer

    with tempfile.TemporaryDirectory() as tmp, BraintrustTestServer(org_name="jsonsafe-org") as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINTRUST_")}
        env.update(BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url, PYTHONHASHSEED="0",
                   BRAINTRUST_LOCAL_DIR=os.path.join(tmp, "store"))
        env.pop("PYTHONPATH", None)
        if pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(pythonpath)
        proc = subprocess.run([os.path.abspath(python), os.path.abspath(__file__), "--child"], env=env, cwd=cwd or tmp,
                              capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"child failed:\n{proc.stdout}\n{proc.stderr}")
        rows = server.rows()
    errors = json.loads(proc.stdout.strip().splitlines()[-1])
    # Whether a failing batch raises from flush() or in the background thread is a matter of timing.
    errors = {k: v for k, v in errors.items() if not k.startswith("flush:")}
    return {"rows": results_from_rows(rows), "errors": errors}


def _path_with(*modules: str) -> str:
    """A folder holding only links to ``modules`` (and their .libs) from this interpreter."""
    folder = tempfile.mkdtemp(prefix="jsonsafe-path-")
    for name in modules:
        origin = pathlib.Path(__import__(name).__file__).parent
        for entry in origin.parent.iterdir():
            if entry.name == name or entry.name == f"{name}.libs":
                os.symlink(entry, os.path.join(folder, entry.name))
    return folder


def main(python: str) -> int:
    plain = _path_with("numpy")
    fast = _path_with("numpy", "orjson")
    data = {
        "sdk": "braintrust 0.48.1",
        "recorded_with": "tests/data/record_jsonsafe_outputs.py",
        "variants": {
            "stdlib": run(python, [plain]),
            "orjson": run(python, [fast]),
        },
    }
    sys.stdout.write(dumps(data))
    return 0


def dumps(data: dict) -> str:
    """``data`` as JSON with one row per line (diffable; deep rows stay on their line)."""
    def compact(value):
        return json.dumps(value, sort_keys=True, ensure_ascii=True)

    lines = ["{", f' "recorded_with": {compact(data["recorded_with"])},', f' "sdk": {compact(data["sdk"])},',
             ' "variants": {']
    for i, (variant, result) in enumerate(sorted(data["variants"].items())):
        lines.append(f"  {compact(variant)}: {{")
        lines.append(f'   "errors": {compact(result["errors"])},')
        lines.append('   "rows": {')
        rows = sorted(result["rows"].items())
        lines += [f"    {compact(k)}: {compact(v)}" + ("," if j < len(rows) - 1 else "") for j, (k, v) in enumerate(rows)]
        lines.append("   }")
        lines.append("  }" + ("," if i < len(data["variants"]) - 1 else ""))
    lines += [" }", "}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        child()
    else:
        sys.exit(main(sys.argv[1]))
