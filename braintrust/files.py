"""Files written whole or not at all, and private folders."""

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
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
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
