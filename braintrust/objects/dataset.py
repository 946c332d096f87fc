"""Datasets: ``init_dataset`` and ``Dataset`` (insert, update, delete, fetch, versions).

Writes go through the processor like every other row. Reads flush first, then page through
the server's (or the local store's) ``fetch``; ``version`` pins reads to a transaction id (or its
16-hex-digit form from the UI, sent as the id), so a pinned dataset reads the same records later. Attachment references in records come back as
``ReadonlyAttachment`` objects (``record["input"]["image"].data``), as in the public SDK.
"""

from __future__ import annotations

import datetime
import sys
from typing import Any, Iterator, Mapping

from braintrust import jsonsafe
from braintrust.config import default_project_id, default_project_name, secret
from braintrust.delivery.backend import DATASET, ObjectRef
from braintrust.delivery.runtime import flush as flush_all
from braintrust.delivery.runtime import resolve_ref
from braintrust.objects.project_logs import ObjectMetadata
from braintrust.objects.reads import FetchedRows, newest_version
from braintrust.xact_ids import normalize_version
from braintrust.state import check_state, global_state
from braintrust.summary import DatasetSummary
from braintrust.tracing import ids
from braintrust.tracing.record import validate_metadata, validate_tags
from braintrust.tracing.span import _enqueue


#: Fields of a record where attachment references become ``ReadonlyAttachment`` objects.
_DATA_FIELDS = ("input", "expected", "output", "metadata")


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _record_id(id: Any, call: str) -> str:
    """``id`` of a record, refused unless a string: the stores key records by string ids, so
    another type was accepted here and the row then failed to be written."""
    if not isinstance(id, str) or not id:
        raise ValueError(f"{call}: id must be a non-empty string, got {type(id).__name__} {id!r:.50}; pass id=str(...).")
    return id


def _text_argument(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"init_dataset({name}=...) must be a string, got {type(value).__name__} {value!r:.50}.")


class Dataset(FetchedRows):
    """Records (input, expected, metadata, tags) in a project, versioned by transaction."""

    __braintrust_placeholder__ = "<dataset>"

    def __init__(self, ref: ObjectRef, version: str | None = None, use_output: bool = False, environment: str | None = None,
                 btql: dict[str, Any] | None = None):
        self.ref = ref
        #: ``_internal_btql``: clauses (``filter``, ``limit``...) of the BTQL query reads are made with.
        self._internal_btql = btql
        #: Pinned version, as the transaction id (a version in the UI's pretty form is converted).
        self._pinned = normalize_version(version, "init_dataset(version=...)") if version is not None else None
        #: An environment ("production") whose version pins reads; ``version=`` wins over it.
        self.environment = environment if version is None else None
        self.use_output = use_output
        if use_output:
            print('Records will be fetched from this dataset in the legacy format, with the "expected" field renamed to '
                  '"output". Please update your code to use "expected", and use `braintrust.init_dataset()` with '
                  '`use_output=False` (the default).', file=sys.stderr)
        self.new_records = 0
        self._cache: list[dict[str, Any]] | None = None

    # -- identity ------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        resolve_ref(self.ref)
        return self.ref.ids["dataset_id"]  # type: ignore[index]

    @property
    def name(self) -> str:
        resolve_ref(self.ref)
        return self.ref.info.get("dataset_name") or self.ref.create_args.get("dataset_name") or ""

    @property
    def project(self) -> ObjectMetadata:
        resolve_ref(self.ref)
        return ObjectMetadata.of_project(self.ref)

    @property
    def pinned_version(self) -> str | None:
        """The version reads are pinned to: ``version=``, else the one ``environment=`` points at
        (asked of Braintrust once, at the first read), else None (the latest)."""
        if self._pinned is None and self.environment is not None:
            from braintrust.objects.reads import reads

            describe = f"Dataset {self.name} (project {self.project.name})"
            self._pinned = reads().environment_version(DATASET, self.id, self.environment, describe)
        return self._pinned

    @pinned_version.setter
    def pinned_version(self, version: str | None) -> None:
        self._pinned = version

    @property
    def explicit_version(self) -> str | None:
        """The version given (``version=``, or pinned since), without asking for an environment's."""
        return self._pinned

    # -- writing -------------------------------------------------------------------------------

    def _write(self, row: dict[str, Any], size: int) -> None:
        self._cache = None
        _enqueue(self.ref, row, size + 200)

    def insert(self, input: Any = None, expected: Any = None, tags: Any = None, metadata: Any = None, id: str | None = None, output: Any = None) -> str:
        """Add a record (``output`` is the deprecated name of ``expected``); returns its id."""
        if expected is not None and output is not None:
            raise ValueError("Pass expected= or the deprecated output=, not both.")
        fields = {
            "input": input,
            "expected": expected if expected is not None else output,
            "tags": validate_tags(tags) if tags is not None else None,
        }
        if metadata is not None:
            fields["metadata"] = validate_metadata(metadata)
        data, size = jsonsafe.snapshot_fields(fields)
        row_id = ids.row_id() if id is None or id == "" else _record_id(id, "Dataset.insert")
        self._write({"id": row_id, **data, "created": _now()}, size)
        self.new_records += 1
        return row_id

    def update(self, id: str, input: Any = None, expected: Any = None, tags: Any = None, metadata: Any = None) -> str:
        """Merge the given fields into record ``id``."""
        _record_id(id, "Dataset.update")
        fields: dict[str, Any] = {}
        if input is not None:
            fields["input"] = input
        if expected is not None:
            fields["expected"] = expected
        if tags is not None:
            fields["tags"] = validate_tags(tags)
        if metadata is not None:
            fields["metadata"] = validate_metadata(metadata)
        data, size = jsonsafe.snapshot_fields(fields)
        self._write({"id": id, **data, "_is_merge": True}, size)
        return id

    def delete(self, id: str) -> str:
        _record_id(id, "Dataset.delete")
        self._write({"id": id, "created": _now(), "_object_delete": True}, 100)
        return id

    # -- reading -------------------------------------------------------------------------------

    def fetch(self, batch_size: int | None = None) -> Iterator[dict[str, Any]]:
        """The records (as of the pinned version, if any), paged ``batch_size`` at a time. All
        pages are read before the first record is given, as 0.48.1 does: records inserted while
        iterating are not read back by the same loop."""
        if self._cache is None or batch_size is not None:
            from braintrust.objects.reads import reads

            flush_all()
            if self._internal_btql:  # (as 0.48.1: POST /btql, not the dataset's fetch)
                rows = reads().query_rows(DATASET, self.id, self._internal_btql, version=self.pinned_version, batch_size=batch_size)
            else:
                rows = reads().fetch(DATASET, self.id, version=self.pinned_version, batch_size=batch_size)
            self._cache = [self._normalize(row) for row in rows]
        yield from self._cache

    def _normalize(self, row: dict[str, Any]) -> dict[str, Any]:
        from braintrust.attachments.kinds import with_readonly_attachments

        record = {key: with_readonly_attachments(value) if key in _DATA_FIELDS else value for key, value in row.items()}
        if self.use_output:  # the legacy form: "expected" named "output" (as 0.48.1 reads it)
            if "output" not in record:
                record["output"] = record.pop("expected", None)
        elif "expected" not in record and "output" in record:  # (a legacy row)
            record["expected"] = record.pop("output")
        return record

    @property
    def version(self) -> str:
        """The pinned version, else the newest ``_xact_id`` among the records (or "0")."""
        if self.pinned_version is not None:
            return self.pinned_version
        return newest_version(self.fetch())

    def summarize(self, summarize_data: bool = True) -> DatasetSummary:
        from braintrust.objects.reads import reads

        self.flush()
        resolve_ref(self.ref)
        return reads().summarize_dataset(self.ref, self.new_records, summarize_data)

    def flush(self) -> Any:
        return flush_all()

    def close(self) -> str:
        """Flush and return the dataset id. Deprecated in 0.48.1, which says so on stderr: so does this."""
        from braintrust.objects.experiment import deprecated

        deprecated("close is deprecated and will be removed in a future version of braintrust. "
                   "It is now a no-op and can be removed")
        self.flush()
        return self.id

    def __enter__(self) -> "Dataset":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.flush()

    def __repr__(self) -> str:
        pinned = f", version={self._pinned!r}" if self._pinned is not None else ""
        if self._pinned is None and self.environment is not None:  # (not resolved here: a repr asks no server)
            pinned = f", environment={self.environment!r}"
        if self._internal_btql:
            pinned += f", _internal_btql={self._internal_btql!r:.200}"
        args = self.ref.create_args
        if args.get("dataset_id") is not None and args.get("dataset_name") is None:  # (opened by id: no names known yet)
            return f"Dataset(dataset_id={args['dataset_id']!r}{pinned})"
        return f"Dataset(project={args.get('project_name')!r}, name={args.get('dataset_name')!r}{pinned})"


