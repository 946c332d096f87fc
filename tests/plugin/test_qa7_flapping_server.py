"""``pytest --braintrust`` suites (many cases, with and without xdist) against a Braintrust that
flaps mid-run: every row is delivered or spilled, the spilled ones replay once into the same
experiment, retries after a stored-then-failed batch leave no duplicate rows, and the run ends
in bounded time."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
import time

import pytest

CASES = '''
import time

import pytest
from pytest_braintrust import eval_case


@pytest.mark.parametrize("i", range({n}))
@eval_case(input="x")
def test_case(braintrust_case, i):
    braintrust_case.score("s", 1)
    time.sleep({sleep})
'''


def _delivery(bt_api) -> dict:
    return json.loads((bt_api.path / "summary.json").read_text())["delivery"]


def _experiment_rows(server) -> tuple[int, int, int]:
    """(experiments, rows, distinct row ids) on the server."""
    rows = server.rows("experiment")
    return len(server.experiments()), len(rows), len({row["id"] for row in rows})


@pytest.mark.skipif(importlib.util.find_spec("socks") is not None, reason="needs PySocks absent (urllib3 warns on import then)")
def test_an_xdist_worker_under_w_error_delivers_every_row_to_a_healthy_braintrust(bt_api):
    """``pytest -W error -n 2 --braintrust``: a worker's sender imported ``requests`` with its
    first batch, during a test, where ``-W error`` applies to every thread; urllib3's import-time
    DependencyWarning failed the import and the batch spilled as ``internal_error``, with no error
    shown (here about half the rows spilled from a server that never failed)."""
    # The cases check that the backend was imported before any test ran (then no warning filter
    # of a test applies to the import); 100 quick cases make the end-to-end failure likely too.
    bt_api.pytester.makepyfile(test_werror=CASES.format(n=100, sleep=0.005) + """
    import sys
    assert "braintrust.delivery.http_backend" in sys.modules
""")

    result = bt_api.run_subprocess("-n", "2", "-W", "error", "--braintrust", "--braintrust-json=summary.json",
                                   env={"BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR": str(bt_api.path / "spill")})

    output = result.stdout.str()
    assert result.ret == 0, output
    result.stdout.fnmatch_lines(["rows: 200 sent, 0 spilled, 0 dropped*"])
    assert _delivery(bt_api)["spilled"] == 0
    assert _experiment_rows(bt_api.server) == (1, 200, 200)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_batch_stored_then_answered_500_is_retried_without_duplicate_rows(bt_api, workers):
    """Every third ``/logs3`` is stored, then answered 500: the retries resend it, and rows merge
    by id, so the experiment holds each row once and the run counts every row sent."""
    server = bt_api.server
    handle = server._handle
    count = [0]
    lock = threading.Lock()

    def stored_then_500(request):
        response = handle(request)
        if request.path == "/logs3" and response.status == 200:
            with lock:
                count[0] += 1
                third = count[0] % 3 == 0
            if third:
                response.status, response.body = 500, {"error": "stored, then failed"}
        return response

    server._handle = stored_then_500
    bt_api.pytester.makepyfile(test_stored=CASES.format(n=120, sleep=0.002))

    result = bt_api.run_subprocess(*workers, "--braintrust", "--braintrust-json=summary.json",
                                   env={"BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR": str(bt_api.path / "spill")})

    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["rows: 240 sent, 0 spilled, 0 dropped*"])
    assert count[0] >= 3  # (a batch was stored twice)
    assert server.rows_received > 240
    assert _experiment_rows(server) == (1, 240, 240)


def test_a_braintrust_that_goes_away_mid_run_spills_the_rest_in_bounded_time_and_replays_once(bt_api):
    """Under xdist the server stops for good while case 60 runs: the run ends within the flush
    and summary deadlines (not attempts x timeouts), counts every row sent or spilled, names the
    replay command, and ``braintrust replay`` fills the same experiment exactly once."""
    server = bt_api.server
    stopping, stopped = bt_api.path / "stopping", bt_api.path / "stopped"
    bt_api.pytester.makepyfile(test_gone=CASES.format(n=120, sleep=0.002) + f'''
    if i == 60:
        import pathlib
        pathlib.Path({str(stopping)!r}).write_text("y")
        end = time.monotonic() + 20
        while not pathlib.Path({str(stopped)!r}).exists() and time.monotonic() < end:
            time.sleep(0.02)
''')

    def stop_when_asked() -> None:
        server.wait_for(stopping.exists, timeout=60, interval=0.02)
        server.stop()
        stopped.write_text("y")

    threading.Thread(target=stop_when_asked, daemon=True).start()
    spill = bt_api.path / "spill"
    started = time.monotonic()
    result = bt_api.run_subprocess("-n", "2", "--braintrust", "--braintrust-json=summary.json",
                                   env={"BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR": str(spill), "BRAINTRUST_FLUSH_TIMEOUT": "3",
                                        "BRAINTRUST_NUM_RETRIES": "2"})
    took = time.monotonic() - started

    output = result.stdout.str()
    assert result.ret == 0, output
    assert took < 30, (took, output)  # (2 deadlines of 3 s, retries, process starts; not minutes)
    delivery = _delivery(bt_api)
    assert delivery["produced"] == 240 and delivery["dropped"] == {}
    assert delivery["accepted"] + delivery["spilled"] == 240 and delivery["spilled"] > 0, delivery
    assert len(server.rows("experiment")) == delivery["accepted"]
    assert f"spilled rows are kept in {spill}; send them with `braintrust replay {spill}`" in output, output
    assert delivery["errors"], delivery

    server.start()
    for _ in range(2):  # the second replay finds nothing left
        replay = subprocess.run([sys.executable, "-m", "braintrust", "replay", str(spill)], cwd=bt_api.path,
                                capture_output=True, text=True, timeout=60)
        assert replay.returncode == 0, replay.stdout + replay.stderr
    assert _experiment_rows(server) == (1, 240, 240)
    roots = [row for row in server.rows("experiment") if not row.get("span_parents")]
    assert len(roots) == 120
