"""Opening the store's SQLite database safely for many threads and processes.

Contract:

* the folder is created 0700 and the database file 0600 before SQLite touches it (SQLite gives
  its ``-wal`` and ``-shm`` files the database file's mode); modes are re-tightened on open;
* a new database gets 16 KiB pages (``PAGE_SIZE``): rows are JSON of a few KiB, and with
  SQLite's default 4 KiB pages most would take a page of their own (measured: writing 100,000
  rows of 2.3 KB took 1.6 s with 4 KiB pages, 0.8 s with 16 KiB); an existing database keeps its own;
* every connection runs in WAL mode with ``synchronous=NORMAL`` and a busy timeout (30 s, or
  ``BRAINTRUST_LOCAL_BUSY_TIMEOUT``), and writes go through ``write_transaction``
  (``BEGIN IMMEDIATE``), so several processes can write at once;
* a write lock held past a whole wait is taken for a stuck process: every process then waits at
  most ``LOCKED_WAIT_SECONDS`` for it, until a write gets through again (see ``_begin``);
* nothing is written to a store in a folder others control (another user's, or one others may
  write) nor to a store file another user made, and no store is created through a dangling
  symbolic link: such a store is read only, and a write raises ``StoreError`` naming why and the
  fix (see ``_refusal``);
* a write to a database file deleted or replaced since the connection opened it is refused
  (``StoreError``): its rows would be lost while counted as written (see ``_refuse_replaced``);
* ``ConnectionPool`` hands each thread its own connection and, after ``fork``, opens fresh ones
  in the child: a connection inherited from the parent is never used, nor closed, by the child.
"""

from __future__ import annotations

import atexit
import os
import sqlite3
import sys
import threading
import time
import urllib.parse
import weakref
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Iterator

from braintrust.files import foreign_file
from braintrust.store.location import STORE_DIRNAME, make_private_folder, unsafe_store_folder

SCHEMA_VERSION = 2
BUSY_TIMEOUT_SECONDS = 30.0
BUSY_TIMEOUT_VARIABLE = "BRAINTRUST_LOCAL_BUSY_TIMEOUT"
#: A wait for the write lock this long (or the whole busy timeout, if shorter) that runs out
#: means the holder is stuck (this store's transactions take milliseconds).
STUCK_AFTER_SECONDS = 5.0
#: How long a write waits for a lock found stuck, until a write gets through again.
LOCKED_WAIT_SECONDS = 1.0
#: How long a stuck-lock mark (the ``-locked`` file) is believed without being renewed.
LOCKED_MARK_SECONDS = 300.0
#: The first transaction id handed out; ids are shown as 19-digit strings (like the server's).
FIRST_XACT_ID = 10**18
#: Page size of a new database (ignored by SQLite for an existing one, and once in WAL mode).
PAGE_SIZE = 16384

# Connections inherited from a parent process. Closing one in the child could checkpoint or
# unlink the parent's WAL, so the child keeps them referenced and never touches them again.
_abandoned: list[sqlite3.Connection] = []


class StoreError(Exception):
    """The store cannot be used as asked (newer schema, invalid row, unknown object)."""


class _Connection(sqlite3.Connection):
    """A connection that knows its database and its usual busy timeout (for ``_begin``)."""

    path = ""
    timeout_seconds = BUSY_TIMEOUT_SECONDS
    #: ``(st_dev, st_ino)`` of the file opened for writing (None when opened read-only).
    identity: tuple[int, int] | None = None
    #: Why this store must not be written (see ``_refusal``); a write raises it as a ``StoreError``.
    refusal: str | None = None


def busy_timeout_seconds() -> float:
    """How long a write waits for another process's write lock: ``BRAINTRUST_LOCAL_BUSY_TIMEOUT``
    seconds, else 30. ``StoreError`` (naming the variable and the fix) for a bad value."""
    from braintrust.config import env_number

    try:
        return env_number(BUSY_TIMEOUT_VARIABLE, BUSY_TIMEOUT_SECONDS, minimum=0.001, maximum=86_400.0)
    except ValueError as exc:
        raise StoreError(str(exc)) from None


