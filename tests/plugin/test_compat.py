"""Suites written for the public SDK's pytest plugin run unchanged (issue item 2): its scenario
file, its flags, against the test server; our rows carry at least what the public plugin sent
(tests/data/captures/pytest_plugin.jsonl)."""

from __future__ import annotations

from pathlib import Path

from capture_compare import CAPTURES, capture_rows, merge_like_server

SCENARIO = (CAPTURES / "scenario_pytest_plugin.py").read_text()


def test_public_plugin_scenario_runs_unchanged(bt_api):
    server = bt_api.server
    bt_api.pytester.makepyfile(scenario_pytest_plugin=SCENARIO)
    result = bt_api.run("--braintrust", "--braintrust-project", "scenario_pytest_plugin", "-q", "scenario_pytest_plugin.py")
    result.assert_outcomes(passed=4, failed=1)
    assert result.ret == 1

    # One experiment per project: the run's default project and the marker's project=.
    projects = {p["name"]: p for p in server.projects()}
    assert set(projects) == {"scenario_pytest_plugin", "recorder-pytest-other"}
    experiments = {p: server.experiments(projects[p]["id"]) for p in projects}
    assert all(len(e) == 1 for e in experiments.values()), experiments

    ours = {}
    for project, (experiment,) in experiments.items():
        for row in server.rows("experiment", experiment["id"]):
            if not row.get("span_parents"):
                ours[row["span_attributes"]["name"]] = (project, row)
    public_roots = [r for r in merge_like_server(capture_rows("pytest_plugin")) if not r.get("span_parents")]
    assert sorted(ours) == sorted(r["span_attributes"]["name"] for r in public_roots)  # test_unmarked: no row
    for public in public_roots:
        name = public["span_attributes"]["name"]
        project, row = ours[name]
        assert row["span_attributes"]["type"] == "eval"
        for key in ("input", "expected", "output", "tags"):
            assert row.get(key) == public.get(key), (name, key)
        assert row["scores"]["pass"] == public["scores"]["pass"], name
        for key, value in (public.get("metadata") or {}).items():
            assert row["metadata"][key] == value, (name, key)
        if "error" in public:
            assert "AssertionError: assert 2 < 2" in public["error"]
            assert "assert 2 < 2" in row["error"] and "scenario_pytest_plugin.py:17" in row["error"], row["error"]
        else:
            assert "error" not in row
        # Richer than the public plugin: where the test is and how it ended.
        assert row["metadata"]["pytest"]["nodeid"] == f"scenario_pytest_plugin.py::{name}"
    # The same tests share an experiment as with the public plugin.
    public_groups = {}
    for public in public_roots:
        public_groups.setdefault(public["experiment_id"], set()).add(public["span_attributes"]["name"])
    our_groups = {}
    for name, (project, _row) in ours.items():
        our_groups.setdefault(project, set()).add(name)
    assert sorted(map(sorted, public_groups.values())) == sorted(map(sorted, our_groups.values()))
    assert our_groups["recorder-pytest-other"] == {"test_other_project"}

    # The public plugin printed one summary per experiment; so do we.
    assert result.stdout.str().count("=========================SUMMARY=========================") == 2
    result.stdout.fnmatch_lines(["See results for * at http://127.0.0.1:*/app/test-org/p/recorder-pytest-other/experiments/*"])


def test_public_flags(bt_api):
    server = bt_api.server
    bt_api.monkeypatch.delenv("BRAINTRUST_API_KEY")
    bt_api.pytester.makepyfile(scenario_pytest_plugin=SCENARIO)
    result = bt_api.run_subprocess(
        "--braintrust",
        "--braintrust-project",
        "flags",
        "--braintrust-experiment",
        "nightly",
        "--braintrust-api-key",
        server.api_key,
        "--braintrust-no-summary",
        "--junitxml=junit.xml",
        "scenario_pytest_plugin.py",
    )
    result.assert_outcomes(passed=4, failed=1)
    flags = {p["name"]: p for p in server.projects()}["flags"]
    (experiment,) = server.experiments(flags["id"])
    assert experiment["name"] == "nightly"
    assert len([r for r in server.rows("experiment", experiment["id"]) if not r.get("span_parents")]) == 3
    # The key works, is discouraged with a warning pointing at the variable, and is never echoed.
    output = result.stdout.str() + result.stderr.str()
    assert "--braintrust-api-key puts the key in your shell history" in output
    assert "set the BRAINTRUST_API_KEY environment variable instead" in output
    assert server.api_key not in output
    assert server.api_key not in (Path(bt_api.path) / "junit.xml").read_text()
    # --braintrust-no-summary: no SUMMARY block (the counts and the rows line stay).
    assert "SUMMARY" not in result.stdout.str()
    result.stdout.fnmatch_lines(["4 eval cases: 3 passed, 1 failed", "rows: * sent, 0 spilled, 0 dropped*"])


