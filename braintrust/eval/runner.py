"""The engine behind ``Eval``: runs every (case, trial) of an evaluator and summarizes.

Per trial (braintrust-api.md §10): a root span ``eval`` (first write: input, expected, tags,
origin), a child ``task`` span around the task, one child span per scorer (input = the scorer's
arguments without ``trace``; output, metadata and **scores on the score span**), then the root
receives output, metadata, tags and its end. Task and scorer exceptions are recorded on their
spans and in the results; they never stop the run.

Concurrency: each trial is an asyncio task (bounded by ``max_concurrency``); sync tasks and
scorers run on a bounded pool of daemon threads; the SDK's own blocking calls run on helper
threads, so the engine is safe inside someone else's running loop. ``timeout``, ``cancel_event``
and Ctrl-C cancel what is still running (logged on those spans as an error), flush what
finished and then raise.
"""

from __future__ import annotations

import asyncio
import inspect
import operator
import reprlib
import threading
import time
import uuid
from typing import Any, Awaitable, Callable, Pattern

from braintrust.eval.cases import BaseExperiment, EvalCase, case_matches, is_dataset, resolve_data
from braintrust.eval.evaluator import Evaluator
from braintrust.eval.hooks import DictEvalHooks
from braintrust.eval.loop import CANCEL_GRACE_SECONDS
from braintrust.eval.progress import ProgressBar
from braintrust.eval.reporters import END, YELLOW, eprint
from braintrust.eval.results import EvalResult, EvalResultWithSummary, EvalTimeoutError
from braintrust.eval.scorers import is_async_callable
from braintrust.eval.threads import BoundedThreadPool, run_blocking, run_in_pool, shared_pool
from braintrust.eval.trace import TraceReader
from braintrust.eval.trial_scoring import TrialScorers, format_exception, log_error, recorded_on
from braintrust.parameters.remote import saved_parameters_ref
from braintrust.parameters.values import resolve_parameters
from braintrust.tracing import span_cache

#: Trials in flight at once (or ``max_concurrency`` when that is larger).
IN_FLIGHT_TRIALS = 256

#: A task that returns an async generator fails its case with 0.48.1's error (these first words),
#: rather than logging the unstarted generator's repr as its output.
_ASYNC_GENERATOR_TASK = (
    "object async_generator can't be used in 'await' expression: the task {name!r} returned an async "
    "generator (an `async def` with `yield`); return the output instead (e.g. `return [x async for x in ...]`)"
)

#: Why a trial was "cancelled" while the run was not stopping: a task or scorer raised it itself.
NOT_CANCELLED = "CancelledError raised by the task or a scorer itself (the eval was not cancelled)"