def _tighten(path: Path, mode: int) -> None:
    """chmod ``path`` to ``mode`` if it exists and belongs to us; never fails."""
    try:
        info = path.stat()
        if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
            return
        if info.st_mode & 0o777 != mode:
            os.chmod(path, mode)
    except OSError:
        pass


def file_in_the_way(directory: Path) -> Path | None:
    """The file (not a folder) that ``directory`` or one of its parents is, if any."""
    for folder in (directory, *directory.parents):
        if folder.is_dir():
            return None
        if folder.exists():
            return folder
    return None


def prepare_files(path: Path) -> None:
    """Create the store folder (0700) and an empty database file (0600) if missing.

    A ``.braintrust`` folder that already exists (made by another part, say) is tightened to
    0700 too; a folder of another name chosen through ``BRAINTRUST_LOCAL_DIR`` is left as is.
    """
    directory = path.parent
    if not directory.is_dir():
        try:
            make_private_folder(directory)
        except OSError:
            # (Looked for only now: another process may be creating the folder meanwhile.)
            blocker = file_in_the_way(directory)
            if blocker is not None:  # (else "[Errno 17] File exists", or "Not a directory", naming neither)
                raise NotADirectoryError(f"{blocker} is a file, not a folder") from None
            raise
        _tighten(directory, 0o700)
    elif directory.name == STORE_DIRNAME:
        _tighten(directory, 0o700)
    if not path.exists():
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
    # (An existing file is tightened once it is known to be a store: see open_connection.)


def _statements(script: str) -> Iterator[str]:
    """Split a SQL script into complete statements (triggers included)."""
    buffer: list[str] = []
    for line in script.splitlines(keepends=True):
        buffer.append(line)
        text = "".join(buffer)
        if sqlite3.complete_statement(text):
            if text.strip():
                yield text
            buffer = []


def _schema_script() -> str:
    return resources.files("braintrust.store").joinpath("schema.sql").read_text(encoding="utf-8")


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception).

    Inside an open transaction it joins that one, so writers compose into one atomic step.
    """
    refusal = getattr(conn, "refusal", None)
    if refusal is not None:
        raise StoreError(refusal)
    if conn.in_transaction:
        yield conn
        return
    _begin(conn)
    try:
        _refuse_replaced(conn)
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        raise


def _file_identity(path: str | Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _refuse_replaced(conn: sqlite3.Connection) -> None:
    """``StoreError`` when the file at the connection's path is no longer the one it writes
    (deleted, or moved aside and made again): a commit would go to a file nobody reads again,
    so the rows would be counted as written and lost. (One ``stat`` per transaction.)"""
    opened = getattr(conn, "identity", None)
    if opened is None or _file_identity(conn.path) == opened:
        return
    raise StoreError(
        f"the local Braintrust store {conn.path} was deleted or replaced while this process had it open; "
        "rows spill rather than go to the deleted file, and `braintrust replay` sends them to the store "
        "now at that path"
    )


def _lock_mark(conn: sqlite3.Connection) -> str | None:
    path = getattr(conn, "path", "")
    return f"{path}-locked" if path else None


def _begin(conn: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, waiting for another process's write lock as the busy timeout says,
    unless the lock was found stuck: a wait of ``STUCK_AFTER_SECONDS`` (or the whole busy
    timeout) that ran out leaves a mark next to the database (``<database>-locked``), and while
    it is there every process waits at most ``LOCKED_WAIT_SECONDS``, until a write gets through
    and removes it. Else each write, case after case and in every xdist worker, would wait the
    whole timeout again before its rows spill. (One ``stat`` per transaction, not per row.)"""
    mark = _lock_mark(conn)
    stuck = False
    if mark is not None:
        try:
            stuck = time.time() - os.stat(mark).st_mtime < LOCKED_MARK_SECONDS
            if not stuck:
                os.unlink(mark)  # (left by a process that ended before the lock was let go)
        except OSError:
            pass
    if not stuck:
        started = time.monotonic()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            waited = time.monotonic() - started
            if mark is None or "locked" not in str(exc) or waited < min(STUCK_AFTER_SECONDS, conn.timeout_seconds) - 0.05:
                raise
            _touch(mark)
            # (The wait as set, not as measured: on a loaded machine SQLite wakes late, and "3.1 s" was said.)
            allowed = conn.execute("PRAGMA busy_timeout").fetchone()[0] / 1000
            raise _stuck_lock_error(exc, f"held its write lock for the whole {allowed:.2g} s wait") from None
        return
    usual = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    set_busy_timeout(conn, min(usual / 1000, LOCKED_WAIT_SECONDS))
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc):
            raise
        _touch(mark)  # still stuck: the mark stays believed
        raise _stuck_lock_error(exc, "still holds its write lock") from None
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(usual)}")
    try:
        os.unlink(mark)  # type: ignore[arg-type]
    except OSError:
        pass


