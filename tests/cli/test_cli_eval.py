"""``braintrust eval``: the real command in subprocesses, against the local store (no key) and, once,
the loopback test server. Exit codes: 0 ok, 1 failures (import, none found, run, task error), 2 usage,
130 Ctrl-C."""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cli_support import PROGRESS_MARK, cli_env, database, eval_source, experiments, roots, run_cli, write


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def env(store_dir: Path) -> dict[str, str]:
    return cli_env(store_dir)


def test_directory_search_runs_eval_files_and_prints_summaries(tmp_path, env, store_dir):
    suite = tmp_path / "suite"
    write(suite / "helpers.py", "DOUBLE = 2\n")  # imported from the eval file's own folder
    write(suite / "eval_alpha.py", eval_source("proj-alpha", "alpha", extra="from helpers import DOUBLE", task="lambda x: x * DOUBLE // 2"))
    write(suite / "nested" / "eval_beta.py", eval_source("proj-beta", "beta"))
    write(suite / "nested" / "not_an_eval.py", "raise SystemExit('not an eval file: must not be imported')\n")
    for skipped in (".venv", ".venv-py311", "node_modules", "lib/site-packages", ".hidden"):
        write(suite / skipped / "eval_skipped.py", "raise SystemExit('skipped folder imported')\n")

    result = run_cli("eval", "suite", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.count("=========================SUMMARY=========================") == 2
    assert "100.00% 'exact' score" in result.stdout
    assert "skipped folder imported" not in result.stderr and "not an eval file" not in result.stderr
    assert PROGRESS_MARK not in result.stderr  # progress bars are on by default, but stderr is no terminal
    found = {e["name"]: e for e in experiments(store_dir)}
    assert set(found) == {"alpha", "beta"}
    assert [r["output"] for r in roots(found["alpha"]["rows"])] == [1]


def test_file_named_directly_runs_with_a_rename_hint(tmp_path, env, store_dir):
    write(tmp_path / "checks.py", eval_source("proj-direct", "direct"))

    result = run_cli("eval", "checks.py", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert "rename it eval_checks.py" in result.stderr
    assert [e["name"] for e in experiments(store_dir)] == ["direct"]


def test_broken_file_exits_1_with_its_traceback_and_the_other_files_still_run(tmp_path, env, store_dir):
    write(tmp_path / "evals" / "eval_a_broken.py", "import os\n\ndef helper():\n    raise ImportError('no such model client')\n\nhelper()\n")
    write(tmp_path / "evals" / "eval_b_syntax.py", "def broken(:\n    pass\n")
    write(tmp_path / "evals" / "eval_c_good.py", eval_source("proj-good", "good"))

    result = run_cli("eval", "evals", cwd=tmp_path, env=env)

    assert result.returncode == 1
    assert "failed to import evals/eval_a_broken.py" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr
    assert 'eval_a_broken.py", line 4, in helper' in result.stderr
    assert "ImportError: no such model client" in result.stderr
    assert "failed to import evals/eval_b_syntax.py" in result.stderr and "SyntaxError" in result.stderr
    assert "eval_command.py" not in result.stderr and "importlib" not in result.stderr  # the user's frames only
    assert [e["name"] for e in experiments(store_dir)] == ["good"]


def test_no_evaluators_found_exits_1(tmp_path, env, store_dir):
    (tmp_path / "empty").mkdir()
    write(tmp_path / "plain" / "eval_nothing.py", "VALUE = 1\n")

    no_files = run_cli("eval", "empty", cwd=tmp_path, env=env)
    no_calls = run_cli("eval", "plain", cwd=tmp_path, env=env)

    assert no_files.returncode == 1 and "no evaluators found" in no_files.stderr and "eval_*.py" in no_files.stderr
    assert no_calls.returncode == 1 and "no evaluators found" in no_calls.stderr
    assert "eval_nothing.py defines no evaluator" in no_calls.stderr
    assert "__main__" not in no_calls.stderr
    assert not database(store_dir).exists()


def test_an_eval_under_a_main_guard_is_named_as_the_reason_none_ran(tmp_path, env):
    write(tmp_path / "eval_guarded.py", "from braintrust import Eval\nif __name__ == '__main__':\n"
          "    Eval('guarded', data=[{'input': 1}], task=lambda x: x, scores=[lambda output: 1])\n")
    result = run_cli("eval", "eval_guarded.py", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "eval_guarded.py defines no evaluator (no Eval(...) call ran while importing it); an Eval(...) under " \
           "`if __name__ == \"__main__\":` does not run when braintrust eval imports the file" in result.stderr


def test_a_lone_file_that_fails_to_import_is_reported_once(tmp_path, env):
    write(tmp_path / "eval_syntax.py", "def broken(:\n    pass\n")
    write(tmp_path / "more" / "eval_syntax.py", "def broken(:\n    pass\n")
    write(tmp_path / "more" / "eval_empty.py", "VALUE = 1\n")

    alone = run_cli("eval", "eval_syntax.py", cwd=tmp_path, env=env)
    mixed = run_cli("eval", "more", cwd=tmp_path, env=env)

    assert alone.returncode == 1 and "failed to import eval_syntax.py" in alone.stderr
    assert "no evaluators found" not in alone.stderr  # not "in 1 file that imported": none did
    assert mixed.returncode == 1 and "no evaluators found in 1 file that imported" in mixed.stderr


def test_no_path_searches_the_current_folder(tmp_path, env, store_dir):
    write(tmp_path / "evals" / "eval_here.py", eval_source("proj-here"))

    result = run_cli("eval", "--no-progress-bars", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert [e["name"] for e in experiments(store_dir)] != []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--filter", "priority", "x.py"], "expected PATH=REGEX, e.g. metadata.priority=^P0$"),
        (["--filter", "metadata.priority=(", "x.py"], "bad regular expression"),
        (["--no-such-option", "x.py"], "unrecognized arguments: --no-such-option"),
        (["--num-workers", "0", "x.py"], "expected a positive integer"),
        (["missing_dir"], "no such file or directory: missing_dir"),
        (["--env-file", "nowhere.env", "x.py"], "--env-file nowhere.env: no such file"),
    ],
)
def test_usage_errors_exit_2(tmp_path, env, store_dir, args, message):
    write(tmp_path / "x.py", "raise SystemExit('must not be imported')\n")

    result = run_cli("eval", *args, cwd=tmp_path, env=env)

    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "must not be imported" not in result.stderr
    assert not database(store_dir).exists()


def test_a_failing_task_exits_1_a_failing_scorer_does_not(tmp_path, env, store_dir):
    write(tmp_path / "eval_task_fails.py", eval_source(
        "proj-fail", "task-fails", cases="[{'input': 1, 'expected': 1}, {'input': 2, 'expected': 2}]",
        task="task", extra="def task(x):\n    if x == 2:\n        raise RuntimeError('model timed out on 2')\n    return x",
    ))
    write(tmp_path / "eval_scorer_fails.py", """
        from braintrust import Eval
        def bad_scorer(output):
            raise ValueError("scorer bug")
        Eval("proj-fail", data=[{"input": 1}], task=lambda x: x, scores=[bad_scorer, lambda output: 1], experiment_name="scorer-fails")
    """)

    task_fails = run_cli("eval", "eval_task_fails.py", cwd=tmp_path, env=env)
    scorer_fails = run_cli("eval", "eval_scorer_fails.py", cwd=tmp_path, env=env)

    assert task_fails.returncode == 1
    assert "Evaluator proj-fail [experiment_name=task-fails] failed with 1 error" in task_fails.stderr
    assert "RuntimeError: model timed out on 2" in task_fails.stderr
    assert "a task raised" in task_fails.stderr
    assert scorer_fails.returncode == 0, scorer_fails.stderr
    assert "Found exceptions for the following scorers: bad_scorer" in scorer_fails.stderr
    rows = {e["name"]: e["rows"] for e in experiments(store_dir)}
    assert len(roots(rows["task-fails"])) == 2  # the failing case is still logged


def test_terminate_on_failure_stops_after_the_first_failing_evaluator(tmp_path, env, store_dir):
    write(tmp_path / "evals" / "eval_1_fails.py", eval_source("proj-stop", "first", task="task", extra="def task(x):\n    raise RuntimeError('boom')"))
    write(tmp_path / "evals" / "eval_2_ok.py", eval_source("proj-stop", "second"))
    write(tmp_path / "evals" / "eval_3_ok.py", eval_source("proj-stop", "third"))

    keep_going = run_cli("eval", "evals", cwd=tmp_path, env=cli_env(tmp_path / "store-all"))
    stopped = run_cli("eval", "--terminate-on-failure", "evals", cwd=tmp_path, env=env)

    assert keep_going.returncode == 1
    assert [e["name"] for e in experiments(tmp_path / "store-all")] == ["first", "second", "third"]
    assert stopped.returncode == 1
    assert "not run: proj-stop [experiment_name=second], proj-stop [experiment_name=third]" in stopped.stderr
    assert [e["name"] for e in experiments(store_dir)] == ["first"]


def test_evaluator_that_fails_to_run_exits_1_and_verbose_shows_the_traceback(tmp_path, env, store_dir):
    write(tmp_path / "eval_bad_data.py", eval_source("proj-bad", "bad-data", cases="42"))
    write(tmp_path / "eval_fine.py", eval_source("proj-bad", "fine"))

    quiet = run_cli("eval", "eval_bad_data.py", "eval_fine.py", cwd=tmp_path, env=env)
    verbose = run_cli("eval", "--verbose", "eval_bad_data.py", cwd=tmp_path, env=env)

    assert quiet.returncode == 1
    assert "evaluator proj-bad [experiment_name=bad-data] (eval_bad_data.py) failed to run: TypeError" in quiet.stderr
    assert "add --verbose" in quiet.stderr and "Traceback" not in quiet.stderr
    assert "fine" in [e["name"] for e in experiments(store_dir)]  # the next evaluator still ran
    assert verbose.returncode == 1
    assert "Traceback (most recent call last)" in verbose.stderr and "resolve_data" in verbose.stderr


def test_a_failing_task_is_one_line_without_verbose_and_its_traceback_with_it(tmp_path, env):
    """As the public SDK's ``braintrust eval`` reports a task that raised: its exception line,
    then the hint; with ``--verbose``, its traceback (``Eval()`` in a script reports verbosely)."""
    write(tmp_path / "eval_raises.py", eval_source("proj-raise", "raises", cases="[{'input': 1, 'expected': 1}, {'input': 2, 'expected': 2}]",
                                                    task="lambda x: 1 / 0 if x == 2 else x"))

    quiet = run_cli("eval", "eval_raises.py", cwd=tmp_path, env=env)
    verbose = run_cli("eval", "--verbose", "eval_raises.py", cwd=tmp_path, env=env)

    assert quiet.returncode == verbose.returncode == 1
    red = [line for line in quiet.stderr.splitlines() if line.startswith("\x1b[91m")]
    assert red == ["\x1b[91mEvaluator proj-raise [experiment_name=raises] failed with 1 error\x1b[0m",
                   "\x1b[91mZeroDivisionError: division by zero\x1b[0m",
                   "\x1b[91mAdd --verbose to see full stack traces.\x1b[0m"]
    assert "Traceback" not in quiet.stderr
    assert "\x1b[91mTraceback (most recent call last):" in verbose.stderr and "ZeroDivisionError: division by zero\x1b[0m" in verbose.stderr


FILTER_CASES = """[
    {'input': {'name': 'foo-x-bar'}, 'expected': 1, 'metadata': {'priority': 'P0'}},
    {'input': {'name': 'foo-y'}, 'expected': 1, 'metadata': {'priority': 'P0'}},
    {'input': {'name': 'other-bar'}, 'expected': 1, 'metadata': {'priority': 'P0'}},
    {'input': {'name': 'foo-z-bar'}, 'expected': 1, 'metadata': {'priority': 'P1'}},
]"""


def test_filter_selects_cases(tmp_path, store_dir):
    write(tmp_path / "eval_filtered.py", eval_source("proj-filter", None, cases=FILTER_CASES, task="lambda x: 1"))

    several = run_cli("eval", "--filter", "metadata.priority=^P0$", "input.name=foo.*bar", "eval_filtered.py", cwd=tmp_path, env=cli_env(store_dir))
    repeated = run_cli("eval", "eval_filtered.py", "--filter", "metadata.priority=P0", "--filter", "input.name=foo", cwd=tmp_path, env=cli_env(tmp_path / "s2"))
    path_after = run_cli("eval", "--filter", "input.name=other", "eval_filtered.py", cwd=tmp_path, env=cli_env(tmp_path / "s3"))

    for result in (several, repeated, path_after):
        assert result.returncode == 0, result.stderr

    def names(store: Path) -> list[str]:
        (experiment,) = experiments(store)
        return sorted(r["input"]["name"] for r in roots(experiment["rows"]))

    assert names(store_dir) == ["foo-x-bar"]
    assert names(tmp_path / "s2") == ["foo-x-bar", "foo-y"]
    assert names(tmp_path / "s3") == ["other-bar"]


def test_jsonl_prints_one_json_summary_per_evaluator(tmp_path, env):
    write(tmp_path / "eval_one.py", eval_source("proj-json", "one"))
    write(tmp_path / "eval_two.py", eval_source("proj-json", "two", cases="[{'input': 1, 'expected': 2}]"))

    result = run_cli("eval", "eval_one.py", "--jsonl", "eval_two.py", cwd=tmp_path, env=env)  # options between paths

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["experiment_name"] for line in lines] == ["one", "two"]
    assert [line["scores"]["exact"]["score"] for line in lines] == [1.0, 0.0]


def test_reporters_get_their_arguments_by_name_as_in_the_public_sdk(tmp_path, env):
    """``braintrust eval`` calls a reporter's functions as 0.48.1's does: by parameter name, a
    required parameter named otherwise gets the next argument, and one taking fewer gets fewer
    (ours passed all four positionally: ``report_eval(evaluator, result)`` raised TypeError)."""
    write(tmp_path / "eval_reporters.py", """
from braintrust import Eval, Reporter

def report_eval(evaluator, result):
    print("report_eval", evaluator.eval_name, len(result.results))
    return len(result.results)

def report_run(eval_reports):
    print("report_run", eval_reports)
    return True

async def report_eval_by_keyword(evaluator, result, *, jsonl, verbose):
    print("keywords", verbose, jsonl)
    return True

Reporter("short", report_eval=report_eval, report_run=report_run)
Reporter("keywords", report_eval=report_eval_by_keyword, report_run=lambda results, **options: print("options", sorted(options)) or True)
Eval("reporters-one", data=[{"input": 1}], task=lambda x: x, scores=[], reporter="short")
Eval("reporters-two", data=[{"input": 1}], task=lambda x: x, scores=[], reporter="keywords")
""")
    result = run_cli("eval", "eval_reporters.py", "--no-progress-bars", "--verbose", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "report_eval reporters-one 1", "keywords True False", "report_run [1]", "options ['jsonl', 'verbose']"]


def test_the_only_reporter_defined_reports_every_evaluator_that_names_none(tmp_path, env):
    """As in 0.48.1: a custom reporter is what CI gates on, so one defined anywhere is used by
    evaluators that name none (a failing ``report_run`` fails the run); several is an error."""
    write(tmp_path / "eval_gate.py", """
from braintrust import Eval, Reporter

Reporter("gate", report_eval=lambda evaluator, result, **_: print("gate saw", evaluator.eval_name) or False,
         report_run=lambda results, **_: all(results))
Eval("gated-one", data=[{"input": 1}], task=lambda x: x, scores=[])
Eval("gated-two", data=[{"input": 1}], task=lambda x: x, scores=[])
""")
    gated = run_cli("eval", "eval_gate.py", "--no-progress-bars", cwd=tmp_path, env=env)
    assert gated.returncode == 1, gated.stderr
    assert gated.stdout.splitlines() == ["gate saw gated-one", "gate saw gated-two"]
    assert "reporter 'gate'" in gated.stderr

    write(tmp_path / "eval_second.py", """
from braintrust import Reporter
Reporter("other", report_eval=lambda evaluator, result, **_: True, report_run=lambda results, **_: True)
""")
    ambiguous = run_cli("eval", "eval_gate.py", "eval_second.py", "--no-progress-bars", cwd=tmp_path, env=env)
    assert ambiguous.returncode == 1
    assert "Multiple reporters found (gate, other). Please specify a reporter explicitly." in ambiguous.stderr


def test_list_prints_names_and_runs_nothing(tmp_path, env, store_dir):
    marker = tmp_path / "task-ran"
    write(tmp_path / "eval_listed.py", eval_source(
        "proj-list", "listed", task="task", extra=f"def task(x):\n    open({str(marker)!r}, 'w').close()\n    return x",
    ))
    write(tmp_path / "eval_other.py", eval_source("proj-list"))

    plain = run_cli("eval", "--list", ".", cwd=tmp_path, env=env)
    as_json = run_cli("eval", "--list", "--jsonl", "eval_listed.py", cwd=tmp_path, env=env)

    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines() == ["proj-list [experiment_name=listed]", "proj-list"]
    assert json.loads(as_json.stdout)["file"] == "eval_listed.py"
    assert not marker.exists()
    assert not database(store_dir).exists()  # no experiment, not even a store


def test_no_send_logs_runs_locally_and_writes_nothing(tmp_path, env, store_dir):
    write(tmp_path / "eval_local.py", eval_source("proj-nolog", "nolog", cases="[{'input': 1, 'expected': 1}, {'input': 2, 'expected': 3}]"))

    result = run_cli("eval", "--no-send-logs", "eval_local.py", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    assert "50.00% 'exact' score" in result.stdout
    assert "local store" not in result.stdout + result.stderr
    assert not store_dir.exists()


def test_env_file_loads_values_without_overriding_set_variables(tmp_path, store_dir):
    dump = tmp_path / "env.json"
    write(tmp_path / "eval_env.py", eval_source("proj-env", "env", extra=(
        "import json, os\n"
        f"json.dump({{k: os.environ.get(k) for k in ('GREETING', 'QUOTED', 'ALREADY', 'BLANK', 'INLINE')}}, open({str(dump)!r}, 'w'))"
    )))
    write(tmp_path / "settings.env", """
        # comment line
        GREETING=hello
        export QUOTED="two words"
        ALREADY=from-file
        BLANK=filled
        INLINE=value # trailing comment
    """)

    result = run_cli("eval", "--env-file", "settings.env", "eval_env.py", cwd=tmp_path, env=cli_env(store_dir, ALREADY="from-env", BLANK=""))

    assert result.returncode == 0, result.stderr
    assert json.loads(dump.read_text()) == {
        "GREETING": "hello", "QUOTED": "two words", "ALREADY": "from-env", "BLANK": "filled", "INLINE": "value",
    }


def test_malformed_env_file_is_a_usage_error_naming_the_line(tmp_path, env):
    write(tmp_path / "bad.env", "GOOD=1\nthis line has no equals sign\n")
    write(tmp_path / "eval_x.py", eval_source("proj-env"))

    result = run_cli("eval", "--env-file", "bad.env", "eval_x.py", cwd=tmp_path, env=env)

    assert result.returncode == 2
    assert "--env-file bad.env, line 2: expected KEY=VALUE" in result.stderr


CONCURRENCY = """
import threading, time
lock = threading.Lock()
state = {"now": 0, "max": 0}
def task(x):
    with lock:
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
    time.sleep(0.15)
    with lock:
        state["now"] -= 1
    return x
def peak(output):
    return state["max"] / 10
"""


def test_num_workers_bounds_the_threads_of_sync_tasks(tmp_path, env):
    write(tmp_path / "eval_threads.py", eval_source("proj-threads", cases="[{'input': i, 'expected': i} for i in range(6)]", task="task", extra=CONCURRENCY).replace("scores=[exact]", "scores=[peak]"))

    one = run_cli("eval", "--jsonl", "--num-workers", "1", "eval_threads.py", cwd=tmp_path, env=env)
    three = run_cli("eval", "--jsonl", "--num-workers", "3", "eval_threads.py", cwd=tmp_path, env=env)

    assert one.returncode == 0 and three.returncode == 0, one.stderr + three.stderr
    peak_one = max(r["scores"]["peak"]["score"] for r in map(json.loads, one.stdout.splitlines())) * 10
    peak_three = max(r["scores"]["peak"]["score"] for r in map(json.loads, three.stdout.splitlines())) * 10
    assert round(peak_one) == 1
    assert 2 <= round(peak_three) <= 3


def _run_in_pty(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run the command with a terminal as stdout and stderr; (exit code, everything it wrote)."""
    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "braintrust", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    return process.wait(timeout=60), b"".join(chunks).decode(errors="replace")


def test_progress_bar_only_on_a_terminal_and_not_with_no_progress_bars(tmp_path, env):
    write(tmp_path / "eval_bar.py", eval_source("proj-bar", cases="[{'input': i, 'expected': i} for i in range(3)]"))

    code, shown = _run_in_pty(["eval", "eval_bar.py"], tmp_path, env)
    quiet_code, quiet = _run_in_pty(["eval", "--no-progress-bars", "eval_bar.py"], tmp_path, env)

    assert code == 0 and quiet_code == 0, shown + quiet
    assert f"proj-bar {PROGRESS_MARK}" in shown and "3/3" in shown
    assert PROGRESS_MARK not in quiet
    assert "100.00% (-) 'exact'" in quiet  # (compared with the first run)


def interruptible_eval(path: Path, scored: Path, project: str, experiment: str, cases: int) -> None:
    """An eval file whose case 0 is quick (its scorer creates ``scored``) and the others sleep 30 s."""
    write(path, f"""
        import time
        from braintrust import Eval
        def task(x):
            if x:
                time.sleep(30)
            return x
        def exact(output, expected):
            if output == 0:
                open({str(scored)!r}, "w").close()
            return 1.0 if output == expected else 0.0
        Eval({project!r}, data=[{{"input": i, "expected": i}} for i in range({cases})], task=task, scores=[exact], experiment_name={experiment!r})
    """)


def test_ctrl_c_exits_130_after_flushing(tmp_path, env, store_dir):
    scored = tmp_path / "quick-case-scored"
    interruptible_eval(tmp_path / "eval_slow.py", scored, "proj-interrupt", "interrupted", 3)
    process = subprocess.Popen([sys.executable, "-m", "braintrust", "eval", "eval_slow.py"], cwd=tmp_path, env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not scored.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # the quick case's root span gets its output once its scorer returned
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)

    assert process.returncode == 130, err
    assert "interrupted" in err
    (experiment,) = experiments(store_dir)
    by_input = {r["input"]: r for r in roots(experiment["rows"])}
    assert by_input[0]["output"] == 0  # the case that finished was flushed
    assert set(by_input) == {0, 1, 2}  # the cancelled ones are logged (with an error)


def test_watch_runs_again_when_a_file_changes_and_ctrl_c_stops_it(tmp_path, env, store_dir):
    """``--watch``: a run now, a fresh run (a new process: the edited helper is imported anew)
    after a change to the eval file or a module beside it, and exit 130 on Ctrl-C."""
    write(tmp_path / "helper.py", "ANSWER = 0\n")
    write(tmp_path / "eval_watched.py", eval_source("proj-watch", cases="[{'input': 1, 'expected': 1}]",
                                                    task="lambda x: x + helper.ANSWER", extra="import helper"))
    process = subprocess.Popen([sys.executable, "-m", "braintrust", "eval", "eval_watched.py", "--watch", "--no-progress-bars"],
                               cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()

    def wait_for(text: str, count: int) -> None:
        deadline = time.monotonic() + 30
        while sum(text in line for line in list(lines)) < count:
            assert process.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.05)

    try:
        wait_for("watching", 1)
        assert any("100.00% 'exact' score" in line for line in lines), "".join(lines)
        time.sleep(0.1)  # (a different modification time than the first version's)
        write(tmp_path / "helper.py", "ANSWER = 1\n")  # the eval now scores 0
        wait_for("helper.py changed; running again", 1)
        wait_for("watching", 2)
        assert any("00.00% (-100.00%) 'exact' score" in line for line in lines), "".join(lines)
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C at a terminal: the whole foreground group
        assert process.wait(timeout=15) == 130
    finally:
        if process.poll() is None:
            process.kill()
    reader.join(timeout=5)
    assert "Traceback" not in "".join(lines)
    assert [len(e["rows"]) > 0 for e in experiments(store_dir)] == [True, True]  # two runs, two experiments


def test_watch_reads_the_project_s_python_files_but_not_environments_or_caches(tmp_path):
    from braintrust.cli.watch import watched_files

    for name in ("eval_a.py", "pkg/helper.py", "pkg/data.txt", ".hidden/x.py", "pkg/__pycache__/helper.py",
                 "venv/lib/python3.11/site-packages/dep.py", "venv/bin/activate_this.py", "venv/pyvenv.cfg", "other/site-packages/y.py"):
        write(tmp_path / name, "x = 1\n")
    assert sorted(str(p.relative_to(tmp_path)) for p in watched_files([str(tmp_path)])) == ["eval_a.py", "pkg/helper.py"]
    beside = watched_files([str(tmp_path / "pkg" / "helper.py")])  # a file: it and its neighbours
    assert sorted(p.name for p in beside) == ["helper.py"]


def test_ctrl_c_during_a_watched_run_reaches_the_run_once(tmp_path, bt_server, store_dir):
    """At a terminal Ctrl-C signals the whole foreground group. The run, in its own group, gets
    it once, from the watcher: it waits for its flush (here on a hanging Braintrust, so up to
    the 2 s deadline) instead of taking a second signal as "stop the flush" and spilling."""
    scored = tmp_path / "quick-case-scored"
    interruptible_eval(tmp_path / "eval_slow.py", scored, "proj-watch-stop", "watched", 3)
    bt_server.fail_always("POST", "/logs3", {"hang": True})
    env = cli_env(store_dir, BRAINTRUST_API_KEY=bt_server.api_key, BRAINTRUST_APP_URL=bt_server.url, BRAINTRUST_FLUSH_TIMEOUT="2")
    process = subprocess.Popen([sys.executable, "-m", "braintrust", "eval", "eval_slow.py", "--watch"], cwd=tmp_path, env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    deadline = time.monotonic() + 30
    while not scored.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=30)

    assert process.returncode == 130, err
    assert 1.5 < time.monotonic() - started < 10, err  # the flush waited out its deadline, well inside the grace
    assert "interrupted; flushing what already ran" in err and "Traceback" not in err
    assert "spilled (interrupted" not in err and "spilled (deadline" in err, err  # one Ctrl-C, not two


def test_a_second_ctrl_c_stops_the_flush_and_spills(tmp_path, bt_server, store_dir):
    """Braintrust hangs: after the first Ctrl-C the flush waits (up to 10 s); a second one stops
    it at once, and what was not sent is spilled, to replay."""
    scored = tmp_path / "quick-case-scored"
    interruptible_eval(tmp_path / "eval_hang.py", scored, "proj-hang", "hung", 2)
    bt_server.fail_always("POST", "/logs3", {"hang": True})
    env = cli_env(store_dir, BRAINTRUST_API_KEY=bt_server.api_key, BRAINTRUST_APP_URL=bt_server.url)
    process = subprocess.Popen([sys.executable, "-m", "braintrust", "eval", "eval_hang.py"], cwd=tmp_path, env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not scored.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)  # stops the eval; its flush now waits on the hanging server
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    second = time.monotonic()
    out, err = process.communicate(timeout=30)

    assert time.monotonic() - second < 5, err
    assert process.returncode == 130, err
    assert "spilled (interrupted: " in err and "braintrust replay" in err  # counted by reason, with the command
    assert "Traceback" not in err
    assert list((store_dir / "spill").glob("spill-*.json")), err


# -- against the loopback API server -----------------------------------------------------------


def test_against_the_api_server_with_env_and_with_options(tmp_path, bt_server, store_dir):
    write(tmp_path / "eval_remote.py", eval_source("proj-remote", "remote", cases="[{'input': 1, 'expected': 1}, {'input': 2, 'expected': 3}]"))
    from_env = cli_env(store_dir, BRAINTRUST_API_KEY=bt_server.api_key, BRAINTRUST_APP_URL=bt_server.url)

    with_env = run_cli("eval", "eval_remote.py", cwd=tmp_path, env=from_env)
    with_options = run_cli(
        "eval", "eval_remote.py", "--api-key", bt_server.api_key, "--app-url", bt_server.url, "--org-name", bt_server.org_name,
        cwd=tmp_path, env=cli_env(store_dir),
    )
    wrong_org = run_cli("eval", "eval_remote.py", "--org-name", "no-such-org", cwd=tmp_path, env=from_env)

    assert with_env.returncode == 0, with_env.stderr
    assert f"Experiment remote is running at {bt_server.url}/app/test-org/p/proj-remote/experiments/remote" in with_env.stderr
    assert "50.00% 'exact' score" in with_env.stdout
    assert with_options.returncode == 0, with_options.stderr
    assert "prefer the BRAINTRUST_API_KEY environment variable" in with_options.stderr
    assert bt_server.api_key not in with_options.stdout + with_options.stderr  # never echoed
    experiments_seen = bt_server.experiments()
    assert [e["name"] for e in experiments_seen] == ["remote", "remote-1"]  # (the server de-duplicates names)
    for experiment in experiments_seen:
        assert sorted(r["input"] for r in bt_server.rows("experiment", experiment["id"]) if not r.get("span_parents")) == [1, 2]
    assert wrong_org.returncode == 1
    assert "Organization no-such-org not found" in wrong_org.stderr
    assert not database(store_dir).exists()  # nothing went to the local store
