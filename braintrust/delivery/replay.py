"""``braintrust replay``: send spilled rows to where they were going, exactly once.

Each spill file is replayed to its recorded target (the API, with the key from the environment,
or the local store at its path), or, with ``store``, rows that were going to a local store go to
that store instead (theirs could not be written: a read-only checkout); their objects are then
found or created there by name. Objects that were never created are created once: their ids go
into a ledger (``objects.json``, one per redirecting store) beside the spill files, so a later
replay of another file, or of the same file after a crash, reuses them. Spilled attachments'
bytes are stored again under their keys. A file is deleted once all its rows and attachments are
accepted; what fails again stays in it (and so do later writes of the same rows, so a later
replay applies them in order).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from braintrust import jsonsafe
from braintrust.config import DEFAULT_MAX_REQUEST_BYTES, DeliverySettings
from braintrust.delivery.backend import Backend, BackendError, ObjectRef
from braintrust.delivery.deadline import Deadline
from braintrust.delivery.spill import SPILL_FORMAT, encode_document, write_private_file
from braintrust.tracing.record import merge_row_into, row_key

LEDGER_NAME = "objects.json"


@dataclass
class ReplayResult:
    files: int = 0
    files_done: int = 0
    rows_sent: int = 0
    rows_failed: int = 0
    #: Objects the spilled rows named without ids, given them now: found by name, or created once.
    objects_created: int = 0
    attachments_sent: int = 0
    attachments_failed: int = 0
    errors: list[str] = field(default_factory=list)
    #: Local stores some of whose rows failed again (they stay; ``store=`` can send them to another).
    unusable_stores: set[str] = field(default_factory=set)


def spill_files(directory: Path) -> list[Path]:
    return sorted(Path(directory).glob("spill-*.json"))


def _ledger_name(store: Path | None) -> str:
    """The ledger of objects created for the recorded targets, or in a redirecting ``store``."""
    if store is None:
        return LEDGER_NAME
    return f"objects-{hashlib.sha1(str(store).encode('utf-8')).hexdigest()[:12]}.json"


def _load_ledger(directory: Path, name: str) -> dict[str, Any]:
    try:
        return json.loads((directory / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _save_ledger(directory: Path, name: str, ledger: dict[str, Any]) -> None:
    write_private_file(directory / name, json.dumps(ledger, indent=1).encode("utf-8"))


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
    store: Path | None = None,
) -> ReplayResult:
    """Replay every spill file in ``directory`` (oldest first), all within ``timeout_seconds``;
    ``store``: the local store (database file) to send local stores' rows to instead."""
    directory = Path(directory)
    result = ReplayResult()
    ledgers = {False: (LEDGER_NAME, _load_ledger(directory, LEDGER_NAME))}
    if store is not None:
        store = Path(store).expanduser().resolve()
        ledgers[True] = (_ledger_name(store), _load_ledger(directory, _ledger_name(store)))
    backends: dict[str, Backend] = {}
    # object key -> why it could not be resolved in this run (for the recorded targets; for ``store``)
    unresolvable: dict[bool, dict[str, str]] = {False: {}, True: {}}
    held: set[tuple[str, Any]] = set()  # (object key, row id) of rows that failed in this run
    deadline = Deadline(timeout_seconds)
    batch_rows = DeliverySettings.from_env().batch_max_rows
    for path in spill_files(directory):
        result.files += 1
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            result.errors.append(f"{path.name}: unreadable spill file ({exc}); left in place")
            continue
        if not isinstance(document, dict) or document.get("format") != SPILL_FORMAT:
            result.errors.append(f"{path.name}: not a braintrust spill file; left in place")
            continue
        target = document.get("target") or {}
        if not isinstance(target, dict) or not isinstance(document.get("rows", []), list):
            result.errors.append(f"{path.name}: not a braintrust spill file (its target or rows are malformed); left in place")
            continue
        redirected = store is not None and target.get("kind") == "local"
        if redirected:
            target = {"kind": "local", "path": str(store)}
        target_key = json.dumps(target, sort_keys=True)
        try:
            if target_key not in backends:
                backends[target_key] = backend_factory(target)
            backend = backends[target_key]
        except BackendError as exc:
            result.errors.append(f"{path.name}: {exc}")
            result.rows_failed += len(document.get("rows", []))
            if target.get("kind") == "local":
                result.unusable_stores.add(str(target.get("path")))
            continue
        ledger_name, ledger = ledgers[redirected]
        replayer = _FileReplay(path, document, backend, (ledger_name, ledger), directory, deadline, result,
                               unresolvable[redirected], held, batch_rows, forget_ids=redirected)
        replayer.run()
        if replayer.remaining and target.get("kind") == "local":
            result.unusable_stores.add(str(target.get("path")))
    for backend in backends.values():
        try:
            backend.close()
        except Exception:
            pass
    return result


