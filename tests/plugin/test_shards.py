"""CI shards on different machines join one experiment (issue item 6): by experiment id, or by
name with ``--braintrust-update``; a marker's ``project=`` adds that project's experiment."""

from __future__ import annotations

SUITE = '''
import pytest
from pytest_braintrust import eval_case


@eval_case()
@pytest.mark.parametrize("n", range(4))
def test_shard(n):
    return n
'''


def roots_of(server, experiment_id):
    return sorted(r["span_attributes"]["name"] for r in server.rows("experiment", experiment_id) if not r.get("span_parents"))


def test_shards_join_by_id_and_by_name(bt_api):
    server = bt_api.server
    bt_api.pytester.makepyfile(test_suite_shards=SUITE)

    # By id: the first shard creates the experiment, the others join it.
    first = bt_api.run("--braintrust", "--braintrust-project", "shards", "-k", "0 or 1")
    assert first.ret == 0
    (project,) = [p for p in server.projects() if p["name"] == "shards"]
    (experiment,) = server.experiments(project["id"])
    second = bt_api.run("--braintrust", "--braintrust-project", "shards", "--braintrust-experiment-id", experiment["id"], "-k", "2 or 3")
    assert second.ret == 0
    second.stdout.fnmatch_lines([f"braintrust: logging eval cases to experiment id {experiment['id']} (in its own project), in Braintrust at *"])
    assert len(server.experiments(project["id"])) == 1
    assert roots_of(server, experiment["id"]) == [f"test_shard[{n}]" for n in range(4)]
    # The joining shard's summary covers the whole experiment.
    second.stdout.fnmatch_lines(["100.00% 'pass' score", f"See results for {experiment['name']} at *"])

    # By name: every shard runs with --braintrust-experiment NAME --braintrust-update.
    for selection in ("0 or 1", "2", "3"):
        result = bt_api.run("--braintrust", "--braintrust-project", "shards", "--braintrust-experiment", "nightly-42", "--braintrust-update", "-k", selection)
        assert result.ret == 0
    named = [e for e in server.experiments(project["id"]) if e["name"] == "nightly-42"]
    assert len(named) == 1
    assert roots_of(server, named[0]["id"]) == [f"test_shard[{n}]" for n in range(4)]
    assert len(server.experiments(project["id"])) == 2


def test_shards_join_in_the_local_store(bt):
    bt.pytester.makepyfile(test_suite_shards=SUITE)
    for selection in ("0 or 1", "2 or 3"):
        result = bt.run("--braintrust", "--braintrust-project", "local-shards", "--braintrust-experiment", "ci", "--braintrust-update", "-k", selection)
        assert result.ret == 0
    (experiment,) = bt.experiments("local-shards")
    assert sorted(bt.roots(experiment)) == [f"test_shard[{n}]" for n in range(4)]
    result = bt.run("--braintrust", "--braintrust-project", "local-shards", "--braintrust-experiment-id", experiment["id"], "-k", "0")
    assert result.ret == 0
    assert len(bt.experiments("local-shards")) == 1
    assert len([r for r in bt.rows(experiment) if not r.get("span_parents")]) == 5  # one more row for test_shard[0]


def test_an_experiment_id_that_does_not_exist_is_a_usage_error(bt):
    """A typo in --braintrust-experiment-id would log every row under an id nothing shows."""
    bt.pytester.makepyfile(test_suite_shards=SUITE)
    result = bt.run("--braintrust", "--braintrust-experiment-id", "no-such-id")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["ERROR: --braintrust-experiment-id no-such-id: the local store at * has no experiment with that id;*"])
    assert "`braintrust experiments` lists them" in result.stderr.str()
    assert bt.experiments() == []


def test_an_experiment_id_the_server_does_not_know_is_a_usage_error(bt_api):
    bt_api.pytester.makepyfile(test_suite_shards=SUITE)
    result = bt_api.run("--braintrust", "--braintrust-experiment-id", "00000000-0000-4000-8000-000000000000")
    assert result.ret == 4
    result.stderr.fnmatch_lines([f"ERROR: --braintrust-experiment-id *: Braintrust at {bt_api.server.url} has no experiment with that id;*"])
    assert bt_api.server.requests_to("/logs3") == []


def test_an_experiment_id_that_cannot_be_checked_does_not_stop_the_run(bt_api):
    bt_api.server.stop()
    bt_api.monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    bt_api.monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(bt_api.path / "spill"))
    bt_api.pytester.makepyfile(test_suite_shards=SUITE)
    result = bt_api.run("--braintrust", "--braintrust-experiment-id", "some-id")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["rows: 0 sent, * spilled, 0 dropped*", "braintrust: could not check --braintrust-experiment-id some-id: *"])


def test_marker_project_adds_an_experiment(bt):
    bt.pytester.makepyfile(
        test_suite_projects='''
        import pytest
        from pytest_braintrust import eval_case

        @eval_case()
        def test_default():
            pass

        @eval_case(project="other")
        def test_other():
            pass

        @pytest.mark.braintrust(project="other")
        def test_other_public_marker():
            pass
        '''
    )
    result = bt.run("--braintrust", "--braintrust-project", "main")
    assert result.ret == 0
    (main,) = bt.experiments("main")
    (other,) = bt.experiments("other")
    assert sorted(bt.roots(main)) == ["test_default"]
    assert sorted(bt.roots(other)) == ["test_other", "test_other_public_marker"]
    assert result.stdout.str().count("=========================SUMMARY=========================") == 2


def test_default_project_sources(bt):
    bt.pytester.makepyfile(test_suite_default="from pytest_braintrust import eval_case\n\n@eval_case()\ndef test_it():\n    pass\n")
    bt.monkeypatch.setenv("BRAINTRUST_PROJECT", "from-short-env")
    assert bt.run("--braintrust").ret == 0
    bt.monkeypatch.setenv("BRAINTRUST_PROJECT_NAME", "from-env")
    assert bt.run("--braintrust").ret == 0
    bt.pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nbraintrust_project = from-ini\n")
    assert bt.run("--braintrust").ret == 0
    assert bt.run("--braintrust", "--braintrust-project", "from-option").ret == 0
    assert sorted(bt.projects()) == ["from-env", "from-ini", "from-option", "from-short-env"]
