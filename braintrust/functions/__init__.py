"""Functions hosted in Braintrust: ``invoke`` and ``init_function`` (``invoke``), and their
streamed output (``stream``)."""
