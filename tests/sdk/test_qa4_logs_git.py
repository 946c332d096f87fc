"""Log records, git metadata, ``Score``/``Classification`` and the small public modules held to
0.48.1's behaviour where a side-by-side run of both SDKs (same script, same test server) found
ours different."""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import subprocess

import pytest

import braintrust
from braintrust import git
from braintrust.serializable import SerializableDataClass


# -- git metadata ---------------------------------------------------------------------------------


def _repo(path, body: bytes = b"a\nb\n\n", *, commit: bool = True):
    def run(*args):
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)

    path.mkdir()
    run("init", "-q", "-b", "main")
    run("config", "user.email", "dev@example.invalid")
    run("config", "user.name", "Dev Eloper")
    (path / "f.txt").write_bytes(body)
    run("add", "f.txt")
    if commit:
        run("commit", "-q", "-m", "first")
    return path


def test_the_diff_keeps_its_last_lines_whitespace(tmp_path):
    """The diff was stripped: a trailing context line that is an empty line (``" "``) was cut
    off; 0.48.1 drops only the final newline."""
    repo = _repo(tmp_path / "r")
    (repo / "f.txt").write_bytes(b"q\nb\n\n")
    info = git.collect_repo_info({"collect": "all"}, str(repo))
    assert info["dirty"] is True
    assert info["git_diff"].endswith("@@ -1,3 +1,3 @@\n-a\n+q\n b\n ")


def test_the_diff_never_runs_a_configured_external_diff_tool(tmp_path):
    """With ``diff.external`` set, ``git diff HEAD`` ran the user's diff program (a GUI tool, or
    anything) and sent its output, or "" when it failed; 0.48.1 passes ``--no-ext-diff``."""
    repo = _repo(tmp_path / "r")
    marker = tmp_path / "ran"
    tool = tmp_path / "tool.sh"
    tool.write_text(f"#!/bin/sh\ntouch {marker}\necho from the external tool\n")
    tool.chmod(0o755)
    subprocess.run(["git", "config", "diff.external", str(tool)], cwd=repo, check=True)
    (repo / "f.txt").write_bytes(b"a\nb\n\nz\n")
    info = git.collect_repo_info({"collect": "all"}, str(repo))
    assert info["git_diff"].startswith("diff --git a/f.txt b/f.txt") and info["git_diff"].endswith("+z")
    assert not marker.exists()


def test_a_repository_without_a_commit_sends_no_diff(tmp_path):
    """Staged files before the first commit: ``git diff HEAD`` fails, and the diff was sent as
    "" where 0.48.1 sends null."""
    repo = _repo(tmp_path / "r", commit=False)
    info = git.collect_repo_info({"collect": "all"}, str(repo))
    assert (info["commit"], info["branch"], info["dirty"], info["git_diff"]) == (None, "main", True, None)


def test_a_repository_without_origin_warns_as_0_48_1_does(tmp_path, caplog):
    repo = _repo(tmp_path / "r")
    elsewhere = tmp_path / "not-a-repo"
    elsewhere.mkdir()
    with caplog.at_level(logging.WARNING, logger="braintrust"):
        assert git.ancestor_commits(str(elsewhere)) == []
        assert caplog.messages == []  # (outside a repository: nothing to say, as in 0.48.1)
        assert git.ancestor_commits(str(repo)) == []
    assert caplog.messages == [git.NO_ORIGIN_WARNING]
    assert git.NO_ORIGIN_WARNING == ("Skipping git metadata. This is likely because the repository has not been "
                                     "published to a remote yet. Remote named 'origin' didn't exist")


# -- log records ----------------------------------------------------------------------------------


def test_a_record_without_a_body_sends_no_output(bt_logs):
    """``logger.info(None)`` sent ``"output": null``; 0.48.1 leaves ``output`` out of the row."""
    logger = braintrust.init_logger(project="no-body")
    logger.info(None)
    logger.info("with", metadata={"k": 1})
    bt_logs.flush()
    rows = {row.get("output", "<absent>"): row for row in bt_logs.sent_rows()}
    assert set(rows) == {"<absent>", "with"}
    assert "metadata" not in rows["<absent>"] and rows["with"]["metadata"] == {"k": 1}


