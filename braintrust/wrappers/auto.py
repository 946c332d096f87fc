"""``auto_instrument()``: every OpenAI and Anthropic client made afterwards is traced, as if it
had been passed to ``wrap_openai`` / ``wrap_anthropic``, and LiteLLM's module is patched.

The client classes (``OpenAI``, ``AsyncOpenAI`` and their Azure subclasses; ``Anthropic``,
``AsyncAnthropic``) get their traced resources (``chat``, ``responses``, ``embeddings``,
``moderations``; ``messages``) as properties that hand out the wrappers' proxies, so a client
made before the call is traced too. Calling it again changes nothing; ``wrap_*`` on such a
client returns it as it is (one span per call). LiteLLM is patched as ``patch_litellm()`` does.

It takes the public SDK 0.48.1's keywords (one per integration, each on by default) and answers
as it does: ``{integration: whether it is traced}`` for the integrations left on, in its order.
The integrations this SDK does not trace answer ``False``, with one warning per process naming
those that are installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Any, Callable

from braintrust.wrappers.calls import AUTO_INSTRUMENTED

log = logging.getLogger("braintrust")

__all__ = ["auto_instrument"]

#: 0.48.1's integrations in the order its answer lists them: the keyword, the key in the answer,
#: and the module whose presence means the library is installed.
INTEGRATIONS = (
    ("openai", "openai", "openai"),
    ("anthropic", "anthropic", "anthropic"),
    ("litellm", "litellm", "litellm"),
    ("ai_sdk", "ai_sdk", "ai_sdk"),
    ("pydantic_ai", "pydantic_ai", "pydantic_ai"),
    ("google_genai", "google_genai", "google.genai"),
    ("google_discoveryengine", "google_discoveryengine", "google.cloud.discoveryengine"),
    ("instructor", "instructor", "instructor"),
    ("openrouter", "openrouter", "openrouter"),
    ("mistral", "mistral", "mistralai"),
    ("huggingface_hub", "huggingface_hub", "huggingface_hub"),
    ("transformers", "transformers", "transformers"),
    ("agno", "agno", "agno"),
    ("agentscope", "agentscope", "agentscope"),
    ("claude_agent_sdk", "claude_agent_sdk", "claude_agent_sdk"),
    ("cursor_sdk", "cursor_sdk", "cursor_sdk"),
    ("dspy", "dspy", "dspy"),
    ("adk", "adk", "google.adk"),
    ("langchain", "langchain", "langchain_core"),
    ("llamaindex", "llamaindex", "llama_index"),
    ("openai_agents", "openai_agents", "agents"),
    ("cohere", "cohere", "cohere"),
    ("autogen", "autogen", "autogen_agentchat"),
    ("bedrock", "bedrock_runtime", "boto3"),
    ("crewai", "crewai", "crewai"),
    ("strands", "strands", "strands"),
    ("temporal", "temporal", "temporalio"),
    ("livekit_agents", "livekit_agents", "livekit.agents"),
    ("pipecat", "pipecat", "pipecat"),
    ("typesafe", "typesafe", "typesafe"),
)
_KEYWORDS = {keyword for keyword, _, _ in INTEGRATIONS}
_warned: set[str] = set()  # integrations already named in a warning (once per process)


def auto_instrument(*, openai: bool = True, anthropic: bool = True, **integrations: Any) -> dict[str, bool]:
    """Trace the OpenAI and Anthropic clients and LiteLLM; ``{integration: whether it is traced}``
    for every integration left on (keywords and answer as 0.48.1's)."""
    customizers = integrations.pop("span_customizers", None)
    if customizers:  # (None or an empty list: nothing to customize)
        raise TypeError("auto_instrument(span_customizers=...) is not supported by pytest-braintrust; "
                        "change spans in your code with span.log(...) instead.")
    unknown = sorted(set(integrations) - _KEYWORDS)
    if unknown:
        raise TypeError(f"auto_instrument() got an unexpected keyword argument {unknown[0]!r}")
    wanted = {**integrations, "openai": openai, "anthropic": anthropic}
    result: dict[str, bool] = {}
    untraced = []
    for keyword, key, module in INTEGRATIONS:
        if not wanted.get(keyword, True):
            continue
        if keyword == "openai":
            result[key] = _or_warn(keyword, patch_openai)
        elif keyword == "anthropic":
            result[key] = _or_warn(keyword, lambda: _instrument("anthropic", ("Anthropic", "AsyncAnthropic"),
                                                               "braintrust.wrappers.anthropic"))
        elif keyword == "litellm":
            result[key] = _installed(module) and _or_warn(keyword, _patch_litellm)
        else:
            result[key] = False
            if keyword not in _warned and _installed(module):
                untraced.append((keyword, module))
    if untraced:
        _warned.update(keyword for keyword, _ in untraced)
        names = ", ".join(keyword if module == keyword else f"{keyword} ({module})" for keyword, module in untraced)
        log.warning("braintrust: auto_instrument traces OpenAI, Anthropic and LiteLLM only; %s %s installed and not traced "
                    "(trace your own calls with @traced or start_span, or pass %s=False to leave it out).", names,
                    "is" if len(untraced) == 1 else "are", untraced[0][0])
    return result


def _or_warn(integration: str, instrument: Callable[[], bool]) -> bool:
    """``instrument()``; False, with a warning, when it fails (an installed library that does not
    import, say): tracing never stops the program."""
    try:
        return instrument()
    except Exception as exc:
        log.warning("braintrust: auto_instrument could not trace %s (%s: %s); its calls run untraced. Fix: check that "
                    "`import %s` works in this environment, or pass %s=False.", integration, type(exc).__name__, exc,
                    integration, integration)
        return False


def patch_openai() -> bool:
    """Trace every OpenAI client, made before or after (``braintrust.oai.patch_openai``, as
    ``auto_instrument(openai=True)`` does); False when openai is not installed."""
    return _instrument("openai", ("OpenAI", "AsyncOpenAI"), "braintrust.wrappers.openai")


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


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
