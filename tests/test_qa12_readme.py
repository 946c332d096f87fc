"""The README as a new user reads it (twelfth pass): its row layout and its project layout match
what is written and what is in the tree. Each test failed before the README was fixed."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

CASES = """
import pytest
from pytest_braintrust import eval_case

@eval_case(input="a", expected="b")
def test_fails(braintrust_case):
    assert False, "wrong"

@eval_case(input="c")
def test_skips(braintrust_case):
    pytest.skip("not today")

@eval_case(input="d")
@pytest.mark.xfail(reason="known bug")
def test_xfails(braintrust_case):
    assert False

@eval_case
@pytest.mark.parametrize("input", ["e"])
def test_passes(braintrust_case, input):
    return input
"""


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^#+ {re.escape(title)}\n(.*?)(?=^#+ )", text, re.S | re.M)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def test_the_row_layout_names_every_pytest_metadata_field_a_plain_case_gets(pytester):
    """The layout diagram's ``metadata.pytest`` fields are those a case's root row holds: a failed
    case's ``phase`` and a skipped or xfailed case's ``reason`` (which the Outcomes table points
    to) were missing from it."""
    from braintrust.delivery.runtime import reset_for_tests
    from braintrust.store.sqlite_store import LocalStore

    (diagram,) = re.findall(r"pytest: \{([^}]*)\}", _section("Evals in pytest"))
    documented = {field.strip() for field in diagram.split(",")}
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    pytester.makepyfile(test_qa12_readme_suite=CASES)
    reset_for_tests()
    try:
        result = pytester.runpytest("--braintrust", "-p", "no:cacheprovider")
    finally:
        reset_for_tests()
    assert result.ret == 1, result.stdout.str() + result.stderr.str()
    store = LocalStore(os.path.join(os.environ["BRAINTRUST_LOCAL_DIR"], "braintrust.sqlite"))
    (project,) = store.list_projects()
    (experiment,) = store.list_experiments(project["id"])
    rows, _ = store.fetch_rows("experiment", experiment["id"], limit=100)
    written = {row["span_attributes"]["name"]: set(row["metadata"]["pytest"]) for row in rows if not row.get("span_parents")}
    assert set(written) == {"test_fails", "test_skips", "test_xfails", "test_passes[e]"}
    assert {"phase"} <= written["test_fails"] and {"reason"} <= written["test_skips"] & written["test_xfails"]
    for name, fields in written.items():
        assert fields <= documented, (name, fields - documented)


def test_the_design_tree_names_every_plugin_module_and_sdk_package():
    """The Design section's tree, against the checkout: every module of the plugin and every
    package and non-public module of the SDK is named (``distribution.py`` and ``signals.py``
    were not)."""
    (tree,) = re.findall(r"^```\n(braintrust/.*?)^```", _section("Design"), re.S | re.M)
    named = set(re.findall(r"[\w]+(?:\.py|/)", tree))
    plugin = {p.name for p in (ROOT / "pytest_braintrust").glob("*.py") if p.name != "__init__.py"}
    packages = {f"{p.name}/" for p in (ROOT / "braintrust").iterdir() if (p / "__init__.py").exists()}
    public_paths = set(re.findall(r"`braintrust\.(\w+)`", _section("The SDK")))  # (the import paths listed there)
    sdk = {p.name for p in (ROOT / "braintrust").glob("*.py")
           if p.stem not in public_paths and p.name not in ("__init__.py", "__main__.py") and not p.stem.startswith("span_identifier")}
    assert plugin - named == set()
    assert packages - named == set()
    assert sdk - named == set()
