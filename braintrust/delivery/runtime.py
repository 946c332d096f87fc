"""The process-wide delivery runtime: one processor, the backend it sends to, exit handling.

The backend is chosen when the first row is sent: the Braintrust API when an API key is known,
else the embedded local store (announced once on stderr). The exit-time flush (``atexit`` and
SIGTERM) runs under the flush deadline. A ``multiprocessing`` child process (a ``Pool`` worker,
a ``Process``) ends with ``os._exit``, which runs no ``atexit`` handler: there the flush runs from
multiprocessing's own exit hook instead.
"""

from __future__ import annotations

import atexit
import math
import os
import signal
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from braintrust.attachments import pending as pending_attachments
from braintrust.config import DeliverySettings
from braintrust.delivery import policy
from braintrust.delivery.backend import ObjectRef, forget_resolved_ids
from braintrust.delivery.deadline import Deadline
from braintrust.delivery.processor import FlushResult, Processor
from braintrust.delivery.spill import SpillWriter
from braintrust.forks import ChildSafeLock, at_fork
from braintrust.signals import leave_signals_to_the_main_thread, sigterm_handler_ran, watch_sigterm_handler
from braintrust.state import global_state
from braintrust.tracing import reentry

_lock = ChildSafeLock()
_processor: Processor | None = None
#: How long a flush waits at most for the writes deferred from the garbage collector.
DEFERRED_WRITES_SECONDS = 2.0
_announced = False
#: Set in a forked child: its exit hooks are registered again on its next use of the processor.
_exit_hooks_stale = False


def _make_backend() -> Any:
    state = global_state()
    settings = DeliverySettings.from_env()
    if state.is_local():
        from braintrust.delivery.local_backend import LocalBackend

        backend = LocalBackend()
        _announce_local(backend.label)
        return backend
    from braintrust.delivery.http_backend import HttpBackend

    return HttpBackend(state, settings)


def import_backend() -> None:
    """Import the modules of the backend rows will go to, on the caller's thread (``init_logger``).
    Otherwise the sender imports them with its first batch, while a logging loop holds the GIL:
    every file the import reads then waits for a switch interval, and imports take seconds."""
    if global_state().is_local():
        import braintrust.delivery.local_backend  # noqa: F401
    else:
        import braintrust.delivery.http_backend  # noqa: F401


def prepare() -> None:
    """What ``init_logger`` and ``init`` do on the caller's thread before any row: import the
    backend's modules (``import_backend``) and, on the main thread, install the SIGTERM handler.
    Rows are often logged on worker threads only (a thread pool, ``Eval``'s tasks), where no
    signal handler can be installed: a SIGTERM then killed the process with its queued rows,
    neither sent nor spilled nor reported."""
    import_backend()
    _install_sigterm_handler()
    follow_destination(kind_only=True)


def take_sigterm() -> None:
    """From code about to log on other threads only (``Eval``, whose experiment is made on a
    worker thread): install the SIGTERM handler now, if this is the main thread."""
    _install_sigterm_handler()


def _announce_local(where: str) -> None:
    global _announced
    if _announced or policy.quiet_local_notice:
        return
    _announced = True
    reason = global_state().local_reason()
    from braintrust.store.location import DATABASE_FILENAME, command_store_args

    listing = f"braintrust list{command_store_args(Path(where) / DATABASE_FILENAME)}"
    print(f"braintrust: {reason}; writing to the local store at {where} (see `{listing}`)", file=sys.stderr)


def spill_directory() -> Path:
    """Where this process spills rows (``BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR``, else the
    local store's ``spill/``)."""
    from braintrust.store.location import spill_dir

    return DeliverySettings.from_env().spill_dir or spill_dir()


def _make_spill_writer() -> SpillWriter:
    settings = DeliverySettings.from_env()
    return SpillWriter(spill_directory(), global_state().target_description(), settings.spill_budget_bytes)


