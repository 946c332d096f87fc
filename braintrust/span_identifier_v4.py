"""``braintrust.span_identifier_v4``: 0.48.1's import path of the V4 span components (exported
span strings). The implementation is ``braintrust.tracing.span_components``."""

from braintrust.tracing.span_components import SpanComponentsV4, SpanObjectTypeV3

__all__ = ["SpanComponentsV4", "SpanObjectTypeV3"]