class _Run:
    def __init__(self, evaluator: Evaluator, *, no_send_logs: bool, filters: list[tuple[str, Pattern[str]]] | None, progress: bool, pool: BoundedThreadPool | None, announce: bool, experiment: Any = None):
        self.ev = evaluator
        self.no_send_logs = no_send_logs or evaluator.no_send_logs
        self.given_experiment = experiment  # (run_evaluator's: log to it rather than start one)
        self.filters = list(filters or [])
        self.progress = progress
        self.pool = pool or shared_pool()
        self.announce = announce
        self.experiment: Any = None
        self.traces: TraceReader | None = None  # (what scorers' get_spans read, shared by the run's trials)
        self.recorded = False  # some span went somewhere (needs a flush)
        self.cancel_reason = NOT_CANCELLED
        #: What ``hooks.cancel_event`` is: the one given to Eval, else one set here on a timeout or an interrupt.
        self.cancel_signal = evaluator.cancel_event if evaluator.cancel_event is not None else threading.Event()
        self.parameters = resolve_parameters(evaluator.parameters, evaluator.parameter_values)
        self.scoring = TrialScorers(evaluator.scores, evaluator.classifiers, self.pool, lambda: self.cancel_reason)
        self.task_takes_hooks = _parameter_count(evaluator.task) == 2
        self.task_is_async = is_async_callable(evaluator.task)
        self.started = time.monotonic()
        self.trials_started = 0  # (past the max_concurrency semaphore)

    # -- the whole evaluator --------------------------------------------------------------------

    async def execute(self) -> EvalResultWithSummary:
        ev = self.ev
        data = ev.data
        records_experiment = not self.no_send_logs and ev.parent is None
        from_experiment = isinstance(data, BaseExperiment)  # (its cases are read through the new experiment)
        if from_experiment and not records_experiment:
            raise ValueError("data=BaseExperiment() needs an experiment to compare with; it cannot be used with no_send_logs=True or parent=.")
        # The cases first: data that cannot be read (a wrong type, a function or dataset fetch
        # that raises) leaves no empty experiment behind to become the next baseline.
        cases = None if from_experiment else await self._read_cases(data)
        if records_experiment:
            from braintrust.delivery.runtime import take_sigterm

            take_sigterm()  # (``init`` runs on a worker thread, where it cannot install it)
            self.experiment = await run_blocking(lambda: self._init_experiment(data))
            self.traces = TraceReader(self.experiment)
            self.recorded = True
            if self.announce:
                eprint(self._running_message())
        elif self.given_experiment is not None:
            self.experiment = self.given_experiment
            self.traces = TraceReader(self.experiment)
            self.recorded = True
        if cases is None:
            cases = await self._read_cases(await run_blocking(lambda: self._base_experiment_cases(data)))
        if self.filters:
            cases = [c for c in cases if case_matches(c, self.filters)]
        if not any(_trial_count(case, ev.trial_count) for case in cases):  # (no trial to run, as 0.48.1 counts)
            eprint(f"{YELLOW}Warning: no data rows found for evaluator '{ev.eval_name}'. The experiment will be empty.{END}")
        if ev.on_start is not None and self.experiment is not None:  # (no experiment, no start: as in 0.48.1)
            start_summary = await self._start_summary()
            await _maybe_await(ev.on_start(start_summary))
        # (0.48.1's span cache: scorers read their trial's spans from memory; tracing.span_cache)
        with span_cache.running(ev.enable_cache and self.experiment is not None):
            results = await self._run_trials(cases)
        self.scoring.report_repeated_failures(ev.eval_name, cases=len(cases), trials=len(results))
        await self._flush()
        summary = await self._summarize(results)
        return EvalResultWithSummary(summary=summary, results=results)

    async def _read_cases(self, data: Any) -> list[EvalCase]:
        read: list[EvalCase] = []
        try:
            cases, _ = await self._with_timeout(resolve_data(data, run_blocking, read), lambda: _unread_message(len(read)))
        except Exception as exc:
            if hasattr(exc, "add_note") and not isinstance(exc, EvalTimeoutError):  # (Python 3.11+)
                read_so_far = "1 case" if len(read) == 1 else f"{len(read)} cases"
                exc.add_note(f"(raised reading the data of evaluator {self.ev.eval_name}, after {read_so_far}: no trial ran)")
            raise
        return cases

    def _init_experiment(self, data: Any) -> Any:
        from braintrust.delivery.runtime import resolve_ref
        from braintrust.objects.experiment import init

        ev = self.ev
        base_experiment = ev.base_experiment_name
        if base_experiment is None and ev.base_experiment_id is None and isinstance(data, BaseExperiment):
            base_experiment = data.name  # re-running another experiment's cases: compare with it
        experiment = init(
            project=ev.project_name,
            experiment=ev.experiment_name,
            description=ev.description,
            dataset=data if is_dataset(data) else None,
            base_experiment=base_experiment,
            is_public=ev.is_public,
            metadata=ev.metadata,
            git_metadata_settings=ev.git_metadata_settings,
            set_current=False,
            update=ev.update,
            project_id=ev.project_id,
            base_experiment_id=ev.base_experiment_id,
            repo_info=ev.repo_info,
            tags=ev.tags,
            parameters=saved_parameters_ref(ev.parameters),
        )
        resolve_ref(experiment.ref)
        return experiment

    def _running_message(self) -> str:
        from braintrust.state import global_state

        experiment = self.experiment
        name = experiment.ref.info.get("experiment_name") or self.ev.experiment_name or ""
        project = experiment.ref.info.get("project_name") or self.ev.project_name
        if global_state().is_local():
            from braintrust.objects.reads import show_arguments
            from braintrust.store.location import database_path

            command = f"braintrust show{show_arguments(project, name)}"
            return f"Experiment {name} is running in the local store at {database_path()} (see it with `{command}`)"
        from urllib.parse import quote

        state = global_state()
        url = f"{state.app_public_url()}/app/{quote(state.org_name or '')}/p/{quote(project)}/experiments/{quote(name)}"
        return f"Experiment {name} is running at {url}"

    def _base_experiment_cases(self, base: BaseExperiment) -> list[dict[str, Any]]:
        from braintrust.objects.experiment import init

        name = base.name
        if name is None:
            found = self.experiment.fetch_base_experiment()
            if found is None or found.name is None:
                raise ValueError(
                    "BaseExperiment() found no base experiment for this experiment (the project has no earlier "
                    "experiment); pass BaseExperiment(name=...) or base_experiment_name=."
                )
            name = found.name
        project_name = self.experiment.ref.info.get("project_name") or self.ev.project_name
        readonly = init(project=project_name, experiment=name, open=True)
        return list(readonly.as_dataset())

    async def _start_summary(self) -> Any:
        if self.experiment is not None:
            experiment = self.experiment
            return await run_blocking(lambda: experiment.summarize(summarize_scores=False))
        return self._local_summary([])

    async def _with_timeout(self, awaitable: Awaitable[Any], describe: Callable[[], str]) -> Any:
        """``awaitable``'s result, or ``EvalTimeoutError`` (saying ``describe()``) once the timeout expires."""
        remaining = self._remaining()
        if remaining is None:
            return await awaitable
        try:
            return await asyncio.wait_for(awaitable, max(remaining, 0.001))
        except asyncio.TimeoutError:
            await self._flush()
            raise EvalTimeoutError(
                f"Evaluator timed out: {self.ev.eval_name} exceeded timeout={self.ev.timeout}s {describe()}",
                [], eval_name=self.ev.eval_name, experiment=self.experiment,
            ) from None

    def _remaining(self) -> float | None:
        if self.ev.timeout is None:
            return None
        return self.ev.timeout - (time.monotonic() - self.started)

    # -- trials ---------------------------------------------------------------------------------

    async def _run_trials(self, cases: list[EvalCase]) -> list[EvalResult]:
        ev = self.ev
        units = [(case, trial) for case in cases for trial in range(_trial_count(case, ev.trial_count))]
        loop = asyncio.get_running_loop()
        semaphore = asyncio.Semaphore(ev.max_concurrency) if ev.max_concurrency else None
        bar = ProgressBar(ev.eval_name, len(units), enabled=self.progress)
        all_done: asyncio.Future = loop.create_future()
        left = len(units)

        # Only running trials keep their task; a finished one leaves its result in ``results``
        # (a task per case kept to the end would grow memory with the number of cases).
        results: list[EvalResult | None] = [None] * len(units)
        running: dict[int, asyncio.Task] = {}
        finished_before_stop: list[int] = []
        launched = 0
        stopping = False

        def launch() -> None:
            # Trials start as earlier ones finish, at most IN_FLIGHT_TRIALS at a time: memory
            # (and garbage-collection time) stays flat in the number of cases.
            nonlocal launched
            if stopping or launched >= len(units):
                return
            index = launched
            case, trial = units[index]
            launched += 1
            # (index - trial: the index of the case's first trial, a key shared by its trials only)
            task = asyncio.ensure_future(self._run_unit(case, index - trial, trial, semaphore))
            running[index] = task
            task.add_done_callback(lambda done_task, i=index: on_done(i, done_task))

        def on_done(index: int, task: asyncio.Task) -> None:
            nonlocal left
            running.pop(index, None)
            case, trial = units[index]
            try:
                results[index] = self._result_of(task, case, trial)
            finally:  # (an error here must not leave the run waiting for this trial forever)
                if not stopping:
                    finished_before_stop.append(index)
                left -= 1
                bar.update()
                if left == 0 and not all_done.done():
                    all_done.set_result(None)
                if not stopping:
                    launch()

        try:
            for _ in range(min(max(IN_FLIGHT_TRIALS, ev.max_concurrency or 0), len(units))):
                launch()
            if not launched:
                all_done.set_result(None)
            watcher = asyncio.ensure_future(_wait_for_event(ev.cancel_event)) if ev.cancel_event is not None else None
            try:
                waiting = {all_done} | ({watcher} if watcher else set())
                done, _ = await asyncio.wait(waiting, timeout=self._remaining(), return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                # Ctrl-C (or the caller cancelled us): record the cancellation on what is still running,
                # flush what finished, then let the cancellation continue.
                bar.close()
                if self.cancel_reason == NOT_CANCELLED:
                    self.cancel_reason = "the eval was interrupted before this case finished"
                stopping = True
                self._signal_cancel()
                await self._cancel(list(running.values()))
                await self._flush()
                cancelled, never_started = self._stop_counts(len(finished_before_stop), len(units))
                eprint(
                    f"braintrust: evaluator {ev.eval_name} was interrupted: {len(finished_before_stop)} of {len(units)} trials had finished "
                    f"(their rows were flushed); {cancelled} cancelled while running (logged with an error) "
                    f"and {never_started} never started."
                )
                raise
            finally:
                if watcher is not None:
                    watcher.cancel()
            bar.close()
            if all_done not in done:
                timed_out = watcher is None or watcher not in done
                if timed_out:
                    self.cancel_reason = f"Evaluator timed out (timeout={ev.timeout}s) before this case finished"
                else:
                    self.cancel_reason = "the eval's cancel_event was set before this case finished"
                stopping = True
                self._signal_cancel()
                await self._cancel(list(running.values()))
                finished = [results[i] for i in sorted(finished_before_stop)]
                await self._flush()
                if not timed_out:
                    raise asyncio.CancelledError("cancel_event was set")
                cancelled, never_started = self._stop_counts(len(finished), len(units))
                raise EvalTimeoutError(
                    f"Evaluator timed out: {ev.eval_name} exceeded timeout={ev.timeout}s; {len(finished)} of {len(units)} "
                    f"trials finished (their rows were flushed), {cancelled} cancelled while running (logged with an error), "
                    f"{never_started} never started.",
                    finished, eval_name=ev.eval_name, cancelled=cancelled, experiment=self.experiment,
                )
            return [result for result in results if result is not None]
        finally:
            # launch and on_done refer to each other (through their closures): a cycle that would
            # keep every case and result alive until a full collection once this returns.
            stopping = True  # (a trial that finishes late launches no other)
            launch = None
            bar.close()  # (however this ends: the terminal's streams are put back)

    async def _cancel(self, tasks: list[asyncio.Task]) -> set[asyncio.Task]:
        pending = {t for t in tasks if not t.done()}
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=CANCEL_GRACE_SECONDS)
        return pending

    def _stop_counts(self, finished: int, total: int) -> tuple[int, int]:
        """(trials cancelled while running, trials that never started) of a run stopped early
        (a trial waiting for a ``max_concurrency`` slot never started)."""
        never_started = total - self.trials_started
        return total - finished - never_started, never_started

    def _signal_cancel(self) -> None:
        """Tell tasks that check ``hooks.cancel_event`` to stop (the caller's own event is theirs to set)."""
        if self.cancel_signal is not self.ev.cancel_event:
            self.cancel_signal.set()

    def _result_of(self, task: asyncio.Task, case: EvalCase, trial: int) -> EvalResult:
        if task.cancelled():
            exc: BaseException = asyncio.CancelledError(self.cancel_reason)
        else:
            exc = task.exception()  # type: ignore[assignment]
            if exc is None:
                return task.result()
        # Only an error in the engine itself gets here; the trial's rows say what happened.
        metadata, tags, _ = _case_fields(case)
        return _with_trial(EvalResult(input=case.input, output=None, scores={}, expected=case.expected, metadata=metadata,
                          tags=tags or None, error=exc, exc_info=format_exception(exc), origin=case.origin), trial)

    async def _run_unit(self, case: EvalCase, case_key: int, trial: int, semaphore: asyncio.Semaphore | None) -> EvalResult:
        if semaphore is None:
            return await self._trial(case, case_key, trial)
        async with semaphore:
            return await self._trial(case, case_key, trial)

    def _start_root(self, case: EvalCase, trial: int, tags: list[str] | None) -> tuple[Any, BaseException | None]:
        from braintrust.tracing.api import start_span

        event: dict[str, Any] = {"input": case.input, "expected": case.expected, "tags": tags}
        if case.origin:
            event["origin"] = case.origin
        if case.upsert_id:
            event["id"] = case.upsert_id if trial == 0 else str(uuid.uuid5(uuid.NAMESPACE_URL, f"braintrust:eval:{case.upsert_id}:trial:{trial}"))

        def start(fields: dict[str, Any]) -> Any:
            if self.experiment is not None:
                return self.experiment.start_span(name="eval", span_attributes={"type": "eval"}, **fields)
            parent = self.ev.parent
            if parent is not None and not isinstance(parent, (str, dict)):
                return parent.start_span(name="eval", span_attributes={"type": "eval"}, **fields)
            return start_span(name="eval", span_attributes={"type": "eval"}, parent=parent, **fields)

        with span_cache.trial_root():
            try:
                return start(event), None
            except ValueError as exc:  # e.g. tags that are not unique strings: keep the trial, report it
                return start({k: event[k] for k in ("input", "expected", "id") if k in event}), exc

    async def _trial(self, case: EvalCase, case_key: int, trial: int) -> EvalResult:
        from braintrust.tracing.span import NOOP_SPAN

        ev = self.ev
        self.trials_started += 1
        metadata, tags, case_error = _case_fields(case)
        output: Any = None
        error: BaseException | None = None
        exc_info: str | None = None
        scores: dict[str, Any] = {}
        classifications: dict[str, list[dict[str, Any]]] | None = None
        failing: list[str] = []
        # (tags=[] is sent as [], as 0.48.1 sends the case's tags as given)
        root, root_error = self._start_root(case, trial, list(tags) if case.tags is not None and case_error is None else None)
        root_error = case_error or root_error
        if root is not NOOP_SPAN:
            self.recorded = True
        root.set_current()
        try:
            hooks = DictEvalHooks(
                metadata, expected=case.expected, trial_index=trial, tags=tags, parameters=self.parameters,
                report_progress=lambda event: self._stream(root, case, event), cancel_event=self.cancel_signal,
            )
            try:
                if root_error is not None:
                    raise root_error
                output = await self._run_task(root, case, hooks)
                tags = hooks.tags  # (the task may have replaced the list: hooks["tags"] = [...])
                root.log(output=output, metadata=metadata, tags=tags or None)
                scores, failing, classifications = await self.scoring.run(root, case, case_key, output, metadata, tags, self.experiment, self.traces)
            except asyncio.CancelledError:
                log_error(root, f"Cancelled: {self.cancel_reason}")
                raise
            except Exception as exc:
                error, exc_info = exc, format_exception(exc)
                log_error(root, exc_info)
                tags = hooks.tags  # (what the task added before it failed)
                try:
                    root.log(tags=tags or None)
                except Exception:
                    pass
            except BaseException as exc:  # (SystemExit, a BaseException subclass...: the trial's row says so too)
                log_error(root, format_exception(exc))
                raise
            unhandled = list(self.scoring.scorer_names) if error is not None else failing
            if ev.error_score_handler is not None and unhandled:  # (no scorer left unscored: not called, as in 0.48.1)
                try:
                    handled = await _maybe_await(ev.error_score_handler(root, case, list(unhandled)))
                    if handled:
                        scores = {**dict(handled), **scores}
                except Exception as exc:
                    eprint(f"Error score handler failed for scorers: {', '.join(unhandled)} {exc}")  # (0.48.1's line)
                    eprint(f"braintrust: error_score_handler raised for evaluator {ev.eval_name}:\n{format_exception(exc).rstrip()}")
        finally:
            root.unset_current()
            root.end()
            if getattr(root, "_cached_trace", None) is not None:  # (its scorers are done)
                span_cache.untrack(root.root_span_id)
        return _with_trial(EvalResult(
            input=case.input, output=output, scores=scores, classifications=classifications, expected=case.expected,
            metadata=metadata, tags=tags or None, error=error, exc_info=exc_info, origin=case.origin,
        ), trial)

    async def _run_task(self, root: Any, case: EvalCase, hooks: DictEvalHooks) -> Any:
        task = self.ev.task
        args = (case.input, hooks) if self.task_takes_hooks else (case.input,)
        span = root.start_span(name="task", span_attributes={"type": "task"})
        hooks.set_span(span)
        with recorded_on(span, lambda: self.cancel_reason):
            if self.task_is_async:
                output = await task(*args)
            else:
                output = await run_in_pool(self.pool, task, *args)
            if inspect.isawaitable(output):
                output = await output
            if inspect.isasyncgen(output):
                raise TypeError(_ASYNC_GENERATOR_TASK.format(name=getattr(task, "__name__", type(task).__name__)))
            span.log(input=case.input, output=output)
            return output

    def _stream(self, root: Any, case: EvalCase, event: dict[str, Any]) -> None:
        callback = self.ev.stream
        if callback is None:
            return
        payload = {  # (an SSEProgressEvent)
            "id": getattr(root, "id", ""),
            "object_type": "task",
            "name": self.ev.eval_name,
            "format": "code",
            "output_type": "completion",
        }
        if case.origin is not None:
            payload["origin"] = case.origin
        payload.update(event or {})
        try:
            callback(payload)
        except Exception as exc:
            eprint(f"braintrust: the stream callback of evaluator {self.ev.eval_name} raised {exc!r}")

    # -- the end --------------------------------------------------------------------------------

    async def _flush(self) -> None:
        if not self.recorded:
            return
        from braintrust.delivery.runtime import flush

        try:
            # Rows that could not be delivered are spilled or counted, and reported, by the processor.
            await run_blocking(flush)
        except Exception as exc:  # e.g. FlushError under BRAINTRUST_SYNC_FLUSH: say so, keep the results
            eprint(f"braintrust: flushing the rows of evaluator {self.ev.eval_name} failed: {exc}")

    async def _summarize(self, results: list[EvalResult]) -> Any:
        if self.experiment is None:
            return self._local_summary(results)
        experiment = self.experiment
        comparison = self.ev.base_experiment_id or experiment.ref.info.get("base_exp_id")
        try:
            return await run_blocking(lambda: experiment.summarize(summarize_scores=self.ev.summarize_scores, comparison_experiment_id=comparison))
        except Exception as exc:
            eprint(f"braintrust: could not summarize experiment {experiment.ref.info.get('experiment_name')}: {exc}")
            return self._local_summary(results, experiment)

    def _local_summary(self, results: list[EvalResult], experiment: Any = None) -> Any:
        """Per score: the mean of its non-null values (what ``no_send_logs`` prints)."""
        from braintrust.summary import ExperimentSummary, ScoreSummary

        values: dict[str, list[float]] = {}  # (in the order of each score's first value, as 0.48.1's)
        for result in results:
            for name, value in (result.scores or {}).items():
                if isinstance(value, (int, float)):
                    values.setdefault(name, []).append(float(value))
        scores = {name: ScoreSummary(name=name, score=sum(v) / len(v), improvements=0, regressions=0) for name, v in values.items()}
        info = experiment.ref.info if experiment is not None else {}
        return ExperimentSummary(
            project_name=info.get("project_name") or self.ev.project_name,
            project_id=info.get("project_id") or self.ev.project_id,
            experiment_id=(experiment.ref.ids or {}).get("experiment_id") if experiment is not None else None,
            # With no experiment, the evaluator's name ("proj [experiment_name=x]"), as 0.48.1 names it.
            experiment_name=(info.get("experiment_name") or self.ev.experiment_name or self.ev.project_name)
            if experiment is not None else self.ev.eval_name,
            project_url=None,
            experiment_url=None,
            comparison_experiment_name=None,
            scores=scores,
            metrics={},
        )


