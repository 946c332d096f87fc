"""``braintrust.version``: the version of the public SDK whose API and wire format this package
implements (what its rows' ``span_origin`` names), at 0.48.1's import path."""

from braintrust.tracing.span_origin import SDK_VERSION as VERSION

__all__ = ["VERSION"]
