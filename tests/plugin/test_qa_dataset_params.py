"""Parametrizing tests from a Braintrust dataset: records deleted before the run, datasets read
in the legacy form (``use_output=True``), and datasets that cannot be read."""

from __future__ import annotations

import braintrust
from braintrust.objects.dataset import init_dataset


def _curated_dataset() -> str:
    """A dataset whose newest change is a delete (its version is then older than the delete)."""
    dataset = init_dataset(project="data", name="curated")
    dataset.insert(id="keep", input="k", expected="k")
    dataset.insert(id="bad", input="b", expected="b")
    dataset.insert(id="also-kept", input="a", expected="a")
    braintrust.flush()
    dataset.delete("bad")
    braintrust.flush()
    braintrust.delivery.runtime.reset_for_tests()
    return dataset.id


def test_a_record_deleted_from_the_dataset_is_no_case_under_xdist(bt):
    """Every worker reads the dataset at the version the first one pinned; a read as of that
    version (the newest ``_xact_id`` of the records left) brought the deleted record back, so the
    other worker collected one case more and xdist stopped: "Different tests were collected"."""
    _curated_dataset()
    bt.pytester.makepyfile(
        test_suite_curated='''
        import braintrust
        from pytest_braintrust import eval_case

        @eval_case(data=braintrust.init_dataset(project="data", name="curated"))
        def test_it(braintrust_case):
            assert braintrust_case.input != "b"
        '''
    )
    result = bt.run_subprocess("--braintrust", "-n", "2", "-v")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*2 passed*"])
    assert "test_it[bad]" not in result.stdout.str()


def test_a_legacy_dataset_gives_its_output_as_expected(bt):
    """``init_dataset(..., use_output=True)`` reads records with ``expected`` named ``output``;
    the cases had no expected value at all."""
    dataset = init_dataset(project="data", name="legacy")
    dataset.insert(id="one", input="k", expected="K")
    braintrust.flush()
    braintrust.delivery.runtime.reset_for_tests()
    bt.pytester.makepyfile(
        test_suite_legacy='''
        import braintrust
        from pytest_braintrust import eval_case

        @eval_case(data=braintrust.init_dataset(project="data", name="legacy", use_output=True))
        def test_it(braintrust_case):
            assert braintrust_case.expected == "K"
        '''
    )
    bt.run("--braintrust", "--braintrust-project", "evals").assert_outcomes(passed=1)
    (experiment,) = bt.experiments("evals")
    assert bt.roots(experiment)["test_it[one]"]["expected"] == "K"


def test_a_dataset_that_cannot_be_read_is_a_collection_error_naming_the_test(bt_api):
    """A dataset id that does not exist stopped collection with a traceback through the SDK."""
    bt_api.pytester.makepyfile(
        test_suite_missing='''
        import braintrust
        from pytest_braintrust import eval_case

        @eval_case(data=braintrust.init_dataset(dataset_id="no-such-dataset"))
        def test_it(braintrust_case):
            pass
        '''
    )
    result = bt_api.run("-q")
    assert result.ret == 2
    result.stdout.fnmatch_lines(["*test_suite_missing.py::test_it: cannot read the data source Dataset(dataset_id='no-such-dataset'): "
                                 "GET /v1/dataset/no-such-dataset answered 404*"])
    assert "Traceback" not in result.stdout.str() and "braintrust/delivery" not in result.stdout.str()
