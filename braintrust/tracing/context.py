"""The context variables that hold the current span, experiment and logger.

Context variables follow asyncio tasks, threads started with a copied context and generators
(the ``@traced`` wrapper makes its span current around each step).
"""

from __future__ import annotations

import contextvars
from typing import Any


class _CurrentSpanVar:
    """The current span's context variable. ``get`` skips a span that ended while still current
    where it was made current (``set_current`` and ``end`` without ``unset_current``, or a
    pool thread's task that left its span current for the thread's next task), as 0.48.1 skips
    ended spans: the span current before it is current again, instead of every later span in
    that context becoming a child of the ended one. A span left by ``with`` stays the parent of
    the asyncio tasks created inside the block (0.48.1 starts new traces there)."""

    def __init__(self) -> None:
        self._var: contextvars.ContextVar[Any] = contextvars.ContextVar("braintrust_current_span", default=None)
        # (the variable's own methods: no Python frame on the per-span paths)
        self.set = self._var.set
        self.reset = self._var.reset

    def get(self) -> Any:
        span = self._var.get()
        hops = 0
        while span is not None and hops < 100:  # (a bound: two ended spans made current over each other)
            tokens = getattr(span, "_context_tokens", None)
            if not tokens or (getattr(span, "_ended_at", None) is None and getattr(span, "_logged_end", None) is None):
                return span
            before = tokens[-1].old_value
            span = None if before is contextvars.Token.MISSING else before
            hops += 1
        return span


current_span_var = _CurrentSpanVar()
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


#: The variables that say where spans go: what ``snapshot`` keeps and ``carried`` restores.
_CARRIED = (current_span_var._var, parent_var, experiment_var, logger_var)


def snapshot() -> tuple[Any, ...]:
    """This context's current span, parent and experiment/logger overrides, as set."""
    return tuple(var.get() for var in _CARRIED)


class carried:
    """Within the block, the values of ``snapshot()`` taken in another context (where a test's
    body was called, when a runner awaits it in a context of its own: anyio's runner task,
    ``IsolatedAsyncioTestCase``'s). Only what differs is set, and it is reset at the end.
    ``None`` carries nothing."""

    def __init__(self, values: tuple[Any, ...] | None):
        self._values = values
        self._tokens: list[tuple[Any, Any]] = []

    def __enter__(self) -> None:
        if self._values is None:
            return
        for var, value in zip(_CARRIED, self._values):
            if var.get() is not value:
                self._tokens.append((var, var.set(value)))

    def __exit__(self, *exc: Any) -> None:
        while self._tokens:
            var, token = self._tokens.pop()
            var.reset(token)
