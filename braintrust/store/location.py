"""Where the embedded local store lives.

``BRAINTRUST_LOCAL_DIR`` wins; under pytest the rootdir (set by the plugin); else the nearest
parent of the current directory holding ``pyproject.toml`` or ``.git``; else the current
directory. The store is the ``.braintrust/`` folder there.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from braintrust.config import env_str, folder_path
from braintrust.files import make_private_dirs, others_control

STORE_DIRNAME = ".braintrust"
DATABASE_FILENAME = "braintrust.sqlite"
#: Written into a ``.braintrust`` folder when it is created, as pytest does for its cache: the
#: store holds test data (inputs, outputs, spilled rows) that should not be committed.
GITIGNORE = "# Created by pytest-braintrust: the local Braintrust store. Not for version control.\n*\n"

def _pytest_rootdir() -> Path | None:
    """pytest's rootdir while pytest runs with our plugin (read without importing it)."""
    plugin = sys.modules.get("pytest_braintrust.plugin")
    root = getattr(plugin, "active_rootdir", None)
    return Path(root) if root is not None else None


def project_root(start: Path | None = None) -> Path:
    pytest_root = _pytest_rootdir()
    if pytest_root is not None:
        return pytest_root
    return _nearest_project(start)


def _nearest_project(start: Path | None = None) -> Path:
    here = (start or Path.cwd()).resolve()
    for directory in [here, *here.parents]:
        if (directory / "pyproject.toml").exists() or (directory / ".git").exists():
            return directory
    return here


def command_store_args(database: Path) -> str:
    """What a ``braintrust`` command run from the current directory needs to open ``database``:
    nothing when it finds that store by itself, else `` --store <folder>`` (e.g. pytest put the
    store in a rootdir below the project root)."""
    import shlex

    if database_for_commands().resolve() == Path(database).resolve():
        return ""
    database = Path(database)
    # (--store takes a folder holding braintrust.sqlite, or the database file itself)
    return f" --store {shlex.quote(str(database.parent if database.name == DATABASE_FILENAME else database))}"


def database_for_commands(start: Path | None = None) -> Path:
    """The store a ``braintrust`` command reads when not told which: ``BRAINTRUST_LOCAL_DIR``'s;
    else the nearest existing one from the current folder up to the project root (pytest keeps
    a suite's store in its rootdir, which may be a folder below the root); else the root's."""
    override = env_str("BRAINTRUST_LOCAL_DIR")
    if override:
        return folder_path(override) / DATABASE_FILENAME
    here = (start or Path.cwd()).resolve()
    root = _nearest_project(here)
    for directory in [here, *here.parents]:
        candidate = directory / STORE_DIRNAME / DATABASE_FILENAME
        if candidate.exists():
            return candidate
        if directory == root:
            break
    return root / STORE_DIRNAME / DATABASE_FILENAME


def spill_dir_for_commands(start: Path | None = None) -> Path:
    """The spill folder ``braintrust replay`` reads when not told which:
    ``BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR``, else the one beside the store the other commands
    read, found as ``database_for_commands`` finds it (pytest keeps a suite's store, and its spill
    files, in its rootdir), a store folder holding only spill files included."""
    override = env_str("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR")
    if override:
        return folder_path(override)
    if env_str("BRAINTRUST_LOCAL_DIR"):
        return database_for_commands(start).parent / "spill"
    here = (start or Path.cwd()).resolve()
    root = _nearest_project(here)
    for directory in [here, *here.parents]:
        store = directory / STORE_DIRNAME
        if (store / DATABASE_FILENAME).exists() or (store / "spill").is_dir():
            return store / "spill"
        if directory == root:
            break
    return root / STORE_DIRNAME / "spill"


def make_private_folder(directory: Path) -> None:
    """Create ``directory`` with mode 0700 (missing parents not writable by others: see
    ``make_private_dirs``). A ``.braintrust`` folder this creates (the folder itself, or the
    parent of its ``spill/``) gets a ``.gitignore`` ignoring everything in it; an existing
    folder is left as it is."""
    new_store_folders = [d for d in (directory, directory.parent) if d.name == STORE_DIRNAME and not d.exists()]
    make_private_dirs(directory)
    for folder in new_store_folders:
        try:
            # (``mkdir`` gives missing parents the default mode: the store folder made as the
            # parent of ``spill/``, when rows spill before any store exists, is private too)
            folder.chmod(0o700)
        except OSError:
            pass
        try:
            (folder / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
        except OSError:
            pass  # (only a convenience: the store works without it)


def unsafe_store_folder(directory: Path) -> str | None:
    """Why rows must not be written into the existing store folder ``directory`` (another user
    owns it, or others may write it: they could read the rows or swap the files), or None. A
    ``.braintrust`` folder of this user's is first made 0700, as when it is created; a folder of
    another name (``BRAINTRUST_LOCAL_DIR``) is never changed."""
    if directory.name == STORE_DIRNAME:
        try:
            info = directory.stat()
            if info.st_uid == getattr(os, "geteuid", lambda: info.st_uid)() and info.st_mode & 0o077:
                directory.chmod(0o700)
        except OSError:
            pass
    return others_control(directory)


def store_dir(start: Path | None = None) -> Path:
    """The store folder (not created here)."""
    override = env_str("BRAINTRUST_LOCAL_DIR")
    if override:
        return folder_path(override)
    return project_root(start) / STORE_DIRNAME


def database_path(start: Path | None = None) -> Path:
    return store_dir(start) / DATABASE_FILENAME


def spill_dir(start: Path | None = None) -> Path:
    """Default spill folder: ``spill/`` inside the store folder, unless others control that
    folder (``unsafe_store_folder``): then this user's private fallback folder."""
    override = env_str("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR")
    if override:
        return folder_path(override)
    directory = store_dir(start)
    if unsafe_store_folder(directory) is not None:
        from braintrust.delivery.spill import fallback_spill_dir

        return fallback_spill_dir()
    return directory / "spill"
