"""A server that answers 200 with the wrong thing, and a masking function too slow for the
flush deadline: rows are spilled with a reason that names the problem (never a crash of the
sender), the flush keeps its deadline, and every test ends with the invariant."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from btserver import Step
from braintrust.config import DeliverySettings
from braintrust.delivery.backend import EXPERIMENT, ObjectRef
from braintrust.delivery.http_backend import HttpBackend
from braintrust.delivery.processor import Processor
from braintrust.delivery.spill import SpillWriter
from braintrust.state import BraintrustState
from delivery_helpers import FakeClock, assert_invariant, make_row, project_ref, spilled_rows, subprocess_env


def flush_rows(tmp_path: Path, ref: ObjectRef, count: int = 5):
    settings = DeliverySettings(sync_flush=False)
    processor = Processor(
        lambda: HttpBackend(BraintrustState(), settings),
        lambda: SpillWriter(tmp_path / "spill", {"kind": "api"}),
        settings,
    )
    for i in range(count):
        processor.enqueue(ref, make_row(f"r{i}"), 100)
    result = processor.close(timeout=5)
    assert_invariant(result)
    return result


@pytest.mark.parametrize("org_info", ["abc", {"id": "o"}, [None], [{"id": "o", "name": "n", "api_url": 123}]])
def test_a_login_answer_of_the_wrong_shape_spills_as_bad_response(bt_env, tmp_path, org_info):
    bt_env.fail_always("POST", "/api/apikey/login", Step(status=200, body={"org_info": org_info}))
    result = flush_rows(tmp_path, project_ref())
    assert result.spilled_by_reason == {"bad_response": 5}, result.errors
    assert any("org_info" in error and "BRAINTRUST_APP_URL" in error for error in result.errors), result.errors
    assert len(spilled_rows(tmp_path / "spill")) == 5


@pytest.mark.parametrize(("path", "body"), [("/v1/project", []), ("/v1/project", {"name": "p"}), ("/v1/experiment", {"id": 7})])
def test_an_object_answer_without_an_id_spills_as_bad_response(bt_env, tmp_path, path, body):
    bt_env.fail_always("POST", path, Step(status=200, body=body))
    ref = ObjectRef(EXPERIMENT, {"project_name": "p", "experiment_name": "e"})
    result = flush_rows(tmp_path, ref)
    assert result.spilled_by_reason == {"bad_response": 5}, result.errors
    assert any(f"POST {path} answered" in error and "with an id" in error for error in result.errors), result.errors


@pytest.mark.parametrize("advertised", [b"1e999", b"true"])
def test_a_nonsense_advertised_payload_limit_is_ignored(bt_env, tmp_path, advertised):
    bt_env.fail_always("GET", "/version", Step(status=200, body=b'{"logs3_payload_max_bytes": ' + advertised + b"}"))
    backend = HttpBackend(BraintrustState(), DeliverySettings())
    assert backend.max_batch_bytes(FakeClock().deadline(5)) == 6 * 1024 * 1024 - 30
    result = flush_rows(tmp_path, project_ref())
    assert result.accepted == 5 and len(bt_env.rows()) == 5


SLOW_MASKING_CHILD = """
import json, sys, time
import braintrust
from braintrust.delivery.runtime import get_processor

def slow_mask(value):
    time.sleep(0.05)
    return "<masked>" if value == "secret" else value

braintrust.set_masking_function(slow_mask)
logger = braintrust.init_logger(project="slow-masking")
for i in range(40):
    logger.log(input="secret", output="secret", expected="secret")
started = time.monotonic()
braintrust.flush()
stats = get_processor().stats()
print(json.dumps({"seconds": time.monotonic() - started, "produced": stats.produced, "accepted": stats.accepted,
                  "spilled": stats.spilled, "dropped": stats.dropped, "pending": stats.pending, "errors": stats.errors}))
