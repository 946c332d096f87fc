"""The copies of fetched prompts that ``load_prompt`` falls back on when Braintrust cannot answer
(and of saved parameters, for ``load_parameters``: ``parameters_cache``).

Two levels: memory (least recently used first out, ``BRAINTRUST_PROMPT_CACHE_MEMORY_MAX_SIZE``
entries, default 1024) and a folder (``BRAINTRUST_PROMPT_CACHE_DIR``, default
``~/.braintrust/prompt_cache``; ``BRAINTRUST_PROMPT_CACHE_DISK_MAX_SIZE`` files, default 1048576,
least recently written or read removed first); a size of 0 is no bound, as in 0.48.1. Files are
JSON, written atomically, 0600 in a 0700 folder (its missing parents made not writable by
others: the copies are trusted when read back); they hold the prompt as the API answered it and
never a credential (the key only enters the file name's hash).
A folder that cannot be written costs the disk level only, with one warning. So does one others
control (another user's, or one others may write: they could plant copies), which is then
neither read nor written, as pip disables a cache folder that is not the user's.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from braintrust.config import env_number, env_str
from braintrust.files import make_private_dirs, others_control
from braintrust.forks import ChildSafeLock

log = logging.getLogger("braintrust")

__all__ = ["CachedPrompt", "PromptCache", "parameters_cache", "prompt_cache"]

DEFAULT_MEMORY_MAX_ENTRIES = 1024
DEFAULT_DISK_MAX_FILES = 1048576


@dataclass(frozen=True)
class CachedPrompt:
    prompt: dict[str, Any]  # as the API answered it
    saved_at: float  # unix seconds


class PromptCache:
    def __init__(self, folder: Path, memory_max_entries: int = DEFAULT_MEMORY_MAX_ENTRIES, disk_max_files: int = DEFAULT_DISK_MAX_FILES,
                 setting: str = "BRAINTRUST_PROMPT_CACHE_DIR"):
        """``setting``: the variable that names ``folder``, for the warnings."""
        self.folder = folder
        self.setting = setting
        self.memory_max_entries = memory_max_entries
        self.disk_max_files = disk_max_files
        self._memory: OrderedDict[str, CachedPrompt] = OrderedDict()
        self._lock = threading.Lock()
        self._disk_warned = False
        #: Whether the folder was found to be this user's alone (None: not looked at yet).
        self._folder_safe: bool | None = None

    def put(self, key: str, prompt: dict[str, Any]) -> None:
        entry = CachedPrompt(prompt, time.time())
        with self._lock:
            self._remember(key, entry)
        try:
            self._write(key, entry)
        except OSError as exc:
            self._warn_once("%s cannot be written (%s). Set %s to a writable folder.", self.folder, exc, self.setting)

    def _warn_once(self, why: str, *args: Any) -> None:
        if not self._disk_warned:
            self._disk_warned = True
            log.warning("braintrust: prompts are cached in memory only: " + why, *args)

    def _folder_is_safe(self) -> bool:
        """False (with one warning) for an existing folder others control; looked at once."""
        if self._folder_safe is None:
            if not self.folder.is_dir():
                return True  # (missing: made private when first written)
            unsafe = others_control(self.folder)
            self._folder_safe = unsafe is None
            if unsafe is not None:
                self._warn_once("%s is not used: %s, so the copies in it could be someone else's. Set %s to a "
                                "folder of your own, or make this one yours alone (chmod go-w %s).",
                                self.folder, unsafe, self.setting, self.folder)
        return self._folder_safe
    def get(self, key: str) -> CachedPrompt | None:
        with self._lock:
            entry = self._memory.get(key)
            if entry is not None:
                self._memory.move_to_end(key)
                return entry
        entry = self._read(key)
        if entry is not None:
            with self._lock:
                self._remember(key, entry)
        return entry

    def _remember(self, key: str, entry: CachedPrompt) -> None:
        self._memory[key] = entry
        self._memory.move_to_end(key)
        while self.memory_max_entries and len(self._memory) > self.memory_max_entries:
            self._memory.popitem(last=False)

    def _path(self, key: str) -> Path:
        return self.folder / f"{hashlib.sha256(key.encode('utf-8')).hexdigest()}.json"

    def _read(self, key: str) -> CachedPrompt | None:
        if not self._folder_is_safe():
            return None
        path = self._path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        saved_at = data.get("saved_at", 0) if isinstance(data, dict) else None
        if not isinstance(data, dict) or data.get("key") != key or not isinstance(data.get("prompt"), dict) \
                or isinstance(saved_at, bool) or not isinstance(saved_at, (int, float)):
            return None  # (a damaged copy is no copy, as in 0.48.1)
        try:  # (a copy read counts as used: eviction removes the least recently used, as in 0.48.1)
            os.utime(path)
        except OSError:
            pass
        return CachedPrompt(data["prompt"], float(saved_at))

    def _write(self, key: str, entry: CachedPrompt) -> None:
        if not self.folder.is_dir():
            make_private_dirs(self.folder)
        if not self._folder_is_safe():
            return
        text = json.dumps({"key": key, "saved_at": entry.saved_at, "prompt": entry.prompt}, sort_keys=True)
        path = self._path(key)
        new_file = not path.exists()
        descriptor, temporary = tempfile.mkstemp(dir=self.folder, prefix=".prompt-", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:  # mkstemp makes it 0600
                handle.write(text)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        if new_file:  # (a refreshed copy leaves the count as it was: no need to list the folder)
            self._evict()

    def _evict(self) -> None:
        if not self.disk_max_files:
            return
        files = list(self.folder.glob("*.json"))
        if len(files) <= self.disk_max_files:
            return
        def modified(path: Path) -> float:
            try:
                return path.stat().st_mtime
            except OSError:
                return 0.0
        for path in sorted(files, key=modified)[: len(files) - self.disk_max_files]:
            path.unlink(missing_ok=True)


_caches: dict[tuple, PromptCache] = {}
_caches_lock = ChildSafeLock()


def prompt_cache() -> PromptCache:
    """The prompts' cache the environment configures (one per setting, kept for the process)."""
    return _configured("PROMPT", "prompt_cache")


def parameters_cache() -> PromptCache:
    """The same for saved parameters (``load_parameters``): ``BRAINTRUST_PARAMETERS_CACHE_DIR``
    (default ``~/.braintrust/parameters_cache``), ``..._MEMORY_MAX_SIZE``, ``..._DISK_MAX_SIZE``."""
    return _configured("PARAMETERS", "parameters_cache")


def _configured(kind: str, default_folder: str) -> PromptCache:
    folder = Path(env_str(f"BRAINTRUST_{kind}_CACHE_DIR") or Path.home() / ".braintrust" / default_folder).expanduser()
    memory = int(env_number(f"BRAINTRUST_{kind}_CACHE_MEMORY_MAX_SIZE", DEFAULT_MEMORY_MAX_ENTRIES, integer=True))
    disk = int(env_number(f"BRAINTRUST_{kind}_CACHE_DISK_MAX_SIZE", DEFAULT_DISK_MAX_FILES, integer=True))
    settings = (str(folder), memory, disk)
    with _caches_lock:
        if settings not in _caches:
            _caches[settings] = PromptCache(folder, memory, disk, f"BRAINTRUST_{kind}_CACHE_DIR")
        return _caches[settings]
