"""Command line, ini and environment → one frozen ``Settings`` object.

Options are validated while pytest parses them (``pytest.UsageError`` naming the option, the
rule and an example), so a typo in CI fails before any test runs.
"""

from __future__ import annotations

import inspect
import os
import shlex
import warnings
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
    ("--braintrust-fail-under", dict(action="append", default=None, metavar="SCORE=VALUE[,...]", help="fail the run (exit 10) when a score's average is below VALUE (0.8 or 80%%); repeatable")),
    ("--braintrust-max-regression", dict(action="append", default=None, metavar="SCORE=DELTA[,...]", help="fail the run (exit 10) when a score drops more than DELTA below the baseline (0.05 or 5%%); repeatable")),
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
    """``--braintrust-<name>`` (every time it is given) or, without it, the ini key
    ``braintrust_<name>`` (errors name the one used). Given with no gate in it (an unset
    variable's empty value), it is a usage error, not the ini's gates nor none."""
    option, key = f"--braintrust-{name.replace('_', '-')}", f"braintrust_{name}"
    given = config.getoption(key)
    if given is not None:
        text = ",".join(given)
        if not text.strip():
            raise pytest.UsageError(f"{option}: an empty value names no gate; write SCORE=VALUE, e.g. {option}=exact=0.8, "
                                    "or leave the option out.")
        return parse_gates(text, option)
    where = _ini_where(config, key)
    if where.startswith("given with"):
        example = f"-o {key}=exact=0.8,relevance=75%"
    else:
        quote = '"' if config.inipath and config.inipath.suffix == ".toml" else ""
        example = f"{key} = {quote}exact=0.8,relevance=75%{quote}"
    return parse_gates(_ini_text(config, key, where, example), f"{key} ({where})", example)


def _ini_where(config: pytest.Config, key: str) -> str:
    """Where ini key ``key``'s value came from, as the user wrote it: ``in tox.ini``, or
    ``given with -o`` (``-o``/``--override-ini`` wins over the file)."""
    if any(item.partition("=")[0].strip() == key for item in config.option.override_ini or ()):
        return "given with -o"
    return f"in {config.inipath.name}" if config.inipath else "in the ini file"


def _ini_text(config: pytest.Config, key: str, where: str, example: str) -> str | None:
    """An ini key's text. A TOML list or table under ``[tool.pytest.ini_options]`` (pytest passes
    those through as they are) is a usage error naming the key, not a traceback."""
    with warnings.catch_warnings():  # (pytest 9.2 deprecates them: under -W error, an INTERNALERROR)
        warnings.simplefilter("ignore", DeprecationWarning)
        value = config.getini(key)
    if value is not None and not isinstance(value, str):
        raise pytest.UsageError(f"{key} ({where}): {value!r} is a {type(value).__name__}; write one string, e.g. {example}")
    return value


#: Options whose empty value (an unset variable's: ``--braintrust-experiment-id "$ID"``) would
#: silently mean something else (a new experiment, the default baseline, no JSON file), with the fix.
_NON_EMPTY = {
    "braintrust_experiment_id": "give the id of the experiment to join",
    "braintrust_base_experiment": "give the name of the experiment to compare with",
    "braintrust_json": "give the path to write, e.g. --braintrust-json=braintrust.json",
    "braintrust_project": "give the project's name",
}


def _text_option(config: pytest.Config, dest: str) -> str | None:
    value = config.getoption(dest)
    if value is not None and not value.strip():
        option = "--" + dest.replace("_", "-")
        raise pytest.UsageError(f"{option}: an empty value names nothing; {_NON_EMPTY[dest]}, or leave the option out.")
    return value


def _ini_flag(config: pytest.Config, key: str) -> bool:
    """An ini boolean (true/false, yes/no, 1/0...); a usage error naming the key otherwise."""
    try:
        return bool(config.getini(key))
    except (ValueError, pytest.UsageError) as exc:  # (pytest 9.2 raises the latter, without the key)
        raise pytest.UsageError(f"{key} {_ini_where(config, key)}: {exc}; write true or false.") from None


def default_project(config: pytest.Config) -> str:
    """The run's project: the option, the ini key, the variables, else the rootdir's name
    (surrounding spaces are a quoting slip: `"other "` and a marker's `"other"` are one project).
    A rootdir with no name (``/``, a drive) is a usage error naming the fix: a project named ``''``
    would silently log to the server's ``Global`` project."""
    name = (
        (_text_option(config, "braintrust_project") or "").strip()
        or (_ini_text(config, "braintrust_project", _ini_where(config, "braintrust_project"),
                      'braintrust_project = "my-project"') or "").strip()
        or os.environ.get("BRAINTRUST_PROJECT_NAME", "").strip()
        or os.environ.get("BRAINTRUST_PROJECT", "").strip()
        or config.rootpath.name
    )
    if not name:
        raise pytest.UsageError(
            f"--braintrust: the rootdir {config.rootpath} has no name to be the default project; give one with "
            "--braintrust-project NAME (or the ini key braintrust_project, or BRAINTRUST_PROJECT_NAME), or run "
            "pytest with a rootdir inside a folder (--rootdir, an ini file)."
        )
    return name


