"""``from braintrust.oai import wrap_openai, NamedWrapper``, the public SDK's import path (autoevals
imports it to trace its LLM judges). The implementation is ``braintrust.wrappers.openai``."""

from braintrust.wrappers.openai import NamedWrapper, wrap_openai

__all__ = ["NamedWrapper", "wrap_openai"]
