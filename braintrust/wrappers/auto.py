"""``auto_instrument()``: every OpenAI and Anthropic client made afterwards is traced, as if it
had been passed to ``wrap_openai`` / ``wrap_anthropic``.

The client classes (``OpenAI``, ``AsyncOpenAI`` and their Azure subclasses; ``Anthropic``,
``AsyncAnthropic``) get their traced resources (``chat``, ``responses``, ``embeddings``,
``moderations``; ``messages``) as properties that hand out the wrappers' proxies, so a client
made before the call is traced too. Calling it again changes nothing; ``wrap_*`` on such a
client returns it as it is (one span per call). ``litellm=True`` patches LiteLLM's module
(``patch_litellm``). The public SDK's other integrations are not traced here: they answer
``False``, with one warning for those that are installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Any, Callable

from braintrust.wrappers.calls import AUTO_INSTRUMENTED

log = logging.getLogger("braintrust")

__all__ = ["auto_instrument"]


def auto_instrument(*, openai: bool = True, anthropic: bool = True, **integrations: Any) -> dict[str, bool]:
    """Trace the OpenAI and Anthropic clients; ``{integration: whether it is traced}``."""
    customizers = integrations.pop("span_customizers", None)
    if customizers is not None:
        raise TypeError("auto_instrument(span_customizers=...) is not supported by pytest-braintrust; "
                        "change spans in your code with span.log(...) instead.")
    result = {
        "openai": bool(openai) and _instrument("openai", ("OpenAI", "AsyncOpenAI"), "braintrust.wrappers.openai"),
        "anthropic": bool(anthropic) and _instrument("anthropic", ("Anthropic", "AsyncAnthropic"), "braintrust.wrappers.anthropic"),
    }
    if "litellm" in integrations:
        result["litellm"] = bool(integrations.pop("litellm")) and _patch_litellm()
    untraced = []
    for name, wanted in integrations.items():
        result[name] = False
        if wanted and _installed(name):
            untraced.append(name)
    if untraced:
        log.warning("braintrust: auto_instrument traces OpenAI and Anthropic clients only; %s %s installed and not traced "
                    "(trace your own calls with @traced or start_span).", ", ".join(untraced), "is" if len(untraced) == 1 else "are")
    return result


def _patch_litellm() -> bool:
    from braintrust.wrappers.litellm import patch_litellm

    return patch_litellm()


def _instrument(module_name: str, class_names: tuple[str, ...], wrapper_module: str) -> bool:
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return False
    resources: dict[str, Callable[[Any], Any]] = importlib.import_module(wrapper_module).TRACED_RESOURCES
    for class_name in class_names:
        cls = getattr(module, class_name, None)
        if cls is None or cls.__dict__.get(AUTO_INSTRUMENTED):
            continue
        for name, proxy in resources.items():
            original = next((klass.__dict__[name] for klass in cls.__mro__ if name in klass.__dict__), None)
            if original is None:
                continue
            setattr(cls, name, property(_traced(original, proxy), doc=f"{name}, traced by braintrust.auto_instrument()"))
        setattr(cls, AUTO_INSTRUMENTED, True)
    return True


def _traced(original: Any, proxy: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def get(client: Any) -> Any:
        return proxy(original.__get__(client, type(client)))

    return get


def _installed(name: str) -> bool:
    module = {"google_genai": "google.genai", "huggingface_hub": "huggingface_hub", "bedrock": "boto3"}.get(name, name)
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
