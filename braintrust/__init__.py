"""pytest-braintrust's embedded implementation of the Braintrust Python SDK's public API.

Only the public surface lives here; nothing runs at import (no threads, no network, no files),
but for patching ``threading`` when ``BRAINTRUST_INSTRUMENT_THREADS`` asks for it, as 0.48.1 does.
"""

from typing import Any

from braintrust.attachments.kinds import (
    Attachment,
    AttachmentMetadata,
    AttachmentReference,
    AttachmentStatus,
    BaseAttachment,
    BraintrustAttachmentReference,
    ExternalAttachment,
    ExternalAttachmentReference,
    JSONAttachment,
    ReadonlyAttachment,
)
from braintrust.delivery.policy import set_http_adapter
from braintrust.delivery.runtime import flush
from braintrust.framework import (
    BaseExperiment,
    Eval,
    EvalAsync,
    EvalCase,
    EvalHooks,
    EvalResult,
    EvalResultWithSummary,
    EvalScorerArgs,
    Evaluator,
    Reporter,
    ReporterDef,
    SSEProgressEvent,
    TaskProgressEvent,
    set_thread_pool_max_workers,
)
from braintrust.functions.definitions import (
    ClassifierBuilder,
    CodeFunction,
    CodePrompt,
    ParametersBuilder,
    Project,
    ProjectBuilder,
    PromptBuilder,
    ScorerBuilder,
    ToolBuilder,
    projects,
)
from braintrust.functions.invoke import SpanScope, TraceScope, init_function, invoke, invoke_async
from braintrust.functions.stream import (
    BraintrustConsoleChunk,
    BraintrustErrorChunk,
    BraintrustInvokeError,
    BraintrustJsonChunk,
    BraintrustProgressChunk,
    BraintrustStream,
    BraintrustStreamChunk,
    BraintrustTextChunk,
    parse_stream,
)
from braintrust.git import GitMetadataSettings, RepoInfo
from braintrust.logs import BraintrustLogHandler
from braintrust.masking import set_masking_function
from braintrust.objects.dataset import Dataset, init_dataset
from braintrust.objects.experiment import (
    Experiment,
    ExperimentIdentifier,
    ReadonlyExperiment,
    current_experiment,
    init,
    init_experiment,
    log,
    summarize,
)
from braintrust.objects.project_logs import Logger, ObjectMetadata, current_logger, init_logger, login
from braintrust.parameters.remote import RemoteEvalParameters, load_parameters
from braintrust.parameters.schema import EvalParameters
from braintrust.prompts.loading import load_prompt, load_prompt_async
from braintrust.prompts.prompt import Prompt
from braintrust.score import AsyncScorerLike, Classification, Score, SyncScorerLike
from braintrust.span_types import SpanTypeAttribute
from braintrust.state import BraintrustState, user_info
from braintrust.summary import (
    DatasetSummary,
    DataSummary,
    ExperimentSummary,
    MetricSummary,
    ScoreSummary,
    SummarySkipped,
    SummarySuccess,
)
from braintrust.prompts.versions import get_prompt_versions
from braintrust.tracing.api import (
    get_span_parent_object,
    parent_context,
    span_components_to_object_id,
    start_span,
    update_span,
)
from braintrust.tracing.ids import SpanIds
from braintrust.tracing.links import permalink
from braintrust.tracing.span import NOOP_SPAN, Span, SpanImpl, current_span
from braintrust.tracing.span_components import SpanComponentsV3, SpanComponentsV4, SpanObjectTypeV3
from braintrust.tracing.threads import TracedThreadPoolExecutor
from braintrust.tracing.traced import traced
from braintrust.tracing.w3c import extract_trace_context, inject_trace_context
from braintrust.wrappers.anthropic import TracedMessageStream, wrap_anthropic
from braintrust.wrappers.auto import auto_instrument
from braintrust.wrappers.litellm import LiteLLMWrapper, patch_litellm, unpatch_litellm, wrap_litellm
from braintrust.wrappers.openai import (
    AsyncResponseWrapper,
    CompletionWrapper,
    EmbeddingWrapper,
    ModerationWrapper,
    NamedWrapper,
    ResponsesWrapper,
    prettify_params,
    serialize_response_format,
    wrap_openai,
)

