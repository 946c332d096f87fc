"""The distributions users install: what the wheel and the sdist built from this checkout hold,
and the oldest declared requests talking to a Braintrust server."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from delivery_helpers import subprocess_env

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("braintrust", "pytest_braintrust")
#: Left out of the copy the builds run on: caches, other builds, and folders no build reads.
_NOT_SOURCES = (".git", "bench", "build", "dist", "*.egg-info", "__pycache__", ".braintrust", ".pytest_cache",
                ".benchmarks", ".tox", ".venv*")

def _installed(target: Path, *requirements: str) -> Path:
    """``requirements`` installed into ``target`` (to put first on PYTHONPATH); skipped offline."""
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                                "--target", str(target), *requirements], capture_output=True, text=True, timeout=300)
    if installed.returncode != 0 and re.search(r"connection|network|resolve host|from versions: none", installed.stderr, re.I):
        pytest.skip(f"the package index cannot be reached: {installed.stderr.strip().splitlines()[-1]}")
    assert installed.returncode == 0, installed.stderr
    return target


_BUILD = """
import sys
from setuptools import build_meta
out = sys.argv[1]
wheel = build_meta.build_wheel(out)
sdist = build_meta.build_sdist(out)
print("BUILT", wheel, sdist)
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path, Path]:
    """(wheel, sdist, the copy they were built from) built from a copy of this checkout with the setuptools pyproject.toml asks for."""
    folder = tmp_path_factory.mktemp("packaging")
    source = folder / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*_NOT_SOURCES))
    requirement = re.search(r'requires = \["(setuptools[^"]*)"\]', (ROOT / "pyproject.toml").read_text()).group(1)
    backend = _installed(folder / "backend", requirement)
    out = folder / "dist"
    out.mkdir()
    result = subprocess.run([sys.executable, "-c", _BUILD, str(out)], cwd=source, capture_output=True, text=True,
                            timeout=300, env=subprocess_env(PYTHONPATH=str(backend)))
    assert result.returncode == 0, result.stderr
    wheel_name, sdist_name = re.search(r"^BUILT (\S+) (\S+)$", result.stdout, re.M).groups()
    return out / wheel_name, out / sdist_name, source


def release(version: str) -> tuple[int, ...]:
    """``2.29`` and ``2.29.0`` alike."""
    parts = [int(part) for part in version.split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _source_files(root: Path, suffix_filter) -> set[str]:
    return {path.relative_to(root).as_posix() for package in PACKAGES for path in (root / package).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and suffix_filter(path.suffix)}


def test_the_wheel_holds_both_packages_their_data_files_and_nothing_else(built):
    wheel, _, source = built
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {name for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert shipped == _source_files(source, lambda suffix: suffix not in (".pyc", ".pyo"))
    assert "braintrust/store/schema.sql" in shipped  # read at run time by the local store
    assert {name.split("/")[0] for name in names} == {*PACKAGES, wheel.name.split("-py3")[0] + ".dist-info"}
    assert [name for name in names if name.endswith(".dist-info/licenses/LICENSE")]  # (MIT asks for its notice)


def test_the_wheel_declares_the_pytest_plugin_and_the_console_script(built):
    wheel, _, _ = built
    archive = zipfile.ZipFile(wheel)
    (entry_points,) = [name for name in archive.namelist() if name.endswith(".dist-info/entry_points.txt")]
    text = archive.read(entry_points).decode()
    assert re.search(r"\[pytest11\]\nbraintrust = pytest_braintrust\.plugin\n", text), text
    assert re.search(r"\[console_scripts\]\nbraintrust = braintrust\.cli\.main:main\n", text), text


def test_the_sdist_holds_no_test_suite_that_cannot_run(built):
    """setuptools adds ``tests/test*.py`` to an sdist by itself, without the conftest, helpers and
    data they import: a ``pytest`` in the unpacked sdist failed at collection."""
    _, sdist, _ = built
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert not [name for name in names if name == "tests" or name.startswith("tests/")]
    assert {"README.md", "LICENSE", "pyproject.toml", "braintrust/store/schema.sql", "pytest_braintrust/plugin.py"} <= names


@pytest.mark.slow
def test_the_oldest_declared_requests_logs_in_and_sends_rows(tmp_path, bt_server):
    """The Authorization header is a ``Secret`` (a str subclass): requests 2.28, once the declared
    floor, refused it, so every login failed and every row was spilled."""
    floor = re.search(r'"requests>=([0-9.]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    packages = _installed(tmp_path / "packages", f"requests=={floor}")
    for package in PACKAGES:
        (packages / package).symlink_to(ROOT / package)
    script = ("import braintrust, requests\n"
              "experiment = braintrust.init(project='floor')\n"
              "experiment.log(input=1, output=2, scores={'exact': 1})\n"
              "experiment.flush()\n"
              "print(requests.__version__)\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env=subprocess_env(PYTHONPATH=str(packages), BRAINTRUST_API_KEY=bt_server.api_key,
                                               BRAINTRUST_APP_URL=bt_server.url))
    assert result.returncode == 0, result.stderr
    assert release(result.stdout.split()[-1]) == release(floor), result.stdout
    assert [row["input"] for row in bt_server.rows("experiment")] == [1], result.stderr


def test_importing_the_plugin_warns_when_the_public_sdk_was_installed_over_ours(tmp_path):
    """Installed after ours, the public SDK's files replace ours where paths meet, its
    ``braintrust/__init__.py`` included, so the warning there never runs (and ``import braintrust``
    dies on an unrelated ImportError). ``pytest_braintrust`` is ours alone: it must warn."""
    site = tmp_path / "site"
    (site / "braintrust-0.48.1.dist-info").mkdir(parents=True)
    (site / "braintrust-0.48.1.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: braintrust\nVersion: 0.48.1\n\n")
    (site / "pytest_braintrust").symlink_to(ROOT / "pytest_braintrust")
    result = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", "import pytest_braintrust"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60,
                            env=subprocess_env(PYTHONPATH=str(site)))
    assert result.returncode != 0 and "braintrust 0.48.1" in result.stderr, result.stderr
