"""Anthropic's ``messages.batches`` under ``wrap_anthropic``: ``create`` and ``results`` as
``task`` spans, as 0.48.1 logs them. A batch is no model answer: its span records what the batch
is (the requests' custom ids, their models, the batch's id, status and counts), not the answers.
"""

from __future__ import annotations

from typing import Any

from braintrust.wrappers.anthropic import INSTRUMENTATION, PROVIDER
from braintrust.wrappers.calls import Kind, NamedWrapper, field, keep_iterators, traced_call

BATCH_COUNTS = ("processing", "succeeded", "errored", "canceled", "expired")


def _batch_request_fields(kwargs: dict) -> dict:
    keep_iterators(kwargs, "requests")
    requests = list(kwargs.get("requests") or [])
    models = {field(field(request, "params") or {}, "model") for request in requests} - {None}
    metadata: dict[str, Any] = {"provider": PROVIDER, "num_requests": len(requests)}
    if len(models) == 1:
        metadata["model"] = next(iter(models))
    elif models:
        metadata["models"] = sorted(models)
    return {"input": [{"custom_id": field(request, "custom_id")} for request in requests], "metadata": metadata}


def _batch_fields(batch: Any) -> dict:
    output = {name: field(batch, name) for name in ("id", "processing_status") if field(batch, name) is not None}
    counts = field(batch, "request_counts")
    if counts is not None:
        output["request_counts"] = {name: field(counts, name) or 0 for name in BATCH_COUNTS}
    return {"output": output}


_BATCH_CREATE = Kind("anthropic.messages.batches.create", INSTRUMENTATION, _batch_request_fields, _batch_fields, timed=False,
                     error_text=str, span_type="task")


class Batches(NamedWrapper):
    """``messages.batches``: ``create`` and ``results`` traced (what the batch is, not its answers)."""

    def __init__(self, batches: Any):
        super().__init__(batches)
        self._bt_batches = batches

    def create(self, *args: Any, **kwargs: Any) -> Any:
        return traced_call(_BATCH_CREATE, self._bt_batches.create, args, kwargs)

    def results(self, *args: Any, **kwargs: Any) -> Any:
        batch_id = args[0] if args else kwargs.get("message_batch_id")
        kind = Kind("anthropic.messages.batches.results", INSTRUMENTATION,
                    lambda _: {"input": {"message_batch_id": batch_id}, "metadata": {"provider": PROVIDER}},
                    lambda _: {"output": {"type": "jsonl_stream"}}, timed=False, error_text=str, span_type="task")
        return traced_call(kind, self._bt_batches.results, args, kwargs)
