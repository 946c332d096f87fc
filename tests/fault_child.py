"""A real process that logs rows and reports what happened to them (used by fault tests).

Usage: ``python fault_child.py MODE ROWS REPORT_FILE``. MODE is ``flush`` (log, then flush),
``exit`` (log and exit: the atexit flush delivers), ``exit-announced`` (the same, printing
``EXITING`` as the exit handlers start), ``loop`` (log until SIGTERM) or ``fork``
(the parent and a forked child both log and flush). The report (JSON) is written after every
braintrust exit handler has run: produced, accepted, spilled, dropped, pending, and the row ids
(and, into the local store, how many rows its writer process wrote).
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time

mode, rows, report_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
logged_ids: list[str] = []


def report(tag: str = "") -> None:
    from braintrust.delivery.runtime import get_processor

    processor = get_processor()
    stats = processor.stats()
    data = {
        "rows_by_writer": getattr(processor._backend, "rows_by_writer", None),  # local store only
        "pid": os.getpid(),
        "produced": stats.produced,
        "accepted": stats.accepted,
        "spilled": stats.spilled,
        "dropped": stats.dropped,
        "pending": stats.pending,
        "errors": stats.errors,
        "spill_files": stats.spill_files,
        "ids": logged_ids,
    }
    with open(report_file + tag, "w") as handle:
        json.dump(data, handle)


# Registered first, so it runs last: after braintrust's own exit-time flush.
atexit.register(report)

import braintrust  # noqa: E402

logger = braintrust.init_logger(project="faults")


def log_rows(count: int, prefix: str) -> None:
    for i in range(count):
        logged_ids.append(logger.log(input={"i": i, "who": prefix}, output="x" * 200, scores={"ok": 1}))


if mode == "flush":
    log_rows(rows, "main")
    started = time.monotonic()
    result = braintrust.flush()
    print(json.dumps({"flush_seconds": time.monotonic() - started}), flush=True)
elif mode == "exit":
    log_rows(rows, "main")
elif mode == "exit-announced":  # as ``exit``, saying when it reaches the exit-time flush
    log_rows(rows, "main")
    atexit.register(print, "EXITING", flush=True)  # (runs before braintrust's, registered earlier)
elif mode == "loop":
    print("LOGGING", flush=True)
    i = 0
    while True:
        logged_ids.append(logger.log(input={"i": i}, output="y" * 100))
        i += 1
        if i % 100 == 0:
            time.sleep(0.001)
elif mode == "fork":
    log_rows(rows, "parent-before")
    braintrust.flush()
    pid = os.fork()
    if pid == 0:
        logged_ids.clear()
        log_rows(rows, "child")
        braintrust.flush(timeout=10)
        report(".child")
        os._exit(0)
    log_rows(rows, "parent-after")
    _, status = os.waitpid(pid, 0)
    braintrust.flush()
    print(json.dumps({"child_status": status}), flush=True)
