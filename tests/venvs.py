"""Virtual environments for tests that need packages this environment cannot hold (the oldest
declared versions, a library that pins an older openai)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest


def venv_with(folder: Path, *requirements: str) -> Path:
    """A new virtual environment in ``folder`` with ``requirements`` installed: its python. The
    test is skipped when no package index can be reached at all (offline), and fails when one can
    but a requirement cannot be installed (a floor or pin that does not exist)."""
    venv = folder / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *requirements],
                               capture_output=True, text=True, timeout=600)
    if installed.returncode != 0 and re.search(r"connection|network|resolve host|Could not fetch|from versions: none", installed.stderr, re.I):
        pytest.skip(f"the package index cannot be reached: {installed.stderr.strip().splitlines()[-1]}")
    assert installed.returncode == 0, installed.stderr
    return python
