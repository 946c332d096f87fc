"""QA (third round) of the local store with new-user eyes: spilled rows replayed after their
experiment left the store (pruned, or the store moved aside as its errors advise), and a spill
folder replayed away from the checkout that wrote it. Real stores, real spill files, the command
in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from braintrust.delivery.backend import EXPERIMENT, PROJECT_LOGS, ObjectRef
from braintrust.delivery.replay import replay
from braintrust.delivery.spill import SpillWriter
from braintrust.store.sqlite_store import LocalStore
from delivery_helpers import make_row, subprocess_env
from test_qa_locked_store import lock_held


def braintrust_command(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "braintrust", *args], cwd=cwd,
                          env=subprocess_env(PYTHONDONTWRITEBYTECODE="1", **env),
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def rows_of(database: Path, project: str, experiment: str) -> list[str]:
    """The ids of the rows experiment ``experiment`` of ``project`` holds ([] when there is none)."""
    with LocalStore(database) as store:
        found = store.get_project(name=project)
        record = found and store.get_experiment(project_id=found["id"], name=experiment)
        return sorted(row["id"] for row in store.fetch_rows(EXPERIMENT, record["id"])[0]) if record else []


def test_rows_of_an_experiment_pruned_before_the_replay_go_to_an_experiment_of_its_name(tmp_path):
    """Rows spilled after their experiment was made carry its id; `braintrust prune` deleted it
    before the replay. They were written under that id, in no experiment: "replayed", shown
    nowhere, never pruned. Now the experiment is made again by name, and the replay says so."""
    database = tmp_path / "store" / "braintrust.sqlite"
    old = ObjectRef(EXPERIMENT, {"project_name": "p", "experiment_name": "old"})
    with LocalStore(database) as store:
        project_id = store.get_or_create_project("p")["id"]
        old.ids = {"experiment_id": store.create_experiment(project_id, "old")["id"]}
        store.create_experiment(project_id, "new")
    writer = SpillWriter(tmp_path / "spill", {"kind": "local", "path": str(database)})
    writer.write([(old, make_row("late", input={"q": 1}))], "local_store", masked=True, item_count=1)
    with LocalStore(database) as store:
        assert [record["name"] for record in store.prune_experiments(1)] == ["old"]

    result = replay(tmp_path / "spill", timeout_seconds=10)
    assert (result.rows_sent, result.rows_failed, result.errors) == (1, 0, [])
    assert rows_of(database, "p", "old") == ["late"]
    assert result.registered == ["experiment 'old' of project 'p' (the one its rows were written for is no longer in the store)"]
    assert result.stores_written == {str(database)}


SCRIPT = """
import sys, braintrust
experiment = braintrust.init(project="p", experiment="nightly")
logger = braintrust.init_logger(project="p")
experiment.log(input=0, output=0, scores={"ok": 1}, id="first")
logger.log(input=0, output=0, id="log-first")
experiment.flush(); logger.flush()
print("made", flush=True)
sys.stdin.readline()  # the store's write lock is held by another process from now on
for i in (1, 2):
    experiment.log(input=i, output=i, scores={"ok": 1}, id=f"late-{i}")
    logger.log(input=i, output=i, id=f"log-late-{i}")
