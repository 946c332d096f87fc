"""Where the time of our ``logger.log`` path goes: µs per row of each part, one thread, no profiler.

    python bench/profile_log_parts.py            # 20,000 rows per measurement, best of 5

Companion to bench/bench_logger.py for when ours misses its target. It times the pieces of our
package that a row passes through, each alone on one thread (so there is no GIL contention with
the sender thread, and no profiler overhead), with the row built by bench/log_rows.py:

* producer (the caller's thread, inside ``logger.log``): validating the event, the JSON-safe deep
  copy, the ids, the timestamp, the caller's location, the whole ``log()`` without enqueueing;
* encoding a row (``Processor.enqueue`` does it on the producer's thread once the object is
  resolved), and the sender: building the /logs3 body, and one POST of 100 / 1000 rows to the
  test server (in another process) through our HTTP backend, next to the same POST with bare
  ``http.client`` (the floor: the server's own cost);
* end to end with ``BRAINTRUST_SYNC_FLUSH=1``: ``log()`` of every row (enqueue and encoding
  included) with no sender thread, then ``flush()`` draining the queue inline.

Only our package (the system python); it does not touch the public SDK.
"""

from __future__ import annotations

import http.client
import os
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_logger import API_KEY, start_server  # noqa: E402
from log_rows import log_row  # noqa: E402

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
REPEAT = 5


class Capture:
    """A stand-in logger: keeps what ``log_row`` passes to ``log``."""

    def __init__(self):
        self.calls = []

    def log(self, **kwargs):
        self.calls.append(kwargs)


