"""The server's row semantics, as pure functions (no SQL here).

* which object a row belongs to, from its id fields;
* ``_is_merge: true`` deep-merges into the stored row: dicts merge recursively, every other value
  is replaced, the top-level ``tags`` lists are unioned without duplicates, and ``_merge_paths``
  (key paths) stop the merge and replace the value there;
* control fields (``_is_merge``, ``_object_delete``, ``_merge_paths``, ``_xact_id``) are never stored.
"""

from __future__ import annotations

import json
from typing import Any

from braintrust.delivery.backend import DATASET, EXPERIMENT, PLAYGROUND_LOGS, PROJECT_LOGS

CONTROL_FIELDS = ("_is_merge", "_object_delete", "_merge_paths", "_xact_id")


def object_of(row: dict[str, Any]) -> tuple[str, str, str]:
    """``(object_type, object_id, row_id)`` of a row; ``ValueError`` naming what is missing."""
    row_id = row.get("id")
    if not isinstance(row_id, str) or not row_id:
        raise ValueError(f"a row has no string 'id' (got {row_id!r}); every row needs one.")
    object_id = row.get("experiment_id")
    if object_id:
        return EXPERIMENT, str(object_id), row_id
    object_id = row.get("dataset_id")
    if object_id:
        return DATASET, str(object_id), row_id
    object_id = row.get("prompt_session_id")
    if object_id:
        return PLAYGROUND_LOGS, str(object_id), row_id
    object_id = row.get("project_id")
    if object_id and row.get("log_id") == "g":
        return PROJECT_LOGS, str(object_id), row_id
    raise ValueError(
        f"row {row_id!r} names no object: it needs 'experiment_id', 'dataset_id', "
        "'prompt_session_id' + 'log_id': 'x', or 'project_id' + 'log_id': 'g'."
    )


def stored_form(row: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy without control fields and ``created`` (the store keeps it apart)."""
    return {k: v for k, v in row.items() if k not in CONTROL_FIELDS and k != "created"}


def _union(old: list[Any], new: list[Any]) -> list[Any]:
    """``old`` then ``new``, each tag once (the first time it is seen), as the SDK's merge does:
    tags are compared as text (JSON for lists and dicts), so duplicates already in ``old`` go too."""
    seen: set[str] = set()
    out = []
    for item in old + new:
        key = json.dumps(item, sort_keys=True) if isinstance(item, (dict, list)) else str(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _merge(base: dict[str, Any], patch: dict[str, Any], stop: frozenset[tuple[str, ...]], path: tuple[str, ...]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        here = path + (key,)
        old = out.get(key)
        if here in stop:
            out[key] = value
        elif not path and key == "tags" and isinstance(value, list) and isinstance(old, list):
            out[key] = _union(old, value)
        elif isinstance(value, dict) and isinstance(old, dict):
            out[key] = _merge(old, value, stop, here)
        else:
            out[key] = value
    return out


def merge_row(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``patch`` (a merge row) deep-merged into ``base``; neither argument is modified."""
    paths = patch.get("_merge_paths") or ()
    stop = frozenset(tuple(str(k) for k in p) for p in paths if isinstance(p, (list, tuple)))
    return _merge(base, stored_form(patch), stop, ())


def read_form(data: dict[str, Any], xact_id: int, created: str | None) -> dict[str, Any]:
    """A stored row as callers see it: control fields dropped, ``created`` and ``_xact_id`` set."""
    for key in CONTROL_FIELDS:
        data.pop(key, None)
    if created is not None:
        data["created"] = created
    else:
        data.pop("created", None)
    data["_xact_id"] = str(xact_id)
    return data
