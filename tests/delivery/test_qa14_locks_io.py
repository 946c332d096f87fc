"""No lock is held across a network call without a bound for its waiters.

The sender thread holds the login state through its login request, and the HTTP backend's lock
through registering an object; a name lookup there is bounded by no timeout. Each test patches
``socket.getaddrinfo`` in a child process so that one host name never resolves, then checks that
calls on another thread return at once (they need no network) or give up at their own deadline.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from braintrust.delivery.deadline import Deadline
from braintrust.state import BraintrustState
from delivery_helpers import HANGING_RESOLVER

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX processes")

#: A call that needs no network, on a loaded 2-core runner.
AT_ONCE = 0.5
#: The deadline given to calls that wait for the stuck thread, and the margin past it.
DEADLINE = 1.0
MARGIN = 1.0

_CHILD_HEAD = HANGING_RESOLVER + """

def probe(name, call, bound=5.0):
    # ``call`` on its own thread, so that a hang is reported rather than hanging the child
    out = {}
    def run():
        started = time.monotonic()
        try:
            call()
            out["result"] = "ok"
        except Exception as exc:
            out["result"] = f"{type(exc).__name__}|{getattr(exc, 'reason', '')}|{exc}"
        out["took"] = time.monotonic() - started
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(bound)
    if thread.is_alive():
        print(f"PROBE {name} HANG", flush=True)
    else:
        print(f"PROBE {name} {out['took']:.3f} {out['result']}", flush=True)
"""


def _run(tmp_path, body: str, env_extra: dict[str, str]) -> dict[str, tuple[float, str]]:
    script = tmp_path / "child.py"
    script.write_text(_CHILD_HEAD + textwrap.dedent(body) + "\nimport os\nos._exit(0)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINTRUST_")}
    env.update({
        "BRAINTRUST_API_KEY": "test-api-key",
        "BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR": str(tmp_path / "spill"),
        "HOME": str(tmp_path),
        **env_extra,
    })
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    probes = {}
    for line in done.stdout.splitlines():
        if line.startswith("PROBE "):
            _, name, took, *rest = line.split(" ", 3)
            assert took != "HANG", f"{name} hung: {done.stdout}"
            probes[name] = (float(took), rest[0] if rest else "")
    return probes


def test_calls_that_need_no_network_return_at_once_while_the_senders_login_is_stuck(tmp_path):
    """``init_logger``, ``init``, ``login``'s credential bookkeeping and the HTTP client waited
    for the sender's login (stuck in a name lookup) as long as it lasted: forever."""
    probes = _run(tmp_path, """
        import braintrust
        from braintrust.state import global_state

        state = global_state()
        logger = braintrust.init_logger(project="p")
        logger.log(input="a", output="b")
        wait_until_held(state._lock, "its login")

        def kept():
            with state.credentials_kept_on_success():
                state.configure(org_name=None)

        probe("init_logger", lambda: braintrust.init_logger(project="q"))
        probe("init", lambda: braintrust.init(project="q"))
        probe("configure", lambda: state.configure(app_url="http://never-resolves.test:9"))
        probe("kept", kept)
        probe("http_client", state.http_client)
        probe("unreachable_verdict", state.unreachable_verdict)
    """, {"BRAINTRUST_APP_URL": "http://never-resolves.test:9"})
    assert set(probes) == {"init_logger", "init", "configure", "kept", "http_client", "unreachable_verdict"}
    for name, (took, result) in probes.items():
        assert result == "ok", (name, result)
        assert took < AT_ONCE, (name, took)


def test_resolving_an_object_gives_up_at_its_deadline_while_the_sender_logs_in_for_another(tmp_path):
    """The sender registers the logger's project holding the backend's lock through its login;
    resolving another object (``experiment.id``, ``summarize``, ``export``...) waited for it forever."""
    probes = _run(tmp_path, f"""
        import braintrust
        from braintrust.delivery.runtime import resolve_ref
        from braintrust.state import global_state

        logger = braintrust.init_logger(project="p")
        logger.log(input="a", output="b")
        wait_until_the_sender_logs_in()
        experiment = braintrust.init(project="q")
        probe("resolve", lambda: resolve_ref(experiment.ref, {DEADLINE}))
    """, {"BRAINTRUST_APP_URL": "http://never-resolves.test:9"})
    took, result = probes["resolve"]
    kind, reason, message = result.split("|", 2)
    assert (kind, reason) == ("BackendError", "deadline"), result
    assert DEADLINE - 0.05 <= took < DEADLINE + MARGIN
    assert "register the experiment" in message and "before the deadline" in message and "BRAINTRUST_LOCAL=1" in message


def test_waits_for_the_backend_give_up_at_their_deadline_while_the_sender_registers_a_project(tmp_path, bt_server):
    """Logged in, the sender's ``POST /v1/project`` to an API URL whose name never resolves holds
    the backend's lock: resolving another object and asking the payload limit waited forever."""
    probes = _run(tmp_path, f"""
        import braintrust
        from braintrust.delivery.deadline import Deadline
        from braintrust.delivery.runtime import get_processor, resolve_ref
        from braintrust.state import global_state

        global_state().login()  # (at the test server: only the API URL never resolves)
        logger = braintrust.init_logger(project="p")
        logger.log(input="a", output="b")
        backend = get_processor()._backend_instance()
        wait_until_held(backend._lock, "registering the project")
        experiment = braintrust.init(project="q")
        probe("resolve", lambda: resolve_ref(experiment.ref, {DEADLINE}))
        probe("limit", lambda: backend.max_batch_bytes(Deadline({DEADLINE})))
        probe("login", lambda: global_state().login(Deadline({DEADLINE})))
    """, {"BRAINTRUST_APP_URL": bt_server.url, "BRAINTRUST_API_URL": "http://never-resolves.test:9"})
    for name in ("resolve", "limit"):
        took, result = probes[name]
        kind, reason, _ = result.split("|", 2)
        assert (kind, reason) == ("BackendError", "deadline"), (name, result)
        assert DEADLINE - 0.05 <= took < DEADLINE + MARGIN, (name, took)
    assert probes["login"][1] == "ok" and probes["login"][0] < AT_ONCE  # (the login itself is done)


def test_credentials_changed_during_a_login_are_the_ones_logged_in_with(bt_server, monkeypatch):
    """``configure(force_login=True)`` no longer waits for a login under way; that login, whose
    answer is for the earlier key, logs in again with the new one instead of keeping the old."""
    for name in [k for k in os.environ if k.startswith("BRAINTRUST_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("BRAINTRUST_API_KEY", bt_server.api_key)
    monkeypatch.setenv("BRAINTRUST_APP_URL", bt_server.url)
    monkeypatch.setenv("HOME", os.getcwd())
    bt_server.other_api_keys.add("second-key")
    bt_server.script("POST", "/api/apikey/login", [{"delay_seconds": 1.0}])
    state = BraintrustState()
    try:
        outcome: list = []
        thread = threading.Thread(target=lambda: outcome.append(state.login(Deadline(10.0))))
        thread.start()
        for _ in range(250):
            if bt_server.requests_to("/api/apikey/login"):
                break
            time.sleep(0.01)
        started = time.monotonic()
        state.configure(api_key="second-key", force_login=True)
        took = time.monotonic() - started
        thread.join(10)
        assert took < AT_ONCE
        assert outcome == [state] and state.logged_in
        assert state.http_client().api_key == "second-key"
        logins = bt_server.requests_to("/api/apikey/login")
        assert [r.header("Authorization") for r in logins] == [f"Bearer {bt_server.api_key}", "Bearer second-key"]
    finally:
        state.close()
