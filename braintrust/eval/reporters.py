"""Reporters: what happens with an evaluator's results once it has run.

``report_eval(evaluator, result, verbose, jsonl)`` is called once per evaluator and returns a
report; ``report_run(reports, verbose, jsonl)`` is called once per reporter by ``braintrust eval``
with every report of that reporter and returns whether the run passed. The default reporter prints
the summary to stdout, or, when a task raised, the failures to stderr (in red), exactly as the
public SDK does.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import sys
import traceback
from typing import Any, Awaitable, Callable, Generic, TypeVar

from braintrust.eval.progress import print_above_bar
from braintrust.serializable import SerializableDataClass

Input = TypeVar("Input")
Output = TypeVar("Output")
Expected = TypeVar("Expected")
EvalReport = TypeVar("EvalReport")

RED = "\033[91m"
YELLOW = "\033[93m"  # (warnings, as the public SDK colours them)
END = "\033[0m"


@dataclasses.dataclass
class ReporterDef(SerializableDataClass, Generic[Input, Output, Expected, EvalReport]):  # (as 0.48.1's)
    name: str
    report_eval: Callable[[Any, Any, bool, bool], EvalReport | Awaitable[EvalReport]]
    report_run: Callable[[list[EvalReport], bool, bool], bool | Awaitable[bool]]


def Reporter(  # noqa: N802 - public API name
    name: str,
    report_eval: Callable[[Any, Any, bool, bool], Any],
    report_run: Callable[[list[Any], bool, bool], Any],
) -> ReporterDef:
    """Define a reporter. Under ``braintrust eval`` it is also registered by name, so an
    evaluator's ``reporter="<name>"`` refers to it."""
    reporter = ReporterDef(name=name, report_eval=report_eval, report_run=report_run)
    from braintrust.eval import registry

    registry.record_reporter(reporter)
    return reporter


def eprint(*args: Any) -> None:
    """Print to stderr (on its own line(s) above an eval's progress bar while one is shown)."""
    print_above_bar(*args, file=sys.stderr)


def report_failures(evaluator: Any, failing_results: list[Any], verbose: bool, jsonl: bool) -> None:
    """The failures in red on stderr (or a JSON line): each task's traceback when ``verbose`` or
    ``jsonl``, else its exception line (``braintrust eval`` without ``--verbose``), then the hint
    to add ``--verbose``, byte for byte as the public SDK prints them. (``Eval()`` itself reports verbosely.)"""
    count = len(failing_results)
    eprint(f"{RED}Evaluator {evaluator.eval_name} failed with {count} {'error' if count == 1 else 'errors'}{END}")
    errors = [_error_text(r, verbose or jsonl) for r in failing_results]
    if jsonl:
        print(json.dumps({"eval_name": evaluator.eval_name, "errors": errors}))
        return
    eprint(f"{RED}{''.join(errors).rstrip()}{END}")
    eprint(f"{RED}Add --verbose to see full stack traces.{END}")


def _error_text(result: Any, full: bool) -> str:
    if full or result.error is None:
        return result.exc_info or f"{result.error!r}\n"
    return "\n".join(traceback.format_exception_only(type(result.error), result.error))


def _default_report_eval(evaluator: Any, result: Any, verbose: bool, jsonl: bool) -> bool:
    failing = [r for r in result.results if r.error is not None]
    if failing:
        report_failures(evaluator, failing, verbose, jsonl)
    elif jsonl:
        print(json.dumps(result.summary.as_dict()))
    else:
        print(f"{result.summary}")
    return not failing


def _default_report_run(eval_reports: list[Any], verbose: bool, jsonl: bool) -> bool:
    return all(bool(r) for r in eval_reports)


default_reporter = ReporterDef(name="default", report_eval=_default_report_eval, report_run=_default_report_run)


async def call_maybe_async(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    result = fn(*args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result
