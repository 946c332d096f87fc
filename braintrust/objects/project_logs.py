"""Project logs: ``init_logger``, ``Logger`` and ``login``."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from braintrust import jsonsafe, masking
from braintrust.config import default_project_id, default_project_name, secret
from braintrust.delivery.backend import PROJECT_LOGS, ObjectRef
from braintrust.delivery import open_rows
from braintrust.delivery.runtime import follow_destination, get_processor, prepare, resolve_ref
from braintrust.objects import log_records
from braintrust.objects.base import RowsObject
from braintrust.state import check_state, global_state
from braintrust.tracing import context, ids, reentry, span_origin
from braintrust.tracing.api import register_ref
from braintrust.tracing.record import hide_refused_value, timed_metrics, validate_event
from braintrust.tracing.span import _enqueue, caller_location, object_id_of
from braintrust.tracing.span_components import SpanComponentsV3, SpanComponentsV4, SpanObjectTypeV3
from braintrust.tracing.timestamps import iso_utc


@dataclasses.dataclass
class ObjectMetadata:
    """``experiment.project``, ``dataset.project``, ``logger.project`` (as 0.48.1's): the project's
    id and name, and ``full_info``, the project as Braintrust answered it (resolving it logs in if
    needed)."""

    id: str
    name: str
    full_info: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def of_project(cls, ref: ObjectRef, name: str | None = None) -> "ObjectMetadata":
        """The project of ``ref``, an object that is resolved."""
        info = ref.info
        return cls(info.get("project_id"), info.get("project_name") or name, dict(info.get("project_record") or {}))


class Logger(RowsObject):
    """Writes rows to a project's logs (root spans of type ``task``)."""

    __braintrust_placeholder__ = "<logger>"

    def __init__(self, ref: ObjectRef, async_flush: bool = True):
        self.ref = ref
        self.async_flush = async_flush
        self._last_log_time = time.time()
        # Read once, as the public SDK picks its id generator once: not two variables per row.
        self._legacy_ids = ids.legacy_ids()
        self._records_trace: str | None = None

    # -- identity ------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The project id (logs in and registers the project if needed)."""
        if not self.ref.ids:
            _login_now()
        resolve_ref(self.ref)
        return self.ref.ids["project_id"]  # type: ignore[index]

    @property
    def project(self) -> ObjectMetadata:
        project_id = self.id
        return ObjectMetadata.of_project(self.ref, self.ref.create_args.get("project_name"))

    @property
    def org_id(self) -> str | None:
        state = global_state()
        if not state.is_local() and not state.logged_in:
            state.login()
        return state.org_id

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
        allow_concurrent_with_spans: bool = False,
        dataset_record_id: str | None = None,
        **extra: Any,
    ) -> str:
        """Log one complete row (a root span started and ended at once); returns its id."""
        __tracebackhide__ = hide_refused_value
        event = {
            "input": input, "output": output, "expected": expected, "error": error, "tags": tags,
            "scores": scores, "metadata": metadata, "metrics": metrics, "dataset_record_id": dataset_record_id,
        }
        if extra:
            event.update(extra)
        clean = validate_event(event)
        if id is not None and not isinstance(id, str):  # (else the destination refuses it, with its batch)
            raise ValueError(f"logger.log: id must be a string, got {id!r:.60}.")
        row_id = id or ids.row_id()
        now = time.time()
        if self.ref.ids and masking.get_masking_function() is None:
            # The object is resolved: encode the row at once, from the caller's objects (the
            # bytes freeze them); the snapshot path below takes whatever this cannot encode.
            row = self._row(row_id, now, clean, clean.get("metrics"))
            row.update(self.ref.ids)
            encoded = jsonsafe.encode_fresh(row, clean)  # (the rest of the row is the SDK's own)
            if encoded is not None:
                if reentry.collecting is not None and reentry.collecting_here():  # (a finalizer's log: see reentry)
                    reentry.defer(lambda: _queue_encoded(self.ref, row_id, row, encoded))
                else:
                    _queue_encoded(self.ref, row_id, row, encoded)
                return self._logged(row_id, row["metrics"]["end"])
        data, size = jsonsafe.snapshot_fields(clean)
        row = self._row(row_id, now, data, data.get("metrics"))
        _enqueue(self.ref, row, size + 400)
        return self._logged(row_id, row["metrics"]["end"])

    def _row(self, row_id: str, now: float, fields: dict[str, Any], metrics: Any) -> dict[str, Any]:
        """The row of one ``log`` call: a root span started and ended at once."""
        legacy = self._legacy_ids
        span_id = ids.span_id(legacy)
        context = caller_location()
        context["span_origin"] = span_origin.ORIGIN
        row = {
            "id": row_id,
            "span_id": span_id,
            "root_span_id": span_id if legacy else ids.trace_id(legacy),
            "span_parents": None,
            "span_attributes": {"name": "root", "type": "task", "exec_counter": ids.next_exec_counter()},
            "created": iso_utc(now),
            "context": context,
        }
        row.update(fields)
        row["metrics"] = timed_metrics(metrics, self._last_log_time, now)  # (from the previous log's end)
        return row

    # -- log records ---------------------------------------------------------------------------

    def emit_log(self, body: Any, level: str, metadata: dict[str, Any] | None = None, **parameters: Any) -> str:
        """Log a record at ``level`` (trace, debug, info, warn, error, fatal), in the current
        span's trace if there is one; keyword parameters fill ``body`` as a ``str.format``
        template (see ``braintrust.objects.log_records``). Returns the record's row id."""
        __tracebackhide__ = hide_refused_value
        row_id = log_records.emit(self, body, level, metadata, parameters)
        if not self.async_flush:
            self.flush()
        return row_id

    def trace(self, body: Any, metadata: dict[str, Any] | None = None, **parameters: Any) -> str:
        return self.emit_log(body, "trace", metadata, **parameters)

    def debug(self, body: Any, metadata: dict[str, Any] | None = None, **parameters: Any) -> str:
        return self.emit_log(body, "debug", metadata, **parameters)

    def info(self, body: Any, metadata: dict[str, Any] | None = None, **parameters: Any) -> str:
        return self.emit_log(body, "info", metadata, **parameters)

    def warn(self, body: Any, metadata: dict[str, Any] | None = None, **parameters: Any) -> str:
        return self.emit_log(body, "warn", metadata, **parameters)

    def error(self, body: Any, metadata: dict[str, Any] | None = None, **parameters: Any) -> str:
        return self.emit_log(body, "error", metadata, **parameters)

    def fatal(self, body: Any, metadata: dict[str, Any] | None = None, **parameters: Any) -> str:
        return self.emit_log(body, "fatal", metadata, **parameters)

    def _records_trace_id(self) -> str:
        """The trace that records written outside any span join (one per logger)."""
        if self._records_trace is None:
            self._records_trace = ids.trace_id(self._legacy_ids)
        return self._records_trace

    def _logged(self, row_id: str, end: Any) -> str:
        self._last_log_time = end if isinstance(end, (int, float)) else time.time()
        if not self.async_flush:
            self.flush()
        return row_id

    def export(self) -> str:
        """A slug naming these logs, usable as ``parent=`` elsewhere."""
        cls = SpanComponentsV3 if ids.legacy_ids() else SpanComponentsV4
        object_id = object_id_of(self.ref)
        if object_id is not None:
            return cls(object_type=SpanObjectTypeV3.PROJECT_LOGS, object_id=object_id).to_str()
        return cls(
            object_type=SpanObjectTypeV3.PROJECT_LOGS,
            compute_object_metadata_args={"project_name": self.ref.create_args.get("project_name"), "project_id": None},
        ).to_str()

    def __repr__(self) -> str:
        return f"Logger(project={self.ref.create_args.get('project_name')!r})"


