"""Datasets used from pytest cases and ``Eval``: ids of records named in other scripts, and the
rows ``Eval`` writes for a dataset a data function returns (0.48.1's, as observed against the
loopback test server)."""

from __future__ import annotations

import codecs

from braintrust.delivery.backend import EXPERIMENT


def _jsonl(*lines: str) -> bytes:
    """A file as a Windows editor saves it: a BOM, CRLF line ends, a blank line."""
    return codecs.BOM_UTF8 + "\r\n".join([*lines, "", ""]).encode("utf-8")


def test_record_ids_in_other_scripts_name_their_cases_and_survive_insertions(bt):
    bt.pytester.makepyfile(test_suite_ids="""
        from pytest_braintrust import eval_case

        @eval_case(data="cases.jsonl")
        def test_faq(braintrust_case):
            return braintrust_case.input
    """)
    first = ['{"input": "a", "id": "日本"}', '{"input": "b", "id": "中国"}', '{"input": "Où est mon colis ?"}']
    (bt.path / "cases.jsonl").write_bytes(_jsonl(*first))
    before = bt.run("--collect-only", "-q")
    # A record added in front: every other record keeps its id (not named by its position).
    (bt.path / "cases.jsonl").write_bytes(_jsonl('{"input": "new", "id": "새"}', *first))
    after = bt.run("--collect-only", "-q")

    ids = ["test_suite_ids.py::test_faq[u65e5_u672c]", "test_suite_ids.py::test_faq[u4e2d_u56fd]",
           "test_suite_ids.py::test_faq[O_xf9_est_mon_colis]"]
    before.stdout.fnmatch_lines([*ids, "", "*3 tests collected*"], consecutive=True)
    after.stdout.fnmatch_lines(["test_suite_ids.py::test_faq[uc0c8]", *ids, "", "*4 tests collected*"], consecutive=True)


def test_cases_run_under_their_escaped_ids_with_the_record_as_logged(bt):
    bt.pytester.makepyfile(test_suite_run="""
        from pytest_braintrust import eval_case

        @eval_case(data="cases.jsonl")
        def test_faq(braintrust_case):
            return braintrust_case.input
    """)
    (bt.path / "cases.jsonl").write_bytes(_jsonl('{"input": {"q": "日本?"}, "expected": "東京", "id": "日本"}',
                                                 '{"input": {"q": "café"}, "id": "café"}'))
    result = bt.run("--braintrust", "test_suite_run.py::test_faq[u65e5_u672c]")
    result.assert_outcomes(passed=1)
    roots = bt.roots()
    assert list(roots) == ["test_faq[u65e5_u672c]"]
    assert roots["test_faq[u65e5_u672c]"]["input"] == {"q": "日本?"}
    assert roots["test_faq[u65e5_u672c]"]["expected"] == "東京"


def _stored(experiment_id: str) -> list[dict]:
    from braintrust.objects.reads import LocalReads

    return list(LocalReads().fetch(EXPERIMENT, experiment_id))


def test_eval_over_a_dataset_a_data_function_returns_writes_no_origin_as_0_48_1():
    """0.48.1 links a dataset (the experiment's ``dataset_id``, each case's ``origin``) only when
    it is ``data`` itself; a function returning one gives its records as plain cases."""
    from braintrust import Eval, init_dataset
    from braintrust.store.sqlite_store import LocalStore

    dataset = init_dataset("ds-function", "greetings")
    dataset.insert(input="hi", expected="HI", metadata={"lang": "en"}, tags=["short"], id="r-hi")
    dataset.flush()

    def upper(input):
        return input.upper()

    called = Eval("ds-function", data=lambda: init_dataset("ds-function", "greetings"), task=upper, scores=[],
                  experiment_name="called")
    direct = Eval("ds-function", data=init_dataset("ds-function", "greetings"), task=upper, scores=[],
                  experiment_name="direct")

    assert [(r.input, r.output, r.origin) for r in called.results] == [("hi", "HI", None)]
    (root,) = [r for r in _stored(called.summary.experiment_id) if not r.get("span_parents")]
    assert "origin" not in root or root["origin"] is None
    assert (root["input"], root["expected"], root["metadata"], root["tags"]) == ("hi", "HI", {"lang": "en"}, ["short"])
    assert LocalStore().get_experiment(id=called.summary.experiment_id)["dataset_id"] is None

    (root,) = [r for r in _stored(direct.summary.experiment_id) if not r.get("span_parents")]
    assert root["origin"]["object_id"] == dataset.id and root["origin"]["id"] == "r-hi"
    assert LocalStore().get_experiment(id=direct.summary.experiment_id)["dataset_id"] == dataset.id