"""


def test_rows_spilled_for_a_store_since_moved_aside_reach_the_new_store(tmp_path):
    """A store stuck behind another process's lock spills a run's last rows; the user moves the
    store aside (as the store's errors advise) and runs `braintrust replay`. The rows named the
    old store's experiment and project ids: they were "replayed" into the new store under ids of
    nothing there, so `braintrust show` found no project. Now the replay makes them again by name,
    names the store it wrote, and `show` and `logs` list the rows."""
    store = tmp_path / "project" / ".braintrust"
    env = dict(BRAINTRUST_LOCAL_DIR=str(store), BRAINTRUST_LOCAL_BUSY_TIMEOUT="0.2", BRAINTRUST_FLUSH_TIMEOUT="5")
    run = subprocess.Popen([sys.executable, "-c", SCRIPT], cwd=tmp_path, env=subprocess_env(**env), text=True,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert run.stdout.readline().strip() == "made", run.stderr.read()
    with lock_held(store / "braintrust.sqlite"):
        _, err = run.communicate("go\n", timeout=30)
    assert "4 spilled" in err, err
    assert "for the whole 0.2 s wait" in err, err  # (it said "0 s" for a wait under a second)
    assert rows_of(store / "braintrust.sqlite", "p", "nightly") == ["first"]
    (store / "braintrust.sqlite").rename(tmp_path / "old.sqlite")

    replayed = braintrust_command("replay", cwd=tmp_path / "project", BRAINTRUST_LOCAL_DIR=str(store))
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert f"replayed 4 rows from 1 of 1 spill files (into the local store {store / 'braintrust.sqlite'})" in replayed.stdout
    assert "experiment 'nightly' of project 'p' (the one its rows were written for is no longer in the store)" in replayed.stdout
    assert rows_of(store / "braintrust.sqlite", "p", "nightly") == ["late-1", "late-2"]
    shown = braintrust_command("logs", "p", cwd=tmp_path / "project", BRAINTRUST_LOCAL_DIR=str(store))
    assert shown.returncode == 0 and "the last 2 traces" in shown.stdout, shown.stdout + shown.stderr


def test_the_ledger_of_a_store_moved_aside_is_not_trusted_either(tmp_path):
    """A first replay made the project (no ids were known) and recorded its ids beside the spill
    files; the store is then moved aside and a later file of the same logs is replayed: those ids
    name nothing in the new store, so the project is found or made again."""
    database = tmp_path / "store" / "braintrust.sqlite"
    ref = ObjectRef(PROJECT_LOGS, {"project_name": "bot"})
    writer = SpillWriter(tmp_path / "spill", {"kind": "local", "path": str(database)})
    writer.write([(ref, make_row("a", input=1))], "local_store", masked=True, item_count=1)
    assert replay(tmp_path / "spill", timeout_seconds=10).rows_sent == 1
    database.rename(tmp_path / "aside.sqlite")
    writer.write([(ref, make_row("b", input=2))], "local_store", masked=True, item_count=1)

    result = replay(tmp_path / "spill", timeout_seconds=10)
    assert (result.rows_sent, result.errors, result.objects_created) == (1, [], 1)
    with LocalStore(database) as store:
        [project] = store.list_projects()
        assert project["name"] == "bot"
        assert [row["id"] for row in store.fetch_rows(PROJECT_LOGS, project["id"])[0]] == ["b"]


def test_a_spill_folder_from_another_machine_makes_no_store_there_and_names_the_fix(tmp_path):
    """Spill files name their store by absolute path. A spill folder copied from CI (or another
    checkout) was replayed into a store made at that path, folders and all, and the output said
    nothing of where. Now nothing is made, the rows stay, and the error and the hint name `--store`."""
    gone = tmp_path / "runner" / "work" / "repo" / ".braintrust" / "braintrust.sqlite"
    spills = tmp_path / "copied-spill"
    ref = ObjectRef(EXPERIMENT, {"project_name": "p", "experiment_name": "ci-run"})
    SpillWriter(spills, {"kind": "local", "path": str(gone)}).write(
        [(ref, make_row(f"r{i}", input={"i": i})) for i in range(3)], "local_store", masked=True, item_count=3)

    refused = braintrust_command("replay", str(spills), cwd=tmp_path)
    assert refused.returncode == 1 and not (tmp_path / "runner").exists()
    assert f"{gone.parent.parent} does not exist here" in refused.stderr, refused.stderr
    assert f"braintrust replay {spills} --store FOLDER" in refused.stderr
    assert "3 rows failed again" in refused.stdout and len(list(spills.glob("spill-*.json"))) == 1

    here = tmp_path / "here"
    moved = braintrust_command("replay", str(spills), "--store", str(here), cwd=tmp_path)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert f"(into the local store {here / 'braintrust.sqlite'})" in moved.stdout
    assert rows_of(here / "braintrust.sqlite", "p", "ci-run") == ["r0", "r1", "r2"]


def test_a_store_moved_aside_is_made_again_in_its_folder(tmp_path):
    """The store's own folder may be gone (`.braintrust` deleted): the project folder holding it is
    there, so the store is made again in it, as the store's errors say."""
    project = tmp_path / "checkout"
    project.mkdir()
    database = project / ".braintrust" / "braintrust.sqlite"
    ref = ObjectRef(EXPERIMENT, {"project_name": "p", "experiment_name": "e"})
    SpillWriter(tmp_path / "spill", {"kind": "local", "path": str(database)}).write(
        [(ref, make_row("r", input=1))], "local_store", masked=True, item_count=1)
    result = replay(tmp_path / "spill", timeout_seconds=10)
    assert (result.rows_sent, result.errors) == (1, [])
    assert rows_of(database, "p", "e") == ["r"]


def test_a_bare_replay_reads_the_spill_folder_of_the_store_the_other_commands_read(tmp_path):
    """pytest keeps a suite's store in its rootdir (`suite/` with its own pytest.ini, below the
    project root). A run there that spilled says "`braintrust replay` sends the spilled rows";
    run in `suite/`, where `braintrust list` finds that store, it read the project root's spill
    folder instead and said "nothing to replay" (exit 0). Now it reads the store's spill folder,
    and run from above it names the folder where spill files wait."""
    repo = tmp_path / "repo"
    (repo / "suite").mkdir(parents=True)
    (repo / "pyproject.toml").write_text("")
    (repo / "suite" / "pytest.ini").write_text("[pytest]\n")
    database = repo / "suite" / ".braintrust" / "braintrust.sqlite"
    ref = ObjectRef(EXPERIMENT, {"project_name": "suite", "experiment_name": "run"})
    SpillWriter(database.parent / "spill", {"kind": "local", "path": str(database)}).write(
        [(ref, make_row(f"r{i}", input=i)) for i in range(2)], "local_store", masked=True, item_count=2)
    (tmp_path / "tmp").mkdir()  # (the system's spill folder, another place spill files wait, is this test's own)
    env = dict(TMPDIR=str(tmp_path / "tmp"))

    above = braintrust_command("replay", cwd=repo, **env)
    assert above.returncode == 0, above.stderr
    assert f"nothing to replay in {repo / '.braintrust' / 'spill'}" in above.stdout
    assert (f"spill files are waiting in {database.parent / 'spill'}: `braintrust replay suite/.braintrust/spill`"
            in above.stdout), above.stdout
    inside = braintrust_command("replay", cwd=repo / "suite", **env)
    assert inside.returncode == 0 and "replayed 2 rows from 1 of 1 spill files" in inside.stdout, inside.stdout + inside.stderr
    assert rows_of(database, "suite", "run") == ["r0", "r1"]


def test_a_store_folder_that_is_a_file_is_named_as_a_file(tmp_path):
    """`BRAINTRUST_LOCAL_DIR` naming a file: the logger said "[Errno 17] File exists ... check that
    the folder exists", and `braintrust list` said to run an eval first. Both now say that the path
    is a file, not a folder; the rows spill (and are counted) as before."""
    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder")
    (tmp_path / "tmp").mkdir()
    env = dict(BRAINTRUST_LOCAL_DIR=str(blocker), TMPDIR=str(tmp_path / "tmp"))
    script = "import braintrust\nbraintrust.init_logger(project='p').log(input=1, output=1)\n"
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=subprocess_env(**env),
                         capture_output=True, text=True, timeout=60)
    assert f"{blocker} is a file, not a folder" in run.stderr and "Errno" not in run.stderr, run.stderr
    assert "1 spilled" in run.stderr and blocker.read_text() == "not a folder"
    listed = braintrust_command("list", cwd=tmp_path, **env)
    assert listed.returncode == 1 and f"{blocker} is a file, not a folder; point --store" in listed.stderr, listed.stderr
    deeper = braintrust_command("list", cwd=tmp_path, BRAINTRUST_LOCAL_DIR=str(blocker / "store"))
    assert deeper.returncode == 1 and f"{blocker} is a file, not a folder" in deeper.stderr, deeper.stderr


