"""Spill files: rows that could not be delivered, kept on disk for ``braintrust replay``.

Each file is self-describing JSON, written atomically (temp file + rename), mode 0600 in a 0700
folder. It names its target (API or local store, never the key), the objects its rows belong to
(with the arguments needed to create them, so replay can register an object that never was),
and the rows (masked), or the bytes of attachments that could not be stored (base64, with their
references). Past the size budget the oldest files are removed and their rows counted
as dropped (``spill_budget``). Processes share the folder (pytest-xdist workers, a pool): a
file of this writer's that another process removed (over its budget) is no longer counted as
spilled, but as dropped (``spill_file_removed``), so that ``spilled`` is what is on disk. When the spill folder cannot be written (a read-only checkout, a
path under a file), files go to a private folder of this user's in the system's temporary folder
instead (``fallback_spill_dir``), and the writer says so (``moved``).
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import shlex
import tempfile
from pathlib import Path
from typing import Any

from braintrust import jsonsafe, masking
from braintrust.files import write_atomically
from braintrust.delivery.backend import ObjectRef
from braintrust.store.location import make_private_folder

try:  # optional, only for speed
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

SPILL_FORMAT = "braintrust-spill"
SPILL_VERSION = 1
#: Rows spilled one at a time (full queue) are gathered into files of this many rows, or of
#: this many bytes, whichever comes first (the buffer is memory: rows of megabytes each would
#: otherwise hold gigabytes there).
BUFFERED_ROWS_PER_FILE = 1000
BUFFERED_BYTES_PER_FILE = 8 * 1024 * 1024


def ensure_private_dir(directory: Path) -> None:
    make_private_folder(directory)
    try:
        os.chmod(directory, 0o700)
    except OSError:
        pass


def fallback_spill_dir() -> Path:
    """The spill folder to use when the configured one cannot be written."""
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return Path(tempfile.gettempdir()) / f"braintrust-spill-{user}"


def _ensure_own_private_dir(directory: Path) -> None:
    """``ensure_private_dir``, refusing a folder another user made and a symbolic link (the
    temporary folder is shared: someone may have put either there first)."""
    if directory.is_symlink():
        raise PermissionError(f"{directory} is a symbolic link, not a folder of this user's: remove it")
    ensure_private_dir(directory)
    if hasattr(os, "getuid") and directory.stat().st_uid != os.getuid():
        raise PermissionError(f"{directory} belongs to another user")


def write_private_file(path: Path, data: bytes) -> None:
    """Atomically write ``data`` to ``path`` with mode 0600 (whatever was there before)."""
    write_atomically(path, data, 0o600)


def spill_document(target: dict[str, Any], reason: str, rows: list[tuple[ObjectRef, dict]], item_count: int) -> dict[str, Any]:
    objects = {ref.key: ref.to_json() for ref, _ in rows}
    return {
        "format": SPILL_FORMAT,
        "version": SPILL_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "reason": reason,
        "target": target,
        "item_count": item_count,
        "objects": objects,
        "rows": [{"object": ref.key, "row": row} for ref, row in rows],
    }


def encode_document(document: dict[str, Any]) -> bytes:
    """UTF-8 JSON for a spill document; with ``orjson`` when installed (a spill at the flush
    deadline may hold the whole queue, and the time it takes counts against the exit)."""
    if _orjson is not None:
        try:
            return _orjson.dumps(document)
        except Exception:  # e.g. an integer beyond 64 bits: the standard encoder takes anything
            pass
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def encode_with_rows(document: dict[str, Any], rows: list[tuple[str, bytes]]) -> bytes:
    """``encode_document`` of ``document`` plus its ``rows``, given as (object key, encoded row)."""
    head = encode_document(document)
    entries = b",".join(b'{"object":' + json.dumps(key).encode("utf-8") + b',"row":' + row + b"}" for key, row in rows)
    return head[:-1] + b',"rows":[' + entries + b"]}"


def _item_count(path: Path) -> int:
    try:
        return int(json.loads(path.read_text(encoding="utf-8")).get("item_count", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return 0


#: How the error of a spill file no folder could hold begins (the line counting its lost rows shows it whole).
SPILL_FAILED = "could not write a spill file"


def _spill_failed(tried: list[tuple[Path, OSError]]) -> OSError:
    """The error for a spill file no folder could hold: of the last failure's type, naming each
    folder tried, why it failed, and the fix."""
    folders = " nor to ".join(f"{folder} ({_why(error)})" for folder, error in tried)
    last = tried[-1][1]
    failure = type(last)(
        f"{SPILL_FAILED} to {folders}: free space on that disk or make the folder "
        "writable, or set BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR to a folder that can be written"
    )
    failure.errno = last.errno
    return failure


def _why(error: OSError) -> str:
    return error.strerror or str(error) or type(error).__name__


class SpillWriter:
    """Writes spill files for one process. Files are written in the order rows were given, so
    replaying them in name order applies every row after the rows written before it."""

    def __init__(self, directory: Path, target: dict[str, Any], budget_bytes: int = 500 * 1024 * 1024):
        self.directory = Path(directory)
        self.target = target
        self.budget_bytes = budget_bytes
        self._buffer: list[tuple[ObjectRef, bytes]] = []  # rows encoded (compact, and measured)
        self._buffer_items = 0
        self._buffer_bytes = 0
        self._buffer_reason = "queue_full"
        self._dropped: dict[str, int] = {}
        self._removed: dict[str, int] = {}  # row writes of this writer's files another process removed, by reason
        self._removed_attachments = 0
        self._foreign_dropped = 0
        self._own_files: dict[str, tuple[int, str, Path]] = {}  # name -> (item count, reason, folder) of files written here
        self._own_attachment_files: dict[str, int] = {}  # name -> attachments in it, of files written here
        self._dropped_attachments = 0
        self._sequence = 0
        #: ``(folder, error)`` once the configured folder failed and files went to the fallback.
        self.moved: tuple[Path, OSError] | None = None

    @property
    def buffered_items(self) -> int:
        """Row writes accepted by ``write`` but not yet on disk (see ``flush``)."""
        return self._buffer_items

    def write(self, rows: list[tuple[ObjectRef, dict]], reason: str, *, masked: bool, item_count: int) -> Path | None:
        """Persist rows (masking them first unless ``masked``). Single rows from a full queue
        are buffered into larger files; call ``flush`` to write the buffer."""
        if not masked and masking.get_masking_function() is not None:
            rows = [(ref, masking.mask_row(row)) for ref, row in rows]  # (returns a new row)
        if reason == self._buffer_reason:
            for ref, row in rows:
                encoded = jsonsafe.dumps_row(row)
                self._buffer.append((ref, encoded))
                self._buffer_bytes += len(encoded)
            self._buffer_items += item_count
            if len(self._buffer) >= BUFFERED_ROWS_PER_FILE or self._buffer_bytes >= BUFFERED_BYTES_PER_FILE:
                return self.flush()
            return None
        # Rows buffered earlier go to disk first, so files stay in the order rows were produced.
        self.flush()
        return self._write_file(rows, reason, item_count)

    def flush(self) -> Path | None:
        """Write the buffered rows to a file. On failure they stay buffered (and it raises)."""
        if not self._buffer:
            return None
        path = self._write_file([], self._buffer_reason, self._buffer_items, encoded_rows=self._buffer)
        self._buffer, self._buffer_items, self._buffer_bytes = [], 0, 0
        return path

    def discard_buffer(self) -> int:
        """Forget the buffered rows (they could not be written); returns their item count."""
        lost = self._buffer_items
        self._buffer, self._buffer_items, self._buffer_bytes = [], 0, 0
        return lost

    def write_attachments(self, attachments: list[tuple[dict, bytes]], reason: str) -> Path:
        """Persist attachments' bytes (``(reference, bytes)``), in a file of their own."""
        self.flush()
        path = self._write_file([], reason, 0, attachments)
        self._own_attachment_files[path.name] = len(attachments)
        return path

    def _write_file(self, rows: list[tuple[ObjectRef, dict]], reason: str, item_count: int,
                    attachments: list[tuple[dict, bytes]] | None = None,
                    encoded_rows: list[tuple[ObjectRef, bytes]] | None = None) -> Path:
        """Write one file, in the fallback folder when the configured one fails. Raises
        ``OSError`` naming both (the rows are lost, and counted) when neither can hold it."""
        tried: list[tuple[Path, OSError]] = []
        try:
            return self._write_file_here(rows, reason, item_count, attachments, encoded_rows)
        except OSError as exc:
            tried.append((self.directory, exc))
        fallback = fallback_spill_dir()
        if self.directory != fallback:
            try:
                _ensure_own_private_dir(fallback)
                configured, self.directory = self.directory, fallback
                path = self._write_file_here(rows, reason, item_count, attachments, encoded_rows)
                self.moved = (configured, tried[0][1])
                return path
            except OSError as exc:
                tried.append((fallback, exc))
        raise _spill_failed(tried) from tried[-1][1]

    def _write_file_here(self, rows: list[tuple[ObjectRef, dict]], reason: str, item_count: int,
                         attachments: list[tuple[dict, bytes]] | None = None,
                         encoded_rows: list[tuple[ObjectRef, bytes]] | None = None) -> Path:
        ensure_private_dir(self.directory)
        self._sequence += 1
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        path = self.directory / f"spill-{stamp}-{os.getpid()}-{self._sequence:06d}-{os.urandom(3).hex()}.json"
        document = spill_document(self.target, reason, rows, item_count)
        if attachments:
            document["attachments"] = [{"reference": reference, "data_base64": base64.b64encode(data).decode("ascii")}
                                       for reference, data in attachments]
        document["replay_command"] = f"braintrust replay {shlex.quote(str(self.directory))}"
        if encoded_rows:
            document["objects"] = {ref.key: ref.to_json() for ref, _ in encoded_rows}
            del document["rows"]
            data = encode_with_rows(document, [(ref.key, row) for ref, row in encoded_rows])
        else:
            data = encode_document(document)
        write_private_file(path, data)
        self._own_files[path.name] = (item_count, reason, self.directory)
        self._enforce_budget(keep=path)
        return path

    def _enforce_budget(self, keep: Path) -> None:
        """Past the budget, delete the oldest files. Rows of files this writer wrote are counted
        as dropped (``spill_budget``); rows of earlier runs' files in ``take_foreign_dropped``."""
        files = sorted(self.directory.glob("spill-*.json"))
        self._note_removed({f.name for f in files})
        sizes: dict[Path, int] = {}
        for f in files:
            try:
                sizes[f] = f.stat().st_size
            except OSError:
                pass
        total = sum(sizes.values())
        for oldest in files:
            if total <= self.budget_bytes:
                break
            if oldest == keep or oldest not in sizes:
                continue
            own = self._own_files.get(oldest.name)
            items = own[0] if own is not None else _item_count(oldest)
            try:
                oldest.unlink()
            except OSError:
                continue
            total -= sizes[oldest]
            if own is not None:
                del self._own_files[oldest.name]
                self._dropped[own[1]] = self._dropped.get(own[1], 0) + items
                self._dropped_attachments += self._own_attachment_files.pop(oldest.name, 0)
            else:
                self._foreign_dropped += items

    def check_own_files(self) -> None:
        """Notice this writer's files that another process removed (``take_removed``)."""
        if not self._own_files:
            return
        try:
            present = {f.name for f in self.directory.glob("spill-*.json")}
        except OSError:
            return
        self._note_removed(present)

    def _note_removed(self, present: set[str]) -> None:
        """Own files of the current folder missing from ``present`` (its listing): removed by
        another process sharing the folder (its spill budget), so their rows are not on disk."""
        gone = [name for name, (_, _, folder) in self._own_files.items() if folder == self.directory and name not in present]
        for name in gone:
            items, reason, _ = self._own_files.pop(name)
            self._removed[reason] = self._removed.get(reason, 0) + items
            self._removed_attachments += self._own_attachment_files.pop(name, 0)

    def take_removed(self) -> tuple[dict[str, int], int]:
        """(row writes by the reason they were spilled for, attachments) of this writer's files
        that another process removed since the last call: they were counted as spilled, and are
        dropped now (``spill_file_removed``)."""
        removed = (self._removed, self._removed_attachments)
        self._removed, self._removed_attachments = {}, 0
        return removed

    def take_dropped(self) -> dict[str, int]:
        """Row writes of this writer's files deleted over budget since the last call, by the
        reason they had been spilled for (they now count as dropped: ``spill_budget``)."""
        dropped, self._dropped = self._dropped, {}
        return dropped

    def take_dropped_attachments(self) -> int:
        """Attachments of this writer's files deleted over budget since the last call."""
        dropped, self._dropped_attachments = self._dropped_attachments, 0
        return dropped

    def take_foreign_dropped(self) -> int:
        """Row writes of earlier runs' spill files deleted over budget since the last call."""
        dropped, self._foreign_dropped = self._foreign_dropped, 0
        return dropped

    def after_fork(self) -> None:
        self._buffer, self._buffer_items, self._buffer_bytes = [], 0, 0
        self._own_files = {}
        self._own_attachment_files = {}
        self._removed, self._removed_attachments = {}, 0
