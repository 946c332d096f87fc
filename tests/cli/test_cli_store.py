"""``braintrust experiments`` and ``braintrust compare`` (and ``list``/``show``) on a local store
filled by ``braintrust eval``, in subprocesses."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from cli_support import cli_env, eval_source, run_cli, write

CASES = "[{'input': 1, 'expected': 1}, {'input': 2, 'expected': 2}, {'input': 3, 'expected': 3}, {'input': 4, 'expected': 4}]"


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A store with project proj-cmp: baseline (75 %), better (100 %, base_experiment_name=baseline
    not given: compared with the previous one), worse (25 %), and project proj-other: solo."""
    root = tmp_path_factory.mktemp("cli-store")
    env = cli_env(root / "store")
    write(root / "eval_1_baseline.py", eval_source("proj-cmp", "baseline", cases=CASES, task="lambda x: x if x != 4 else 0"))
    write(root / "eval_2_better.py", eval_source("proj-cmp", "better", cases=CASES))
    write(root / "eval_3_worse.py", eval_source("proj-cmp", "worse", cases=CASES, task="lambda x: x if x == 1 else 0"))
    write(root / "eval_4_solo.py", eval_source("proj-other", "solo"))
    result = run_cli("eval", ".", cwd=root, env=env)
    assert result.returncode == 0, result.stderr
    return root, env


def test_experiments_lists_every_experiment_newest_last_with_rows_and_scores(filled):
    root, env = filled

    everything = run_cli("experiments", cwd=root, env=env)
    one_project = run_cli("experiments", "proj-cmp", cwd=root, env=env)
    as_json = run_cli("experiments", "proj-cmp", "--json", cwd=root, env=env)

    assert everything.returncode == 0, everything.stderr
    lines = everything.stdout.splitlines()
    assert lines[1].split() == ["PROJECT", "EXPERIMENT", "CREATED", "(UTC)", "GIT", "ROWS", "TRACES", "SCORES"]
    assert [line.split()[1] for line in lines[2:]] == ["baseline", "better", "worse", "solo"]
    assert one_project.returncode == 0
    rows = [line.split() for line in one_project.stdout.splitlines()[2:]]
    assert [(r[0], r[3], r[4], r[5], r[6]) for r in rows] == [
        ("baseline", "-", "12", "4", "exact=75.00%"), ("better", "-", "12", "4", "exact=100.00%"),
        ("worse", "-", "12", "4", "exact=25.00%"),  # ("-": not run in a git checkout)
    ]
    entries = json.loads(as_json.stdout)
    assert [(e["name"], e["rows"], e["traces"], e["scores"]) for e in entries] == [
        ("baseline", 12, 4, {"exact": 0.75}), ("better", 12, 4, {"exact": 1.0}), ("worse", 12, 4, {"exact": 0.25}),
    ]
    assert all(e["created"] and e["project"] == "proj-cmp" and e["git"] is None for e in entries)


def test_experiments_lists_the_newest_few_unless_told(filled):
    """A laptop's store gathers hundreds of runs: the table shows the newest (20 by default) and
    says how many there are; ``--last 0`` lists all, and ``--json`` follows ``--last`` too."""
    root, env = filled
    newest = run_cli("experiments", "--last", "2", cwd=root, env=env)
    assert newest.returncode == 0, newest.stderr
    lines = newest.stdout.splitlines()
    assert lines[0].endswith("(the newest 2 of 4, oldest first; --last 0 lists all)")
    assert [line.split()[1] for line in lines[2:]] == ["worse", "solo"]
    every = run_cli("experiments", "--last", "0", cwd=root, env=env)
    assert every.stdout.splitlines()[0].endswith("(oldest first)") and len(every.stdout.splitlines()) == 6
    as_json = run_cli("experiments", "proj-cmp", "--json", "--last", "1", cwd=root, env=env)
    assert [e["name"] for e in json.loads(as_json.stdout)] == ["worse"]
    bad = run_cli("experiments", "--last", "-1", cwd=root, env=env)
    assert bad.returncode == 2 and "--last: expected a whole number of 0 or more, got '-1'" in bad.stderr


