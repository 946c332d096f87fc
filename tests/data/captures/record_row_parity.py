"""Record the rows 0.48.1's ``Eval`` sends for ``tests/plugin/test_qa11_row_parity.py``: its cases
(every scorer return shape, trials) run by the public SDK against the test server, the
experiment's rows as the server merged them, reduced to the fields that test compares.

    python tests/data/captures/record_row_parity.py "$PWD/bench/.venvs/public-sdk/bin/python"

Writes ``eval_row_parity.rows.json`` beside this file (the public SDK needs autoevals installed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/
sys.path.insert(0, str(HERE.parents[1] / "plugin"))

from btserver import BraintrustTestServer  # noqa: E402
from test_qa11_row_parity import EVAL_SCRIPT, SHAPES, reduced  # noqa: E402

OUT = HERE / "eval_row_parity.rows.json"


def main(python: str) -> int:
    with BraintrustTestServer(org_name="recorder-org") as server, tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "qa11_shapes.py").write_text(SHAPES)
        (Path(folder) / "eval_side.py").write_text(EVAL_SCRIPT)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BRAINTRUST_", "PYTHON"))}
        env.update(BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url, PYTHONPATH=folder)
        ran = subprocess.run([python, "eval_side.py"], cwd=folder, env=env, capture_output=True, text=True, timeout=120)
        if ran.returncode != 0:
            print(ran.stdout, ran.stderr, file=sys.stderr)
            return 1
        (experiment,) = server.experiments()
        rows = [reduced(row) for row in server.rows("experiment", experiment["id"])]
    OUT.write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n")
    print(f"{len(rows)} rows -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