class _FileReplay:
    """Replays one spill file; rows that fail again are written back to it."""

    def __init__(self, path: Path, document: dict, backend: Backend, ledger: tuple[str, dict], directory: Path,
                 deadline: Deadline, result: ReplayResult, unresolvable: dict[str, str],
                 held: set[tuple[str, Any]], batch_rows: int, forget_ids: bool = False):
        """``ledger``: its file name and contents; ``forget_ids``: the objects' recorded ids are
        another store's (a redirected replay), so they are found or created by name."""
        self.path, self.document, self.backend = path, document, backend
        (self.ledger_name, self.ledger), self.directory, self.deadline, self.result = ledger, directory, deadline, result
        self.forget_ids = forget_ids
        self.unresolvable = unresolvable
        # A row that failed stays; its later writes (in later files) stay too, so that they are
        # applied after it by a later replay, never before.
        self.held = held
        self.batch_rows = max(1, backend.max_batch_rows(batch_rows))
        self.refs: dict[str, ObjectRef] = {}
        self.remaining: list[dict] = []
        self.remaining_attachments: list[dict] = []

    def note(self, message: str) -> None:
        line = f"{self.path.name}: {message}"
        if line not in self.result.errors:
            self.result.errors.append(line)

    def resolved(self, ref: ObjectRef) -> bool:
        """Give ``ref`` its ids: from the file, the ledger, or by finding/creating it once."""
        if ref.ids:
            return True
        if ref.key in self.ledger:
            ref.ids = self.ledger[ref.key]
            return True
        if ref.key in self.unresolvable:
            return False
        try:
            self.backend.resolve(ref, self.deadline)
            if not ref.ids:
                raise BackendError(f"the {ref.object_type} was resolved without ids", "internal_error")
        except Exception as exc:  # BackendError, or a bug: the rows stay in the file either way
            self.unresolvable[ref.key] = str(exc)
            self.note(str(exc))
            return False
        # Record it at once: a crash later must not make a second object on the next replay.
        self.ledger[ref.key] = ref.ids
        self.result.objects_created += 1
        _save_ledger(self.directory, self.ledger_name, self.ledger)
        return True

    def run(self) -> None:
        for key, data in (self.document.get("objects") or {}).items():
            try:
                self.refs[key] = ref = ObjectRef.from_json(data)
                if self.forget_ids:
                    ref.ids = None
            except (KeyError, TypeError, AttributeError):
                self.note(f"object {key!r} is malformed")
        merged: dict[tuple, dict] = {}
        row_ref: dict[int, str] = {}
        for entry in self.document.get("rows", []):
            ref = self.refs.get(entry.get("object")) if isinstance(entry, dict) else None
            if ref is None:
                self.note("a row names an unknown object; left in place")
                self.remaining.append(entry)
                continue
            if not isinstance(entry.get("row"), dict):
                self.note("a row is malformed (not an object); left in place")
                self.remaining.append(entry)
                continue
            row_id = entry["row"].get("id")
            if (ref.key, row_id) in self.held or not self.resolved(ref):
                self.remaining.append(entry)
                self.result.rows_failed += 1
                continue
            row = {**entry["row"], **ref.ids}  # type: ignore[dict-item]
            key = row_key(row)
            merged[key] = merge_row_into(merged[key], row) if key in merged else row
            row_ref[id(merged[key])] = ref.key
        rows = list(merged.values())
        if rows:
            self.send(rows, row_ref)
        self.store_attachments()
        self.finish()

    def store_attachments(self) -> None:
        """Store the spilled attachments' bytes; those that fail again stay in the file."""
        for entry in self.document.get("attachments") or []:
            try:
                reference = dict(entry["reference"])
                data = base64.b64decode(entry["data_base64"], validate=True)
                self.backend.store_attachment(reference, data, self.deadline)
            except (KeyError, TypeError, ValueError, binascii.Error):
                self.note("a spilled attachment is malformed; left in place")
            except Exception as exc:  # BackendError, or a bug: the bytes stay in the file either way
                self.note(str(exc))
            else:
                self.result.attachments_sent += 1
                continue
            self.remaining_attachments.append(entry)
            self.result.attachments_failed += 1

    def send(self, rows: list[dict], row_ref: dict[int, str]) -> None:
        encoded = [jsonsafe.dumps_row(row) for row in rows]
        try:
            limit = self.backend.max_batch_bytes(self.deadline)
        except Exception:
            limit = DEFAULT_MAX_REQUEST_BYTES
        start = 0
        while start < len(rows):
            end, size = start, 0
            while end < len(rows) and end - start < self.batch_rows and (end == start or size + len(encoded[end]) + 1 <= limit):
                size += len(encoded[end]) + 1
                end += 1
            batch = rows[start:end]
            try:
                outcome = self.backend.export(batch, encoded[start:end], self.deadline)
                failed_ids = {id(row) for row, _ in outcome.failed}
                error = outcome.error
            except Exception as exc:
                failed_ids = {id(row) for row in batch}
                error = f"{type(exc).__name__}: {exc}"
            for row in batch:
                if id(row) in failed_ids:
                    ref_key = row_ref.get(id(row)) or next(iter(self.refs))
                    self.held.add((ref_key, row.get("id")))
                    self.remaining.append({"object": ref_key, "row": row})
                    self.result.rows_failed += 1
                else:
                    self.result.rows_sent += 1
            if error:
                self.note(error)
            start = end

    def finish(self) -> None:
        if not self.remaining and not self.remaining_attachments:
            self.path.unlink()
            self.result.files_done += 1
            return
        document = self.document
        document["rows"] = self.remaining
        document["item_count"] = len(self.remaining)
        if self.remaining_attachments:
            document["attachments"] = self.remaining_attachments
        else:
            document.pop("attachments", None)
        # Keep the ids found or created, so the file stays correct even away from the ledger.
        objects = document.get("objects") or {}
        for key, ref in self.refs.items():
            if ref.ids and isinstance(objects.get(key), dict):
                objects[key]["ids"] = ref.ids
        write_private_file(self.path, encode_document(document))