"""


@pytest.mark.slow
def test_a_slow_masking_function_cannot_stretch_the_flush_deadline(bt_server, tmp_path):
    # 40 rows of 3 fields at 50 ms each need 6 s of masking; the deadline is 1 s.
    env = subprocess_env(
        BRAINTRUST_API_KEY=bt_server.api_key, BRAINTRUST_APP_URL=bt_server.url,
        BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"), BRAINTRUST_FLUSH_TIMEOUT="1",
        PYTHONPATH=str(Path(__file__).parents[2]),  # (this checkout's braintrust)
    )
    proc = subprocess.run([sys.executable, "-c", SLOW_MASKING_CHILD], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["seconds"] < 1 + 0.5 + 0.5, report  # the deadline, the in-flight grace, the masking grace
    assert report["pending"] == 0
    assert report["produced"] == 40 == report["accepted"] + report["spilled"] + sum(report["dropped"].values()), report
    assert report["dropped"].get("mask_timeout"), report
    assert any("masking function" in error and "BRAINTRUST_FLUSH_TIMEOUT" in error for error in report["errors"])
    spill = tmp_path / "store" / "spill"
    assert len(spilled_rows(spill)) == report["spilled"]
    assert "secret" not in "".join(p.read_text() for p in spill.glob("spill-*.json"))
    assert "secret" not in json.dumps(bt_server.logs3_bodies)


STUCK_MASKING_CHILD = """
import json, threading, time
import braintrust
from braintrust.delivery.runtime import get_processor

def stuck_mask(value):
    threading.Event().wait()  # (never returns)

braintrust.set_masking_function(stuck_mask)
logger = braintrust.init_logger(project="stuck-masking")
for i in range(5):
    logger.log(input="secret")
started = time.monotonic()
braintrust.flush()
stats = get_processor().stats()
print(json.dumps({"seconds": time.monotonic() - started, "produced": stats.produced, "accepted": stats.accepted,
                  "spilled": stats.spilled, "dropped": stats.dropped}), flush=True)
logger.log(input="secret too")  # (and the exit-time flush ends too)
"""


@pytest.mark.slow
def test_a_masking_function_that_never_returns_cannot_hang_the_flush_or_the_exit(bt_server, tmp_path):
    env = subprocess_env(
        BRAINTRUST_API_KEY=bt_server.api_key, BRAINTRUST_APP_URL=bt_server.url,
        BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"), BRAINTRUST_FLUSH_TIMEOUT="1",
        PYTHONPATH=str(Path(__file__).parents[2]),
    )
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", STUCK_MASKING_CHILD], env=env, capture_output=True, text=True, timeout=60)
    assert time.monotonic() - started < 20, "the exit waited for the masking function"
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.splitlines()[-1])
    assert report["seconds"] < 1 + 0.5 + 0.5 + 1, report  # the deadline, the in-flight grace, the masking grace, a margin
    assert report["produced"] == 5 == sum(report["dropped"].values()), report
    assert report["dropped"].get("mask_timeout"), report
    assert "secret" not in json.dumps(bt_server.logs3_bodies)
    assert "secret" not in "".join(p.read_text() for p in (tmp_path / "store" / "spill").glob("spill-*.json"))


@pytest.mark.parametrize("suffix", ["\n", "\r\nsecond-line", "é"])
def test_an_api_key_a_header_cannot_carry_never_appears_in_errors(bt_env, tmp_path, caplog, suffix):
    # e.g. ``login(api_key=open("key.txt").read())``: the HTTP libraries' errors quote the header.
    key = "sk-" + "k3y" * 8 + suffix
    state = BraintrustState()
    state.configure(api_key=key)
    settings = DeliverySettings()
    processor = Processor(lambda: HttpBackend(state, settings), lambda: SpillWriter(tmp_path / "spill", {"kind": "api"}), settings)
    for i in range(3):
        processor.enqueue(project_ref(), make_row(f"r{i}"), 100)
    result = processor.close(timeout=5)
    assert_invariant(result)
    assert result.spilled_by_reason == {"bad_api_key": 3}, result.errors
    assert result.errors and all("BRAINTRUST_API_KEY" in e and "network" not in e for e in result.errors), result.errors
    spilled = "".join(p.read_text() for p in (tmp_path / "spill").glob("spill-*.json"))
    assert "k3yk3y" not in "\n".join(result.errors) + caplog.text + spilled
