"""Project logs (``init_logger`` and the ``Logger``) against 0.48.1, side by side (QA round 3)."""

from __future__ import annotations

import asyncio
import threading

import braintrust


def test_a_logger_made_again_for_the_same_project_registers_it_once(bt_env):
    """0.48.1 keeps a project's registration (by name or id, per org and key) for 15 minutes, so
    a logger made per request sends one ``POST /v1/project`` (or ``GET``) in all; ours sent one
    per logger."""
    for n in range(3):
        braintrust.init_logger(project="per-request").log(input=n)
        braintrust.flush()
    project_id = braintrust.init_logger(project="per-request").id
    for n in range(2):
        by_id = braintrust.init_logger(project_id=project_id)
        by_id.log(input=f"by id {n}")
        assert by_id.project.name == "per-request"
    braintrust.flush()
    asked = [(r.method, r.path) for r in bt_env.requests if r.path.startswith("/v1/project")]
    assert asked == [("POST", "/v1/project"), ("GET", f"/v1/project/{project_id}")]
    assert len(bt_env.rows("project_logs")) == 5


def test_after_a_login_to_another_org_the_project_is_registered_there(bt_env, bt_server_factory):
    """The registration kept is the org's: after ``login`` to another org (another key and
    server) a new logger of the same name registers the project in that org and logs there."""
    braintrust.init_logger(project="moved").log(input="before")
    braintrust.flush()
    other = bt_server_factory(org_name="other-org", api_key="other-key")
    braintrust.login(api_key="other-key", app_url=other.url, force_login=True)
    logger = braintrust.init_logger(project="moved")
    logger.log(input="after")
    assert braintrust.flush().ok
    assert [r.json for r in other.requests_to("/v1/project", "POST")] == [{"name": "moved", "org_name": "other-org"}]
    assert [row["input"] for row in other.rows("project_logs")] == ["after"]
    assert [row["input"] for row in bt_env.rows("project_logs")] == ["before"]
    assert logger.id == other.rows("project_logs")[0]["project_id"]


def test_the_current_logger_is_per_context_with_the_latest_as_every_other_context_s(bt_logs):
    """0.48.1 makes ``init_logger``'s logger current in the caller's context and, for contexts
    that set none (a new thread), process-wide: concurrent tasks that each make a logger trace
    into their own project, and a logger made in a thread leaves the main thread's current
    logger alone. Ours only had the process-wide one: the last task's logger took every task's
    spans."""
    main = braintrust.init_logger(project="main")

    @braintrust.traced
    def handle(n):
        return n

    async def tenant(name, started, others_started):
        logger = braintrust.init_logger(project=name)
        started.set()
        await others_started.wait()  # (every task has made its logger before any logs)
        handle(name)
        return braintrust.current_logger() is logger

    async def serve():
        events = [asyncio.Event(), asyncio.Event()]
        both = asyncio.Event()

        async def gate():
            await asyncio.gather(*(e.wait() for e in events))
            both.set()

        results = await asyncio.gather(tenant("tenant-a", events[0], both), tenant("tenant-b", events[1], both), gate())
        return results[:2]

    assert asyncio.run(serve()) == [True, True]
    assert braintrust.current_logger() is main

    seen = {}
    def worker():
        seen["before"] = braintrust.current_logger()
        seen["made"] = braintrust.init_logger(project="in-thread")
        seen["after"] = braintrust.current_logger()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen["after"] is seen["made"] and seen["before"] is not seen["made"]
    assert braintrust.current_logger() is main
    fresh = threading.Thread(target=lambda: seen.update(fresh=braintrust.current_logger()))
    fresh.start()
    fresh.join()
    assert seen["fresh"] is seen["made"]  # (a new thread: the latest logger, process-wide)

    handle("main")
    rows = bt_logs.rows()
    projects = {p["id"]: p["name"] for p in bt_logs.server.projects()}
    where = {row["input"]["n"]: projects[row["project_id"]] for row in rows if row["span_attributes"]["name"] == "handle"}
    assert where == {"tenant-a": "tenant-a", "tenant-b": "tenant-b", "main": "main"}
