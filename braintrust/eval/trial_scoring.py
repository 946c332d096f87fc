"""The scorers and classifiers of one evaluator, run on each trial's output (braintrust-api.md §10).

A span per scorer (``score``) and per classifier (``classifier``), opened as each starts, in list
order (0.48.1's: what a scorer reads of its trace holds the scorer spans started before its
read); each gets the scorer's arguments as input, and its output,
metadata and scores (classifications: on the root). A scorer that raises is recorded on its span
and in the case's ``metadata.scorer_errors``; its first failure is printed with the case's line,
later ones only counted (a broken judge would print one line per case) and reported at the end.
Two scorers giving a score of the same name are named once on stderr: each span keeps its own
value, and the case's result keeps the later scorer's.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import traceback
from typing import Any, Callable, Iterator

from braintrust.eval.cases import EvalCase
from braintrust.eval.reporters import eprint
from braintrust.eval.scorers import (
    classification_span_fields, match_arguments, resolve_scorer, scorer_callable, scorer_name, scorer_propagated_event, span_fields,
    to_classifications, to_scores,
)
from braintrust.eval.threads import SCORER_PRIORITY, BoundedThreadPool, run_in_pool
from braintrust.eval.trace import EvalTrace, TraceReader


def format_exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def log_error(span: Any, text: str) -> None:
    try:
        span.log(error=text)
    except Exception:  # pragma: no cover - logging an error string cannot fail validation
        pass


@contextlib.contextmanager
def recorded_on(span: Any, cancel_reason: Callable[[], str]) -> Iterator[None]:
    """Run the block with ``span`` current; a cancellation or an error is logged on it (and
    raised again), and the span ends either way. The task span and each scorer span use it."""
    span.set_current()
    try:
        yield
    except asyncio.CancelledError:
        log_error(span, f"Cancelled: {cancel_reason()}")
        raise
    except BaseException as exc:
        log_error(span, format_exception(exc))
        raise
    finally:
        span.unset_current()
        span.end()


class TrialScorers:
    """``run`` scores one trial's output; ``report_repeated_failures`` ends the evaluator.
    ``cancel_reason`` says why a cancelled scorer stopped (the run decides it)."""

    def __init__(self, scores: list[Any], classifiers: list[Any], pool: BoundedThreadPool, cancel_reason: Callable[[], str]):
        self.scorers = [resolve_scorer(s) for s in scores]
        self.scorer_names = [scorer_name(s, i) for i, s in enumerate(self.scorers)]
        self.classifiers = [resolve_scorer(c) for c in classifiers]
        self.classifier_names = [scorer_name(c, i) for i, c in enumerate(self.classifiers)]
        self.pool = pool
        self.cancel_reason = cancel_reason
        #: Per scorer (or classifier) that raised: the trials it raised in, and their cases' keys.
        self.failed_trials: dict[str, int] = {}
        self.failed_cases: dict[str, set[int]] = {}
        self.warned_duplicates: set[str] = set()

    async def run(self, root: Any, case: EvalCase, case_key: int, output: Any, metadata: dict[str, Any], tags: list[str], experiment: Any,
                  traces: TraceReader | None = None) -> tuple[dict[str, Any], list[str], dict[str, list[dict[str, Any]]] | None]:
        """Score one trial of ``case`` (``case_key``: the same for every trial of this case, unique in the run;
        ``traces``: the run's reader of its experiment's traces)."""
        scorer_input = {"input": case.input, "expected": case.expected, "metadata": metadata, "output": output, "id": case.id, "tags": tags or None}
        arguments = {**scorer_input, "trace": EvalTrace(root, experiment, traces)}
        # Each scorer's span starts when its job first runs (in list order), as in 0.48.1: an async
        # scorer that reads the trace before it awaits anything sees the spans started before its own.
        propagated = scorer_propagated_event(root)

        def opener(name: str, kind: str) -> Callable[[], Any]:
            return lambda: root.start_span(name=name, span_attributes={"type": kind, "purpose": "scorer"},
                                           propagated_event=propagated, input=scorer_input)

        jobs = [asyncio.ensure_future(self._run_one(opener(name, "score"), scorer, name, arguments, to_scores))
                for scorer, name in zip(self.scorers, self.scorer_names)]
        jobs += [asyncio.ensure_future(self._run_one(opener(name, "classifier"), c, name, arguments, to_classifications))
                 for c, name in zip(self.classifiers, self.classifier_names)]
        outcomes = await asyncio.gather(*jobs, return_exceptions=True)
        scores: dict[str, Any] = {}
        given_by: dict[str, str] = {}
        failures: list[tuple[str, BaseException]] = []
        for name, outcome in zip(self.scorer_names, outcomes[: len(self.scorers)]):
            if isinstance(outcome, BaseException):
                failures.append((name, outcome))
            else:
                for score in outcome:
                    if score.name in scores:
                        self._warn_duplicate(score.name, given_by[score.name], name)
                    scores[score.name] = score.score
                    given_by[score.name] = name
        classifications: dict[str, list[dict[str, Any]]] | None = None
        classifier_failures: list[tuple[str, BaseException]] = []
        for name, outcome in zip(self.classifier_names, outcomes[len(self.scorers):]):
            if isinstance(outcome, BaseException):
                classifier_failures.append((name, outcome))
                continue
            for classification in outcome or ():
                classifications = classifications or {}
                classifications.setdefault(classification.name, []).append(classification.as_item())
        if classifications:
            root.log(classifications=classifications)
        self._record_failures(root, case_key, metadata, "scorer", failures)
        self._record_failures(root, case_key, metadata, "classifier", classifier_failures)
        return scores, [name for name, _ in failures], classifications

    def _warn_duplicate(self, score_name: str, first: str, second: str) -> None:
        if score_name in self.warned_duplicates:
            return
        self.warned_duplicates.add(score_name)
        eprint(f"braintrust: scorers {first!r} and {second!r} both give a score named "
               f"{score_name!r}: each scorer's span records its own, but a case's result keeps only {second!r}'s. "
               "Give the scores distinct names (a scorer's name is its __name__, or its _name()).")

    def _record_failures(self, root: Any, case_key: int, metadata: dict[str, Any], kind: str, failures: list[tuple[str, BaseException]]) -> None:
        """``metadata.<kind>_errors`` on the case; the first failure of each printed, as the public SDK does."""
        if not failures:
            return
        errors = {name: format_exception(exc) for name, exc in failures}
        metadata[f"{kind}_errors"] = errors
        root.log(metadata={f"{kind}_errors": errors})
        if self._first_failure_of_any(kind, errors, case_key):
            eprint(f"Found exceptions for the following {kind}s: {', '.join(errors)}", [exc for _, exc in failures])

    def _first_failure_of_any(self, kind: str, names: dict[str, str], case_key: int) -> bool:
        """Count a trial's failing scorers (or classifiers); true if one of them fails for the first time."""
        first = False
        for name in names:
            key = f"{kind} {name!r}"
            first = first or key not in self.failed_trials
            self.failed_trials[key] = self.failed_trials.get(key, 0) + 1
            self.failed_cases.setdefault(key, set()).add(case_key)
        return first

    def report_repeated_failures(self, eval_name: str, cases: int, trials: int) -> None:
        """One line per scorer that failed more than once: in how many of the ``cases`` (and, when
        cases have several trials, of the ``trials``)."""
        for what, failed_trials in self.failed_trials.items():
            if failed_trials > 1:
                where = f"{len(self.failed_cases[what])} of {_counted(cases, 'case')}"
                if trials != cases:
                    where += f" ({failed_trials} of {_counted(trials, 'trial')})"
                eprint(f"braintrust: {what} of evaluator {eval_name} failed in {where} "
                       "(the first error is above; each case's metadata has its own); its score is missing from them")

    async def _run_one(self, open_span: Callable[[], Any], scorer: Any, name: str, arguments: dict[str, Any],
                       convert: Callable[[str, Any], Any]) -> Any:
        span = open_span()
        with recorded_on(span, self.cancel_reason):
            fn, is_async = scorer_callable(scorer)
            positional, keyword = match_arguments(fn, arguments)
            if is_async:
                result = await fn(*positional, **keyword)
            else:
                result = await run_in_pool(self.pool, call_sync_scorer, fn, positional, keyword, priority=SCORER_PRIORITY)
            if inspect.isawaitable(result):
                result = await result
            converted = convert(name, result)
            if convert is to_scores:
                span.log(**span_fields(converted))
            elif converted is not None:  # classifications (None: the classifier gave none, its span logs nothing)
                span.log(**classification_span_fields(converted))
            return converted


def call_sync_scorer(fn: Callable, positional: list[Any], keyword: dict[str, Any]) -> Any:
    """Call a sync scorer (on the pool's thread). A generator it returns is read there too: its
    body is the scorer's work, which must not run on the event loop. (``run_in_pool`` turns a
    ``StopIteration`` it raises into a ``RuntimeError``.)"""
    result = fn(*positional, **keyword)
    return list(result) if inspect.isgenerator(result) else result


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