def get_processor() -> Processor:
    global _processor, _exit_hooks_stale
    if _processor is None:
        with _lock:
            if _processor is None:
                _exit_hooks_stale = False  # (registered just below, for this process)
                settings = DeliverySettings.from_env()
                made_for: list[tuple] = []

                def make_backend() -> Any:
                    made_for.append(_destination())
                    return _make_backend()

                _processor = Processor(make_backend, _make_spill_writer, settings)
                _destinations[_processor] = made_for
                # Pending attachments are bounded in bytes like the queue (the processor spills the excess).
                pending_attachments.set_overflow(_spill_excess_attachments, settings.queue_max_bytes)
                if not settings.disable_atexit_flush:
                    _register_atexit_once()
                    _register_multiprocessing_exit()
                _install_sigterm_handler()
    elif _exit_hooks_stale:
        _after_fork_first_use()
    return _processor


def _spill_excess_attachments() -> None:
    if _processor is not None:
        _processor.attachments.spill_excess()


_atexit_registered = False


def _register_atexit_once() -> None:
    """One exit-time flush per process, however often the processor is recreated (tests)."""
    global _atexit_registered
    if not _atexit_registered:
        _atexit_registered = True
        atexit.register(_flush_at_exit)


#: Ours runs first among a child's exit hooks (higher runs earlier): a SIGTERM is deferred only
#: until it has run, so no other hook can hold the child up in the meantime.
EXIT_HOOK_PRIORITY = 10**9


def _register_multiprocessing_exit() -> None:
    """In a ``multiprocessing`` child, flush when it exits (its ``os._exit`` skips ``atexit``)."""
    multiprocessing = sys.modules.get("multiprocessing")
    if multiprocessing is None:
        return
    try:
        if multiprocessing.parent_process() is None:
            return
        from multiprocessing import util

        util.Finalize(None, _flush_at_exit, exitpriority=EXIT_HOOK_PRIORITY)
    except Exception as exc:  # an unusual multiprocessing: say so rather than lose rows unseen
        print(f"braintrust: could not arrange the flush at this process's exit ({exc}); call braintrust.flush()", file=sys.stderr)


def _after_fork_first_use() -> None:
    """The first use of the processor in a forked child (``multiprocessing`` registers its exit
    hooks only after the fork, so this is the time)."""
    global _exit_hooks_stale
    with _lock:
        if not _exit_hooks_stale:
            return
        _exit_hooks_stale = False
        if not DeliverySettings.from_env().disable_atexit_flush:
            _register_multiprocessing_exit()
        _install_sigterm_handler()


def _after_fork_in_child() -> None:
    """The child's exit hooks, and its SIGTERM handler, are set on its next use of the
    processor (``_lock`` is a ``ChildSafeLock``: the child's is new).

    Until then SIGTERM has its default action again: a child that logs nothing (an idle ``Pool``
    worker) has nothing to flush, and a handler could only make it miss the signal (see
    ``watch_sigterm_handler``) and hang where it would have ended."""
    global _exit_hooks_stale, _exit_flush_running, _exit_flush_done, _sigterm_deferred, _sigterm_taken
    _exit_hooks_stale = True
    _exit_flush_running = _exit_flush_done = _sigterm_deferred = _sigterm_taken = False  # (the child's exit is its own)
    try:
        if signal.getsignal(signal.SIGTERM) is _on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except (ValueError, OSError):
        pass


at_fork(after_in_child=_after_fork_in_child)


def flush(timeout: float | None = None) -> FlushResult:
    """Send everything logged so far (bounded by the flush deadline, or by ``timeout`` seconds;
    0 or less spills what is not sent at once); returns the counts."""
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or math.isnan(timeout)):
        raise ValueError(
            f"flush(timeout={timeout!r}): give a number of seconds, or None for the flush deadline "
            "(BRAINTRUST_FLUSH_TIMEOUT, 10 s by default)."
        )
    _settle_deferred_writes(timeout)
    return get_processor().flush(timeout)


def _settle_deferred_writes(timeout: float | None) -> None:
    """Queue the writes the garbage collector's finalizers deferred (``tracing.reentry``) first."""
    wait = DEFERRED_WRITES_SECONDS if timeout is None else max(0.0, min(timeout, DEFERRED_WRITES_SECONDS))
    reentry.settle(wait)


