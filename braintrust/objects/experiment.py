"""Experiments: ``init`` / ``init_experiment``, ``Experiment``, ``ReadonlyExperiment``.

Registration is lazy, as with loggers: the experiment is created (on the server or in the local
store) when its first rows are sent or its id is needed. ``summarize`` flushes first, then asks
the server for the comparison (or computes it locally against the base experiment).
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Iterator

from braintrust import jsonsafe
from braintrust.config import default_project_id, default_project_name, secret
from braintrust.delivery.backend import EXPERIMENT, ObjectRef
from braintrust.delivery.runtime import prepare, resolve_ref
from braintrust.objects.base import RowsObject
from braintrust.objects.project_logs import ObjectMetadata
from braintrust.objects.reads import FetchedRows
from braintrust.state import check_state, global_state
from braintrust.summary import ExperimentSummary
from braintrust.tracing import context, ids, span_origin
from braintrust.tracing.record import hide_refused_value, timed_metrics, validate_event
from braintrust.tracing.span import SpanImpl, _enqueue, caller_location
from braintrust.tracing.span_components import SpanComponentsV3, SpanComponentsV4, SpanObjectTypeV3


@dataclass
class ExperimentIdentifier:
    """``fetch_base_experiment()``'s answer: both None when there is no base (as in the public SDK)."""

    id: str | None
    name: str | None