def _case_fields(case: EvalCase) -> tuple[dict[str, Any], list[str], ValueError | None]:
    """The case's metadata and tags as the trial's own copies, or the error that makes them
    unusable (metadata that is not a dict, tags that are not a list of unique strings)."""
    from braintrust.tracing.record import validate_metadata, validate_tags

    try:
        metadata = dict(validate_metadata(case.metadata)) if case.metadata is not None else {}
        return metadata, validate_tags(case.tags) if case.tags is not None else [], None
    except ValueError as exc:
        return {}, [], ValueError(f"{_case_name(case)}: {exc}")


def _case_name(case: EvalCase) -> str:
    """Which case an error is about, as a user finds it in their data: its id, else its input."""
    if getattr(case, "id", None) is not None:
        return f"the case with id {case.id!r}"
    shortened = reprlib.Repr()  # (keyword arguments only from Python 3.12)
    shortened.maxstring = shortened.maxother = 60
    shortened.maxlist = shortened.maxdict = 4
    shortened.maxlevel = 2
    return f"the case with input {shortened.repr(case.input)}"  # (reprlib survives a failing __repr__)


def _with_trial(result: EvalResult, trial: int) -> EvalResult:
    if trial:
        result.trial_index = trial  # (an attribute, not a field: the fields are 0.48.1's)
    return result


