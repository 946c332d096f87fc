"""Reading back: rows of experiments and datasets, summaries, base experiments.

``reads()`` answers from the Braintrust API when logged in with a key, else from the local
store; both give the same shapes, so objects above never ask which one they talk to.
"""

from __future__ import annotations

import itertools
import logging
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator
from urllib.parse import quote

from braintrust.delivery.backend import DATASET, EXPERIMENT, BackendError, ObjectRef
from braintrust.delivery.deadline import Deadline
from braintrust.state import global_state
from braintrust.store.location import command_store_args
from braintrust.summary import DatasetSummary, DataSummary, ExperimentSummary

#: ``base_experiment``'s answer when Braintrust refused the question (``fetch_base_experiment``
#: is then None, as in 0.48.1).
NO_ANSWER: dict[str, Any] = {"id": None, "name": None}

log = logging.getLogger("braintrust")

FETCH_BATCH = 1000
MAX_FETCH_PAGES = 10000
REQUEST_TIMEOUT_SECONDS = 60.0

#: One deadline for every read made inside ``bounded_by`` (else each request has its own).
_shared_deadline: ContextVar[Deadline | None] = ContextVar("braintrust_reads_deadline", default=None)


@contextmanager
def bounded_by(seconds: float) -> Iterator[None]:
    """Every API read made inside (logins, retries and backoff included) shares one deadline of
    ``seconds``: a host that must end in time (the pytest plugin's summaries, after its flush)
    waits that long at most, not ``REQUEST_TIMEOUT_SECONDS`` per request."""
    token = _shared_deadline.set(Deadline(seconds))
    try:
        yield
    finally:
        _shared_deadline.reset(token)


def _request_deadline() -> Deadline:
    return _shared_deadline.get() or Deadline(REQUEST_TIMEOUT_SECONDS)


class FetchedRows:
    """Iteration, ``version`` and ``fetched_data`` for an object whose ``fetch()`` yields its rows
    (experiments, read-only experiments, datasets), and ``data``, the object itself."""

    ref: ObjectRef
    id: str

    @property
    def logging_state(self) -> Any:
        """The process's ``BraintrustState`` (this SDK keeps one)."""
        from braintrust.state import global_state

        return global_state()

    def fetch(self, batch_size: int | None = None) -> Iterator[dict[str, Any]]:
        raise NotImplementedError

    @property
    def data(self) -> dict[str, Any]:
        """The object itself, not its rows, as Braintrust (or the local store) holds it: ``id``,
        ``name``, ``project_id``, ``created``, ``description``, ``metadata``... (registers it)."""
        object_id = self.id
        record = self.ref.info.get("record")
        if record is None:  # (joined by id: never registered here)
            record = self.ref.info["record"] = reads().object_record(self.ref.object_type, object_id)
        return dict(record)

    def __getattr__(self, name: str) -> Any:
        """Another field of the object itself (``description``, ``created``, ``metadata``...), read
        from ``data``, as the public SDK's experiments and datasets answer them."""
        if name.startswith("_") or name in ("ref", "id"):  # (never looked up in the object: no recursion)
            raise AttributeError(name)
        data = self.data
        if name in data:
            return data[name]
        raise AttributeError(f"{type(self).__name__!s} has no attribute {name!r} (its fields: {', '.join(sorted(data))})")

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.fetch()

    @property
    def version(self) -> str:
        """The newest ``_xact_id`` among its rows (or "0")."""
        return newest_version(self.fetch())

    @property
    def fetched_data(self) -> list[dict[str, Any]]:
        return fetched_data(self.fetch())


def newest_version(rows: Iterator[dict[str, Any]]) -> str:
    """The newest ``_xact_id`` among ``rows`` (transaction ids grow; compared as numbers), or "0"."""
    versions = [str(r["_xact_id"]) for r in rows if r.get("_xact_id") is not None]
    return max(versions, key=lambda v: (len(v), v)) if versions else "0"


