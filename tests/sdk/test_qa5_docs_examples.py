"""Snippets as users copy them from Braintrust's docs and the public SDK 0.48.1, run unchanged on
ours in a subprocess against the loopback test server (each test names where its snippet comes
from). Only snippets that found a difference from 0.48.1, or cover a path no other test does."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from delivery_helpers import subprocess_env

# public SDK 0.48.1, braintrust/wrappers/threads.py and the `BRAINTRUST_INSTRUMENT_THREADS` check in
# its braintrust/__init__.py: plain threads and thread pools carry the span context.
THREADS_SNIPPET = """
import threading
from concurrent.futures import ThreadPoolExecutor
import braintrust
from braintrust import traced
{setup}
logger = braintrust.init_logger(project="Instrumented threads")

@traced
def work(i):
    return i * i

@traced
def fanout():
    with ThreadPoolExecutor(max_workers=2) as pool:
        res = [f.result() for f in [pool.submit(work, i) for i in range(2)]]
        res += list(pool.map(work, [5]))
    t = threading.Thread(target=work, args=(7,))
    t.start(); t.join()
    return res

print(fanout())
logger.flush()
"""


def _run(code: str, server, tmp_path, **variables: str) -> subprocess.CompletedProcess:
    script = tmp_path / "snippet.py"
    script.write_text(textwrap.dedent(code))
    env = subprocess_env(BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url,
                         BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"), **variables)
    return subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)


def _parents_of_work(server) -> list:
    rows = server.rows()
    (fanout,) = [r for r in rows if r["span_attributes"]["name"] == "fanout"]
    work = [r for r in rows if r["span_attributes"]["name"] == "work"]
    assert sorted(r["input"]["i"] for r in work) == [0, 1, 5, 7]
    return [(r["span_parents"], r["root_span_id"]) == ([fanout["span_id"]], fanout["root_span_id"]) for r in work]


def test_instrument_threads_env_var_nests_thread_spans(bt_server, tmp_path):
    proc = _run(THREADS_SNIPPET.format(setup=""), bt_server, tmp_path, BRAINTRUST_INSTRUMENT_THREADS="true")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[0, 1, 25]"
    assert _parents_of_work(bt_server) == [True] * 4


def test_setup_threads_called_directly(bt_server, tmp_path):
    setup = "from braintrust.wrappers.threads import setup_threads, patch_thread, patch_thread_pool_executor\n" \
            "assert setup_threads() is True and setup_threads() is True\n" \
            "assert patch_thread(threading.Thread) is threading.Thread\n"
    proc = _run(THREADS_SNIPPET.format(setup=setup), bt_server, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _parents_of_work(bt_server) == [True] * 4


def test_threads_not_instrumented_without_the_variable(bt_server, tmp_path):
    """As in 0.48.1: without it a plain thread's spans are traces of their own."""
    proc = _run(THREADS_SNIPPET.format(setup=""), bt_server, tmp_path, BRAINTRUST_INSTRUMENT_THREADS="false")
    assert proc.returncode == 0, proc.stderr
    assert _parents_of_work(bt_server) == [False] * 4