def test_a_bad_body_is_refused_before_a_bad_level(bt_logs):
    logger = braintrust.init_logger(project="order")
    with pytest.raises(TypeError, match="Log body must be a string when template parameters are provided"):
        logger.emit_log(["a"], "bogus", n=1)
    with pytest.raises(ValueError, match="Invalid log level 'bogus'"):
        logger.emit_log("a", "bogus", n=1)
    assert bt_logs.rows() == []


# -- Score, Classification and the score module's helpers ------------------------------------------


@pytest.mark.parametrize("fields, message", [
    ({"id": ""}, "classification id must be a non-empty string"),
    ({"id": 3}, "classification id must be a non-empty string"),
    ({"id": "a", "name": ""}, "classification name must be a non-empty string when provided"),
    ({"id": "a", "label": 5}, "classification label must be a string when provided"),
])
def test_a_classification_is_checked_as_0_48_1_checks_it(fields, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        braintrust.score.Classification(**fields)


def test_the_score_modules_helpers_are_there():
    from braintrust.score import (ClassificationItem, NamedScoreDict, Score, ScoreDict, ScoreLike, Scorer,
                                  is_classification, is_score, is_scorer)

    class Exact(Scorer):
        def _run_eval_sync(self, output, expected=None, **kwargs):
            return Score("exact", float(output == expected))

    candidates = [Score("a"), braintrust.score.Classification("a"), len, object(), Exact, Exact(), "text"]
    assert [is_score(c) for c in candidates] == [True, False, False, False, False, False, False]
    assert [is_classification(c) for c in candidates] == [False, True, False, False, False, False, False]
    assert [is_scorer(c) for c in candidates] == [False, False, True, False, True, True, False]
    assert ScoreDict.__required_keys__ == NamedScoreDict.__required_keys__ - {"name"} == frozenset({"score"})
    assert ClassificationItem.__required_keys__ == frozenset({"id"})
    assert ScoreLike is not None


def test_a_classifier_result_that_is_not_valid_is_named_as_0_48_1_names_it():
    """A classifier returning ``{"id": ""}``: 0.48.1's error names the result it refused (ours
    now refuses it too, with ``Classification``'s own message)."""
    from braintrust.eval.scorers import to_classifications

    with pytest.raises(ValueError, match=r"must be a valid Classification object. Got: \{'id': ''\}"):
        to_classifications("cls", {"id": ""})


# -- SerializableDataClass, and the small modules' names -------------------------------------------


@dataclasses.dataclass
class _Plain:
    p: int = 2


_Pair = collections.namedtuple("_Pair", "left right")


@dataclasses.dataclass
class _Outer(SerializableDataClass):
    plain: _Plain | None = None
    pair: tuple = (1, 2)
    named: _Pair | None = None
    nested: dict = dataclasses.field(default_factory=dict)


def test_as_dict_turns_every_dataclass_into_a_dict_and_keeps_tuples():
    """A plain dataclass inside was left as an object (``as_json`` raised ``TypeError``) and a
    tuple became a list; 0.48.1's ``as_dict`` is ``dataclasses.asdict``."""
    outer = _Outer(_Plain(), (1, _Plain(3)), _Pair(_Plain(4), 5), {"k": [_Plain(6)]})
    assert outer.as_dict() == {"plain": {"p": 2}, "pair": (1, {"p": 3}), "named": _Pair({"p": 4}, 5),
                               "nested": {"k": [{"p": 6}]}}
    assert type(outer.as_dict()["named"]) is _Pair
    assert json.loads(outer.as_json()) == {"plain": {"p": 2}, "pair": [1, {"p": 3}], "named": [{"p": 4}, 5],
                                           "nested": {"k": [{"p": 6}]}}


def test_the_trace_and_span_type_modules_have_0_48_1s_names():
    from braintrust.span_types import SpanPurpose
    from braintrust.trace import GetThreadOptions, LocalTrace, Trace

    assert SpanPurpose.SCORER == "scorer" and [p.value for p in SpanPurpose] == ["scorer"]
    assert GetThreadOptions.__optional_keys__ == frozenset({"preprocessor"})
    for method in ("get_configuration", "get_spans", "get_thread"):
        assert callable(getattr(Trace, method)) and callable(getattr(LocalTrace, method))
