"""The public SDK's own tests of its dev server's authorization (``test_auth_middleware.py``,
``test_cached_login.py``, ``test_lru_cache.py``) and of ``init_function`` (``test_invoke.py``),
read as a specification and checked against 0.48.1 itself: who is let in, which logins are
remembered, and what the server prints when a request fails. Real HTTP to the loopback server."""

from __future__ import annotations

import pytest

import braintrust
from braintrust.devserver.access import AccessDenied, Caller, TokenChecker
from devserver.test_dev_server import broken_rows, call, plain, serving


def logins(bt_env) -> int:
    return len(bt_env.requests_to("/api/apikey/login"))


def test_a_token_that_cannot_log_in_is_a_401_printed_as_an_authorization_error(bt_env, capfd):
    """0.48.1 answers 401 ``Unauthorized`` and prints ``Authorization error: <why>`` on stderr;
    a failed login is not remembered: the same token sent again is checked again."""
    with serving(bt_env, {"plain": plain()}) as dev:
        before = logins(bt_env)
        answers = [call(dev, "GET", "/list", headers={"x-bt-auth-token": "not-the-key"}) for _ in range(2)]
    assert [(a.status_code, a.json()) for a in answers] == [(401, {"error": "Unauthorized"})] * 2
    assert logins(bt_env) == before + 2
    assert capfd.readouterr().err.count("Authorization error: ") == 2


def test_a_token_is_checked_for_each_organization_it_names(bt_env):
    """0.48.1 remembers a login by token, app and organization: the same token naming another
    organization is checked on its own (and refused), and the right one once."""
    with serving(bt_env, {"plain": plain()}) as dev:
        before = logins(bt_env)
        elsewhere = call(dev, "GET", "/list", headers={"x-bt-org-name": "elsewhere"})
        first, again = call(dev, "GET", "/list"), call(dev, "GET", "/list")
    assert (elsewhere.status_code, first.status_code, again.status_code) == (401, 200, 200)
    assert logins(bt_env) == before + 2


def test_the_tokens_remembered_are_the_most_recently_used(bt_env):
    """As 0.48.1's login cache (least recently used goes first): with room for two, a check that
    is a hit keeps its login; the one not used since is checked again."""
    checker = TokenChecker(remembered=2)
    # (three apps that are all the test server: three credentials that each log in)
    a, b, c = (Caller(bt_env.api_key, bt_env.org_name, app_url) for app_url in (None, bt_env.url, bt_env.url + "/"))
    before = logins(bt_env)
    for caller in (a, b, a, c, a):  # (c evicts b, the least recently used)
        checker.check(caller)
    assert logins(bt_env) == before + 3
    checker.check(b)
    assert logins(bt_env) == before + 4
    with pytest.raises(AccessDenied) as refused:
        checker.check(Caller(None, bt_env.org_name, None))
    assert (refused.value.status, refused.value.message) == (401, "Unauthorized")


def test_a_failed_run_or_dataset_is_printed_with_0_48_1s_words(bt_env, capfd, monkeypatch):
    """0.48.1 prints ``Error running eval: <why>`` (a streamed run), ``Failed to run evaluation:
    <why>`` (an answered one) and ``Error loading dataset: <why>`` on stderr."""
    with serving(bt_env, {"broken": plain(eval_name="broken", data=broken_rows)}) as dev:
        streamed = call(dev, "POST", "/eval", json={"name": "broken", "stream": True})
        missing = call(dev, "POST", "/eval", json={"name": "broken", "data": {"dataset_id": "no-such-dataset"}})

        def cannot_build(*args, **kwargs):
            raise ValueError("no evaluator today")

        monkeypatch.setattr("braintrust.devserver.server._evaluator_for", cannot_build)
        answered = call(dev, "POST", "/eval", json={"name": "broken", "data": [{"input": "x"}]})
    assert (streamed.status_code, missing.status_code, answered.status_code) == (200, 400, 500)
    err = capfd.readouterr().err
    assert "Error running eval: row 2 could not be read" in err
    assert "Error loading dataset: " in err and "no-such-dataset" in err.split("Error loading dataset: ", 1)[1]
    assert "Failed to run evaluation: no evaluator today" in err


def test_init_function_names_its_version(bt_env):
    """0.48.1's name for a function pinned to a version ends with it (``latest`` without)."""
    pinned = braintrust.init_function("my-project", "my-scorer", version="v1")
    assert pinned.__name__ == "init_function-my-project-my-scorer-v1"
    assert braintrust.init_function("my-project", "my-scorer").__name__ == "init_function-my-project-my-scorer-latest"
    assert braintrust.init_function("p", "echo", version="v1")(input="x") == {"input": "x"}
    (sent,) = bt_env.requests_to("/function/invoke")
    assert (sent.json["slug"], sent.json["version"], sent.json["project_name"]) == ("echo", "v1", "p")
