"""Helpers for the plugin's acceptance tests: run a suite through ``pytester`` with the plugin and
read back what the local store (or the test server) received.

``Runner`` (the ``bt`` fixture of conftest.py) wraps ``pytester``:

* ``bt.run(*args)``: in-process run (the SDK's process-wide runtime is reset before and after);
* ``bt.run_subprocess(*args, env=...)``: a real subprocess (xdist, state that must not leak);
* ``bt.store()`` / ``bt.experiments()`` / ``bt.rows(experiment)``: the local store of the run
  (``BRAINTRUST_LOCAL_DIR``, a fresh folder per test, set by tests/conftest.py);
* ``tree(rows)``: roots and children by span id, to assert on the span layout.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import requests  # noqa: F401

# Imported here, before any pytester run, so that the in-process runs share these modules instead
# of importing (and then discarding) their own copies: pytester restores sys.modules after a run.
import braintrust  # noqa: F401
import braintrust.delivery.http_backend  # noqa: F401
import braintrust.delivery.http_client  # noqa: F401
import braintrust.delivery.local_backend  # noqa: F401
import braintrust.delivery.runtime
import braintrust.objects.experiment  # noqa: F401
import braintrust.objects.reads  # noqa: F401
import braintrust.store.sqlite_store
import pytest_braintrust.data  # noqa: F401
import pytest_braintrust.report  # noqa: F401
import pytest_braintrust.runtime  # noqa: F401
import pytest_braintrust.session  # noqa: F401
import pytest_braintrust.xdist  # noqa: F401

#: Plugins the subprocesses do not need (hypothesis alone costs ~1 s per process start).
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-p", "no:benchmark")


class Runner:
    def __init__(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
        self.pytester = pytester
        self.monkeypatch = monkeypatch
        self.path: Path = pytester.path
        self.local_dir = Path(os.environ["BRAINTRUST_LOCAL_DIR"])
        # The suites run with pytest-asyncio installed: keep its deprecation notice out of outputs.
        pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")

    # -- running -------------------------------------------------------------------------------

    def run(self, *args: str) -> pytest.RunResult:
        from braintrust.delivery.runtime import reset_for_tests

        reset_for_tests()
        try:
            return self.pytester.runpytest(*QUIET, *args)
        finally:
            reset_for_tests()

    def run_subprocess(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> pytest.RunResult:
        for name, value in (env or {}).items():
            self.monkeypatch.setenv(name, value)
        self.monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
        return self.pytester.runpytest_subprocess(*QUIET, *args, timeout=timeout)

    # -- reading back ----------------------------------------------------------------------------

    def store(self) -> Any:
        return braintrust.store.sqlite_store.LocalStore(self.local_dir / "braintrust.sqlite")

    def projects(self) -> dict[str, dict[str, Any]]:
        with self.store() as store:
            return {p["name"]: p for p in store.list_projects()}

    def experiments(self, project: str | None = None) -> list[dict[str, Any]]:
        with self.store() as store:
            project_id = None
            if project is not None:
                found = store.get_project(name=project)
                if found is None:
                    return []
                project_id = found["id"]
            return store.list_experiments(project_id)

    def rows(self, experiment: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Every current row of ``experiment`` (default: the only experiment of the store)."""
        if experiment is None:
            experiments = self.experiments()
            assert len(experiments) == 1, f"expected one experiment, found {[e['name'] for e in experiments]}"
            experiment = experiments[0]
        with self.store() as store:
            result: list[dict[str, Any]] = []
            cursor = None
            while True:
                rows, cursor = store.fetch_rows("experiment", experiment["id"], cursor=cursor)
                result.extend(rows)
                if not cursor:
                    return result

    def roots(self, experiment: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        """``{root span name: row}`` (names must be unique)."""
        return by_name(r for r in self.rows(experiment) if r.get("span_attributes") and not r.get("span_parents"))


def by_name(rows: Any) -> dict[str, dict[str, Any]]:
    named: dict[str, dict[str, Any]] = {}
    for row in rows:
        name = row["span_attributes"]["name"]
        assert name not in named, f"two rows named {name!r}"
        named[name] = row
    return named


class Tree:
    def __init__(self, rows: list[dict[str, Any]]):
        self.rows = [r for r in rows if r.get("span_id")]  # not feedback comment rows
        self.by_span = {r["span_id"]: r for r in self.rows}

    def children(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        return [r for r in self.rows if (r.get("span_parents") or [None])[0] == row["span_id"]]

    def child(self, row: dict[str, Any], name: str) -> dict[str, Any]:
        found = [r for r in self.children(row) if r["span_attributes"]["name"] == name]
        assert len(found) == 1, f"{row['span_attributes']['name']} has {len(found)} children named {name!r}: {[r['span_attributes']['name'] for r in self.children(row)]}"
        return found[0]

    def kinds(self, row: dict[str, Any]) -> list[tuple[str, str | None]]:
        return sorted((r["span_attributes"]["name"], r["span_attributes"].get("type")) for r in self.children(row))


def tree(rows: list[dict[str, Any]]) -> Tree:
    return Tree(rows)
