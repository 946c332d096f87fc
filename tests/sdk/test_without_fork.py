"""On a platform that cannot fork (Windows has no ``os.fork`` nor ``os.register_at_fork``), every
module imports and logging works: fork hooks are registered only where forks exist
(``braintrust.forks``). A real interpreter with both functions removed before the import."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from braintrust.delivery.backend import PROJECT_LOGS
from braintrust.store.sqlite_store import LocalStore
from delivery_helpers import subprocess_env

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    del os.fork, os.register_at_fork

    import importlib, pkgutil
    import braintrust, pytest_braintrust

    modules = 0
    for package in (braintrust, pytest_braintrust):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not module.name.endswith("__main__"):  # (that one runs the command line)
                importlib.import_module(module.name)
                modules += 1

    from braintrust.forks import at_fork
    at_fork(before=print, after_in_child=print)  # nothing to register: no error either

    logger = braintrust.init_logger(project="no-fork")
    for i in range(5):
        logger.log(input={"i": i}, output=i)
    with braintrust.start_span(name="outer") as span:
        span.log(output="done")
    result = logger.flush()
    print(json.dumps({"modules": modules, "accepted": result.accepted, "spilled": result.spilled}))
    """
)


def test_without_fork_every_module_imports_and_rows_reach_the_local_store(tmp_path: Path):
    env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"))
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["modules"] > 40 and report["spilled"] == 0 and report["accepted"] == 6
    with LocalStore(tmp_path / "store" / "braintrust.sqlite") as store:
        [project] = store.list_projects()
        rows, _ = store.fetch_rows(PROJECT_LOGS, project["id"])
    assert project["name"] == "no-fork"
    assert sorted(row["output"] for row in rows if row["span_attributes"]["name"] == "root") == [0, 1, 2, 3, 4]
    assert [row["output"] for row in rows if row["span_attributes"]["name"] == "outer"] == ["done"]
