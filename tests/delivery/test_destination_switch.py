"""Rows follow the destination: a script that logged into the local store (no key) and then logs
in with a key sends its later rows to Braintrust, as 0.48.1 does (its rows before the login
stay in the local store here; 0.48.1 drops them). Each scenario runs in a child interpreter:
the processor and its backend are process-wide."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from braintrust.delivery.backend import PROJECT_LOGS
from braintrust.store.sqlite_store import LocalStore
from delivery_helpers import subprocess_env

SWITCH_BY = {
    "login": 'braintrust.login(api_key="{key}", app_url="{url}", force_login=True)',
    "init_logger": 'braintrust.init_logger(project="other", api_key="{key}", app_url="{url}")',
}


def _run(tmp_path, login_line: str) -> str:
    script = textwrap.dedent(f"""
        import braintrust
        old = braintrust.init_logger(project="p")
        old.log(input="before", output=1)
        braintrust.flush()  # (the processor and its local backend exist now)
        {login_line}
        new = braintrust.init_logger(project="p2")
        new.log(input="after", output=2)
        old.log(input="old-logger-after", output=3)
        result = braintrust.flush()
        print("SENT", result.accepted, result.spilled, sum(result.dropped.values()))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=subprocess_env(HOME=str(tmp_path)),
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def _local_inputs(tmp_path) -> list:
    with LocalStore(tmp_path / ".braintrust" / "braintrust.sqlite") as store:
        inputs = []
        for project in store.list_projects():
            inputs += [row["input"] for page in store.iter_rows(PROJECT_LOGS, project["id"]) for row in page]
    return sorted(inputs)


def test_rows_after_a_login_go_to_braintrust_and_those_before_stay_local(tmp_path, bt_server):
    output = _run(tmp_path, SWITCH_BY["login"].format(key=bt_server.api_key, url=bt_server.url))
    assert "SENT 2 0 0" in output, output
    by_input = {row["input"]: row for row in bt_server.rows(PROJECT_LOGS)}
    assert sorted(by_input) == ["after", "old-logger-after"]
    projects = {project["name"]: project["id"] for project in bt_server.projects()}
    # The logger made before the login names its project on the server, not the local store's id.
    assert by_input["old-logger-after"]["project_id"] == projects["p"]
    assert by_input["after"]["project_id"] == projects["p2"]
    assert _local_inputs(tmp_path) == ["before"]


def test_a_key_given_to_init_logger_after_local_rows_switches_too(tmp_path, bt_server):
    output = _run(tmp_path, SWITCH_BY["init_logger"].format(key=bt_server.api_key, url=bt_server.url))
    assert "SENT 2 0 0" in output, output
    assert sorted(row["input"] for row in bt_server.rows(PROJECT_LOGS)) == ["after", "old-logger-after"]
    assert _local_inputs(tmp_path) == ["before"]


def test_without_a_switch_every_row_stays_in_the_local_store(tmp_path, bt_server):
    output = _run(tmp_path, "braintrust.login()")  # (no key: the local store still)
    assert "SENT 3 0 0" in output, output
    assert bt_server.rows(PROJECT_LOGS) == []
    assert _local_inputs(tmp_path) == ["after", "before", "old-logger-after"]


SUITE_THAT_DROPS_THE_KEY = '''
import os
import braintrust
from pytest_braintrust import eval_case


@eval_case(input="first")
def test_first(braintrust_case):
    braintrust_case.log_output("one")


@eval_case(input="second")
def test_second(braintrust_case, monkeypatch):
    braintrust.flush()  # (the run's backend is made by now)
    monkeypatch.setenv("BRAINTRUST_LOCAL", "1")
    braintrust.init_logger(project="inside")  # (a test's own code: the run's rows stay where they go)
    braintrust_case.log_output("two")
'''


def test_a_test_that_drops_the_key_does_not_move_the_runs_rows(pytester, bt_server, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_API_KEY", bt_server.api_key)
    monkeypatch.setenv("BRAINTRUST_APP_URL", bt_server.url)
    pytester.makepyfile(test_drops_key=SUITE_THAT_DROPS_THE_KEY)
    result = pytester.runpytest_subprocess("--braintrust", "-p", "no:cacheprovider", "-p", "no:xdist")
    assert result.ret == 0, result.stdout.str()
    inputs = sorted(str(row.get("input")) for row in bt_server.rows("experiment") if not row.get("span_parents"))
    assert inputs == ["first", "second"]
    assert not (pytester.path / ".braintrust" / "braintrust.sqlite").exists()