def test_compare_defaults_to_the_previous_experiment_and_takes_an_explicit_base(filled):
    root, env = filled

    default_base = run_cli("compare", "proj-cmp", "worse", cwd=root, env=env)
    explicit = run_cli("compare", "proj-cmp", "better", "baseline", cwd=root, env=env)
    as_json = run_cli("compare", "proj-cmp", "worse", "baseline", "--json", cwd=root, env=env)

    assert default_base.returncode == 0, default_base.stderr
    assert "worse compared to better:" in default_base.stdout
    assert "25.00% (-75.00%) 'exact' score\t(0 improvements, 3 regressions)" in default_base.stdout
    assert "run `braintrust show proj-cmp worse`" in default_base.stdout
    assert "=========================SUMMARY=========================" in default_base.stdout
    assert "better compared to baseline:" in explicit.stdout
    assert "100.00% (+25.00%) 'exact' score\t(1 improvements, 0 regressions)" in explicit.stdout
    data = json.loads(as_json.stdout)
    assert data["experiment_name"] == "worse" and data["comparison_experiment_name"] == "baseline"
    assert data["scores"]["exact"]["score"] == 0.25
    assert data["scores"]["exact"]["diff"] == pytest.approx(-0.5)
    assert (data["scores"]["exact"]["improvements"], data["scores"]["exact"]["regressions"]) == (0, 2)
    assert "duration" in data["metrics"] and data["comparison_experiment_id"]


def test_compare_first_experiment_has_no_base(filled):
    root, env = filled

    result = run_cli("compare", "proj-other", "solo", cwd=root, env=env)

    assert result.returncode == 0, result.stderr
    assert "has no base experiment" in result.stderr and "pass BASE" in result.stderr
    assert "compared to" not in result.stdout and "100.00% 'exact' score" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["compare", "nope", "worse"], "no project 'nope'"),
        (["compare", "proj-cmp", "nope"], "no experiment 'nope' in project 'proj-cmp'; experiments: baseline, better, worse"),
        (["compare", "proj-cmp", "worse", "nope"], "no base experiment 'nope'"),
        (["experiments", "nope"], "projects: proj-cmp, proj-other"),
        (["show", "proj-cmp", "nope"], "no experiment 'nope'"),
    ],
)
def test_lookup_errors_name_what_exists(filled, args, message):
    root, env = filled

    result = run_cli(*args, cwd=root, env=env)

    assert result.returncode == 1
    assert message in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("command", [["experiments"], ["compare", "p", "e"], ["list"], ["show", "p", "e"]])
def test_missing_store_says_how_to_fix_it(tmp_path, command):
    result = run_cli(*command, cwd=tmp_path, env=cli_env(tmp_path / "no-store"))

    assert result.returncode == 1
    assert "no local store at" in result.stderr and "BRAINTRUST_LOCAL_DIR" in result.stderr
    assert not (tmp_path / "no-store").exists()


@pytest.mark.parametrize("command", [["experiments"], ["compare", "p", "e"], ["list"], ["show", "p", "e"]])
def test_a_damaged_or_foreign_store_file_is_named_with_the_fix_not_a_traceback(tmp_path, command):
    store = tmp_path / "store"
    store.mkdir()
    (store / "braintrust.sqlite").write_text("notes, not a database\n" * 100)

    result = run_cli(*command, cwd=tmp_path, env=cli_env(store))

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert (
        f"braintrust: {store / 'braintrust.sqlite'} cannot be read as a Braintrust store (file is not a database): "
        "it is damaged or is some other file; move it aside" in result.stderr
    )
    assert (store / "braintrust.sqlite").read_text().startswith("notes, not a database")  # left as it was


def test_a_store_of_a_newer_version_is_named_with_the_fix(filled, tmp_path):
    import shutil
    import sqlite3

    root, _ = filled
    copy = tmp_path / "newer"
    shutil.copytree(root / "store", copy)
    with sqlite3.connect(copy / "braintrust.sqlite") as conn:
        conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")

    result = run_cli("experiments", cwd=tmp_path, env=cli_env(copy))

    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "has schema version 999, newer than this pytest-braintrust understands" in result.stderr


