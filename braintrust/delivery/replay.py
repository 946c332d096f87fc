"""``braintrust replay``: send spilled rows to where they were going, exactly once.

Each spill file is replayed to its recorded target (the API, with the key from the environment,
or the local store at its path), or, with ``store``, rows that were going to a local store go to
that store instead (theirs could not be written: a read-only checkout); their objects are then
found or created there by name. Objects that were never created are created once: their ids go
into a ledger (``objects.json``, one per redirecting store) beside the spill files, so a later
replay of another file, or of the same file after a crash, reuses them. Spilled attachments'
bytes are stored again under their keys. A file is deleted once all its rows and attachments are
accepted; what fails again stays in it (and so do later writes of the same rows, so a later
replay applies them in order). After each accepted batch the file is rewritten without it, so a
replay killed midway sends again at most the batch in flight. A large file (one spilled at the
flush deadline holds the whole queue) is first cut into files of ``SEGMENT_BATCHES`` batches:
rewriting the whole of it after every batch made its replay quadratic (30,000 rows took 30 s, and
a larger one outlasted the replay's timeout, run after run).

One replay at a time per folder (a lock file, ``.replay.lock``): a second one waits for the first
within its own timeout. The API key goes only to the app URL this environment configures
(``BRAINTRUST_APP_URL``, or the default): a file naming another is left in place, with the fix.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from braintrust import jsonsafe
from braintrust.config import DEFAULT_MAX_REQUEST_BYTES, DeliverySettings, redacted_url
from braintrust.delivery.backend import Backend, BackendError, ObjectRef
from braintrust.delivery.deadline import Deadline
from braintrust.delivery.spill import SPILL_FORMAT, SPILL_VERSION, encode_document, write_private_file
from braintrust.tracing.record import merge_row_into, row_key

LEDGER_NAME = "objects.json"
LOCK_NAME = ".replay.lock"
#: A file of more than twice this many batches is replayed as parts of this many.
SEGMENT_BATCHES = 10

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock
    fcntl = None  # type: ignore[assignment]


@dataclass
class ReplayResult:
    files: int = 0
    files_done: int = 0
    rows_sent: int = 0
    rows_failed: int = 0
    #: Objects the spilled rows named without ids, given them now: found by name, or created once.
    objects_created: int = 0
    #: Those objects, named (``experiment 'nightly-1' of project 'bot'``): what to open or gate next.
    registered: list[str] = field(default_factory=list)
    attachments_sent: int = 0
    attachments_failed: int = 0
    errors: list[str] = field(default_factory=list)
    #: Local stores some of whose rows failed again (they stay; ``store=`` can send them to another).
    unusable_stores: set[str] = field(default_factory=set)
    #: Local stores (database files) that took rows: where to look for them.
    stores_written: set[str] = field(default_factory=set)


def _described(ref: ObjectRef) -> str:
    """``experiment 'nightly-1' of project 'bot'`` (``the logs of project 'bot'``), from what
    resolving it learned, else from what the rows asked for."""
    info, args = ref.info, ref.create_args
    project = info.get("project_name") or args.get("project_name") or args.get("project") or "?"
    name = info.get(f"{ref.object_type}_name") or args.get(f"{ref.object_type}_name") or args.get(ref.object_type)
    if name:
        return f"{ref.object_type} {name!r} of project {project!r}"
    return f"the {ref.object_type.replace('project_', '').replace('_', ' ')} of project {project!r}"


def spill_files(directory: Path) -> list[Path]:
    return sorted(Path(directory).glob("spill-*.json"))


def _ledger_name(store: Path | None) -> str:
    """The ledger of objects created for the recorded targets, or in a redirecting ``store``."""
    if store is None:
        return LEDGER_NAME
    return f"objects-{hashlib.sha1(str(store).encode('utf-8')).hexdigest()[:12]}.json"


def _load_ledger(directory: Path, name: str) -> dict[str, Any]:
    """Object key -> ids; entries that are not that (a damaged or edited ledger) are left out."""
    try:
        ledger = json.loads((directory / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {key: ids for key, ids in ledger.items() if _ids(ids)} if isinstance(ledger, dict) else {}


def _save_ledger(directory: Path, name: str, ledger: dict[str, Any]) -> None:
    write_private_file(directory / name, json.dumps(ledger, indent=1).encode("utf-8"))


def backend_for_target(target: dict[str, Any]) -> Backend:
    """The backend a spill file's target names; the API key comes from the environment, and is
    sent only to the app URL the environment configures."""
    if target.get("kind") == "local":
        from braintrust.delivery.local_backend import LocalBackend

        path = Path(target["path"])
        if not path.parent.exists() and not path.parent.parent.is_dir():
            # (a store moved aside is made again in its folder; a project folder is not made)
            raise BackendError(
                f"these rows were going to the local store {path}, but {path.parent.parent} does not exist here "
                "(a spill folder copied from another machine or checkout?); nothing was created there", "local_store"
            )
        return LocalBackend(path)
    from braintrust.delivery.http_backend import HttpBackend
    from braintrust.state import BraintrustState

    state = BraintrustState()  # one per target: files of several servers or orgs may share a folder
    configured = state.shown_app_url()  # (spill files record it so: never with credentials)
    recorded = redacted_url(str(target.get("app_url") or configured).rstrip("/"))
    if recorded != configured:
        raise BackendError(
            f"these rows were going to {recorded}, but this environment's Braintrust is {configured} and the API "
            f"key is only sent there: to replay them, set BRAINTRUST_APP_URL={recorded} and that server's "
            "BRAINTRUST_API_KEY", "wrong_target"
        )
    state.configure(org_name=target.get("org_name"))
    if not state.api_key():
        raise BackendError(
            "these rows were going to the Braintrust API: set BRAINTRUST_API_KEY to replay them", "no_api_key"
        )
    return HttpBackend(state, DeliverySettings.from_env())


def _malformed(document: Any) -> str | None:
    """Why ``document`` cannot be replayed at all, or None. (Damage to single objects, rows or
    attachments is reported by ``_FileReplay`` and leaves just them in place.)"""
    if not isinstance(document, dict) or document.get("format") != SPILL_FORMAT:
        return "not a braintrust spill file"
    version = document.get("version", SPILL_VERSION)
    if version != SPILL_VERSION:
        return (f"spill format version {version!r}, and this pytest-braintrust reads version {SPILL_VERSION}: "
                "replay it with the version that wrote it (or a newer one)")
    target = document.get("target")
    if not isinstance(target, dict) or not isinstance(document.get("rows", []), list):
        return "not a braintrust spill file (its target or rows are malformed)"
    if target.get("kind") == "local":
        if not isinstance(target.get("path"), str) or not target["path"]:
            return "not a braintrust spill file (its local target has no path)"
    elif not all(isinstance(target.get(name), (str, type(None))) for name in ("app_url", "org_name")):
        return "not a braintrust spill file (its target's app_url or org_name is not a string)"
    if not isinstance(document.get("objects") or {}, dict) or not isinstance(document.get("attachments") or [], list):
        return "not a braintrust spill file (its objects or attachments are malformed)"
    return None


@contextlib.contextmanager
def _exclusive(directory: Path, deadline: Deadline) -> Iterator[str | None]:
    """Hold the folder's replay lock while in the block; yields None, or why it could not be had."""
    try:
        handle = os.open(directory / LOCK_NAME, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        # Sending without removing what was sent from the files would send it again next time.
        yield f"cannot write in {directory} ({exc.strerror}): replay removes the rows it sends from their files"
        return
    try:
        while fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline.expired():
                    yield (f"another `braintrust replay` of {directory} is still running, and this one sent "
                           "nothing: run it again once that one has finished")
                    return
                time.sleep(min(0.05, max(0.0, deadline.remaining())))
        yield None
    finally:
        os.close(handle)  # (releases the lock)


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
    if not directory.is_dir():
        return result
    deadline = Deadline(timeout_seconds)
    with _exclusive(directory, deadline) as busy:
        if busy:
            result.errors.append(busy)
        else:
            _replay_files(directory, deadline, backend_factory, store, result)
    return result


def _replay_files(directory: Path, deadline: Deadline, backend_factory: Callable[[dict[str, Any]], Backend],
                  store: Path | None, result: ReplayResult) -> None:
    ledgers = {False: (LEDGER_NAME, _load_ledger(directory, LEDGER_NAME))}
    if store is not None:
        store = Path(store).expanduser().resolve()
        ledgers[True] = (_ledger_name(store), _load_ledger(directory, _ledger_name(store)))
    backends: dict[str, Backend] = {}
    # object key -> why it could not be resolved in this run (for the recorded targets; for ``store``)
    unresolvable: dict[bool, dict[str, str]] = {False: {}, True: {}}
    held: set[tuple[str, Any]] = set()  # (object key, row id) of rows that failed in this run
    batch_rows = DeliverySettings.from_env().batch_max_rows
    for path in spill_files(directory):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:  # removed meanwhile (a writer's spill budget)
            continue
        except (OSError, ValueError) as exc:
            result.files += 1
            why = "it is empty" if getattr(exc, "doc", None) == "" else str(exc)
            fix = ("" if isinstance(exc, OSError) else
                   ": cut short (a copy that did not finish?) or edited; the rows in it cannot be read, and replay "
                   "reports it until it is moved out of the folder")
            result.errors.append(f"{path.name}: unreadable spill file ({why}){fix}; left in place")
            continue
        result.files += 1
        problem = _malformed(document)
        if problem:
            result.errors.append(f"{path.name}: {problem}; left in place")
            continue
        target = document["target"]
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
        sent_before = result.rows_sent
        left = rows_left = False
        for part_path, part in _parts(path, document, SEGMENT_BATCHES * max(1, backend.max_batch_rows(batch_rows))):
            replayer = _FileReplay(part_path, part, backend, (ledger_name, ledger), directory, deadline, result,
                                   unresolvable[redirected], held, batch_rows, forget_ids=redirected)
            replayer.run()
            left = left or not replayer.done
            rows_left = rows_left or bool(replayer.remaining)
        if not left:
            result.files_done += 1
        if target.get("kind") == "local":
            if rows_left:
                result.unusable_stores.add(str(target.get("path")))
            if result.rows_sent > sent_before:
                result.stores_written.add(str(target.get("path")))
    for backend in backends.values():
        try:
            backend.close()
        except Exception:
            pass


def _parts(path: Path, document: dict, rows_per_part: int) -> list[tuple[Path, dict]]:
    """``[(path, document)]``, or, for a file of more than two parts' rows, its parts: written
    beside it (named after it, so they sort where it did), then it is removed. Attachments go
    with the first part. A file that cannot be cut is replayed whole."""
    rows = document.get("rows") or []
    if len(rows) <= 2 * rows_per_part:
        return [(path, document)]
    parts = []
    for number, start in enumerate(range(0, len(rows), rows_per_part)):
        part = {**document, "rows": rows[start:start + rows_per_part]}
        part["item_count"] = len(part["rows"])
        if number:
            part.pop("attachments", None)
        parts.append((path.with_name(f"{path.stem}-part{number:06d}{path.suffix}"), part))
    try:
        for part_path, part in parts:
            write_private_file(part_path, encode_document(part))
        path.unlink()
    except OSError:
        for part_path, _ in parts:
            part_path.unlink(missing_ok=True)
        return [(path, document)]
    return parts


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
        self.replaced: set[str] = set()  # keys of objects no longer in the store, found or made again
        self.done = False  # (every row and attachment accepted: the file is gone)

    def note(self, message: str) -> None:
        line = f"{self.path.name}: {message}"
        if line not in self.result.errors:
            self.result.errors.append(line)

    def resolved(self, ref: ObjectRef) -> bool:
        """Give ``ref`` its ids: from the file, the ledger, or by finding/creating it once."""
        if ref.ids:
            return True
        if ref.key in self.ledger:
            if not self.gone(ref, self.ledger[ref.key]):
                ref.ids = self.ledger[ref.key]
                return True
            del self.ledger[ref.key]
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
        self.result.registered.append(_described(ref) + (" (the one its rows were written for is no longer in the store)"
                                                         if ref.key in self.replaced else ""))
        _save_ledger(self.directory, self.ledger_name, self.ledger)
        return True

    def gone(self, ref: ObjectRef, ids: dict[str, str]) -> bool:
        """Whether the local store being written no longer holds the object ``ids`` name (pruned
        since, or the rows were written for a store since moved aside): its rows would be in no
        object, so it is found or made again by name instead."""
        from braintrust.store.sqlite_store import LocalStore

        store = getattr(self.backend, "store", None)
        if not isinstance(store, LocalStore):
            return False
        try:
            missing = not store.holds_object(ref.object_type, ids)
        except Exception:  # (the store cannot be read: writing to it says why)
            return False
        if missing:
            self.replaced.add(ref.key)
        return missing

    def run(self) -> None:
        for key, data in (self.document.get("objects") or {}).items():
            ref = _object_ref(key, data)
            if ref is None:
                self.note(f"object {key!r} is malformed")
                continue
            if self.forget_ids or (ref.ids and self.gone(ref, ref.ids)):
                ref.ids = None
            self.refs[key] = ref
        merged: dict[tuple, dict] = {}
        row_ref: dict[int, str] = {}
        for entry in self.document.get("rows", []):
            ref = self.refs.get(entry.get("object")) if isinstance(entry, dict) and isinstance(entry.get("object"), str) else None
            if ref is None:
                self.note("a row names an unknown object; left in place")
                self.remaining.append(entry)
                continue
            if not isinstance(entry.get("row"), dict):
                self.note("a row is malformed (not an object); left in place")
                self.remaining.append(entry)
                continue
            if not _hashable(row_key(entry["row"])):
                self.note("a row is malformed (its id or object ids are not strings); left in place")
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
            if start < len(rows) and len(failed_ids) < len(batch):
                # What was accepted leaves the file now: killed later, this replay sends it no more.
                unsent = [{"object": row_ref.get(id(row)) or next(iter(self.refs)), "row": row} for row in rows[start:]]
                self.write(self.remaining + unsent, self.document.get("attachments") or [])

    def finish(self) -> None:
        if not self.remaining and not self.remaining_attachments:
            self.path.unlink(missing_ok=True)
            self.done = True
            return
        self.write(self.remaining, self.remaining_attachments)

    def write(self, rows: list[dict], attachments: list[dict]) -> None:
        """Rewrite the file with ``rows`` and ``attachments`` (what is still to send)."""
        document = dict(self.document)
        document["rows"] = rows
        document["item_count"] = len(rows)
        if attachments:
            document["attachments"] = attachments
        else:
            document.pop("attachments", None)
        # Keep the ids found or created, so the file stays correct even away from the ledger.
        objects = document.get("objects") or {}
        for key, ref in self.refs.items():
            if ref.ids and isinstance(objects.get(key), dict):
                objects[key]["ids"] = ref.ids
        write_private_file(self.path, encode_document(document))


def _ids(value: Any) -> bool:
    """Whether ``value`` is an object's ids: a mapping of strings to strings."""
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _object_ref(key: str, data: Any) -> ObjectRef | None:
    """The object a spill file describes under ``key``, or None if the description is malformed."""
    if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("object_type"), str):
        return None
    if not isinstance(data.get("create_args") or {}, dict) or not isinstance(data.get("info") or {}, dict):
        return None
    if data.get("ids") is not None and not _ids(data["ids"]):
        return None
    return ObjectRef.from_json(data)
