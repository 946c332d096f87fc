"""Values found by seeded differential fuzzing of logged values against 0.48.1 (JSON safety).

0.48.1 copies a logged value into plain dicts and lists before orjson sees it. Our
``jsonsafe.encode_fresh`` handed the caller's data to orjson directly, and orjson does not count
tuples toward its nesting limit: a cycle through a tuple, or tuples nested deeply, killed the
process (orjson 3.12 and 3.13), or nested past ``MAX_DEPTH`` where ``snapshot`` cuts. Each check runs
in a child process, so a crash fails the test instead of the worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from braintrust.jsonsafe import CIRCULAR_REFERENCE, MAX_DEPTH_EXCEEDED, snapshot

pytest.importorskip("orjson")


MAKERS = {
    # d -> (d,) -> d: a cycle through a tuple, inside the row's input dict.
    "dict_tuple_cycle": "d = {'k': 1}\nd['self'] = (d,)\nvalue = d",
    "deep_tuples": "value = 'leaf'\nfor _ in range(300):\n    value = (value,)",
    "very_deep_tuples": "value = 'leaf'\nfor _ in range(20000):\n    value = (value,)",
}


def log_in_child(bt_server, tmp_path, make: str) -> dict:
    """Log ``value`` (built by ``make``) as input/output/metadata; the row the server received."""
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent("""\
        import braintrust
        {make}
        logger = braintrust.init_logger(project="fuzz")
        logger.log(id="first", input=1)
        logger.flush()  # resolved: the next log encodes its row at once (encode_fresh)
        logger.log(id="r", input=value, output=value, metadata={{"v": value}})
        logger.flush()
        """).format(make=make))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINTRUST_")}
    env.update(BRAINTRUST_API_KEY=bt_server.api_key, BRAINTRUST_APP_URL=bt_server.url,
               BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"))
    proc = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, f"logging crashed the process (rc={proc.returncode}):\n{proc.stderr[-2000:]}"
    rows = [r for r in bt_server.rows() if r.get("id") == "r"]
    assert len(rows) == 1
    return rows[0]


def expected_of(make: str) -> dict:
    """The row fields as ``snapshot`` copies them (depth counted from the row)."""
    scope: dict = {}
    exec(make, scope)
    value = scope["value"]
    return snapshot({"input": value, "output": value, "metadata": {"v": value}})[0]


def test_snapshot_cuts_tuples_like_lists():
    # What the rows below must hold (the snapshot path, which is already right).
    assert expected_of(MAKERS["dict_tuple_cycle"])["input"] == {"k": 1, "self": [CIRCULAR_REFERENCE]}
    deep = json.dumps(expected_of(MAKERS["deep_tuples"])["input"])
    assert deep.count("[") == 254 and deep.count(MAX_DEPTH_EXCEEDED) == 1


@pytest.mark.parametrize("case", sorted(MAKERS))
def test_tuples_reach_the_server_as_snapshot_writes_them(case, bt_server, tmp_path):
    row = log_in_child(bt_server, tmp_path, MAKERS[case])
    expected = expected_of(MAKERS[case])
    assert row["input"] == row["output"] == expected["input"]
    assert row["metadata"] == expected["metadata"]



def test_a_deferred_span_ended_with_a_cycle_through_a_tuple_is_logged(bt_server, tmp_path):
    """The plugin's spans (``DeferredSpan``) encode their end fields at once too, once the
    experiment is resolved: the same crash, in a pytest run."""
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent("""\
        import braintrust
        from braintrust.tracing.deferred import DeferredSpan
        d = {"k": 1}
        d["self"] = (d,)
        experiment = braintrust.init(project="fuzz", experiment="deferred")
        experiment.id  # resolved: the span's row is encoded at once
        span = DeferredSpan(experiment.ref, "case", "eval", {"input": "q"}, {"caller_functionname": "t"})
        span.finish({"output": d})
        experiment.flush()
        """))
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINTRUST_")}
    env.update(BRAINTRUST_API_KEY=bt_server.api_key, BRAINTRUST_APP_URL=bt_server.url)
    proc = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"logging crashed the process (rc={proc.returncode}):\n{proc.stderr[-2000:]}"
    (row,) = [r for r in bt_server.rows("experiment") if r.get("span_attributes", {}).get("name") == "case"]
    assert row["output"] == {"k": 1, "self": [CIRCULAR_REFERENCE]}
