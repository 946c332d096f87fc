"""Configuration under adversarial input: ``BRAINTRUST_*`` values the system's timers cannot
hold, folders written with ``~``, URLs without a scheme, a key changed between logins, an
unknown organization, and git repositories that are slow, huge or not UTF-8. Each ends in a
clear error naming the setting and the fix, or in rows delivered: never a traceback, a hang
or rows in a place the user did not choose."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

import braintrust
from braintrust import git
from braintrust.config import DeliverySettings
from btserver import Step
from delivery_helpers import subprocess_env


def _log_one_row() -> None:
    logger = braintrust.init_logger(project="qa-configuration")
    logger.log(input=1, output=1)


# -- numbers the system's timers cannot hold ------------------------------------------------------


@pytest.mark.parametrize("name, value, problem", [
    ("BRAINTRUST_HTTP_TIMEOUT", "1e10", "must be at most 86400; unset it to use the default 30.0"),
    ("BRAINTRUST_FLUSH_TIMEOUT", "1e300", "must be at most 86400; unset it to use the default 10.0"),
    ("BRAINTRUST_NUM_RETRIES", "-1", "must be at least 0; unset it to use the default 4"),
])
def test_a_wait_beyond_the_systems_timers_is_refused_where_it_is_read(name, value, problem, bt_env, monkeypatch):
    """A read timeout of 1e10 s made every request fail with an ``OverflowError`` traceback
    (the socket's timer cannot hold it), and every row spilled as an internal error."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError) as refused:
        _log_one_row()
    assert str(refused.value) == f"{name}={value!r} {problem}."


def test_a_day_is_the_longest_wait_and_rows_are_delivered_with_it(bt_logs, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_HTTP_TIMEOUT", "86400")
    monkeypatch.setenv("BRAINTRUST_FLUSH_TIMEOUT", "86400")
    _log_one_row()
    assert len(bt_logs.rows()) == 1


# -- folders named with ~ -------------------------------------------------------------------------


def test_a_spill_folder_written_with_a_tilde_is_in_the_home_folder(tmp_path):
    """In a ``.env`` file or a CI setting ``~`` reaches us unexpanded: the spill files went to a
    folder literally named ``~`` in the working folder, and the replay command the summary
    printed (which the shell expands) found nothing."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    script = textwrap.dedent("""
        import braintrust
        logger = braintrust.init_logger(project="tilde")
        logger.log(input=1, output=1)
        result = braintrust.flush(timeout=0)
        print(result.spilled)
    """)
    env = subprocess_env(
        HOME=str(home), BRAINTRUST_API_KEY="sk-nobody-at-all", BRAINTRUST_APP_URL="http://127.0.0.1:9",
        BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR="~/spill", BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"),
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1"]
    assert len(list((home / "spill").glob("spill-*.json"))) == 1
    assert not (work / "~").exists()
    assert f"braintrust replay {home / 'spill'}" in proc.stderr


def test_a_relative_payload_copy_folder_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BRAINTRUST_ALL_PUBLISH_PAYLOADS_DIR", "copies")
    monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", "~/spill")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    settings = DeliverySettings.from_env()
    assert settings.payload_copy_dir == tmp_path.resolve() / "copies"
    assert settings.spill_dir == (tmp_path / "home" / "spill").resolve()


# -- URLs -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, make_url", [
    ("BRAINTRUST_APP_URL", lambda url: url.split("//", 1)[1]),  # 127.0.0.1:PORT, no scheme
    ("BRAINTRUST_APP_URL", lambda url: "localhost:" + url.rsplit(":", 1)[1]),  # parses as scheme "localhost"
    ("BRAINTRUST_APP_URL", lambda url: url + "?org=x"),  # the login path would land in the query
    ("BRAINTRUST_API_URL", lambda url: url.split("//", 1)[1]),
])
def test_a_url_without_its_scheme_is_refused_naming_the_variable(name, make_url, bt_env, monkeypatch):
    """It used to say "Could not reach Braintrust ... check the network" (for the API URL,
    without naming the variable at all) and remember the host as unreachable."""
    bad = make_url(bt_env.url)
    monkeypatch.setenv(name, bad)
    with pytest.raises(ValueError) as refused:
        braintrust.login()
    assert str(refused.value) == (
        f"{name}={bad!r} is not an http(s) URL of a host: write it with its scheme and without a query, "
        "e.g. https://www.braintrust.dev."
    )
    monkeypatch.setenv(name, bt_env.url + "/")  # fixed: the next login goes through
    braintrust.login()


def test_rows_under_a_url_without_a_scheme_spill_with_the_fix(bt_env, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_APP_URL", bt_env.url.split("//", 1)[1])
    _log_one_row()
    result = braintrust.flush()
    assert (result.produced, result.accepted, result.spilled) == (1, 0, 1)
    assert result.spilled_by_reason == {"bad_url": 1}
    assert any("is not an http(s) URL of a host" in error for error in result.errors), result.errors


def test_https_to_a_plain_http_server_says_so(bt_env, monkeypatch):
    """The hint was about certificates and private CAs: not what is wrong."""
    monkeypatch.setenv("BRAINTRUST_APP_URL", bt_env.url.replace("http://", "https://"))
    with pytest.raises(ValueError, match="it does not answer in TLS: if it serves plain HTTP, write BRAINTRUST_APP_URL with http://"):
        braintrust.login()


def test_a_login_path_that_is_not_found_asks_whether_the_url_is_the_app(bt_env, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_APP_URL", bt_env.url + "/some/path")
    with pytest.raises(ValueError, match=r"failed: \[404\] .*\(is BRAINTRUST_APP_URL the address of the Braintrust app\?\)"):
        braintrust.login()


# -- login ----------------------------------------------------------------------------------------


def test_a_key_changed_after_a_refused_login_is_the_one_used_next(bt_env, monkeypatch):
    """The connection kept the first key: after fixing ``BRAINTRUST_API_KEY``, every login
    was refused again with the old one."""
    monkeypatch.setenv("BRAINTRUST_API_KEY", "sk-wrong-key-0000")
    with pytest.raises(ValueError, match=r"Invalid API key sk\*\*\*\*\*00: \[401\]"):
        braintrust.login()
    monkeypatch.setenv("BRAINTRUST_API_KEY", bt_env.api_key)
    braintrust.login()
    assert bt_env.requests_to("/api/apikey/login")[-1].header("authorization") == f"Bearer {bt_env.api_key}"


def test_force_login_after_the_key_changed_sends_rows_with_the_new_key(bt_logs, monkeypatch):
    server = bt_logs.server
    server.other_api_keys.add("sk-second-user-key")
    braintrust.login()
    monkeypatch.setenv("BRAINTRUST_API_KEY", "sk-second-user-key")
    braintrust.login(force_login=True)
    _log_one_row()
    assert len(bt_logs.rows()) == 1
    assert server.requests_to("/api/apikey/login")[-1].header("authorization") == "Bearer sk-second-user-key"
    assert {r.header("authorization") for r in server.requests_to("/logs3")} == {"Bearer sk-second-user-key"}


def test_an_unknown_organization_lists_the_keys_orgs_and_the_fix_never_the_key(bt_env, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_ORG_NAME", "nope")
    with pytest.raises(ValueError) as refused:
        braintrust.login()
    message = str(refused.value)
    assert message.startswith("Organization nope not found. Must be one of test-org (set BRAINTRUST_ORG_NAME")
    assert bt_env.api_key not in message


def test_an_organization_git_policy_of_another_shape_counts_as_none(bt_server_factory, monkeypatch, tmp_path):
    """A ``git_metadata`` that is not an object crashed the experiment's creation (every row
    spilled as an internal error)."""
    server = bt_server_factory(git_metadata="all")
    monkeypatch.setenv("BRAINTRUST_API_KEY", server.api_key)
    monkeypatch.setenv("BRAINTRUST_APP_URL", server.url)
    experiment = braintrust.init(project="odd-policy")
    experiment.log(input=1, output=1, scores={"s": 1})
    result = braintrust.flush()
    assert (result.produced, result.accepted) == (1, 1), result.describe()
    (body,) = [r.json for r in server.requests_to("/v1/experiment", "POST")]
    assert "repo_info" not in body


# -- git ------------------------------------------------------------------------------------------


def _repo(path):
    path.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    for args in (["init", "-q"], ["add", "notes.txt"], ["commit", "-q", "-m", "first"]):
        if args[0] == "add":
            (path / "notes.txt").write_text("cafe\n", encoding="utf-8")
        subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)
    return path


def test_a_change_that_is_not_utf8_does_not_stop_the_experiment(tmp_path, monkeypatch):
    """A Latin-1 edit in the working tree made ``git diff`` undecodable: the experiment could
    not be created and every row spilled with a ``UnicodeDecodeError`` traceback."""
    repo = _repo(tmp_path / "repo")
    (repo / "notes.txt").write_bytes(b"caf\xe9\n")
    info = git.collect_repo_info({"collect": "all"}, str(repo))
    assert info["dirty"] is True and info["commit"]
    assert info["git_diff"].startswith("diff --git a/notes.txt b/notes.txt")
    assert info["git_diff"].endswith("+caf\ufffd")
    monkeypatch.chdir(repo)
    experiment = braintrust.init(project="latin")
    experiment.log(input=1, output=1, scores={"s": 1})
    result = braintrust.flush()
    assert (result.produced, result.accepted) == (1, 1), result.describe()


def _fake_git(tmp_path, monkeypatch, body: str) -> None:
    fake = tmp_path / "bin" / "git"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\n" + textwrap.dedent(body))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")


def test_a_diff_that_never_ends_is_cut_at_the_limit_at_once(tmp_path, monkeypatch):
    """The whole diff was read into memory (a 100 MB change: 650 MB in the test process) and a
    diff still running at the budget's end was lost altogether; now its head is kept."""
    _fake_git(tmp_path, monkeypatch, """
        case "$1 $2" in
          "rev-parse --is-inside-work-tree") echo true ;;
          "rev-parse HEAD") echo 0123456789abcdef0123456789abcdef01234567 ;;
          "status --porcelain") echo " M data.csv" ;;
          "diff HEAD") while :; do echo "+a line of a generated file that changed"; done ;;
          *) exit 1 ;;
        esac
    """)
    monkeypatch.setattr(git, "COLLECT_BUDGET_SECONDS", 6.0)
    started = time.monotonic()
    info = git.collect_repo_info({"collect": "all"}, str(tmp_path))
    assert time.monotonic() - started < 4.0  # (it stopped at the limit, not at the budget's end)
    assert len(info["git_diff"].encode("utf-8")) == git.GIT_DIFF_MAX_BYTES
    assert info["git_diff"].startswith("+a line of a generated file that changed\n")


def test_a_hung_git_costs_an_experiment_one_budget_not_a_minute(tmp_path, bt_server_factory, monkeypatch):
    """After the collection ran out of time, ``ancestor_commits`` waited 10 s on each of its
    git calls again: 55 s before the experiment could be created (past the flush deadline)."""
    _fake_git(tmp_path, monkeypatch, """
        case "$1 $2" in
          "rev-parse --is-inside-work-tree") echo true ;;
          "remote get-url") echo https://example.com/repo.git ;;
          *) sleep 30 ;;
        esac
    """)
    monkeypatch.setattr(git, "COLLECT_BUDGET_SECONDS", 0.5)
    server = bt_server_factory(git_metadata={"collect": "all"})
    monkeypatch.setenv("BRAINTRUST_API_KEY", server.api_key)
    monkeypatch.setenv("BRAINTRUST_APP_URL", server.url)
    monkeypatch.chdir(tmp_path)
    started = time.monotonic()
    experiment = braintrust.init(project="hung-git")
    experiment.log(input=1, output=1, scores={"s": 1})
    result = braintrust.flush()
    assert time.monotonic() - started < 0.5 + 4.0  # (10 s per call before)
    assert (result.produced, result.accepted) == (1, 1), result.describe()
    (body,) = [r.json for r in server.requests_to("/v1/experiment", "POST")]
    assert body["ancestor_commits"] == []


def test_ancestor_commits_have_a_budget_of_their_own(tmp_path, monkeypatch):
    _fake_git(tmp_path, monkeypatch, """
        case "$1 $2" in
          "remote get-url") echo https://example.com/repo.git ;;
          *) sleep 30 ;;
        esac
    """)
    monkeypatch.setattr(git, "COLLECT_BUDGET_SECONDS", 0.5)
    started = time.monotonic()
    assert git.ancestor_commits(str(tmp_path)) == []
    assert time.monotonic() - started < 0.5 + 3.0  # (10 s per call before)
