"""Shared fixtures. Each block is owned by one part of the suite; append new blocks at the end."""

from __future__ import annotations

import signal

import pytest

# A run started with SIGINT ignored (a background job of a non-interactive shell: `cmd &`) passes
# that on to every process it starts, and the Ctrl-C tests' children would never see their SIGINT
# (nor stop: a `--watch` child then runs on). A handler, unlike SIG_IGN, is not inherited.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# ==== Braintrust test server fixtures (tests/btserver/) ============================================
# bt_server          a started BraintrustTestServer (default key "test-api-key", org "test-org"), stopped after the test
# bt_server_factory  make(**kwargs) -> a started server with other settings (payload_max_bytes=..., merge_rows=...)
# bt_env             bt_server + the environment of a user pointed at it (see _BT_ENV_UNSET)

from btserver import BraintrustTestServer, Step  # noqa: E402,F401  (Step re-exported for convenience)

#: Variables that would point the SDK elsewhere or change its sending behaviour; bt_env unsets them.
#: (BRAINTRUST_LOCAL_DIR is left alone so a store directory set by another fixture stays in place.)
_BT_ENV_UNSET = (
    "BRAINTRUST_API_URL",
    "BRAINTRUST_PROXY_URL",
    "BRAINTRUST_APP_PUBLIC_URL",
    "BRAINTRUST_ORG_NAME",
    "BRAINTRUST_LOCAL",
    "BRAINTRUST_SYNC_FLUSH",
    "BRAINTRUST_NUM_RETRIES",
    "BRAINTRUST_HTTP_TIMEOUT",
    "BRAINTRUST_FLUSH_TIMEOUT",
    "BRAINTRUST_MAX_REQUEST_SIZE",
    "BRAINTRUST_DEFAULT_BATCH_SIZE",
    "BRAINTRUST_QUEUE_SIZE",
    "BRAINTRUST_DISABLE_ATEXIT_FLUSH",
    "BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR",
    "BRAINTRUST_ALL_PUBLISH_PAYLOADS_DIR",
    "BRAINTRUST_PARENT",
)


@pytest.fixture
def bt_server_factory():
    """``make(**kwargs)`` → a started :class:`BraintrustTestServer`; all are stopped after the test."""
    servers: list[BraintrustTestServer] = []

    def make(**kwargs) -> BraintrustTestServer:
        server = BraintrustTestServer(**kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def bt_server(bt_server_factory) -> BraintrustTestServer:
    """A started loopback Braintrust API server with default settings."""
    return bt_server_factory()


@pytest.fixture
def bt_env(bt_server, monkeypatch) -> BraintrustTestServer:
    """Point the SDK at ``bt_server``: BRAINTRUST_API_KEY and BRAINTRUST_APP_URL set, overrides unset."""
    for name in _BT_ENV_UNSET:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BRAINTRUST_API_KEY", bt_server.api_key)
    monkeypatch.setenv("BRAINTRUST_APP_URL", bt_server.url)
    return bt_server


# ==== end of Braintrust test server fixtures =======================================================


# ==== Tracing / isolation fixtures (tests/sdk/) ===
# (autouse, session) _bt_session_isolation  prompt and parameter caches, and the working folder, temporary for the whole run
# (autouse) _bt_isolation  every test starts with no BRAINTRUST_* variable (nor a CI or hosting variable
#                          that span_origin.environment detects, nor GITHUB_STEP_SUMMARY) set, BRAINTRUST_LOCAL_DIR
#                          and BRAINTRUST_PROMPT_CACHE_DIR, BRAINTRUST_PARAMETERS_CACHE_DIR pointing at fresh temporary directories, no masking function, no current
#                          span/logger and a fresh delivery runtime (braintrust.delivery.runtime)
# bt_logs                  bt_env + helpers to flush and read back what the server stored

import os as _os  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def _bt_session_isolation(tmp_path_factory):
    """Cache folders for the whole run, for the children that module-scoped fixtures start before
    a test's own isolation applies: nothing a test runs caches in the user's home folder. And a
    temporary working folder: the SDK looks for ``.env.braintrust`` in the working folder and its
    parents, and a developer's own (in their home folder, say) must not give the tests a key."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("bt-session-cwd"))
        patch.setenv("BRAINTRUST_PROMPT_CACHE_DIR", str(tmp_path_factory.mktemp("bt-session-prompt-cache")))
        patch.setenv("BRAINTRUST_PARAMETERS_CACHE_DIR", str(tmp_path_factory.mktemp("bt-session-parameters-cache")))
        yield


@pytest.fixture(autouse=True)
def _bt_isolation(tmp_path_factory, monkeypatch):
    from braintrust import masking
    from braintrust.delivery import runtime
    from braintrust.tracing import context

    from braintrust.tracing.span_origin import DETECTION_VARIABLES

    for name in list(_os.environ):
        if name.startswith("BRAINTRUST_") or name in DETECTION_VARIABLES:  # (CI's own: rows as on a laptop)
            monkeypatch.delenv(name)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)  # (the test runs' summaries stay out of CI's own)
    monkeypatch.setenv("BRAINTRUST_LOCAL_DIR", str(tmp_path_factory.mktemp("bt-local")))
    monkeypatch.setenv("BRAINTRUST_PROMPT_CACHE_DIR", str(tmp_path_factory.mktemp("bt-prompt-cache")))
    monkeypatch.setenv("BRAINTRUST_PARAMETERS_CACHE_DIR", str(tmp_path_factory.mktemp("bt-parameters-cache")))
    runtime.reset_for_tests()
    masking.set_masking_function(None)
    context.current_span_var.set(None)
    context.parent_var.set(None)
    yield
    masking.set_masking_function(None)
    if runtime._processor is not None:
        try:
            # Whatever a test left queued gets a short chance only (its server may be gone already).
            runtime._processor.flush(timeout=0.5)
        except Exception:
            pass
    runtime.reset_for_tests()


class BtLogs:
    """What a test needs to check rows against ``bt_server``."""

    def __init__(self, server):
        self.server = server

    def flush(self):
        import braintrust

        result = braintrust.flush()
        assert result.ok, result.describe()
        return result

    def rows(self, object_type="project_logs", object_id=None):
        """Flush, then the server's merged rows."""
        self.flush()
        return self.server.rows(object_type, object_id)

    def by_name(self, object_type="project_logs"):
        """Flush, then ``{span name: merged row}`` (names must be unique)."""
        rows = self.rows(object_type)
        named = {}
        for row in rows:
            name = (row.get("span_attributes") or {}).get("name")
            assert name not in named, f"two rows named {name!r}"
            named[name] = row
        return named

    def sent_rows(self):
        """Every row as sent in accepted /logs3 bodies (not merged)."""
        return [row for body in self.server.logs3_bodies if isinstance(body.get("rows"), list) for row in body["rows"]]

    def paths(self):
        return [(r.method, r.path) for r in self.server.requests]


@pytest.fixture
def bt_logs(bt_env):
    yield BtLogs(bt_env)
    import braintrust

    braintrust.flush(timeout=2)  # while the server still runs: nothing left for teardown


# ==== end of tracing / isolation fixtures ==========================================================