def test_store_option_and_usage_error(filled, tmp_path):
    root, _ = filled

    listed = run_cli("experiments", "--store", str(root / "store"), cwd=tmp_path, env=cli_env(tmp_path / "elsewhere"))
    usage = run_cli("logs", cwd=tmp_path, env=cli_env(tmp_path / "elsewhere"))
    no_store = run_cli("compare", cwd=tmp_path, env=cli_env(tmp_path / "elsewhere"))

    assert listed.returncode == 0 and "solo" in listed.stdout
    assert usage.returncode == 2 and "the following arguments are required: project" in usage.stderr
    # The project folder holding the store (where pytest ran: `--store .`) names it too.
    project = tmp_path / "project"
    (project / ".braintrust").mkdir(parents=True)
    with sqlite3.connect(root / "store" / "braintrust.sqlite") as source, sqlite3.connect(project / ".braintrust" / "braintrust.sqlite") as copy:
        source.backup(copy)
    in_project = run_cli("experiments", "--store", ".", cwd=project, env=cli_env(tmp_path / "elsewhere"))
    assert in_project.returncode == 0 and "solo" in in_project.stdout, in_project.stderr
    assert no_store.returncode == 1 and "no local store at" in no_store.stderr, no_store.stderr


def test_replay_of_a_folder_that_does_not_exist_is_a_usage_error_but_no_spills_is_fine(tmp_path):
    env = cli_env(tmp_path / "store")
    typo = run_cli("replay", str(tmp_path / "spil"), cwd=tmp_path, env=env)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    not_a_folder = run_cli("replay", str(a_file), cwd=tmp_path, env=env)
    default = run_cli("replay", cwd=tmp_path, env=env)  # nothing ever spilled: no folder yet

    assert typo.returncode == 2 and f"{tmp_path / 'spil'} does not exist" in typo.stderr
    assert not_a_folder.returncode == 2 and "is not a folder" in not_a_folder.stderr
    assert default.returncode == 0 and "nothing to replay" in default.stdout
    no_time = run_cli("replay", "--timeout", "0", cwd=tmp_path, env=env)
    assert no_time.returncode == 2 and "--timeout: expected a number of seconds above 0, got '0'" in no_time.stderr


def test_compare_names_the_regressed_cases_by_input_when_their_names_are_shared(filled):
    """``Eval``'s root spans are all named "eval": regressed cases are named by their input."""
    root, env = filled

    result = run_cli("compare", "proj-cmp", "worse", "better", cwd=root, env=env)

    assert result.returncode == 0, result.stderr
    assert "'exact' regressed in 3 cases: input 2, input 3, input 4" in result.stdout
    as_json = json.loads(run_cli("compare", "proj-cmp", "worse", "better", "--json", cwd=root, env=env).stdout)
    assert as_json["scores"]["exact"]["regressed_cases"] == ["input 2", "input 3", "input 4"]


def test_compare_after_the_dataset_grew_is_over_the_inputs_both_ran(tmp_path):
    """Two cases added to the data (one failing) are not a regression of the two that were there."""
    env = cli_env(tmp_path / "store")
    write(tmp_path / "eval_v1.py", eval_source("proj-grown", "v1", cases="[{'input': 1, 'expected': 1}, {'input': 2, 'expected': 2}]"))
    assert run_cli("eval", "eval_v1.py", cwd=tmp_path, env=env).returncode == 0
    grown = "[{'input': 1, 'expected': 1}, {'input': 2, 'expected': 2}, {'input': 3, 'expected': 3}, {'input': 4, 'expected': 4}]"
    write(tmp_path / "eval_v2.py", eval_source("proj-grown", "v2", cases=grown, task="lambda x: x if x != 4 else 0"))
    eval_run = run_cli("eval", "eval_v2.py", cwd=tmp_path, env=env)

    text = run_cli("compare", "proj-grown", "v2", cwd=tmp_path, env=env).stdout
    as_json = json.loads(run_cli("compare", "proj-grown", "v2", "--json", cwd=tmp_path, env=env).stdout)

    for printed in (eval_run.stdout, text):  # Eval's own summary says it too
        assert "diffs over the 2 inputs in both (this run has 4, v1 has 2)" in printed
        assert "75.00% (-) 'exact' score\t(0 improvements, 0 regressions)" in printed
    assert as_json["compared_inputs"] == {"common": 2, "this_run": 4, "base": 2}
    assert as_json["scores"]["exact"]["diff"] == 0.0 and as_json["scores"]["exact"]["score"] == 0.75


