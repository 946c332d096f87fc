"""JSON-safe snapshots of user data, and the one row encoder used for the wire and the store.

Contract
--------
``snapshot(value) -> (copy, approx_bytes)`` is called on every ``log``: it returns a deep copy made
only of ``dict`` (str keys), ``list``, ``str``, ``int``, ``float``, ``bool`` and ``None``, that any
JSON encoder accepts and that later mutation of the user's objects cannot change, plus a cheap
estimate of its encoded size in bytes (for bounding the queue; it is not exact, typically within
a factor of 2). It never raises (except ``BaseException`` such as ``KeyboardInterrupt``) and never
imports optional libraries.

``dumps_row(row) -> bytes`` is compact JSON (``,``/``:`` separators), keys sorted, non-ASCII kept,
UTF-8. It uses ``orjson`` when installed and the standard library otherwise; both give the same
bytes except for floats in exponent notation (orjson writes ``1e16``/``1e-7``, the standard
library ``1e+16``/``1e-07``: the same numbers once parsed). It always returns valid JSON, even for
a row that was not snapshotted (it then snapshots the row and encodes that), provided the row holds
no tuple: orjson crashes on a cycle through one, so callers' own data goes through ``snapshot`` or
``encode_fresh``, which looks for tuples first.

Placeholders (what ``snapshot`` turns each kind of value into)
--------------------------------------------------------------

===================================================  ==============================================
value                                                 becomes
===================================================  ==============================================
``str``                                               itself; lone surrogates -> U+FFFD (a valid
                                                      surrogate pair is joined into its character)
``int``, ``bool``, ``None``                           itself
``int`` outside [-2**63, 2**64 - 1]                   ``str(n)`` (if even that is refused, more than
                                                      4300 digits: ``"<int with N bits>"``)
``float``                                             itself; NaN -> ``"NaN"``, inf -> ``"Infinity"``,
                                                      -inf -> ``"-Infinity"``
``dict`` (and subclasses), any other ``Mapping``       ``dict``; non-str keys -> ``str(key)``
``list``, ``tuple`` (and subclasses)                  ``list``
``set`` (and subclasses but ``frozenset``)           ``list`` sorted by the ``repr`` of the copied
                                                      items (insertion order if that fails)
``frozenset``                                         ``str(s)``, e.g. ``"frozenset({1})"`` (as 0.48.1)
``bytes``, ``bytearray``                              ``str(b)``, e.g. ``"b'bytes'"``
``memoryview``                                        ``str(bytes(m))``
object with a str ``__braintrust_placeholder__``      that string (our Span/Logger/Experiment/Dataset
                                                      set ``"<span>"``, ``"<logger>"``, ...)
attachment (class with ``__braintrust_attachment__``)  its ``reference`` dict; its bytes are
                                                      registered for storing (``attachments.pending``)
``enum.Enum`` member                                  its ``value`` (snapshotted), as orjson writes
                                                      every member (0.48.1: ``str(member)``, e.g.
                                                      ``"Color.RED"``, for a member of a plain Enum)
dataclass instance                                    ``dict`` of its fields (snapshotted)
pydantic v2 model (``model_dump`` returning a dict)   ``model_dump(exclude_none=True)``
pydantic v1 model, any object with a ``dict`` method   ``.dict(exclude_none=True)`` (if a dict)
pydantic model class (``model_json_schema``)          ``model_json_schema()`` (if a dict)
``datetime``, ``date``, ``time``                      ``isoformat()``
``decimal.Decimal``                                   ``str(d)``: every digit kept (as 0.48.1)
``uuid.UUID``, ``pathlib.PurePath``                   ``str(x)``
numpy-like arrays / pandas-like (callable ``tolist``)  ``tolist()`` (snapshotted; used only when it
                                                      returns a plain Python value)
numpy-like scalars (``dtype`` + ``item``)               ``item()`` (same condition)
a container already being copied (a cycle)            ``"<circular reference>"``
a container nested deeper than 254 levels             ``"<max depth exceeded>"``
anything else                                         ``str(obj)``
an object whose conversion or ``str``/``repr`` raises  ``"<unserializable object of type X>"``
===================================================  ==============================================

A value shared by two branches (not a cycle) is copied twice, as JSON would write it twice.
Duck typing only: pydantic, numpy and pandas are never imported here.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import enum
import json
import pathlib
import uuid
from collections.abc import Mapping
from typing import Any

try:  # optional fast encoder; never required
    import orjson as _orjson

    _ORJSON_OPTIONS = (
        _orjson.OPT_SORT_KEYS
        # Make orjson refuse what snapshot() would convert differently, so that un-snapshotted
        # data takes the fallback path and still follows the table above.
        | _orjson.OPT_PASSTHROUGH_DATACLASS
        | _orjson.OPT_PASSTHROUGH_DATETIME
        | _orjson.OPT_PASSTHROUGH_SUBCLASS
    )
except Exception:  # pragma: no cover - depends on the environment
    _orjson = None
    _ORJSON_OPTIONS = 0



def loads_row(text: str | bytes) -> Any:
    """Parse a stored row (orjson when installed; the standard library for anything it refuses)."""
    if _orjson is not None:
        try:
            return _orjson.loads(text)
        except Exception:
            pass
    return json.loads(text)


__all__ = [
    "CIRCULAR_REFERENCE",
    "MAX_DEPTH",
    "MAX_DEPTH_EXCEEDED",
    "dumps_row",
    "encode_fresh",
    "loads_row",
    "snapshot",
    "unserializable_placeholder",
]

#: As deep as orjson encodes (it refuses 255 levels), so ``encode_fresh`` and ``snapshot`` agree.
MAX_DEPTH = 254
CIRCULAR_REFERENCE = "<circular reference>"
MAX_DEPTH_EXCEEDED = "<max depth exceeded>"
PLACEHOLDER_ATTR = "__braintrust_placeholder__"
ATTACHMENT_ATTR = "__braintrust_attachment__"

_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1  # orjson writes unsigned 64-bit integers as numbers
_INF = float("inf")

# Rough encoded sizes used by the estimate: every container item costs _SZ_ITEM (quotes,
# separators, a short number or literal) plus the length of its strings.
_SZ_ITEM = 6
_SZ_NUM = 8
_SZ_LITERAL = 5  # true / false / null


def unserializable_placeholder(obj: Any) -> str:
    try:
        name = type(obj).__name__
    except Exception:  # pragma: no cover - type() of anything has a name
        name = "?"
    return f"<unserializable object of type {name}>"


# ---------------------------------------------------------------------------------------------
# scalars


def _clean_str(s: str) -> str:
    """``s`` with lone surrogates replaced by U+FFFD (``s`` itself when it has none)."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        # UTF-16 round trip: joins valid surrogate pairs, replaces the lone ones.
        return s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _str_size(s: str) -> tuple[str, int]:
    """``s`` cleaned, and its encoded size (exact UTF-8 length when not ASCII, escapes aside)."""
    if s.isascii():
        return s, len(s) + 2
    try:
        return s, len(s.encode("utf-8")) + 2
    except UnicodeEncodeError:
        s = _clean_str(s)
        return s, len(s.encode("utf-8")) + 2