def test_a_cut_short_or_empty_spill_file_is_named_with_what_to_do_and_the_others_are_replayed(tmp_path):
    """A spill folder copied while a file was being copied: one file cut short, one empty. Each
    is named with what happened and what to do (the JSON parser's "Expecting value: line 1
    column 1 (char 0)" said neither), kept, and the good file is replayed."""
    database = tmp_path / "store" / "braintrust.sqlite"
    writer = SpillWriter(tmp_path / "spill", {"kind": "local", "path": str(database)})
    ref = ObjectRef(EXPERIMENT, {"project_name": "p", "experiment_name": "e"})
    cut = writer.write([(ref, make_row(f"cut{i}", input=i)) for i in range(3)], "local_store", masked=True, item_count=3)
    writer.write([(ref, make_row("good", input=9))], "local_store", masked=True, item_count=1)
    cut.write_bytes(cut.read_bytes()[:200])
    empty = tmp_path / "spill" / "spill-0-empty.json"
    empty.write_bytes(b"")

    replayed = braintrust_command("replay", str(tmp_path / "spill"), cwd=tmp_path)
    assert replayed.returncode == 1 and "replayed 1 rows from 1 of 3 spill files" in replayed.stdout, replayed.stdout
    assert f"{empty.name}: unreadable spill file (it is empty): cut short (a copy that did not finish?) or edited" in replayed.stderr
    assert f"{cut.name}: unreadable spill file (" in replayed.stderr
    assert replayed.stderr.count("reports it until it is moved out of the folder; left in place") == 2, replayed.stderr
    assert cut.exists() and empty.exists() and rows_of(database, "p", "e") == ["good"]


def test_replay_store_option_takes_the_project_folder_as_the_other_commands_do(tmp_path):
    """`--store .` in the project folder means its `.braintrust/` store to `list`, `show` and the
    rest; `replay --store .` made a second store, `./braintrust.sqlite` (beside the code, not
    ignored by git), which `braintrust list` never showed. Now the rows go to the project's store."""
    project = tmp_path / "project"
    database = project / ".braintrust" / "braintrust.sqlite"
    with LocalStore(database) as store:
        store.get_or_create_project("p")
    gone = tmp_path / "ci" / "work" / ".braintrust" / "braintrust.sqlite"
    ref = ObjectRef(EXPERIMENT, {"project_name": "p", "experiment_name": "from-ci"})
    SpillWriter(tmp_path / "spill", {"kind": "local", "path": str(gone)}).write(
        [(ref, make_row("r", input=1))], "local_store", masked=True, item_count=1)

    replayed = braintrust_command("replay", str(tmp_path / "spill"), "--store", ".", cwd=project)
    assert replayed.returncode == 0 and f"(into the local store {database})" in replayed.stdout, replayed.stdout + replayed.stderr
    assert not (project / "braintrust.sqlite").exists() and rows_of(database, "p", "from-ci") == ["r"]
    listed = braintrust_command("list", cwd=project)
    assert "from-ci" in listed.stdout, listed.stdout + listed.stderr
