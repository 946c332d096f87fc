"""Git metadata for experiments: ``RepoInfo``, ``GitMetadataSettings`` and their collection.

Collected with the ``git`` command in the directory ``init`` was called from. The policy is the
organization's (from login) combined with ``git_metadata_settings``: "none" wins, two "some"
intersect their fields. The local store, having no organization, collects everything.
"""

from __future__ import annotations

import logging
import os
import selectors
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

from braintrust.serializable import SerializableDataClass

GIT_DIFF_MAX_BYTES = 65536
#: 0.48.1's warning (on stderr, when logging is not configured) for a repository without ``origin``.
NO_ORIGIN_WARNING = ("Skipping git metadata. This is likely because the repository has not been published to a remote yet. "
                     "Remote named 'origin' didn't exist")
log = logging.getLogger("braintrust.git")
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

    @classmethod
    def merge(cls, s1: "GitMetadataSettings", s2: "GitMetadataSettings") -> "GitMetadataSettings":
        """The stricter of two policies: "all" yields to the other, "none" wins, two "some" intersect
        (an empty intersection is "none")."""
        if s1.collect == "all":
            return s2
        if s2.collect == "all" or s1.collect == "none":
            return s1
        if s2.collect == "none":
            return s2
        fields = [f for f in s1.fields or [] if f in set(s2.fields or [])]
        return cls(collect="some" if fields else "none", fields=fields)


def combine_settings(org: dict[str, Any] | None, explicit: dict[str, Any] | None) -> dict[str, Any]:
    """The effective policy: an absent org policy counts as "all"; "none" wins; "some" ∩ "some"
    (no field in common is "none", as 0.48.1 merges them: no repo_info, no ancestor commits)."""
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
    return {"collect": "some", "fields": fields} if fields else {"collect": "none"}


#: All the ``git`` calls of one collection share this many seconds: a huge or slow repository
#: (a network filesystem, a lock) costs a run at most this, and leaves the rest of the fields out.
#: ``ancestor_commits`` has a budget of its own, and none at all where a collection just ran out.
COLLECT_BUDGET_SECONDS = 5.0

#: Working folders whose last collection ran out of time (``ancestor_commits`` skips them).
_out_of_time: set[str | None] = set()


def _output(args: list[str], cwd: str | None, until: float, max_bytes: int | None = None) -> bytes | None:
    """What ``git args`` writes, or None when git is missing, fails or is still running at
    ``until``. With ``max_bytes``, reading stops there and git is stopped: a diff of generated
    files can be gigabytes, and only its head is kept."""
    if until - time.monotonic() <= 0:
        return None
    if os.name != "posix":  # (pipes cannot be waited on with a timeout there)
        try:
            done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, timeout=until - time.monotonic())
        except (OSError, ValueError, subprocess.SubprocessError):
            return None
        return done.stdout[:max_bytes] if done.returncode == 0 else None
    try:
        process = subprocess.Popen(["git", *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except (OSError, ValueError):
        return None
    output = bytearray()
    try:
        with process.stdout, selectors.DefaultSelector() as selector:  # type: ignore[union-attr]
            selector.register(process.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
            while max_bytes is None or len(output) < max_bytes:
                left = until - time.monotonic()
                if left <= 0 or not selector.select(left):
                    return None
                chunk = os.read(process.stdout.fileno(), 1 << 16)  # type: ignore[union-attr]
                if not chunk:
                    break
                output += chunk
        if max_bytes is not None and len(output) >= max_bytes:
            return bytes(output[:max_bytes])
        returncode = process.wait(max(0.0, until - time.monotonic()))
    except subprocess.TimeoutExpired:
        return None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return bytes(output) if returncode == 0 else None


def _git(args: list[str], cwd: str | None, until: float) -> str | None:
    """``git args``'s output as text (bytes that are not UTF-8 replaced), stripped; or None."""
    output = _output(args, cwd, until)
    return None if output is None else output.decode("utf-8", errors="replace").strip()


def _diff(cwd: str | None, until: float) -> str | None:
    """``git diff HEAD`` as 0.48.1 sends it: without a configured external diff tool, one final
    newline dropped, at most ``GIT_DIFF_MAX_BYTES`` of UTF-8 (a change to a Latin-1 file is not
    UTF-8: such bytes are replaced); None when git fails (no commit yet) or runs out of time."""
    # (a byte past the limit tells whether a final newline is the output's last byte)
    output = _output(["diff", "HEAD", "--no-ext-diff"], cwd, until, GIT_DIFF_MAX_BYTES + 1)
    if output is None:
        return None
    if output.endswith(b"\n"):
        output = output[:-1]
    encoded = output.decode("utf-8", errors="replace").encode("utf-8")
    return encoded[:GIT_DIFF_MAX_BYTES].decode("utf-8", errors="ignore")


def collect_repo_info(settings: dict[str, Any], cwd: str | None = None) -> dict[str, Any] | None:
    """RepoInfo fields as a dict, or None outside a repository or when collection is off."""
    collect = settings.get("collect", "all")
    until = time.monotonic() + COLLECT_BUDGET_SECONDS
    _out_of_time.discard(cwd)
    if collect == "none" or _git(["rev-parse", "--is-inside-work-tree"], cwd, until) != "true":
        if time.monotonic() >= until:
            _out_of_time.add(cwd)
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
        "git_diff": _diff(cwd, until) if dirty else None,
    }
    if time.monotonic() >= until:
        _out_of_time.add(cwd)
    return {k: (v if k in wanted else None) for k, v in info.items()}


def ancestor_commits(cwd: str | None = None, limit: int = 1000) -> list[str]:
    """First-parent history from the merge-base with the origin's main branch; [] when the
    collection just before, in the same folder, ran out of time (git would again)."""
    if cwd in _out_of_time:
        _out_of_time.discard(cwd)
        return []
    until = time.monotonic() + COLLECT_BUDGET_SECONDS
    if not _git(["remote", "get-url", "origin"], cwd, until):
        if _git(["rev-parse", "--is-inside-work-tree"], cwd, until) == "true":
            log.warning(NO_ORIGIN_WARNING)
        return []
    branches = [b for b in ("main", "master", "develop") if _git(["rev-parse", "--verify", "--quiet", f"refs/heads/{b}"], cwd, until)]
    base = branches[0] if len(branches) == 1 else "main"
    dirty = bool(_git(["status", "--porcelain", "--untracked-files=no"], cwd, until))
    head = "HEAD" if dirty else "HEAD^"
    merge_base = _git(["merge-base", head, f"origin/{base}"], cwd, until)
    if not merge_base:
        return []
    history = _git(["rev-list", "--first-parent", f"--max-count={limit}", merge_base], cwd, until)
    return history.split() if history else []
