"""Shared fixtures. Each block is owned by one part of the suite; append new blocks at the end."""

from __future__ import annotations

import pytest

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
