"""Record what an SDK sends while running ``scenario_NAME.py`` against the test server: one JSON
line per request (the format of this folder's captures, without headers and timings).

    python tests/data/captures/record_scenario.py openai bench/.venvs/public-sdk/bin/python > tests/data/captures/openai.jsonl

The public SDK's environment comes from ``bench/setup_public_sdk.sh`` (plus ``pip install openai``
there for ``openai``). Paths of this folder inside rows are written as ``<app>``, the port as ``PORT``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # tests/

from btserver import BraintrustTestServer  # noqa: E402


def main(name: str, python: str) -> int:
    with BraintrustTestServer(org_name="recorder-org") as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINTRUST_")}
        env.update(BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url)
        proc = subprocess.run([python, str(HERE / f"scenario_{name}.py")], env=env, cwd=HERE.parents[2],
                              capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            print(proc.stdout, proc.stderr, file=sys.stderr)
            return 1
        port = server.url.rsplit(":", 1)[1]
        for seq, request in enumerate(server.requests, 1):
            entry = {"seq": seq, "method": request.method, "path": request.path, "query": request.query,
                     "body_kind": "json" if request.json is not None else "empty", "body": request.json,
                     "status": request.status}
            line = json.dumps(entry, sort_keys=True).replace(json.dumps(str(HERE))[1:-1], "<app>")
            print(line.replace(f"127.0.0.1:{port}", "127.0.0.1:PORT"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
