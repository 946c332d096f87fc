"""The hook ``braintrust eval`` uses: ``collecting()`` records evaluators instead of running them;
``run_evaluator`` runs one (filters, no_send_logs, num_workers)."""

from __future__ import annotations

import asyncio
import re
import runpy
import textwrap
import threading
import time

import pytest

from braintrust.eval import registry
from braintrust.eval.reporters import default_reporter
from braintrust.framework import Eval, EvalAsync, Evaluator, Reporter
from eval_support import roots, stored_rows

EVAL_FILE = '''
from braintrust.framework import Eval, Reporter

calls = []
mine = Reporter("mine", report_eval=lambda ev, result, verbose, jsonl: len(result.results), report_run=lambda reports, verbose, jsonl: sum(reports) > 0)

def task(input):
    calls.append(input)
    return input

result = Eval(
    "registry-project",
    data=[
        {"input": {"name": "foo-x-bar"}, "metadata": {"priority": "P0"}},
        {"input": {"name": "foo-y"}, "metadata": {"priority": "P1"}},
        {"input": {"name": "other-bar"}, "metadata": {"priority": "P0"}},
    ],
    task=task,
    scores=[lambda output: 1],
    reporter="mine",
)
second = Eval("registry-project", data=[{"input": 1}], task=task, scores=[lambda output: 1], experiment_name="named")
'''


def _load(tmp_path):
    path = tmp_path / "eval_sample.py"
    path.write_text(textwrap.dedent(EVAL_FILE))
    with registry.collecting():
        module = runpy.run_path(str(path))
    return module


def test_collecting_records_instead_of_running(tmp_path):
    module = _load(tmp_path)
    assert module["calls"] == [] and module["result"] is None and module["second"] is None
    entries = registry.registered()
    assert [e.evaluator.eval_name for e in entries][1].startswith("registry-project [experiment_name=named]")
    assert all(isinstance(e.evaluator, Evaluator) for e in entries)
    assert entries[0].reporter == "mine" and entries[1].reporter is None
    assert registry.resolve_reporter(entries[0].reporter).name == "mine"
    assert registry.resolve_reporter(None) is default_reporter
    with pytest.raises(ValueError, match="not defined"):
        registry.resolve_reporter("nope")
    assert not registry.is_collecting()


def test_run_evaluator_with_filters(tmp_path):
    module = _load(tmp_path)
    entry = registry.registered()[0]
    result = registry.run_evaluator(
        entry.evaluator, filters=[("metadata.priority", re.compile("^P0$")), ("input.name", re.compile("foo.*bar"))]
    )
    assert module["calls"] == [{"name": "foo-x-bar"}]
    assert [r.input for r in result.results] == [{"name": "foo-x-bar"}]
    assert len(roots(stored_rows(result))) == 1
    reporter = registry.resolve_reporter(entry.reporter)
    report = reporter.report_eval(entry.evaluator, result, False, False)
    assert report == 1 and reporter.report_run([report], False, False) is True


def test_run_evaluator_no_send_logs_and_num_workers(tmp_path):
    _load(tmp_path)
    entry = registry.registered()[0]
    peak, now, lock = [0], [0], threading.Lock()

    def slow(input):
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        time.sleep(0.05)
        with lock:
            now[0] -= 1
        return input

    entry.evaluator.task = slow
    result = registry.run_evaluator(entry.evaluator, no_send_logs=True, num_workers=1)
    assert len(result.results) == 3 and result.summary.experiment_id is None
    assert peak[0] == 1


def test_eval_async_is_collected_too():
    async def main():
        with registry.collecting():
            value = await EvalAsync("registry-async", data=[{"input": 1}], task=lambda x: x, scores=[lambda output: 1])
        return value

    assert asyncio.run(main()) is None
    assert [e.evaluator.project_name for e in registry.registered()] == ["registry-async"]


def test_reporters_outside_collecting_are_not_registered():
    with registry.collecting():
        pass
    Reporter("loose", report_eval=lambda *a: None, report_run=lambda *a: True)
    assert "loose" not in registry.registered_reporters()


def test_eval_outside_collecting_runs():
    result = Eval("registry-project", data=[{"input": 1}], task=lambda x: x, scores=[lambda output: 1])
    assert len(result.results) == 1


def test_run_evaluator_refuses_to_nest_in_a_running_loop():
    with registry.collecting():
        Eval("registry-nested", data=[{"input": 1}], task=lambda x: x, scores=[lambda output: 1])
    evaluator = registry.registered()[0].evaluator

    async def main():
        with pytest.raises(RuntimeError, match="already running"):
            registry.run_evaluator(evaluator)
        return await registry.run_evaluator_async(evaluator, no_send_logs=True)

    assert len(asyncio.run(main()).results) == 1
