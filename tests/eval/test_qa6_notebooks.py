"""Notebook-style use of ``Eval``: calls made while an event loop runs (Jupyter's case), held to
what the public SDK 0.48.1 does there."""

from __future__ import annotations

import asyncio

import pytest

from braintrust import Eval, EvalAsync
from braintrust.eval import registry
from braintrust.eval.reporters import Reporter

from eval_support import exact


def _reporter():
    return Reporter("nb-reporter", report_eval=lambda evaluator, result, verbose, jsonl: True, report_run=lambda reports, verbose, jsonl: True)


def test_a_reporter_name_inside_a_running_loop_fails_the_call_before_any_experiment(bt_env):
    # 0.48.1 raises at the call (a name means something only under `braintrust eval`); a Task
    # failing later would surface in a notebook only as "Task exception was never retrieved".
    _reporter()  # (defined in an earlier cell: still only a name outside `braintrust eval`)

    async def cell():
        with pytest.raises(ValueError, match="not a name.*braintrust eval"):
            Eval("nb-reporter-name", data=[{"input": 1, "expected": 1}], task=lambda x: x, scores=[exact], reporter="nb-reporter")
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert asyncio.run(cell()) == []
    assert bt_env.requests_to("/v1/experiment", "POST") == []


def test_a_reporter_name_outside_braintrust_eval_says_to_pass_the_object(bt_env):
    with pytest.raises(ValueError, match="Must specify a reporter object, not a name.*Reporter"):
        Eval("nb-reporter-name", data=[{"input": 1, "expected": 1}], task=lambda x: x, scores=[exact], reporter="nb-reporter")
    with pytest.raises(ValueError, match="not a name"):
        asyncio.run(EvalAsync("nb-reporter-name", data=[{"input": 1}], task=lambda x: x, scores=[exact], reporter="nb-reporter"))
    assert bt_env.requests_to("/v1/experiment", "POST") == []


def test_a_reporter_of_a_wrong_type_inside_a_running_loop_fails_the_call():
    async def cell():
        with pytest.raises(TypeError, match="reporter must be a ReporterDef"):
            Eval("nb-reporter-type", data=[{"input": 1}], task=lambda x: x, scores=[exact], reporter=42)
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert asyncio.run(cell()) == []


def test_a_reporter_object_defined_in_a_cell_still_reports(capsys):
    seen = []
    mine = Reporter("nb-mine", report_eval=lambda evaluator, result, verbose, jsonl: seen.append(len(result.results)), report_run=lambda reports, verbose, jsonl: True)

    async def cell():
        return await Eval("nb-reporter-obj", data=[{"input": 1, "expected": 1}], task=lambda x: x, scores=[exact], reporter=mine)

    result = asyncio.run(cell())
    assert result.results[0].scores == {"exact": 1.0}
    assert seen == [1]


def test_a_reporter_name_still_resolves_under_braintrust_eval():
    with registry.collecting():
        mine = _reporter()
        assert Eval("nb-collected", data=[{"input": 1}], task=lambda x: x, scores=[exact], reporter="nb-reporter") is None
        entry = registry.registered()[-1]
        assert registry.resolve_reporter(entry.reporter, registry.registered_reporters()) is mine
