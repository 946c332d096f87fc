"""The local store's writer process: row-log appends on another core.

In the logging process, SQLite appends take turns with the code that logs. They need the GIL
between their steps, and the sender thread gets it back mostly while the producer pauses to let
it catch up, so the two costs add up. A process of its own appends on another core.
``LocalBackend`` starts one once a process has written ``WRITER_AFTER_ROWS`` rows (the start
costs ~0.1 s), and writes in-process again if it goes away.

Protocol, one request at a time:

* The parent pickles the entries (from ``rows.entry_params``) into a buffer both processes map
  (a memfd), then writes their size and the request's timeout to the child's stdin. Copying into the
  buffer keeps the GIL, while a pipe write of the same bytes would release it. Each release
  costs the sender a wait for the GIL while the producer runs.
* The child answers on its stdout with a frame: a 4-byte length, then a pickle of
  ``("ok", xact_id)`` or ``("error", kind, message)``, where kind is ``sqlite``, ``value`` or
  ``store`` (a ``StoreError``).
* The child sends ``READY`` once the store is open.

Checkpoints: past ``CHECKPOINT_PAGES`` pages of write-ahead log, a thread of the child
checkpoints it passively while writes go on (``_Checkpointer``). Commits that checkpointed the
log themselves, with its two fsyncs, stalled every ~5,000 rows by ~20 ms.

Lifetime: the child runs in a session of its own, so Ctrl-C or a SIGTERM sent to the terminal's
process group reaches only the parent, whose exit-time flush may still use the child. The child
exits when its stdin closes: the parent closed it, exited or died. A process forked from the
parent closes its copies of the pipes and the buffer, and starts its own writer if it needs one.
"""

from __future__ import annotations

import atexit
import mmap
import os
import pickle
import select
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from typing import Any, Sequence

from braintrust.forks import at_fork

#: Whether this platform can run a writer: the child is handed the shared buffer's descriptor
#: (``pass_fds``) and runs in a session of its own, both POSIX only. Elsewhere (Windows) the
#: logging process writes its rows itself.
SUPPORTED = os.name == "posix"
READY = b"R"
#: How much longer than a request's own timeout the parent waits for its reply.
REPLY_GRACE_SECONDS = 0.25
#: The shared buffer's first size; it grows for larger requests.
BUFFER_BYTES = 8 << 20
#: Write-ahead log pages past which the child's checkpoint thread checkpoints.
CHECKPOINT_PAGES = 1000
_REQUEST = struct.Struct("<Qd")  # payload size, timeout in seconds
_REPLY_LENGTH = struct.Struct("<I")
# The child imports this same package: from where the parent found it, unless that folder is
# on the child's path already (then it keeps its order, site-packages after the standard library).
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]) if sys.argv[1] not in sys.path else None; "
    "from braintrust.store.writer_process import serve; serve(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))"
)
_PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class WriterGone(Exception):
    """The writer process exited, broke its pipes or missed a reply's deadline (it is then
    killed). A request in flight may or may not have been written."""


# -- parent side ---------------------------------------------------------------------------------

_live: "weakref.WeakSet[WriterProcess]" = weakref.WeakSet()