def _readable(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Rows as read back, each attachment reference in them a ``ReadonlyAttachment`` (as 0.48.1)."""
    from braintrust.attachments.kinds import with_readonly_attachments

    for row in rows:
        yield with_readonly_attachments(row)


class Experiment(RowsObject, FetchedRows):
    """A set of traces that can be summarized and compared with a base experiment."""

    __braintrust_placeholder__ = "<experiment>"
    ROOT_SPAN_TYPE = "eval"

    def __init__(self, ref: ObjectRef, dataset: Any = None):
        self.ref = ref
        self.dataset = dataset
        self._last_log_time = time.time()
        self._spans_started = False
        self._called_log = False

    # -- identity ------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        resolve_ref(self.ref)
        return self.ref.ids["experiment_id"]  # type: ignore[index]

    @property
    def name(self) -> str:
        resolve_ref(self.ref)
        return self.ref.info.get("experiment_name") or self.ref.create_args.get("experiment_name") or ""

    @property
    def project(self) -> ObjectMetadata:
        resolve_ref(self.ref)
        return ObjectMetadata.of_project(self.ref)

    # -- reading -------------------------------------------------------------------------------

    def fetch(self, batch_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Its rows as stored, after sending what was logged so far (``batch_size`` per page): as
        they were when the iteration started, so rows logged while iterating come in the next
        ``fetch()``, not in this one (which would otherwise never end)."""
        from braintrust.objects.reads import reads

        self.flush()
        yield from _readable(reads().snapshot(EXPERIMENT, self.id, batch_size=batch_size))

    # -- writing -------------------------------------------------------------------------------

    def log(
        self,
        input: Any = None,
        output: Any = None,
        expected: Any = None,
        error: Any = None,
        tags: Any = None,
        scores: Any = None,
        metadata: Any = None,
        metrics: Any = None,
        id: str | None = None,
        dataset_record_id: str | None = None,
        allow_concurrent_with_spans: bool = False,
        inputs: Any = None,
        **extra: Any,
    ) -> str:
        """Log one complete evaluation row (input, output, scores...); returns its id."""
        __tracebackhide__ = hide_refused_value
        if self._spans_started and not allow_concurrent_with_spans:
            raise ValueError(
                "Cannot run toplevel log method while using spans. To log to the span, call "
                "experiment.start_span and then log with span.log, or pass allow_concurrent_with_spans=True."
            )
        if input is None and inputs is None:
            raise ValueError("experiment.log needs input= (the case's input).")
        if output is None:
            raise ValueError("experiment.log needs output= (what the case produced; as in 0.48.1, None is not an output).")
        if scores is None:
            raise ValueError("experiment.log needs scores= (a dict of name -> number in [0, 1]; may be empty).")
        event = dict(
            input=input, inputs=inputs, output=output, expected=expected, error=error, tags=tags, scores=scores,
            metadata=metadata, metrics=metrics, **extra,  # (dataset_record_id: unused, as in 0.48.1)
        )
        clean = validate_event({k: v for k, v in event.items() if v is not None})
        if id is not None and not isinstance(id, str):  # (else the destination refuses it, with its batch)
            raise ValueError(f"experiment.log: id must be a string, got {id!r:.60}.")
        row_id = id or ids.row_id()
        now = time.time()
        data, size = jsonsafe.snapshot_fields(clean)
        legacy = ids.legacy_ids()
        span_id = ids.span_id(legacy)
        row = {
            "id": row_id,
            "span_id": span_id,
            "root_span_id": span_id if legacy else ids.trace_id(legacy),  # (a legacy root is its own trace)
            "span_parents": None,
            "span_attributes": {"name": "root", "type": "eval", "exec_counter": ids.next_exec_counter()},
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "context": {**caller_location(), "span_origin": span_origin.ORIGIN},
        }
        row.update(data)
        row["metrics"] = timed_metrics(data.get("metrics"), self._last_log_time, now)  # (from the previous log's end)
        end = row["metrics"]["end"]
        self._last_log_time = end if isinstance(end, (int, float)) else now
        self._called_log = True
        _enqueue(self.ref, row, size + 400)
        return row_id

    def start_span(self, name=None, type=None, span_attributes=None, start_time=None, set_current=None, parent=None,
                   propagated_event=None, internal=None, **event: Any) -> SpanImpl:
        """Start a root span (type ``eval``) in this experiment."""
        self._spans_started = True
        return super().start_span(name=name, type=type, span_attributes=span_attributes, start_time=start_time,
                                  set_current=set_current, parent=parent, propagated_event=propagated_event,
                                  internal=internal, **event)

    # -- reading and summaries ------------------------------------------------------------------

    def fetch_base_experiment(self) -> ExperimentIdentifier | None:
        """Its base experiment's id and name (both None when it has none); None when Braintrust
        refuses the question (as it does for an experiment with no base), as 0.48.1 returns."""
        from braintrust.objects.reads import NO_ANSWER, reads

        resolve_ref(self.ref)
        base = reads().base_experiment(self.ref)
        if base is NO_ANSWER:
            return None
        return ExperimentIdentifier(id=base["id"], name=base["name"]) if base else ExperimentIdentifier(id=None, name=None)

    def summarize(self, summarize_scores: bool = True, comparison_experiment_id: str | None = None) -> ExperimentSummary:
        """Flush, then summarize the experiment against ``comparison_experiment_id`` (default:
        its base experiment; else, in the local store, ``baseline.default_baseline``)."""
        from braintrust.objects.reads import reads

        self.flush()
        resolve_ref(self.ref)
        return reads().summarize_experiment(self.ref, summarize_scores, comparison_experiment_id)

    def export(self) -> str:
        cls = SpanComponentsV3 if ids.legacy_ids() else SpanComponentsV4
        return cls(object_type=SpanObjectTypeV3.EXPERIMENT, object_id=self.id).to_str()

    def close(self) -> str:
        """Flush and return the experiment id (the object stays usable). Deprecated in 0.48.1,
        which says so on stderr: so does this."""
        deprecated("close is deprecated and will be removed in a future version of braintrust. "
                   "It is now a no-op and can be removed")
        self.flush()
        return self.id

    def __repr__(self) -> str:
        return f"Experiment(project={self.ref.create_args.get('project_name')!r}, name={self.ref.create_args.get('experiment_name')!r})"


class ReadonlyExperiment(FetchedRows):
    """An existing experiment opened with ``init(..., open=True)``: iterate its rows."""

    __braintrust_placeholder__ = "<experiment>"

    def __init__(self, ref: ObjectRef):
        self.ref = ref

    @property
    def id(self) -> str:
        resolve_ref(self.ref)
        return self.ref.ids["experiment_id"]  # type: ignore[index]

    @property
    def name(self) -> str:
        resolve_ref(self.ref)
        return self.ref.info.get("experiment_name") or self.ref.create_args.get("experiment_name") or ""

    def fetch(self, batch_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Its rows as they were when the iteration started (see ``Experiment.fetch``)."""
        from braintrust.objects.reads import reads

        yield from _readable(reads().snapshot(EXPERIMENT, self.id, batch_size=batch_size))

    def as_dataset(self, batch_size: int | None = None) -> Iterator[dict[str, Any]]:
        """Its root spans as eval cases, as 0.48.1's records: ``input``, ``expected`` (else the
        output), ``tags``, ``metadata``, ``id`` and ``_xact_id``. (0.48.1 picks the roots by
        comparing a row's trace id with its span id, which differ with its default ids, so it
        yields none unless ``BRAINTRUST_LEGACY_IDS`` is set; ours takes the rows with no parent.)"""
        for row in self.fetch(batch_size=batch_size):
            if row.get("span_parents"):
                continue
            yield {
                "input": row.get("input"),
                "expected": row["expected"] if row.get("expected") is not None else row.get("output"),
                "tags": row.get("tags"),
                "metadata": row.get("metadata"),
                "id": row.get("id"),
                "_xact_id": row.get("_xact_id"),
            }


def init(
    project: str | None = None,
    experiment: str | None = None,
    description: str | None = None,
    dataset: Any = None,
    parameters: Any = None,
    open: bool = False,
    base_experiment: str | None = None,
    is_public: bool = False,
    app_url: str | None = None,
    api_key: str | None = None,
    org_name: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    git_metadata_settings: Any = None,
    set_current: bool = True,
    update: bool | None = None,
    project_id: str | None = None,
    base_experiment_id: str | None = None,
    repo_info: Any = None,
    state: Any = None,
) -> Experiment | ReadonlyExperiment:
    """Create (or with ``update=True`` reuse, with ``open=True`` read) an experiment.
    ``parameters``: the saved parameters it ran with (``{"id", "version"?}``, or an object with
    ``id`` and ``version``), recorded on the experiment in Braintrust."""
    api_key = secret(api_key)  # (tracebacks with locals, e.g. pytest -l, show this frame's arguments)
    from braintrust.tracing.record import validate_metadata, validate_tags

    check_state(state, "init")
    if open and update:
        raise ValueError("Cannot open and update an experiment at the same time; pass one of open=True or update=True.")
    global_state().configure(api_key=api_key, app_url=app_url, org_name=org_name)
    if project is None and project_id is None:
        project = default_project_name()
        project_id = default_project_id()
    if project is None and project_id is None:
        # (0.48.1's words first: callers match on them)
        raise ValueError(
            "Must specify at least one of project or project_id: init needs project= "
            "(or project_id=, or BRAINTRUST_PROJECT_NAME in the environment)."
        )
    if open:
        if experiment is None:
            raise ValueError(
                "Cannot open an experiment without specifying its name: init(open=True) needs "
                "experiment= (the name of the experiment to open)."
            )
        ref = ObjectRef(EXPERIMENT, {"project_name": project, "project_id": project_id, "experiment_name": experiment, "open": True})
        return ReadonlyExperiment(ref)
    create_args: dict[str, Any] = {
        "project_name": project,
        "project_id": project_id,
        "experiment_name": experiment,
        "ensure_new": update is not True,
        "public": bool(is_public),
        "cwd": os.getcwd(),
    }
    if description is not None:
        create_args["description"] = description
    if metadata is not None:
        create_args["metadata"] = jsonsafe.snapshot(validate_metadata(metadata))[0]
    if tags is not None:
        create_args["tags"] = validate_tags(tags)
    if base_experiment_id is not None:
        create_args["base_exp_id"] = base_experiment_id
    elif base_experiment is not None:
        create_args["base_experiment"] = base_experiment
    if repo_info is not None:
        create_args["repo_info"] = _repo_info_dict(repo_info)
    if git_metadata_settings is not None:
        create_args["git_metadata_settings"] = _settings_dict(git_metadata_settings)
    if dataset is not None:
        create_args.update(_dataset_args(dataset))
    if parameters is not None:
        create_args.update(_parameters_args(parameters))
    ref = ObjectRef(EXPERIMENT, create_args)
    prepare()
    from braintrust.objects.dataset import Dataset

    # (a dataset given by {"id", "version"} only links the experiment: no Dataset to read, as in 0.48.1)
    experiment_object = Experiment(ref, dataset=dataset if isinstance(dataset, Dataset) else None)
    if set_current:
        context.set_global_experiment(experiment_object)
    return experiment_object


def _parameters_args(parameters: Any) -> dict[str, Any]:
    """``parameters_id`` / ``parameters_version`` of a saved-parameters reference."""
    if isinstance(parameters, Mapping):
        parameters_id, version = parameters.get("id"), parameters.get("version")
    else:
        parameters_id, version = getattr(parameters, "id", None), getattr(parameters, "version", None)
    if not isinstance(parameters_id, str) or not parameters_id:
        raise ValueError(f"init(parameters=...) takes a reference to saved parameters, {{'id': ..., 'version': ...}} "
                         f"(or an object with id and version); got {parameters!r:.200}.")
    return {"parameters_id": parameters_id, **({"parameters_version": str(version)} if version is not None else {})}


def attach_experiment(identity: dict[str, Any]) -> Experiment:
    """An ``Experiment`` for an experiment that already exists (by id), without registering
    anything: how pytest-xdist workers and CI shards join the run's experiment."""
    ref = ObjectRef(
        EXPERIMENT,
        {"project_name": identity.get("project_name"), "project_id": identity.get("project_id"), "experiment_id": identity["experiment_id"]},
        ids={"experiment_id": identity["experiment_id"]},
        info={k: identity.get(k) for k in ("project_id", "project_name", "experiment_name") if identity.get(k) is not None},
    )
    return Experiment(ref)


def share_experiment(reference: dict[str, Any]) -> Experiment:
    """An ``Experiment`` writing under another process's experiment reference
    (``ObjectRef.to_json()``) that is not registered yet: the same key and creation arguments, so
    the local store registers it once whichever process gets there first, and ``braintrust
    replay`` creates it once from the rows both spilled."""
    return Experiment(ObjectRef.from_json(reference))


def init_experiment(*args: Any, **kwargs: Any) -> Experiment | ReadonlyExperiment:
    """Alias of ``init``."""
    return init(*args, **kwargs)


def current_experiment() -> Experiment | None:
    return context.current_experiment_object()


def log(**event: Any) -> str:
    """Log a row to the current experiment (deprecated in the public SDK; kept for old code)."""
    __tracebackhide__ = hide_refused_value
    deprecated("braintrust.log is deprecated and will be removed in a future version of braintrust. "
               "Use `experiment.log` instead.")
    experiment = current_experiment()
    if experiment is None:
        raise ValueError("Not initialized. Please call braintrust.init(...) before calling braintrust.log(...).")
    return experiment.log(**event)


def summarize(summarize_scores: bool = True, comparison_experiment_id: str | None = None) -> ExperimentSummary:
    """Summarize the current experiment (deprecated in the public SDK; kept for old code)."""
    deprecated("braintrust.summarize is deprecated and will be removed in a future version of braintrust. "
               "Use `experiment.summarize` instead.")
    experiment = current_experiment()
    if experiment is None:
        raise ValueError("Not initialized. Please call braintrust.init(...) before calling braintrust.summarize().")
    return experiment.summarize(summarize_scores=summarize_scores, comparison_experiment_id=comparison_experiment_id)


def deprecated(notice: str) -> None:
    """Say on stderr that a call is deprecated, in 0.48.1's words (a notice, not a warning that
    ``-W error`` would turn into a failure)."""
    import sys

    print(notice, file=sys.stderr)


def _repo_info_dict(repo_info: Any) -> dict[str, Any]:
    import dataclasses

    if dataclasses.is_dataclass(repo_info) and not isinstance(repo_info, type):
        return dataclasses.asdict(repo_info)
    if isinstance(repo_info, dict):
        return dict(repo_info)
    raise ValueError(f"repo_info must be a RepoInfo or a dict, got {type(repo_info).__name__}.")


def _settings_dict(settings: Any) -> dict[str, Any]:
    import dataclasses

    if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
        return dataclasses.asdict(settings)
    if isinstance(settings, dict):
        return dict(settings)
    raise ValueError("git_metadata_settings must be a GitMetadataSettings or a dict like {'collect': 'some', 'fields': [...]}.")


def _dataset_args(dataset: Any) -> dict[str, Any]:
    if isinstance(dataset, dict):
        if "id" not in dataset:
            raise ValueError("dataset= as a dict needs an 'id' (and optionally a 'version').")
        args = {"dataset_id": dataset["id"]}
        if dataset.get("version") is not None:
            args["dataset_version"] = str(dataset["version"])
        return args
    dataset_id = getattr(dataset, "id", None)
    if dataset_id is None:
        raise ValueError("dataset= must be a Dataset from init_dataset or a dict {'id': ..., 'version': ...}.")
    args = {"dataset_id": dataset_id}
    version = getattr(dataset, "version", None)
    if version is not None:
        args["dataset_version"] = str(version)
    return args
