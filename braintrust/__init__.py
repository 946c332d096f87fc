"""pytest-braintrust's embedded implementation of the Braintrust Python SDK's public API.

Only the public surface lives here; nothing runs at import (no threads, no network, no files).
"""

from typing import Any

from braintrust.delivery.policy import set_http_adapter
from braintrust.delivery.runtime import flush
from braintrust.masking import set_masking_function
from braintrust.objects.project_logs import Logger, current_logger, init_logger, login
from braintrust.span_types import SpanTypeAttribute
from braintrust.tracing.api import parent_context, span_components_to_object_id, start_span, update_span
from braintrust.tracing.links import permalink
from braintrust.tracing.span import NOOP_SPAN, Span, SpanImpl, current_span
from braintrust.tracing.span_components import SpanComponentsV3, SpanComponentsV4, SpanObjectTypeV3
from braintrust.tracing.traced import traced

__all__ = sorted(
    [
        "Logger",
        "NOOP_SPAN",
        "RetryRequestExceptionsAdapter",
        "Span",
        "SpanComponentsV3",
        "SpanComponentsV4",
        "SpanImpl",
        "SpanObjectTypeV3",
        "SpanTypeAttribute",
        "current_logger",
        "current_span",
        "flush",
        "init_logger",
        "login",
        "parent_context",
        "permalink",
        "set_http_adapter",
        "set_masking_function",
        "span_components_to_object_id",
        "start_span",
        "traced",
        "update_span",
    ]
)


def __getattr__(name: str) -> Any:
    # Imported on first use: it subclasses requests' HTTPAdapter, and importing requests costs
    # more than everything else here together.
    if name == "RetryRequestExceptionsAdapter":
        from braintrust.delivery.http_client import RetryRequestExceptionsAdapter

        return RetryRequestExceptionsAdapter
    raise AttributeError(f"module 'braintrust' has no attribute {name!r}")
