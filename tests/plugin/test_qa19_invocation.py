"""Invocation shapes of ``pytest --braintrust``: where pytest runs from, which plugins it loads,
and what the rootdir is. Each shape logs the same cases with the same fields to the same project,
or stops with a usage error naming the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from plugin_helpers import QUIET

SUITE = '''
from pytest_braintrust import eval_case

def exact(output, expected):
    return output == expected

@eval_case(input="x", expected="x", scorers=[exact])
def test_one(braintrust_case):
    return "x"

@eval_case(data="data/cases.jsonl", scorers=[exact])
def test_data(braintrust_case):
    return braintrust_case.input
'''


def _suite(root: Path) -> Path:
    """``root/evals/test_inv.py`` with its data file beside it; ``root`` holds the ini file."""
    (root / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    evals = root / "evals"
    (evals / "data").mkdir(parents=True)
    (evals / "test_inv.py").write_text(SUITE)
    (evals / "data" / "cases.jsonl").write_text('{"input": "a", "expected": "a", "id": "r1"}\n{"input": "b", "expected": "c"}\n')
    return evals


def _pytest(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *QUIET, "-p", "no:xdist", *args],
        cwd=cwd, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})},
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )


def test_data_files_are_found_with_pytests_legacy_paths_plugin_disabled(bt):
    """``-p no:legacypath`` removes ``Node.fspath``: the data file next to the test is still found
    (it was an AttributeError collecting the module). In a subprocess: in this one, the outer
    run's legacypath plugin has added the attribute already."""
    _suite(bt.path)
    result = bt.run_subprocess("--braintrust", "-p", "no:legacypath", "-p", "no:xdist", "evals")
    result.assert_outcomes(passed=3)
    roots = bt.roots()
    assert sorted(roots) == ["test_data[b]", "test_data[r1]", "test_one"]
    assert roots["test_data[r1]"]["metadata"]["pytest"]["file"] == "evals/test_inv.py"


def test_a_rootdir_with_no_name_is_a_usage_error_not_an_unnamed_project(bt):
    """``--rootdir=/`` has no name to be the default project: a project ``''`` (shown so in the
    header) went to the server's ``Global`` project. A usage error names the fix; the option fixes it."""
    bt.pytester.makepyfile(test_root='''
        from pytest_braintrust import eval_case

        @eval_case(input="x")
        def test_one(braintrust_case):
            return "x"
    ''')
    result = bt.run("--braintrust", "--rootdir=/", "test_root.py")
    assert result.ret == 4, result.stdout.str()
    result.stderr.fnmatch_lines(["ERROR: --braintrust: the rootdir / has no name to be the default project; "
                                 "give one with --braintrust-project NAME*"])
    assert bt.experiments() == []

    named = bt.run("--braintrust", "--rootdir=/", "--braintrust-project", "named", "test_root.py")
    named.assert_outcomes(passed=1)
    assert [e["name"] for e in bt.experiments("named")] and list(bt.projects()) == ["named"]


def test_runs_from_the_rootdir_and_from_a_subfolder_log_the_same_cases_and_compare(tmp_path, monkeypatch):
    """``pytest evals`` at the rootdir and ``pytest`` inside ``evals/``: the same node ids, fields,
    project and store; the second run is compared with the first, over every case."""
    monkeypatch.delenv("BRAINTRUST_LOCAL_DIR", raising=False)  # (the store goes where the rootdir puts it)
    for name in ("BRAINTRUST_API_KEY", "BRAINTRUST_PROJECT_NAME", "BRAINTRUST_PROJECT", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "my suite.v2"
    root.mkdir()
    evals = _suite(root)

    first = _pytest(root, "--braintrust", "evals")
    assert first.returncode == 0, first.stdout + first.stderr
    second = _pytest(evals, "--braintrust")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "compared to" in second.stdout and "diffs over" not in second.stdout  # (every case in both)

    from braintrust.store.sqlite_store import LocalStore

    with LocalStore(root / ".braintrust" / "braintrust.sqlite") as store:
        (project,) = store.list_projects()
        assert project["name"] == "my suite.v2"
        runs = []
        for experiment in sorted(store.list_experiments(project["id"]), key=lambda e: e["created"]):
            rows, _ = store.fetch_rows("experiment", experiment["id"])
            fields = [(r["metadata"]["pytest"], r["context"]) for r in rows if not r.get("span_parents")]
            runs.append(sorted((pt["nodeid"], pt["file"], pt["line"], context["caller_filename"]) for pt, context in fields))
    assert len(runs) == 2 and runs[0] == runs[1]
    assert runs[0][0] == ("evals/test_inv.py::test_data[b]", "evals/test_inv.py", 11, str(evals / "test_inv.py"))


def test_with_autoload_disabled_the_plugin_loads_by_its_name(tmp_path, monkeypatch):
    """As README says: under ``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``, ``--braintrust`` alone is pytest's
    usage error, and ``-p braintrust`` loads the plugin."""
    monkeypatch.setenv("BRAINTRUST_LOCAL_DIR", str(tmp_path / "store"))
    _suite(tmp_path)
    env = {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    plain = _pytest(tmp_path, "--braintrust", env=env)
    assert plain.returncode == 4 and "unrecognized arguments: --braintrust" in plain.stderr
    loaded = _pytest(tmp_path, "-p", "braintrust", "--braintrust", env=env)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "3 eval cases: 3 passed" in loaded.stdout