def _stuck_lock_error(exc: sqlite3.OperationalError, what: str) -> sqlite3.OperationalError:
    return sqlite3.OperationalError(
        f"{exc} (another process {what}: a run stopped or stuck mid-write? "
        f"until it lets go, writes wait at most {LOCKED_WAIT_SECONDS:g} s for it)"
    )


def _touch(mark: str) -> None:
    """Create or renew the stuck-lock mark (0600, empty); never fails."""
    try:
        os.close(os.open(mark, os.O_WRONLY | os.O_CREAT, 0o600))
        os.utime(mark)
    except OSError:
        pass


def set_busy_timeout(conn: sqlite3.Connection, seconds: float) -> None:
    conn.execute(f"PRAGMA busy_timeout = {max(1, int(min(seconds, 86_400.0) * 1000))}")


@contextmanager
def waiting_at_most(conn: sqlite3.Connection, seconds: float | None, default_seconds: float) -> Iterator[None]:
    """Wait at most ``seconds`` (capped by the default) for other writers inside the block."""
    if seconds is None or seconds >= default_seconds:
        yield
        return
    set_busy_timeout(conn, seconds)
    try:
        yield
    finally:
        set_busy_timeout(conn, default_seconds)


def _schema_version(conn: sqlite3.Connection) -> int | None:
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return None
        raise
    if row is None:
        return None
    try:
        return int(row[0])
    except (TypeError, ValueError):
        raise sqlite3.DatabaseError(f"its schema version is {row[0]!r}, not a number") from None


def ensure_schema(conn: sqlite3.Connection, path: Path) -> None:
    """Create the tables once (idempotent, safe when several processes open a new store). An
    older store where it cannot be written (a read-only mount) is read as it is: what it lacks
    (``attachments``) it never held."""
    found = _schema_version(conn)
    if found == SCHEMA_VERSION:
        return
    refusal = getattr(conn, "refusal", None)
    if refusal is not None:
        if found is None:  # (nothing to read: an empty file)
            raise StoreError(refusal)
        return
    try:
        _apply_schema(conn, path)
    except sqlite3.OperationalError as exc:
        if found is None or "readonly" not in str(exc):
            raise


def _apply_schema(conn: sqlite3.Connection, path: Path) -> None:
    with write_transaction(conn):
        _refuse_newer(conn, path)
        for statement in _statements(_schema_script()):
            conn.execute(statement)
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )
        conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('last_xact_id', ?)",
            (str(FIRST_XACT_ID - 1),),
        )


def _refuse_newer(conn: sqlite3.Connection, path: Path) -> None:
    """``StoreError`` for a store made by a newer version (before anything is written to it)."""
    found = _schema_version(conn)
    if found is not None and found > SCHEMA_VERSION:
        raise StoreError(
            f"the local Braintrust store {path} has schema version {found}, newer than this "
            f"pytest-braintrust understands ({SCHEMA_VERSION}); upgrade pytest-braintrust or set "
            "BRAINTRUST_LOCAL_DIR to another folder."
        )


def _refuse_foreign(conn: sqlite3.Connection, path: Path) -> None:
    """``StoreError`` for an SQLite database with tables of its own but none of ours: someone
    else's file, to which nothing is then written (not even the switch to WAL)."""
    # The tables first, then the version: a store another process creates meanwhile commits both
    # at once, so tables seen here mean its version is seen next (the other order could read the
    # version before that commit and the tables after it).
    tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    if not tables or ("meta" in tables and _schema_version(conn) is not None):
        return
    raise StoreError(
        f"{path} is an SQLite database but not a Braintrust store (its tables: {', '.join(tables[:5])}"
        f"{', ...' if len(tables) > 5 else ''}); it was left as it is. Move it aside or set "
        "BRAINTRUST_LOCAL_DIR to another folder."
    )


