"""Folders other users control: the local store, its spill folder and the prompt cache are never
written (nor, for the cache, read) where another user could read or swap what we keep; and the API
key sent over plain http to another machine is said once.

Another user's ownership is made with ``os.chown`` to uid 65534, which needs root: those tests
are skipped otherwise. Group and other write bits are made with ``os.chmod``."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import braintrust
from braintrust.prompts.cache import PromptCache
from braintrust.store import location
from braintrust.store.connection import StoreError
from braintrust.store.sqlite_store import LocalStore

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
NOBODY = 65534
needs_root = pytest.mark.skipif(not IS_ROOT, reason="making a file another user's needs root")
posix_only = pytest.mark.skipif(not hasattr(os, "geteuid"), reason="user ids and modes are POSIX")


def _folder(tmp_path: Path, mode: int, name: str = "shared") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    os.chmod(folder, mode)
    return folder


def _store_with_a_project(folder: Path) -> Path:
    """A real store in ``folder`` (made while the folder is ours and private), holding project "p"."""
    with LocalStore(folder / "braintrust.sqlite") as store:
        store.get_or_create_project("p")
    return folder / "braintrust.sqlite"


# -- the store folder --------------------------------------------------------------------------------


@posix_only
def test_a_store_folder_others_may_write_is_not_written_to(tmp_path):
    folder = _folder(tmp_path, 0o777)
    with LocalStore(folder / "braintrust.sqlite") as store:
        with pytest.raises(StoreError) as caught:
            store.get_or_create_project("p")
    message = str(caught.value)
    assert "others may write it (mode 0777)" in message
    assert "BRAINTRUST_LOCAL_DIR" in message and f"chmod go-w {folder}" in message
    assert list(folder.iterdir()) == []  # no database, no spill folder, no .gitignore
    assert folder.stat().st_mode & 0o777 == 0o777  # a folder of another name is never changed


@posix_only
def test_an_existing_store_in_a_folder_others_may_write_is_read_but_not_written(tmp_path):
    folder = _folder(tmp_path, 0o700)
    database = _store_with_a_project(folder)
    os.chmod(folder, 0o777)
    before = database.read_bytes()
    with LocalStore(database) as store:
        assert [p["name"] for p in store.list_projects()] == ["p"]
        with pytest.raises(StoreError, match="not safe to write"):
            store.get_or_create_project("q")
    assert database.read_bytes() == before
    assert not Path(f"{database}-wal").exists()


@needs_root
def test_a_folder_writable_by_a_group_of_others_is_refused(tmp_path):
    folder = _folder(tmp_path, 0o770)
    os.chown(folder, os.geteuid(), NOBODY)
    with pytest.raises(StoreError, match=r"its group may write it \(mode 0770, group "):
        LocalStore(folder / "braintrust.sqlite").list_projects()
    assert list(folder.iterdir()) == []


@posix_only
def test_a_folder_writable_by_the_users_own_group_is_used(tmp_path):
    """A umask of 002 with per-user groups (Debian, Ubuntu) makes folders group-writable; that group
    is the user alone, as Debian's ssh allows."""
    import grp
    import pwd

    user = pwd.getpwuid(os.geteuid()).pw_name
    try:
        own = grp.getgrnam(user)
    except KeyError:
        pytest.skip("no group named as the user")
    if set(own.gr_mem) - {user} or (os.stat(tmp_path).st_gid != own.gr_gid and not IS_ROOT):
        pytest.skip("the user's group has other members, or cannot be given to a folder")
    folder = _folder(tmp_path, 0o770)
    os.chown(folder, -1, own.gr_gid)
    with LocalStore(folder / "braintrust.sqlite") as store:
        assert store.get_or_create_project("p")["name"] == "p"


@needs_root
def test_a_store_folder_of_another_user_is_read_but_not_written(tmp_path):
    folder = _folder(tmp_path, 0o755)
    database = _store_with_a_project(folder)
    for path in (folder, *folder.iterdir()):
        os.chown(path, NOBODY, NOBODY)
    before = database.read_bytes()
    with LocalStore(database) as store:
        assert [p["name"] for p in store.list_projects()] == ["p"]
        with pytest.raises(StoreError, match=r"belongs to another user \(nobody, uid 65534\)|uid 65534"):
            store.get_or_create_project("q")
    assert database.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["braintrust.sqlite"]


