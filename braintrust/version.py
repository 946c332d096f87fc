"""``braintrust.version``: the version of the public SDK whose API and wire format this package
implements (what its rows' ``span_origin`` names), at 0.48.1's import path."""

from braintrust.tracing.span_origin import SDK_VERSION as VERSION

#: As 0.48.1 names them: its release channel and the commit it was built from.
RELEASE_CHANNEL = "stable"
GIT_COMMIT = "b44296ad1074ee26136189c5068a592109c5a5d0"

__all__ = ["VERSION", "RELEASE_CHANNEL", "GIT_COMMIT"]
