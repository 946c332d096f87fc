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

# (The check lives in pytest_braintrust, which the public SDK's files cannot replace: installed
# after ours, it overwrites this file, and the plugin's import warns instead. Without it -- this
# package copied alone somewhere -- there is no distribution to check.)
try:
    from pytest_braintrust.distribution import warn_if_shadowed as _warn_if_shadowed
except ImportError:
    pass
else:
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