@needs_root
def test_a_store_file_planted_by_another_user_is_not_written(tmp_path):
    folder = _folder(tmp_path, 0o700)
    database = _store_with_a_project(folder)
    os.chown(database, NOBODY, NOBODY)
    before = database.read_bytes()
    with LocalStore(database) as store:
        assert [p["name"] for p in store.list_projects()] == ["p"]
        with pytest.raises(StoreError, match="a file this user did not make") as caught:
            store.get_or_create_project("q")
    assert "Move it aside" in str(caught.value)
    assert database.read_bytes() == before


@needs_root
def test_an_empty_file_planted_by_another_user_is_not_made_a_store(tmp_path):
    folder = _folder(tmp_path, 0o700)
    database = folder / "braintrust.sqlite"
    database.write_bytes(b"")
    os.chown(database, NOBODY, NOBODY)
    with pytest.raises(StoreError, match="a file this user did not make"):
        LocalStore(database).get_or_create_project("p")
    assert database.read_bytes() == b""


@posix_only
def test_a_dangling_symlink_is_not_followed_to_create_the_store(tmp_path):
    folder = _folder(tmp_path, 0o700)
    target = tmp_path / "elsewhere" / "stolen.sqlite"
    target.parent.mkdir()
    (folder / "braintrust.sqlite").symlink_to(target)
    with pytest.raises(StoreError, match="symbolic link to .*which does not exist"):
        LocalStore(folder / "braintrust.sqlite").get_or_create_project("p")
    assert not target.exists()


@posix_only
def test_a_symlink_to_an_existing_store_of_ours_is_still_used(tmp_path):
    real = _store_with_a_project(_folder(tmp_path, 0o700, "real"))
    folder = _folder(tmp_path, 0o700)
    (folder / "braintrust.sqlite").symlink_to(real)
    with LocalStore(folder / "braintrust.sqlite") as store:
        store.get_or_create_project("q")
    with LocalStore(real) as store:
        assert sorted(p["name"] for p in store.list_projects()) == ["p", "q"]


@posix_only
def test_a_braintrust_folder_of_ours_left_open_is_made_private_and_used(tmp_path, monkeypatch):
    """(As before: a ``.braintrust`` folder of this user's is tightened to 0700 on open.)"""
    monkeypatch.delenv("BRAINTRUST_LOCAL_DIR")
    monkeypatch.setattr(sys.modules["pytest_braintrust.plugin"], "active_rootdir", tmp_path, raising=False)
    store_folder = _folder(tmp_path, 0o777, ".braintrust")
    assert location.spill_dir() == store_folder / "spill"
    with LocalStore() as store:
        assert store.get_or_create_project("p")["name"] == "p"
    assert store_folder.stat().st_mode & 0o777 == 0o700


# -- where rows go instead ---------------------------------------------------------------------------


@posix_only
def test_the_default_spill_folder_is_not_inside_a_store_folder_others_control(tmp_path, monkeypatch):
    folder = _folder(tmp_path, 0o777)
    monkeypatch.setenv("BRAINTRUST_LOCAL_DIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    assert location.spill_dir() == tmp_path / "tmp" / f"braintrust-spill-{os.getuid()}"
    os.chmod(folder, 0o700)
    assert location.spill_dir() == folder / "spill"


@posix_only
def test_a_run_logging_to_a_folder_others_may_write_spills_to_a_private_folder_and_says_why(tmp_path):
    folder = _folder(tmp_path, 0o777)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    script = (
        "import braintrust\n"
        "e = braintrust.init(project='p')\n"
        "e.log(input={'q': 1}, output='secret answer', scores={'s': 1})\n"
        "r = e.flush()\n"
        "print('RESULT', r.spilled, r.accepted, r.spill_files)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRAINTRUST_")}
    env.update(BRAINTRUST_LOCAL_DIR=str(folder), TMPDIR=str(temporary))
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert list(folder.iterdir()) == []
    assert "others may write it (mode 0777)" in done.stderr and "BRAINTRUST_LOCAL_DIR" in done.stderr
    result = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
    assert result.startswith("RESULT 1 0 ")
    spill_folder = temporary / f"braintrust-spill-{os.getuid()}"
    files = list(spill_folder.glob("spill-*.json"))
    assert len(files) == 1 and spill_folder.stat().st_mode & 0o777 == 0o700
    assert "secret answer" in files[0].read_text()
    assert f"braintrust replay {spill_folder}" in done.stderr


