"""Compare rows our SDK sent with the rows the public SDK sent (``tests/data/captures``).

Rows are merged by id (as the server merges them), then made comparable: ids, timestamps (and
the duration ``time_to_first_token``), caller locations, SDK name/version and generated names are
removed, and span references
(``span_parents``, ``root_span_id``, ``origin.id``) are replaced by the referenced span's name.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Iterable

CAPTURES = Path(__file__).parent / "data" / "captures"
OBJECT_ID_FIELDS = ("org_id", "project_id", "experiment_id", "dataset_id", "prompt_session_id", "log_id")


def _deep_merge(target: dict, update: dict) -> None:
    for key, value in update.items():
        if isinstance(target.get(key), dict) and isinstance(value, dict):
            _deep_merge(target[key], value)
        else:
            target[key] = value


def merge_like_server(rows: Iterable[dict]) -> list[dict]:
    merged: dict[tuple, dict] = {}
    for row in rows:
        key = tuple(row.get(f) for f in OBJECT_ID_FIELDS) + (row.get("id"),)
        row = copy.deepcopy(row)
        if row.get("_object_delete"):
            merged.pop(key, None)
            continue
        if row.get("_is_merge") and key in merged:
            existing = merged[key]
            tags = existing.get("tags")
            new_tags = row.pop("tags", None)
            _deep_merge(existing, row)
            if new_tags is not None:
                existing["tags"] = (tags or []) + [t for t in new_tags if t not in (tags or [])]
        else:
            merged[key] = row
    return list(merged.values())


def capture_rows(name: str) -> list[dict]:
    """The rows the public SDK sent in capture ``name``, in order, overflow uploads included."""
    rows: list[dict] = []
    for line in (CAPTURES / f"{name}.jsonl").read_text().splitlines():
        request = json.loads(line)
        body = request.get("body")
        if request["method"] == "PUT" and isinstance(body, dict):
            rows.extend(body.get("rows") or [])
        elif request["path"] == "/logs3" and isinstance(body, dict) and isinstance(body.get("rows"), list):
            rows.extend(body["rows"])
    return rows


def normalize(rows: list[dict]) -> list[str]:
    """Comparable, sorted JSON strings for a list of merged rows."""
    # Spans by name; log records (span type "log") carry their span's ids but are not spans.
    spans = [r for r in rows if r.get("span_id") and (r.get("span_attributes") or {}).get("type") != "log"]
    names = {r["span_id"]: (r.get("span_attributes") or {}).get("name") for r in spans}
    roots = {r.get("root_span_id"): (r.get("span_attributes") or {}).get("name") for r in spans if r.get("span_parents") is None}
    labels = {r.get("id"): (r.get("span_attributes") or {}).get("name") or r.get("input") for r in rows}
    out = []
    for row in rows:
        row = copy.deepcopy(row)
        for field in ("id", "created", "_xact_id", "_is_merge", "span_id", *OBJECT_ID_FIELDS):
            row.pop(field, None)
        if "root_span_id" in row:
            row["root_span_id"] = roots.get(row["root_span_id"], "?")
        if row.get("span_parents"):
            row["span_parents"] = [names.get(p, "?") for p in row["span_parents"]]
        metrics = row.get("metrics")
        if isinstance(metrics, dict):
            metrics.pop("start", None)
            metrics.pop("end", None)
            if isinstance(metrics.get("time_to_first_token"), float):
                metrics["time_to_first_token"] = "<seconds>"
            if not metrics:
                row.pop("metrics")
        context = row.get("context")
        if isinstance(context, dict):
            for key in ("caller_functionname", "caller_filename", "caller_lineno"):
                context.pop(key, None)
            origin = context.get("span_origin")
            if isinstance(origin, dict):
                origin.pop("name", None)
                origin.pop("version", None)
        if isinstance(row.get("origin"), dict) and "id" in row["origin"]:
            row["origin"]["id"] = labels.get(row["origin"]["id"], "?")
        if isinstance(row.get("error"), str):
            row["error"] = row["error"].strip().splitlines()[-1]  # the exception line, not the paths
        out.append(json.dumps(row, sort_keys=True))
    return sorted(out)


def diff(ours: list[str], theirs: list[str]) -> str:
    only_ours = [r for r in ours if r not in theirs]
    only_theirs = [r for r in theirs if r not in ours]
    return "only ours:\n  " + "\n  ".join(only_ours) + "\nonly public SDK:\n  " + "\n  ".join(only_theirs)
