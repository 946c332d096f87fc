"""The library as a guest in its users' processes: logging left alone, warnings that point at the
user's line, no descriptors leaked, no crash or hang at exit or in a signal handler."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from delivery_helpers import subprocess_env

TESTS = Path(__file__).parent.parent
ROOT = TESTS.parent


def run_child(tmp_path: Path, source: str, timeout: float = 30, **env: str) -> subprocess.CompletedProcess:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(source))
    return subprocess.run([sys.executable, str(script), str(tmp_path)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=timeout, env=subprocess_env(BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"), **env))


IMPORT_CHECK = """
import io, logging, sys
root_before = (list(logging.root.handlers), logging.root.level)
captured, sys.stdout = sys.stdout, io.StringIO()
import braintrust, braintrust.logger, braintrust.wrappers.openai, braintrust.wrappers.anthropic
import pytest_braintrust
printed, sys.stdout = sys.stdout.getvalue(), captured
own = logging.getLogger("braintrust")
print(repr(printed), root_before == (logging.root.handlers, logging.root.level), own.handlers, own.level,
      own.propagate, logging.getLogRecordFactory() is logging.LogRecord)
"""


def test_importing_the_library_prints_nothing_and_leaves_logging_as_it_was(tmp_path):
    result = run_child(tmp_path, IMPORT_CHECK)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "'' True [] 0 True True", result.stdout


def test_a_client_warning_points_at_the_users_line():
    """``wrap_anthropic_client`` (0.48.1's deprecated name) warned about a non-client from
    inside the library (``anthropic.py``), not from the line that called it."""
    from braintrust import wrap_anthropic, wrap_openai
    from braintrust.wrappers.anthropic import wrap_anthropic_client

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wrap_openai(object()); line_openai = sys._getframe().f_lineno  # noqa: E702
        wrap_anthropic(object()); line_anthropic = sys._getframe().f_lineno  # noqa: E702
        wrap_anthropic_client(object()); line_deprecated = sys._getframe().f_lineno  # noqa: E702
    places = [(Path(w.filename).name, w.lineno, w.category) for w in caught]
    here = Path(__file__).name
    assert places == [(here, line_openai, UserWarning), (here, line_anthropic, UserWarning),
                      (here, line_deprecated, DeprecationWarning), (here, line_deprecated, UserWarning)], places
    assert "wrap_anthropic_client:" in str(caught[-1].message)


FD_CYCLES = """
import gc, os, braintrust
def descriptors():
    gc.collect()
    return len(os.listdir("/proc/self/fd"))
for i in range(300):
    braintrust.init_logger(project=f"p{i % 3}").log(input=i)
    result = braintrust.flush()
    if i == 20:
        first = descriptors()
print(first, descriptors(), result.accepted)
"""


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="counts /proc/self/fd")
def test_init_logger_and_flush_cycles_leak_no_descriptors(tmp_path):
    result = run_child(tmp_path, FD_CYCLES)
    assert result.returncode == 0, result.stderr
    first, last, accepted = result.stdout.split()
    assert first == last and accepted == "300", result.stdout


BUSY_READER_AT_EXIT = """
import sys, threading, time
from pathlib import Path
from braintrust.store.connection import ConnectionPool

pool = ConnectionPool(Path(sys.argv[1]) / "store.sqlite")
busy = threading.Event()

def read_forever():  # a daemon thread still reading the store when the interpreter exits
    conn = pool.get()
    busy.set()
    while True:
        conn.execute("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) "
                     "SELECT count(*) FROM c").fetchone()

threading.Thread(target=read_forever, daemon=True).start()
busy.wait()
time.sleep(0.05)
print("exiting", flush=True)
"""


def test_a_thread_busy_in_the_store_at_exit_does_not_crash_the_process(tmp_path):
    """The exit closed every connection of the store, those other live threads were running a
    statement on included: the process died of SIGSEGV (a daemon thread logging to the local
    store at exit, the sender busy writing its rows, crashed 4 runs in 10)."""
    result = run_child(tmp_path, BUSY_READER_AT_EXIT)
    assert result.stdout.strip() == "exiting"
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])


FLUSH_IN_SIGNAL_HANDLER = """
import faulthandler, os, signal, threading, time
faulthandler.dump_traceback_later(3, exit=True)  # a hang ends the child (exit code 1)
import braintrust
from braintrust.delivery import processor

logger = braintrust.init_logger(project="signals")
entered, flushed = [], []

def on_usr1(signum, frame):
    while frame is not None and frame.f_code is not processor.Processor._enqueue_item.__code__:
        frame = frame.f_back
    if frame is not None and not entered:  # it interrupted a log() of this thread in the processor
        entered.append(True)
        flushed.append(braintrust.flush(timeout=1))

signal.signal(signal.SIGUSR1, on_usr1)
done = threading.Event()

def send_signals():
    while not done.is_set():
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.0002)

threading.Thread(target=send_signals, daemon=True).start()
logged = 0
while not flushed:
    logger.log(input=logged)
    logged += 1
done.set()
result = braintrust.flush()
print(result.produced == result.accepted == logged, flush=True)
"""


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGUSR1"), reason="POSIX signals")
def test_flush_from_a_signal_handler_that_interrupted_a_log_call_returns(tmp_path):
    """``braintrust.flush()`` in a signal handler that interrupted ``log()`` while it held the
    processor's lock waited for that lock, held by the interrupted frame below it: forever."""
    result = run_child(tmp_path, FLUSH_IN_SIGNAL_HANDLER)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "True"


LOST_INTERRUPT = """
import sys, types
import braintrust.tracing.reentry as reentry
# What Python hands the hook when Ctrl-C's handler ran as the gc callback started (it drops
# exceptions raised in gc callbacks): the interrupt must still reach the program.
lost = types.SimpleNamespace(exc_type=KeyboardInterrupt, exc_value=KeyboardInterrupt(), exc_traceback=None,
                             err_msg=None, object=reentry._on_collection)
try:
    sys.unraisablehook(lost)
    for _ in range(100000):
        pass
    print("LOST")
except KeyboardInterrupt:
    print("DELIVERED")
"""


@pytest.mark.skipif(sys.version_info[:2] == (3, 11), reason="no gc callback on Python 3.11 (see braintrust/tracing/reentry.py)")
def test_a_ctrl_c_landing_in_the_gc_callback_is_delivered_after_it(tmp_path):
    """Seen on 3.10: Ctrl-C during `braintrust show` printed "Exception ignored in
    _on_collection ... KeyboardInterrupt" and the command went on to exit 0."""
    done = subprocess.run([sys.executable, "-c", LOST_INTERRUPT], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env=subprocess_env(PYTHONPATH=str(Path(__file__).resolve().parents[2])))
    assert done.stdout.strip() == "DELIVERED", done.stderr
