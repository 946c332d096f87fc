"""``from braintrust.oai import wrap_openai, patch_openai, NamedWrapper``, the public SDK's import
path (autoevals imports it to trace its LLM judges). The implementation is ``braintrust.wrappers``."""

from braintrust.wrappers.auto import patch_openai
from braintrust.wrappers.openai import NamedWrapper, wrap_openai

__all__ = ["NamedWrapper", "patch_openai", "wrap_openai"]
