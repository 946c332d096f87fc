"""Running a case's declared scorers with ``Eval``'s calling convention.

Each scorer gets its own span under the case's root (type ``score``, purpose ``scorer``), as in
``Eval``, current while the scorer runs. A scorer that raises or returns something invalid is
recorded as that scorer's error (``metadata.scorer_errors`` on the root); it never changes the
test's outcome. A scorer with a ``trace`` parameter gets the case's trace, as ``Eval``'s do.

While the run is logged, a score span's scores are held until the case settles: when the test
is run again (pytest-rerunfailures' ``--reruns``), the attempt it superseded must not count.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import inspect
import threading
import time
import traceback
import warnings
from typing import Any

import pytest

from braintrust.eval.scorers import (
    match_arguments, resolve_scorer, scorer_callable, scorer_name, scorer_propagated_event, span_fields, to_scores,
)
from braintrust.forks import at_fork
from pytest_braintrust.case import OUTCOME_SCORE


def _call(fn: Any, is_async: bool, args: list[Any], kwargs: dict[str, Any]) -> Any:
    if not is_async:
        result = fn(*args, **kwargs)
        # (not asyncio.iscoroutine: before Python 3.12 it is true of a generator, a scorer's
        # list of scores, which ``to_scores`` reads as ``Eval`` does)
        if not inspect.isawaitable(result):
            return result
        coroutine = result if inspect.iscoroutine(result) else _awaited(result)
    else:
        coroutine = fn(*args, **kwargs)
    return _SCORER_LOOP.run(coroutine)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


class _ScorerLoop:
    """The one event loop, on a daemon thread, that runs every async scorer the plugin calls in
    this process, as ``Eval`` runs a whole run's scorers on one loop. A client a scorer keeps
    between calls (autoevals' ``init(client=AsyncOpenAI())``, as the README advises) holds
    keep-alive connections tied to the loop that opened them: with a loop per call, the next
    scorer's request fails with "Event loop is closed". The caller's context goes with the
    coroutine (the score span stays current), and the caller waits for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._thread is None or not self._thread.is_alive():
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=loop.run_forever, name="braintrust-scorers", daemon=True)
                self._thread.start()
                self._loop = loop
            return self._loop

    def run(self, coroutine: Any) -> Any:
        loop = self._started()
        if threading.current_thread() is self._thread:
            # A scorer running here called run_scorers: it cannot wait on its own loop.
            return _run_on_helper_thread(coroutine)
        context = contextvars.copy_context()
        done: concurrent.futures.Future = concurrent.futures.Future()
        tasks: list[asyncio.Task] = []

        async def settle() -> None:
            try:
                done.set_result(await coroutine)
            except BaseException as exc:  # (SystemExit too: raised out of a task, it would stop this loop)
                done.set_exception(exc)

        # (the task runs in a copy of the caller's context)
        loop.call_soon_threadsafe(lambda: tasks.append(context.run(loop.create_task, settle())))
        try:
            return done.result()
        except BaseException:
            if not done.done():  # interrupted while waiting (Ctrl-C): stop the scorer too
                loop.call_soon_threadsafe(lambda: [task.cancel() for task in tasks])
            raise


