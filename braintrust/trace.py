"""``braintrust.trace``: the import path of 0.48.1's trace types (a scorer's ``trace`` argument).
The implementation is ``braintrust.eval.trace``."""

from braintrust.eval.trace import EvalTrace as LocalTrace
from braintrust.eval.trace import SpanData, SpanDurationFilter, SpanFilters

__all__ = ["LocalTrace", "SpanData", "SpanDurationFilter", "SpanFilters"]