def _unread_message(read: int) -> str:
    """The end of a timeout's message while the data was still being read (no trial ran)."""
    if read == 0:
        return "while reading data, before its first case: no trial started."
    cases = "case" if read == 1 else f"{read} cases"
    return (f"while reading data, after its first {cases}: 0 trials finished, 0 cancelled while running; the "
            f"trials of the {cases} read and of the cases not read yet never started.")


def _trial_count(case: EvalCase, default: int) -> int:
    """How many trials ``case`` gets: its own ``trial_count`` when it has one (0 or less: none,
    as in 0.48.1, which skips the case), else the evaluator's."""
    if case.trial_count is None:
        return default
    try:
        count = operator.index(case.trial_count)
    except TypeError:
        raise TypeError(
            f"a case's trial_count must be an integer or None, got {case.trial_count!r} (the case with input "
            f"{case.input!r:.100}); write e.g. trial_count=3, or leave it out to use Eval's trial_count."
        ) from None
    return max(count, 0)


def _parameter_count(fn: Callable[..., Any]) -> int:
    try:
        return len(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return 1


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


async def _wait_for_event(event: Any) -> None:
    """Return once ``event`` (a threading.Event or asyncio.Event) is set."""
    if isinstance(event, asyncio.Event):
        await event.wait()
        return
    while not event.is_set():
        await asyncio.sleep(0.05)


async def run_evaluator_async(
    evaluator: Evaluator,
    *,
    no_send_logs: bool = False,
    filters: list[tuple[str, Pattern[str]]] | None = None,
    progress: bool = True,
    pool: BoundedThreadPool | None = None,
    announce: bool = True,
    experiment: Any = None,
) -> EvalResultWithSummary:
    """Run one evaluator (no reporting) and return its results and summary. With ``experiment``
    (and ``no_send_logs``), the trials are logged to that experiment instead of a new one."""
    run = _Run(evaluator, no_send_logs=no_send_logs, filters=filters, progress=progress, pool=pool, announce=announce, experiment=experiment)
    return await run.execute()