def test_what_a_test_logs_on_the_current_span_is_the_cases(bt):
    """The public plugin runs the test body in the case's root span, so its suites log output,
    expected, tags, metadata and scores on ``braintrust.current_span()``. Here the body's current
    span is the task span: those fields still go to the case's root row (and declared scorers
    see the output, logged there or on ``braintrust_span``); others stay on the task span."""
    bt.pytester.makepyfile(
        test_suite_current='''
        import braintrust
        import pytest
        from pytest_braintrust import eval_case

        def exact(output, expected):
            return output == expected

        @pytest.mark.braintrust(input="abc")
        def test_current(braintrust_span):
            span = braintrust.current_span()
            assert span is not braintrust_span  # (the task span)
            span.log(output="cba", expected="cba", tags=["t1"], metadata={"k": 1}, scores={"custom": 0.5}, metrics={"tokens": 7})
            span.log(expected=None)  # (None is no value, as span.log drops it)

        @eval_case(input="abc", expected="cba", scorers=[exact])
        def test_scored(braintrust_span):
            braintrust_span.log(output="cba")
        '''
    )
    result = bt.run("--braintrust")
    result.assert_outcomes(passed=2)
    (experiment,) = bt.experiments(bt.path.name)
    rows = bt.rows(experiment)
    roots = bt.roots(experiment)
    current = roots["test_current"]
    assert (current["output"], current["expected"], current["tags"]) == ("cba", "cba", ["t1"])
    assert current["metadata"]["k"] == 1 and current["scores"] == {"pass": 1, "custom": 0.5}
    (task,) = [r for r in rows if r["span_attributes"]["name"] == "task" and r["root_span_id"] == current["root_span_id"]]
    assert task["output"] == "cba" and task["metrics"]["tokens"] == 7  # the task's own: its output, its metrics
    assert not any(task.get(field) for field in ("expected", "tags", "metadata", "scores"))
    scored = roots["test_scored"]
    assert scored["output"] == "cba"
    (score_span,) = [r for r in rows if r["span_attributes"]["name"] == "exact" and r["root_span_id"] == scored["root_span_id"]]
    assert score_span["scores"] == {"exact": 1}


def test_an_unmarked_test_gets_a_no_op_span_under_braintrust(bt):
    """As with the public plugin: ``braintrust_span`` in a test that is not a case is the no-op
    span, also with ``--braintrust`` (it was taken for a case there, and the test errored). Its
    return value still gets pytest's warning: only a case's return value is its output."""
    bt.pytester.makepyfile(
        test_unmarked_span='''
        import pytest

        def test_unmarked(braintrust_span):
            braintrust_span.log(output="ignored", scores={"s": 1})
            with braintrust_span.start_span(name="child") as child:
                child.log(output=1)

        def test_returns(braintrust_span):
            return "a value"

        @pytest.mark.braintrust(input=1)
        def test_case(braintrust_span):
            braintrust_span.log(output=2)
        '''
    )
    result = bt.run("--braintrust")
    result.assert_outcomes(passed=3, warnings=1)
    result.stdout.fnmatch_lines(["*test_returns*", "*PytestReturnNotNoneWarning*"])
    (experiment,) = bt.experiments(bt.path.name)
    assert sorted(bt.roots(experiment)) == ["test_case"]
    assert len(bt.rows(experiment)) == 2  # (the case's root and task rows only)


def test_a_case_runs_in_its_experiment(bt):
    """The public plugin creates its experiments with ``braintrust.init``, which makes each the
    current experiment, so its suites may call ``braintrust.current_experiment()`` or
    ``braintrust.log(...)`` in a test. Here a case runs with its project's experiment current;
    a row logged there lands in that experiment; an ``init`` in a test makes its own current, as
    the most recent ``init`` does in the public SDK."""
    bt.pytester.makepyfile(
        test_suite_experiment='''
        import braintrust
        import pytest

        @pytest.mark.braintrust(input="q")
        def test_logs_a_row():
            experiment = braintrust.current_experiment()
            assert experiment is not None and experiment.name == "nightly"
            braintrust.log(input="extra", output="row", scores={"extra": 1})

        @pytest.mark.braintrust(input="p", project="other-project")
        def test_other_project():
            assert braintrust.current_experiment().project.name == "other-project"

        def test_not_a_case():
            assert braintrust.current_experiment() is None
        ''',
        test_suite_init='''
        import braintrust
        import pytest

        @pytest.mark.braintrust(input="r")
        def test_its_own_experiment():
            mine = braintrust.init(project="mine", experiment="by-hand")
            assert braintrust.current_experiment() is mine  # (the most recent init wins, as in the public SDK)
        ''',
    )
    result = bt.run("--braintrust", "--braintrust-experiment", "nightly", "test_suite_experiment.py")
    result.assert_outcomes(passed=3)
    (experiment,) = bt.experiments(bt.path.name)
    rows = bt.rows(experiment)
    (extra,) = [r for r in rows if r.get("input") == "extra"]
    assert extra["output"] == "row" and extra["scores"] == {"extra": 1} and not extra.get("span_parents")
    assert set(bt.roots(experiment)) >= {"test_logs_a_row"}
    bt.run("--braintrust", "test_suite_init.py").assert_outcomes(passed=1)
