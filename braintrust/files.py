"""Files written whole or not at all, private folders, and folders others control."""

from __future__ import annotations

import errno
import os
from pathlib import Path


def write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it (created exclusively with
    ``mode``, never through an existing file or symlink), fsynced, then renamed over ``path``: a
    reader finds the whole new file or the one that was there, never part of one. Raises ``OSError``.

    (The folder is not fsynced: only a power cut right after the rename could lose the file, and
    a spill at the exit deadline may write many.)"""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    # (O_BINARY: Windows opens descriptors in text mode otherwise, writing each \n as \r\n)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    handle = os.open(temporary, flags, mode)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def make_private_dirs(directory: Path) -> None:
    """Create ``directory`` with mode 0700 and any missing parents without write access for group
    or others, whatever the umask (under umask 0, ``mkdir -p`` makes them 0777: another user could
    then rename the private folder away and put one of theirs in its place). An existing folder
    is left as it is. Raises ``OSError``."""
    missing = []
    for folder in (directory, *directory.parents):
        if folder.exists():  # (a file there: the mkdir below says "Not a directory")
            break
        missing.append(folder)
    if not missing and not directory.is_dir():
        raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(directory))
    for folder in reversed(missing):
        private = folder == directory
        try:
            os.mkdir(folder, 0o700 if private else 0o755)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # (another process made it meanwhile)
        if private:
            os.chmod(folder, 0o700)  # (mkdir's mode is narrowed by the umask: 0o700 under 0o277 is 0o500)


def others_control(folder: Path) -> str | None:
    """Why another user could read or swap what is kept in the existing ``folder``, or None: it
    belongs to another user (root excepted), or group or others may write it (group write is
    fine when the group is the user's own, as a umask of 002 with per-user groups makes it, and
    as Debian's ssh allows). None on systems without user ids, and for a folder that is missing."""
    if not hasattr(os, "geteuid"):
        return None
    try:
        info = os.stat(folder)
    except OSError:
        return None
    me = os.geteuid()
    if info.st_uid not in (me, 0):
        return f"it belongs to another user ({_user_name(info.st_uid)})"
    if info.st_mode & 0o002:
        return f"others may write it (mode {info.st_mode & 0o7777:04o})"
    if info.st_mode & 0o020 and not _own_group(info.st_gid, me):
        return f"its group may write it (mode {info.st_mode & 0o7777:04o}, group {_group_name(info.st_gid)})"
    return None


def foreign_file(path: Path) -> str | None:
    """Why the existing file (or symbolic link) ``path`` is not one this user made, or None: it
    belongs to another user (root excepted)."""
    if not hasattr(os, "geteuid"):
        return None
    try:
        owner = os.lstat(path).st_uid
    except OSError:
        return None
    if owner in (os.geteuid(), 0):
        return None
    return f"{path} belongs to another user ({_user_name(owner)})"


def _own_group(gid: int, uid: int) -> bool:
    """Whether ``gid`` is ``uid``'s personal group: named as the user, with no other member."""
    try:
        import grp
        import pwd

        user, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid)
    except (ImportError, KeyError):
        return False
    return group.gr_name == user and set(group.gr_mem) <= {user}


def _user_name(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name}, uid {uid}"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _group_name(gid: int) -> str:
    try:
        import grp

        return grp.getgrgid(gid).gr_name
    except (ImportError, KeyError):
        return str(gid)
