"""``braintrust.serializable_data_class``: the import path of 0.48.1's ``SerializableDataClass``
(``braintrust.serializable``)."""

from braintrust.serializable import SerializableDataClass

__all__ = ["SerializableDataClass"]
