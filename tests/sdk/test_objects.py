"""Experiments, datasets and git metadata, in the local store and against the test server."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import braintrust
from braintrust import git
from braintrust.delivery.backend import EXPERIMENT, ObjectRef
from braintrust.xact_ids import prettify_xact


def git_repo(path, *, dirty: bool, origin: bool = False):
    def run(*args, cwd=path):
        subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)

    path.mkdir()
    run("init", "-q", "-b", "main")
    run("config", "user.email", "dev@example.invalid")
    run("config", "user.name", "Dev Eloper")
    (path / "app.py").write_text("print(1)\n")
    run("add", "app.py")
    run("commit", "-q", "-m", "first commit")
    if origin:
        bare = path.parent / "origin.git"
        run("init", "--bare", "-q", str(bare))
        run("remote", "add", "origin", str(bare))
        run("push", "-q", "origin", "main")
    if dirty:
        (path / "app.py").write_text("print(2)\n")
    return path


# -- git metadata ------------------------------------------------------------------------------


def test_repo_info_of_a_dirty_checkout(tmp_path):
    repo = git_repo(tmp_path / "repo", dirty=True)
    info = git.collect_repo_info({"collect": "all"}, str(repo))
    assert info["branch"] == "main" and info["dirty"] is True
    assert len(info["commit"]) == 40 and info["author_email"] == "dev@example.invalid"
    assert info["commit_message"] == "first commit"
    assert info["commit_time"].endswith("+00:00") or "+" in info["commit_time"] or "-" in info["commit_time"][-6:]
    assert info["git_diff"].startswith("diff --git a/app.py b/app.py")


def test_some_fields_only_and_none(tmp_path):
    repo = git_repo(tmp_path / "repo", dirty=False)
    info = git.collect_repo_info({"collect": "some", "fields": ["commit", "branch"]}, str(repo))
    assert info["branch"] == "main" and info["author_name"] is None and info["dirty"] is None
    assert git.collect_repo_info({"collect": "none"}, str(repo)) is None
    assert git.collect_repo_info({"collect": "all"}, str(tmp_path)) is None  # not a repository


def test_a_slow_git_costs_at_most_the_collection_budget(tmp_path, monkeypatch):
    """A repository on a slow filesystem (or a git waiting on a lock) must not hold a run up:
    every call shares one budget, and what did not fit is left out."""
    import time

    fake = tmp_path / "bin" / "git"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        'case "$1 $2" in\n'
        '  "rev-parse --is-inside-work-tree") echo true ;;\n'
        '  "rev-parse HEAD") echo 0123456789abcdef0123456789abcdef01234567 ;;\n'
        "  *) sleep 30 ;;\n"
        "esac\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.setattr(git, "COLLECT_BUDGET_SECONDS", 0.5)
    started = time.monotonic()
    info = git.collect_repo_info({"collect": "all"}, str(tmp_path))
    assert time.monotonic() - started < 0.5 + 1.0  # the budget, plus a stated margin for process start
    assert info["commit"] == "0123456789abcdef0123456789abcdef01234567"
    assert info["dirty"] is None and info["branch"] is None and info["git_diff"] is None


def test_settings_combine_as_the_public_sdk_does():
    assert git.combine_settings(None, {"collect": "some", "fields": ["commit"]}) == {"collect": "some", "fields": ["commit"]}
    assert git.combine_settings({"collect": "none"}, {"collect": "all"}) == {"collect": "none"}
    assert git.combine_settings({"collect": "some", "fields": ["a", "b"]}, {"collect": "some", "fields": ["b", "c"]}) == {"collect": "some", "fields": ["b"]}
    assert git.combine_settings({"collect": "all"}, None) == {"collect": "all"}


def test_ancestor_commits_need_an_origin(tmp_path):
    assert git.ancestor_commits(str(git_repo(tmp_path / "plain", dirty=True))) == []
    repo = git_repo(tmp_path / "tracked", dirty=True, origin=True)
    commits = git.ancestor_commits(str(repo))
    assert commits == [git.collect_repo_info({"collect": "all"}, str(repo))["commit"]]


def test_the_org_policy_decides_collection_over_the_api(tmp_path, bt_server_factory, monkeypatch):
    repo = git_repo(tmp_path / "repo", dirty=True)
    monkeypatch.chdir(repo)
    for policy, expect_repo_info in ((None, False), ({"collect": "all"}, True)):
        braintrust.delivery.runtime.reset_for_tests()
        server = bt_server_factory(git_metadata=policy)
        monkeypatch.setenv("BRAINTRUST_API_KEY", server.api_key)
        monkeypatch.setenv("BRAINTRUST_APP_URL", server.url)
        experiment = braintrust.init(project="git")
        experiment.id  # registers
        (body,) = [r.json for r in server.requests_to("/v1/experiment", "POST")]
        assert ("repo_info" in body) is expect_repo_info
    explicit = braintrust.init(project="git", repo_info=braintrust.RepoInfo(commit="abc", branch="x"))
    explicit.id
    body = [r.json for r in server.requests_to("/v1/experiment", "POST")][-1]
    assert body["repo_info"]["commit"] == "abc" and body["repo_info"]["branch"] == "x"


def test_the_local_store_records_git_metadata_and_names_runs_by_branch(tmp_path, monkeypatch, capsys):
    """No organization policy offline: everything is collected (the diff too), as git.py says;
    ``git_metadata_settings`` and an explicit ``repo_info`` still decide; ``braintrust show``
    says where the code came from."""
    from braintrust.cli.compare_command import list_experiments
    from braintrust.cli.store_commands import show_experiment
    from braintrust.store.sqlite_store import LocalStore

    repo = git_repo(tmp_path / "repo", dirty=True)
    monkeypatch.chdir(repo)
    for experiment in (braintrust.init(project="git"), braintrust.init(project="git", git_metadata_settings={"collect": "none"}),
                       braintrust.init(project="git", repo_info=braintrust.RepoInfo(commit="abc", branch="x"))):
        experiment.log(input=1, output=1, scores={})
    braintrust.flush()
    with LocalStore(braintrust.store.location.database_path()) as store:
        collected, off, explicit = store.list_experiments()
        assert collected["repo_info"]["branch"] == "main" and collected["repo_info"]["dirty"] is True
        assert collected["repo_info"]["git_diff"].startswith("diff --git a/app.py b/app.py")
        assert collected["name"].startswith("main-")  # named after the branch when no name is given
        assert off["repo_info"] is None and off["name"].startswith("experiment-")
        assert explicit["repo_info"]["commit"] == "abc"
        show_experiment(store, "git", collected["name"], sys.stdout)
        list_experiments(store, "git", sys.stdout)
    commit = collected["repo_info"]["commit"]
    out = capsys.readouterr().out
    assert f"  git:      main {commit[:12]}, with uncommitted changes" in out
    listed = {line.split()[0]: line.split()[3] for line in out.splitlines() if line.startswith("  ") and line.split()[0] in
              (collected["name"], off["name"], explicit["name"])}
    assert listed == {collected["name"]: f"main@{commit[:7]}*", off["name"]: "-", explicit["name"]: "x@abc"}


# -- experiments ------------------------------------------------------------------------------


def test_experiment_log_leaves_out_the_unused_dataset_record_id(bt_env):
    experiment = braintrust.init(project="p", experiment="records")
    experiment.log(input=1, output=1, scores={}, dataset_record_id="r0")
    experiment.flush()
    [row] = bt_env.rows("experiment", experiment.id)
    assert row["input"] == 1 and "dataset_record_id" not in row  # (0.48.1 does not send it)


def test_experiment_log_validates_like_the_public_sdk():
    experiment = braintrust.init(project="p", experiment="e")
    with pytest.raises(ValueError, match="scores"):
        experiment.log(input=1, output=2)
    with pytest.raises(ValueError, match="needs output="):
        experiment.log(input=1, scores={})
    with pytest.raises(ValueError, match="'s' must be between 0 and 1"):
        experiment.log(input=1, output=2, scores={"s": 1.5})
    experiment.start_span(name="x").end()
    with pytest.raises(ValueError, match="allow_concurrent_with_spans"):
        experiment.log(input=1, output=2, scores={})
    experiment.log(input=1, output=2, scores={}, allow_concurrent_with_spans=True)
    with pytest.raises(ValueError, match="open and update"):
        braintrust.init(project="p", experiment="e", open=True, update=True)


@pytest.mark.parametrize("mode", ["local", "api"])
def test_update_joins_and_open_reads_an_existing_experiment(mode, request):
    if mode == "api":
        request.getfixturevalue("bt_env")
    first = braintrust.init(project="p", experiment="shared")
    first.log(input="a", output="A", expected="A", scores={"ok": 1})
    assert first.fetch_base_experiment() == braintrust.objects.experiment.ExperimentIdentifier(id=None, name=None)  # none yet
    first.flush()
    joined = braintrust.init(project="p", experiment="shared", update=True)
    joined.log(input="b", output="x", expected="B", scores={"ok": 0})
    joined.flush()
    assert joined.id == first.id
    readonly = braintrust.init(project="p", experiment="shared", open=True)
    assert isinstance(readonly, braintrust.ReadonlyExperiment)
    assert sorted(r["input"] for r in readonly) == ["a", "b"]
    cases = sorted(readonly.as_dataset(batch_size=1), key=lambda c: c["input"])
    assert [{k: c[k] for k in ("input", "expected", "tags", "metadata")} for c in cases] == [
        {"input": "a", "expected": "A", "tags": None, "metadata": None}, {"input": "b", "expected": "B", "tags": None, "metadata": None}]
    assert all(set(c) == {"input", "expected", "tags", "metadata", "id", "_xact_id"} and c["id"] and c["_xact_id"] for c in cases)
    fresh = braintrust.init(project="p", experiment="shared")  # ensure_new: a new name
    fresh.log(input="c", output="c", scores={})
    assert fresh.name != "shared"
    assert fresh.fetch_base_experiment().name == "shared"
    # the hill-climbing workflow: the last experiment's cases, run again
    rerun = braintrust.Eval("p-rerun", data=readonly.as_dataset(), task=lambda x: x.upper(), scores=[lambda output, expected: output == expected])
    assert sorted((r.input, r.output, r.scores["scorer_0"]) for r in rerun.results) == [("a", "A", True), ("b", "B", True)]


@pytest.mark.parametrize("mode", ["local", "api"])
def test_comments_are_not_rows_of_the_experiment(mode, request, capsys):
    """``log_feedback(comment=...)`` writes a comment beside its row. Reading the experiment
    back (``fetch``, ``as_dataset``) and summarizing it leave comments out, as Braintrust does:
    in the local store a comment had been a row with no input, so a rerun over ``as_dataset()``
    got an empty case and the summary counted one input too many."""
    if mode == "api":
        request.getfixturevalue("bt_env")
    base = braintrust.init(project="comments", experiment="base")
    for q in (1, 2):
        base.log(input=q, output=q, scores={"s": 1})
    base.flush()
    exp = braintrust.init(project="comments", experiment="next", base_experiment="base")
    first = exp.log(input=1, output=1, scores={"s": 1})
    exp.log(input=2, output=2, scores={"s": 0})
    exp.log_feedback(id=first, comment="looks right", scores={"s": 0.5})
    summary = exp.summarize()
    assert [row["input"] for row in exp.fetch()] == [1, 2]
    assert [case["input"] for case in braintrust.init(project="comments", experiment="next", open=True).as_dataset()] == [1, 2]
    assert summary.scores["s"].score == pytest.approx(0.25)
    if mode == "local":  # (with a key, comparisons are the server's)
        assert summary.scores["s"].regressions == 2 and summary.case_coverage is None
    assert "inputs in both" not in capsys.readouterr().out


@pytest.mark.parametrize("mode", ["local", "api"])
def test_an_experiment_being_written_reads_back_its_rows_and_version(mode, request, capsys):
    """``experiment.fetch()`` (and iterating it) sends what was logged first, as a user reading
    back expects; ``version`` is the newest transaction, on a writable and a read-only one."""
    if mode == "api":
        request.getfixturevalue("bt_env")
    experiment = braintrust.init(project="p", experiment="reads")
    experiment.log(input="a", output="A", scores={"ok": 1})
    assert [r["input"] for r in experiment.fetch()] == ["a"]  # no flush by the test
    first_version = experiment.version
    experiment.log(input="b", output="B", scores={"ok": 0})
    assert sorted(r["input"] for r in experiment) == ["a", "b"]
    assert int(experiment.version) > int(first_version) > 0
    readonly = braintrust.init(project="p", experiment="reads", open=True)
    assert readonly.version == experiment.version
    assert len(readonly.fetched_data) == 2
    assert ".fetched_data is deprecated" in capsys.readouterr().err
    dataset = braintrust.init_dataset(project="p", name="d")
    dataset.insert(input=1, expected=2)
    assert [r["expected"] for r in dataset.fetched_data] == [2]


@pytest.mark.parametrize("mode", ["local", "api"])
def test_data_is_the_object_itself_as_braintrust_holds_it(mode, request):
    """``experiment.data`` / ``dataset.data``: the registered object (the public SDK's
    ``full_info``), the same fields from Braintrust and from the local store; also for an
    experiment joined by id, which was never registered in this process."""
    if mode == "api":
        request.getfixturevalue("bt_env")
    experiment = braintrust.init(project="p", experiment="described", description="a run", metadata={"model": "m"})
    data = experiment.data
    assert {"id", "name", "project_id", "created", "description", "metadata", "base_exp_id", "public", "commit"} <= set(data)
    assert (data["id"], data["name"], data["description"], data["metadata"], data["public"]) == (
        experiment.id, "described", "a run", {"model": "m"}, False)
    readonly = braintrust.init(project="p", experiment="described", open=True)
    assert readonly.data["id"] == experiment.id and readonly.data["project_id"] == data["project_id"]
    joined = braintrust.Experiment(ObjectRef(EXPERIMENT, {}, ids={"experiment_id": experiment.id}))
    assert {k: v for k, v in joined.data.items() if k != "user_id"} == {k: v for k, v in data.items() if k != "user_id"}
    dataset = braintrust.init_dataset(project="p", name="golden", description="cases")
    assert (dataset.data["id"], dataset.data["name"], dataset.data["description"]) == (dataset.id, "golden", "cases")
    data["name"] = "changed"  # (a copy: the object's record stays as it was)
    assert experiment.data["name"] == "described"
    # Its other fields read as attributes, as 0.48.1's (``experiment.description``); an unknown
    # one is an AttributeError naming the fields there are (0.48.1: a KeyError, which hasattr() lets out).
    assert (experiment.description, experiment.metadata, readonly.description) == ("a run", {"model": "m"}, "a run")
    assert (dataset.description, dataset.created) == ("cases", dataset.data["created"])
    with pytest.raises(AttributeError, match="no attribute 'descripton' \\(its fields: .*description"):
        experiment.descripton
    assert not hasattr(dataset, "nothing_like_it")


@pytest.mark.parametrize("mode", ["local", "api"])
def test_an_unknown_base_experiment_name_warns_and_compares_with_the_default(mode, request, caplog):
    if mode == "api":
        request.getfixturevalue("bt_env")
    braintrust.init(project="bases", experiment="first").log(input="a", output="a", scores={"ok": 1})
    braintrust.flush()
    with caplog.at_level("WARNING", logger="braintrust"):
        second = braintrust.init(project="bases", experiment="second", base_experiment="nope")
        second.log(input="a", output="a", scores={"ok": 1})
        summary = second.summarize()
    assert any("base experiment 'nope' not found in project 'bases'" in r.getMessage() for r in caplog.records)
    assert summary.comparison_experiment_name == "first"  # the default: the previous experiment


def test_an_unknown_base_experiment_id_warns_and_compares_with_the_default(caplog):
    """In the local store, as an unknown name does (it was kept as the base: no comparison said why)."""
    braintrust.init(project="base-ids", experiment="first").log(input="a", output="a", scores={"ok": 1})
    braintrust.flush()
    with caplog.at_level("WARNING", logger="braintrust"):
        second = braintrust.init(project="base-ids", experiment="second", base_experiment_id="no-such-id")
        second.log(input="a", output="a", scores={"ok": 1})
        summary = second.summarize()
    assert any("base experiment id 'no-such-id' not found in the local store" in r.getMessage() for r in caplog.records)
    assert summary.comparison_experiment_name == "first"


@pytest.mark.parametrize("mode", ["local", "api"])
def test_opening_a_missing_experiment_names_it(mode, request):
    if mode == "api":
        request.getfixturevalue("bt_env")
    readonly = braintrust.init(project="p", experiment="nope", open=True)
    with pytest.raises(ValueError, match="nope"):  # (a ValueError, as 0.48.1 raises)
        list(readonly)
    with pytest.raises(ValueError, match="Experiment '?nope'? not found in project '?p'?"):
        braintrust.init(project="p", experiment="nope", open=True).id


# -- datasets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["local", "api"])
def test_use_output_reads_records_in_the_legacy_form(mode, request, capsys):
    if mode == "api":
        request.getfixturevalue("bt_env")
    dataset = braintrust.init_dataset(project="p", name="legacy")
    dataset.insert(input="hi", expected="HI")
    dataset.flush()
    legacy = braintrust.init_dataset(project="p", name="legacy", use_output=True)
    assert 'the "expected" field renamed to "output"' in capsys.readouterr().err
    [record] = list(legacy)
    assert record["output"] == "HI" and "expected" not in record  # (as 0.48.1 reads it)
    [record] = list(braintrust.init_dataset(project="p", name="legacy"))
    assert record["expected"] == "HI" and "output" not in record


@pytest.mark.parametrize("mode", ["local", "api"])
def test_dataset_versions_pin_what_a_read_sees(mode, request):
    if mode == "api":
        request.getfixturevalue("bt_env")
    dataset = braintrust.init_dataset(project="p", name="greetings", description="toy")
    first = dataset.insert(input="hi", expected="HI", metadata={"lang": "en"}, tags=["short"])
    dropped = dataset.insert(input="bye", expected="BYE", id="to-delete")
    dataset.flush()
    pinned_version = dataset.version
    dataset.update(first, metadata={"reviewed": True})
    dataset.delete(dropped)
    dataset.insert(input="hello", expected="HELLO")
    dataset.flush()
    now = sorted((r["input"], r.get("metadata")) for r in dataset)
    assert now == [("hello", None), ("hi", {"lang": "en", "reviewed": True})] or now == [("hello", {}), ("hi", {"lang": "en", "reviewed": True})]
    pinned = braintrust.init_dataset(project="p", name="greetings", version=pinned_version)
    then = sorted(r["input"] for r in pinned.fetch(batch_size=1))
    assert then == ["bye", "hi"]
    # The same version as the Braintrust UI shows it (16 hex digits) pins the same records.
    pretty = braintrust.init_dataset(project="p", name="greetings", version=prettify_xact(pinned_version))
    assert sorted(r["input"] for r in pretty) == ["bye", "hi"] and pretty.version == pinned_version
    assert int(dataset.version) > int(pinned_version)
    summary = dataset.summarize()
    assert summary.data_summary.total_records == 2 and summary.data_summary.new_records == 3
    assert "Total records: 2 (3 new or updated records)" in str(summary)


def test_a_pinned_dataset_read_folds_the_store_log_once(monkeypatch):
    """A read as of a version pages through rows folded once: it had folded the whole history
    again for every page, so reading a 100k-record dataset at a version took half a minute."""
    from braintrust.store import rows as row_ops

    dataset = braintrust.init_dataset(project="p", name="pinned-pages")
    for i in range(25):
        dataset.insert(input=i, expected=i, id=f"r{i:02d}")
    dataset.flush()
    version = dataset.version
    dataset.update("r03", expected=-3)
    dataset.delete("r04")
    dataset.flush()
    folds = []
    real_fold = row_ops.fold
    monkeypatch.setattr(row_ops, "fold", lambda *args: folds.append(1) or real_fold(*args))
    pinned = braintrust.init_dataset(project="p", name="pinned-pages", version=version)
    records = list(pinned.fetch(batch_size=4))
    assert [(r["input"], r["expected"]) for r in records] == [(i, i) for i in range(25)]
    assert len(folds) == 1


@pytest.mark.parametrize("mode", ["local", "api"])
def test_inserting_while_iterating_a_dataset_reads_what_was_there(mode, request):
    """Iterating a dataset while inserting into it (augmenting it) reads the records there when
    the loop began, as 0.48.1 does: pages were read lazily, so each page brought back the records
    written since and the loop never ended; and a loop cut short left them out of later reads."""
    if mode == "api":
        request.getfixturevalue("bt_env")
    dataset = braintrust.init_dataset(project="p", name="augmented")
    for i in range(3):
        dataset.insert(input=i, expected=i)
    seen = []
    for record in dataset.fetch(batch_size=1):
        seen.append(record["input"])
        dataset.insert(input=record["input"] + 10, expected=0)
        braintrust.flush()
        if len(seen) > 10:
            break
    assert seen == [0, 1, 2]
    assert sorted(r["input"] for r in dataset) == [0, 1, 2, 10, 11, 12]


def test_dataset_arguments_are_checked():
    with pytest.raises(ValueError, match="'latest' is not a version. Pass a transaction id .* or the 16-hex-digit form"):
        braintrust.init_dataset(project="p", name="d", version="latest")
    dataset = braintrust.init_dataset(project="p", name="d")
    with pytest.raises(ValueError, match="not both"):
        dataset.insert(input=1, expected=2, output=3)
    with pytest.raises(ValueError, match="tags"):
        dataset.insert(input=1, tags="x")


def test_an_experiment_over_a_dataset_records_it(bt_env):
    dataset = braintrust.init_dataset(project="p", name="d")
    dataset.insert(input=1, expected=1)
    dataset.flush()
    experiment = braintrust.init(project="p", dataset=dataset)
    experiment.id
    body = [r.json for r in bt_env.requests_to("/v1/experiment", "POST")][-1]
    assert body["dataset_id"] == dataset.id and body["dataset_version"] == dataset.version


def test_a_dataset_environment_is_looked_up_once_and_offline_says_what_to_do(bt_env):
    dataset = braintrust.init_dataset(project="p", name="d")
    dataset.insert(input=1, expected=1)
    dataset.flush()
    first = dataset.version
    bt_env.set_environment_object("dataset", dataset.id, "production", first)
    dataset.insert(input=2, expected=2)
    production = braintrust.init_dataset(project="p", name="d", environment="production")
    assert repr(production) == "Dataset(project='p', name='d', environment='production')"  # asks no server
    assert [r["input"] for r in production] == [1] and production.version == first != dataset.version
    assert len(bt_env.requests_to(f"/environment-object/dataset/{dataset.id}/production", "GET")) == 1
    with pytest.raises(ValueError, match="Dataset d \\(project p\\) has no version in environment 'qa'.*pass version= instead"):
        list(braintrust.init_dataset(project="p", name="d", environment="qa"))


def test_a_dataset_environment_offline_names_the_fix():
    braintrust.init_dataset(project="p", name="d").insert(input=1)
    with pytest.raises(ValueError, match="the local store has no environments. Pass version= instead, or set BRAINTRUST_API_KEY"):
        list(braintrust.init_dataset(project="p", name="d", environment="production"))


def test_an_experiment_records_the_saved_parameters_it_ran_with(bt_env):
    """``init(parameters=...)``: the public SDK's ``parameters_id`` / ``parameters_version`` on
    ``POST /v1/experiment`` (probed side by side with 0.48.1), from a reference or an object."""
    class Saved:
        id, version = "param-2", 9

    for parameters in ({"id": "param-1", "version": "7"}, {"id": "param-1"}, Saved()):
        braintrust.init(project="p", experiment="with-parameters", parameters=parameters).id
    bodies = [r.json for r in bt_env.requests_to("/v1/experiment", "POST")]
    assert [(b.get("parameters_id"), b.get("parameters_version")) for b in bodies] == [
        ("param-1", "7"), ("param-1", None), ("param-2", "9")]
    with pytest.raises(ValueError, match=r"init\(parameters=...\) takes a reference to saved parameters"):
        braintrust.init(project="p", parameters={"temperature": 0.5})


@pytest.mark.parametrize("call, message", [
    (lambda: braintrust.log(input=1, output=2, scores={}), r"Not initialized\. Please call braintrust\.init\(\.\.\.\) before calling braintrust\.log"),
    (lambda: braintrust.summarize(), r"before calling braintrust\.summarize\(\)"),
    (lambda: braintrust.init(project="p", experiment="e", open=True, update=True), r"Cannot open and update an experiment at the same time"),
    (lambda: braintrust.init(project="p", open=True), r"init\(open=True\) needs experiment="),
    (lambda: braintrust.init(project="p", repo_info="main"), r"repo_info must be a RepoInfo or a dict, got str"),
    (lambda: braintrust.init(project="p", git_metadata_settings="all"), r"git_metadata_settings must be a GitMetadataSettings or a dict"),
    (lambda: braintrust.init(project="p", dataset={"version": "1"}), r"dataset= as a dict needs an 'id'"),
    (lambda: braintrust.init(project="p", dataset="my-dataset"), r"dataset= must be a Dataset from init_dataset or a dict"),
])
def test_misuse_is_refused_with_the_fix(bt_env, monkeypatch, call, message):
    monkeypatch.delenv("BRAINTRUST_PROJECT_NAME", raising=False)
    monkeypatch.delenv("BRAINTRUST_PROJECT_ID", raising=False)
    with pytest.raises(ValueError, match=message):
        call()
    assert bt_env.requests_to("/v1/experiment", "POST") == []  # nothing created


@pytest.mark.parametrize("mode", ["local", "api"])
def test_init_dataset_by_id_opens_that_dataset(mode, request):
    """In the local store it opened (created) a dataset named "logs" in project "Global" instead."""
    if mode == "api":
        request.getfixturevalue("bt_env")
    dataset = braintrust.init_dataset(project="by-id", name="qa")
    dataset.insert(input=1, expected=1, id="a")
    dataset.flush()
    again = braintrust.init_dataset(dataset_id=dataset.id)
    assert (again.name, [record["id"] for record in again]) == ("qa", ["a"])
    if mode == "local":
        with pytest.raises(ValueError, match="Dataset 'nope' not found in the local store"):
            list(braintrust.init_dataset(dataset_id="nope"))
