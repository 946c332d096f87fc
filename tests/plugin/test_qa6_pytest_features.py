"""QA of ``pytest --braintrust`` beside pytest's own features: import modes, ini files and
rootdirs, warning filters, runs that run no test body, output options and in-process runs."""

from __future__ import annotations

import textwrap

import pytest

from braintrust.gates import GATE_FAILED_EXIT_CODE

CASES = '''
from pytest_braintrust import eval_case

@eval_case(input="{name}-in", expected="{name}-in")
def test_answer(braintrust_case):
    return braintrust_case.input

@eval_case(input="{name}-bad")
def test_bad(braintrust_case):
    assert braintrust_case.input == "good", "wrong answer"

def test_plain():
    pass
'''

ASYNCIO_INI = "asyncio_default_fixture_loop_scope = function\n"


def _root_rows(bt) -> dict[str, dict]:
    return {r["metadata"]["pytest"]["nodeid"]: r for r in bt.rows() if not r.get("span_parents")}


@pytest.mark.parametrize("import_mode", ["importlib", "append"])
def test_same_basename_in_two_folders_logs_each_folders_cases(bt, import_mode):
    """Test modules with one basename in two folders (packages under ``append``), each with
    marked cases and ``data=`` read next to its own file: one experiment with every case, each
    with its own folder's input, file and outcome."""
    for folder in ("alpha", "beta"):
        (bt.path / folder).mkdir()
        if import_mode == "append":
            (bt.path / folder / "__init__.py").write_text("")
        (bt.path / folder / "test_evals.py").write_text(textwrap.dedent(CASES.format(name=folder)) + textwrap.dedent('''
            @eval_case(data="records.jsonl")
            def test_records(braintrust_case):
                return braintrust_case.input
            '''))
        (bt.path / folder / "records.jsonl").write_text(f'{{"input": "{folder}-record", "id": "r1"}}\n')
    result = bt.run("--braintrust", f"--import-mode={import_mode}")
    result.assert_outcomes(passed=6, failed=2)
    result.stdout.fnmatch_lines(["6 eval cases: 4 passed, 2 failed"])
    rows = _root_rows(bt)
    assert sorted(rows) == sorted(f"{f}/test_evals.py::{t}" for f in ("alpha", "beta")
                                  for t in ("test_answer", "test_bad", "test_records[r1]"))
    for folder in ("alpha", "beta"):
        assert rows[f"{folder}/test_evals.py::test_answer"]["output"] == f"{folder}-in"
        assert rows[f"{folder}/test_evals.py::test_records[r1]"]["input"] == f"{folder}-record"
        bad = rows[f"{folder}/test_evals.py::test_bad"]
        assert bad["metadata"]["pytest"]["file"] == f"{folder}/test_evals.py"
        assert bad["scores"]["pass"] == 0 and "wrong answer" in bad["error"]


@pytest.mark.parametrize(
    "filename, text, args",
    [
        ("pyproject.toml", '[tool.pytest.ini_options]\n{keys}', ()),
        ("pytest.ini", "[pytest]\n{keys}", ()),
        ("tox.ini", "[pytest]\n{keys}", ()),
        ("setup.cfg", "[tool:pytest]\n{keys}", ()),
        ("other.ini", "[pytest]\n{keys}", ("-c", "other.ini")),
    ],
)
def test_ini_keys_are_read_from_every_kind_of_config_file(bt, filename, text, args):
    """``braintrust_project`` and ``braintrust_fail_under`` in pyproject.toml, tox.ini,
    setup.cfg or a file given with ``-c``: the cases go to that project and the gate fails."""
    (bt.path / "tox.ini").unlink()  # (the bt fixture's ini)
    toml = filename.endswith(".toml")
    keys = "".join(f'{k} = "{v}"\n' if toml else f"{k} = {v}\n"
                   for k, v in (("braintrust_project", "from-ini"), ("braintrust_fail_under", "pass=0.9")))
    (bt.path / filename).write_text(text.format(keys=keys) + (f'asyncio_default_fixture_loop_scope = "function"\n' if toml else ASYNCIO_INI))
    bt.pytester.makepyfile(test_suite_ini=CASES.format(name="ini"))
    result = bt.run("--braintrust", *args)
    assert result.ret == GATE_FAILED_EXIT_CODE
    result.stdout.fnmatch_lines(["*gate FAILED: score 'pass' is 50.00%, which is below the bar of 90.00%*"])
    assert list(bt.projects()) == ["from-ini"]