class WriterProcess:
    """A writer process for the store at ``path``, started at once; ``ready()`` says when it
    takes requests. Thread-safe: requests are serialized."""

    def __init__(self, path: str | os.PathLike[str], checkpoint_pages: int | None = None):
        self._buffer_fd = _shared_buffer_fd()
        try:
            os.ftruncate(self._buffer_fd, BUFFER_BYTES)
            self._buffer = mmap.mmap(self._buffer_fd, BUFFER_BYTES)
            self._proc = subprocess.Popen(
                [sys.executable, "-W", "ignore", "-c", _BOOT, _PACKAGE_ROOT, os.fspath(path),
                 str(self._buffer_fd), str(checkpoint_pages or CHECKPOINT_PAGES)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                bufsize=0,
                pass_fds=(self._buffer_fd,),
                start_new_session=True,
            )
        except BaseException:
            os.close(self._buffer_fd)
            raise
        self._to_child = self._proc.stdin.fileno()  # type: ignore[union-attr]
        self._from_child = self._proc.stdout.fileno()  # type: ignore[union-attr]
        self._lock = threading.Lock()
        self._ready = False
        self.gone_reason: str | None = None
        self.closed_by_us = False
        _live.add(self)

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def gone(self) -> bool:
        return self.gone_reason is not None

    def ready(self) -> bool:
        """True once the child has opened the store; never blocks."""
        if self._ready or self.gone or not self._lock.acquire(blocking=False):
            return self._ready
        try:
            if select.select([self._from_child], [], [], 0)[0]:
                if os.read(self._from_child, 1) == READY:
                    self._ready = True
                else:
                    try:
                        reason = f"it exited while starting (exit code {self._proc.wait(0.5)})"
                    except subprocess.TimeoutExpired:
                        reason = "it closed its output while starting"
                    self._abandon(reason)
        except OSError as exc:
            self._abandon(f"its pipe broke while starting ({exc})")
        finally:
            self._lock.release()
        return self._ready

    def append(self, entries: Sequence[tuple], timeout_seconds: float) -> str:
        """Have the child append ``entries`` in one transaction, waiting for other writers at
        most ``timeout_seconds``; returns the xact id. Raises ``sqlite3.OperationalError`` or
        ``ValueError`` or ``StoreError`` as an in-process write would, ``WriterGone`` if the child
        cannot answer."""
        payload = pickle.dumps(list(entries), protocol=pickle.HIGHEST_PROTOCOL)
        end = time.monotonic() + timeout_seconds + REPLY_GRACE_SECONDS
        with self._lock:
            if not self._ready or self.gone:
                raise WriterGone(self.gone_reason or "it is not ready")
            try:
                self._put(payload)
                os.write(self._to_child, _REQUEST.pack(len(payload), timeout_seconds))
                reply = pickle.loads(_read_frame(self._from_child, end))
            except TimeoutError:
                self._abandon(f"it did not answer within {timeout_seconds + REPLY_GRACE_SECONDS:.2f} s")
                raise WriterGone(self.gone_reason) from None
            except (OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
                try:
                    reason = f"it exited (exit code {self._proc.wait(0.5)})"  # the pipes close first
                except subprocess.TimeoutExpired:
                    reason = f"its pipe broke ({exc})"
                self._abandon(reason)
                raise WriterGone(self.gone_reason) from None
        if reply[0] == "ok":
            return str(reply[1])
        _, kind, message = reply
        if kind == "store":
            from braintrust.store.connection import StoreError

            raise StoreError(message)
        raise ValueError(message) if kind == "value" else sqlite3.OperationalError(message)

    def _put(self, payload: bytes) -> None:
        """Copy ``payload`` into the shared buffer, growing it first if needed."""
        if len(payload) > len(self._buffer):
            size = max(len(payload), 2 * len(self._buffer))
            os.ftruncate(self._buffer_fd, size)
            self._buffer.close()
            self._buffer = mmap.mmap(self._buffer_fd, size)
        self._buffer[: len(payload)] = payload

    def close(self, timeout_seconds: float = 1.0) -> None:
        """Close the child's stdin and wait for it to finish, at most ``timeout_seconds`` in all
        (then it is killed). A request in flight gets that long to finish: at exit, another
        thread may be waiting on one with a long timeout, and exiting must not wait for it."""
        if not self._lock.acquire(timeout=timeout_seconds):
            self.closed_by_us = True
            self._proc.kill()  # the request in flight fails (WriterGone), which writes it here
            return
        try:
            if self.gone:
                return
            self.closed_by_us = True
            self.gone_reason = "it was closed"
            self._close_files()
            try:
                self._proc.wait(timeout_seconds)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        finally:
            self._lock.release()

    def _abandon(self, reason: str) -> None:
        """Kill the child (a request may be half-written) and close the files; lock held."""
        self.gone_reason = reason
        try:
            self._proc.kill()
        except OSError:
            pass
        self._close_files()
        try:
            self._proc.wait(1.0)
        except subprocess.TimeoutExpired:
            pass

    def _close_files(self) -> None:
        for stream in (self._proc.stdin, self._proc.stdout):
            try:
                stream.close()  # type: ignore[union-attr]
            except OSError:
                pass
        self._buffer.close()
        try:
            os.close(self._buffer_fd)
        except OSError:
            pass

    def _forget_after_fork(self) -> None:
        """In a forked child: close the inherited files, leave the process to its parent."""
        self._lock = threading.Lock()
        if not self.gone:
            self.gone_reason = "it belongs to the parent process"
            self.closed_by_us = True
            self._close_files()
        self._proc.returncode = 0  # not this process's child: nothing to wait for or warn about


def _shared_buffer_fd() -> int:
    """A file only these two processes see, in memory where the system allows it."""
    if hasattr(os, "memfd_create"):
        try:
            return os.memfd_create("braintrust-writer", getattr(os, "MFD_CLOEXEC", 1))
        except OSError:
            pass
    with tempfile.TemporaryFile() as handle:  # (already unlinked: it disappears with its users)
        return os.dup(handle.fileno())


def _read_frame(fd: int, end: float | None = None) -> bytes:
    """The next reply frame's payload; by ``end`` (monotonic) when given.
    ``EOFError`` at the end of input, ``TimeoutError`` past ``end``."""
    (length,) = _REPLY_LENGTH.unpack(_read_exactly(fd, _REPLY_LENGTH.size, end))
    return _read_exactly(fd, length, end)


def _read_exactly(fd: int, count: int, end: float | None) -> bytes:
    parts, left = [], count
    while left:
        if end is not None:
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            if not select.select([fd], [], [], remaining)[0]:
                continue
        part = os.read(fd, left)
        if not part:
            raise EOFError("the other end closed the pipe")
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _forget_all_after_fork() -> None:
    for writer in list(_live):
        writer._forget_after_fork()


def _close_all_at_exit() -> None:
    for writer in list(_live):
        writer.close()


at_fork(after_in_child=_forget_all_after_fork)
atexit.register(_close_all_at_exit)


# -- child side ----------------------------------------------------------------------------------


def serve(path: str, buffer_fd: int, checkpoint_pages: int) -> None:
    """The child's loop: answer requests until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The protocol gets its own descriptors; stray prints go to stderr, reads see /dev/null.
    requests, replies = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)

    from braintrust.store.connection import PAGE_SIZE, StoreError
    from braintrust.store.sqlite_store import LocalStore

    store = LocalStore(path)
    checkpoints = _Checkpointer(store, checkpoint_pages * PAGE_SIZE)
    buffer = mmap.mmap(buffer_fd, 0)
    try:
        os.write(replies, READY)
    except OSError:  # the parent exited (or gave up on us) while we started: nothing to do
        store.close()
        return
    try:
        while True:
            try:
                size, timeout_seconds = _REQUEST.unpack(_read_exactly(requests, _REQUEST.size, None))
            except EOFError:  # the parent closed the pipe
                return
            if size > len(buffer):  # the parent grew it
                buffer.close()
                buffer = mmap.mmap(buffer_fd, 0)
            entries = pickle.loads(buffer[:size])
            reply: tuple[Any, ...]
            try:
                reply = ("ok", store.append_entries(entries, timeout_seconds))
            except ValueError as exc:
                reply = ("error", "value", str(exc))
            except StoreError as exc:  # (names its own fix: said as it is)
                reply = ("error", "store", str(exc))
            except Exception as exc:
                reply = ("error", "sqlite", str(exc) or type(exc).__name__)
            payload = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
            try:
                os.write(replies, _REPLY_LENGTH.pack(len(payload)) + payload)
            except OSError:  # the parent is gone (or gave up on this reply and is killing us)
                return
            checkpoints.after_write()
    finally:
        store.close()


class _Checkpointer:
    """Checkpoints the store's write-ahead log on a thread of its own once it passes
    ``wal_bytes``, passively, so writes go on meanwhile. If the log still grows past four times
    that (checkpoints never catch up with writes that never pause), the writer thread waits for
    the running checkpoint and runs one itself, with no write in between, so the log restarts."""

    def __init__(self, store: Any, wal_bytes: int):
        self._store = store
        self._wal = f"{store.path}-wal"
        self._wal_bytes = wal_bytes
        self._lock = threading.Lock()  # one checkpoint at a time
        self._wake = threading.Event()
        writer = store.connection()
        writer.execute("PRAGMA wal_autocheckpoint = 0")  # commits leave checkpoints to this class
        writer.execute(f"PRAGMA journal_size_limit = {wal_bytes}")  # so the file's size shows the log's
        threading.Thread(target=self._run, name="braintrust-checkpoint", daemon=True).start()

    def after_write(self) -> None:
        """Called by the writer thread after each request."""
        try:
            size = os.stat(self._wal).st_size
        except OSError:
            return
        if size > 4 * self._wal_bytes:
            self._checkpoint(self._store.connection())
        elif size > self._wal_bytes:
            self._wake.set()

    def _run(self) -> None:
        conn = self._store.connection()
        while True:
            self._wake.wait()
            self._wake.clear()
            self._checkpoint(conn)

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:
                pass  # busy (another process): the next write tries again