def _big_int(n: int) -> str:
    try:
        return str(n)
    except ValueError:  # sys.int_info.default_max_str_digits
        return f"<int with {n.bit_length()} bits>"


def _float(f: float) -> Any:
    if f != f:
        return "NaN"
    if f == _INF:
        return "Infinity"
    if f == -_INF:
        return "-Infinity"
    return f


def _key(k: Any) -> str:
    if type(k) is str:
        return k if k.isascii() else _clean_str(k)
    try:
        return _clean_str(str(k))
    except Exception:
        return unserializable_placeholder(k)


# ---------------------------------------------------------------------------------------------
# containers
#
# Leaves are handled inline in the loops (no function call per leaf): that is what makes the
# common case fast. ``path`` holds the ids of the containers on the current branch.


def _copy_dict(d: Any, depth: int, path: set) -> tuple[Any, int]:
    oid = id(d)
    if oid in path:
        return CIRCULAR_REFERENCE, 22
    if depth > MAX_DEPTH:
        return MAX_DEPTH_EXCEEDED, 22
    path.add(oid)
    try:
        out = {}
        size = 2 + _SZ_ITEM * len(d)
        for k, v in d.items():
            if type(k) is str:
                if k.isascii():
                    size += len(k)
                else:
                    k, n = _str_size(k)
                    size += n
            else:
                k = _key(k)
                size += len(k)
            t = type(v)
            if t is str:
                if v.isascii():
                    size += len(v)
                else:
                    v, n = _str_size(v)
                    size += n
            elif t is int:
                if not (_INT_MIN <= v <= _INT_MAX):
                    v = _big_int(v)
                    size += len(v)
            elif t is float:
                if v - v != 0.0:
                    v = _float(v)
            elif v is None or t is bool:
                pass
            elif t is dict:
                v, n = _copy_dict(v, depth + 1, path)
                size += n
            elif t is list:
                v, n = _copy_list(v, depth + 1, path)
                size += n
            else:
                v, n = _copy_other(v, depth + 1, path)
                size += n
            out[k] = v
        return out, size
    finally:
        path.discard(oid)