def init_logger(
    project: str | None = None,
    project_id: str | None = None,
    async_flush: bool = True,
    app_url: str | None = None,
    api_key: str | None = None,
    org_name: str | None = None,
    force_login: bool = False,
    set_current: bool = True,
    state: Any = None,
    environment: span_origin.SpanOriginEnvironment | None = None,
    _create_in_project_group: str | None = None,
) -> Logger:
    """A logger for a project's logs. Returns at once: nothing touches the network (or the
    local store) until rows are sent or ``logger.id`` is read. ``environment`` (``{"type",
    "name"}``) replaces the detected one on every span from now on (``span_origin``).
    ``_create_in_project_group`` (experimental, as in the public SDK): a new project goes into that
    project group (ignored with ``project_id``)."""
    api_key = secret(api_key)  # (tracebacks with locals, e.g. pytest -l, show this frame's arguments)
    check_state(state, "init_logger")
    global_state().configure(api_key=api_key, app_url=app_url, org_name=org_name, force_login=force_login)
    span_origin.set_environment(environment)
    if project is None and project_id is None:
        project = default_project_name()
        project_id = default_project_id()
    create_args: dict[str, Any] = {"project_name": project, "project_id": project_id}
    if _create_in_project_group is not None and project_id is None:
        create_args["project_group_name"] = _create_in_project_group
    ref = ObjectRef(PROJECT_LOGS, create_args)
    register_ref(ref)
    prepare()
    logger = Logger(ref, async_flush=async_flush)
    if set_current:
        # Current in this context (a task's or thread's own, as 0.48.1's), and process-wide for
        # contexts that set none.
        context.logger_var.set(logger)
        context.set_global_logger(logger)
    return logger


def login(app_url: str | None = None, api_key: str | None = None, org_name: str | None = None, force_login: bool = False) -> None:
    """Log in now. With no API key this selects the embedded local store instead of failing."""
    api_key = secret(api_key)  # (tracebacks with locals, e.g. pytest -l, show this frame's arguments)
    state = global_state()
    with state.credentials_kept_on_success():
        state.configure(api_key=api_key, app_url=app_url, org_name=org_name, force_login=force_login)
        if not state.is_local():
            state.login(force_login=force_login)
    follow_destination(kind_only=True)  # (rows logged locally before: later ones go to Braintrust, as 0.48.1's)


def _login_now() -> None:
    """Log in on the caller's thread so a refused key or unknown org raises its own
    ``ValueError`` (the public SDK's messages) rather than a delivery error."""
    state = global_state()
    if not state.is_local() and not state.logged_in:
        state.login()


def current_logger() -> Logger | None:
    return context.current_logger_object()


def _queue_encoded(ref: Any, row_id: str, row: dict[str, Any], encoded: bytes) -> None:
    """Queue an encoded row, after the row an open span holds with its id (if any)."""
    if open_rows._held:
        open_rows.release_id(row_id)
    get_processor().enqueue_encoded(ref, row, encoded)