def _run_on_helper_thread(coroutine: Any) -> Any:
    """Run ``coroutine`` on a fresh loop on a helper thread, the caller's context included."""
    box: dict[str, Any] = {}
    context = contextvars.copy_context()

    def runner() -> None:
        try:
            box["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=context.run, args=(runner,), name="braintrust-scorer")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


_SCORER_LOOP = _ScorerLoop()
# (a forked child has no such thread, and the lock may have been held at the fork)
at_fork(after_in_child=_SCORER_LOOP.__init__)


#: Stands for the ``trace`` argument in ``match_arguments``' answer until a scorer takes it.
_TRACE = object()


def _with_trace(case: Any, fn: Any, args: list[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """The arguments with the ``trace`` argument ``Eval`` gives a scorer: the case's trace, read
    back from its experiment (``trace.get_spans()``); None when the run is not logged. Made only
    for a scorer with a parameter for it: the trace needs the experiment's id, a login that may
    be failing (each try waits through its retries), and a scorer taking ``**kwargs`` (autoevals')
    would wait for it without using it, so there it is None."""
    def taken(name: str, value: Any) -> bool:
        return value is _TRACE and (name != "trace" or _has_trace_parameter(fn))

    if not any(arg is _TRACE for arg in args) and not any(taken(k, v) for k, v in kwargs.items()):
        return args, {k: None if v is _TRACE else v for k, v in kwargs.items()}  # (`is`: an output's == may raise)
    from braintrust.eval.trace import EvalTrace
    from braintrust.tracing import context

    experiment = context.experiment_var.get()
    trace = None if experiment is None else EvalTrace(case.span, experiment)
    return [trace if arg is _TRACE else arg for arg in args], {k: trace if v is _TRACE else v for k, v in kwargs.items()}


def _has_trace_parameter(fn: Any) -> bool:
    try:
        parameter = inspect.signature(fn).parameters.get("trace")
    except (TypeError, ValueError):
        return False
    return parameter is not None and parameter.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


#: The clock as imported: the plugin's own end times read it while a test's mock of ``time.time``
#: (pytest-mock's) is still active, so they neither use up the mock's values nor raise with it.
wall_clock = time.time

#: What a scorer may raise and still only fail itself: any error, and what a test would fail
#: with rather than stop the run (``pytest.fail``/``skip``/``xfail`` in a shared helper, ``sys.exit``).
_SCORER_FAILURES = (Exception, SystemExit, pytest.fail.Exception, pytest.skip.Exception, pytest.xfail.Exception)


class ScoreNameWarning(UserWarning):
    """Two givers (scorers, or a scorer and the test's own ``check``/``score``) logged a score
    of the same name on one case."""


def _score_givers(case: Any) -> dict[str, str]:
    """Who gave each score the case has so far: the test (``check``/``score``/``log``) or a
    scorer whose scores are held (a scorer about to run again was superseded already)."""
    givers = {str(score): "the test (braintrust_case.check/score/log)" for score in case.scores}
    for scorer, _, held, _ in case.held_score_spans:
        givers.update({score: f"scorer {scorer!r}" for score in held})
    return givers


def _warn_given_twice(scores: list[Any], name: str, given_by: dict[str, str], caller: Any) -> None:
    """As in ``Eval`` (0.48.1's too), both scores are kept (each giver's span has its own) and
    the scorers' return value keeps the last; as our ``Eval`` does, the user is told, since the
    experiment's average of that score then mixes the two. Under an ``error`` warnings filter
    this scorer fails, naming the problem (raised in pytest's report hook, the warning would
    break the run)."""
    for score in scores:
        first = given_by.get(score.name)
        if first is None or first == f"scorer {name!r}":
            continue
        message = (f"score {score.name!r} is given by both {first} and scorer {name!r}: each is logged (on its own "
                   f"span), and the experiment's {score.name!r} average mixes the two; give the scores distinct names "
                   "(a scorer's scores are named by its __name__ or Score(name=...)).")
        try:
            if isinstance(caller, dict) and caller.get("caller_filename"):  # (told at the test, not in the plugin)
                warnings.warn_explicit(ScoreNameWarning(message), ScoreNameWarning, caller["caller_filename"],
                                       caller.get("caller_lineno") or 0)
            else:
                warnings.warn(ScoreNameWarning(message), stacklevel=4)
        except ScoreNameWarning:
            raise ValueError(message) from None  # (recorded as this scorer's error)


def run_scorers(case: Any, scorers: list[Any]) -> dict[str, float | None]:
    """Score ``case.output`` with each scorer; log score spans; return the scores. A scorer run
    again in the same attempt (``run_scorers`` called twice) counts once: its last run."""
    results: dict[str, float | None] = {}
    case.supersede_scorers({scorer_name(raw, index) for index, raw in enumerate(scorers)})
    available = {
        "input": case.input,
        "expected": case.expected,
        "metadata": case.metadata,
        "output": case.output,
        "id": case.id,
        "tags": case.tags or None,  # (as Eval gives them: None, not [], for a case without tags)
    }
    given_by = _score_givers(case)
    for index, raw in enumerate(scorers):
        name = scorer_name(raw, index)
        try:
            span = case.span.start_span(
                name=name,
                span_attributes={"type": "score", "purpose": "scorer"},
                propagated_event=scorer_propagated_event(case.span),
                input={k: available[k] for k in ("input", "expected", "metadata", "output", "id", "tags")},
            )
        except Exception as exc:  # (e.g. the test's mock of time.time, still active here, ran out)
            case.scorer_errors[name] = (
                f"the scorer did not run: starting its score span failed ({type(exc).__name__}: {exc}). Scorers run "
                "before the test's fixtures are torn down, so a mock the test set (of time.time, say) is still active.\n"
                + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            )
            continue
        span.set_current()  # spans the scorer starts (an LLM judge's calls) nest under its span
        try:
            scorer = resolve_scorer(raw)
            fn, is_async = scorer_callable(scorer)
            args, kwargs = _with_trace(case, fn, *match_arguments(fn, {**available, "trace": _TRACE}))
            scores = to_scores(name, _call(fn, is_async, args, kwargs))
            if any(score.name == OUTCOME_SCORE for score in scores):
                raise ValueError(f"scorer {name!r} returned a score named {OUTCOME_SCORE!r}, which is the test's outcome "
                                 "(1 passed, 0 failed) in the plugin; give the score another name.")
            _warn_given_twice(scores, name, given_by, getattr(case.span, "caller", None))
        except _SCORER_FAILURES as exc:
            case.scorer_errors[name] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            span.log_error(type(exc), exc, exc.__traceback__)
            span.end(wall_clock())
            continue
        finally:
            span.unset_current()
        fields = span_fields(scores)
        held = fields.pop("scores") if case.hold_scores else None
        span.log(**fields)
        if held is None:
            span.end(wall_clock())
        else:  # ended when the case settles (see BraintrustCase.settle_scores)
            case.held_score_spans.append((name, span, held, wall_clock()))
        for score in scores:
            value = score.score
            results[score.name] = (1 if value else 0) if isinstance(value, bool) else value
            given_by[score.name] = f"scorer {name!r}"
    case.scorer_scores.update(results)
    return results