@pytest.mark.parametrize("command", [["show", "proj-cmp"], ["compare", "proj-cmp"], ["experiments"], ["list"]])
def test_output_closed_early_stops_quietly(filled, command):
    """``braintrust show P | head``: the reader is gone before the command writes; no traceback."""
    import subprocess
    import sys

    root, env = filled
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the command writes
    try:
        result = subprocess.run([sys.executable, "-m", "braintrust", *command], cwd=root, env=env, stdout=write_end,
                                stderr=subprocess.PIPE, text=True, timeout=60, stdin=subprocess.DEVNULL)
    finally:
        os.close(write_end)
    assert result.returncode == 141, result.stderr
    assert result.stderr == ""


def test_show_and_compare_default_to_the_newest_experiment(filled):
    """At a laptop, "how did the last run go?": `braintrust show` / `braintrust compare`."""
    root, env = filled
    show = run_cli("show", "proj-cmp", cwd=root, env=env)
    compare = run_cli("compare", "proj-cmp", cwd=root, env=env)
    assert show.returncode == 0 and show.stdout.startswith("Experiment worse  (project proj-cmp)")
    assert compare.returncode == 0 and "worse compared to better:" in compare.stdout
    empty = run_cli("compare", "proj-empty", cwd=root, env=env)
    assert empty.returncode == 1 and "no project 'proj-empty'" in empty.stderr
    # With no project either: the last run, whichever project it was (solo, in proj-other).
    last_show, last_compare = run_cli("show", cwd=root, env=env), run_cli("compare", cwd=root, env=env)
    assert last_show.returncode == 0 and last_show.stdout.startswith("Experiment solo  (project proj-other)"), last_show.stderr
    assert last_compare.returncode == 0 and "See results for solo" in last_compare.stdout, last_compare.stderr
    assert "compared to" not in last_compare.stdout  # (the first run of its project)
    # An experiment's name alone (the name a summary printed): that experiment, whichever project.
    by_name = run_cli("show", "better", cwd=root, env=env)
    assert by_name.returncode == 0 and by_name.stdout.startswith("Experiment better  (project proj-cmp)"), by_name.stderr
    neither = run_cli("show", "nightly", cwd=root, env=env)
    assert neither.returncode == 1 and "no project 'nightly'" in neither.stderr


def test_compare_takes_an_experiment_name_alone_as_show_does(filled):
    """`braintrust compare NAME` (or its id), NAME an experiment a summary printed: that one, in its project."""
    root, env = filled
    by_name = run_cli("compare", "worse", cwd=root, env=env)
    better_id = next(e["id"] for e in json.loads(run_cli("experiments", "--json", cwd=root, env=env).stdout) if e["name"] == "better")
    by_id = run_cli("compare", better_id, cwd=root, env=env)
    unknown = run_cli("compare", "nightly", cwd=root, env=env)

    assert by_name.returncode == 0, by_name.stderr
    assert "worse compared to better:" in by_name.stdout and "run `braintrust show proj-cmp worse`" in by_name.stdout
    assert by_id.returncode == 0 and "better compared to baseline:" in by_id.stdout, by_id.stderr
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert "no project 'nightly' in " in unknown.stderr
    assert ", nor an experiment of that name; projects: proj-cmp, proj-other." in unknown.stderr


def test_an_experiment_name_of_two_projects_needs_its_project(tmp_path):
    """A lone name two projects' experiments have is refused by `show` and `compare` alike, with the command
    that names the project; named with its project, each is found."""
    env = cli_env(tmp_path / "store")
    write(tmp_path / "eval_a.py", eval_source("proj-a", "nightly"))
    write(tmp_path / "eval_b.py", eval_source("proj-b", "nightly"))
    assert run_cli("eval", ".", cwd=tmp_path, env=env).returncode == 0

    for command in ("show", "compare"):
        alone = run_cli(command, "nightly", cwd=tmp_path, env=env)
        assert alone.returncode == 1 and alone.stdout == ""
        assert ("braintrust: 'nightly' is an experiment of 2 projects (proj-a, proj-b); name the project too: "
                f"`braintrust {command} proj-a nightly`.") in alone.stderr
    named = run_cli("compare", "proj-b", "nightly", cwd=tmp_path, env=env)
    assert named.returncode == 0 and "run `braintrust show proj-b nightly`" in named.stdout, named.stderr


