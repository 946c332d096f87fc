"""Every wait is bounded: checked in real processes against servers and resolvers that never answer.

A name lookup is bounded by no timeout of ``requests``: each test patches ``socket.getaddrinfo``
in its child so that one host name never resolves.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest
from delivery_helpers import HANGING_RESOLVER

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX processes")

FLUSH_TIMEOUT = 2.0
#: Interpreter start, imports and spilling, on a loaded 2-core runner.
MARGIN = 4.0


def _run(tmp_path, body: str, env_extra: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, float]:
    script = tmp_path / "child.py"
    script.write_text(HANGING_RESOLVER + textwrap.dedent(body))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINTRUST_")}
    env.update({
        "BRAINTRUST_API_KEY": "test-api-key-qa13",
        "BRAINTRUST_APP_URL": "http://never-resolves.test:9",
        "BRAINTRUST_FLUSH_TIMEOUT": str(FLUSH_TIMEOUT),
        "BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR": str(tmp_path / "spill"),
        "HOME": str(tmp_path),
        **(env_extra or {}),
    })
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    return done, time.monotonic() - started


def test_a_login_waiting_for_the_senders_stuck_name_lookup_gives_up_at_its_deadline(tmp_path):
    """The sender's login holds the state through a name lookup that never ends; a login on
    another thread (``load_prompt``, ``user_info``) waited for it forever, past its own deadline."""
    done, elapsed = _run(tmp_path, """
        import threading, time
        import braintrust
        from braintrust.delivery.deadline import Deadline
        from braintrust.state import LoginError, global_state

        logger = braintrust.init_logger(project="p")
        logger.log(input="a", output="b")
        wait_until_the_sender_logs_in()
        started = time.monotonic()
        try:
            global_state().login(Deadline(1.0))
        except LoginError as exc:
            print("LOGIN", exc.reason, round(time.monotonic() - started, 2), exc)
    """)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("LOGIN"))
    _, reason, waited, message = line.split(" ", 3)
    assert reason == "deadline"
    assert float(waited) < 1.0 + 1.0
    assert "another thread's login" in message and "BRAINTRUST_APP_URL" in message
    # and the exit-time flush spills the row within its deadline
    assert elapsed < 1.0 + FLUSH_TIMEOUT + MARGIN
    assert "1 spilled" in done.stderr
    assert len(list((tmp_path / "spill").glob("spill-*.json"))) == 1


def test_an_exit_flush_to_a_host_whose_name_never_resolves_ends_within_its_deadline(tmp_path):
    done, elapsed = _run(tmp_path, """
        import braintrust
        experiment = braintrust.init(project="p")
        experiment.log(input="a", output="b", scores={"s": 1})
    """)
    assert done.returncode == 0, done.stderr
    assert elapsed < FLUSH_TIMEOUT + MARGIN
    assert "1 row writes, 0 accepted, 1 spilled" in done.stderr
    assert len(list((tmp_path / "spill").glob("spill-*.json"))) == 1