# Kept sorted (tests/test_public_api.py checks it, and the names still missing).
__all__ = [
    "AsyncResponseWrapper",
    "AsyncScorerLike",
    "Attachment",
    "AttachmentMetadata",
    "AttachmentReference",
    "AttachmentStatus",
    "BaseAttachment",
    "BaseExperiment",
    "BraintrustAttachmentReference",
    "BraintrustConsoleChunk",
    "BraintrustErrorChunk",
    "BraintrustInvokeError",
    "BraintrustJsonChunk",
    "BraintrustLogHandler",
    "BraintrustProgressChunk",
    "BraintrustState",
    "BraintrustStream",
    "BraintrustStreamChunk",
    "BraintrustTextChunk",
    "Classification",
    "ClassifierBuilder",
    "CodeFunction",
    "CodePrompt",
    "CompletionWrapper",
    "DataSummary",
    "Dataset",
    "DatasetSummary",
    "EmbeddingWrapper",
    "Eval",
    "EvalAsync",
    "EvalCase",
    "EvalHooks",
    "EvalParameters",
    "EvalResult",
    "EvalResultWithSummary",
    "EvalScorerArgs",
    "Evaluator",
    "Experiment",
    "ExperimentIdentifier",
    "ExperimentSummary",
    "ExternalAttachment",
    "ExternalAttachmentReference",
    "GitMetadataSettings",
    "JSONAttachment",
    "LiteLLMWrapper",
    "Logger",
    "MetricSummary",
    "ModerationWrapper",
    "NOOP_SPAN",
    "NamedWrapper",
    "ObjectMetadata",
    "ParametersBuilder",
    "Project",
    "ProjectBuilder",
    "Prompt",
    "PromptBuilder",
    "ReadonlyAttachment",
    "ReadonlyExperiment",
    "RemoteEvalParameters",
    "RepoInfo",
    "Reporter",
    "ReporterDef",
    "ResponsesWrapper",
    "RetryRequestExceptionsAdapter",
    "SSEProgressEvent",
    "Score",
    "ScoreSummary",
    "ScorerBuilder",
    "Span",
    "SpanComponentsV3",
    "SpanComponentsV4",
    "SpanIds",
    "SpanImpl",
    "SpanObjectTypeV3",
    "SpanScope",
    "SpanTypeAttribute",
    "SummarySkipped",
    "SummarySuccess",
    "SyncScorerLike",
    "TaskProgressEvent",
    "ToolBuilder",
    "TraceScope",
    "TracedMessageStream",
    "TracedThreadPoolExecutor",
    "auto_instrument",
    "current_experiment",
    "current_logger",
    "current_span",
    "extract_trace_context",
    "flush",
    "get_prompt_versions",
    "get_span_parent_object",
    "init",
    "init_dataset",
    "init_experiment",
    "init_function",
    "init_logger",
    "inject_trace_context",
    "invoke",
    "invoke_async",
    "load_parameters",
    "load_prompt",
    "load_prompt_async",
    "log",
    "login",
    "parent_context",
    "parse_stream",
    "patch_litellm",
    "permalink",
    "prettify_params",
    "projects",
    "serialize_response_format",
    "set_http_adapter",
    "set_masking_function",
    "set_thread_pool_max_workers",
    "span_components_to_object_id",
    "start_span",
    "summarize",
    "traced",
    "unpatch_litellm",
    "update_span",
    "user_info",
    "wrap_anthropic",
    "wrap_litellm",
    "wrap_openai",
]

#: The distribution this package ships in; another one providing ``braintrust`` is a conflict.
OWN_DISTRIBUTION = "pytest-braintrust"
_shadow_warned = False


def _other_braintrust_distribution() -> "tuple[str, str] | None":
    """``(version, metadata dir)`` of an installed distribution named ``braintrust`` (the public
    SDK), or None. Cheap: one directory listing per ``sys.path`` entry, no metadata parsing
    unless a candidate is found (importing ``importlib.metadata`` alone would cost ~15 ms)."""
    import os
    import sys

    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            lowered = name.lower()
            if not lowered.startswith("braintrust") or not lowered.endswith((".dist-info", ".egg-info")):
                continue
            project, _, version = name.rsplit(".", 1)[0].partition("-")
            if project.lower() != "braintrust":
                continue
            path = os.path.join(entry or ".", name)
            headers = _metadata_headers(path)
            if headers is not None:
                if headers.get("name", "").strip().lower().replace("_", "-").replace(".", "-") != "braintrust":
                    continue
                version = headers.get("version") or version
            elif not version[:1].isdigit():
                continue
            return (version or "(unknown version)"), path
    return None


def _metadata_headers(path: str) -> "dict[str, str] | None":
    """The ``Name``/``Version`` headers of a dist-info/egg-info directory (None if unreadable)."""
    import os

    for filename in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(path, filename), encoding="utf-8", errors="replace") as handle:
                headers: dict[str, str] = {}
                for line in handle:
                    if not line.strip():
                        break
                    key, sep, value = line.partition(":")
                    if sep and key.lower() in ("name", "version"):
                        headers[key.lower()] = value.strip()
                return headers
        except OSError:
            continue
    return None


def _warn_if_shadowed() -> None:
    global _shadow_warned
    if _shadow_warned:
        return
    _shadow_warned = True
    try:
        other = _other_braintrust_distribution()
    except Exception:  # a diagnostic must never break the import
        return
    if other is None:
        return
    import warnings

    version, path = other
    warnings.warn(
        f"Another installed distribution, braintrust {version} ({path}), also provides the "
        f"`braintrust` module, as {OWN_DISTRIBUTION} does; which one `import braintrust` loads "
        "depends on install order. Fix: `pip uninstall braintrust`, then install pytest-braintrust "
        "again (`pip install --force-reinstall --no-deps` with what you installed it from): both "
        "install the same files, so the uninstall removes them. pytest-braintrust provides the same API.",
        UserWarning,
        stacklevel=3,
    )


_warn_if_shadowed()


def _instrument_threads_if_asked() -> None:
    import os

    if os.environ.get("BRAINTRUST_INSTRUMENT_THREADS", "").lower() in ("true", "1", "yes"):
        from braintrust.wrappers.threads import setup_threads

        setup_threads()


_instrument_threads_if_asked()


def __getattr__(name: str) -> Any:
    # Imported on first use: it subclasses requests' HTTPAdapter, and importing requests costs
    # more than everything else here together.
    if name == "RetryRequestExceptionsAdapter":
        from braintrust.delivery.http_client import RetryRequestExceptionsAdapter

        return RetryRequestExceptionsAdapter
    if name == "logger":  # (``braintrust.logger.Experiment`` in annotations, as with 0.48.1's module)
        import braintrust.logger

        return braintrust.logger
    raise AttributeError(f"module 'braintrust' has no attribute {name!r}")
