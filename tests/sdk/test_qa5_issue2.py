"""QA of issue #2 (the SDK core), item by item: what a user of the public SDK's API does, in a
real process, against the loopback server or the local store."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from delivery_helpers import subprocess_env

NEVER_ENDED = """
import braintrust
logger = braintrust.init_logger(project="never-ended")
span = logger.start_span(name="open-at-exit", input="kept")
span.log(output="so far")
child = span.start_span(name="child-open-at-exit")
child.log(metadata={"m": 1})
"""


def _run(script: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("destination", ["server", "local store"])
def test_spans_that_never_end_are_delivered_at_exit_when_nothing_else_was_written(destination, bt_server, tmp_path):
    """A process whose only writes are spans it never ends (a crash path, a forgotten ``end()``):
    their rows are held until the span ends, and the exit-time flush must still queue them, as
    0.48.1 sends them (it writes a span's row when it starts). The exit flush was registered only
    by the first queued row, so these rows were lost without a word."""
    env = subprocess_env(BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"), PYTHONPATH=os.getcwd())
    if destination == "server":
        env.update(BRAINTRUST_API_KEY=bt_server.api_key, BRAINTRUST_APP_URL=bt_server.url)
    done = _run(NEVER_ENDED, env)
    assert done.returncode == 0, done.stderr
    if destination == "server":
        rows = bt_server.rows("project_logs")
    else:
        from braintrust.store.sqlite_store import LocalStore

        store = LocalStore(tmp_path / "store" / "braintrust.sqlite")
        try:
            rows, _ = store.fetch_rows("project_logs", store.get_project(name="never-ended")["id"])
        finally:
            store.close()
    by_name = {row["span_attributes"]["name"]: row for row in rows}
    assert sorted(by_name) == ["child-open-at-exit", "open-at-exit"], done.stderr
    assert (by_name["open-at-exit"]["input"], by_name["open-at-exit"]["output"]) == ("kept", "so far")
    assert by_name["child-open-at-exit"]["metadata"] == {"m": 1}
    assert by_name["child-open-at-exit"]["span_parents"] == [by_name["open-at-exit"]["span_id"]]


OPEN_IN_MULTIPROCESSING_CHILDREN = """
import multiprocessing
import braintrust

logger = braintrust.init_logger(project="never-ended-mp")

def task(i):
    span = logger.start_span(name=f"open-{i}", input=i)
    span.log(output=i * 2)
    return i

if __name__ == "__main__":
    context = multiprocessing.get_context("fork")
    process = context.Process(target=task, args=(1,))
    process.start()
    process.join()
    with context.Pool(2) as pool:
        assert pool.map(task, [2, 3]) == [2, 3]
"""


def test_spans_left_open_by_multiprocessing_children_are_delivered(bt_server, tmp_path):
    """The same in ``multiprocessing`` children (their ``os._exit`` runs no ``atexit``: the flush
    runs from multiprocessing's exit hook, registered on the child's first use of the processor,
    which an open span's row had not been)."""
    script = tmp_path / "open_in_children.py"
    script.write_text(OPEN_IN_MULTIPROCESSING_CHILDREN)
    env = subprocess_env(BRAINTRUST_API_KEY=bt_server.api_key, BRAINTRUST_APP_URL=bt_server.url,
                         BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"), PYTHONPATH=os.getcwd())
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = bt_server.rows("project_logs")
    assert sorted((row["input"], row["output"]) for row in rows) == [(1, 2), (2, 4), (3, 6)], done.stderr


def test_sigterm_delivers_a_span_that_is_the_only_write(bt_server, tmp_path):
    """SIGTERM mid-run (the fault scenario of issue #2) when the only write so far is a span still
    open: it is delivered, as when anything else had been written before."""
    import signal

    script = tmp_path / "open_at_sigterm.py"
    script.write_text(
        "import time, braintrust\n"
        "logger = braintrust.init_logger(project='open-at-sigterm')\n"
        "span = logger.start_span(name='interrupted', input='kept')\n"
        "print('READY', flush=True)\n"
        "time.sleep(60)\n"
    )
    env = subprocess_env(BRAINTRUST_API_KEY=bt_server.api_key, BRAINTRUST_APP_URL=bt_server.url,
                         BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"), PYTHONPATH=os.getcwd())
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "READY"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
    rows = bt_server.rows("project_logs")
    assert [(row["span_attributes"]["name"], row["input"]) for row in rows] == [("interrupted", "kept")], stderr


def test_a_store_folder_made_for_spill_files_is_private(bt_server, tmp_path):
    """Rows that spill before any local store exists (Braintrust down) make ``.braintrust/`` as
    the parent of ``spill/``: it is 0700 like the spill folder (README: "0600 in a 0700 folder"),
    not left with the default mode (``mkdir`` applies its mode to the last folder only)."""
    from pathlib import Path

    url = bt_server.url
    bt_server.stop()
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text("")
    env = subprocess_env(BRAINTRUST_API_KEY=bt_server.api_key, BRAINTRUST_APP_URL=url, BRAINTRUST_FLUSH_TIMEOUT="1",
                         PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    done = subprocess.run([sys.executable, "-c", "import braintrust; braintrust.init_logger(project='p').log(input=1)"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "1 spilled" in done.stderr, done.stderr
    store = project / ".braintrust"
    assert list((store / "spill").glob("spill-*.json"))
    assert {path.name: oct(path.stat().st_mode & 0o777) for path in (store, store / "spill")} == {
        ".braintrust": "0o700", "spill": "0o700"}


GENERATOR_CLOSED_AT_FINALIZATION = """
import gc
import braintrust
logger = braintrust.init_logger(project="closed-at-exit")

@braintrust.traced
def stream():
    for i in range(5):
        yield i

class Holder:
    pass

holder = Holder()
holder.generator, holder.me = stream(), holder  # a cycle: only the interpreter's last collection closes it
next(holder.generator)
del holder
gc.disable()  # (not an earlier one)
"""


def test_a_write_while_python_shuts_down_is_one_line_not_a_traceback(bt_server, tmp_path):
    """A ``@traced`` generator left open in a reference cycle is closed by the interpreter's last
    collection, after the exit-time flush, when nothing can be imported: its span's end was a
    20-line ImportError traceback and "could not write a spill file". The span's row (queued by
    the exit flush) arrives; the late write is counted dropped and said in one line."""
    env = subprocess_env(BRAINTRUST_API_KEY=bt_server.api_key, BRAINTRUST_APP_URL=bt_server.url,
                         BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"), PYTHONPATH=os.getcwd())
    done = _run(GENERATOR_CLOSED_AT_FINALIZATION, env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "ImportError" not in done.stderr, done.stderr
    assert done.stderr.count("a row written while Python was shutting down") == 1, done.stderr
    assert [row["span_attributes"]["name"] for row in bt_server.rows("project_logs")] == ["stream"]