def _copy_list(seq: Any, depth: int, path: set) -> tuple[Any, int]:
    """Lists, tuples, sets (any iterable of items)."""
    oid = id(seq)
    if oid in path:
        return CIRCULAR_REFERENCE, 22
    if depth > MAX_DEPTH:
        return MAX_DEPTH_EXCEEDED, 22
    path.add(oid)
    try:
        out = []
        append = out.append
        size = 2 + _SZ_ITEM * len(seq)
        for v in seq:
            t = type(v)
            if t is str:
                if v.isascii():
                    size += len(v)
                else:
                    v, n = _str_size(v)
                    size += n
            elif t is int:
                if not (_INT_MIN <= v <= _INT_MAX):
                    v = _big_int(v)
                    size += len(v)
            elif t is float:
                if v - v != 0.0:
                    v = _float(v)
            elif v is None or t is bool:
                pass
            elif t is dict:
                v, n = _copy_dict(v, depth + 1, path)
                size += n
            elif t is list:
                v, n = _copy_list(v, depth + 1, path)
                size += n
            else:
                v, n = _copy_other(v, depth + 1, path)
                size += n
            append(v)
        return out, size
    finally:
        path.discard(oid)


def _set_sort_key(item: Any) -> str:
    return repr(item)


def _copy_set(s: Any, depth: int, path: set) -> tuple[Any, int]:
    out, size = _copy_list(s, depth, path)
    if type(out) is list:
        try:
            out.sort(key=_set_sort_key)
        except Exception:
            pass
    return out, size


def _copy_value(v: Any, depth: int, path: set) -> tuple[Any, int]:
    """Any value (used for results of conversions and for the top level)."""
    t = type(v)
    if t is str:
        return _str_size(v)
    if t is int:
        if _INT_MIN <= v <= _INT_MAX:
            return v, _SZ_NUM
        s = _big_int(v)
        return s, len(s) + 2
    if t is float:
        return _float(v), _SZ_NUM
    if v is None or t is bool:
        return v, _SZ_LITERAL
    if t is dict:
        return _copy_dict(v, depth, path)
    if t is list:
        return _copy_list(v, depth, path)
    return _copy_other(v, depth, path)


def _copy_other(obj: Any, depth: int, path: set) -> tuple[Any, int]:
    try:
        return _convert(obj, depth, path)
    except Exception:
        return unserializable_placeholder(obj), 40


def _via(obj: Any, converted: Any, depth: int, path: set) -> tuple[Any, int]:
    """Snapshot ``converted`` (derived from ``obj``) with ``obj`` marked as on the current branch."""
    oid = id(obj)
    path.add(oid)
    try:
        return _copy_value(converted, depth, path)
    finally:
        path.discard(oid)


