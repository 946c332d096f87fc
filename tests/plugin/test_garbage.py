"""A case leaves no cyclic garbage: everything it held goes when its test ends, by reference
counting. Cycles would let cases (their reports, outputs, spans) pile up until the next
collection, and make pytest's own full collections slower for the whole run."""

from __future__ import annotations

import json

CASES = 300

SUITE = f'''
import pytest

@pytest.mark.braintrust
@pytest.mark.parametrize("n", range({CASES}))
def test_case(n, braintrust_case):
    braintrust_case.log_output(n)
    braintrust_case.score("half", 0.5)
'''

# A plugin that turns the cyclic collector off for the test phase and counts what it would have
# found: objects reachable only through reference cycles.
COUNTER = '''
import gc
import json
import pytest

@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session):
    gc.collect()
    gc.disable()

@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    with open("garbage.json", "w") as f:
        json.dump({"unreachable": gc.collect()}, f)
    gc.enable()
'''


def test_cases_leave_no_cyclic_garbage(bt):
    bt.pytester.makepyfile(test_suite_garbage=SUITE, garbage_counter=COUNTER)
    result = bt.run_subprocess("--braintrust", "-p", "garbage_counter", "test_suite_garbage.py")
    result.assert_outcomes(passed=CASES)
    unreachable = json.loads((bt.pytester.path / "garbage.json").read_text())["unreachable"]
    # (pytest and the SDK make a few cycles of their own; a cycle per case would be thousands)
    assert unreachable < CASES, unreachable
