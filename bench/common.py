"""What the benchmark scripts share: the test server in its own process, a clean environment,
running a workload that prints one JSON line, the public SDK's venv, and labels."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
COUNT_SERVER = BENCH / "count_server.py"
API_KEY = "test-api-key"


class TestServer:
    """A loopback Braintrust API server in its own process, fresh for every run. By default
    bench/count_server.py (``tests.btserver`` count-only, plus distinct rows); ``command`` and
    ``cwd`` run another one (it must print ``READY <url>`` first)."""

    def __init__(self, workdir: Path, command: list[str] | None = None, cwd: Path | None = None):
        self.log_path = workdir / "server.log"
        self.log_file = open(self.log_path, "w")
        self.process = subprocess.Popen(
            command or [sys.executable, str(COUNT_SERVER), "--port", "0", "--api-key", API_KEY],
            cwd=cwd or workdir,
            stdout=subprocess.PIPE,
            stderr=self.log_file,
            text=True,
        )
        line = self.process.stdout.readline()
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"test server did not start: {line!r}; see {self.log_path}")
        self.url = line.split()[1]
        threading.Thread(target=self.process.stdout.read, daemon=True).start()  # never block on a full pipe

    def get_json(self, path: str) -> dict:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=30) as response:
            return json.load(response)

    def stats(self) -> dict:
        """count_server.py's counters (distinct rows, writes, requests, span types)."""
        return self.get_json("/_test/bench_stats")

    def rows_received(self) -> int:
        return self.get_json("/_test/stats")["rows_received"]

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the server process has used so far (from /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log_file.close()


#: Left out of every run's environment. ``PYTHONDONTWRITEBYTECODE`` too: with it set, a package
#: installed from source (ours, editable) is compiled again by every run, while one installed from
#: a wheel (the public SDK, pytest) has its bytecode from the install; users' runs cache it.
DROPPED_VARIABLES = ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")


def clean_env(**extra: str) -> dict:
    """The current environment without BRAINTRUST_*, PYTEST_* and ``DROPPED_VARIABLES``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BRAINTRUST_", "PYTEST_")) and k not in DROPPED_VARIABLES}
    env.update(extra)
    return env


def run_json_workload(python: Path | str, script: Path, size: int, env: dict, workdir: Path, timeout: float) -> dict:
    """Run ``script size`` in ``workdir`` (never the repo: its ``braintrust/`` would shadow the
    public SDK) and parse the last JSON line it prints; its stderr tail is kept."""
    proc = subprocess.run(
        [str(python), str(script), str(size)], cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"workload failed (exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    result = json.loads(lines[-1])
    result["stderr_tail"] = proc.stderr.strip()[-1500:]
    return result


def setup_public_sdk() -> None:
    """bench/setup_public_sdk.sh: the public SDK in its own venv (made once)."""
    subprocess.run(["bash", str(BENCH / "setup_public_sdk.sh")], check=True, stdout=sys.stderr)


def git_tree() -> str:
    """The commit benchmarked, "+dirty" when our packages have uncommitted changes."""

    def git(*cmd: str) -> str:
        return subprocess.run(["git", *cmd], cwd=REPO, capture_output=True, text=True).stdout.strip()

    dirty = git("status", "--porcelain", "--", "braintrust", "pytest_braintrust")
    return git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")


def short(n: int) -> str:
    """2000 -> "2k", 500 -> "500"."""
    return f"{n // 1000}k" if n % 1000 == 0 else str(n)
