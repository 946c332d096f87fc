"""Rows logged in ``multiprocessing`` children (``Pool`` workers, a ``Process``) arrive: such a
child ends with ``os._exit``, which runs no ``atexit`` handler; and a SIGTERM that lands while a
child runs its exit hooks does not skip the flush. Real processes, every start method, rows
counted by the loopback server on arrival (and once into the local store)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from btserver import BraintrustTestServer
from delivery_helpers import subprocess_env

SCRIPT = textwrap.dedent('''
    import multiprocessing
    import sys

    import braintrust


    def work(task):
        logger = braintrust.init_logger(project="pool")
        for n in range(5):
            logger.log(input={"task": task, "n": n}, output=n)
        return task


    if __name__ == "__main__":
        logger = braintrust.init_logger(project="pool")
        logger.log(input={"task": "parent-before", "n": 0}, output=0)
        braintrust.flush()  # (the parent has a processor, with its threads, before it forks)
        context = multiprocessing.get_context(sys.argv[1])
        pool = context.Pool(2)
        assert pool.map(work, range(4)) == [0, 1, 2, 3]
        pool.close()  # the workers end their loop, and exit
        pool.join()
        child = context.Process(target=work, args=("process",))
        child.start()
        child.join()
        logger.log(input={"task": "parent-after", "n": 0}, output=0)
''')

EXPECTED = {**{task: 5 for task in (0, 1, 2, 3, "process")}, "parent-before": 1, "parent-after": 1}


def run_script(tmp_path: Path, method: str, **env: str) -> subprocess.CompletedProcess:
    (tmp_path / "pool_script.py").write_text(SCRIPT)
    return subprocess.run([sys.executable, "pool_script.py", method], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env=subprocess_env(BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"), **env))


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_rows_of_pool_workers_and_processes_arrive(tmp_path, method):
    with BraintrustTestServer() as server:
        result = run_script(tmp_path, method, BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url)
        rows = server.rows("project_logs")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert Counter(row["input"]["task"] for row in rows) == EXPECTED, result.stderr
    assert len({row["id"] for row in rows}) == len(rows)  # nothing twice


def test_into_the_local_store_too(tmp_path):
    result = run_script(tmp_path, "fork")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    from braintrust.delivery.backend import PROJECT_LOGS
    from braintrust.store.sqlite_store import LocalStore

    store = LocalStore(tmp_path / "store" / "braintrust.sqlite")
    try:
        (project,) = store.list_projects()
        rows, _ = store.fetch_rows(PROJECT_LOGS, project["id"])
    finally:
        store.close()
    assert Counter(row["input"]["task"] for row in rows) == EXPECTED


EXITING_SCRIPT = textwrap.dedent('''
    import multiprocessing
    import os
    import pathlib
    import signal
    import sys
    import time
    from multiprocessing import util

    import braintrust

    MARK = pathlib.Path(sys.argv[1])


    def another_exit_hook():  # runs before ours (a higher priority), and is slow
        MARK.write_text("exiting")
        time.sleep(1.0)


    def work():
        logger = braintrust.init_logger(project="exiting")
        for n in range(5):
            logger.log(input={"n": n}, output=n)
        util.Finalize(None, another_exit_hook, exitpriority=1000)


    if __name__ == "__main__":
        child = multiprocessing.get_context("fork").Process(target=work)
        child.start()
        while not MARK.exists():
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGTERM)  # while the child runs its exit hooks, before ours
        child.join()
        print(child.exitcode)
''')


def test_a_sigterm_while_the_child_runs_its_exit_hooks_does_not_skip_the_flush(tmp_path):
    """A SIGTERM that lands in multiprocessing's exit hooks, before ours has run (``Pool``
    terminates workers that are exiting on their own): raising there would skip our flush."""
    (tmp_path / "exiting_script.py").write_text(EXITING_SCRIPT)
    with BraintrustTestServer() as server:
        result = subprocess.run([sys.executable, "exiting_script.py", str(tmp_path / "mark")], cwd=tmp_path, capture_output=True,
                                text=True, timeout=60, env=subprocess_env(BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url,
                                                                          BRAINTRUST_LOCAL_DIR=str(tmp_path / "store")))
        rows = server.rows("project_logs")
    assert result.returncode == 0, result.stderr
    assert sorted(row["input"]["n"] for row in rows) == [0, 1, 2, 3, 4], result.stderr
