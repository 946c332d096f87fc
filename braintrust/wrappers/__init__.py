"""Wrappers that trace LLM clients: ``wrap_openai`` (``braintrust.oai`` re-exports it) and
``wrap_anthropic``, on what ``calls`` shares."""
