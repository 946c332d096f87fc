"""Compatibility import path: ``from braintrust.logger import Span, NOOP_SPAN, ...``."""

from braintrust.objects.project_logs import Logger, current_logger, init_logger, login
from braintrust.tracing.span import NOOP_SPAN, Span, SpanImpl, current_span

__all__ = ["Logger", "NOOP_SPAN", "Span", "SpanImpl", "current_logger", "current_span", "init_logger", "login"]
