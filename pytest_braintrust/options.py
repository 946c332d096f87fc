"""Command line, ini and environment → one frozen ``Settings`` object.

Options are validated while pytest parses them (``pytest.UsageError`` naming the option, the
rule and an example), so a typo in CI fails before any test runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # (the SDK is imported only by --braintrust runs: an unused plugin stays cheap)
    from braintrust.gates import Gate

_OPTIONS = (
    ("--braintrust", dict(action="store_true", default=False, help="log marked tests as cases of a Braintrust experiment")),
    ("--braintrust-project", dict(default=None, help="project for the experiment (default: ini braintrust_project, BRAINTRUST_PROJECT_NAME or BRAINTRUST_PROJECT, else the rootdir name)")),
    ("--braintrust-experiment", dict(default=None, help="experiment name (default: generated); with --braintrust-update, joins that experiment")),
    ("--braintrust-experiment-id", dict(default=None, help="log into this existing experiment (CI shards joining one experiment)")),
    ("--braintrust-update", dict(action="store_true", default=False, help="add to the named experiment if it exists instead of creating a new one")),
    ("--braintrust-base-experiment", dict(default=None, help="experiment to compare with (default: Braintrust's choice with a key; in the local store, the last run of the same cases)")),
    ("--braintrust-api-key", dict(default=None, help="deprecated: set BRAINTRUST_API_KEY instead")),
    ("--braintrust-no-summary", dict(action="store_true", default=False, help="do not print the experiment summary")),
    ("--braintrust-fail-under", dict(default=None, metavar="SCORE=VALUE[,...]", help="fail the run (exit 6) when a score's average is below VALUE (0.8 or 80%%)")),
    ("--braintrust-max-regression", dict(default=None, metavar="SCORE=DELTA[,...]", help="fail the run (exit 6) when a score drops more than DELTA below the baseline (0.05 or 5%%)")),
    ("--braintrust-gates-only", dict(action="store_true", default=False, help="evals as benchmarks: failing cases only lower scores; exit 0 unless a gate fails")),
    ("--braintrust-json", dict(default=None, metavar="PATH", help="write a JSON summary of the run to PATH (write --braintrust-json=PATH: after a space, a PATH that exists can change pytest's rootdir)")),
)


@dataclass(frozen=True)
class Settings:
    enabled: bool
    project: str
    experiment: str | None
    experiment_id: str | None
    update: bool
    base_experiment: str | None
    no_summary: bool
    fail_under: tuple[Gate, ...]
    max_regression: tuple[Gate, ...]
    gates_only: bool
    json_path: Path | None


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("braintrust", "Braintrust evals")
    for name, kwargs in _OPTIONS:
        group.addoption(name, dest=name.lstrip("-").replace("-", "_"), **kwargs)
    parser.addini("braintrust_project", "default Braintrust project for --braintrust runs", default=None)
    parser.addini("braintrust_fail_under", "default for --braintrust-fail-under", default=None)
    parser.addini("braintrust_max_regression", "default for --braintrust-max-regression", default=None)
    parser.addini("braintrust_gates_only", "default for --braintrust-gates-only", type="bool", default=False)


def parse_gates(text: str | None, option: str, example: str | None = None) -> tuple[Gate, ...]:
    from braintrust import gates

    try:
        return gates.parse_gates(text, option, example)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def _gates_option(config: pytest.Config, name: str) -> tuple[Gate, ...]:
    """``--braintrust-<name>`` or, without it, the ini key ``braintrust_<name>`` (errors name the one used)."""
    option, key = f"--braintrust-{name.replace('_', '-')}", f"braintrust_{name}"
    given = config.getoption(key)
    if given:
        return parse_gates(given, option)
    where = config.inipath.name if config.inipath else "the ini file"
    return parse_gates(config.getini(key), f"{key} (in {where})", f"{key} = exact=0.8,relevance=75%")


def _ini_flag(config: pytest.Config, key: str) -> bool:
    """An ini boolean (true/false, yes/no, 1/0...); a usage error naming the key otherwise."""
    try:
        return bool(config.getini(key))
    except ValueError as exc:
        where = config.inipath.name if config.inipath else "the ini file"
        raise pytest.UsageError(f"{key} in {where}: {exc}; write true or false.") from None


def default_project(config: pytest.Config) -> str:
    return (
        config.getoption("braintrust_project")
        or config.getini("braintrust_project")
        or os.environ.get("BRAINTRUST_PROJECT_NAME", "").strip()
        or os.environ.get("BRAINTRUST_PROJECT", "").strip()
        or config.rootpath.name
    )


def settings_from(config: pytest.Config) -> Settings:
    json_path = config.getoption("braintrust_json")
    return Settings(
        enabled=bool(config.getoption("braintrust")),
        project=default_project(config),
        experiment=config.getoption("braintrust_experiment"),
        experiment_id=config.getoption("braintrust_experiment_id"),
        update=bool(config.getoption("braintrust_update")),
        base_experiment=config.getoption("braintrust_base_experiment"),
        no_summary=bool(config.getoption("braintrust_no_summary")),
        fail_under=_gates_option(config, "fail_under"),
        max_regression=_gates_option(config, "max_regression"),
        gates_only=bool(config.getoption("braintrust_gates_only")) or _ini_flag(config, "braintrust_gates_only"),
        json_path=Path(json_path) if json_path else None,
    )
