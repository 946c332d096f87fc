"""``braintrust.auto``: the import path of 0.48.1's ``auto_instrument`` (``braintrust.wrappers.auto``)."""

from braintrust.wrappers.auto import auto_instrument

__all__ = ["auto_instrument"]
