"""Async tests under ``pytest --braintrust`` (issue #4: "spans from code under test nest under the
case"): pytest-asyncio's loops of every scope and mode, async fixtures, tasks the code under test
spawns, a task left running, a timed-out or cancelled test, async scorers, anyio's runner and
``unittest.IsolatedAsyncioTestCase``; under xdist too."""

from __future__ import annotations

import pytest
from plugin_helpers import tree

STEP = '''
import asyncio
import braintrust
import pytest
from pytest_braintrust import eval_case


@braintrust.traced
async def step(name, delay=0.0):
    await asyncio.sleep(delay)
    return name


@braintrust.traced
def sync_step(name):
    return name
'''


def _names(t, row):
    return sorted(c["span_attributes"]["name"] for c in t.children(row))


def _inputs(t, row, name="step"):
    return sorted(c["input"]["name"] for c in t.children(row) if c["span_attributes"]["name"] in (name, "sync_step"))


def test_pytest_asyncio_loops_fixtures_and_spawned_tasks_nest_under_their_case(bt):
    bt.pytester.makepyfile(test_async_shapes=STEP + '''
import pytest_asyncio


@pytest_asyncio.fixture
async def made_in_a_fixture():
    with braintrust.start_span(name="fixture_span"):
        await asyncio.sleep(0)
    return 1


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def module_resource():
    return "shared"


@pytest.mark.asyncio
@eval_case(input="fix")
async def test_fixture(made_in_a_fixture):
    return await step("in_fix")


@pytest.mark.asyncio(loop_scope="module")
@eval_case(input="mod")
async def test_module_loop(module_resource):
    return await step("in_mod")


@pytest.mark.asyncio(loop_scope="session")
@eval_case(input="sess")
async def test_session_loop():
    return await step("in_sess")


@pytest.mark.asyncio
@eval_case(input="tasks")
async def test_tasks():
    created = asyncio.create_task(step("created"))
    await asyncio.gather(step("g1"), step("g2"))
    if hasattr(asyncio, "TaskGroup"):  # (Python 3.11+)
        async with asyncio.TaskGroup() as group:
            group.create_task(step("grouped"))
    else:
        await asyncio.ensure_future(step("grouped"))
    await asyncio.to_thread(sync_step, "to_thread")
    await created
    return "tasks"


@eval_case(input="run")
def test_asyncio_run_in_a_sync_test():
    return asyncio.run(step("run"))


async def numbers():
    for i in range(2):
        yield await step(f"gen{i}")


@pytest.mark.asyncio
@eval_case(input="agen")
async def test_async_generator_helper():
    return [x async for x in numbers()]


@pytest.mark.asyncio
@eval_case(input="timeout")
async def test_timeout_caught():
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(step("slow", 5), 0.01)
    return "caught"


@pytest.mark.asyncio
@eval_case(input="times_out")
async def test_times_out():
    await asyncio.wait_for(step("slow", 5), 0.01)


LEFT = []


@pytest.mark.asyncio(loop_scope="module")
@eval_case(input="leaves")
async def test_leaves_a_task():
    LEFT.append(asyncio.create_task(step("late", 0.05)))
    return "left"


@pytest.mark.asyncio(loop_scope="module")
@eval_case(input="next")
async def test_next_case_while_it_runs():
    await asyncio.sleep(0.2)
    return await step("next")
''')
    result = bt.run("--braintrust")
    result.assert_outcomes(passed=9, failed=1)
    rows = bt.rows()
    t = tree(rows)
    roots = {r["span_attributes"]["name"]: r for r in rows if not r.get("span_parents")}
    assert len(roots) == 10, sorted(roots)  # nothing else became a trace of its own

    def task(name):
        return t.child(roots[name], "task")

    assert _names(t, roots["test_fixture"]) == ["fixture_span", "task"]
    assert _inputs(t, task("test_fixture")) == ["in_fix"]
    assert _inputs(t, task("test_module_loop")) == ["in_mod"]
    assert _inputs(t, task("test_session_loop")) == ["in_sess"]
    assert _inputs(t, task("test_tasks")) == ["created", "g1", "g2", "grouped", "to_thread"]
    assert _inputs(t, task("test_asyncio_run_in_a_sync_test")) == ["run"]
    assert roots["test_async_generator_helper"]["output"] == ["gen0", "gen1"]
    assert _inputs(t, task("test_async_generator_helper")) == ["gen0", "gen1"]
    # A cancelled span records its cancellation; the test that caught the timeout passed.
    [slow] = t.children(task("test_timeout_caught"))
    assert "CancelledError" in slow["error"]
    assert roots["test_timeout_caught"]["scores"]["pass"] == 1
    times_out = roots["test_times_out"]
    assert times_out["scores"]["pass"] == 0 and "TimeoutError" in times_out["error"]
    # The task left running finishes during the next case: its span stays with the case that started it.
    assert _inputs(t, task("test_leaves_a_task")) == ["late"]
    assert _inputs(t, task("test_next_case_while_it_runs")) == ["next"]
    assert "10 eval cases: 9 passed, 1 failed" in result.stdout.str()