def _answer(obj: Any, method: str, **kwargs: Any) -> Any:
    """``obj.method(**kwargs)``, or ``_NOTHING`` when it has no such method or it raises."""
    call = getattr(obj, method, None)
    if not callable(call):
        return _NOTHING
    try:
        return call(**kwargs)
    except Exception:
        return _NOTHING


def _dict_from(obj: Any, method: str, **kwargs: Any) -> dict | None:
    """``obj.method(**kwargs)`` if it has that method and it answers a dict, else None."""
    dumped = _answer(obj, method, **kwargs)
    return dumped if isinstance(dumped, dict) else None


def _model_dump(obj: Any, **kwargs: Any) -> Any:
    """A pydantic v2 model's ``model_dump(**kwargs)``: a dict, or the root value of a
    ``RootModel`` (a list, a string...), as 0.48.1 sends it; None when it has no such method or
    it answers anything else (a Mock's answer is another Mock)."""
    dumped = _answer(obj, "model_dump", **kwargs)
    return dumped if dumped is not None and type(dumped) in _PLAIN_RESULTS else None


def _convert(obj: Any, depth: int, path: set) -> tuple[Any, int]:
    if id(obj) in path:
        return CIRCULAR_REFERENCE, 22
    if depth > MAX_DEPTH:
        return MAX_DEPTH_EXCEEDED, 22

    placeholder = getattr(obj, PLACEHOLDER_ATTR, None)
    if isinstance(placeholder, str):
        return _str_size(placeholder)
    if getattr(type(obj), ATTACHMENT_ATTR, False):
        from braintrust.attachments.pending import logged  # (registers its bytes for storing)

        return _via(obj, logged(obj), depth, path)

    if isinstance(obj, enum.Enum):
        return _via(obj, obj.value, depth, path)

    # Subclasses of the plain types (exact types never reach here from the containers).
    if isinstance(obj, str):
        return _str_size(str.__str__(obj))
    if isinstance(obj, bool):
        return bool(obj), _SZ_LITERAL
    if isinstance(obj, int):
        return _copy_value(int(obj), depth, path)
    if isinstance(obj, float):  # includes numpy.float64
        return _float(float(obj)), _SZ_NUM
    if isinstance(obj, dict):
        return _copy_dict(obj, depth, path)
    if isinstance(obj, (list, tuple)):
        return _copy_list(obj, depth, path)
    if isinstance(obj, frozenset):
        return _str_size(str(obj))
    if isinstance(obj, set):
        return _copy_set(obj, depth, path)

    if isinstance(obj, (bytes, bytearray)):
        return _str_size(str(obj))
    if isinstance(obj, memoryview):
        return _str_size(str(obj.tobytes()))

    if isinstance(obj, (_dt.date, _dt.time)):  # datetime is a date
        return _str_size(obj.isoformat())
    if isinstance(obj, decimal.Decimal):
        return _str_size(str(obj))
    if isinstance(obj, (uuid.UUID, pathlib.PurePath)):
        return _str_size(str(obj))
    if isinstance(obj, Mapping):  # mappingproxy, ChainMap, UserDict... (as 0.48.1)
        return _copy_dict(obj, depth, path)

    if isinstance(obj, type):
        dumped = _dict_from(obj, "model_json_schema")  # a pydantic model class (as 0.48.1)
        if dumped is not None:
            return _via(obj, dumped, depth, path)
    else:
        if dataclasses.is_dataclass(obj):
            fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
            return _via(obj, fields, depth, path)
        # pydantic v2, then v1 or any object with dict() (as 0.48.1); pydantic's serializer
        # warnings (a value its field's type does not expect) are not the caller's, as in 0.48.1
        dumped = _model_dump(obj, exclude_none=True, warnings=False)
        if dumped is None:  # (a model_dump of its own, without the argument)
            dumped = _model_dump(obj, exclude_none=True)
        if dumped is None:
            dumped = _dict_from(obj, "dict", exclude_none=True)
        if dumped is not None:
            return _via(obj, dumped, depth, path)

        tolist = getattr(obj, "tolist", None)  # numpy arrays and scalars, pandas, array.array
        if callable(tolist):
            try:
                listed = tolist()
            except Exception:
                listed = _NOTHING
            if type(listed) in _PLAIN_RESULTS:
                return _via(obj, listed, depth, path)
        if hasattr(obj, "dtype"):  # numpy-like scalar without tolist
            item = getattr(obj, "item", None)
            if callable(item):
                try:
                    value = item()
                except Exception:
                    value = _NOTHING
                if type(value) in _PLAIN_RESULTS:
                    return _via(obj, value, depth, path)

    return _str_size(str(obj))