def fetched_data(rows: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    """``obj.fetched_data``: every row as a list; deprecated, which it says on stderr as 0.48.1
    does (a notice, not a warning that ``-W error`` would turn into a failure)."""
    import sys

    print(".fetched_data is deprecated and will be removed in a future version of braintrust. "
          "Use .fetch() or the iterator instead", file=sys.stderr)
    return list(rows)


def page_size(batch_size: Any) -> int:
    """The rows a page holds: ``batch_size`` (a positive integer), else ``FETCH_BATCH``."""
    if batch_size is None:
        return FETCH_BATCH
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"fetch(batch_size=...) must be a positive integer (rows per page), got {batch_size!r:.50}.")
    return batch_size


def reads() -> "ApiReads | LocalReads":
    if global_state().is_local():
        return LocalReads()
    return ApiReads()


def _skipped_summary(ref: ObjectRef, reason: str, urls: tuple[str | None, str | None], local_hint: str | None = None,
                     error: str | None = None) -> ExperimentSummary:
    """A summary without scores; ``urls``: the project's and the experiment's."""
    return ExperimentSummary(
        project_name=ref.info.get("project_name") or "",
        project_id=ref.info.get("project_id"),
        experiment_id=(ref.ids or {}).get("experiment_id"),
        experiment_name=ref.info.get("experiment_name") or "",
        project_url=urls[0],
        experiment_url=urls[1],
        comparison_experiment_name=None,
        comparison_status="skipped",
        comparison_reason=reason,
        local_hint=local_hint,
        comparison_error=error,
    )


