"""``pytest --braintrust`` beside third-party plugins our test dependencies leave out
(pytest-timeout, pytest-mock, pytest-randomly): each plugin's mechanism reproduced in the suite
itself, so that CI runs these without them.

* pytest-mock / ``monkeypatch``: a test's mock of ``time.time`` is still active while the
  plugin ends the task span and runs the declared scorers (before fixture teardown);
* pytest-timeout's signal method: ``SIGALRM`` and ``pytest.fail`` raised wherever the test is;
* pytest-randomly: the global ``random`` reseeded before every test, in another order.
"""

from __future__ import annotations

import pytest
from plugin_helpers import tree

#: A test's clock that runs out, as ``mocker.patch("time.time", side_effect=[100.0, 105.0])``
#: does (StopIteration). Only the main thread's reads are the test's: other threads (the
#: sender) get the real time, so that what they read, and when, cannot make the run flaky.
RUNS_OUT = '''
import threading
import time


def clock_running_out(monkeypatch, *values):
    real, left = time.time, iter(values)

    def clock():
        if threading.current_thread() is not threading.main_thread():
            return real()
        return next(left)

    monkeypatch.setattr(time, "time", clock)


def timed(fn):
    start = time.time()
    out = fn()
    return out, time.time() - start
'''


def test_a_scorer_under_a_test_clock_that_ran_out_is_a_scorer_error_and_the_run_goes_on(bt):
    """Declared scorers run in the call's report, while the test's mocks are active: starting
    the score span read the test's mocked ``time.time``, and its StopIteration escaped the
    hook: INTERNALERROR, the rest of the run never ran and its cases were never logged. Now it
    is that scorer's error (naming why), and the other cases run and are logged."""
    bt.pytester.makepyfile(clockutil=RUNS_OUT)
    bt.pytester.makepyfile(
        test_clock_scorer='''
        from clockutil import clock_running_out, timed
        from pytest_braintrust import eval_case

        def exact(output, expected):
            return output == expected

        @eval_case(input="a", expected="A", scorers=[exact])
        def test_timed(monkeypatch):
            clock_running_out(monkeypatch, 100.0, 105.0)
            out, elapsed = timed(lambda: "A")
            assert elapsed == 5.0
            return out

        @eval_case(input="b", expected="B", scorers=[exact])
        def test_after():
            return "B"
        '''
    )
    result = bt.run("--braintrust", "-p", "no:randomly")
    assert "INTERNALERROR" not in result.stdout.str()
    assert result.ret in (0, 1)
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 2
    roots, spans = bt.roots(), tree(bt.rows())
    assert set(roots) == {"test_timed", "test_after"}
    assert spans.child(roots["test_after"], "exact")["scores"] == {"exact": 1}
    timed_row = roots["test_timed"]
    errors = (timed_row["metadata"].get("scorer_errors") or {}).get("exact")
    if errors is not None:  # (the score span could not start under the test's clock: said so)
        assert "starting its score span failed (StopIteration" in errors and "time.time" in errors
    else:
        assert spans.child(timed_row, "exact")["scores"] == {"exact": 1}


def test_a_case_whose_test_mocks_time_time_passes_as_it_does_without_the_plugin(bt):
    """A test that mocks ``time.time`` with the values its code reads (pytest-mock's
    ``side_effect=[...]``) passes under pytest, and under 0.48.1's plugin with ``--braintrust``.
    Here the call hook reads ``time.time()`` for the task's end while the mock is still active:
    StopIteration there became ``RuntimeError: generator raised StopIteration`` and failed it."""
    bt.pytester.makepyfile(clockutil=RUNS_OUT)
    bt.pytester.makepyfile(
        test_clock_case='''
        import pytest
        from clockutil import clock_running_out, timed

        @pytest.mark.braintrust(input="a", expected="A")
        def test_timed(monkeypatch):
            clock_running_out(monkeypatch, 100.0, 105.0)
            out, elapsed = timed(lambda: "A")
            assert elapsed == 5.0
        '''
    )
    plain = bt.run("-p", "no:randomly")
    assert plain.parseoutcomes() == {"passed": 1}
    logged = bt.run("--braintrust", "-p", "no:randomly")
    assert logged.parseoutcomes() == {"passed": 1}, logged.stdout.str()[-2000:]


