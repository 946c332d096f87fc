"""``braintrust.span_identifier_v3``: 0.48.1's import path of the V3 span components (exported
span strings). The implementation is ``braintrust.tracing.span_components``."""

from braintrust.tracing.span_components import SpanComponentsV3, SpanObjectTypeV3

__all__ = ["SpanComponentsV3", "SpanObjectTypeV3"]
