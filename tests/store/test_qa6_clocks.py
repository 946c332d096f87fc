"""Time zones and clocks: runs in any ``TZ``, and clocks set back (an NTP correction) between two
runs or within one. Clock shifts happen in child processes only, through a ``sitecustomize``
that offsets ``time.time`` and ``datetime.now`` (the system clock is never touched)."""

from __future__ import annotations

import datetime
import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import braintrust
from braintrust.baseline import compare_with_base
from braintrust.store.sqlite_store import LocalStore

DAY = 86_400

_SITECUSTOMIZE = '''
import datetime, os, time
_offset = float(os.environ.get("QA_CLOCK_OFFSET") or 0)
if _offset:
    _real_time = time.time
    time.time = lambda: _real_time() + _offset

    class _ShiftedDatetime(datetime.datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.datetime.fromtimestamp(time.time(), tz)

    datetime.datetime = _ShiftedDatetime
'''


@pytest.fixture
def child(tmp_path):
    """``run(script, offset=0, tz=None)``: ``script`` in a child process writing to this test's
    local store, its clock ``offset`` seconds off and its ``TZ`` set; returns its stdout."""
    shim = tmp_path / "clock_shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    local_dir = tmp_path / "store"

    def run(script: str, offset: float = 0, tz: str | None = None) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINTRUST_")}
        env.update(BRAINTRUST_LOCAL_DIR=str(local_dir), QA_CLOCK_OFFSET=str(offset),
                   PYTHONPATH=os.pathsep.join(p for p in (str(shim), env.get("PYTHONPATH")) if p))
        if tz is not None:
            env["TZ"] = tz
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    run.store_path = local_dir / "braintrust.sqlite"  # type: ignore[attr-defined]
    return run


def _write_case(store: LocalStore, experiment_id: str, trace: str, start: float, end: float) -> None:
    store.write_rows([{"id": trace, "span_id": trace, "root_span_id": trace, "span_parents": None,
                       "experiment_id": experiment_id, "input": "q", "span_attributes": {"name": "test_q"},
                       "scores": {"pass": 1}, "metrics": {"start": start, "end": end}}])


def test_a_trace_that_ended_before_it_started_has_no_duration_in_the_summary(tmp_path):
    # The clock was set back an hour while the case ran: its end is before its start. Its length
    # is unknown; it is no "-3600 s duration", nor an improvement over a run that took 1 s.
    with LocalStore(tmp_path / "braintrust.sqlite") as store:
        project = store.get_or_create_project("p")["id"]
        base = store.create_experiment(project, "base")["id"]
        _write_case(store, base, "b", 1_000.0, 1_001.0)
        current = store.create_experiment(project, "current")["id"]
        _write_case(store, current, "c", 5_000.0, 1_400.0)
        comparison, chosen = compare_with_base(store, current)
    assert chosen["name"] == "base"
    assert "duration" not in comparison.metrics
    assert comparison.scores["pass"].score == 1


def test_durations_that_are_known_still_count_next_to_one_that_went_backwards(tmp_path):
    with LocalStore(tmp_path / "braintrust.sqlite") as store:
        project = store.get_or_create_project("p")["id"]
        experiment = store.create_experiment(project, "e")["id"]
        _write_case(store, experiment, "ok", 100.0, 102.5)
        _write_case(store, experiment, "back", 200.0, 150.0)
        comparison, _ = compare_with_base(store, experiment)
    assert math.isclose(comparison.metrics["duration"].metric, 2.5)



