"""``braintrust.trace``: the import path of 0.48.1's trace types (a scorer's ``trace`` argument).
The implementation is ``braintrust.eval.trace``; ``Trace`` is the interface a scorer may annotate
its ``trace`` parameter with."""

from __future__ import annotations

from typing import Any, Protocol, TypedDict

from braintrust.eval.trace import EvalTrace as LocalTrace
from braintrust.eval.trace import SpanData, SpanDurationFilter, SpanFilters


class GetThreadOptions(TypedDict, total=False):
    """``Trace.get_thread(options)``: ``preprocessor`` names the function that makes the thread."""

    preprocessor: str


class Trace(Protocol):
    """What a scorer's ``trace`` offers (``LocalTrace`` is the SDK's)."""

    def get_configuration(self) -> dict[str, Any]: ...

    async def get_spans(self, span_type: list[str] | None = None, *, filters: SpanFilters | None = None,
                        include_scorers: bool = False) -> list[SpanData]: ...

    async def get_thread(self, options: GetThreadOptions | None = None) -> list[Any]: ...


__all__ = ["GetThreadOptions", "LocalTrace", "SpanData", "SpanDurationFilter", "SpanFilters", "Trace"]