#: pytest-timeout's signal method, as it works: SIGALRM set for the whole protocol of the item
#: (setup, call, teardown; our scorers run in it), whose handler calls ``pytest.fail``.
SIGNAL_TIMEOUT_CONFTEST = '''
import signal
import pytest

TIMEOUT = 0.4


def _fail(signum, frame):
    pytest.fail("Timeout (>%.1fs) from the conftest's timer." % TIMEOUT)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    previous = signal.signal(signal.SIGALRM, _fail)
    signal.setitimer(signal.ITIMER_REAL, TIMEOUT)
    try:
        return (yield)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
'''


def test_signal_timeouts_a_hung_case_and_a_hung_scorer_are_rows_with_the_timeout(bt):
    """A case whose body hangs is a failed row with the timeout as its error; a scorer that
    hangs is a scorer error with the timeout, the outcome stays (README); the next case runs."""
    bt.pytester.makeconftest(SIGNAL_TIMEOUT_CONFTEST)
    bt.pytester.makepyfile(
        test_hangs='''
        import time
        from pytest_braintrust import eval_case

        def exact(output, expected):
            return output == expected

        def hangs(output, expected):
            time.sleep(30)
            return 1

        @eval_case(input="a", expected="A", scorers=[exact])
        def test_body_hangs():
            time.sleep(30)
            return "A"

        @eval_case(input="b", expected="B", scorers=[hangs, exact])
        def test_scorer_hangs():
            return "B"

        @eval_case(input="c", expected="C", scorers=[exact])
        def test_after():
            return "C"
        '''
    )
    result = bt.run("--braintrust", "-p", "no:randomly", "-p", "no:timeout")
    assert result.parseoutcomes() == {"passed": 2, "failed": 1}
    roots, spans = bt.roots(), tree(bt.rows())
    body = roots["test_body_hangs"]
    assert body["metadata"]["pytest"]["outcome"] == "failed"
    assert body["error"].startswith("Failed: Timeout (>0.4s) from the conftest's timer.")
    assert body["scores"] == {"pass": 0.0}
    assert spans.child(body, "task")["error"].startswith("Failed: Timeout (>0.4s)")
    scorer = roots["test_scorer_hangs"]
    assert scorer["metadata"]["pytest"]["outcome"] == "passed"
    assert "Timeout (>0.4s)" in scorer["metadata"]["scorer_errors"]["hangs"]
    assert scorer["scores"] == {"pass": 1.0}
    assert "Timeout (>0.4s)" in spans.child(scorer, "hangs")["error"]
    assert spans.child(scorer, "exact")["scores"] == {"exact": 1}  # (the next scorer ran)
    assert spans.child(roots["test_after"], "exact")["scores"] == {"exact": 1}


def test_random_order_with_the_global_random_reseeded_keeps_every_row_apart(bt):
    """pytest-randomly reseeds ``random`` to the same seed before each test and shuffles the
    order: row, span and trace ids must not come from that stream, or two cases would write
    the same rows; the second run compares with the first case by case."""
    bt.pytester.makeconftest(
        '''
        import random
        import pytest

        def pytest_collection_modifyitems(items):
            items.reverse()

        @pytest.hookimpl(tryfirst=True)
        def pytest_runtest_setup(item):
            random.seed(1234)

        @pytest.hookimpl(tryfirst=True)
        def pytest_runtest_call(item):
            random.seed(1234)
        '''
    )
    bt.pytester.makepyfile(
        test_reseeded='''
        from pytest_braintrust import eval_case

        @eval_case(data=[{"input": i, "expected": i} for i in range(4)])
        def test_echo(braintrust_case):
            with braintrust_case.start_span(name="inner") as span:
                span.log(output=braintrust_case.input)
            return braintrust_case.input
        '''
    )
    for _ in range(2):
        result = bt.run("--braintrust", "-p", "no:randomly")
        assert result.parseoutcomes() == {"passed": 4}
    experiments = bt.experiments()
    assert len(experiments) == 2
    for experiment in experiments:
        rows = bt.rows(experiment)
        assert len(rows) == 12  # root, task and inner span per case
        for key in ("id", "span_id"):
            assert len({r[key] for r in rows}) == 12, key
        assert len({r["root_span_id"] for r in rows}) == 4
    result.stdout.fnmatch_lines(["*'pass'*score*(0 improvements, 0 regressions)*"])
