"""``login(force_login=True)`` and the environment, held to 0.48.1's behaviour (checked by running
the same scripts with both SDKs against the test server): a credential not passed is read from
the ``BRAINTRUST_*`` variables again, the login goes to the app they name now, and a forced
login that leaves no key raises the no-key error instead of quietly switching stores."""

from __future__ import annotations

import pytest

import braintrust
from braintrust.state import NO_KEY_MESSAGE


def _log_one_row(project: str = "qa5-env", **login) -> None:
    braintrust.init_logger(project=project, **login).log(input=1, output=1)
    result = braintrust.flush()
    assert result.ok, result.describe()


def _paths(server) -> list[str]:
    return [r.path for r in server.requests]


def test_force_login_goes_to_the_app_url_the_environment_names_now(bt_env, bt_server_factory, monkeypatch):
    """The key was refused for the new app ("refusing to send the API key to untrusted host"):
    the HTTP client of the first login trusted only the first app's address."""
    _log_one_row()
    other = bt_server_factory()
    monkeypatch.setenv("BRAINTRUST_APP_URL", other.url)
    braintrust.login(force_login=True)
    _log_one_row()
    assert _paths(other)[0] == "/api/apikey/login"
    assert len(other.rows("project_logs")) == 1
    assert len(bt_env.rows("project_logs")) == 1


def test_force_login_without_arguments_reads_the_environment_again(bt_env, bt_server_factory, monkeypatch):
    """As 0.48.1's: an argument not given is the variable's value, not the earlier login's argument."""
    first = bt_server_factory()
    braintrust.login(app_url=first.url, api_key=first.api_key)
    braintrust.login(force_login=True)  # (BRAINTRUST_APP_URL names bt_env)
    _log_one_row()
    assert _paths(first) == ["/api/apikey/login"]
    assert _paths(bt_env)[0] == "/api/apikey/login"
    assert len(bt_env.rows("project_logs")) == 1


def test_init_logger_force_login_after_the_environment_changed_logs_in_again(bt_env, bt_server_factory, monkeypatch):
    braintrust.login()
    other = bt_server_factory()
    monkeypatch.setenv("BRAINTRUST_APP_URL", other.url)
    _log_one_row(force_login=True)
    assert len(other.rows("project_logs")) == 1
    assert _paths(bt_env) == ["/api/apikey/login"]


def test_init_logger_force_login_with_nothing_changed_keeps_the_login(bt_env):
    """(README: the login it has is kept.)"""
    braintrust.login()
    _log_one_row(force_login=True)
    assert _paths(bt_env).count("/api/apikey/login") == 1


def test_a_forced_login_that_leaves_no_key_raises_and_keeps_the_earlier_login(bt_env, monkeypatch):
    """0.48.1 raises its no-key error; ours switched to the local store without a word, and the
    rows of the program that had logged in with a key stayed on the laptop."""
    monkeypatch.delenv("BRAINTRUST_API_KEY")
    braintrust.login(api_key=bt_env.api_key)
    with pytest.raises(ValueError) as refused:
        braintrust.login(force_login=True)
    assert str(refused.value) == NO_KEY_MESSAGE
    _log_one_row()
    assert len(bt_env.rows("project_logs")) == 1
    assert {r.header("Authorization") for r in bt_env.requests} == {f"Bearer {bt_env.api_key}"}


def test_init_logger_with_a_forced_login_that_leaves_no_key_raises_and_changes_nothing(bt_env, monkeypatch):
    monkeypatch.delenv("BRAINTRUST_API_KEY")
    braintrust.login(api_key=bt_env.api_key)
    with pytest.raises(ValueError, match="Could not login to Braintrust"):
        braintrust.init_logger(project="qa5-env", force_login=True)
    _log_one_row()
    assert len(bt_env.rows("project_logs")) == 1