def test_show_prints_no_negative_duration_for_a_span_that_went_backwards(tmp_path):
    with LocalStore(tmp_path / "braintrust.sqlite") as store:
        project = store.get_or_create_project("p")["id"]
        experiment = store.create_experiment(project, "e")["id"]
        _write_case(store, experiment, "back", 200.0, 150.0)
    shown = subprocess.run([sys.executable, "-m", "braintrust", "show", "--store", str(tmp_path / "braintrust.sqlite"),
                            "p", "e"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    assert "test_q" in shown.stdout
    assert "-50.000 s" not in shown.stdout and "duration" not in shown.stdout


_JUMPING_SUITE = '''
import os, time
from pytest_braintrust import eval_case

@eval_case(input="q", expected="a")
def test_q(braintrust_case):
    if os.environ.get("QA_SET_BACK"):
        real = time.time
        time.time = lambda: real() - 3600  # an NTP correction while the case runs
    braintrust_case.log(output="a")
'''


def test_a_clock_set_back_during_a_case_does_not_print_a_negative_duration(pytester, monkeypatch):
    pytester.makepyfile(test_jump=_JUMPING_SUITE)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--braintrust").assert_outcomes(passed=1)
    monkeypatch.setenv("QA_SET_BACK", "1")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--braintrust")
    result.assert_outcomes(passed=1)
    output = result.stdout.str()
    assert "compared to" in output and "'pass' score" in output
    assert "'duration'" not in output, output


def test_datasets_list_in_the_order_they_were_made_when_the_clock_was_set_back(child):
    make = '''
        import braintrust
        dataset = braintrust.init_dataset(project="p", name="{name}")
        dataset.insert(input=1, expected=2)
        dataset.flush()
    '''
    child(make.replace("{name}", "first"))
    child(make.replace("{name}", "second"), offset=-DAY)  # made later, on a clock a day behind
    with LocalStore(child.store_path) as store:
        datasets = store.list_datasets()
    assert datasets[1]["created"] < datasets[0]["created"]  # (the shifted clock did write a day earlier)
    assert [d["name"] for d in datasets] == ["first", "second"]


def test_a_run_made_with_the_clock_set_back_is_still_the_last_run(child):
    run = '''
        import braintrust
        experiment = braintrust.init(project="p")
        experiment.log(input="q", output="a", scores={"pass": 1})
        experiment.flush()
        print(experiment.name)
    '''
    first = child(run).strip()
    second = child(run, offset=-DAY).strip()
    third = child(run).strip()
    with LocalStore(child.store_path) as store:
        names = [e["name"] for e in store.list_experiments()]
        assert names == [first, second, third]
        _, base = compare_with_base(store, store.get_experiment(name=third)["id"])
    assert base["name"] == second  # the run just before, though its clock said a day earlier


@pytest.mark.parametrize("tz", ["Asia/Kolkata", "America/St_Johns"])
def test_created_and_generated_names_are_utc_in_any_time_zone(child, tz):
    run = '''
        import json, time, braintrust
        time.tzset()
        experiment = braintrust.init(project="p")
        with experiment.start_span(name="case", input="q") as span:
            span.log(output="a")
        experiment.flush()
        print(json.dumps({"name": experiment.name, "id": experiment.id}))
    '''
    made = json.loads(child(run, tz=tz))
    with LocalStore(child.store_path) as store:
        record = store.get_experiment(id=made["id"])
        rows, _ = store.fetch_rows("experiment", made["id"])
    created = datetime.datetime.fromisoformat(record["created"])
    assert created.utcoffset() == datetime.timedelta(0)
    # "experiment-YYYYMMDD-HHMMSS": the moment it was made, in UTC (not the machine's zone)
    stamp = datetime.datetime.strptime(made["name"][-15:], "%Y%m%d-%H%M%S").replace(tzinfo=datetime.timezone.utc)
    assert abs((created - stamp).total_seconds()) < 2
    (row,) = rows
    assert row["created"].endswith("+00:00")
    assert abs(row["metrics"]["start"] - datetime.datetime.fromisoformat(row["created"]).timestamp()) < 1


def test_a_non_finite_start_or_end_time_is_sent_as_0_48_1_sends_it(bt_env):
    experiment = braintrust.init(project="p", experiment="e")
    span = experiment.start_span(name="nan", start_time=float("nan"))
    assert span.end(end_time=float("inf")) == float("inf")
    experiment.flush()
    rows = [row for body in bt_env.logs3_bodies if isinstance(body, dict) for row in body.get("rows") or []]
    metrics: dict = {}
    for row in rows:
        metrics.update(row.get("metrics") or {})
    assert metrics == {"start": "NaN", "end": "Infinity"}
