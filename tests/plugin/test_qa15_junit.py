"""JUnit XML under pytest's own JUnit options, and scores given every documented way."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

SUITE = '''
    import pytest

    @pytest.mark.parametrize("q", ["h\\u00e9llo", "a]b"])
    def test_p(braintrust_case, q, record_property):
        record_property("mine", 3)
        braintrust_case.log(input=q, output=q, scores={"exact": 0.5})
'''


def _properties(path) -> dict[str, list[tuple[str, str]]]:
    """Each testcase's (classname::name) properties, in order."""
    root = ET.parse(path).getroot()
    return {f"{tc.get('classname')}::{tc.get('name')}": [(p.get("name"), p.get("value")) for p in tc.iter("property")]
            for tc in root.iter("testcase")}


@pytest.mark.parametrize("family", ["xunit1", "xunit2", "legacy"])
def test_scores_are_testcase_properties_in_every_junit_family(bt, tmp_path, family):
    """Whatever ``junit_family``, ``--junit-prefix`` or ``junit_suite_name``: the scores are
    properties of their test case, after the user's own, as numbers a CI system can read; the run
    is not failed by them (pytest warns only for the user's ``record_property`` under xunit2)."""
    junit = tmp_path / "junit.xml"
    bt.pytester.makepyfile(test_ids=SUITE)

    result = bt.run("--braintrust", f"--junitxml={junit}", "-o", f"junit_family={family}", "--junit-prefix=ci",
                    "-o", "junit_suite_name=evals")

    assert result.ret == 0, result.stdout.str()
    root = ET.parse(junit).getroot()
    assert [suite.get("name") for suite in root.iter("testsuite")] == ["evals"]
    cases = _properties(junit)
    assert set(cases) == {"ci.test_ids::test_p[h\\xe9llo]", "ci.test_ids::test_p[a]b]"}
    for properties in cases.values():
        assert properties == [("mine", "3"), ("braintrust.score.pass", "1.0"), ("braintrust.score.exact", "0.5")]
    warned = "record_property is incompatible with junit_family" in result.stdout.str()
    assert warned == (family == "xunit2")


def test_a_feedback_score_is_a_junit_property_too(bt, tmp_path):
    """``braintrust_case.feedback(scores=...)`` puts the score on the case's row (and in the
    experiment's averages), so README's "every score as a property" holds it too."""
    junit = tmp_path / "junit.xml"
    bt.pytester.makepyfile(test_fb='''
        def test_one(braintrust_case):
            braintrust_case.log(input=1, output=1)
            braintrust_case.feedback(scores={"reviewed": 0.5})
    ''')

    result = bt.run("--braintrust", f"--junitxml={junit}")

    assert result.ret == 0, result.stdout.str()
    assert bt.roots()["test_one"]["scores"]["reviewed"] == 0.5  # (the row has it: the JUnit file must too)
    assert dict(_properties(junit)["test_fb::test_one"]) == {"braintrust.score.pass": "1.0",
                                                             "braintrust.score.reviewed": "0.5"}
