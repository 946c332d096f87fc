"""Regressions found by running random suites through ``pytest --braintrust`` with pytest's own
JUnit XML as the oracle: each case's row says what JUnit says of that test."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any


def _junit_outcomes(path: Path) -> dict[str, str]:
    """``{test name: outcome}`` as JUnit XML records it (a teardown error after a failure is a
    second entry of the test: the failure stands, as on the case's row)."""
    outcomes: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        skipped = case.find("skipped")
        if "failure" in kinds or "error" in kinds:
            outcome = "failed" if "failure" in kinds else "error"
        elif skipped is not None:
            outcome = "xfailed" if skipped.get("type") == "pytest.xfail" else "skipped"
        else:
            outcome = "passed"
        if outcomes.get(case.get("name")) != "failed":
            outcomes[case.get("name")] = outcome
    return outcomes


def _case_rows(bt: Any) -> dict[str, dict[str, Any]]:
    return {name: row for name, row in bt.roots().items() if row["span_attributes"].get("type") == "eval"}


#: A mix of the shapes the random suites used, whose rows already agree with JUnit.
MIXED = '''
    import pytest
    from braintrust import Score
    from pytest_braintrust import eval_case

    def s_num(output, **kw):
        return 0.25

    def s_raise(output, **kw):
        raise RuntimeError("scorer broke")

    @pytest.fixture
    def td_fail():
        yield 1
        raise RuntimeError("teardown broke")

    @pytest.fixture
    def setup_fail():
        raise RuntimeError("setup broke")

    @pytest.fixture
    def fx_xfail():
        pytest.xfail("fixture xfail")

    @eval_case(input="a", scorers=[s_num, s_raise])
    def test_passes():
        return "out"

    @eval_case(input="b", scorers=[s_num])
    def test_fails_then_teardown(td_fail):
        assert 1 == 2

    @pytest.mark.braintrust(input="c")
    def test_setup_error(setup_fail):
        pass

    @eval_case(input="d")
    @pytest.mark.xfail(strict=True, reason="xfs")
    def test_strict_xpass():
        pass

    @eval_case(input="e")
    @pytest.mark.xfail(reason="xf")
    def test_xfails():
        raise ValueError("x")

    @eval_case(input="f")
    def test_fixture_xfail(fx_xfail):
        pass

    @eval_case(input="g")
    def test_skips_itself(braintrust_case):
        pytest.skip("not today")

    def test_no_trace(braintrust_case):
        pytest.fail("plain failure", pytrace=False)

    def test_plain_unmarked():
        pass
'''

EXPECTED_MIXED = {
    "test_passes": ("passed", 1.0),
    "test_fails_then_teardown": ("failed", 0.0),
    "test_setup_error": ("error", 0.0),
    "test_strict_xpass": ("failed", 0.0),
    "test_xfails": ("xfailed", 0.0),
    "test_fixture_xfail": ("xfailed", 0.0),
    "test_skips_itself": ("skipped", None),
    "test_no_trace": ("failed", 0.0),
}


def test_each_case_row_agrees_with_junit_and_the_summary(bt, tmp_path):
    """One root row per case (none for the unmarked test), its outcome JUnit's, its ``pass``
    score the outcome table's, and the JSON summary's counts those of the rows."""
    import json

    junit, summary = tmp_path / "junit.xml", tmp_path / "summary.json"
    bt.pytester.makepyfile(test_mixed=MIXED)

    result = bt.run("--braintrust", f"--junitxml={junit}", f"--braintrust-json={summary}", "-p", "no:randomly")

    assert result.ret == 1, result.stdout.str()
    rows = _case_rows(bt)
    junit_outcomes = _junit_outcomes(junit)
    assert set(rows) == set(EXPECTED_MIXED)
    for name, (outcome, passed) in EXPECTED_MIXED.items():
        row = rows[name]
        assert row["metadata"]["pytest"]["outcome"] == outcome, name
        assert (row.get("scores") or {}).get("pass") == passed, name
        # JUnit has no xpassed/strict notion of its own: a strict xpass is its failure
        assert junit_outcomes[name] == outcome, name
    counts = json.loads(summary.read_text())["cases"]
    assert counts["total"] == len(EXPECTED_MIXED)
    for outcome in ("passed", "failed", "error", "skipped", "xfailed", "xpassed"):
        assert counts[outcome] == sum(1 for o, _ in EXPECTED_MIXED.values() if o == outcome), outcome
    assert "8 eval cases: 1 passed, 3 failed, 1 error, 1 skipped, 2 xfailed" in result.stdout.str()


TEARDOWN_SKIPS = '''
    import pytest
    from pytest_braintrust import eval_case

    @pytest.fixture
    def td_error():
        yield 1
        raise RuntimeError("teardown broke")

    @pytest.fixture
    def td_skip():
        yield 1
        pytest.skip("skipped in teardown")

    @pytest.fixture
    def td_xfail():
        yield 1
        pytest.xfail("xfail in teardown")

    @eval_case(input="a")
    @pytest.mark.xfail(reason="flaky teardown")
    def test_xfail_mark_teardown_error(td_error):
        pass

    @eval_case(input="b")
    def test_teardown_skips(td_skip):
        pass

    @eval_case(input="c")
    def test_teardown_xfails(td_xfail):
        pass
'''


def test_a_teardown_that_skips_or_xfails_is_the_cases_outcome(bt, tmp_path):
    """pytest reports a teardown exception an xfail mark expects, and ``pytest.skip``/``xfail``
    in a fixture's teardown, as a skipped teardown report; JUnit records the test as xfailed or
    skipped. The row said ``passed``/``xpassed`` with ``pass`` 1, hiding the teardown."""
    junit = tmp_path / "junit.xml"
    bt.pytester.makepyfile(test_td=TEARDOWN_SKIPS)

    bt.run("--braintrust", f"--junitxml={junit}", "-p", "no:randomly")

    rows = _case_rows(bt)
    junit_outcomes = _junit_outcomes(junit)
    assert junit_outcomes == {"test_xfail_mark_teardown_error": "xfailed", "test_teardown_skips": "skipped",
                              "test_teardown_xfails": "xfailed"}
    for name, outcome in junit_outcomes.items():
        pytest_meta = rows[name]["metadata"]["pytest"]
        assert pytest_meta["outcome"] == outcome, name
        assert pytest_meta.get("phase") == "teardown", name
        assert (rows[name].get("scores") or {}).get("pass") == (None if outcome == "skipped" else 0.0), name
    assert "skipped in teardown" in rows["test_teardown_skips"]["metadata"]["pytest"]["reason"]
    assert rows["test_teardown_xfails"]["metadata"]["pytest"]["reason"] == "xfail in teardown"