# -- the prompt cache --------------------------------------------------------------------------------


def _plant_copy(cache: PromptCache, key: str) -> Path:
    path = cache._path(key)
    path.write_text(json.dumps({"key": key, "saved_at": 1.0, "prompt": {"planted": True}}))
    return path


@posix_only
def test_a_prompt_cache_folder_others_may_write_is_neither_read_nor_written(tmp_path, caplog):
    folder = _folder(tmp_path, 0o777, "cache")
    planted = _plant_copy(PromptCache(folder), "k")
    cache = PromptCache(folder)
    with caplog.at_level(logging.WARNING, logger="braintrust"):
        assert cache.get("k") is None
        cache.put("other", {"mine": True})
        cache.put("third", {"mine": True})
    assert sorted(p.name for p in folder.iterdir()) == [planted.name]
    assert cache.get("other").prompt == {"mine": True}  # the memory level still works
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "others may write it (mode 0777)" in warnings[0] and "BRAINTRUST_PROMPT_CACHE_DIR" in warnings[0]


@needs_root
def test_a_prompt_cache_folder_of_another_user_is_not_trusted(tmp_path, caplog):
    folder = _folder(tmp_path, 0o755, "cache")
    _plant_copy(PromptCache(folder), "k")
    os.chown(folder, NOBODY, NOBODY)
    cache = PromptCache(folder, setting="BRAINTRUST_PARAMETERS_CACHE_DIR")
    with caplog.at_level(logging.WARNING, logger="braintrust"):
        assert cache.get("k") is None
    assert "belongs to another user" in caplog.text and "BRAINTRUST_PARAMETERS_CACHE_DIR" in caplog.text


@posix_only
def test_a_private_prompt_cache_folder_is_read_back(tmp_path, caplog):
    folder = _folder(tmp_path, 0o700, "cache")
    _plant_copy(PromptCache(folder), "k")
    with caplog.at_level(logging.WARNING, logger="braintrust"):
        assert PromptCache(folder).get("k").prompt == {"planted": True}
    assert caplog.text == ""


# -- the API key over plain http -------------------------------------------------------------------


def _warnings_of_login(bt_server, monkeypatch, caplog, api_url: str | None) -> list[str]:
    from braintrust import state

    monkeypatch.setattr(state, "_warned_clear_text", set())
    monkeypatch.setenv("BRAINTRUST_API_KEY", bt_server.api_key)
    monkeypatch.setenv("BRAINTRUST_APP_URL", bt_server.url)
    if api_url:
        monkeypatch.setenv("BRAINTRUST_API_URL", api_url)
    with caplog.at_level(logging.WARNING, logger="braintrust"):
        braintrust.login(force_login=True)
        braintrust.login(force_login=True)
    return [r.getMessage() for r in caplog.records if "plain http" in r.getMessage()]


def test_an_api_url_of_plain_http_to_another_machine_is_warned_about_once(bt_server, monkeypatch, caplog):
    warnings = _warnings_of_login(bt_server, monkeypatch, caplog, "http://bt.example.internal:8000")
    assert warnings == [
        "braintrust: BRAINTRUST_API_URL is plain http to bt.example.internal, so the API key goes there "
        "unencrypted; use https:// unless every network in between is trusted."
    ]


@pytest.mark.parametrize("api_url", [None, "https://bt.example.internal"])
def test_loopback_and_https_urls_draw_no_warning(bt_server, monkeypatch, caplog, api_url):
    assert bt_server.url.startswith("http://127.0.0.1") or bt_server.url.startswith("http://localhost")
    assert _warnings_of_login(bt_server, monkeypatch, caplog, api_url) == []