_NOTHING = object()
# What a genuine ``tolist()`` / ``item()`` returns (numpy, pandas, array.array). Anything else
# (e.g. a Mock, whose every attribute is another callable Mock) falls through to ``str(obj)``.
_PLAIN_RESULTS = frozenset(
    {list, tuple, dict, str, bytes, int, float, bool, complex, type(None), _dt.datetime, _dt.date, _dt.time,
     _dt.timedelta, decimal.Decimal}
)


# ---------------------------------------------------------------------------------------------
# fast pass
#
# Most logged data is dicts with str keys, lists and plain scalars. The fast pass copies exactly
# that, as the containers above would, but without tracking the current branch (the set
# bookkeeping costs about as much as the copy). It gives up, raising _NotPlain, on anything else:
# another type, or nesting past MAX_DEPTH (which is also how a cycle shows up). The exact pass
# then starts over, so the result is the same either way.


class _NotPlain(Exception):
    pass


def _plain_dict(d: dict, depth: int) -> tuple[dict, int]:
    if depth > MAX_DEPTH:
        raise _NotPlain
    out = {}
    size = 2 + _SZ_ITEM * len(d)
    for k, v in d.items():
        if type(k) is not str:
            raise _NotPlain
        if k.isascii():
            size += len(k)
        else:
            k, n = _str_size(k)
            size += n
        t = type(v)
        if t is str:
            if v.isascii():
                size += len(v)
            else:
                v, n = _str_size(v)
                size += n
        elif t is dict:
            v, n = _plain_dict(v, depth + 1)
            size += n
        elif t is list or t is tuple:
            v, n = _plain_list(v, depth + 1)
            size += n
        elif t is float:
            if v - v != 0.0:
                v = _float(v)
        elif t is int:
            if not (_INT_MIN <= v <= _INT_MAX):
                v = _big_int(v)
                size += len(v)
        elif not (v is None or t is bool):
            raise _NotPlain
        out[k] = v
    return out, size


def _plain_list(seq: list | tuple, depth: int) -> tuple[list, int]:
    if depth > MAX_DEPTH:
        raise _NotPlain
    out = list(seq)
    size = 2 + _SZ_ITEM * len(out)
    for i, v in enumerate(out):
        t = type(v)
        if t is str:
            if v.isascii():
                size += len(v)
            else:
                out[i], n = _str_size(v)
                size += n
        elif t is dict:
            out[i], n = _plain_dict(v, depth + 1)
            size += n
        elif t is list or t is tuple:
            out[i], n = _plain_list(v, depth + 1)
            size += n
        elif t is float:
            if v - v != 0.0:
                out[i] = _float(v)
        elif t is int:
            if not (_INT_MIN <= v <= _INT_MAX):
                out[i] = _big_int(v)
                size += len(out[i])
        elif not (v is None or t is bool):
            raise _NotPlain
    return out, size


# ---------------------------------------------------------------------------------------------
# public API


