"""Run the test server in its own process (benchmarks, manual runs).

    python -m tests.btserver --port 0 --count-only --payload-max-bytes 6291456

Prints ``READY <url>`` on one line (flushed) once listening and serves until SIGTERM or SIGINT.
``--count-only`` keeps no rows or requests (only counters: ``GET /_test/stats``, no auth, answers
``{"rows_received", "requests", "bytes_received"}``). ``--payload-max-bytes none`` advertises no limit.
"""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading

from .server import DEFAULT_PAYLOAD_MAX_BYTES, BraintrustTestServer


def _limit(value: str) -> int | None:
    if value.lower() in ("none", "off", ""):
        return None
    number = int(value)
    if number <= 0:
        raise argparse.ArgumentTypeError("must be a positive number of bytes, or 'none'")
    return number


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.btserver", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port (default)")
    parser.add_argument("--api-key", default="test-api-key")
    parser.add_argument("--org-name", default="test-org")
    parser.add_argument("--payload-max-bytes", type=_limit, default=DEFAULT_PAYLOAD_MAX_BYTES)
    parser.add_argument("--count-only", action="store_true", help="count rows, keep nothing (benchmarks)")
    args = parser.parse_args(argv)

    # This process only serves: a full-mode run keeps every row, and the default GC thresholds
    # would rescan that growing heap over and over (more than half the ingest time).
    gc.set_threshold(100_000, 50, 50)
    server = BraintrustTestServer(
        api_key=args.api_key,
        org_name=args.org_name,
        host=args.host,
        port=args.port,
        payload_max_bytes=args.payload_max_bytes,
        merge_rows=not args.count_only,
        record=not args.count_only,
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
