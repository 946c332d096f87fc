"""Wrappers that trace LLM clients: ``wrap_openai`` (``braintrust.oai`` re-exports it),
``wrap_anthropic`` and ``wrap_litellm``, on what ``calls`` shares."""
