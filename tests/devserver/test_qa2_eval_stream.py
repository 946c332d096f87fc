"""The dev server reports each case's output as a ``json_delta`` progress event itself (as 0.48.1's
does), now that ``Eval``'s ``stream`` sends only what a task reports: for every kind of task."""

from __future__ import annotations

import asyncio
import json

import pytest

from devserver.test_dev_server import call, events, plain, serving


def one_parameter(input):
    return {"echo": input}


def with_hooks(input, hooks):
    hooks.report_progress({"format": "code", "output_type": "completion", "event": "progress", "data": "working"})
    return {"echo": input, "trial": hooks.trial_index}


async def asynchronous(input):
    await asyncio.sleep(0)
    return {"echo": input}


async def asynchronous_with_hooks(input, hooks):
    await asyncio.sleep(0)
    return {"echo": input, "trial": hooks.trial_index}


def returning_a_coroutine(input):
    return asynchronous(input)


@pytest.mark.parametrize("task", [one_parameter, with_hooks, asynchronous, asynchronous_with_hooks, returning_a_coroutine])
def test_a_streamed_run_sends_each_output_once(bt_env, task):
    with serving(bt_env, {"plain": plain(task=task)}) as dev:
        answer = call(dev, "POST", "/eval", json={"name": "plain", "stream": True, "data": [{"input": "x"}, {"input": "y"}]},
                      stream=True)
        sent = events(answer)
    progress = [json.loads(data) for kind, data in sent if kind == "progress"]
    outputs = sorted(json.loads(p["data"])["echo"] for p in progress if p["event"] == "json_delta")
    assert outputs == ["x", "y"], sent
    assert all(p["object_type"] == "task" and p["name"] == "plain" for p in progress)
    if task is with_hooks:
        assert [p["data"] for p in progress if p["event"] == "progress"] == ["working", "working"]
    assert [kind for kind, _ in sent][-2:] == ["summary", "done"]