def interrupt_flushes() -> None:
    """Ctrl-C: flushes waiting on other threads stop waiting and spill the rest at once."""
    processor = _processor
    if processor is not None:
        processor.interrupt()


def stats() -> FlushResult:
    """The counts so far, without flushing."""
    return get_processor().stats()


def counts_if_logging() -> FlushResult | None:
    """The counts so far, without flushing; None when this process has logged nothing (no
    processor made: nothing is made here either)."""
    processor = _processor
    return processor.stats() if processor is not None else None


def mark_counts() -> FlushResult | None:
    """Where this process's counts stand (None before anything was logged): a run that starts
    now reports ``flush().since(mark)``, its own rows only. A processor whose backend sends rows
    elsewhere than this run's are to go is retired first (``follow_destination``)."""
    follow_destination()
    processor = _processor
    return processor.mark() if processor is not None else None


#: Where each processor's backend sends rows (``_destination`` when it was made; empty before).
_destinations: "weakref.WeakKeyDictionary[Processor, list[tuple]]" = weakref.WeakKeyDictionary()


def _destination() -> tuple:
    """Where a backend made now would send rows: a local store's file, or Braintrust (whose
    backend follows the login itself)."""
    if global_state().is_local():
        from braintrust.store.location import database_path

        return ("local", str(database_path()))
    return ("api",)


def follow_destination(kind_only: bool = False) -> None:
    """If the processor's backend was made for another destination than rows go to now, close
    that processor, which sends what it holds where it was logged for; the next row makes a new
    one, and objects are resolved there anew (``forget_resolved_ids``). The backend is made once
    per processor, so rows kept going to the first destination while summaries named the new one.

    At the start of a ``pytest --braintrust`` run (run again in one process, as a notebook does):
    another rootdir's store, the local store before a key was set, Braintrust after it was unset.
    From ``login`` and ``init_*`` (``kind_only``): the local store before a key, or Braintrust
    before ``BRAINTRUST_LOCAL``, as 0.48.1 sends rows after a login to the server."""
    global _processor
    with _lock:
        processor = _processor
        made_for = _destinations.get(processor) if processor is not None else None
        if not made_for:
            return
        if kind_only:
            if made_for[0][0] == ("local" if global_state().is_local() else "api") or _in_pytest_run():
                return
        elif made_for[0] == _destination():
            return
        _processor = None
    try:
        processor.close(timeout=None)
    except Exception as exc:  # (FlushError under BRAINTRUST_SYNC_FLUSH)
        print(f"braintrust: flush of the rows for the earlier destination failed: {exc}", file=sys.stderr)
    forget_resolved_ids()


def _in_pytest_run() -> bool:
    """A ``pytest --braintrust`` run is under way in this process: its rows go where its summary
    says, whatever a test's code sets (its own ``mark_counts`` follows the destination)."""
    plugin = sys.modules.get("pytest_braintrust.plugin")
    return bool(getattr(plugin, "braintrust_runs", None))


def set_aside() -> Processor | None:
    """For a run nested in another (pytest run in-process by a test of a ``--braintrust`` run):
    send what the outer run logged so far (its backend opens on its own store, if it had not
    yet) and set its processor aside, so that the nested run's rows go to the nested run's
    store through a processor of its own. ``bring_back`` ends the nested one."""
    global _processor
    flush()  # (while it is the current one: the rows the outer run's open spans hold go to it)
    with _lock:
        outer, _processor = _processor, None
    return outer


def bring_back(outer: Processor | None) -> None:
    """Close the nested run's processor (sending what it holds) and restore ``outer``'s."""
    global _processor
    with _lock:
        nested, _processor = _processor, outer
    if nested is not None:
        try:
            nested.close(timeout=None)
        except Exception as exc:  # (FlushError under BRAINTRUST_SYNC_FLUSH: counted in its summary)
            print(f"braintrust: flush at the end of a nested run failed: {exc}", file=sys.stderr)


