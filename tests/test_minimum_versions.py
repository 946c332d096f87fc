"""The oldest pytest, pluggy, requests, orjson and pytest-xdist that pyproject.toml accepts run the plugin:
the example project, alone and with ``-n 2``, in a virtual environment holding exactly those
versions. (``pluggy>=1.0`` was once declared while the plugin's hook wrappers need 1.2:
installing it stopped every run with an INTERNALERROR.)"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from delivery_helpers import subprocess_env
from venvs import venv_with

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

#: Dependencies whose declared floor is installed here (pyproject.toml's, and its xdist extra).
FLOORED = ("pytest", "pluggy", "requests", "orjson", "pytest-xdist")


def declared_floors() -> dict[str, str]:
    text = (ROOT / "pyproject.toml").read_text()
    dependencies = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
    dependencies += re.search(r"^xdist = \[(.*?)\]", text, re.M).group(1)
    floors = dict(re.findall(r'"([A-Za-z0-9_.-]+)>=([0-9][0-9.]*)[";]', dependencies))
    assert set(FLOORED) <= set(floors), f"pyproject.toml should give a floor for each of {FLOORED}: {floors}"
    return floors


def release(version: str) -> tuple[int, ...]:
    """``7.4`` and ``7.4.0`` alike (as pip compares them)."""
    parts = [int(part) for part in version.split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def test_the_example_project_runs_on_the_oldest_declared_versions(tmp_path):
    floors = declared_floors()
    pins = [f"{name}=={floors[name]}" for name in FLOORED]
    python = venv_with(tmp_path, *pins)
    project = tmp_path / "example_project"
    shutil.copytree(ROOT / "example_project", project, ignore=shutil.ignore_patterns(".braintrust", "__pycache__", ".pytest_cache"))
    env = subprocess_env()
    env.pop("GITHUB_STEP_SUMMARY", None)
    # This checkout's two packages, not installed (nor any metadata beside them): the plugin is loaded with -p.
    packages = tmp_path / "packages"
    packages.mkdir()
    for package in ("braintrust", "pytest_braintrust"):
        (packages / package).symlink_to(ROOT / package)
    env["PYTHONPATH"] = str(packages)
    result = subprocess.run(
        [str(python), "-m", "pytest", str(project), "-p", "pytest_braintrust.plugin", "--braintrust", "-p", "no:cacheprovider"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
    )
    versions = subprocess.run([str(python), "-c", "import pytest, pluggy, orjson; print(pytest.__version__, pluggy.__version__, orjson.__version__)"],
                              capture_output=True, text=True).stdout.split()
    assert [release(v) for v in versions] == [release(floors[name]) for name in ("pytest", "pluggy", "orjson")]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "INTERNALERROR" not in result.stdout + result.stderr
    assert "11 eval cases: 10 passed, 1 failed" in result.stdout and "gate PASSED" in result.stdout, result.stdout

    spread = subprocess.run(
        [str(python), "-m", "pytest", str(project), "-p", "pytest_braintrust.plugin", "--braintrust", "-p", "no:cacheprovider", "-n", "2"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
    )
    assert spread.returncode == 0, spread.stdout + spread.stderr
    assert "11 eval cases: 10 passed, 1 failed" in spread.stdout and spread.stdout.count("=====SUMMARY=====") == 1, spread.stdout