def snapshot(value: Any) -> tuple[Any, int]:
    """Deep JSON-safe copy of ``value`` and an estimate of its encoded size in bytes.

    See the module docstring for the placeholder table. Never raises ``Exception``.
    """
    if type(value) is dict:
        try:
            return _plain_dict(value, 0)
        except (_NotPlain, RecursionError, RuntimeError):
            pass  # RuntimeError: mutated by another thread meanwhile; the exact pass deals with it
    for _attempt in range(2):
        try:
            return _copy_value(value, 0, set())
        except RecursionError:
            # Only when the caller's own stack is already nearly exhausted.
            return MAX_DEPTH_EXCEEDED, 22
        except RuntimeError:
            # "dictionary changed size during iteration": another thread mutated the data while
            # it was being logged. Try once more, then give up on the value.
            continue
        except Exception:  # pragma: no cover - every branch already guards itself
            break
    return unserializable_placeholder(value), 40


def snapshot_fields(fields: dict) -> tuple[dict, int]:
    """``snapshot`` of a dict of row fields, which stays a dict: ``RecursionError`` when the
    caller's stack is too nearly exhausted to copy them (``snapshot`` then gives its placeholder
    text, which no row can be built from)."""
    data, size = snapshot(fields)
    if not isinstance(data, dict):
        raise RecursionError("maximum recursion depth exceeded while logging")
    return data, size


_std_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _dumps_std(row: Any) -> bytes:
    return _std_encode(row).encode("utf-8")


def _plain_in(value: Any, depth: int) -> bool:
    """True when ``value`` (a dict or list) and the dicts and lists in it hold no tuple, NaN or
    infinity, and nest no deeper than ``MAX_DEPTH``."""
    if depth > MAX_DEPTH:
        return False
    for v in value.values() if type(value) is dict else value:
        t = type(v)
        if t is str:  # (the common leaf, first)
            continue
        if t is dict or t is list:
            if not _plain_in(v, depth + 1):
                return False
        elif t is float:
            if v - v != 0.0:
                return False
        elif t is tuple:
            return False
    return True


def _for_orjson(fields: dict) -> bool:
    """Whether the caller's data in ``fields`` may be handed to orjson as it is, and give the
    bytes ``snapshot`` would: not with a NaN or infinity (orjson writes ``null``, ``snapshot``
    text), nor with a tuple. orjson does not count tuples toward its nesting limit: a cycle or
    deep nesting through one kills the process (orjson 3.12 and 3.13: a segfault in its
    recursion error) or nests deeper than ``snapshot`` keeps. (What orjson refuses, it raises for.)"""
    return _plain_in(fields, 0)


def encode_fresh(row: dict, callers: dict | None = None) -> bytes | None:
    """``row`` encoded exactly as ``dumps_row(snapshot(row)[0])`` would encode it, without the
    snapshot: for a row about to be queued, whose bytes then freeze the caller's data. None
    (take the snapshot path) when that cannot be promised cheaply: orjson is not installed, the
    caller's data holds a tuple, NaN or infinity (``_for_orjson``), or orjson refuses a value
    (anything else ``snapshot`` converts, and cycles). ``callers``: the fields of ``row`` that
    hold the caller's objects, the only ones looked through (the rest is the SDK's own plain
    values; its ``metrics``, the span's times, are looked at too); default: the whole row."""
    if _orjson is None:
        return None
    try:
        if not _for_orjson(row if callers is None else callers):
            return None
        metrics = row.get("metrics")
        if callers is not None and type(metrics) is dict and not _plain_in(metrics, 1):  # (a clock that gave NaN)
            return None
        return _orjson.dumps(row, option=_ORJSON_OPTIONS)
    except Exception:  # (RecursionError included: the caller's stack was nearly exhausted)
        return None


def dumps_row(row: dict) -> bytes:
    """Compact, key-sorted UTF-8 JSON for one row (see the module docstring): a row made of
    snapshots or parsed JSON (no tuples: see ``_for_orjson``; ``encode_fresh`` takes callers' data)."""
    if _orjson is not None:
        try:
            return _orjson.dumps(row, option=_ORJSON_OPTIONS)
        except Exception:
            pass
    try:
        return _dumps_std(row)
    except Exception:
        pass
    # Not JSON-safe (NaN, surrogates, odd keys or objects...): clean it, which cannot fail.
    return _dumps_std(snapshot(row)[0])
