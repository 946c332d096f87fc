"""The context variables that hold the current span, experiment and logger.

Context variables follow asyncio tasks, threads started with a copied context and generators
(the ``@traced`` wrapper makes its span current around each step).
"""

from __future__ import annotations

import contextvars
from typing import Any

current_span_var: contextvars.ContextVar[Any] = contextvars.ContextVar("braintrust_current_span", default=None)
#: ``parent_context``'s parent: an exported slug, or W3C trace-context headers.
parent_var: contextvars.ContextVar[Any] = contextvars.ContextVar("braintrust_parent", default=None)

# The current experiment and logger are process-wide defaults (set by init/init_logger) that a
# context may override.
_global_experiment: Any = None
_global_logger: Any = None
experiment_var: contextvars.ContextVar[Any] = contextvars.ContextVar("braintrust_current_experiment", default=None)
logger_var: contextvars.ContextVar[Any] = contextvars.ContextVar("braintrust_current_logger", default=None)


def current_experiment_object() -> Any:
    return experiment_var.get() or _global_experiment


def current_logger_object() -> Any:
    return logger_var.get() or _global_logger


def set_global_experiment(experiment: Any) -> None:
    """Make ``experiment`` the current one: the process-wide default, and in this context too when
    the context has its own (a pytest case runs in its experiment: an ``init`` in the test wins
    there, as the most recent ``init`` wins in the public SDK)."""
    global _global_experiment
    _global_experiment = experiment
    if experiment_var.get() is not None:
        experiment_var.set(experiment)


def set_global_logger(logger: Any) -> None:
    global _global_logger
    _global_logger = logger
