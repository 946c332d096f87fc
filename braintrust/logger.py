"""Compatibility import path: ``from braintrust.logger import Span, NOOP_SPAN, ...``.

The public SDK keeps its tracing API in ``braintrust.logger`` (its reference documents that
module); code that imports from there gets the same objects as ``braintrust`` itself offers.
"""

from typing import Any

from braintrust.attachments.kinds import (
    Attachment,
    AttachmentMetadata,
    AttachmentReference,
    AttachmentStatus,
    BaseAttachment,
    ExternalAttachment,
    JSONAttachment,
    ReadonlyAttachment,
)
from braintrust.delivery.policy import set_http_adapter
from braintrust.delivery.runtime import flush
from braintrust.functions.definitions import Project
from braintrust.git import GitMetadataSettings, RepoInfo
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
from braintrust.parameters.remote import load_parameters
from braintrust.prompts.loading import load_prompt, load_prompt_async
from braintrust.prompts.prompt import Prompt
from braintrust.prompts.versions import get_prompt_versions
from braintrust.span_types import SpanTypeAttribute
from braintrust.state import BraintrustState, user_info
from braintrust.summary import (
    DataSummary,
    DatasetSummary,
    ExperimentSummary,
    MetricSummary,
    ScoreSummary,
    SummarySkipped,
    SummarySuccess,
)
from braintrust.tracing.api import (
    get_span_parent_object,
    parent_context,
    span_components_to_object_id,
    start_span,
    update_span,
)
from braintrust.tracing.ids import SpanIds
from braintrust.tracing.links import permalink
from braintrust.tracing.span import NOOP_PERMALINK as NOOP_SPAN_PERMALINK  # noqa: F401 (0.48.1's name; only here, as there)
from braintrust.tracing.span import NOOP_SPAN, Span, SpanImpl, current_span
from braintrust.tracing.span_components import SpanComponentsV3, SpanComponentsV4, SpanObjectTypeV3
from braintrust.tracing.threads import TracedThreadPoolExecutor
from braintrust.tracing.traced import traced
from braintrust.tracing.w3c import extract_trace_context, inject_trace_context

__all__ = [
    "Attachment",
    "AttachmentMetadata",
    "AttachmentReference",
    "AttachmentStatus",
    "BaseAttachment",
    "BraintrustState",
    "DataSummary",
    "Dataset",
    "DatasetSummary",
    "Experiment",
    "ExperimentIdentifier",
    "ExperimentSummary",
    "ExternalAttachment",
    "GitMetadataSettings",
    "JSONAttachment",
    "Logger",
    "MetricSummary",
    "NOOP_SPAN",
    "ObjectMetadata",
    "Project",
    "Prompt",
    "ReadonlyAttachment",
    "ReadonlyExperiment",
    "RepoInfo",
    "RetryRequestExceptionsAdapter",
    "ScoreSummary",
    "Span",
    "SpanComponentsV3",
    "SpanComponentsV4",
    "SpanIds",
    "SpanImpl",
    "SpanObjectTypeV3",
    "SpanTypeAttribute",
    "SummarySkipped",
    "SummarySuccess",
    "TracedThreadPoolExecutor",
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
    "init_logger",
    "inject_trace_context",
    "load_parameters",
    "load_prompt",
    "load_prompt_async",
    "log",
    "login",
    "parent_context",
    "permalink",
    "set_http_adapter",
    "set_masking_function",
    "span_components_to_object_id",
    "start_span",
    "summarize",
    "traced",
    "update_span",
    "user_info",
]


def __getattr__(name: str) -> Any:
    # (imported on first use, as ``braintrust`` does: it subclasses requests' HTTPAdapter)
    if name == "RetryRequestExceptionsAdapter":
        from braintrust.delivery.http_client import RetryRequestExceptionsAdapter

        return RetryRequestExceptionsAdapter
    raise AttributeError(f"module 'braintrust.logger' has no attribute {name!r}")