def best_us_per_row(fn, rows: int = ROWS, repeat: int = REPEAT) -> float:
    """``fn(rows)`` runs the part once per row; the best of ``repeat`` runs, in µs per row."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(rows)
        best = min(best, time.perf_counter() - start)
    return best / rows * 1e6


def report(rows: list[tuple[str, float]], title: str) -> None:
    print(f"\n{title}")
    for name, us in rows:
        print(f"  {us:8.2f} µs/row  {name}")


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-parts-"))
    server = start_server(workdir)
    os.environ.update(BRAINTRUST_API_KEY=API_KEY, BRAINTRUST_APP_URL=server.url, BRAINTRUST_LOCAL_DIR=str(workdir / "store"))
    os.environ.pop("BRAINTRUST_LOCAL", None)
    try:
        import braintrust
        from braintrust import jsonsafe
        from braintrust.config import DeliverySettings
        from braintrust.delivery.deadline import Deadline
        from braintrust.delivery.http_backend import HttpBackend, logs3_payload
        from braintrust.delivery.runtime import reset_for_tests
        from braintrust.objects import project_logs
        from braintrust.state import global_state
        from braintrust.tracing import ids, span
        from braintrust.tracing.record import validate_event
        from braintrust.tracing.timestamps import iso_utc

        capture = Capture()
        for i in range(ROWS):
            log_row(capture, i)
        events = [
            dict(error=None, tags=None, dataset_record_id=None, **kwargs) for kwargs in capture.calls
        ]
        cleaned = [validate_event(dict(e)) for e in events]

        def build_args(n):
            dummy = Capture()
            dummy.log = lambda **kw: None
            for i in range(n):
                log_row(dummy, i)

        # The whole log() with the enqueue replaced by "keep the row" (rows reused below).
        enqueued = []
        real_enqueue = project_logs._enqueue
        project_logs._enqueue = lambda ref, row, size: enqueued.append((ref, row, size))
        logger = braintrust.init_logger(project="bench-parts")

        def log_without_enqueue(n):
            enqueued.clear()
            for i in range(n):
                log_row(logger, i)

        producer = [
            ("workload: build the log() arguments (same for both SDKs, not ours)", best_us_per_row(build_args)),
            ("validate_event", best_us_per_row(lambda n: [validate_event(dict(e)) for e in events[:n]])),
            ("jsonsafe.snapshot (deep JSON-safe copy + size)", best_us_per_row(lambda n: [jsonsafe.snapshot(c) for c in cleaned[:n]])),
            ("ids.row_id (uuid4)", best_us_per_row(lambda n: [ids.row_id() for _ in range(n)])),
            ("ids.span_id (the logger reads legacy_ids once)", best_us_per_row(lambda n: [ids.span_id(False) for _ in range(n)])),
            ("ids.trace_id", best_us_per_row(lambda n: [ids.trace_id(False) for _ in range(n)])),
            ("  ids.legacy_ids (2 env lookups; spans, exports)", best_us_per_row(lambda n: [ids.legacy_ids() for _ in range(n)])),
            ("created: timestamps.iso_utc(time.time())", best_us_per_row(lambda n: [iso_utc(time.time()) for _ in range(n)])),
            ("span.caller_location", best_us_per_row(lambda n: [span.caller_location() for _ in range(n)])),
            ("Logger.log total without the enqueue (incl. building the args)", best_us_per_row(log_without_enqueue)),
        ]
        report(producer, "producer (inside logger.log, one thread)")
        project_logs._enqueue = real_enqueue

        rows = [row for _, row, _ in enqueued[:ROWS]]
        for row in rows:
            row.update(project_id="00000000-0000-0000-0000-000000000000", log_id="g")
        encoded = [jsonsafe.dumps_row(row) for row in rows]
        mean_bytes = sum(len(e) for e in encoded) / len(encoded)

        backend = HttpBackend(global_state(), DeliverySettings.from_env())
        deadline = Deadline(None)

        def export_batches(size):
            def run(n):
                for start in range(0, n, size):
                    backend.export(rows[start:start + size], encoded[start:start + size], deadline)
            return run

        url = urlsplit(server.url)
        connection = http.client.HTTPConnection(url.hostname, url.port)

        def bare_post(size):
            def run(n):
                for start in range(0, n, size):
                    body = logs3_payload(encoded[start:start + size])
                    connection.request("POST", "/logs3", body=body, headers={
                        "Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"})
                    connection.getresponse().read()
            return run

        backend.export(rows[:10], encoded[:10], deadline)  # log in, discover the payload limit
        cpu_before = server.cpu_seconds()
        sender = [
            (f"jsonsafe.dumps_row ({'orjson' if jsonsafe._orjson else 'json'}; {mean_bytes:.0f} bytes/row; the producer's enqueue runs it)",
             best_us_per_row(lambda n: [jsonsafe.dumps_row(r) for r in rows[:n]])),
            ("logs3_payload (join 100 rows)", best_us_per_row(lambda n: [logs3_payload(encoded[s:s + 100]) for s in range(0, n, 100)])),
            ("HttpBackend.export, 100 rows per POST (the default batch)", best_us_per_row(export_batches(100))),
            ("HttpBackend.export, 1000 rows per POST", best_us_per_row(export_batches(1000))),
            ("bare http.client POST, 100 rows (floor: server + loopback)", best_us_per_row(bare_post(100))),
            ("bare http.client POST, 1000 rows", best_us_per_row(bare_post(1000))),
        ]
        server_cpu = (server.cpu_seconds() - cpu_before) / (4 * REPEAT * ROWS) * 1e6
        sender.append(("test server CPU per row received (the 4 POST lines above)", server_cpu))
        report(sender, "sender (one thread; the server runs in its own process)")

        # End to end with no sender thread: log() only enqueues, flush() drains inline.
        os.environ["BRAINTRUST_SYNC_FLUSH"] = "1"
        log_us, flush_us = [], []
        for _ in range(3):
            reset_for_tests()
            logger = braintrust.init_logger(project="bench-sync")
            start = time.perf_counter()
            for i in range(ROWS):
                log_row(logger, i)
            middle = time.perf_counter()
            result = logger.flush()
            end = time.perf_counter()
            log_us.append((middle - start) / ROWS * 1e6)
            flush_us.append((end - middle) / ROWS * 1e6)
        os.environ.pop("BRAINTRUST_SYNC_FLUSH")
        report([
            ("log() incl. enqueue, no sender thread (best of 3)", min(log_us)),
            (f"flush() draining inline: merge, mask, encode, POST 100-row batches (best of 3; {result.describe()})", min(flush_us)),
        ], "end to end, BRAINTRUST_SYNC_FLUSH=1 (producer and sender each alone)")
        total = min(log_us) + min(flush_us)
        print(f"\n  serial sum {total:.1f} µs/row -> at most {1e6 / total:,.0f} rows/s if the two never overlap under the GIL;"
              f" the target (50,000 rows/s) is 20 µs/row for both together")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
