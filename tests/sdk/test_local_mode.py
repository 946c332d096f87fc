"""Without an API key (or with ``BRAINTRUST_LOCAL=1``) rows go to the embedded SQLite store."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import braintrust
from braintrust.store.sqlite_store import LocalStore
from delivery_helpers import subprocess_env

SCRIPT = """
    import braintrust
    from braintrust import traced

    logger = braintrust.init_logger(project="local-project")
    logger.log(input={"q": 1}, output="a", scores={"ok": 1})

    @traced
    def step(x):
        return x + 1

    with braintrust.start_span(name="outer") as outer:
        step(1)
    {ending}
"""


def _env(store: Path, **extra: str) -> dict[str, str]:
    return subprocess_env(BRAINTRUST_LOCAL_DIR=str(store), **extra)


def _run_script(tmp_path: Path, env: dict[str, str], ending: str = "braintrust.flush()") -> subprocess.CompletedProcess:
    code = textwrap.dedent(SCRIPT).replace("{ending}", ending)
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


def _project_rows(store_dir: Path, project: str = "local-project") -> list[dict]:
    store = LocalStore(store_dir / "braintrust.sqlite")
    try:
        (found,) = [p for p in store.list_projects() if p["name"] == project]
        rows, _ = store.fetch_rows("project_logs", found["id"])
        return rows
    finally:
        store.close()


def _check_rows(rows: list[dict]) -> None:
    by_name = {r["span_attributes"]["name"]: r for r in rows}
    assert set(by_name) == {"root", "outer", "step"}
    assert by_name["root"]["input"] == {"q": 1} and by_name["root"]["scores"] == {"ok": 1}
    assert by_name["step"]["span_parents"] == [by_name["outer"]["span_id"]]
    assert by_name["step"]["output"] == 2
    assert "end" in by_name["outer"]["metrics"]


def test_no_api_key_writes_the_local_store_and_says_where_once(tmp_path):
    store = tmp_path / "store"
    proc = _run_script(tmp_path, _env(store))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(store) in lines[0]
    assert "no BRAINTRUST_API_KEY" in lines[0]
    _check_rows(_project_rows(store))


def test_rows_reach_the_store_at_exit_without_flush(tmp_path):
    store = tmp_path / "store"
    proc = _run_script(tmp_path, _env(store), ending="")
    assert proc.returncode == 0, proc.stderr
    _check_rows(_project_rows(store))


def test_braintrust_local_wins_over_an_api_key(tmp_path, bt_server):
    store = tmp_path / "store"
    env = _env(store, BRAINTRUST_LOCAL="1", BRAINTRUST_API_KEY=bt_server.api_key, BRAINTRUST_APP_URL=bt_server.url)
    proc = _run_script(tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert bt_server.requests == []
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "BRAINTRUST_LOCAL" in lines[0] and str(store) in lines[0]
    assert bt_server.api_key not in proc.stderr
    _check_rows(_project_rows(store))


def test_braintrust_list_shows_the_project(tmp_path):
    store = tmp_path / "store"
    assert _run_script(tmp_path, _env(store)).returncode == 0
    listing = subprocess.run(
        [sys.executable, "-m", "braintrust.cli.main", "list"],
        cwd=tmp_path, env=_env(store), capture_output=True, text=True, timeout=60,
    )
    assert listing.returncode == 0, listing.stderr
    assert "local-project" in listing.stdout
    assert str(store) in listing.stdout


def test_in_process_local_mode(tmp_path):
    store_dir = Path(os.environ["BRAINTRUST_LOCAL_DIR"])  # set per test by the isolation fixture
    braintrust.login()  # no key: selects the local store, raises nothing
    logger = braintrust.init_logger(project="in-process")
    row_id = logger.log(input="x", metadata={"k": 1})

    @braintrust.traced(name="work")
    def work():
        braintrust.current_span().log(output="done")

    with logger.start_span(name="parent") as parent:
        work()
    result = braintrust.flush()
    assert result.ok, result.describe()
    assert logger.id  # resolved in the store, no network
    link = parent.permalink()
    assert link.startswith((store_dir / "braintrust.sqlite").as_uri() + "?")
    assert f"id={parent.id}" in link
    rows = {r["id"]: r for r in _project_rows(store_dir, "in-process")}
    assert rows[row_id]["metadata"] == {"k": 1}
    (work_row,) = [r for r in rows.values() if r["span_attributes"]["name"] == "work"]
    assert work_row["span_parents"] == [parent.span_id]
    assert work_row["output"] == "done"
    assert all(r["project_id"] == logger.id for r in rows.values())


def test_local_feedback_and_update_span_merge_in_the_store():
    store_dir = Path(os.environ["BRAINTRUST_LOCAL_DIR"])
    logger = braintrust.init_logger(project="merges")
    with logger.start_span(name="s", input=1) as span:
        pass
    braintrust.flush()
    logger.log_feedback(id=span.id, scores={"good": 1}, comment="nice")
    braintrust.update_span(span.export(), metadata={"late": True})
    result = braintrust.flush()
    assert result.ok, result.describe()
    rows = _project_rows(store_dir, "merges")
    target = next(r for r in rows if r["id"] == span.id)
    assert target["input"] == 1
    assert target["scores"] == {"good": 1}
    assert target["metadata"] == {"late": True}
    assert any(r.get("comment") == {"text": "nice"} for r in rows)


@pytest.mark.parametrize("value", ["", "  "])
def test_blank_api_key_counts_as_unset(monkeypatch, value):
    monkeypatch.setenv("BRAINTRUST_API_KEY", value)
    logger = braintrust.init_logger(project="blank-key")
    logger.log(input=1)
    result = braintrust.flush()
    assert result.ok, result.describe()
    assert len(_project_rows(Path(os.environ["BRAINTRUST_LOCAL_DIR"]), "blank-key")) == 1


def test_masking_applies_before_the_local_store():
    store_dir = Path(os.environ["BRAINTRUST_LOCAL_DIR"])

    def mask(value):
        if isinstance(value, str) and "SECRET" in value:
            raise RuntimeError("cannot mask " + value)
        return value

    braintrust.set_masking_function(mask)
    logger = braintrust.init_logger(project="masked-local")
    logger.log(input="SECRET-TOKEN-123", output="fine")
    result = braintrust.flush()
    assert result.ok, result.describe()
    (row,) = _project_rows(store_dir, "masked-local")
    assert row["input"] == "ERROR: Failed to mask field 'input' - RuntimeError"
    assert row["output"] == "fine"
    for path in store_dir.rglob("*"):
        if path.is_file():
            assert b"SECRET-TOKEN-123" not in path.read_bytes(), path