def resolve_ref(ref: ObjectRef, timeout: float = 30.0) -> dict[str, str]:
    """Resolve an object's ids now, on the caller's thread (logs in if needed)."""
    if ref.ids:
        return ref.ids
    processor = get_processor()
    return processor._backend_instance().resolve(ref, Deadline(timeout))


def reset_for_tests() -> None:
    """Flush, then forget the processor, the backend, the login, the current objects and the span
    cache's state (tests switch between servers and stores within one process)."""
    global _processor, _announced
    from braintrust.tracing import api, context, span_cache, span_origin

    with _lock:
        if _processor is not None:
            try:
                _processor.close(timeout=5)  # also stops its sender thread
            except Exception as exc:  # (FlushError under BRAINTRUST_SYNC_FLUSH)
                print(f"braintrust: flush before reset failed: {exc}", file=sys.stderr)
        _processor = None
        _announced = False
    global_state().reset()
    span_origin.set_environment()
    context.set_global_logger(None)
    context.logger_var.set(None)
    context.set_global_experiment(None)
    api.forget_refs()
    span_cache.reset()


#: The exit-time flush is running, or has run. A SIGTERM meanwhile (``Pool.terminate()`` after a
#: worker's task loop ended, an impatient supervisor) waits for it: the flush ends by its deadline,
#: then the signal is delivered again, with its default action.
_exit_flush_running = False
_exit_flush_done = False
_sigterm_deferred = False
#: A SIGTERM has already unwound the main thread: another one means "stop now".
_sigterm_taken = False


def _flush_at_exit() -> None:
    global _exit_flush_running, _exit_flush_done
    if _processor is None:
        return
    _exit_flush_running = True
    try:
        _take_sigterm_during_exit_flush()
        _settle_deferred_writes(None)
        _processor.flush()
        # A thread may still be logging: a SIGTERM that lands in the main thread's Thread.join()
        # makes CPython (3.11) count the joined thread as ended and run the exit hooks while it
        # runs. What it logged during the flush was left queued, lost unsaid: spill it now.
        for _ in range(3):
            if not _processor.stats().pending:
                break
            _processor.flush(timeout=0)
    except KeyboardInterrupt:  # Ctrl-C while exiting: the rest is spilled (and reported) already
        print("braintrust: exit-time flush interrupted; the rows not delivered were spilled", file=sys.stderr)
    except Exception as exc:  # never turn a clean exit into a traceback
        print(f"braintrust: exit-time flush failed: {exc}", file=sys.stderr)
    finally:
        _exit_flush_running = False
        _exit_flush_done = True
        if _processor is not None:  # (an atexit handler registered before ours may log still)
            _processor.flush_each_write = True
        connections = sys.modules.get("braintrust.store.connection")
        if connections is not None:  # (the store's own exit hook may have run before this one)
            connections.close_all_pools()
        if _sigterm_deferred:
            _deliver_sigterm_now()


def _take_sigterm_during_exit_flush() -> None:
    """After a SIGTERM, SIGTERM's default action is back (a second one ends a process whose
    threads keep it from exiting); while the exit-time flush runs, our handler takes it again so
    that the rows still queued are spilled first."""
    if not _sigterm_taken or threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):
        pass


def _deliver_sigterm_now() -> None:
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
    except (ValueError, OSError):
        pass


def _on_sigterm(signum: int, frame: Any) -> None:
    # Unwind the main thread; atexit then flushes under the deadline. Under pytest a
    # KeyboardInterrupt ends the session cleanly (its own finish hooks flush).
    global _sigterm_deferred, _sigterm_taken
    sigterm_handler_ran()
    if _exit_flush_done:  # nothing left to flush: the default action (no traceback from an exit hook)
        _deliver_sigterm_now()
        return
    if _exit_flush_running and _sigterm_taken:
        # A second SIGTERM while the exit-time flush waits (a slow Braintrust): as a second
        # Ctrl-C, what is not delivered yet is spilled at once, then the signal takes effect.
        # Its default action here used to end the process mid-flush, every queued row lost unsaid.
        _sigterm_deferred = True
        interrupt_flushes()
        return
    if _exit_flush_running or _multiprocessing_child_exiting(frame):
        _sigterm_deferred = True  # (delivered again once the flush is over)
        return
    _sigterm_taken = True
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # (until the exit-time flush: see _flush_at_exit)
    _start_exit_watch()
    if policy.queue_full_wait_seconds > 0:
        raise KeyboardInterrupt("SIGTERM")
    raise SystemExit(128 + signal.SIGTERM)


