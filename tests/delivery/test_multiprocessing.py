"""Rows logged in ``multiprocessing`` children (``Pool`` workers, a ``Process``) arrive: such a
child ends with ``os._exit``, which runs no ``atexit`` handler; and a SIGTERM that lands while a
child runs its exit hooks does not skip the flush, nor does one the main thread misses leave the
child hanging. Real processes, every start method, rows
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


def run_with_server(tmp_path: Path, script: str, *args: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    """Run ``script`` (a file's text) in a fresh process logging to a loopback server; returns
    its result and the rows the server received."""
    (tmp_path / "script.py").write_text(script)
    with BraintrustTestServer() as server:
        result = subprocess.run([sys.executable, "script.py", *args], cwd=tmp_path, capture_output=True, text=True, timeout=90,
                                env=subprocess_env(BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url,
                                                   BRAINTRUST_LOCAL_DIR=str(tmp_path / "store")))
        return result, server.rows("project_logs")


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
    result, rows = run_with_server(tmp_path, EXITING_SCRIPT, str(tmp_path / "mark"))
    assert result.returncode == 0, result.stderr
    assert sorted(row["input"]["n"] for row in rows) == [0, 1, 2, 3, 4], result.stderr


ENTERING_EXIT_SCRIPT = textwrap.dedent('''
    import multiprocessing
    import os
    import signal
    import sys
    from multiprocessing import util

    import braintrust


    def sigterm_as_the_exit_hooks_start(frame, event, arg):
        # As Pool.terminate() can: the signal is handled on the first step of the hooks' runner,
        # before it marks the child as exiting.
        if event == "call" and frame.f_code is util._exit_function.__code__:
            sys.settrace(None)
            os.kill(os.getpid(), signal.SIGTERM)


    def work():
        logger = braintrust.init_logger(project="entering")
        for n in range(5):
            logger.log(input={"n": n}, output=n)
        sys.settrace(sigterm_as_the_exit_hooks_start)


    if __name__ == "__main__":
        child = multiprocessing.get_context("fork").Process(target=work)
        child.start()
        child.join()
        print(child.exitcode)
''')


def test_a_sigterm_as_the_child_starts_its_exit_hooks_does_not_skip_the_flush(tmp_path):
    """``with Pool(...)``: ``terminate()`` signals workers that are exiting on their own, and
    the signal can land as multiprocessing's exit-hook runner starts, before it marks the child
    as exiting. Raising there would skip every hook, ours included (all of a worker's rows lost)."""
    result, rows = run_with_server(tmp_path, ENTERING_EXIT_SCRIPT)
    assert result.returncode == 0, result.stderr
    assert sorted(row["input"]["n"] for row in rows) == [0, 1, 2, 3, 4], result.stderr
    assert result.stdout.split() == ["-15"], result.stdout  # the signal was delivered, after the flush


MISSED_SIGTERM_SCRIPT = textwrap.dedent('''
    import multiprocessing
    import signal
    import threading
    import time

    import braintrust


    def work():
        logger = braintrust.init_logger(project="missed")
        for n in range(5):
            logger.log(input={"n": n}, output=n)
        # As when a SIGTERM lands just before the main thread blocks: the signal is taken by
        # another thread, and the main thread's wait is not interrupted.
        def signal_this_thread():
            time.sleep(0.3)  # (the main thread is waiting by then)
            signal.pthread_kill(threading.get_ident(), signal.SIGTERM)

        threading.Thread(target=signal_this_thread).start()
        lock = multiprocessing.get_context("fork").Lock()
        lock.acquire()
        lock.acquire()  # (an idle Pool worker waits so, on its task queue's lock)


    if __name__ == "__main__":
        child = multiprocessing.get_context("fork").Process(target=work)
        child.start()
        child.join(10)
        if child.exitcode is None:
            child.kill()
            child.join()
        print(child.exitcode)
''')


def test_a_sigterm_the_main_thread_misses_still_ends_the_child_with_its_rows(tmp_path):
    """Our handler replaces SIGTERM's default action, so a signal the main thread does not act
    on (taken while it was not waiting yet, or by another thread) must not leave the child
    waiting for good, as ``Pool.terminate()`` found ~1 time in 500."""
    result, rows = run_with_server(tmp_path, MISSED_SIGTERM_SCRIPT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["143"], (result.stdout, result.stderr)  # (None, then -9: it hung)
    assert sorted(row["input"]["n"] for row in rows) == [0, 1, 2, 3, 4], result.stderr


IDLE_CHILD_SCRIPT = textwrap.dedent('''
    import multiprocessing
    import signal

    import braintrust


    def report():
        default_before = signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        braintrust.init_logger(project="idle").log(input={"n": 1}, output=1)
        handled_after = signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        print(default_before, handled_after, flush=True)


    if __name__ == "__main__":
        braintrust.init_logger(project="idle").log(input={"n": 0}, output=0)
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL  # (ours, in the parent)
        child = multiprocessing.get_context("fork").Process(target=report)
        child.start()
        child.join()
''')


def test_a_forked_child_keeps_sigterms_default_action_until_it_logs(tmp_path):
    """An idle ``Pool`` worker has nothing to flush: with the parent's handler, a SIGTERM that
    landed as it started waiting for a task could leave it hanging (seen under load)."""
    result, rows = run_with_server(tmp_path, IDLE_CHILD_SCRIPT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"], result.stdout
    assert sorted(row["input"]["n"] for row in rows) == [0, 1]


AFTER_FLUSH_SCRIPT = textwrap.dedent('''
    import atexit
    import os
    import signal
    import time

    import braintrust


    def later_exit_hook():  # registered before ours, so it runs after our exit-time flush
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        print("the signal was not acted on", flush=True)


    atexit.register(later_exit_hook)
    braintrust.init_logger(project="late").log(input={"n": 0}, output=0)
''')


def test_a_sigterm_after_the_exit_time_flush_has_its_default_action(tmp_path):
    """Nothing is left to flush: the process ends at once, with no traceback from an exit hook
    (a spawned ``Pool`` worker SIGTERMed in its last ``atexit`` callbacks printed one)."""
    result, rows = run_with_server(tmp_path, AFTER_FLUSH_SCRIPT)
    assert [row["input"]["n"] for row in rows] == [0]
    assert result.returncode == -15, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr
