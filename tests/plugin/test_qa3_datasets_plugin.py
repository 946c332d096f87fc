"""Parametrizing tests from a Braintrust dataset read through ``_internal_btql`` (helper QA, third
round): under xdist, datasets that differ only in their BTQL share no pinned version or records."""

from __future__ import annotations

import braintrust
from braintrust.objects.dataset import init_dataset


def test_two_btql_reads_of_one_dataset_are_pinned_apart_under_xdist(bt):
    """Workers agree on each dataset's version and records through a pin file named after the
    dataset; two reads of one dataset with different BTQL clauses shared one, so the second
    test's cases were cut to the first's records (silently: 1 case instead of 3)."""
    dataset = init_dataset(project="data", name="numbers")
    for i in range(4):
        dataset.insert(id=f"r{i}", input=i, expected=i)
    braintrust.flush()
    braintrust.delivery.runtime.reset_for_tests()
    bt.pytester.makepyfile(
        test_suite_btql='''
        import braintrust
        from pytest_braintrust import eval_case

        @eval_case(data=braintrust.init_dataset(project="data", name="numbers", _internal_btql={"limit": 1}))
        def test_first(braintrust_case):
            assert braintrust_case.input == braintrust_case.expected

        @eval_case(data=braintrust.init_dataset(project="data", name="numbers", _internal_btql={"limit": 3}))
        def test_three(braintrust_case):
            assert braintrust_case.input == braintrust_case.expected
        '''
    )
    result = bt.run_subprocess("--braintrust", "-n", "2", "-v")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*4 passed*"])
    assert sorted(line.split("::")[1].split()[0] for line in result.stdout.lines if "PASSED" in line and "::" in line) == \
        ["test_first[r0]", "test_three[r0]", "test_three[r1]", "test_three[r2]"]