def test_a_run_from_a_subdirectory_uses_the_rootdirs_ini_and_node_ids(bt, monkeypatch):
    """Run from a subfolder: pytest's rootdir (the ini's folder) gives the project and the node
    ids, as when run from the root."""
    (bt.path / "tox.ini").write_text(f"[pytest]\n{ASYNCIO_INI}braintrust_project = rooted\n")
    (bt.path / "evals").mkdir()
    (bt.path / "evals" / "test_sub.py").write_text(textwrap.dedent(CASES.format(name="sub")))
    monkeypatch.chdir(bt.path / "evals")
    result = bt.run("--braintrust", "--confcutdir", str(bt.path / "evals"))
    result.assert_outcomes(passed=2, failed=1)
    assert list(bt.projects()) == ["rooted"]
    assert sorted(_root_rows(bt)) == ["evals/test_sub.py::test_answer", "evals/test_sub.py::test_bad"]


@pytest.mark.parametrize("option", ["--setup-only", "--setup-plan", "--collect-only", "--fixtures", "--markers"])
def test_a_run_that_runs_no_test_body_creates_no_experiment_on_braintrust(bt_api, option):
    """No test body runs: nothing is sent, no experiment is left to become the next baseline,
    and pytest's status stands."""
    bt_api.pytester.makepyfile(test_suite_none=CASES.format(name="none"))
    result = bt_api.run("--braintrust", option)
    assert result.ret == pytest.ExitCode.OK
    assert "INTERNALERROR" not in result.stdout.str()
    assert "= Braintrust =" not in result.stdout.str()
    assert bt_api.server.projects() == [] or all(not bt_api.server.experiments(p["id"]) for p in bt_api.server.projects())


def test_markers_and_help_document_the_marker_options_and_ini_keys(bt):
    markers = bt.run("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.braintrust(input=, expected=, *scorers=*): log this test as a case*"])
    text = bt.run("--help").stdout.str()
    assert "Braintrust evals:" in text
    for name in ("--braintrust ", "--braintrust-project", "--braintrust-fail-under", "--braintrust-json",
                 "braintrust_project (string)", "braintrust_gates_only (bool)"):
        assert name in text, name


@pytest.mark.parametrize("args", [("-W", "error"), ("--strict-markers", "--strict-config"), ("-qq",), ("-rA",),
                                  ("--tb=no",), ("-s",), ("--capture=tee-sys",), ("--durations=5",), ("--runxfail",),
                                  ("-p", "no:junitxml")])
def test_output_and_strictness_options_keep_the_rows_and_the_status(bt, args):
    """pytest's output, capture and strictness options change what the terminal shows, not the
    rows (an ini under ``filterwarnings = error`` too) nor the gate's exit status."""
    (bt.path / "tox.ini").write_text(f"[pytest]\n{ASYNCIO_INI}filterwarnings = error\n")
    bt.pytester.makepyfile(test_suite_opts=CASES.format(name="opts"))
    result = bt.run("--braintrust", "--braintrust-fail-under", "pass=0.9", *args)
    assert result.ret == GATE_FAILED_EXIT_CODE
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    rows = _root_rows(bt)
    assert {nodeid: row["metadata"]["pytest"]["outcome"] for nodeid, row in rows.items()} == {
        "test_suite_opts.py::test_answer": "passed", "test_suite_opts.py::test_bad": "failed"}


def test_without_a_terminal_the_gate_still_sets_the_exit_status_and_the_json(bt):
    bt.pytester.makepyfile(test_suite_quiet=CASES.format(name="quiet"))
    result = bt.run("--braintrust", "-p", "no:terminal", "--braintrust-fail-under", "pass=0.9", "--braintrust-json=summary.json")
    assert result.ret == GATE_FAILED_EXIT_CODE
    import json

    summary = json.loads((bt.path / "summary.json").read_text())
    assert summary["cases"]["passed"] == 1 and summary["cases"]["failed"] == 1
    assert [g["passed"] for g in summary["gates"]] == [False]


def test_doctests_module_level_skips_and_importorskip_beside_cases(bt):
    """``--doctest-modules`` in a folder of cases, a module skipped at module level and one whose
    import is skipped: only the real cases are rows; the doctests and skipped modules are not."""
    bt.pytester.makepyfile(
        test_suite_doc='''
        """
        >>> 1 + 1
        2
        """
        from pytest_braintrust import eval_case

        @eval_case(input="doc")
        def test_doc(braintrust_case):
            return "doc"
        ''',
        test_suite_skipmod='''
        import pytest
        pytest.skip("not on this machine", allow_module_level=True)
        from pytest_braintrust import eval_case

        @eval_case(input="skipped")
        def test_never(braintrust_case):
            return "never"
        ''',
        test_suite_importorskip='''
        import pytest
        pytest.importorskip("no_such_module_qa6")
        from pytest_braintrust import eval_case

        @eval_case(input="imp")
        def test_never(braintrust_case):
            return "never"
        ''',
    )
    result = bt.run("--braintrust", "--doctest-modules")
    result.assert_outcomes(passed=2, skipped=4)  # (each skipped module twice: as tests, as doctests)
    result.stdout.fnmatch_lines(["1 eval case: 1 passed"])
    assert list(_root_rows(bt)) == ["test_suite_doc.py::test_doc"]


