"""What runs inside a case: declared and run-on-demand scorers that read their case's trace
(``trace``, as ``Eval`` gives it), and async scorers' errors as recorded."""

from __future__ import annotations

import pytest
from plugin_helpers import tree

TRACE_SUITE = '''
import asyncio
import braintrust
from pytest_braintrust import eval_case

async def spans_seen(output, trace):
    spans = await trace.get_spans()
    names = sorted(s.span_attributes["name"] for s in spans)
    return {"name": "spans_seen", "score": 1 if "helper" in names else 0, "metadata": {"names": names}}

def trace_root(output, trace):
    return 1 if trace.get_configuration()["root_span_id"] else 0

@braintrust.traced
def helper(x):
    return x

@eval_case(input="a", scorers=[spans_seen, trace_root])
def test_declared(braintrust_case):
    return helper("a")

@eval_case(input="b")
async def test_on_demand_in_async(braintrust_case):
    await asyncio.sleep(0)
    braintrust_case.run_scorers(helper("b"), scorers=[spans_seen, trace_root])
'''


def _score_rows(rows, case_name):
    t = tree(rows)
    root = next(r for r in rows if not r.get("span_parents") and r["span_attributes"]["name"] == case_name)
    return root, {r["span_attributes"]["name"]: r for r in t.children(root) if r["span_attributes"].get("type") == "score"}


def _assert_trace_read(rows, case_name):
    root, scored = _score_rows(rows, case_name)
    assert "scorer_errors" not in (root.get("metadata") or {}), root["metadata"]["scorer_errors"]
    assert scored["spans_seen"]["scores"] == {"spans_seen": 1}
    assert "helper" in scored["spans_seen"]["metadata"]["names"]
    assert scored["trace_root"]["scores"] == {"trace_root": 1}


def test_a_scorer_taking_trace_reads_its_case_trace_in_the_local_store(bt):
    # Eval gives a scorer its trial's trace (``trace.get_spans()``); "any Eval() scorer works" in
    # a case, so a case gives its own trace too, rather than None (an AttributeError in the scorer).
    bt.pytester.makepyfile(test_suite=TRACE_SUITE)
    result = bt.run("--braintrust", "-p", "asyncio", "-o", "asyncio_mode=auto")
    result.assert_outcomes(passed=2)
    rows = bt.rows()
    _assert_trace_read(rows, "test_declared")
    _assert_trace_read(rows, "test_on_demand_in_async")


def test_a_scorer_taking_trace_reads_its_case_trace_from_the_server(bt_api):
    bt_api.pytester.makepyfile(test_suite=TRACE_SUITE)
    result = bt_api.run("--braintrust", "-p", "asyncio", "-o", "asyncio_mode=auto")
    result.assert_outcomes(passed=2)
    assert "failed in" not in result.stdout.str()  # (the summary names a failed scorer)
    rows = bt_api.server.rows("experiment")
    _assert_trace_read(rows, "test_declared")
    _assert_trace_read(rows, "test_on_demand_in_async")
    assert bt_api.server.requests_to("/btql"), "the scorer read its trace back with a BTQL query, as 0.48.1's does"


def test_an_async_scorers_error_is_recorded_without_the_plugins_own_exception_chained(bt):
    # The error recorded is the scorer's: not "During handling of the above exception (no running
    # event loop) another exception occurred", which points users at the plugin.
    bt.pytester.makepyfile(
        test_suite='''
        from pytest_braintrust import eval_case

        async def judge(output):
            raise ValueError("judge is down")

        @eval_case(input="a", scorers=[judge])
        def test_scored(braintrust_case):
            return "a"
        '''
    )
    result = bt.run("--braintrust")
    result.assert_outcomes(passed=1)
    root, scored = _score_rows(bt.rows(), "test_scored")
    error = root["metadata"]["scorer_errors"]["judge"]
    assert "ValueError: judge is down" in error
    assert "no running event loop" not in error and "During handling" not in error
    assert "no running event loop" not in scored["judge"]["error"]


def test_a_scorer_taking_only_kwargs_waits_for_no_login_while_braintrust_refuses_it(bt_api):
    # The trace needs the experiment's id (a login): a scorer that does not name ``trace``
    # (autoevals' take ``**kwargs``) must not wait through the login's retries on every case,
    # nor fail because the login does.
    server = bt_api.server
    server.fail_always("POST", "/api/apikey/login", 503)
    bt_api.monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "1")
    bt_api.monkeypatch.setenv("BRAINTRUST_FLUSH_TIMEOUT", "5")
    bt_api.monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(bt_api.path / "spilled"))
    bt_api.pytester.makepyfile(
        test_suite='''
        import pytest
        from pytest_braintrust import eval_case

        def judge(output, expected=None, **kwargs):
            return 1

        @pytest.mark.parametrize("i", range(3))
        @eval_case(scorers=[judge])
        def test_scored(braintrust_case, i):
            return i
        '''
    )
    result = bt_api.run("--braintrust")
    result.assert_outcomes(passed=3)
    assert "failed in" not in result.stdout.str()
    assert len(server.requests_to("/api/apikey/login")) == 2  # the flush's two attempts, no more


def test_a_case_returning_a_coroutine_is_failed_at_the_tests_line_not_the_plugins(bt):
    # README: a failed case's error is "the message and the test's file:line". The plugin fails
    # a sync case that returns a coroutine (pytrace=False: no traceback), and the row then named
    # the plugin's own line (pytest_braintrust/case.py:NNN) as where the case failed.
    bt.pytester.makepyfile(
        test_suite='''
        from pytest_braintrust import eval_case

        @eval_case(input="a")
        def test_forgot_async(braintrust_case):
            async def body():
                return "a"
            return body()
        '''
    )
    result = bt.run("--braintrust")
    result.assert_outcomes(failed=1)
    root = bt.roots()["test_forgot_async"]
    assert "returned a coroutine that nothing awaited" in root["error"]
    assert root["error"].splitlines()[-1].startswith("test_suite.py:"), root["error"]
