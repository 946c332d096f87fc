"""``braintrust eval`` as 0.48.1's (helper QA): where eval files import from, ``python -m
braintrust.cli``, and ``--env-file`` read as python-dotenv reads it (0.48.1 loads it with dotenv)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from braintrust.cli.eval_command import UsageError, read_env_file
from cli_support import cli_env, eval_source, experiments, roots, run_cli, write


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


def _root_inputs(store_dir: Path) -> dict[str, list]:
    return {e["name"]: sorted(r["input"] for r in roots(e["rows"])) for e in experiments(store_dir)}


def test_the_console_script_lets_eval_files_import_the_project_s_packages(tmp_path, store_dir):
    # The `braintrust` console script's sys.path starts at its bin/ folder, not where it runs:
    # 0.48.1 puts the working folder on it, so `from myapp import ...` works from the project root.
    project = tmp_path / "project"
    write(project / "myapp" / "__init__.py", "def answer(x):\n    return x * 2\n")
    write(project / "evals" / "eval_app.py", eval_source("proj-app", "app", cases="[{'input': 2, 'expected': 4}]",
                                                       task="answer", extra="from myapp import answer"))
    launcher = write(tmp_path / "bin" / "braintrust_launcher.py", "import sys\nfrom braintrust.cli.main import main\nsys.exit(main())\n")

    result = subprocess.run([sys.executable, str(launcher), "eval", "evals", "--no-progress-bars"], cwd=project,
                            env=cli_env(store_dir), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    assert result.returncode == 0, result.stderr
    assert "No module named 'myapp'" not in result.stderr
    assert _root_inputs(store_dir) == {"app": [2]}
    assert "100.00% 'exact' score" in result.stdout


def test_python_m_braintrust_cli_is_the_command(tmp_path, store_dir):
    write(tmp_path / "eval_mod.py", eval_source("proj-mod", "mod"))

    result = subprocess.run([sys.executable, "-m", "braintrust.cli", "eval", "--list", "eval_mod.py"], cwd=tmp_path,
                            env=cli_env(store_dir), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["proj-mod [experiment_name=mod]"]


def test_each_folder_s_eval_file_imports_its_own_sibling_module(tmp_path, store_dir):
    # Two folders, each with its own helpers.py: the second file got the first folder's module
    # (cached in sys.modules) and silently ran with its values.
    for name in ("a", "b"):
        write(tmp_path / "evals" / name / "helpers.py", f"VALUE = {name!r}\n")
        write(tmp_path / "evals" / name / f"eval_{name}.py", eval_source(
            "proj-siblings", name, cases=f"[{{'input': VALUE, 'expected': {name!r}}}]", extra="from helpers import VALUE"))

    result = run_cli("eval", "evals", "--no-progress-bars", cwd=tmp_path, env=cli_env(store_dir))

    assert result.returncode == 0, result.stderr
    assert _root_inputs(store_dir) == {"a": ["a"], "b": ["b"]}


def test_a_quoted_value_with_a_comment_after_it_loses_its_quotes(tmp_path, store_dir, bt_server):
    # `KEY="value" # comment` kept the quotes in the value: the API key sent was "\"key\"".
    write(tmp_path / "eval_env.py", eval_source("proj-envq", "envq"))
    write(tmp_path / ".env", f"""
        BRAINTRUST_API_KEY="{bt_server.api_key}"  # from the team vault
        BRAINTRUST_APP_URL='{bt_server.url}' # the test server
    """)

    result = run_cli("eval", "--env-file", ".env", "eval_env.py", "--no-progress-bars", cwd=tmp_path, env=cli_env(store_dir))

    assert result.returncode == 0, result.stderr
    assert [e["name"] for e in bt_server.experiments()] == ["envq"]


def test_env_file_values_are_read_as_dotenv_reads_them(tmp_path, monkeypatch):
    monkeypatch.setenv("QA3_FROM_ENV", "env-value")
    monkeypatch.setenv("QA3_BLANK", " ")
    monkeypatch.delenv("QA3_UNSET", raising=False)
    write(tmp_path / "x.env", r"""
        HOST=example.test
        URL=https://${HOST}/v1
        QUOTED_URL="${HOST}:${QA3_FROM_ENV}"
        DEFAULTED=${QA3_UNSET:-fallback}
        BLANK_IN_ENV=${QA3_BLANK}
        ESCAPES="tab\there \"q\" back\\slash \z"
        SINGLE='it\'s \n raw'
        MULTI="line one
        line two" # comment
        AFTER=still-read
    """)

    assert read_env_file(tmp_path / "x.env") == {
        "HOST": "example.test",
        "URL": "https://example.test/v1",
        "QUOTED_URL": "example.test:env-value",
        "DEFAULTED": "fallback",
        "BLANK_IN_ENV": " ",
        "ESCAPES": 'tab\there "q" back\\slash \\z',
        "SINGLE": "it's \\n raw",
        "MULTI": "line one\nline two",
        "AFTER": "still-read",
    }


@pytest.mark.parametrize("text, message", [
    ('GOOD=1\nKEY="never closed\nOTHER=2\n', "line 2: the value of KEY opens a \" quote that is never closed"),
    ("KEY='quoted' trailing\n", "line 1: unexpected 'trailing' after the quoted value of KEY"),
])
def test_a_broken_quoted_value_is_an_error_naming_its_line(tmp_path, text, message):
    (tmp_path / "bad.env").write_text(text)

    with pytest.raises(UsageError) as raised:
        read_env_file(tmp_path / "bad.env")

    assert message in str(raised.value)


def test_a_custom_reporter_uses_the_framework_module_s_helpers(tmp_path, store_dir):
    # Real reporters import these from braintrust.framework (an ImportError failed the eval file).
    write(tmp_path / "eval_reported.py", '''
        from braintrust import Eval, Reporter
        from braintrust.framework import EvalResultWithSummary, ExperimentSummary, Metadata, report_failures

        def report_eval(evaluator, result: EvalResultWithSummary, verbose, jsonl):
            failing = [r for r in result.results if r.error]
            if failing:
                report_failures(evaluator, failing, verbose=verbose, jsonl=jsonl)
            assert isinstance(result.summary, ExperimentSummary)
            print("REPORTED", evaluator.eval_name, len(failing))
            return not failing

        def report_run(eval_reports, verbose, jsonl):
            return all(eval_reports)

        Reporter("ci", report_eval=report_eval, report_run=report_run)

        def task(x):
            if x == 2:
                raise ValueError("no answer for 2")
            return x

        case_metadata: Metadata = {"suite": "qa3"}
        Eval("proj-reporter", data=[{"input": 1, "metadata": case_metadata}, {"input": 2}], task=task, scores=[],
             experiment_name="reported")
    ''')

    result = run_cli("eval", "eval_reported.py", "--no-progress-bars", cwd=tmp_path, env=cli_env(store_dir))

    assert "REPORTED proj-reporter [experiment_name=reported] 1" in result.stdout, result.stderr
    assert "Evaluator proj-reporter [experiment_name=reported] failed with 1 error" in result.stderr
    assert "ValueError: no answer for 2" in result.stderr
    assert result.returncode == 1  # report_run returned False
    assert _root_inputs(store_dir) == {"reported": [1, 2]}
