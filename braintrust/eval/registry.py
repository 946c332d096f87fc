"""The hook ``braintrust eval`` uses: collect evaluators instead of running them, then run them.

    with registry.collecting():
        runpy.run_path("eval_foo.py")          # Eval(...) calls record, nothing runs
    for entry in registry.registered():
        result = registry.run_evaluator(entry.evaluator, filters=[("metadata.priority", re.compile("^P0$"))])
        reporter = registry.resolve_reporter(entry.reporter, registry.registered_reporters())
        report = reporter.report_eval(entry.evaluator, result, verbose, jsonl)

``Reporter(...)`` definitions made while collecting are recorded too (``registered_reporters()``),
so an evaluator's ``reporter="name"`` can be resolved.

``start_file(path)`` marks where one file's definitions begin, as 0.48.1 keeps one registry per
file: an evaluator name repeated *within* a file gets a suffix; a reporter name defined twice in
one file is a ``ValueError``; one an earlier file defined keeps the earlier file's (with a warning).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from typing import Iterator, Pattern

from braintrust.eval.evaluator import Evaluator
from braintrust.eval.reporters import ReporterDef, default_reporter
from braintrust.eval.results import EvalResultWithSummary

_lock = threading.Lock()
_depth = 0
_evaluators: list["RegisteredEvaluator"] = []
_reporters: dict[str, ReporterDef] = {}
#: Where each reporter was defined (a file given to ``start_file``, or None).
_reporter_files: dict[str, str | None] = {}
#: The current file: its name, the index of its first evaluator, and the reporters it defined.
_file: str | None = None
_file_start = 0
_file_reporters: set[str] = set()


@dataclasses.dataclass
class RegisteredEvaluator:
    evaluator: Evaluator
    #: A ``ReporterDef``, the name of one (``Reporter(name=...)``), or None for the default.
    reporter: ReporterDef | str | None = None


def is_collecting() -> bool:
    return _depth > 0


@contextlib.contextmanager
def collecting() -> Iterator[list[RegisteredEvaluator]]:
    """Within the block, ``Eval``/``EvalAsync`` record their evaluator (and return None) instead
    of running. Starts from an empty list; what was recorded stays readable via ``registered()``."""
    global _depth, _file, _file_start
    with _lock:
        if _depth == 0:
            _evaluators.clear()
            _reporters.clear()
            _reporter_files.clear()
            _file, _file_start = None, 0
            _file_reporters.clear()
        _depth += 1
    try:
        yield _evaluators
    finally:
        with _lock:
            _depth -= 1


def start_file(path: str) -> None:
    """The definitions recorded from now on come from the file ``path`` (see the module's doc)."""
    global _file, _file_start
    with _lock:
        _file, _file_start = path, len(_evaluators)
        _file_reporters.clear()


def discard_file() -> None:
    """Forget what the current file recorded (it failed to import), as 0.48.1 keeps nothing of
    such a file: its reporters in particular must not report the other files' evaluators."""
    with _lock:
        del _evaluators[_file_start:]
        for name in _file_reporters:
            if _reporter_files.get(name) == _file:
                _reporters.pop(name, None)
                _reporter_files.pop(name, None)
        _file_reporters.clear()


def record(evaluator: Evaluator, reporter: ReporterDef | str | None) -> None:
    """Record ``evaluator``; a name the current file already recorded gets ``_<number that file
    recorded so far>``, as 0.48.1's (another file's evaluator of that name does not count)."""
    with _lock:
        in_file = _evaluators[_file_start:]
        if any(entry.evaluator.eval_name == evaluator.eval_name for entry in in_file):
            evaluator.eval_name = f"{evaluator.eval_name}_{len(in_file)}"
        _evaluators.append(RegisteredEvaluator(evaluator, reporter))


def record_reporter(reporter: ReporterDef) -> None:
    """Record a reporter defined while collecting. Raises ``ValueError`` when the current file
    already defined one of that name (as 0.48.1's ``Reporter``); one an earlier file defined is
    kept, with a warning on stderr (what 0.48.1's ``braintrust eval`` means to do)."""
    if not is_collecting():
        return
    with _lock:
        if reporter.name in _file_reporters:
            raise ValueError(f"Reporter {reporter.name} already exists")
        _file_reporters.add(reporter.name)
        if reporter.name in _reporters:
            earlier = _reporter_files.get(reporter.name) or "an earlier file"
            here = _file or "this file"
            warning = (f"Reporter {reporter.name} already exists (in {earlier} and {here}). "
                       f"Will skip {reporter.name} in {here}.")
        else:
            _reporters[reporter.name] = reporter
            _reporter_files[reporter.name] = _file
            return
    from braintrust.eval.reporters import eprint

    eprint(f"braintrust eval: warning: {warning}")


def registered() -> list[RegisteredEvaluator]:
    with _lock:
        return list(_evaluators)


def registered_reporters() -> dict[str, ReporterDef]:
    with _lock:
        return dict(_reporters)


def resolve_reporter(reporter: ReporterDef | str | None, defined: dict[str, ReporterDef] | None = None) -> ReporterDef:
    """The ``ReporterDef`` for an evaluator's ``reporter``. None is the default reporter, or, given
    the reporters the run ``defined`` (``braintrust eval``, as 0.48.1's): the only one defined, and
    a ``ValueError`` when several are and the evaluator names none."""
    if reporter is None:
        if not defined:
            return default_reporter
        if len(defined) == 1:
            return next(iter(defined.values()))
        raise ValueError(f"Multiple reporters found ({', '.join(defined)}). Please specify a reporter explicitly.")
    if isinstance(reporter, ReporterDef):
        return reporter
    if isinstance(reporter, str):
        found = registered_reporters().get(reporter)
        if found is None:
            names = ", ".join(sorted(registered_reporters())) or "none defined"
            raise ValueError(f"Reporter {reporter!r} is not defined (defined: {names}).")
        return found
    if all(hasattr(reporter, a) for a in ("name", "report_eval", "report_run")):
        return ReporterDef(name=reporter.name, report_eval=reporter.report_eval, report_run=reporter.report_run)
    raise TypeError(f"reporter must be a ReporterDef or a reporter name, got {type(reporter).__name__}.")


def run_evaluator(
    evaluator: Evaluator,
    *,
    filters: list[tuple[str, Pattern[str]]] | None = None,
    no_send_logs: bool = False,
    num_workers: int | None = None,
    progress: bool = False,
    jsonl: bool = False,
) -> EvalResultWithSummary:
    """Run one evaluator now (from sync code; never inside a running event loop) and return its
    results; reporting is the caller's (``resolve_reporter(...).report_eval``). ``filters`` are
    ``(dotted_path, compiled_regex)`` pairs a case must all match; ``num_workers`` bounds the
    threads of sync tasks; ``progress`` draws a bar when stderr is a terminal. May raise
    ``EvalTimeoutError``, ``KeyboardInterrupt``, or the error that kept the experiment from being
    created."""
    from braintrust.eval.loop import run_sync
    from braintrust.eval.runner import run_evaluator_async
    from braintrust.eval.threads import BoundedThreadPool

    pool = BoundedThreadPool(num_workers) if num_workers else None
    try:
        return run_sync(run_evaluator_async(evaluator, no_send_logs=no_send_logs, filters=filters, progress=progress, pool=pool))
    finally:
        if pool is not None:
            pool.shutdown()


async def run_evaluator_async(
    evaluator: Evaluator,
    *,
    filters: list[tuple[str, Pattern[str]]] | None = None,
    no_send_logs: bool = False,
    num_workers: int | None = None,
    progress: bool = False,
    jsonl: bool = False,
) -> EvalResultWithSummary:
    """``run_evaluator`` for a caller that already runs an event loop."""
    from braintrust.eval.runner import run_evaluator_async as run
    from braintrust.eval.threads import BoundedThreadPool

    pool = BoundedThreadPool(num_workers) if num_workers else None
    try:
        return await run(evaluator, no_send_logs=no_send_logs, filters=filters, progress=progress, pool=pool)
    finally:
        if pool is not None:
            pool.shutdown()


__all__ = [
    "RegisteredEvaluator",
    "collecting",
    "discard_file",
    "is_collecting",
    "record",
    "record_reporter",
    "registered",
    "registered_reporters",
    "resolve_reporter",
    "run_evaluator",
    "start_file",
    "run_evaluator_async",
]
