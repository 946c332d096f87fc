"""The dev server side by side with 0.48.1's (``braintrust eval --dev``): header values with
whitespace around them, a known path asked with a trailing slash, a playground scorer whose
``function_id`` says its ``function_type``. Real HTTP to a real server over loopback."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from devserver.test_dev_server import call, plain, serving


def raw_get(dev, path: str, headers: list[tuple[str, str]]) -> tuple[int, dict]:
    """``GET path`` with exactly these header values (a requests session would refuse some)."""
    address = urlsplit(dev.base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    try:
        connection.putrequest("GET", path)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders()
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


def test_header_values_are_read_without_the_whitespace_around_them(bt_env):
    """HTTP does not count the whitespace around a header's value as part of it, and 0.48.1's
    server drops it: a token or organization sent with spaces around it logs in (it was a 401)."""
    with serving(bt_env, {"plain": plain()}) as dev:
        spaced = raw_get(dev, "/list", [("x-bt-auth-token", f"  {bt_env.api_key} "), ("x-bt-org-name", f" {bt_env.org_name}  ")])
        bearer = raw_get(dev, "/list", [("Authorization", f"Bearer {bt_env.api_key}  "), ("x-bt-org-name", bt_env.org_name)])
        # ("Bearer " names no token: a 400 saying so, where 0.48.1 tries the token "Bearer", a 401)
        no_token = raw_get(dev, "/list", [("Authorization", "Bearer "), ("x-bt-org-name", bt_env.org_name)])
        blank = raw_get(dev, "/list", [("x-bt-auth-token", "   "), ("x-bt-org-name", bt_env.org_name)])
    assert spaced[0] == 200 and "plain" in spaced[1], spaced
    assert bearer[0] == 200 and "plain" in bearer[1], bearer
    assert no_token == (400, {"error": "Invalid authorization token format"})
    assert blank == (400, {"error": "Invalid authorization token format"})


def test_a_known_path_with_a_trailing_slash_is_redirected_to_it(bt_env):
    """0.48.1's server (starlette) answers ``/list/`` and ``/eval/`` with a 307 to the path
    without the slash, its query kept (ours answered 404)."""
    with serving(bt_env, {"plain": plain()}) as dev:
        listing = call(dev, "GET", "/list/", allow_redirects=False)
        run = call(dev, "POST", "/eval/?from=playground", json={"name": "plain", "data": [{"input": "hi"}]}, allow_redirects=False)
        followed = call(dev, "POST", "/eval/", json={"name": "plain", "data": [{"input": "hi"}]})
        unknown = call(dev, "GET", "/nothing/", allow_redirects=False)
    host = urlsplit(dev.base).netloc
    assert (listing.status_code, listing.headers["Location"]) == (307, f"http://{host}/list")
    assert (run.status_code, run.headers["Location"]) == (307, f"http://{host}/eval?from=playground")
    assert run.headers["Access-Control-Allow-Origin"] == bt_env.url  # (a browser may read it)
    assert followed.status_code == 200 and followed.json()["projectName"] == "dev-project", followed.text
    assert unknown.status_code == 404


def test_a_global_scorer_that_says_its_function_type_runs(bt_env):
    """0.48.1's ``function_id`` for a global function may carry ``function_type``: 0.48.1 runs it,
    calling the function by ``global_function`` alone (ours refused the request with a 400)."""
    score = {"name": "sentiment", "function_id": {"global_function": "classify", "function_type": "scorer"}}
    with serving(bt_env, {"plain": plain()}) as dev:
        answer = call(dev, "POST", "/eval", json={"name": "plain", "data": [{"input": "good"}], "scores": [score]})
        wrong = call(dev, "POST", "/eval", json={"name": "plain", "data": [{"input": "good"}],
                                                 "scores": [{**score, "function_id": {"global_function": "classify", "function_type": 7}}]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["scores"]["sentiment"]["score"] == 0.9
    (invoked,) = [r for r in bt_env.requests if r.path == "/function/invoke"]
    assert set(invoked.json) == {"global_function", "input", "parent", "stream", "mode", "strict"}
    assert invoked.json["global_function"] == "classify"
    assert wrong.status_code == 400 and "scores[0].function_id.function_type must be a string or null" in wrong.json()["error"]


def test_a_scorer_answer_that_is_not_a_score_is_a_scorer_error(bt_env):
    """0.48.1 takes a dict a scorer returns as a score only when it has ``score`` (or a ``name``):
    the ``echo`` function's answer (its input) is the scorer's error, in ``scorer_errors``; ours
    logged it as a null score."""
    score = {"name": "echoed", "function_id": {"global_function": "echo"}}
    with serving(bt_env, {"plain": plain()}) as dev:
        answer = call(dev, "POST", "/eval", json={"name": "plain", "data": [{"input": "hey"}], "scores": [score]})
    assert answer.status_code == 200, answer.text
    import braintrust

    braintrust.flush()
    rows = bt_env.rows()
    root = next(r for r in rows if r.get("span_attributes", {}).get("type") == "eval")
    assert "When returning a dict, it must be a valid Score object" in root["metadata"]["scorer_errors"]["echoed"]
