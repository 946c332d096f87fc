"""``Eval`` and ``EvalAsync``: the public entry points (signature of the public SDK 0.48.1)."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from braintrust.eval.cases import BaseExperiment, EvalCase
from braintrust.eval.evaluator import Evaluator, eval_display_name
from braintrust.eval.hooks import EvalHooks
from braintrust.eval.reporters import Reporter, ReporterDef, call_maybe_async, eprint
from braintrust.eval.results import EvalResult, EvalResultWithSummary, EvalScorerArgs, EvalTimeoutError
from braintrust.eval.threads import set_thread_pool_max_workers
from braintrust.state import check_state

# Printed (not a warning: ``-W error`` must not turn it into a failure, as 0.48.1's is not), once.
ASYNC_CONTEXT_NOTICE = (
    "`Eval()` was called from an async context: it returns an asyncio.Task scheduled on the running loop; "
    "await it (or call `await EvalAsync(...)` instead)."
)
_async_context_noticed = False


def default_error_score_handler(root_span: Any, data: Any, unhandled_scores: list[str]) -> dict[str, float]:
    """Score 0 for every scorer that produced nothing because the task or the scorer failed
    (logged on the root span)."""
    scores = {name: 0 for name in unhandled_scores}
    root_span.log(scores=scores)
    return scores


def _make_evaluator(name: str, data: Any, task: Callable[..., Any], **options: Any) -> Evaluator:
    check_state(options.get("state"), "Eval")
    return Evaluator(
        project_name=name,
        eval_name=eval_display_name(name, options.get("experiment_name")),
        data=data,
        task=task,
        **options,
    )


def _reporter_for_call(reporter: Any) -> ReporterDef:
    """The reporter an ``Eval`` run outside ``braintrust eval`` reports with, checked when it is
    called (as 0.48.1 does): a name refers to nothing there, so it is a ``ValueError``."""
    from braintrust.eval.registry import resolve_reporter

    if isinstance(reporter, str):
        raise ValueError(
            f"Must specify a reporter object, not a name (reporter={reporter!r}). Can only specify reporter names "
            "when running 'braintrust eval'; pass the object `Reporter(...)` returned instead."
        )
    return resolve_reporter(reporter)


async def run_and_report(evaluator: Evaluator, reporter: Any) -> EvalResultWithSummary:
    """Run ``evaluator`` and report it with ``reporter`` (a ``ReporterDef``, a registered
    reporter's name, or None for the default one), as ``Eval`` does."""
    from braintrust.eval.registry import resolve_reporter
    from braintrust.eval.runner import run_evaluator_async

    reporter_def = resolve_reporter(reporter)
    result = await run_evaluator_async(evaluator)
    await call_maybe_async(reporter_def.report_eval, evaluator, result, verbose=True, jsonl=False)  # (as the public SDK's Eval calls it)
    return result


async def run_evaluator(
    experiment: Any,
    evaluator: Evaluator,
    position: int | None,
    filters: list[Any],
    stream: Callable[[Any], Any] | None = None,
    state: Any = None,
    enable_cache: bool = True,
) -> EvalResultWithSummary:
    """0.48.1's ``braintrust.framework.run_evaluator``: run ``evaluator`` with no report, logging
    its trials to ``experiment`` (None: to no experiment; the summary is then computed locally).
    ``filters`` are ``(dotted path, regex)`` pairs or 0.48.1's ``Filter`` objects (``path`` a list);
    ``position`` (a progress bar's row) is not used here."""
    import dataclasses

    from braintrust.eval.runner import run_evaluator_async

    check_state(state, "run_evaluator")
    pairs = [(".".join(f.path), f.pattern) if hasattr(f, "path") else tuple(f) for f in filters or []]
    changes = {"enable_cache": enable_cache, **({"stream": stream} if stream is not None else {})}
    evaluator = dataclasses.replace(evaluator, **changes)
    return await run_evaluator_async(evaluator, no_send_logs=True, filters=pairs, announce=False, experiment=experiment)


def Eval(  # noqa: N802 - public API name
    name: str,
    data: Any,
    task: Callable[..., Any],
    scores: Sequence[Any] | None = None,
    classifiers: Sequence[Any] | None = None,
    experiment_name: str | None = None,
    trial_count: int = 1,
    metadata: Mapping[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    is_public: bool = False,
    update: bool = False,
    reporter: ReporterDef | str | None = None,
    timeout: float | None = None,
    max_concurrency: int | None = None,
    project_id: str | None = None,
    base_experiment_name: str | None = None,
    base_experiment_id: str | None = None,
    git_metadata_settings: Any = None,
    repo_info: Any = None,
    error_score_handler: Callable[..., Any] | None = None,
    description: str | None = None,
    summarize_scores: bool = True,
    no_send_logs: bool = False,
    parameters: Any = None,
    on_start: Callable[[Any], Any] | None = None,
    stream: Callable[[Any], Any] | None = None,
    parent: Any = None,
    state: Any = None,
    enable_cache: bool = True,
    cancel_event: Any = None,
) -> Any:
    """Run an evaluation: every case of ``data`` through ``task``, scored by ``scores``, logged as
    an experiment of project ``name``; prints the summary and returns ``EvalResultWithSummary``.

    Inside a running event loop it returns an ``asyncio.Task`` on that loop instead (await it).
    Under ``braintrust eval`` it only registers the evaluator and returns None.
    """
    evaluator = _make_evaluator(
        name, data, task, scores=scores, classifiers=classifiers, experiment_name=experiment_name,
        trial_count=trial_count, metadata=metadata, tags=tags, is_public=is_public, update=update, timeout=timeout,
        max_concurrency=max_concurrency, project_id=project_id, base_experiment_name=base_experiment_name,
        base_experiment_id=base_experiment_id, git_metadata_settings=git_metadata_settings, repo_info=repo_info,
        error_score_handler=error_score_handler, description=description, summarize_scores=summarize_scores,
        no_send_logs=no_send_logs, parameters=parameters, on_start=on_start, stream=stream, parent=parent,
        state=state, enable_cache=enable_cache, cancel_event=cancel_event,
    )
    import asyncio

    from braintrust.eval import registry
    from braintrust.eval.loop import run_sync

    if registry.is_collecting():
        registry.record(evaluator, reporter)
        return None
    reporter = _reporter_for_call(reporter)  # (before a task is scheduled: a bad one fails the call)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        global _async_context_noticed
        if not _async_context_noticed:
            _async_context_noticed = True
            eprint(ASYNC_CONTEXT_NOTICE)
        return loop.create_task(run_and_report(evaluator, reporter))
    return run_sync(run_and_report(evaluator, reporter))


async def EvalAsync(  # noqa: N802 - public API name
    name: str,
    data: Any,
    task: Callable[..., Any],
    scores: Sequence[Any] | None = None,
    classifiers: Sequence[Any] | None = None,
    experiment_name: str | None = None,
    trial_count: int = 1,
    metadata: Mapping[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    is_public: bool = False,
    update: bool = False,
    reporter: ReporterDef | str | None = None,
    timeout: float | None = None,
    max_concurrency: int | None = None,
    project_id: str | None = None,
    base_experiment_name: str | None = None,
    base_experiment_id: str | None = None,
    git_metadata_settings: Any = None,
    repo_info: Any = None,
    error_score_handler: Callable[..., Any] | None = None,
    description: str | None = None,
    summarize_scores: bool = True,
    no_send_logs: bool = False,
    parameters: Any = None,
    on_start: Callable[[Any], Any] | None = None,
    stream: Callable[[Any], Any] | None = None,
    parent: Any = None,
    state: Any = None,
    enable_cache: bool = True,
    cancel_event: Any = None,
) -> Any:
    """``Eval`` for async code: ``result = await EvalAsync(...)``."""
    evaluator = _make_evaluator(
        name, data, task, scores=scores, classifiers=classifiers, experiment_name=experiment_name,
        trial_count=trial_count, metadata=metadata, tags=tags, is_public=is_public, update=update, timeout=timeout,
        max_concurrency=max_concurrency, project_id=project_id, base_experiment_name=base_experiment_name,
        base_experiment_id=base_experiment_id, git_metadata_settings=git_metadata_settings, repo_info=repo_info,
        error_score_handler=error_score_handler, description=description, summarize_scores=summarize_scores,
        no_send_logs=no_send_logs, parameters=parameters, on_start=on_start, stream=stream, parent=parent,
        state=state, enable_cache=enable_cache, cancel_event=cancel_event,
    )
    from braintrust.eval import registry

    if registry.is_collecting():
        registry.record(evaluator, reporter)
        return None
    return await run_and_report(evaluator, _reporter_for_call(reporter))


__all__ = [
    "BaseExperiment",
    "Eval",
    "EvalAsync",
    "EvalCase",
    "EvalHooks",
    "EvalResult",
    "EvalResultWithSummary",
    "EvalScorerArgs",
    "EvalTimeoutError",
    "Evaluator",
    "Reporter",
    "ReporterDef",
    "default_error_score_handler",
    "run_evaluator",
    "set_thread_pool_max_workers",
]
