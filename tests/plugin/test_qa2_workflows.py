"""A new user's workflows as the README tells them: a suite moved over from the public SDK's
pytest plugin, a CI job, a laptop. Each test here failed before the fix it names."""

from __future__ import annotations


def test_an_input_logged_on_the_current_span_is_the_cases_input(bt):
    """The public plugin runs the test body in the case's root span, so a suite written for it
    that logs the input on ``braintrust.current_span()`` sets the case's input. Here the body's
    current span is the task span: the input still goes to the root row (what comparisons
    and Braintrust match cases by), and stays on the task span as well."""
    bt.pytester.makepyfile(
        test_moved='''
        import braintrust
        import pytest

        @pytest.mark.braintrust
        def test_computed_input(braintrust_span):
            braintrust.current_span().log(input={"question": "2+2"}, output="4")

        @pytest.mark.braintrust
        @pytest.mark.parametrize("q", ["a"])
        def test_params_then_logged(q):
            braintrust.current_span().log(input=q.upper())
        '''
    )
    result = bt.run("--braintrust")
    result.assert_outcomes(passed=2)
    roots = bt.roots()
    assert roots["test_computed_input"]["input"] == {"question": "2+2"}
    assert roots["test_computed_input"]["output"] == "4"
    assert roots["test_params_then_logged[a]"]["input"] == "A"  # (logged over the parameters, as there)
    tasks = {r["root_span_id"]: r for r in bt.rows() if r["span_attributes"]["name"] == "task"}
    assert tasks[roots["test_computed_input"]["root_span_id"]]["input"] == {"question": "2+2"}


def test_an_unreachable_braintrust_is_told_once_under_xdist(bt, monkeypatch):
    """CI with ``-n 2`` while Braintrust is down: the controller's login before the workers
    start and the workers' deliveries fail for the same reason; the summary tells it once (it
    was printed twice, once prefixed with "before starting the workers: "), with the replay."""
    from delivery_helpers import closed_port_url

    url = closed_port_url()
    monkeypatch.setenv("BRAINTRUST_API_KEY", "sk-test")
    monkeypatch.setenv("BRAINTRUST_APP_URL", url)
    monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(bt.path / "spill"))
    bt.pytester.makepyfile(
        test_ci='''
        import pytest

        @pytest.mark.braintrust(input="a", expected="a")
        def test_a(braintrust_span):
            braintrust_span.log(output="a")

        @pytest.mark.braintrust(input="b", expected="b")
        def test_b(braintrust_span):
            braintrust_span.log(output="b")
        '''
    )
    result = bt.run_subprocess("--braintrust", "-n", "2")
    assert result.ret == 0
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["rows: 0 sent, * spilled, 0 dropped*", "spilled rows are kept in *; send them with `braintrust replay *`"])
    reasons = [line for line in out.splitlines() if line.startswith("braintrust: ") and f"Could not reach Braintrust at {url}" in line]
    assert len(reasons) == 1, reasons


def test_gates_only_says_why_a_run_with_failed_cases_exits_0(bt):
    """With ``--braintrust-gates-only`` a failing eval case does not fail the run, but pytest's
    last line still says "1 failed": the summary now says why the status is 0 (it did not).
    A run whose status a gate or a failing plain test decides says nothing of the kind."""
    bt.pytester.makepyfile(
        test_bench='''
        import pytest

        @pytest.mark.braintrust(input="a", expected="b")
        def test_wrong(braintrust_span):
            braintrust_span.log(output="a")
            assert False

        @pytest.mark.braintrust(input="b", expected="b")
        def test_right(braintrust_span):
            braintrust_span.log(output="b")
        '''
    )
    note = "braintrust: --braintrust-gates-only: failing eval cases lower the scores but do not fail the run; exit status 0"
    result = bt.run("--braintrust", "--braintrust-gates-only")
    assert result.ret == 0
    result.stdout.fnmatch_lines([note, "*1 failed, 1 passed*"])
    gated = bt.run("--braintrust", "--braintrust-gates-only", "--braintrust-fail-under", "pass=0.9")
    assert gated.ret == 10 and note not in gated.stdout.str()
    bt.pytester.makepyfile(test_unit="def test_plain():\n    assert False\n")
    plain = bt.run("--braintrust", "--braintrust-gates-only")
    assert plain.ret == 1 and note not in plain.stdout.str()


def test_replay_after_an_outage_names_the_experiments_it_registered(bt_api):
    """CI while Braintrust is down: the rows spill before the experiment is registered, so
    nobody knows its name. ``braintrust replay`` registers it once Braintrust is back; it said
    only "1 object registered", so the next step (``braintrust gate PROJECT EXPERIMENT``, a
    link) needed the UI. It now names each one."""
    import subprocess
    import sys

    from delivery_helpers import subprocess_env

    server = bt_api.server
    spill = bt_api.path / "spill"
    bt_api.monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    bt_api.monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(spill))
    bt_api.pytester.makepyfile(
        test_ci='''
        import pytest

        @pytest.mark.braintrust(input="a", expected="a")
        def test_a(braintrust_span):
            braintrust_span.log(output="a")
        '''
    )
    server.stop()
    result = bt_api.run("--braintrust", "--braintrust-project", "bot")
    result.stdout.fnmatch_lines(["rows: 0 sent, * spilled, 0 dropped*"])
    server.start()  # (the same port)
    env = subprocess_env(BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url)
    replay = subprocess.run([sys.executable, "-m", "braintrust", "replay", str(spill)], env=env, capture_output=True,
                            text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert replay.returncode == 0, replay.stderr
    ((experiment,),) = [server.experiments(p["id"]) for p in server.projects() if p["name"] == "bot"]
    assert replay.stdout.rstrip().endswith(
        f"; 1 object registered (found, or created once): experiment {experiment['name']!r} of project 'bot'"), replay.stdout