def _enable_wal(conn: sqlite3.Connection, timeout_seconds: float) -> None:
    """Switch to WAL; the switch itself can report "locked" while another process creates the file."""
    give_up = time.monotonic() + timeout_seconds
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= give_up:
                raise
            time.sleep(0.02)


def open_connection(path: Path, timeout_seconds: float = BUSY_TIMEOUT_SECONDS) -> sqlite3.Connection:
    """A configured connection to the database at ``path`` (created if missing). A store in a
    folder this process cannot write (a read-only mount, a copy of another user's) is opened
    read-only: reads work (they fold rows in memory), writes fail with "readonly". So is one this
    process must not write (``_refusal``), where writes raise ``StoreError`` saying why."""
    refusal = _refusal(path)
    if refusal is not None:
        if not path.is_file():  # (nothing to read)
            raise StoreError(refusal)
        _refuse_unread_log(path, "others control its folder or files")
        return _configured(path, timeout_seconds, read_only=True, refusal=refusal)
    prepare_files(path)
    try:
        return _configured(path, timeout_seconds, read_only=False)
    except sqlite3.OperationalError as exc:
        if "unable to open" not in str(exc) or _writable(path):
            raise
        _refuse_unread_log(path, "this process cannot write its folder")
    # As immutable: SQLite opens a WAL-mode file whose folder it cannot write only so. Safe with
    # an empty log, unless another user writes the store while this process reads it.
    return _configured(path, timeout_seconds, read_only=True)


def _refuse_unread_log(path: Path, why: str) -> None:
    """``StoreError`` when rows are still in the write-ahead log of a store opened read-only
    (as immutable, SQLite would not see them)."""
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size:
        raise StoreError(
            f"{path} is opened read-only ({why}), and rows of it are still in its "
            f"write-ahead log ({path}-wal), which SQLite cannot read so; copy the folder to "
            "one you can write and point --store (or BRAINTRUST_LOCAL_DIR) at the copy."
        ) from None


