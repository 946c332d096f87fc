"""reliability.md audited promise by promise (QA round 5): the spill folder shared by processes
(pytest-xdist workers) keeps ``spilled`` equal to what is on disk, and the API key stays out of
every output channel of a ``pytest --braintrust`` run whose key is refused."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from btserver import BraintrustTestServer, Step
from braintrust.delivery.processor import FlushError
from delivery_helpers import assert_invariant, make_processor, make_row, project_ref, spilled_rows, subprocess_env


def spill_batch(processor, backend, prefix: str, rows: int = 3) -> None:
    """Log ``rows`` rows that the backend refuses, and flush: they spill in one file."""
    backend.fail_next("http_5xx")
    for i in range(rows):
        processor.enqueue(project_ref(), make_row(f"{prefix}-{i}", output="p" * 300), 400)
    with pytest.raises(FlushError):
        processor.flush()


def test_a_spill_file_another_process_removes_over_its_budget_is_counted_dropped_not_spilled(tmp_path):
    """Workers of one run share the spill folder. One worker's budget removes the oldest files,
    another worker's among them: that worker's rows are no longer on disk, so they count as
    dropped (``spill_file_removed``), with an error saying so. Without the fix they stayed
    counted as spilled (replayable) although their file was gone."""
    first, first_backend, spill_dir = make_processor(tmp_path, budget_bytes=4000, sync_flush=True)
    second, second_backend, same_dir = make_processor(tmp_path, budget_bytes=4000, sync_flush=True)
    assert same_dir == spill_dir
    spill_batch(first, first_backend, "first")
    assert first.stats().spilled == 3
    for batch in range(4):  # the second worker spills past the budget: the first's file goes
        spill_batch(second, second_backend, f"second{batch}")
    on_disk = {row["id"] for row in spilled_rows(spill_dir)}
    assert not any(row_id.startswith("first-") for row_id in on_disk)

    result = first.flush()  # (nothing new to send: the flush notices its file is gone)
    assert_invariant(result)
    assert result.spilled == 0 and result.dropped == {"spill_file_removed": 3}
    assert any("removed by another process" in error for error in result.errors), result.errors
    second_result = second.stats()
    assert_invariant(second_result)
    ids_on_disk_of_second = {row_id for row_id in on_disk if row_id.startswith("second")}
    assert second_result.spilled == len(ids_on_disk_of_second)


def test_a_spill_file_removed_between_two_spills_is_noticed_at_the_next_spill(tmp_path):
    processor, backend, spill_dir = make_processor(tmp_path, sync_flush=True)
    spill_batch(processor, backend, "a")
    for path in spill_dir.glob("spill-*.json"):
        path.unlink()  # (another process's budget, or a replay)
    spill_batch(processor, backend, "b")
    result = processor.stats()
    assert_invariant(result)
    assert result.spilled == 3 and result.spilled_by_reason == {"http_5xx": 3}
    assert result.dropped == {"spill_file_removed": 3}
    assert {row["id"] for row in spilled_rows(spill_dir)} == {"b-0", "b-1", "b-2"}


KEY = "sk-qa5REFUSEDkey0123456789abcdef"


def test_a_refused_key_never_reaches_any_output_of_a_pytest_run(tmp_path):
    """The key is refused (401 on /logs3): every row spills, one error says so. The key appears
    in none of the run's outputs: terminal (with ``-l`` locals and DEBUG logs), JUnit XML, the
    JSON summary, the step summary, ``.pytest_cache``, the spill files or the local store; the
    JSON summary's delivery counts satisfy the invariant; spill files are 0600 in a 0700 folder."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "test_cases.py").write_text(textwrap.dedent("""
        import braintrust
        from pytest_braintrust import eval_case

        def exact(output, expected):
            return output == expected

        @eval_case(input="a", expected="A", scorers=[exact])
        def test_right(braintrust_case):
            return "A"

        @eval_case(input="b", expected="B", scorers=[exact])
        def test_wrong(braintrust_case):
            state = braintrust.login()
            assert braintrust_case.input == "B"
    """))
    with BraintrustTestServer(api_key=KEY) as server:
        server.fail_always("POST", "/logs3", Step(status=401))
        env = subprocess_env(
            BRAINTRUST_API_KEY=KEY, BRAINTRUST_APP_URL=server.url, BRAINTRUST_LOCAL_DIR=str(project / ".braintrust"),
            BRAINTRUST_FLUSH_TIMEOUT="5", GITHUB_STEP_SUMMARY=str(tmp_path / "step.md"),
        )
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "--braintrust", "-l", "--tb=long", "-rA", "--log-level=DEBUG",
             f"--junitxml={tmp_path / 'junit.xml'}", f"--braintrust-json={tmp_path / 'summary.json'}", "-p", "no:xdist"],
            cwd=project, env=env, capture_output=True, text=True, timeout=120,
        )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "1 failed, 1 passed" in output, output[-3000:]
    assert "refused the API key" in output, output[-3000:]
    delivery = json.loads((tmp_path / "summary.json").read_text())["delivery"]
    assert delivery["produced"] > 0 and delivery["accepted"] == 0
    assert delivery["produced"] == delivery["accepted"] + delivery["spilled"] + sum(delivery["dropped"].values())
    spill_dir = project / ".braintrust" / "spill"
    spill_files = list(spill_dir.glob("spill-*.json"))
    assert spill_files and sum(json.loads(f.read_text())["item_count"] for f in spill_files) == delivery["spilled"]
    assert stat.S_IMODE(spill_dir.stat().st_mode) == 0o700
    assert {stat.S_IMODE(f.stat().st_mode) for f in spill_files} == {0o600}

    channels = {"terminal": output}
    for path in [tmp_path / "junit.xml", tmp_path / "summary.json", tmp_path / "step.md",
                 *project.joinpath(".pytest_cache").rglob("*"), *project.joinpath(".braintrust").rglob("*")]:
        if path.is_file():
            channels[str(path.relative_to(tmp_path))] = path.read_bytes().decode("utf-8", "replace")
    for name, text in channels.items():
        assert KEY not in text and KEY[4:-4] not in text, f"the key is in {name}"
