"""Run-level QA (second pass): counts, exit statuses and summaries that were wrong at the edges of
a run: a worker that stops the run, a collection error under --braintrust-gates-only, a flush that
raises (BRAINTRUST_SYNC_FLUSH), options given empty, data records with malformed tags."""

from __future__ import annotations

import json
import os

import pytest


def test_a_worker_that_stops_the_run_is_counted_once(bt):
    """pytest-xdist reports a worker that ended with exit status 2 (``pytest.exit()`` in a test,
    Ctrl-C on the worker) down twice: its cases and rows were counted twice."""
    bt.pytester.makepyfile(
        test_suite_stops='''
        import pytest
        from pytest_braintrust import eval_case

        @eval_case()
        def test_a_first():
            pass

        @eval_case()
        def test_b_second():
            pass

        @eval_case()
        def test_c_stops():
            pytest.exit("enough")
        '''
    )
    result = bt.run_subprocess("--braintrust", "--braintrust-project", "stops", "-n", "1", "--braintrust-json=summary.json")
    assert result.ret == pytest.ExitCode.INTERRUPTED, result.stdout.str()
    document = json.loads((bt.path / "summary.json").read_text())
    assert document["cases"]["total"] == 3 and document["cases"]["passed"] == 2 and document["cases"]["interrupted"] == 1
    rows = bt.rows()
    assert document["delivery"]["produced"] == document["delivery"]["accepted"] == len(rows)
    result.stdout.fnmatch_lines(["3 eval cases: 2 passed, 1 interrupted"])


COLLECTION_ERROR_SUITE = {
    "test_suite_case": '''
        from pytest_braintrust import eval_case

        @eval_case()
        def test_case_fails():
            assert False
        ''',
    "test_suite_broken": "import no_such_module_anywhere\n",
}


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["in-process", "xdist"])
def test_gates_only_does_not_hide_a_collection_error(bt, workers):
    """With --continue-on-collection-errors a module that fails to import makes pytest exit 1;
    --braintrust-gates-only forgives failing eval cases only, not a test file that never ran."""
    bt.pytester.makepyfile(**COLLECTION_ERROR_SUITE)
    args = ("--braintrust", "--braintrust-project", "gates-only", "--braintrust-gates-only", "--continue-on-collection-errors")
    result = bt.run_subprocess(*args, *workers) if workers else bt.run(*args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines(["*ERROR collecting test_suite_broken.py*"])


FLUSH_SUITE = '''
from pytest_braintrust import eval_case

@eval_case(input="a")
def test_good():
    pass

@eval_case(input="b")
def test_bad():
    assert False
'''


def test_a_flush_that_raises_still_counts_the_rows_it_could_not_deliver(bt):
    """Under BRAINTRUST_SYNC_FLUSH the session-end flush raises ``FlushError`` when rows were not
    delivered: the summary said "0 sent, 0 spilled", asked the store for a summary anyway, and
    named no spill folder."""
    blocker = bt.path / "a-file"
    blocker.write_text("not a folder")
    bt.monkeypatch.setenv("BRAINTRUST_SYNC_FLUSH", "1")
    bt.monkeypatch.setenv("BRAINTRUST_LOCAL_DIR", str(blocker / "store"))  # cannot be made
    spill = bt.path / "spill"
    bt.monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(spill))
    bt.pytester.makepyfile(test_suite_flush=FLUSH_SUITE)
    result = bt.run("--braintrust", "--braintrust-fail-under", "pass=0.1", "--braintrust-json=summary.json")
    assert result.ret == 10, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "gate FAILED: --braintrust-fail-under: score 'pass' could not be checked: "
            "no summary, because none of this run's rows were delivered (* spilled)",
            "rows: 0 sent, * spilled, 0 dropped (flush *s)",
            f"spilled rows are kept in {spill}; send them with `braintrust replay {spill}`*",
        ]
    )
    document = json.loads((bt.path / "summary.json").read_text())
    assert document["delivery"]["spilled"] == document["delivery"]["produced"] > 0
    assert "could not summarize" not in result.stdout.str()


@pytest.mark.parametrize("tags, shown", [('"smoke"', "the string 'smoke'"), ("7", "7"), ('["ok", 3]', "['ok', 3]")])
def test_a_data_record_whose_tags_are_not_a_list_of_strings_fails_collection_naming_it(bt, tags, shown):
    """``"tags": "smoke"`` in a .jsonl line became the tags s, m, o, k, e (and a number a
    traceback into the plugin); a record's tags are checked as eval_case's tags= are."""
    (bt.path / "faq.jsonl").write_text('{"input": "a"}\n' + f'{{"input": "b", "tags": {tags}}}\n')
    bt.pytester.makepyfile(
        test_suite_tags='''
        from pytest_braintrust import eval_case

        @eval_case(data="faq.jsonl")
        def test_faq(braintrust_case):
            pass
        '''
    )
    result = bt.run("--braintrust")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert f"faq.jsonl:2: tags must be a list of strings, got {shown}" in result.stdout.str()
    assert "Traceback" not in result.stdout.str() and not bt.experiments()


def test_a_listed_record_with_string_tags_fails_collection_too(bt):
    bt.pytester.makepyfile(
        test_suite_tags='''
        from pytest_braintrust import eval_case

        @eval_case(data=[{"input": "a", "tags": "smoke"}])
        def test_listed(braintrust_case):
            pass
        '''
    )
    result = bt.run("--braintrust")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*record 1: tags must be a list of strings, got the string 'smoke' (write*"])


@pytest.mark.parametrize("option", ["--braintrust-experiment-id", "--braintrust-base-experiment", "--braintrust-json"])
def test_an_option_given_empty_is_a_usage_error(bt, option):
    """``--braintrust-experiment-id "$ID"`` with the variable unset made each CI shard a new
    experiment of its own, and an empty ``--braintrust-json`` wrote no file, both silently; as
    with an empty gate option, the run stops before any test, naming the option."""
    bt.pytester.makepyfile(test_suite_empty=FLUSH_SUITE)
    result = bt.run("--braintrust", f"{option}=")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{option}: an empty value names nothing; *or leave the option out."])
    assert not bt.experiments()


def test_a_callable_returning_a_dataset_links_the_experiment_to_it(bt):
    """``data=`` may be a callable returning a ``Dataset`` (read at collection, not at import);
    the experiment was linked to the dataset only when the ``Dataset`` itself was given."""
    import braintrust
    from braintrust.objects.dataset import init_dataset

    dataset = init_dataset(project="lazy", name="faq")
    dataset.insert(id="ship", input="Where is my parcel?", expected="shipping")
    braintrust.flush()
    dataset_id = dataset.id
    braintrust.delivery.runtime.reset_for_tests()
    bt.pytester.makepyfile(
        test_suite_lazy='''
        import braintrust
        from pytest_braintrust import eval_case

        def faq():
            return braintrust.init_dataset(project="lazy", name="faq")

        @eval_case(data=faq)
        def test_faq(braintrust_case):
            pass
        '''
    )
    bt.run("--braintrust", "--braintrust-project", "lazy").assert_outcomes(passed=1)
    linked = next(e for e in bt.experiments("lazy"))
    ((root,),) = [[r for r in bt.rows(linked) if not r.get("span_parents")]]
    assert linked["dataset_id"] == dataset_id and linked["dataset_version"] == root["origin"]["_xact_id"]