class ApiReads:
    def __init__(self) -> None:
        from braintrust.delivery.runtime import get_processor

        self.backend = get_processor()._backend_instance()
        self.state = global_state()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.backend._call(method, path, _request_deadline(), **kwargs)

    def where(self) -> str:
        return f"Braintrust at {self.state.shown_app_url()}"

    def fetch(self, object_type: str, object_id: str, version: str | None = None, batch_size: int | None = None) -> Iterator[dict[str, Any]]:
        """The rows as of ``version``, else as they are as each page is read: a caller that
        writes into the object between pages wants ``snapshot``."""
        for events, _cursor in self._pages(object_type, object_id, version, batch_size):
            yield from events

    def snapshot(self, object_type: str, object_id: str, batch_size: int | None = None) -> Iterator[dict[str, Any]]:
        """The rows as they were when the read started, page by page (memory holds one page):
        rows written meanwhile (by the loop reading them, say) are not given, so such a loop ends.
        The cursor alone would bring them, so an object longer than a page is read once to learn
        its newest ``_xact_id``, then again with that ``version``. (A row deleted after the last
        write to the rows still there would come back: experiments' rows are never deleted.)"""
        pages = self._pages(object_type, object_id, None, batch_size)
        first, cursor = next(pages)
        if not cursor:
            yield from first
            return
        newest = newest_version(itertools.chain(first, (row for events, _cursor in pages for row in events)))
        if newest == "0":  # (no row told its version: pinning "0" would read none of them)
            log.warning("braintrust: %s %s answered rows without _xact_id; reading it without a pinned version.", object_type, object_id)
            newest = None
        yield from self.fetch(object_type, object_id, version=newest, batch_size=batch_size)

    def _pages(self, object_type: str, object_id: str, version: str | None,
               batch_size: int | None) -> Iterator[tuple[list[dict[str, Any]], str | None]]:
        """``(events, cursor)`` of each page of ``POST /v1/{type}/{id}/fetch``, ``version`` in every request."""
        limit = page_size(batch_size)
        cursor = None
        for pages in range(MAX_FETCH_PAGES):
            body: dict[str, Any] = {"limit": limit}
            if cursor:
                body["cursor"] = cursor
            if version is not None:
                body["version"] = str(version)
            page = self._call("POST", f"/v1/{object_type}/{object_id}/fetch", body=body)
            previous, cursor = cursor, page.get("cursor")
            yield page.get("events") or [], cursor
            if not cursor:
                return
            if cursor == previous:  # (the same page again: reading on would never end)
                log.warning("braintrust: reading %s %s stopped after %d pages: the server answered the same cursor "
                            "twice, so the rows after it were not read.", object_type, object_id, pages + 1)
                return
        log.warning("braintrust: reading %s %s stopped after %d pages (the most one read takes); the rows after them "
                    "were not read: read it in larger pages (batch_size=) or by version.", object_type, object_id, MAX_FETCH_PAGES)

    def traces(self, object_type: str, object_id: str, root_span_ids: set[str]) -> dict[str, list[dict[str, Any]]]:
        """The rows of these traces (by ``root_span_id``), one query each (see ``trace_rows``)."""
        return {root_span_id: self.trace_rows(object_type, object_id, root_span_id) for root_span_id in sorted(root_span_ids)}

    def trace_rows(self, object_type: str, object_id: str, root_span_id: str, batch_size: int | None = None) -> list[dict[str, Any]]:
        """The rows of one trace (its ``root_span_id``), without reading the rest of the object:
        the BTQL query 0.48.1 sends for a scorer's ``trace.get_spans(include_scorers=True)`` when
        its local span cache cannot answer, pages followed by cursor."""
        condition = {"op": "and", "children": [
            {"op": "eq", "left": {"op": "ident", "name": ["root_span_id"]}, "right": {"op": "literal", "value": root_span_id}},
        ]}
        return self.query_rows(object_type, object_id, {"filter": condition}, batch_size=batch_size, describe=f"trace {root_span_id} of")

    def query_rows(self, object_type: str, object_id: str, clauses: dict[str, Any], version: str | None = None,
                   batch_size: int | None = None, describe: str = "") -> list[dict[str, Any]]:
        """The object's rows through ``POST /btql`` (0.48.1's ``ObjectFetcher`` query): ``clauses``
        (``filter``, ``limit``...) go into the query over those it sets, pages followed by cursor.
        A ``limit`` there is also the most rows read in all (0: none, and no request)."""
        total = clauses.get("limit")
        total = total if isinstance(total, int) and not isinstance(total, bool) and total >= 0 else None
        if total == 0:
            return []
        rows: list[dict[str, Any]] = []
        cursor = None
        for _page in range(MAX_FETCH_PAGES):
            query = {
                "select": [{"op": "star"}],
                "from": {"op": "function", "name": {"op": "ident", "name": [object_type]},
                         "args": [{"op": "literal", "value": object_id}]},
                "cursor": cursor,
                "limit": page_size(batch_size),
                **clauses,
            }
            body: dict[str, Any] = {"query": query, "use_columnstore": False, "brainstore_realtime": True,
                                    "query_source": f"py_sdk_object_fetcher_{object_type}"}
            if version is not None:
                body["version"] = str(version)
            page = self._call("POST", "/btql", body=body)
            data = page.get("data") if isinstance(page, dict) else None
            if not isinstance(data, list):
                raise BackendError(f"POST /btql answered the rows of {describe or object_type} {object_id} without a 'data' list", "bad_response")
            rows.extend(data)
            if total is not None and len(rows) >= total:
                return rows[:total]
            previous, cursor = cursor, page.get("cursor")
            if not cursor or cursor == previous:
                return rows
        log.warning("braintrust: reading %s %s %s stopped after %d pages; the rows after them were not read.",
                    describe or "the query of", object_type, object_id, MAX_FETCH_PAGES)
        return rows

    def environment_version(self, object_type: str, object_id: str, environment: str, describe: str) -> str:
        """The version an environment ("production") of an object points at (``describe``
        names the object in the error when it points at none)."""
        path = f"/environment-object/{object_type}/{quote(object_id, safe='')}/{quote(environment, safe='')}"
        try:
            answer = self._call("GET", path, params={"org_name": self.state.org_name or ""})
        except BackendError as exc:
            if exc.reason.startswith("http_4"):
                raise ValueError(f"{describe} has no version in environment {environment!r} ({exc}): set it in Braintrust, or pass version= instead.") from None
            raise
        version = answer.get("object_version") if isinstance(answer, dict) else None
        if version is None:
            raise ValueError(f"Braintrust answered no version for environment {environment!r} of {describe}.")
        return str(version)

    def object_record(self, object_type: str, object_id: str) -> dict[str, Any]:
        """``GET /v1/{experiment|dataset}/{id}``: the object as Braintrust answers it."""
        return self._call("GET", f"/v1/{object_type}/{quote(object_id, safe='')}")

    def experiment_identity(self, experiment_id: str) -> dict[str, Any] | None:
        """The experiment's id, name and project id, or None when the server has no such
        experiment (a 4xx other than 401/403). ``BackendError`` when it cannot be asked."""
        try:
            found = self._call("GET", f"/v1/experiment/{quote(experiment_id, safe='')}")
        except BackendError as exc:
            if exc.reason.startswith("http_4"):
                return None
            raise
        return {"experiment_id": found.get("id") or experiment_id, "experiment_name": found.get("name"),
                "project_id": found.get("project_id")}

    def urls(self, project_name: str, experiment_name: str | None = None) -> tuple[str, str | None]:
        project_url = f"{self.state.app_public_url()}/app/{quote(self.state.org_name or '')}/p/{quote(project_name)}"
        return project_url, (f"{project_url}/experiments/{quote(experiment_name)}" if experiment_name else None)

    def base_experiment(self, ref: ObjectRef) -> dict[str, Any] | None:
        experiment_id = ref.ids["experiment_id"]  # type: ignore[index]
        client = self.state.http_client()
        from braintrust.delivery.http_client import HttpError

        try:
            response = client.request("POST", f"{self.state.app_url()}/api/base_experiment/get_id", _request_deadline(), json_body={"id": experiment_id})
        except HttpError:  # (Braintrust answers 400 for an experiment with no base: 0.48.1 then has none, quietly)
            return NO_ANSWER
        except Exception as exc:
            log.warning("braintrust: could not fetch the base experiment: %s", exc)
            return None
        info = response.json()
        if not info.get("base_exp_id"):
            return None
        return {"id": info["base_exp_id"], "name": info.get("base_exp_name")}

    def summarize_experiment(self, ref: ObjectRef, summarize_scores: bool, comparison_experiment_id: str | None) -> ExperimentSummary:
        if not summarize_scores:
            return _skipped_summary(ref, "Score summarization was disabled", self.urls(ref.info.get("project_name") or "", ref.info.get("experiment_name")))
        params = {"summarize_scores": "true"}
        if comparison_experiment_id:
            params["comparison_experiment_id"] = comparison_experiment_id
        try:
            answer = self._call("GET", f"/v1/experiment/{ref.ids['experiment_id']}/summarize", params=params)  # type: ignore[index]
        except BackendError as exc:
            log.warning("Failed to fetch experiment scores and metrics: %s\n\n"
                        "View complete results in Braintrust or run experiment.summarize() again.", exc)
            urls = self.urls(ref.info.get("project_name") or "", ref.info.get("experiment_name"))
            # (0.48.1's reason, word for word: code may test it; the cause is kept beside it.)
            return _skipped_summary(ref, "Experiment comparison could not be retrieved", urls, error=str(exc))
        answer.setdefault("project_name", ref.info.get("project_name"))
        answer.setdefault("experiment_name", ref.info.get("experiment_name"))
        # Build links from the answer: an experiment joined by id knows no names until now.
        project_url, experiment_url = self.urls(answer.get("project_name") or "", answer.get("experiment_name"))
        return ExperimentSummary.from_api(
            answer,
            project_id=ref.info.get("project_id"),
            experiment_id=ref.ids["experiment_id"],  # type: ignore[index]
            project_url=project_url,
            experiment_url=experiment_url,
        )

    def summarize_dataset(self, ref: ObjectRef, new_records: int, summarize_data: bool) -> DatasetSummary:
        project_name = ref.info.get("project_name") or ""
        dataset_name = ref.info.get("dataset_name") or ""
        project_url, _ = self.urls(project_name)
        dataset_url = f"{project_url}/datasets/{quote(dataset_name)}"
        # Asked either way, as 0.48.1 does: the data summary is whatever Braintrust answers (none when not asked for).
        flag = "true" if summarize_data else "false"
        answer = self._call("GET", f"/v1/dataset/{ref.ids['dataset_id']}/summarize", params={"summarize_data": flag})  # type: ignore[index]
        summary = answer.get("data_summary") if isinstance(answer, dict) else None
        data = DataSummary(new_records=new_records, total_records=summary.get("total_records", 0)) if isinstance(summary, dict) else None
        return DatasetSummary(project_name=project_name, dataset_name=dataset_name, project_url=project_url, dataset_url=dataset_url, data_summary=data)