def init_dataset(
    project: str | None = None,
    name: str | None = None,
    description: str | None = None,
    version: str | int | None = None,
    app_url: str | None = None,
    api_key: str | None = None,
    org_name: str | None = None,
    project_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    use_output: bool = False,
    _internal_btql: dict | None = None,
    state: Any = None,
    environment: str | None = None,
    dataset_id: str | None = None,
) -> Dataset:
    """A dataset handle; created (or found by name) lazily, on first write or read."""
    api_key = secret(api_key)  # (tracebacks with locals, e.g. pytest -l, show this frame's arguments)
    check_state(state, "init_dataset")
    btql = _btql_clauses(_internal_btql)
    for argument, value in (("project", project), ("name", name), ("description", description), ("project_id", project_id),
                            ("dataset_id", dataset_id), ("environment", environment)):
        _text_argument(argument, value)
    global_state().configure(api_key=api_key, app_url=app_url, org_name=org_name)
    if project is None and project_id is None and dataset_id is None:
        project = default_project_name()
        project_id = default_project_id()
    if project is None and project_id is None and dataset_id is None:
        raise ValueError("init_dataset needs project= (or project_id=, dataset_id=, or BRAINTRUST_PROJECT_NAME).")
    create_args: dict[str, Any] = {"project_name": project, "project_id": project_id, "dataset_name": name}
    if dataset_id is not None:
        create_args["dataset_id"] = dataset_id
    if description is not None:
        create_args["description"] = description
    if metadata is not None:
        create_args["metadata"] = jsonsafe.snapshot(validate_metadata(metadata))[0]
    return Dataset(ObjectRef(DATASET, create_args), version=str(version) if version is not None else None, use_output=use_output,
                   environment=environment, btql=btql)


def _btql_clauses(given: Any) -> dict[str, Any] | None:
    """``_internal_btql``, over the clauses a ``braintrust eval`` runner set for every dataset
    (``builtins.__bt_eval_internal_btql``), as 0.48.1 merges them."""
    import builtins
    from collections.abc import Mapping

    if given is not None and not isinstance(given, Mapping):
        raise ValueError(f"init_dataset(_internal_btql=...) must be a dict of BTQL clauses (e.g. {{'filter': ...}}), "
                         f"got {type(given).__name__} {given!r:.50}.")
    runner = getattr(builtins, "__bt_eval_internal_btql", None)
    if isinstance(runner, Mapping):
        return {**runner, **(given or {})}
    return dict(given) if given is not None else None
