"""Fixtures of the plugin's acceptance tests (helpers in plugin_helpers.py).

bt      a ``Runner`` around ``pytester``: in-process and subprocess runs, the run's local store
bt_api  ``bt`` pointed at the loopback test server (``bt_api.server``)
"""

from __future__ import annotations

from typing import Any

import pytest
from plugin_helpers import Runner


@pytest.fixture
def bt(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Runner:
    # A suite's own environment: no project override, results in the per-test local store.
    for name in ("BRAINTRUST_PROJECT_NAME", "BRAINTRUST_PROJECT", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER"):
        monkeypatch.delenv(name, raising=False)
    return Runner(pytester, monkeypatch)


@pytest.fixture
def bt_api(bt: Runner, bt_server: Any) -> Any:
    """``bt`` pointed at the loopback test server (environment set for in-process runs and
    subprocesses alike)."""
    bt.monkeypatch.setenv("BRAINTRUST_API_KEY", bt_server.api_key)
    bt.monkeypatch.setenv("BRAINTRUST_APP_URL", bt_server.url)
    bt.server = bt_server
    return bt