def test_pytest_exit_in_a_case_keeps_the_finished_rows_and_its_status(bt):
    bt.pytester.makepyfile(
        test_suite_exit='''
        import pytest
        from pytest_braintrust import eval_case

        @eval_case(input="1")
        def test_1(braintrust_case):
            return 1

        @eval_case(input="2")
        def test_2(braintrust_case):
            pytest.exit("stop here")

        @eval_case(input="3")
        def test_3(braintrust_case):
            return 3
        '''
    )
    result = bt.run("--braintrust", "--braintrust-fail-under", "pass=0.99")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["2 eval cases: 1 passed, 1 interrupted", "*gates not applied*"])
    outcomes = {n: r["metadata"]["pytest"]["outcome"] for n, r in _root_rows(bt).items()}
    assert outcomes == {"test_suite_exit.py::test_1": "passed", "test_suite_exit.py::test_2": "interrupted"}


def test_pyargs_runs_a_package_of_cases(bt, monkeypatch):
    package = bt.path / "qa6pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "test_pkg.py").write_text(textwrap.dedent(CASES.format(name="pkg")))
    monkeypatch.syspath_prepend(str(bt.path))
    result = bt.run("--braintrust", "--pyargs", "qa6pkg")
    result.assert_outcomes(passed=2, failed=1)
    assert sorted(_root_rows(bt)) == ["qa6pkg/test_pkg.py::test_answer", "qa6pkg/test_pkg.py::test_bad"]


# -- bugs whose fixes belong in files other helpers own ------------------------------------------------


def test_api_key_option_under_an_error_filter_is_a_usage_error_not_an_internal_error(bt_api):
    """0.48.1's plugin takes ``--braintrust-api-key`` silently; ours warns, and under
    ``filterwarnings = error`` that warning, issued in ``pytest_configure``, was an INTERNALERROR
    traceback (exit 3). It should stop the run as a usage error naming the fix."""
    bt_api.monkeypatch.delenv("BRAINTRUST_API_KEY")
    (bt_api.path / "tox.ini").write_text(f"[pytest]\n{ASYNCIO_INI}filterwarnings = error\n")
    bt_api.pytester.makepyfile(test_suite_key=CASES.format(name="key"))
    result = bt_api.run_subprocess("--braintrust", "--braintrust-api-key", bt_api.server.api_key)
    output = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in output
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "set the BRAINTRUST_API_KEY environment variable instead" in output
    assert bt_api.server.api_key not in output


def test_a_marked_unittest_method_returning_its_output_passes_a_plain_run_under_w_error(bt):
    """README: a case that returns its output passes a plain ``pytest -W error`` run (a unit-test
    job). A marked ``unittest.TestCase`` method returns its output too, but without
    ``--braintrust`` Python's ``DeprecationWarning`` (a test method returning a value) failed it."""
    bt.pytester.makepyfile(
        test_suite_unit='''
        import unittest
        from pytest_braintrust import eval_case

        class TestAnswers(unittest.TestCase):
            @eval_case(input="u")
            def test_answer(self):
                return "u"
        '''
    )
    bt.run("-W", "error").assert_outcomes(passed=1)


@pytest.mark.parametrize("tb", ["native", "line", "no"])
def test_the_logged_error_names_the_test_file_as_pytest_does_whatever_the_tb_style(bt, tb):
    """A failed case's error is the message and the test's ``file:line`` (rootdir-relative). With
    ``--tb=native``, ``line`` or ``no`` pytest keeps no traceback entries, and the row named the
    file by its absolute path instead (``/tmp/.../test_x.py:7``): rows that differ by machine."""
    bt.pytester.makepyfile(test_suite_tb=CASES.format(name="tb"))
    bt.run("--braintrust", f"--tb={tb}").assert_outcomes(passed=2, failed=1)
    line = CASES.strip("\n").splitlines().index('    assert braintrust_case.input == "good", "wrong answer"') + 1
    error = _root_rows(bt)["test_suite_tb.py::test_bad"]["error"]
    assert "wrong answer" in error and error.splitlines()[-1] == f"test_suite_tb.py:{line}"


def test_when_every_module_of_cases_is_skipped_at_collection_the_summary_says_so(bt):
    """Not the hint on how to mark cases: the cases are marked, their modules were skipped."""
    bt.pytester.makepyfile(
        test_only_skipped='''
        import pytest
        pytest.importorskip("no_such_module_qa6")
        from pytest_braintrust import eval_case

        @eval_case(input="imp")
        def test_never(braintrust_case):
            return "never"
        ''',
    )
    result = bt.run("--braintrust")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["0 eval cases*", "(1 module skipped at collection: see pytest's short summary for why)"])
    assert "a test is an eval case when marked" not in result.stdout.str()
