"""reliability.md audited in real processes (QA round 4): secrets in tracebacks with locals,
and the fault paths not covered elsewhere. Each test fails without the fix it names."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from btserver import BraintrustTestServer, Step
from delivery_helpers import subprocess_env

KEY = "sk-qa4LOCALSsecret0123456789"


def run_pytest_showing_locals(tmp_path: Path, server: BraintrustTestServer, test_source: str, **env: str) -> str:
    """Run ``test_source`` under ``pytest -l --tb=long`` (every frame's locals by ``repr``) in a
    child process pointed at ``server``; its whole output."""
    (tmp_path / "test_locals.py").write_text(textwrap.dedent(test_source))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-l", "--tb=long", "-q", "test_locals.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env=subprocess_env(BRAINTRUST_APP_URL=server.url, BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"),
                           BRAINTRUST_NUM_RETRIES="0", **env),
    )
    return proc.stdout + proc.stderr


@pytest.mark.parametrize("path, status", [("/api/apikey/login", 401), ("/v1/project", 500)])
def test_a_traceback_with_locals_never_shows_the_api_key(tmp_path, path, status):
    # Without the fix: ``key = 'sk-...'`` (BraintrustState.login) and the project cache's key
    # tuple (HttpBackend._logs_project) were printed whole.
    with BraintrustTestServer(api_key=KEY) as server:
        server.script("POST", path, [Step(status=status)] * 5)
        output = run_pytest_showing_locals(tmp_path, server, """
            import braintrust

            def test_logger_id():
                braintrust.init_logger(project="p").id
        """, BRAINTRUST_API_KEY=KEY)
    assert "1 failed" in output, output[-3000:]
    assert "'sk*****89'" in output, output[-3000:]  # (the frame holding the key was shown)
    assert KEY not in output
    assert KEY[3:-2] not in output


def test_the_key_a_client_holds_is_masked_in_its_repr_and_whole_on_the_wire():
    from braintrust.config import DeliverySettings
    from braintrust.delivery.deadline import Deadline
    from braintrust.delivery.http_client import HttpClient

    with BraintrustTestServer(api_key=KEY) as server:
        client = HttpClient(KEY, DeliverySettings())
        client.trust(server.url)
        assert repr(vars(client)).count("'sk*****89'") == 1 and KEY not in repr(vars(client))
        assert KEY not in repr(client._headers(server.url, None, True))
        client.request("GET", f"{server.url}/version", Deadline(5), retry=False)
        assert server.requests[-1].header("Authorization") == f"Bearer {KEY}"


@pytest.mark.parametrize("call", [
    'braintrust.login(api_key=os.environ.pop("QA4_KEY"), force_login=True)',
    'braintrust.init_logger(project="p", api_key=os.environ.pop("QA4_KEY"), force_login=True).id',
    'braintrust.invoke(project_name="p", slug="s", input=1, api_key=os.environ.pop("QA4_KEY"), force_login=True)',
    'braintrust.load_parameters(project="p", slug="s", api_key=os.environ.pop("QA4_KEY"))',
])
def test_a_key_passed_in_code_never_shows_in_a_traceback_with_locals(tmp_path, call):
    # Without the fix: each entry point's own ``api_key`` argument, and ``key`` in
    # BraintrustState.login, were printed whole.
    with BraintrustTestServer(api_key=KEY) as server:
        server.script("POST", "/api/apikey/login", [Step(status=401)] * 3)
        output = run_pytest_showing_locals(tmp_path, server, f"""
            import os
            import braintrust

            def test_call():
                {call}
        """, QA4_KEY=KEY)
    assert "1 failed" in output, output[-3000:]
    assert "api_key    = 'sk*****89'" in output or "key        = 'sk*****89'" in output, output[-3000:]
    assert KEY not in output
