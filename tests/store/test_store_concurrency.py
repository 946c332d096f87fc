"""Several real processes and threads writing to one store at once."""

from __future__ import annotations

import multiprocessing
import threading
import traceback

from braintrust.store.sqlite_store import LocalStore
from delivery_helpers import subprocess_env

PROCESSES = 4
ROWS_PER_PROCESS = 2000
BATCH = 50
EXP = "shared-experiment"


def _writer(path: str, worker: int, barrier, errors) -> None:
    """Child process: open the (possibly not yet created) store and write 2,000 rows + merges."""
    try:
        store = LocalStore(path)
        barrier.wait(timeout=60)
        for start in range(0, ROWS_PER_PROCESS, BATCH):
            ids = [f"w{worker}-{i}" for i in range(start, start + BATCH)]
            batch = [{"id": i, "experiment_id": EXP, "input": {"worker": worker}, "pad": "x" * 200} for i in ids]
            batch += [{"id": i, "experiment_id": EXP, "metrics": {"end": 1.0}, "_is_merge": True} for i in ids[::10]]
            store.write_rows(batch)
        store.close()
    except BaseException:  # report everything, "database is locked" included
        errors.put(f"worker {worker}: {traceback.format_exc()}")
        raise


def test_four_processes_write_at_once(tmp_path):
    path = str(tmp_path / ".braintrust" / "braintrust.sqlite")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    errors = context.Queue()
    workers = [context.Process(target=_writer, args=(path, n, barrier, errors)) for n in range(PROCESSES)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    assert not problems, "\n".join(problems)
    assert [w.exitcode for w in workers] == [0] * PROCESSES

    with LocalStore(path) as store:
        rows, _ = store.fetch_rows("experiment", EXP)
        assert len(rows) == PROCESSES * ROWS_PER_PROCESS
        assert len({r["id"] for r in rows}) == PROCESSES * ROWS_PER_PROCESS
        merged = [r for r in rows if r.get("metrics") == {"end": 1.0}]
        assert len(merged) == PROCESSES * ROWS_PER_PROCESS // 10
        assert all(r["input"]["worker"] == int(r["id"][1]) for r in rows)
        xacts = store.connection().execute("SELECT xact_id FROM row_log ORDER BY seq").fetchall()
        assert [x[0] for x in xacts] == sorted(x[0] for x in xacts)  # ids increase with the log
        assert store.connection().execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_threads_share_one_store(tmp_path):
    store = LocalStore(tmp_path / "braintrust.sqlite")
    failures: list[BaseException] = []

    def write(thread: int) -> None:
        try:
            for start in range(0, 500, 25):
                store.write_rows([{"id": f"t{thread}-{i}", "experiment_id": EXP} for i in range(start, start + 25)])
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert store.count_rows("experiment", EXP) == 2000
    store.close()


def test_connections_of_ended_threads_are_closed(tmp_path):
    store = LocalStore(tmp_path / "braintrust.sqlite")
    for n in range(5):
        thread = threading.Thread(target=store.write_rows, args=([{"id": f"r{n}", "experiment_id": EXP}],))
        thread.start()
        thread.join()
    store.count_rows("experiment", EXP)  # this thread opens one: the ended threads' are closed
    assert len(store._pool._open) == 1
    assert store.count_rows("experiment", EXP) == 5
    store.close()


EXIT_CHECK = r'''
import atexit, gc, sqlite3, sys

def every_connection_closed():  # registered first: runs last, after the SDK's exit hooks
    still_open = 0
    for obj in gc.get_objects():
        if isinstance(obj, sqlite3.Connection):
            try:
                obj.execute("SELECT 1")
                still_open += 1
            except sqlite3.ProgrammingError:  # closed
                pass
    sys.stdout.write(f"open connections at exit: {still_open}\n")
    sys.stdout.flush()

atexit.register(every_connection_closed)

import braintrust

braintrust.Eval("exit-check", data=[{"input": i, "expected": i} for i in range(8)], task=lambda x: x,
                scores=[lambda output, expected: output == expected])  # (its summary reads on a pool thread)
dataset = braintrust.init_dataset(project="exit-check", name="d")
dataset.insert(input=1)
dataset.flush()
assert len(list(braintrust.init_dataset(project="exit-check", name="d"))) == 1
'''


def test_no_connection_is_left_open_at_exit(tmp_path):
    """Short-lived readers (an experiment's summary, a dataset read) and thread-pool threads
    (``Eval``'s) opened connections and left them to the interpreter's teardown, where Python
    3.13 warns about each (``ResourceWarning: unclosed database``, shown under ``-X dev``)."""
    import subprocess
    import sys

    env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"))
    result = subprocess.run([sys.executable, "-W", "error::ResourceWarning", "-c", EXIT_CHECK], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "open connections at exit: 0" in result.stdout, result.stdout + result.stderr
    assert "ResourceWarning" not in result.stderr, result.stderr


def test_many_openers_of_a_new_store_never_take_it_for_someone_elses(tmp_path):
    """Threads opening a store another is creating: one may see the tables committed between its
    reads; that store is ours, never "an SQLite database but not a Braintrust store"."""
    failures: list[BaseException] = []
    for attempt in range(40):
        path = tmp_path / f"new-{attempt}" / "braintrust.sqlite"

        def open_it() -> None:
            try:
                store = LocalStore(path)
                store.list_projects()
                store.close()
            except BaseException as exc:  # pragma: no cover - reported below
                failures.append(exc)

        threads = [threading.Thread(target=open_it) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not failures, failures[:3]
