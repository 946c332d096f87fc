"""The README as a new user reads it: its examples run as written and do what the text around them
says, and the fixes it gives work. Each test named after a fix failed before it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from braintrust.store.sqlite_store import LocalStore
from delivery_helpers import subprocess_env

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_section(title: str) -> str:
    """The text of the README's section ``title`` (up to the next heading of any level)."""
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ )", text, re.S | re.M)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.S | re.M)


def cases_by_name(store_dir: Path) -> dict[str, dict]:
    """Each case's root row, its ``scores`` joined by those of its score spans."""
    store = LocalStore(store_dir / "braintrust.sqlite")
    (project,) = store.list_projects()
    (experiment,) = store.list_experiments(project["id"])
    rows, _ = store.fetch_rows("experiment", experiment["id"], limit=1000)
    roots = {row["root_span_id"]: dict(row, scores=dict(row.get("scores") or {})) for row in rows if not row.get("span_parents")}
    for row in rows:
        if row["span_attributes"].get("type") == "score":
            roots[row["root_span_id"]]["scores"].update(row.get("scores") or {})
    return {root["span_attributes"]["name"]: root for root in roots.values()}


def test_the_evals_in_pytest_example_runs_as_written(pytester, tmp_path):
    """The section's first example, unchanged, with the app it calls defined beside it and the
    data file it names: one case per line (ids from record ids), the soft check a score, the
    return value the output."""
    (example,) = code_blocks(readme_section("Evals in pytest"), "python")[:1]
    app = textwrap.dedent(
        """
        ANSWERS = {"2+2": "4", "Where is my parcel?": "On its way."}

        def my_app(question):
            return ANSWERS.get(question, "")
        """
    )
    pytester.makepyfile(test_readme_example=app + example)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    (pytester.path / "data").mkdir()
    (pytester.path / "data" / "faq.jsonl").write_text(
        '{"id": "parcel", "input": "Where is my parcel?", "expected": "On its way."}\n'
        '{"id": "refund", "input": "Can I get a refund?", "expected": "Yes, within 30 days."}\n'
    )
    store = tmp_path / "store"
    env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(store))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--braintrust", "-p", "no:cacheprovider", "-n", "0", "-rA"],
        cwd=pytester.path, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 eval cases: 3 passed" in result.stdout
    roots = cases_by_name(store)
    assert set(roots) == {"test_adds", "test_faq[parcel]", "test_faq[refund]"}
    assert roots["test_adds"]["output"] == "4" and roots["test_adds"]["tags"] == ["math"]
    assert roots["test_adds"]["scores"] == {"pass": 1, "exact": 1}
    assert roots["test_faq[parcel]"]["output"] == "On its way."  # (the return value)
    assert roots["test_faq[parcel]"]["scores"] == {"pass": 1, "non_empty": 1, "exact": 1}
    assert roots["test_faq[refund]"]["scores"] == {"pass": 1, "non_empty": 0, "exact": 0}  # soft: passed


def _public_sdk_dist(site: Path) -> Path:
    """The metadata the public SDK's wheel installs, beside ours."""
    dist = site / "braintrust-0.48.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: braintrust\nVersion: 0.48.1\n\n")
    (dist / "RECORD").write_text("braintrust/__init__.py,,\nbraintrust/logger.py,,\n")
    return site


def test_the_fix_for_two_braintrust_distributions_reinstalls_ours(tmp_path):
    """Both distributions install ``braintrust/__init__.py`` and its siblings: ``pip uninstall
    braintrust``, the fix the warning and the README gave, removes those files, and
    ``import braintrust`` then finds an empty namespace package (``from braintrust import
    init_logger`` fails). The fix says to install pytest-braintrust again after it."""
    site = _public_sdk_dist(tmp_path / "site")
    env = {k: v for k, v in subprocess_env().items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    proc = subprocess.run([sys.executable, "-c", "import braintrust"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "pip uninstall braintrust" in proc.stderr
    fix = proc.stderr.split("Fix:", 1)[1]
    assert "install pytest-braintrust again" in fix and "--force-reinstall" in fix
    intro = " ".join(README.read_text(encoding="utf-8").split("## Contents", 1)[0].split())
    assert "fix: `pip uninstall braintrust`, then install pytest-braintrust again" in intro
    assert "`pip install --force-reinstall --no-deps`" in intro


def test_the_options_table_is_the_plugins_options(pytester):
    """Every option and ini key the table documents is the plugin's, and the plugin has no other."""
    rows = [line for line in readme_section("Options").splitlines() if line.startswith("| `--")]
    documented = {re.match(r"\| `(--[a-z-]+)", row).group(1) for row in rows}
    documented_ini = {key for row in rows for key in re.findall(r"`(braintrust_\w+)`", row)}
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    help_text = pytester.runpytest("--help", "-p", "no:benchmark").stdout.str()
    assert documented == set(re.findall(r"^  (--braintrust[a-z-]*)", help_text, re.M))
    assert documented_ini == set(re.findall(r"^  (braintrust_\w+) \(", help_text, re.M))


def test_the_command_table_is_the_clis_commands_and_options():
    """Each ``braintrust`` command of the table exists, with every option its row names."""
    import argparse

    from braintrust.cli.main import build_parser

    (commands,) = [a.choices for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    rows = [line for line in readme_section("Command line").splitlines() if line.startswith("| `braintrust ")]
    assert {re.match(r"\| `braintrust (\w+)", row).group(1) for row in rows} == set(commands)
    for row in rows:
        command = re.match(r"\| `braintrust (\w+)", row).group(1)
        named = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-z]\b)", row.replace("python -m", "")))
        known = {option for action in commands[command]._actions for option in action.option_strings}
        assert named <= known, (command, named - known)


@pytest.mark.parametrize("variable, value", [
    ("BRAINTRUST_LOCAL_BUSY_TIMEOUT", "30s"),  # (read by the first write: every row spilled, exit 0)
    ("BRAINTRUST_LEGACY_IDS", "maybe"),  # (read by the first span: an INTERNALERROR, exit 3)
    ("BRAINTRUST_OTEL_COMPAT", "maybe"),  # (read only beside BRAINTRUST_LEGACY_IDS: never refused)
    ("BRAINTRUST_MAX_GENERATOR_ITEMS", "lots"),  # (read by a traced generator: that case failed)
])
def test_a_malformed_variable_is_a_usage_error_before_any_test_runs(pytester, monkeypatch, variable, value):
    """README, Configuration: ``pytest --braintrust`` reads the ``BRAINTRUST_*`` variables at start,
    and a malformed one is a usage error (exit 4) naming it and the fix, before any test runs."""
    from braintrust.delivery.runtime import reset_for_tests

    monkeypatch.setenv(variable, value)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(
        test_gen="""
        import braintrust
        from pytest_braintrust import eval_case

        @braintrust.traced
        def words():
            yield from ("a", "b")

        @eval_case(input="a b")
        def test_split(braintrust_case):
            return list(words())
        """
    )
    reset_for_tests()
    try:
        result = pytester.runpytest("--braintrust", "-p", "no:cacheprovider")
    finally:
        reset_for_tests()
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    assert f"--braintrust: {variable}={value!r} is not" in result.stderr.str()
    assert "unset it" in result.stderr.str() or "use one of" in result.stderr.str()
    assert "test_split" not in result.stdout.str() and not os.listdir(os.environ["BRAINTRUST_LOCAL_DIR"])