def check_json_path_form(config: pytest.Config) -> None:
    """``--braintrust-json PATH`` written with a space, PATH an existing file (the last run's
    summary): pytest chose its rootdir and ini file before it knew this option, taking PATH for a
    test path, so the run may have lost its ini settings and moved its rootdir (the default
    project). A usage error naming the fix when PATH did change them (it rarely does: the summary
    of the last run in the current directory does not). Once, not again in each xdist worker."""
    if hasattr(config, "workerinput"):
        return
    args = [*shlex.split(os.environ.get("PYTEST_ADDOPTS", "")), *config.invocation_params.args]
    for option, value in zip(args, args[1:]):
        if option != "--braintrust-json" or not (config.invocation_params.dir / value).exists():
            continue  # (pytest ignores a test path that does not exist when it chooses the rootdir)
        test_paths = [str(arg) for arg in config.option.file_or_dir or []]
        chosen, intended = _rootdir_and_inifile(config, [*test_paths, value]), _rootdir_and_inifile(config, test_paths)
        if chosen != intended:
            raise pytest.UsageError(
                f"--braintrust-json {value}: after a space, pytest took this existing path for a test path when it "
                f"chose its rootdir (before it knew this option), so this run's rootdir (its ini settings, local "
                f"store and default project) would be {_setup_text(chosen)} instead of {_setup_text(intended)}. "
                f"Write --braintrust-json={value}."
            )


def _rootdir_and_inifile(config: pytest.Config, test_paths: list[str]) -> tuple[Path, Path | None] | None:
    """The rootdir and ini file pytest chooses for these test paths (None if this pytest's
    internal function, which has no public equivalent, is not the one known here)."""
    try:
        from _pytest.config.findpaths import determine_setup

        given = {
            "inifile": config.option.inifilename,
            "override_ini": config.option.override_ini,
            "args": test_paths,
            "rootdir_cmd_arg": config.option.rootdir or None,
            "invocation_dir": config.invocation_params.dir,  # (pytest 8+; pytest 7 takes the config)
            "config": config,
        }
        accepted = inspect.signature(determine_setup).parameters
        rootpath, inipath = determine_setup(**{name: value for name, value in given.items() if name in accepted})[:2]
        return rootpath, inipath
    except Exception:
        return None


def _setup_text(setup: tuple[Path, Path | None] | None) -> str:
    if setup is None:
        return "unknown"
    rootpath, inipath = setup
    return f"{rootpath} ({f'configfile {inipath}' if inipath else 'no configfile'})"


def _update_target(config: pytest.Config, experiment: str | None, experiment_id: str | None) -> bool:
    """``--braintrust-update`` joins the experiment ``--braintrust-experiment`` names: without a
    name (left out, or an unset variable's empty value) every CI shard would silently make an
    experiment of its own, so that is a usage error; so is a name beside
    ``--braintrust-experiment-id`` (one of them would be ignored)."""
    update = bool(config.getoption("braintrust_update"))
    if experiment_id and (experiment or "").strip():
        raise pytest.UsageError(
            f"--braintrust-experiment-id {experiment_id} and --braintrust-experiment {experiment!r} both name the "
            "experiment to log into; give one (the id joins that experiment; the name, with --braintrust-update, "
            "joins the experiment of that name)."
        )
    if update and not experiment_id and not (experiment or "").strip():
        given = "is empty" if experiment is not None else "is not given"
        raise pytest.UsageError(
            f"--braintrust-update: --braintrust-experiment {given}, so there is no experiment to join and each run "
            "would make a new one; give --braintrust-experiment NAME (e.g. \"nightly-$RUN_ID\"), or leave "
            "--braintrust-update out."
        )
    return update


def settings_from(config: pytest.Config) -> Settings:
    check_json_path_form(config)
    json_path = _text_option(config, "braintrust_json")
    experiment, experiment_id = config.getoption("braintrust_experiment"), _text_option(config, "braintrust_experiment_id")
    return Settings(
        enabled=bool(config.getoption("braintrust")),
        project=default_project(config),
        experiment=experiment,
        experiment_id=experiment_id,
        update=_update_target(config, experiment, experiment_id),
        base_experiment=_text_option(config, "braintrust_base_experiment"),
        no_summary=bool(config.getoption("braintrust_no_summary")),
        fail_under=_gates_option(config, "fail_under"),
        max_regression=_gates_option(config, "max_regression"),
        gates_only=bool(config.getoption("braintrust_gates_only")) or _ini_flag(config, "braintrust_gates_only"),
        json_path=Path(json_path) if json_path else None,
    )
