"""Acceptance audit of issue #4 (the pytest plugin): the items no other test exercised as a
user meets them. A class's ``data=`` feeding each of its methods; a dataset pinned to a
version under xdist; ``--braintrust-api-key`` under xdist; a test that is a case only through
the ``braintrust_case`` fixture returning its output in a plain run."""

from __future__ import annotations

import braintrust
import pytest
from braintrust.objects.dataset import init_dataset


def test_a_class_marks_data_makes_every_method_one_case_per_record(bt):
    """``@eval_case(data=...)`` on a class: each method is parametrized by every record, with
    ids from record ids, the class's scorers run on each, and the records' fields on each row."""
    bt.pytester.makepyfile(
        test_suite_class_data='''
        from pytest_braintrust import eval_case

        def exact(output, expected):
            return output == expected

        @eval_case(data=[{"id": "a", "input": "x", "expected": "X"}, {"id": "b", "input": "y", "expected": "Y"}],
                   scorers=[exact], tags=["cls"])
        class TestRecords:
            def test_upper(self, braintrust_case):
                return braintrust_case.input.upper()

            def test_same(self, braintrust_case):
                return braintrust_case.input
        '''
    )
    result = bt.run("--braintrust")
    result.assert_outcomes(passed=4)
    roots = bt.roots()
    assert sorted(roots) == ["test_same[a]", "test_same[b]", "test_upper[a]", "test_upper[b]"]
    assert roots["test_upper[b]"]["input"] == "y" and roots["test_upper[b]"]["expected"] == "Y"
    assert roots["test_upper[b]"]["tags"] == ["cls"]
    assert roots["test_upper[b]"]["metadata"]["pytest"]["parametrize_id"] == "b"
    rows = bt.rows()
    # The class's scorer ran on every method's output (a score span per case).
    exact = {r["span_parents"][0]: r["scores"]["exact"] for r in rows if r["span_attributes"]["name"] == "exact"}
    assert {name: exact[row["span_id"]] for name, row in roots.items()} == {
        "test_upper[a]": 1, "test_upper[b]": 1, "test_same[a]": 0, "test_same[b]": 0,
    }


PINNED_SUITE = '''
import braintrust
from pytest_braintrust import eval_case

@eval_case(data=braintrust.init_dataset(project="pinned", name="faq", version={version!r}))
def test_faq(braintrust_case):
    return braintrust_case.input.upper()
'''


def test_a_dataset_pinned_to_a_version_under_xdist(bt):
    """``init_dataset(..., version=V)`` under ``-n 2``: every worker collects the records of V
    (not the one added after it), and the run's experiment is linked to V."""
    dataset = init_dataset(project="pinned", name="faq")
    for word in ("alpha", "beta", "gamma"):
        dataset.insert(id=word, input=word, expected=word.upper())
    braintrust.flush()
    version = init_dataset(project="pinned", name="faq").version
    dataset.insert(id="late", input="late", expected="LATE")
    braintrust.flush()
    assert init_dataset(project="pinned", name="faq").version != version
    braintrust.delivery.runtime.reset_for_tests()

    bt.pytester.makepyfile(test_suite_pinned=PINNED_SUITE.format(version=version))
    result = bt.run_subprocess("--braintrust", "--braintrust-project", "pinned", "-n", "2")
    result.assert_outcomes(passed=3)
    assert "Different tests were collected" not in result.stdout.str()
    (experiment,) = bt.experiments("pinned")
    roots = bt.roots(experiment)
    assert sorted(roots) == ["test_faq[alpha]", "test_faq[beta]", "test_faq[gamma]"]
    assert {r["metadata"]["pytest"]["worker"] for r in roots.values()} == {"gw0", "gw1"}
    assert experiment["dataset_id"] == dataset.id and experiment["dataset_version"] == version


def test_api_key_option_under_xdist_warns_once_and_is_never_echoed(bt_api):
    """``--braintrust-api-key`` under ``-n 2``: the workers log with it, one warning (not one per
    worker) points at the variable, and neither the key nor its middle appears in any output,
    a wrong key's login error included (at most four characters of it)."""
    server = bt_api.server
    bt_api.monkeypatch.delenv("BRAINTRUST_API_KEY")
    bt_api.pytester.makepyfile(
        test_suite_key='''
        import pytest
        from pytest_braintrust import eval_case

        @eval_case
        @pytest.mark.parametrize("n", range(4))
        def test_case(n):
            pass
        '''
    )
    result = bt_api.run_subprocess("--braintrust", "--braintrust-project", "keyed", "-n", "2",
                                   "--braintrust-api-key", server.api_key, "--junitxml=junit.xml")
    result.assert_outcomes(passed=4)
    output = result.stdout.str() + result.stderr.str()
    assert output.count("--braintrust-api-key puts the key in your shell history") == 1
    assert server.api_key not in output
    assert server.api_key not in (bt_api.path / "junit.xml").read_text()
    (project,) = [p for p in server.projects() if p["name"] == "keyed"]
    (experiment,) = server.experiments(project["id"])
    assert len([r for r in server.rows("experiment", experiment["id"]) if not r.get("span_parents")]) == 4

    wrong = "wrong-secret-key-0123456789"
    result = bt_api.run_subprocess("--braintrust", "--braintrust-project", "keyed", "-n", "2", "--braintrust-api-key", wrong)
    output = result.stdout.str() + result.stderr.str()
    assert "Invalid API key" in output
    assert "secret" not in output and wrong[4:-2] not in output
    result.stdout.fnmatch_lines(["rows: 0 sent, * spilled, 0 dropped*"])


def test_a_fixture_only_case_returning_its_output_passes_a_plain_run_under_w_error(bt):
    """A test that is a case because it requests ``braintrust_case`` returns its output, as the
    README shows; under ``--braintrust`` that raises no ``PytestReturnNotNoneWarning``, and a plain
    ``pytest -W error`` run (a unit-test job) must pass it too, as it passes a marked case."""
    bt.pytester.makepyfile(
        test_suite_fixture_return='''
        def test_fixture_case(braintrust_case):
            return "answer"

        def test_plain():
            pass
        '''
    )
    logged = bt.run("--braintrust", "-W", "error")
    logged.assert_outcomes(passed=2)
    plain = bt.run("-W", "error")
    plain.assert_outcomes(passed=2)