def _refusal(path: Path) -> str | None:
    """Why rows must not be written to the store at ``path``, naming the fix, or None: its folder
    is another user's or others may write it (they could read the rows, or swap the files for
    theirs), one of its files was made by another user (planted there), or it is a symbolic
    link to nothing (the store would be created wherever it points). As git refuses a
    repository of another user's and ssh a key file others may write."""
    directory = path.parent
    if directory.is_dir():
        unsafe = unsafe_store_folder(directory)
        if unsafe is not None:
            return (
                f"the local Braintrust store folder {directory} is not safe to write: {unsafe}, so they could "
                "read or replace what is kept there; nothing is written to it (what it holds is still read). "
                f"Set BRAINTRUST_LOCAL_DIR to a folder of your own, or make this one yours alone (chmod go-w {directory})."
            )
    for suffix in ("", "-wal", "-shm"):
        planted = foreign_file(Path(f"{path}{suffix}"))
        if planted is not None:
            return (
                f"the local Braintrust store is not safe to write: {planted}, a file this user did not make; "
                "nothing is written to it (what it holds is still read). Move it aside (a new store is then "
                "made in its place) or set BRAINTRUST_LOCAL_DIR to a folder of your own."
            )
    if path.is_symlink() and not path.exists():
        return (
            f"{path} is a symbolic link to {os.readlink(path)}, which does not exist; a new store is not "
            "created through it. Remove the link (a new store is then made in its place) or set "
            "BRAINTRUST_LOCAL_DIR to the folder you meant."
        )
    return None


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _configured(path: Path, timeout_seconds: float, read_only: bool, refusal: str | None = None) -> sqlite3.Connection:
    target = f"file:{urllib.parse.quote(str(path))}?mode=ro&immutable=1" if read_only else str(path)
    conn = sqlite3.connect(
        target,
        timeout=timeout_seconds,
        isolation_level=None,  # we issue BEGIN/COMMIT ourselves
        check_same_thread=False,  # only so that close() can close every thread's connection
        cached_statements=256,
        factory=_Connection,
        uri=read_only,
    )
    conn.path = str(path)
    conn.timeout_seconds = timeout_seconds
    conn.refusal = refusal
    try:
        set_busy_timeout(conn, timeout_seconds)
        _refuse_foreign(conn, path)
        _refuse_newer(conn, path)  # (not even switched to WAL)
        if not read_only:
            conn.identity = _file_identity(path)  # (the file SQLite opened: it read it just above)
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # before WAL: a new file only
            _enable_wal(conn, timeout_seconds)
            conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -2000")  # 2 MB per connection (the default): memory stays flat
        ensure_schema(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        if type(exc) is not sqlite3.DatabaseError:  # locked, unable to open, ...: said as they are
            raise
        # "file is not a database", "database disk image is malformed"
        raise StoreError(
            f"{path} cannot be read as a Braintrust store ({exc}): it is damaged or is some other "
            "file; move it aside (a new store is then made in its place) or set BRAINTRUST_LOCAL_DIR "
            "to another folder."
        ) from exc
    except BaseException:
        conn.close()
        raise
    if not read_only:
        for suffix in ("", "-wal", "-shm"):
            _tighten(Path(f"{path}{suffix}"), 0o600)
    return conn


class ConnectionPool:
    """One connection per thread, per process; re-opened lazily after ``fork``.

    A connection whose thread has ended is closed when another thread opens one, so a
    process that keeps starting threads does not pile up open files; the rest are closed by
    ``close()``, when the pool is collected, or at exit (``close_all_pools``).
    """

    def __init__(self, path: Path, timeout_seconds: float = BUSY_TIMEOUT_SECONDS):
        self.path = path
        self.timeout_seconds = timeout_seconds
        self._reset(os.getpid())
        _POOLS.add(self)

    def _reset(self, pid: int) -> None:
        self._pid = pid
        self._local = threading.local()
        self._lock = threading.Lock()  # a lock inherited across fork may be held forever
        self._open: list[tuple[threading.Thread, sqlite3.Connection]] = []

    def get(self) -> sqlite3.Connection:
        pid = os.getpid()
        if pid != self._pid:
            _abandoned.extend(conn for _, conn in self._open)
            self._reset(pid)
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = open_connection(self.path, self.timeout_seconds)
            self._local.conn = conn
            with self._lock:
                ended = [conn for thread, conn in self._open if not thread.is_alive()]
                self._open = [(t, c) for t, c in self._open if t.is_alive()]
                self._open.append((threading.current_thread(), conn))
            for old in ended:
                _close_quietly(old)
        return conn

    def __del__(self) -> None:
        try:  # a store dropped without close() (a short-lived reader) closes what it opened
            self.close()
        except Exception:
            pass

    def close(self) -> None:
        """Close this process's connections (those inherited from a parent stay untouched)."""
        if os.getpid() != self._pid:
            _abandoned.extend(conn for _, conn in self._open)
            self._reset(os.getpid())
            return
        with self._lock:
            connections, self._open = self._open, []
        self._local = threading.local()
        current = threading.current_thread()
        for thread, conn in connections:
            # Closing a connection while another thread runs a statement on it crashes the
            # process (CPython does not guard it): that of a live thread is closed only while the
            # thread waits on a lock or queue (an idle sender, pool worker); a busy one is left
            # to be closed when collected, or by the process's end.
            if thread is current or not thread.is_alive() or _parked(thread):
                _close_quietly(conn)


#: Where a thread that is not using its connection waits (``threading``'s and ``queue``'s waits).
_PARKED_FILES = frozenset({threading.__file__, __import__("queue").__file__})


def _parked(thread: threading.Thread) -> bool:
    frame = sys._current_frames().get(thread.ident)
    return frame is not None and frame.f_code.co_filename in _PARKED_FILES


#: Every pool of this process, so that exit can close their connections.
_POOLS: "weakref.WeakSet[ConnectionPool]" = weakref.WeakSet()


def close_all_pools() -> None:
    """Close this process's connections, at exit (after the exit-time flush, which calls this
    too): Python 3.13 warns about a connection still open when it is collected, and the
    threads of a thread pool (``Eval``'s) leave theirs behind. A later use opens a new one."""
    for pool in list(_POOLS):
        pool.close()


atexit.register(close_all_pools)


def _close_quietly(conn: sqlite3.Connection) -> None:
    try:
        conn.close()
    except sqlite3.Error:
        pass