def test_experiments_given_an_experiment_name_points_to_show(filled):
    root, env = filled

    result = run_cli("experiments", "worse", cwd=root, env=env)

    assert result.returncode == 1 and result.stdout == ""
    assert "no project 'worse' in " in result.stderr and "projects: proj-cmp, proj-other." in result.stderr
    assert "('worse' is an experiment of project proj-cmp: `braintrust show worse` shows it.)" in result.stderr


@pytest.mark.parametrize("command, option", [(["show"], "--limit"), (["experiments"], "--last"), (["logs", "p"], "--last"),
                                             (["dataset", "p", "d"], "--limit")])
def test_every_count_option_takes_0_for_all_and_refuses_a_negative_number(tmp_path, command, option):
    """`--last`/`--limit` read alike everywhere: 0 is all of them (as each --help says), a negative
    number is a usage error naming the option. (0 at work: the tests of each command.)"""
    env = cli_env(tmp_path / "store")

    negative = run_cli(*command, option, "-1", cwd=tmp_path, env=env)
    helped = run_cli(command[0], "--help", cwd=tmp_path, env=env)

    assert negative.returncode == 2 and negative.stdout == ""
    assert f"argument {option}: expected a whole number of 0 or more, got '-1'" in negative.stderr
    assert helped.returncode == 0 and "0: all of them)" in " ".join(helped.stdout.split())


def test_show_limit_0_shows_every_trace(filled):
    root, env = filled

    first = run_cli("show", "proj-cmp", "worse", "--limit", "1", cwd=root, env=env)
    every = run_cli("show", "proj-cmp", "worse", "--limit", "0", cwd=root, env=env)

    assert first.returncode == 0 and "4 traces, the first 1 shown (--limit 0 shows all)" in first.stdout
    assert every.returncode == 0 and "shown" not in every.stdout
    assert [line for line in every.stdout.splitlines() if line.startswith("eval")] == ["eval [eval]"] * 4


def test_show_picks_traces_by_name_or_input_and_by_error(tmp_path):
    """After a run, look at one case (``--case``, as the summary names it) or at the failures."""
    env = cli_env(tmp_path / "store")
    cases = "[{'input': 'refund please'}, {'input': 'Refund now'}, {'input': 'hello'}, {'input': 'boom'}]"
    task = "lambda x: x.upper() if x != 'boom' else 1 / 0"
    write(tmp_path / "eval_pick.py", eval_source("proj-pick", "run", cases=cases, task=task))
    assert run_cli("eval", "eval_pick.py", cwd=tmp_path, env=env).returncode == 1  # a case's task raised

    refunds = run_cli("show", "proj-pick", "--case", "REFUND", cwd=tmp_path, env=env)
    assert refunds.returncode == 0, refunds.stderr
    assert '"REFUND PLEASE"' in refunds.stdout and '"REFUND NOW"' in refunds.stdout and "HELLO" not in refunds.stdout
    assert refunds.stdout.rstrip().endswith("2 of 4 traces with 'REFUND' in the name or input")
    errors = run_cli("show", "proj-pick", "--errors", cwd=tmp_path, env=env)
    assert '"boom"' in errors.stdout and "ZeroDivisionError" in errors.stdout and "REFUND" not in errors.stdout
    assert errors.stdout.rstrip().endswith("1 of 4 traces with an error")
    both = run_cli("show", "proj-pick", "run", "--case", "refund", "--errors", cwd=tmp_path, env=env)
    assert both.returncode == 0 and both.stdout.rstrip().endswith("0 of 4 traces with 'refund' in the name or input and an error")
    everything = run_cli("show", "proj-pick", cwd=tmp_path, env=env)
    assert all(text in everything.stdout for text in ("REFUND PLEASE", "HELLO", "ZeroDivisionError"))


