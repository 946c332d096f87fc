"""Spill files: rows that could not be delivered, kept on disk for ``braintrust replay``.

Each file is self-describing JSON, written atomically (temp file + rename), mode 0600 in a 0700
folder. It names its target (API or local store, never the key), the objects its rows belong to
(with the arguments needed to create them, so replay can register an object that never was),
and the rows (masked). Past the size budget the oldest files are removed and their rows counted
as dropped (``spill_budget``).
"""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any

from braintrust import masking
from braintrust.delivery.backend import ObjectRef

SPILL_FORMAT = "braintrust-spill"
SPILL_VERSION = 1
#: Rows spilled one at a time (full queue) are gathered into files of this many rows.
BUFFERED_ROWS_PER_FILE = 1000


def ensure_private_dir(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(directory, 0o700)
    except OSError:
        pass


def write_private_file(path: Path, data: bytes) -> None:
    """Atomically write ``data`` to ``path`` with mode 0600."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


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


class SpillWriter:
    def __init__(self, directory: Path, target: dict[str, Any], budget_bytes: int = 500 * 1024 * 1024):
        self.directory = Path(directory)
        self.target = target
        self.budget_bytes = budget_bytes
        self._buffer: list[tuple[ObjectRef, dict]] = []
        self._buffer_items = 0
        self._buffer_reason = "queue_full"
        self._dropped: dict[str, int] = {}
        self._sequence = 0

    def write(self, rows: list[tuple[ObjectRef, dict]], reason: str, *, masked: bool, item_count: int) -> Path | None:
        """Persist rows (masking them first unless ``masked``). Single rows from a full queue
        are buffered into larger files; call ``flush`` to write the buffer."""
        if not masked:
            rows = [(ref, masking.mask_row(dict(row))) for ref, row in rows]
        if reason == "queue_full":
            self._buffer.extend(rows)
            self._buffer_items += item_count
            if len(self._buffer) >= BUFFERED_ROWS_PER_FILE:
                return self.flush()
            return None
        return self._write_file(rows, reason, item_count)

    def flush(self) -> Path | None:
        if not self._buffer:
            return None
        rows, items = self._buffer, self._buffer_items
        self._buffer, self._buffer_items = [], 0
        return self._write_file(rows, self._buffer_reason, items)

    def _write_file(self, rows: list[tuple[ObjectRef, dict]], reason: str, item_count: int) -> Path:
        ensure_private_dir(self.directory)
        self._sequence += 1
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        path = self.directory / f"spill-{stamp}-{os.getpid()}-{self._sequence:06d}-{os.urandom(3).hex()}.json"
        document = spill_document(self.target, reason, rows, item_count)
        write_private_file(path, json.dumps(document, ensure_ascii=False).encode("utf-8"))
        self._enforce_budget(keep=path)
        return path

    def _enforce_budget(self, keep: Path) -> None:
        files = sorted(self.directory.glob("spill-*.json"))
        sizes = {f: f.stat().st_size for f in files if f.exists()}
        total = sum(sizes.values())
        for oldest in files:
            if total <= self.budget_bytes:
                break
            if oldest == keep:
                continue
            try:
                items = json.loads(oldest.read_text(encoding="utf-8")).get("item_count", 0)
                oldest.unlink()
            except (OSError, ValueError):
                continue
            total -= sizes.get(oldest, 0)
            self._dropped["spill_budget"] = self._dropped.get("spill_budget", 0) + int(items)

    def take_dropped(self) -> dict[str, int]:
        dropped, self._dropped = self._dropped, {}
        return dropped

    def after_fork(self) -> None:
        self._buffer, self._buffer_items = [], 0