#: How often the exit watch looks at the main thread and the exit-time flush.
EXIT_WATCH_POLL_SECONDS = 0.05


def _start_exit_watch() -> None:
    try:
        threading.Thread(target=_watch_exit_after_sigterm, name="braintrust-exit-watch", daemon=True).start()
    except RuntimeError:  # (no new thread at interpreter exit)
        pass


def _watch_exit_after_sigterm() -> None:
    """After a SIGTERM has unwound the main thread, make sure the process ends.

    Python runs ``atexit`` handlers, the exit-time flush among them, only once every non-daemon
    thread has ended: one that never does (a worker blocked on a queue) held a SIGTERMed process
    forever, where SIGTERM's default action ends it at once. Once the main thread is done, such
    threads get the flush deadline to end; then this thread flushes (under the deadline), spills
    what was logged meanwhile, and ends the process with SIGTERM's default action."""
    leave_signals_to_the_main_thread()
    main = threading.main_thread()
    while main.is_alive():
        if _exit_flush_running or _exit_flush_done:
            return
        time.sleep(EXIT_WATCH_POLL_SECONDS)
    grace_end = time.monotonic() + DeliverySettings.from_env().flush_timeout_seconds
    while time.monotonic() < grace_end:
        if _exit_flush_running or _exit_flush_done:
            return  # (the threads ended: the exit-time flush runs, then the process exits)
        time.sleep(EXIT_WATCH_POLL_SECONDS)
    processor = _processor
    if processor is not None and not (_exit_flush_running or _exit_flush_done):
        try:
            processor.flush()
            processor.flush(timeout=0)  # (rows the threads logged during that flush: spilled)
        except BaseException as exc:
            print(f"braintrust: flush after SIGTERM failed: {exc}", file=sys.stderr)
    print("braintrust: threads still running after SIGTERM kept the process from exiting; "
          "ending it", file=sys.stderr, flush=True)
    try:
        os.kill(os.getpid(), signal.SIGTERM)  # (its handler is the default action again)
        time.sleep(1.0)
    finally:
        os._exit(128 + signal.SIGTERM)


def _multiprocessing_child_exiting(frame: Any = None) -> bool:
    """A multiprocessing child has started its exit hooks (ours runs first among them): an
    exception raised now would skip the flush. ``frame``: where the signal interrupted the main
    thread. The hooks' runner marks the child as exiting only after its first steps, and a
    signal handled on one of them (3 in 500 runs of ``with Pool(...)`` here, whose
    ``terminate()`` races with its workers' exit) would otherwise skip them all."""
    if not _in_multiprocessing_child():
        return False
    util = getattr(sys.modules["multiprocessing"], "util", None)
    try:
        if getattr(util, "_exiting", False):
            return True
        runner = getattr(getattr(util, "_exit_function", None), "__code__", None)
        while frame is not None:
            if frame.f_code is runner:
                return True
            frame = frame.f_back
        return False
    except Exception:
        return False


def _install_sigterm_handler() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
        if signal.getsignal(signal.SIGTERM) is _on_sigterm and _in_multiprocessing_child():
            # Pool.terminate() SIGTERMs idle workers, which wait on a semaphore: a signal that
            # lands just before that wait would leave them hanging (see watch_sigterm_handler).
            watch_sigterm_handler()
    except (ValueError, OSError):
        pass


def _in_multiprocessing_child() -> bool:
    multiprocessing = sys.modules.get("multiprocessing")
    try:
        return multiprocessing is not None and multiprocessing.parent_process() is not None
    except Exception:
        return False
