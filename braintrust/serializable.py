"""``as_dict`` / ``as_json`` / ``from_dict`` / ``from_dict_deep`` and ``obj["field"]`` on the SDK's
public dataclasses (summaries, ``Score``, ``EvalCase``, ``EvalResult``, ``EvalResultWithSummary``,
``RepoInfo``...), as the public SDK's offer them.

``from_dict`` keeps the keys the class has fields for (a newer server or SDK may send more) and
leaves values as they are; ``from_dict_deep`` also turns nested dicts into the dataclasses the
field's type names (``DatasetSummary.data_summary``, ``ExperimentSummary.scores``' values).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T", bound="SerializableDataClass")


class SerializableDataClass:
    """Mixed into a dataclass."""

    def as_dict(self) -> dict[str, Any]:
        """Every field, ``repr=False`` ones included (as ``dataclasses.asdict``), so that
        ``from_dict(as_dict())`` gives the object back."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def as_json(self, **kwargs: Any) -> str:
        return json.dumps(self.as_dict(), **kwargs)

    def __getitem__(self, item: str) -> Any:
        return getattr(self, item)

    @classmethod
    def from_dict(cls: type[T], d: dict[str, Any]) -> T:
        names = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in d.items() if k in names})

    @classmethod
    def from_dict_deep(cls: type[T], d: dict[str, Any]) -> T:
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
        return cls(**{k: _deep(hints.get(k), v) for k, v in d.items() if k in names})


def _plain(value: Any) -> Any:
    """``value`` with the dataclasses in it as dicts, as ``dataclasses.asdict`` makes them (any
    dataclass, not only these; a tuple stays a tuple), these classes through their ``as_dict``."""
    if isinstance(value, SerializableDataClass):
        return value.as_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        items = [_plain(v) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)  # (a namedtuple's fields are positional)
    return value


def _deep(hint: Any, value: Any) -> Any:
    """``value`` made into what ``hint`` names, where that is one of these dataclasses."""
    if hint is None:
        return value
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, type) and issubclass(hint, SerializableDataClass):
        return hint.from_dict_deep(value) if isinstance(value, dict) else value
    if origin in (typing.Union, types.UnionType):
        # (the first of the union's dataclasses the dict fits; none: the dict as it is, as 0.48.1)
        for option in args:
            if isinstance(value, dict) and isinstance(option, type) and issubclass(option, SerializableDataClass):
                try:
                    return option.from_dict_deep(value)
                except TypeError:
                    continue
        return value
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        return {k: _deep(args[1], v) for k, v in value.items()}
    if origin is list and args and isinstance(value, list):
        return [_deep(args[0], v) for v in value]
    return value
