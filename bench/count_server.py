"""The loopback test server for benchmarks, counting *distinct* rows on arrival.

    python bench/count_server.py [--port 0] [--api-key test-api-key]

Runs ``tests.btserver``'s ``BraintrustTestServer`` exactly as ``python -m tests.btserver
--count-only`` does (it keeps no rows, only counters), and also remembers the key of every row
it accepts -- ``(object type, object id, row id)`` -- plus the span type of the row's first
write that names one (``span_attributes.type``: ``eval``, ``task``, ``score``...). So a benchmark
can tell "30,000 row writes" from "10,000 cases x 3 spans, each written once" (a span written
as a start row plus a merge row is two writes of one distinct row).

Prints ``READY <url>`` (flushed) once listening, serves until SIGTERM/SIGINT. Besides the
server's own ``GET /_test/stats`` (``rows_received``, ``requests``, ``bytes_received``), it answers
``GET /_test/bench_stats`` (no auth) with those plus::

    {"distinct_rows": int, "distinct_by_object_type": {"experiment": int, ...},
     "distinct_by_span_type": {"eval": int, "task": int, "score": int, "(none)": int},
     "merge_writes": int}

The extra bookkeeping (a set insert per row) runs in this server process, never in the
process being measured.
"""

from __future__ import annotations

import argparse
import gc
import re
import signal
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.btserver import handlers  # noqa: E402
from tests.btserver.server import DEFAULT_PAYLOAD_MAX_BYTES, BraintrustTestServer  # noqa: E402
from tests.btserver.store import object_of  # noqa: E402


class DistinctRows:
    """Keys of every accepted row, and the span type each distinct row first declared."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.span_type: dict[tuple, str | None] = {}  # row key -> span type (None: not named yet)
        self.merge_writes = 0

    def record(self, rows: list) -> None:
        entries = []
        merges = 0
        for row in rows:
            try:
                key = (*object_of(row), row["id"])
            except Exception:  # the store accepted it, so this should not happen; count it anyway
                key = ("?", "?", str(row.get("id")))
            attributes = row.get("span_attributes")
            span_type = attributes.get("type") if isinstance(attributes, dict) else None
            entries.append((key, span_type))
            merges += bool(row.get("_is_merge"))
        with self.lock:
            self.merge_writes += merges
            for key, span_type in entries:
                if self.span_type.get(key) is None:
                    self.span_type[key] = span_type

    def stats(self) -> dict:
        with self.lock:
            by_object: dict[str, int] = {}
            by_span: dict[str, int] = {}
            for (object_type, _, _), span_type in self.span_type.items():
                by_object[object_type] = by_object.get(object_type, 0) + 1
                label = span_type or "(none)"
                by_span[label] = by_span.get(label, 0) + 1
            return {
                "distinct_rows": len(self.span_type),
                "distinct_by_object_type": by_object,
                "distinct_by_span_type": by_span,
                "merge_writes": self.merge_writes,
            }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default="test-api-key")
    args = parser.parse_args(argv)

    gc.set_threshold(100_000, 50, 50)  # as tests.btserver's __main__
    server = BraintrustTestServer(
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        payload_max_bytes=DEFAULT_PAYLOAD_MAX_BYTES,
        merge_rows=False,  # --count-only
        record=False,
    )
    distinct = DistinctRows()
    apply = server.store.apply

    def counting_apply(rows):
        result = apply(rows)  # raises (and counts nothing) on a malformed request
        distinct.record(rows)
        return result

    server.store.apply = counting_apply
    handlers.ROUTES.append(
        ("GET", re.compile("^/_test/bench_stats$"), lambda srv, request: {**srv.stats, **distinct.stats()})
    )

    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    server.start()
    print(f"READY {server.url}", flush=True)
    try:
        while not done.wait(0.2):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
