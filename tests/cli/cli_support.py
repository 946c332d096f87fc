"""Helpers for the ``braintrust`` command tests: run it in a subprocess, write eval files, read the store."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from braintrust.delivery.backend import EXPERIMENT
from braintrust.store.sqlite_store import LocalStore
from delivery_helpers import subprocess_env

PROGRESS_MARK = "(tasks): ["


def cli_env(store_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a user with no API key whose local store is ``store_dir``."""
    return subprocess_env(BRAINTRUST_LOCAL_DIR=str(store_dir), PYTHONDONTWRITEBYTECODE="1", **extra)


def run_cli(*args: str, cwd: Path, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "braintrust", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )


def write(path: Path, source: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip())
    return path


def eval_source(project: str, experiment: str | None = None, cases: str = "[{'input': 1, 'expected': 1}]", task: str = "lambda x: x", extra: str = "") -> str:
    """An eval file with one ``Eval`` call scoring exact matches."""
    name = f", experiment_name={experiment!r}" if experiment else ""
    return (
        "from braintrust import Eval\n"
        f"{extra}\n"
        "def exact(output, expected):\n"
        "    return 1.0 if output == expected else 0.0\n"
        f"Eval({project!r}, data={cases}, task={task}, scores=[exact]{name})\n"
    )


def database(store_dir: Path) -> Path:
    return store_dir / "braintrust.sqlite"


def experiments(store_dir: Path) -> list[dict]:
    """Every experiment in the store (oldest first), each with its ``rows``; [] when there is no store."""
    if not database(store_dir).exists():
        return []
    store = LocalStore(database(store_dir))
    try:
        found = []
        for experiment in store.list_experiments():
            rows, _ = store.fetch_rows(EXPERIMENT, experiment["id"])
            found.append({**experiment, "rows": rows})
        return found
    finally:
        store.close()


def roots(rows: list[dict]) -> list[dict]:
    return [r for r in rows if not r.get("span_parents")]
