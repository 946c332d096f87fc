"""Security of the files we create: folders made for the store, spill files and the prompt cache
stay private whatever the umask, and a symlink planted where we make a folder is not followed."""

from __future__ import annotations

import os
import stat
import tempfile

import pytest

from braintrust.delivery.backend import ObjectRef
from braintrust.delivery.spill import SpillWriter, fallback_spill_dir
from braintrust.prompts.cache import PromptCache
from braintrust.store.sqlite_store import LocalStore

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes and symlinks")

GROUP_OR_OTHER_WRITE = stat.S_IWGRP | stat.S_IWOTH


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def permissive_umask():
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _row() -> tuple[ObjectRef, dict]:
    ref = ObjectRef("experiment", {"project_name": "p", "experiment_name": "e"})
    return ref, {"id": "r1", "input": "secret test data"}


def test_folders_made_above_a_new_store_are_not_writable_by_others(tmp_path, permissive_umask):
    """Under umask 0 the missing parents of the store folder were made 0777 (no sticky bit): any
    local user could rename the private store folder away and put one of theirs in its place."""
    store = LocalStore(tmp_path / "a" / "b" / "store" / "braintrust.sqlite")
    try:
        store.list_projects()
    finally:
        store.close()
    for folder in (tmp_path / "a", tmp_path / "a" / "b"):
        assert _mode(folder) & GROUP_OR_OTHER_WRITE == 0, (folder, oct(_mode(folder)))
    assert _mode(tmp_path / "a" / "b" / "store") == 0o700
    assert _mode(tmp_path / "a" / "b" / "store" / "braintrust.sqlite") == 0o600


def test_folders_made_above_a_spill_folder_are_not_writable_by_others(tmp_path, permissive_umask):
    directory = tmp_path / "a" / "b" / "spill"
    path = SpillWriter(directory, {"kind": "local"}).write([_row()], "http_5xx", masked=True, item_count=1)
    for folder in (tmp_path / "a", tmp_path / "a" / "b"):
        assert _mode(folder) & GROUP_OR_OTHER_WRITE == 0, (folder, oct(_mode(folder)))
    assert _mode(directory) == 0o700
    assert _mode(path) == 0o600


def test_the_prompt_cache_folder_and_its_parents_are_private_under_a_permissive_umask(tmp_path, permissive_umask):
    """The cache is read back when Braintrust cannot answer: a parent others can write would let
    them swap the folder for one holding prompts of their choosing."""
    folder = tmp_path / "home" / ".braintrust" / "prompt_cache"
    cache = PromptCache(folder)
    cache.put("key", {"prompt_data": {"prompt": {"type": "completion", "content": "hi"}}})
    for parent in (tmp_path / "home", tmp_path / "home" / ".braintrust"):
        assert _mode(parent) & GROUP_OR_OTHER_WRITE == 0, (parent, oct(_mode(parent)))
    assert _mode(folder) == 0o700
    files = list(folder.glob("*.json"))
    assert len(files) == 1 and _mode(files[0]) == 0o600
    assert PromptCache(folder).get("key").prompt == {"prompt_data": {"prompt": {"type": "completion", "content": "hi"}}}


def test_a_symlink_planted_at_the_shared_fallback_spill_folder_is_not_followed(tmp_path, monkeypatch):
    """The fallback spill folder is in the shared temporary folder: a symlink someone put there,
    to a folder of ours, made us chmod that folder 0700 and write test data into it."""
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    victim = tmp_path / "public_html"
    victim.mkdir()
    victim.chmod(0o755)
    fallback_spill_dir().symlink_to(victim)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")

    writer = SpillWriter(blocker / "spill", {"kind": "local"})
    with pytest.raises(OSError) as raised:
        writer.write([_row()], "http_5xx", masked=True, item_count=1)

    assert "symbolic link" in str(raised.value)
    assert _mode(victim) == 0o755
    assert list(victim.iterdir()) == []


def test_the_fallback_spill_folder_is_used_when_it_is_a_real_folder_of_ours(tmp_path, monkeypatch):
    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")

    writer = SpillWriter(blocker / "spill", {"kind": "local"})
    path = writer.write([_row()], "http_5xx", masked=True, item_count=1)

    assert path.parent == fallback_spill_dir() and writer.moved is not None
    assert _mode(path.parent) == 0o700 and _mode(path) == 0o600