def test_no_store_here_points_at_one_just_below(tmp_path):
    """``pytest example_project --braintrust`` from a repository's root puts the store in the
    suite's rootdir: a command run from the root says where it is, with the command to see it."""
    from delivery_helpers import subprocess_env

    (tmp_path / "pyproject.toml").write_text("")  # the project root the commands look in
    suite = tmp_path / "example_suite"
    write(suite / "eval_here.py", eval_source("proj-below", "only"))
    assert run_cli("eval", "eval_here.py", cwd=suite, env=cli_env(suite / ".braintrust")).returncode == 0
    env = subprocess_env(PYTHONDONTWRITEBYTECODE="1")  # no BRAINTRUST_LOCAL_DIR: the default place

    shown = run_cli("show", "proj-below", cwd=tmp_path, env=env)

    assert shown.returncode == 1
    assert f"no local store at {tmp_path / '.braintrust' / 'braintrust.sqlite'}" in shown.stderr
    assert "found one below: `braintrust show proj-below --store example_suite/.braintrust`" in shown.stderr
    again = run_cli("show", "proj-below", "--store", "example_suite/.braintrust", cwd=tmp_path, env=env)
    assert again.returncode == 0 and again.stdout.startswith("Experiment only  (project proj-below)")
    # From the suite's folder, or one inside it, the nearest store up to the project root is found.
    (suite / "evals").mkdir()
    for where in (suite, suite / "evals"):
        inside = run_cli("show", "proj-below", cwd=where, env=env)
        assert inside.returncode == 0 and inside.stdout.startswith("Experiment only  (project proj-below)"), inside.stderr