def test_auto_mode_class_loop_and_async_scorers(bt):
    bt.pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nasyncio_mode = auto\n")
    bt.pytester.makepyfile(test_auto_mode=STEP + '''
@pytest.fixture
async def undecorated():  # (auto mode runs it)
    with braintrust.start_span(name="fixture_span"):
        pass
    return 1


class HalfScorer:
    async def eval_async(self, output, expected=None, **kwargs):
        await step("scorer_step")
        return 0.5

    def eval(self, output, expected=None, **kwargs):
        return 0.25  # (not called: async first, as Eval does)


async def exact(output, expected):
    await asyncio.sleep(0)
    return output == expected


class TestInAClassLoop:
    pytestmark = pytest.mark.asyncio(loop_scope="class")

    @eval_case(input="one", expected="one", scorers=[HalfScorer(), exact])
    async def test_one(self, undecorated):
        return await step("one")

    @eval_case(input="two")
    async def test_two(self):
        return await step("two")
''')
    result = bt.run("--braintrust")
    result.assert_outcomes(passed=2)
    rows = bt.rows()
    t = tree(rows)
    roots = {r["span_attributes"]["name"]: r for r in rows if not r.get("span_parents")}
    one = roots["test_one"]
    assert _names(t, one) == ["HalfScorer", "exact", "fixture_span", "task"]
    assert t.child(one, "HalfScorer")["scores"] == {"HalfScorer": 0.5}
    assert t.child(one, "exact")["scores"] == {"exact": 1}
    assert _inputs(t, t.child(one, "HalfScorer")) == ["scorer_step"]
    assert _inputs(t, t.child(one, "task")) == ["one"]
    assert _inputs(t, t.child(roots["test_two"], "task")) == ["two"]


ANYIO_SUITE = STEP + '''
@pytest.fixture(scope="module")
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="module")
async def server(anyio_backend):  # (holds anyio's runner for the whole module)
    yield "up"


@pytest.mark.anyio
@eval_case(input="one")
async def test_one(server):
    return await step("s1")


@pytest.mark.anyio
@eval_case(input="two")
async def test_two(server):
    braintrust.current_span().log(metadata={"seen_by": "two"})
    return await step("s2")
'''


def test_anyio_runner_shared_by_a_module_keeps_each_cases_spans(bt):
    """anyio's pytest plugin awaits every test of a runner's life (a module-scoped async fixture
    holds it) in one task whose context was copied at the first test's setup: the second case's
    spans nested under the first case's root, and ``current_span()`` there was the first case's."""
    bt.pytester.makepyfile(test_anyio_module=ANYIO_SUITE)
    result = bt.run("--braintrust", "-p", "anyio")
    result.assert_outcomes(passed=2)
    t = tree(bt.rows())
    roots = {r["span_attributes"]["name"]: r for r in t.rows if not r.get("span_parents")}
    assert _names(t, roots["test_one"]) == ["task"]
    assert _inputs(t, t.child(roots["test_one"], "task")) == ["s1"]
    two = roots["test_two"]
    assert _inputs(t, t.child(two, "task")) == ["s2"]
    assert two["metadata"]["seen_by"] == "two"  # (a case's fields go to its root)
    assert "seen_by" not in (roots["test_one"].get("metadata") or {})


def test_isolated_asyncio_test_case_spans_are_recorded(bt):
    """``IsolatedAsyncioTestCase`` runs its methods in a context copied when pytest collected the
    test, where no case is current: their ``@traced`` spans were silently not recorded."""
    bt.pytester.makepyfile(test_isolated=STEP + '''
import unittest


@pytest.mark.braintrust
class TestIsolated(unittest.IsolatedAsyncioTestCase):
    async def test_u1(self):
        return await step("u1")

    async def test_u2(self):
        return await step("u2")
''')
    result = bt.run("--braintrust")
    result.assert_outcomes(passed=2)
    t = tree(bt.rows())
    roots = {r["span_attributes"]["name"]: r for r in t.rows if not r.get("span_parents")}
    assert roots["test_u1"]["output"] == "u1"
    assert _inputs(t, t.child(roots["test_u1"], "task")) == ["u1"]
    assert _inputs(t, t.child(roots["test_u2"], "task")) == ["u2"]


def test_async_cases_under_xdist_and_without_braintrust(bt):
    """Under ``-n 2`` each async case's spans nest under it on its worker; without
    ``--braintrust`` the same suite runs as plain pytest runs it and logs nothing."""
    bt.pytester.makepyfile(test_async_xdist=STEP + '''
@pytest.mark.asyncio
@pytest.mark.parametrize("n", range(4))
@eval_case()
async def test_spawns(n):
    results = await asyncio.gather(*(step(f"{n}-{i}", 0.01) for i in range(3)))
    return results
''')
    plain = bt.run_subprocess("-p", "no:randomly")
    plain.assert_outcomes(passed=4)
    assert not (bt.local_dir / "braintrust.sqlite").exists()
    result = bt.run_subprocess("--braintrust", "-n", "2")
    result.assert_outcomes(passed=4)
    assert "4 eval cases: 4 passed" in result.stdout.str()
    t = tree(bt.rows())
    roots = [r for r in t.rows if not r.get("span_parents")]
    assert len(roots) == 4
    for root in roots:
        n = root["input"]["n"]
        assert root["output"] == [f"{n}-{i}" for i in range(3)]
        assert _inputs(t, t.child(root, "task")) == [f"{n}-{i}" for i in range(3)]


def test_carried_sets_another_contexts_span_for_a_block_and_resets_it():
    """``context.carried`` (what the proposed fix uses): a coroutine awaited in a context of its
    own runs with the span current where the test body was called, and its context is left as it was."""
    import asyncio
    import contextvars

    from braintrust.tracing import context

    caller = object()  # (stands for a span: the variable holds whatever was made current)

    def at_the_call():
        context.current_span_var.set(caller)
        return context.snapshot()

    values = contextvars.copy_context().run(at_the_call)

    async def body():
        before = context.current_span_var.get()
        with context.carried(values):
            inside = context.current_span_var.get()
        return before, inside, context.current_span_var.get()

    assert contextvars.Context().run(asyncio.run, body()) == (None, caller, None)
    with context.carried(None):  # (no snapshot: nothing carried)
        assert context.current_span_var.get() is None
