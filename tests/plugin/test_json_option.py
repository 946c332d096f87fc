"""``--braintrust-json PATH`` written with a space: pytest chooses its rootdir before it knows the
plugin's options, so an existing PATH counts as a test path there."""

from __future__ import annotations

import json

import pytest

INI = "[pytest]\nasyncio_default_fixture_loop_scope = function\nbraintrust_project = from-ini\n"
SUITE = '''
from pytest_braintrust import eval_case


@eval_case(input="q")
def test_case():
    return "a"
'''


def test_an_existing_json_path_after_a_space_that_moves_the_rootdir_is_a_usage_error(bt, tmp_path_factory):
    """The last run's summary outside the project, after a space, would make pytest choose a
    rootdir without the project's ini file (another project, another local store): the run stops
    before any test, naming the fix; written with ``=`` the same path is fine."""
    bt.pytester.makeini(INI)
    bt.pytester.makepyfile(test_suite_json=SUITE)
    summary = tmp_path_factory.mktemp("reports") / "summary.json"
    summary.write_text("{}")
    result = bt.run("--braintrust", "--braintrust-json", str(summary))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        f"ERROR: --braintrust-json {summary}: after a space, pytest took this existing path for a test path when it chose "
        f"its rootdir * instead of {bt.path} (configfile {bt.path / 'tox.ini'}). Write --braintrust-json={summary}."
    ])
    assert bt.experiments() == []

    fixed = bt.run("--braintrust", f"--braintrust-json={summary}")
    assert fixed.ret == 0, fixed.stdout.str()
    fixed.stdout.fnmatch_lines([f"rootdir: {bt.path}", "configfile: tox.ini"])
    assert json.loads(summary.read_text())["experiments"][0]["project"] == "from-ini"


def test_json_paths_after_a_space_that_leave_the_rootdir_alone_and_json_test_paths_work(bt):
    """The documented hazard only: a summary in the current directory or below, present from the
    last run, does not move the rootdir, so the space form works there; a path after the option is
    its value, never a test path ("file or directory not found"); and a ``.json`` test path that a
    plugin collects stays a test path."""
    bt.pytester.makeini(INI)
    bt.pytester.makepyfile(test_suite_json=SUITE)
    bt.pytester.makeconftest('''
        import json

        import pytest


        class JsonCase(pytest.Item):
            def __init__(self, *, value, **kwargs):
                super().__init__(**kwargs)
                self.value = value

            def runtest(self):
                assert self.value == "ok"


        class JsonFile(pytest.File):
            def collect(self):
                for name, value in json.loads(self.path.read_text()).items():
                    yield JsonCase.from_parent(self, name=name, value=value)


        def pytest_collect_file(file_path, parent):
            if file_path.name.startswith("cases") and file_path.suffix == ".json":
                return JsonFile.from_parent(parent, path=file_path)
        ''')
    (bt.path / "cases.json").write_text(json.dumps({"first": "ok", "second": "ok"}))
    (bt.path / "reports").mkdir()
    for _ in range(2):  # the second time, both summaries exist
        for summary in ("summary.json", "reports/summary.json"):
            result = bt.run("--braintrust", "--braintrust-json", summary, "cases.json", "test_suite_json.py")
            assert result.ret == 0, result.stdout.str() + result.stderr.str()
            result.assert_outcomes(passed=3)
            result.stdout.fnmatch_lines([f"rootdir: {bt.path}", "configfile: tox.ini"])
            assert "not found" not in result.stdout.str() + result.stderr.str()
            assert json.loads((bt.path / summary).read_text())["experiments"][0]["project"] == "from-ini"