def test_logs_shows_what_a_logger_wrote_offline(tmp_path):
    env = cli_env(tmp_path / "store")
    write(tmp_path / "app.py", '''
        import braintrust

        logger = braintrust.init_logger(project="support")

        @braintrust.traced(type="llm")
        def model(question):
            return question.upper()

        for question in ("hello", "refund", "bye"):
            with logger.start_span(name="request") as span:
                span.log(input=question, output=model(question))
                last = span.id
        logger.log_feedback(id=last, scores={"thumbs": 0}, comment="too loud")
    ''')
    import subprocess
    import sys

    assert subprocess.run([sys.executable, "app.py"], cwd=tmp_path, env=env, timeout=60).returncode == 0

    result = run_cli("logs", "support", "--last", "2", cwd=tmp_path, env=env)
    every = run_cli("logs", "support", "--last", "0", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "Logs of project support: the last 2 traces (7 rows in all)"
    assert [line for line in lines[2:] if line and not line.startswith(" ")] == ["request [task]", "request [task]"]
    assert '"REFUND"' in result.stdout and '"BYE"' in result.stdout and '"HELLO"' not in result.stdout
    assert 'comment:  "too loud"' in result.stdout and "thumbs=0.00" in result.stdout
    assert every.returncode == 0 and every.stdout.splitlines()[0] == "Logs of project support: the last 3 traces (7 rows in all)"
    assert all(text in every.stdout for text in ('"HELLO"', '"REFUND"', '"BYE"'))  # (--last 0: all of them)


def test_records_reach_the_local_store_and_braintrust_logs_shows_them_in_their_spans(tmp_path):
    env = cli_env(tmp_path / "store")
    write(tmp_path / "app.py", '''
        import braintrust

        logger = braintrust.init_logger(project="records")
        logger.info("worker {n} started", n=3)
        with logger.start_span(name="request") as span:
            span.log(input="refund please")
            with span.start_span(name="lookup"):
                logger.warn("slow lookup: {ms} ms", ms=1200)
            logger.error({"code": 7})
    ''')
    import subprocess
    import sys

    assert subprocess.run([sys.executable, "app.py"], cwd=tmp_path, env=env, timeout=60).returncode == 0

    result = run_cli("logs", "records", cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines()[2:] if line.strip()]
    assert lines == [
        '[info] "worker 3 started"',
        "request [task]",
        '    input:    "refund please"',
        "    duration: " + lines[3].split("duration: ")[1],
        "  lookup",
        "      duration: " + lines[5].split("duration: ")[1],
        '    [warn] "slow lookup: 1200 ms"',
        '  [error] {"code": 7}',
    ]


def test_dataset_shows_the_records_now_and_as_of_a_version(tmp_path):
    env = cli_env(tmp_path / "store")
    write(tmp_path / "build.py", '''
        import braintrust

        dataset = braintrust.init_dataset(project="support", name="golden")
        dataset.insert(input="refund?", expected="refund", id="r1", tags=["billing"])
        dataset.insert(input="reset?", expected="reset", id="r2")
        dataset.flush()
        print(dataset.version)
        dataset.update(id="r2", expected="password reset")
        dataset.delete("r1")
        dataset.flush()
    ''')
    import subprocess
    import sys

    built = subprocess.run([sys.executable, "build.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert built.returncode == 0, built.stderr
    first_version = built.stdout.split()[-1]

    now = run_cli("dataset", "support", "golden", cwd=tmp_path, env=env)
    then = run_cli("dataset", "support", "golden", "--version", first_version, cwd=tmp_path, env=env)
    pretty = run_cli("dataset", "support", "golden", "--version", format(int(first_version) * 3**30 % 2**64, "016x"), cwd=tmp_path, env=env)
    wrong = run_cli("show", "support", "golden", cwd=tmp_path, env=env)
    missing = run_cli("dataset", "support", "silver", cwd=tmp_path, env=env)
    first = run_cli("dataset", "support", "golden", "--version", first_version, "--limit", "1", cwd=tmp_path, env=env)
    every = run_cli("dataset", "support", "golden", "--version", first_version, "--limit", "0", cwd=tmp_path, env=env)

    assert now.returncode == 0, now.stderr
    assert now.stdout.splitlines()[0].startswith("Dataset golden  (project support): 1 record, version ")
    assert now.stdout.splitlines()[2:5] == ["r2", '    input:    "reset?"', '    expected: "password reset"']
    assert then.returncode == 0 and f"version {first_version}" in then.stdout
    assert then.stdout.splitlines()[2:6] == ["r1", '    input:    "refund?"', '    expected: "refund"', '    tags:     ["billing"]']
    assert '"reset"' in then.stdout and "password reset" not in then.stdout
    assert pretty.returncode == 0 and pretty.stdout.splitlines()[1:] == then.stdout.splitlines()[1:]  # (the UI's form of the version)
    assert wrong.returncode == 1 and "('golden' is a dataset: `braintrust dataset support golden`)" in wrong.stderr
    assert missing.returncode == 1 and "no dataset 'silver' in project 'support'; datasets: golden." in missing.stderr
    assert first.returncode == 0 and "r2" not in first.stdout.splitlines() and "... and more (showing the first 1" in first.stdout
    assert every.returncode == 0 and every.stdout == then.stdout  # (--limit 0: all of them)


def test_show_names_attachments_and_attachment_gets_their_bytes(tmp_path):
    env = cli_env(tmp_path / "store")
    write(tmp_path / "eval_files.py", """
        from braintrust import Attachment, Eval, ExternalAttachment

        def task(x):
            if x == "a":
                return {"file": Attachment(data=b"bytes of a", filename="a.txt", content_type="text/plain")}
            return {"doc": ExternalAttachment(url="https://example.com/b", filename="b", content_type="text/html"),
                    "file": Attachment(data=b"bytes of b", filename="b.txt", content_type="text/plain")}

        Eval("proj-files", data=[{"input": "a"}, {"input": "b"}], task=task, scores=[lambda output: 1])
    """)
    assert run_cli("eval", "eval_files.py", cwd=tmp_path, env=env).returncode == 0
    shown = run_cli("show", cwd=tmp_path, env=env)
    assert '"file": "[attachment a.txt text/plain ' in shown.stdout
    assert '"doc": "[attachment b text/html at https://example.com/b]"' in shown.stdout
    key = shown.stdout.split("[attachment a.txt text/plain ")[1][:8]

    saved = run_cli("attachment", key, "-o", str(tmp_path), cwd=tmp_path, env=env)
    assert saved.returncode == 0, saved.stderr
    assert (tmp_path / "a.txt").read_bytes() == b"bytes of a"
    assert f"wrote a.txt (text/plain, 10 bytes) to {tmp_path / 'a.txt'}" in saved.stderr
    piped = run_cli("attachment", key, cwd=tmp_path, env=env)
    assert piped.stdout == "bytes of a"
    missing = run_cli("attachment", "ffffffff", cwd=tmp_path, env=env)
    assert missing.returncode == 1 and "no attachment with a key starting 'ffffffff'" in missing.stderr
    ambiguous = run_cli("attachment", "", cwd=tmp_path, env=env)
    assert ambiguous.returncode == 1 and "starts several attachments' keys" in ambiguous.stderr
