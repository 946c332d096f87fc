"""``BRAINTRUST_ALL_PUBLISH_PAYLOADS_DIR``: a copy of every ``/logs3`` payload sent, for debugging.

As in 0.48.1, each payload the HTTP backend is about to send (a whole batch, or each half of a
split one) is written as it goes on the wire to ``payload_<unix time>_<8 hex>.json`` in that
folder. The rows in it are masked already, and it holds no credentials. Files are 0600 in a 0700
folder. A copy that cannot be written is skipped with one warning per folder: it never delays or
changes delivery.
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

from braintrust.delivery.spill import ensure_private_dir, write_private_file

log = logging.getLogger("braintrust")

__all__ = ["PayloadCopies"]


class PayloadCopies:
    def __init__(self, folder: Path):
        self.folder = folder
        self._warned = False

    def write(self, payload: bytes) -> None:
        path = self.folder / f"payload_{time.time()}_{uuid.uuid4().hex[:8]}.json"
        try:
            ensure_private_dir(self.folder)
            write_private_file(path, payload)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("braintrust: could not copy a /logs3 payload into BRAINTRUST_ALL_PUBLISH_PAYLOADS_DIR=%s (%s); "
                            "rows are sent as usual, without copies there", self.folder, exc)
