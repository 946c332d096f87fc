"""Git metadata for experiments: ``RepoInfo``, ``GitMetadataSettings`` and their collection.

Collected with the ``git`` command in the directory ``init`` was called from. The policy is the
organization's (from login) combined with ``git_metadata_settings``: "none" wins, two "some"
intersect their fields. The local store, having no organization, collects everything.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

from braintrust.serializable import SerializableDataClass

GIT_DIFF_MAX_BYTES = 65536
FIELDS = ("commit", "branch", "tag", "dirty", "author_name", "author_email", "commit_message", "commit_time", "git_diff")


@dataclass
class RepoInfo(SerializableDataClass):
    commit: str | None = None
    branch: str | None = None
    tag: str | None = None
    dirty: bool | None = None
    author_name: str | None = None
    author_email: str | None = None
    commit_message: str | None = None
    commit_time: str | None = None
    git_diff: str | None = None


@dataclass
class GitMetadataSettings(SerializableDataClass):
    collect: str = "all"  # "all" | "some" | "none"
    fields: list[str] = field(default_factory=list)


def combine_settings(org: dict[str, Any] | None, explicit: dict[str, Any] | None) -> dict[str, Any]:
    """The effective policy: an absent org policy counts as "all"; "none" wins; "some" ∩ "some"."""
    org = org or {"collect": "all"}
    if explicit is None:
        return org
    if org.get("collect") == "none" or explicit.get("collect") == "none":
        return {"collect": "none"}
    if org.get("collect") == "all":
        return explicit
    if explicit.get("collect") == "all":
        return org
    fields = [f for f in org.get("fields") or [] if f in set(explicit.get("fields") or [])]
    return {"collect": "some", "fields": fields}


#: All the ``git`` calls of one collection share this many seconds: a huge or slow repository
#: (a network filesystem, a lock) costs a run at most this, and leaves the rest of the fields out.
COLLECT_BUDGET_SECONDS = 5.0


def _git(args: list[str], cwd: str | None, until: float | None = None) -> str | None:
    timeout = 10.0 if until is None else until - time.monotonic()
    if timeout <= 0:
        return None
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip()


def collect_repo_info(settings: dict[str, Any], cwd: str | None = None) -> dict[str, Any] | None:
    """RepoInfo fields as a dict, or None outside a repository or when collection is off."""
    collect = settings.get("collect", "all")
    until = time.monotonic() + COLLECT_BUDGET_SECONDS
    if collect == "none" or _git(["rev-parse", "--is-inside-work-tree"], cwd, until) != "true":
        return None
    wanted = set(FIELDS) if collect == "all" else set(settings.get("fields") or [])
    commit = _git(["rev-parse", "HEAD"], cwd, until)
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd, until)
    dirty = bool(status) if status is not None else None
    info: dict[str, Any] = {
        "commit": commit,
        "branch": _git(["symbolic-ref", "--short", "HEAD"], cwd, until),
        "tag": _git(["describe", "--tags", "--exact-match"], cwd, until),
        "dirty": dirty,
        "author_name": _git(["log", "-1", "--pretty=%an"], cwd, until),
        "author_email": _git(["log", "-1", "--pretty=%ae"], cwd, until),
        "commit_message": _git(["log", "-1", "--pretty=%B"], cwd, until),
        "commit_time": (_git(["log", "-1", "--pretty=%cI"], cwd, until) or "").replace("Z", "+00:00") or None,
        "git_diff": None,
    }
    if dirty:
        diff = _git(["diff", "HEAD"], cwd, until) or ""
        encoded = diff.encode("utf-8")
        if len(encoded) > GIT_DIFF_MAX_BYTES:
            diff = encoded[:GIT_DIFF_MAX_BYTES].decode("utf-8", errors="ignore")
        info["git_diff"] = diff
    return {k: (v if k in wanted else None) for k, v in info.items()}


def ancestor_commits(cwd: str | None = None, limit: int = 1000) -> list[str]:
    """First-parent history from the merge-base with the origin's main branch."""
    if not _git(["remote", "get-url", "origin"], cwd):
        return []
    branches = [b for b in ("main", "master", "develop") if _git(["rev-parse", "--verify", "--quiet", f"refs/heads/{b}"], cwd)]
    base = branches[0] if len(branches) == 1 else "main"
    dirty = bool(_git(["status", "--porcelain", "--untracked-files=no"], cwd))
    head = "HEAD" if dirty else "HEAD^"
    merge_base = _git(["merge-base", head, f"origin/{base}"], cwd)
    if not merge_base:
        return []
    history = _git(["rev-list", "--first-parent", f"--max-count={limit}", merge_base], cwd)
    return history.split() if history else []
