"""``braintrust replay``: send spilled rows to where they were going, exactly once.

Each spill file is replayed to its recorded target (the API, with the key from the environment,
or the local store at its path). Objects that were never created are created once: their ids
go into a ledger (``objects.json``) beside the spill files, so a later replay of another file,
or of the same file after a crash, reuses them. A file is deleted once all its rows are
accepted; rows that fail again stay in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from braintrust import jsonsafe
from braintrust.config import DeliverySettings
from braintrust.delivery.backend import Backend, BackendError, ObjectRef
from braintrust.delivery.deadline import Deadline
from braintrust.delivery.spill import SPILL_FORMAT, write_private_file
from braintrust.tracing.record import merge_row_into, row_key

LEDGER_NAME = "objects.json"


@dataclass
class ReplayResult:
    files: int = 0
    files_done: int = 0
    rows_sent: int = 0
    rows_failed: int = 0
    objects_created: int = 0
    errors: list[str] = field(default_factory=list)


def spill_files(directory: Path) -> list[Path]:
    return sorted(Path(directory).glob("spill-*.json"))


def _load_ledger(directory: Path) -> dict[str, Any]:
    try:
        return json.loads((directory / LEDGER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _save_ledger(directory: Path, ledger: dict[str, Any]) -> None:
    write_private_file(directory / LEDGER_NAME, json.dumps(ledger, indent=1).encode("utf-8"))


def backend_for_target(target: dict[str, Any]) -> Backend:
    """The backend a spill file's target names; the API key comes from the environment."""
    if target.get("kind") == "local":
        from braintrust.delivery.local_backend import LocalBackend

        return LocalBackend(Path(target["path"]))
    from braintrust.delivery.http_backend import HttpBackend
    from braintrust.state import global_state

    state = global_state()
    state.configure(app_url=target.get("app_url"), org_name=target.get("org_name"))
    if not state.api_key():
        raise BackendError(
            "these rows were going to the Braintrust API: set BRAINTRUST_API_KEY to replay them", "no_api_key"
        )
    return HttpBackend(state, DeliverySettings.from_env())


def replay(
    directory: Path,
    timeout_seconds: float = 60.0,
    backend_factory: Callable[[dict[str, Any]], Backend] = backend_for_target,
) -> ReplayResult:
    directory = Path(directory)
    result = ReplayResult()
    ledger = _load_ledger(directory)
    backends: dict[str, Backend] = {}
    for path in spill_files(directory):
        result.files += 1
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            result.errors.append(f"{path.name}: unreadable spill file ({exc}); left in place")
            continue
        if document.get("format") != SPILL_FORMAT:
            result.errors.append(f"{path.name}: not a braintrust spill file; left in place")
            continue
        target = document.get("target") or {}
        target_key = json.dumps(target, sort_keys=True)
        try:
            backend = backends.get(target_key) or backends.setdefault(target_key, backend_factory(target))
        except BackendError as exc:
            result.errors.append(f"{path.name}: {exc}")
            result.rows_failed += len(document.get("rows", []))
            continue
        _replay_file(path, document, backend, ledger, directory, Deadline(timeout_seconds), result)
    return result


def _replay_file(path: Path, document: dict, backend: Backend, ledger: dict, directory: Path, deadline: Deadline, result: ReplayResult) -> None:
    refs: dict[str, ObjectRef] = {}
    for key, data in (document.get("objects") or {}).items():
        ref = ObjectRef.from_json(data)
        if not ref.ids and key in ledger:
            ref.ids = ledger[key]
        refs[key] = ref
    remaining: list[dict] = []
    merged: dict[tuple, dict] = {}
    for entry in document.get("rows", []):
        ref = refs.get(entry.get("object"))
        row = dict(entry.get("row") or {})
        if ref is None:
            result.errors.append(f"{path.name}: a row names an unknown object; left in place")
            remaining.append(entry)
            continue
        if not ref.ids:
            try:
                backend.resolve(ref, deadline)
            except BackendError as exc:
                result.errors.append(f"{path.name}: {exc}")
                remaining.append(entry)
                continue
            ledger[ref.key] = ref.ids
            result.objects_created += 1
            _save_ledger(directory, ledger)
        row.update(ref.ids)
        key = row_key(row)
        merged[key] = merge_row_into(merged[key], row) if key in merged else row
    rows = list(merged.values())
    if rows:
        encoded = [jsonsafe.dumps_row(row) for row in rows]
        limit = backend.max_batch_bytes(deadline)
        start = 0
        while start < len(rows):
            end, size = start, 0
            while end < len(rows) and (end == start or size + len(encoded[end]) + 1 <= limit) and end - start < 100:
                size += len(encoded[end]) + 1
                end += 1
            outcome = backend.export(rows[start:end], encoded[start:end], deadline)
            failed_ids = {id(row) for row, _ in outcome.failed}
            for row in rows[start:end]:
                if id(row) in failed_ids:
                    remaining.append({"object": _ref_key_of(row, refs), "row": row})
                    result.rows_failed += 1
                else:
                    result.rows_sent += 1
            if outcome.error:
                result.errors.append(f"{path.name}: {outcome.error}")
            start = end
    if remaining:
        document["rows"] = remaining
        document["item_count"] = len(remaining)
        write_private_file(path, json.dumps(document, ensure_ascii=False).encode("utf-8"))
    else:
        path.unlink()
        result.files_done += 1


def _ref_key_of(row: dict, refs: dict[str, ObjectRef]) -> str:
    for key, ref in refs.items():
        if ref.ids and all(row.get(k) == v for k, v in ref.ids.items()):
            return key
    return next(iter(refs))