class LocalReads:
    def __init__(self, store: Any = None) -> None:
        """Reads of ``store`` (a ``LocalStore``; default: the one this process logs to)."""
        if store is None:
            from braintrust.store.sqlite_store import LocalStore

            store = LocalStore()
        self.store = store

    def fetch(self, object_type: str, object_id: str, version: str | None = None, batch_size: int | None = None) -> Iterator[dict[str, Any]]:
        """The object's rows, as Braintrust's fetch answers: each with its object's ``project_id``,
        without comments (``log_feedback(comment=...)`` rows, which Braintrust keeps beside the
        row they are about; ``braintrust show`` shows them)."""
        from braintrust.store.rows import commented_row

        project_id = self._project_id(object_type, object_id)
        for rows in self.store.iter_rows(object_type, object_id, version=version, batch_size=page_size(batch_size)):
            yield from (_with_project_id(row, project_id) for row in rows if commented_row(row) is None)

    def _project_id(self, object_type: str, object_id: str) -> str | None:
        """The project of an experiment or dataset: Braintrust's rows carry it, the store's do not."""
        found = self.store.get_experiment(id=object_id) if object_type == EXPERIMENT else self.store.get_dataset(id=object_id)
        return found.get("project_id") if found else None

    def snapshot(self, object_type: str, object_id: str, batch_size: int | None = None) -> Iterator[dict[str, Any]]:
        """The rows as they were when the read started (the store's reads always are), page by page."""
        return self.fetch(object_type, object_id, batch_size=batch_size)

    def query_rows(self, object_type: str, object_id: str, clauses: dict[str, Any], version: str | None = None,
                   batch_size: int | None = None, describe: str = "") -> list[dict[str, Any]]:
        """As ``ApiReads.query_rows``, for the one clause the store can answer without running BTQL:
        ``limit``. Any other is refused (never ignored: the rows would not be those asked for)."""
        others = sorted(key for key in clauses if key != "limit")
        if others:
            raise ValueError(
                f"_internal_btql={clauses!r:.200}: the local store cannot run BTQL ({', '.join(others)}); "
                "set BRAINTRUST_API_KEY to read from Braintrust, or select the records in Python.")
        total = clauses.get("limit")
        if total is not None and (isinstance(total, bool) or not isinstance(total, int) or total < 0):
            raise ValueError(f"_internal_btql: 'limit' must be a non-negative integer, got {total!r:.50}.")
        rows = self.fetch(object_type, object_id, version=version, batch_size=batch_size)
        return list(itertools.islice(rows, total) if total is not None else rows)

    def traces(self, object_type: str, object_id: str, root_span_ids: set[str]) -> dict[str, list[dict[str, Any]]]:
        """The rows of these traces (by ``root_span_id``), in one read of the store."""
        found: dict[str, list[dict[str, Any]]] = {root_span_id: [] for root_span_id in root_span_ids}
        project_id = self._project_id(object_type, object_id)
        for row in self.store.trace_rows(object_type, object_id, sorted(root_span_ids)):
            found[row.get("root_span_id") or row.get("id")].append(_with_project_id(row, project_id))
        return found

    def environment_version(self, object_type: str, object_id: str, environment: str, describe: str) -> str:
        raise ValueError(
            f"{describe}: environment={environment!r} names a version set in Braintrust, and the local store has "
            "no environments. Pass version= instead, or set BRAINTRUST_API_KEY to read from Braintrust."
        )

    def object_record(self, object_type: str, object_id: str) -> dict[str, Any]:
        """The experiment or dataset as the store holds it, in the API's form."""
        from braintrust.store import catalog

        found = self.store.get_experiment(id=object_id) if object_type == EXPERIMENT else self.store.get_dataset(id=object_id)
        if found is None:
            raise ValueError(f"the local store {self.store.path} has no {object_type} {object_id}.")
        return catalog.api_form(found)

    def experiment_identity(self, experiment_id: str) -> dict[str, Any] | None:
        """The experiment's id, name, project id and name, or None when the store has none."""
        found = self.store.get_experiment(id=experiment_id)
        if found is None:
            return None
        project = self.store.get_project(id=found["project_id"]) or {}
        return {"experiment_id": found["id"], "experiment_name": found["name"], "project_id": found["project_id"],
                "project_name": project.get("name")}

    def where(self) -> str:
        return f"the local store at {self.store.path}"

    def hint(self, project_name: str, name: str) -> str:
        """Where an experiment's results are, and the command that shows them."""
        command = f"braintrust show{command_store_args(self.store.path)}{show_arguments(project_name, name)}"
        return f"See results for {name} in the local store at {self.store.path} (run `{command}`)"

    def base_experiment(self, ref: ObjectRef) -> dict[str, Any] | None:
        from braintrust.baseline import base_of

        base = base_of(self.store, ref.ids["experiment_id"])  # type: ignore[index]
        return {"id": base["id"], "name": base["name"]} if base else None

    def summarize_experiment(self, ref: ObjectRef, summarize_scores: bool, comparison_experiment_id: str | None) -> ExperimentSummary:
        from braintrust.baseline import compare_alone, compare_with_base

        experiment_id = ref.ids["experiment_id"]  # type: ignore[index]
        experiment = self.store.get_experiment(id=experiment_id) or {}
        name = experiment.get("name") or ref.info.get("experiment_name") or ""
        project_name = ref.info.get("project_name") or ""
        hint = self.hint(project_name, name)
        db_uri = self.store.path.as_uri()
        urls = (f"{db_uri}?project={quote(project_name)}", f"{db_uri}?project={quote(project_name)}&experiment={quote(name)}")
        if not summarize_scores:
            return _skipped_summary(ref, "Score summarization was disabled", urls, hint)
        given = self.store.get_experiment(id=comparison_experiment_id) if comparison_experiment_id else None
        # Streamed: only per-trace aggregates are kept, so memory does not grow with the rows.
        if comparison_experiment_id and given is None:  # (never another experiment than the one asked for)
            log.warning("braintrust: comparison experiment id %r not found in the local store; summarizing %r "
                        "without a comparison (`braintrust list` shows the experiments it holds).", comparison_experiment_id, name)
            comparison, base = compare_alone(self.store, experiment_id), None
        else:
            comparison, base = compare_with_base(self.store, experiment_id, given)
        return ExperimentSummary(
            project_name=project_name,
            project_id=ref.info.get("project_id"),
            experiment_id=experiment_id,
            experiment_name=name,
            project_url=urls[0],
            experiment_url=urls[1],
            comparison_experiment_name=base["name"] if base else None,
            scores=comparison.scores,
            metrics=comparison.metrics,
            local_hint=hint,
            case_coverage=comparison.coverage,
        )

    def summarize_dataset(self, ref: ObjectRef, new_records: int, summarize_data: bool) -> DatasetSummary:
        project_name = ref.info.get("project_name") or ""
        dataset_name = ref.info.get("dataset_name") or ""
        data = None
        if summarize_data:
            data = DataSummary(new_records=new_records, total_records=self.store.count_rows(DATASET, ref.ids["dataset_id"]))  # type: ignore[index]
        db_uri = self.store.path.as_uri()
        return DatasetSummary(
            project_name=project_name,
            dataset_name=dataset_name,
            project_url=f"{db_uri}?project={quote(project_name)}",
            dataset_url=f"{db_uri}?project={quote(project_name)}&dataset={quote(dataset_name)}",
            data_summary=data,
            local_hint=f"See {dataset_name} in the local store at {self.store.path} (run `braintrust list{command_store_args(self.store.path)}`)",
        )


def _with_project_id(row: dict[str, Any], project_id: str | None) -> dict[str, Any]:
    if project_id is not None and "project_id" not in row:
        row["project_id"] = project_id
    return row


def show_arguments(project_name: str, name: str) -> str:
    """`` <project> <experiment>`` for ``braintrust show``, quoted for a shell; after ``--`` when
    either starts with ``-`` (else it would be read as an option)."""
    ends = " --" if project_name.startswith("-") or name.startswith("-") else ""
    return f"{ends} {_shell_word(project_name)} {_shell_word(name)}"


def _shell_word(text: str) -> str:
    """``text`` quoted for a shell; one holding a control character as bash's ``$'...'`` (each as
    ``\\xHH``, C1 ones as ``\\uHHHH``): printed, it neither drives the terminal nor names another thing."""
    import shlex

    if not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text):
        return shlex.quote(text)

    def one(c: str) -> str:
        code = ord(c)
        if code < 0x20 or code == 0x7F:
            return f"\\x{code:02x}"
        if 0x80 <= code < 0xA0:
            return f"\\u{code:04x}"
        return "\\" + c if c in "\\'" else c

    return "$'" + "".join(one(c) for c in text) + "'"
