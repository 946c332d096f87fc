"""The ``trace`` argument scorers may take: the trial's spans, from the span cache (as 0.48.1)
or read back from its experiment.

As 0.48.1's ``LocalTrace``: a dict, ``{"trace_ref": {"object_type", "object_id", "root_span_id"}}``
(so it serializes where a scorer passes it on), with ``get_configuration()`` and an async
``get_spans(span_type=None, *, filters=None, include_scorers=False)`` that answers ``SpanData``
objects. Scorer spans are left out unless ``include_scorers``. ``filters`` are 0.48.1's: a dict
of ``span_type`` and ``name`` (lists of strings, any of), ``has_error`` (bool), ``metadata``
(values at key paths, compared as JSON, without bool/number coercion) and ``duration``
(``{"min", "max"}`` seconds, inclusive); they combine with AND, and anything else is a
``ValueError`` naming it. ``get_thread(options=None)`` is the trace's conversation as 0.48.1 gets
it (autoevals' ``{{thread}}`` templates ask for it): a preprocessor run in Braintrust on the trace.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any, Mapping, TypedDict

from braintrust.tracing import span_cache

__all__ = ["EvalTrace", "TraceReader", "SpanData", "SpanDurationFilter", "SpanFilters"]


class SpanDurationFilter(TypedDict, total=False):
    """How long a span took, in seconds, inclusive."""

    min: float
    max: float


class SpanFilters(TypedDict, total=False):
    """``get_spans(filters=...)``: the fields combine with AND."""

    span_type: list[str]
    name: list[str]
    has_error: bool
    metadata: dict[str, Any]
    duration: SpanDurationFilter

_FILTER_FIELDS = tuple(SpanFilters.__annotations__)


class SpanData:
    """One span as ``get_spans()`` answers it: the row's fields as attributes (None when absent),
    including fields this class does not name."""

    def __init__(self, input: Any = None, output: Any = None, metadata: Any = None, expected: Any = None, error: Any = None,
                 scores: Any = None, metrics: Any = None, span_id: str | None = None, span_parents: list[str] | None = None,
                 span_attributes: dict[str, Any] | None = None, tags: list[str] | None = None, **fields: Any):
        self.input, self.output, self.metadata, self.expected, self.error = input, output, metadata, expected, error
        self.scores, self.metrics, self.span_id, self.span_parents = scores, metrics, span_id, span_parents
        self.span_attributes, self.tags = span_attributes, tags
        for name, value in fields.items():
            setattr(self, name, value)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SpanData":
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The span's fields that are set (not None)."""
        return {name: value for name, value in vars(self).items() if value is not None}

    def __repr__(self) -> str:
        attributes = self.span_attributes or {}
        return f"SpanData(name={attributes.get('name')!r}, type={attributes.get('type')!r}, span_id={self.span_id!r})"


class TraceReader:
    """Reads traces' spans back from one experiment for ``get_spans``, one read at a time: a read
    answers every query asked before it started (the scorers of trials scored at the same time
    share it). It reads those traces only, never the whole experiment: the local store in one
    query (filtered here), Braintrust with one BTQL query per ``get_spans`` call that needs one,
    0.48.1's: the trace's ``root_span_id``, scorer spans left out unless asked for, the filters."""

    def __init__(self, experiment: Any):
        self._experiment = experiment
        self._waiting: list[tuple[_Query, asyncio.Future]] = []  # asked for, for the next read
        self._reading = False
        self._loop: asyncio.AbstractEventLoop | None = None  # (the loop whose calls share reads)

    async def rows(self, root_span_id: str, filters: Mapping[str, Any] | None = None,
                   include_scorers: bool = True) -> list[dict[str, Any]]:
        """The trace's rows that match ``filters`` (checked by ``_normalized_filters``), scorer spans
        left out unless ``include_scorers``, as stored once what was logged so far is sent, in the
        order written."""
        from braintrust.eval.threads import run_blocking

        query = _Query(root_span_id, dict(filters or {}), include_scorers)
        await run_blocking(self._experiment.flush)
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        if loop is not self._loop:  # (a sync scorer's own loop, asyncio.run(trace.get_spans())): a read of its own
            return (await run_blocking(lambda: self._read([query])))[0]
        # Only a read that starts now or later sees the rows just sent.
        future = loop.create_future()
        self._waiting.append((query, future))
        if not self._reading:
            self._start()
        return list(await asyncio.shield(future))

    def _start(self) -> None:
        from braintrust.eval.threads import run_blocking

        wanted, self._waiting = self._waiting, []
        self._reading = True
        read = asyncio.ensure_future(run_blocking(lambda: self._read([query for query, _ in wanted])))
        read.add_done_callback(lambda done: self._deliver(done, [future for _, future in wanted]))

    def _deliver(self, read: asyncio.Future, wanted: list[asyncio.Future]) -> None:
        self._reading = False
        for index, future in enumerate(wanted):
            if future.done():
                continue
            if read.cancelled():
                future.cancel()
            elif read.exception() is not None:
                future.set_exception(read.exception())
                future.exception()  # (retrieved: a caller cancelled meanwhile leaves no "never retrieved" log)
            else:
                future.set_result(read.result()[index])
        if read.cancelled():  # (the run is stopping: start no other read)
            waiting, self._waiting = self._waiting, []
            for _, future in waiting:
                future.cancel()
        elif self._waiting:  # asked for while this read ran
            self._start()

    def _read(self, queries: list["_Query"]) -> list[list[dict[str, Any]]]:
        from braintrust.delivery.backend import EXPERIMENT
        from braintrust.objects.reads import reads
        from braintrust.state import global_state

        backend = reads()
        if global_state().is_local():
            traces = backend.traces(EXPERIMENT, self._experiment.id, {query.root_span_id for query in queries})
            return [[row for row in traces[query.root_span_id] if query.matches(row)] for query in queries]
        found = []
        for query in queries:
            rows = backend.query_rows(EXPERIMENT, self._experiment.id, {"filter": query.btql()},
                                      describe=f"trace {query.root_span_id} of")
            # (as 0.48.1: BTQL may coerce metadata types, so those filters are checked here too)
            found.append([row for row in rows if query.matches(row)] if query.filters.get("metadata") else rows)
        return found


class _Query:
    """One read of a trace's spans: its root span id, the filters, whether scorer spans count."""

    def __init__(self, root_span_id: str, filters: dict[str, Any], include_scorers: bool):
        self.root_span_id, self.filters, self.include_scorers = root_span_id, filters, include_scorers

    def matches(self, row: Mapping[str, Any]) -> bool:
        if not self.include_scorers and (row.get("span_attributes") or {}).get("purpose") == "scorer":
            return False
        return _matches(SpanData.from_dict(row), self.filters)

    def btql(self) -> dict[str, Any]:
        """0.48.1's BTQL filter: every clause ANDed, the trace's ``root_span_id`` first."""
        purpose = ["span_attributes", "purpose"]
        children = [_compare("eq", ["root_span_id"], self.root_span_id)]
        if not self.include_scorers:  # (a null purpose compares as null, hence the isnull)
            children.append({"op": "or", "children": [_null_check("isnull", purpose), _compare("ne", purpose, "scorer")]})
        for field, attribute in (("span_type", "type"), ("name", "name")):
            if field in self.filters:  # (BTQL refuses IN []: no alternative is false)
                values = self.filters[field]
                children.append(_compare("in", ["span_attributes", attribute], values) if values
                                else {"op": "literal", "value": False})
        if "has_error" in self.filters:
            children.append(_null_check("isnotnull" if self.filters["has_error"] else "isnull", ["error"]))
        for path, value in _leaves(self.filters.get("metadata") or {}):
            name = ["metadata", *path]
            children.append(_null_check("isnull", name) if value is None else _compare("eq", name, value))
        elapsed = {"op": "sub", "left": {"op": "ident", "name": ["metrics", "end"]},
                   "right": {"op": "ident", "name": ["metrics", "start"]}}
        bounds = self.filters.get("duration") or {}
        for bound, op in (("min", "ge"), ("max", "le")):
            if bound in bounds:
                children.append({"op": op, "left": elapsed, "right": {"op": "literal", "value": bounds[bound]}})
        return {"op": "and", "children": children}


def _compare(op: str, name: list[str], value: Any) -> dict[str, Any]:
    return {"op": op, "left": {"op": "ident", "name": name}, "right": {"op": "literal", "value": value}}


def _null_check(op: str, name: list[str]) -> dict[str, Any]:
    return {"op": op, "expr": {"op": "ident", "name": name}}


class _ReadBack:
    """What a trace's ``get_spans`` read back so far, kept as 0.48.1 keeps it (its
    ``CachedSpanFetcher``): spans by type, and whether all of them (scorers' aside) were read.
    Once all were, every query is answered from here; before, a query by type alone reads only
    the types not read yet, and any other query (or one with scorer spans) is read each time.
    Scorers reading at the same time (even on other loops) never keep a span twice."""

    def __init__(self, reader: TraceReader | None, root_span_id: str):
        self._reader, self._root_span_id = reader, root_span_id
        self._by_type: dict[str, list[SpanData]] = {}
        self._complete = False

    async def spans(self, filters: dict[str, Any], include_scorers: bool) -> list[SpanData]:
        span_type = filters.get("span_type")
        if span_type == []:
            return []
        if include_scorers:
            return await self._read(filters, True)
        narrower = any(field != "span_type" for field in filters)
        if self._complete:
            spans = _kept(self._by_type, span_type)
            return [span for span in spans if _matches(span, filters)] if narrower else spans
        if narrower:  # (an answer that says nothing of the spans it left out: not kept)
            return await self._read(filters, False)
        if not span_type:
            by_type = _by_type(await self._read({}, False))
            self._by_type, self._complete = by_type, bool(by_type)
            return _kept(by_type, None)
        missing = [name for name in span_type if name not in self._by_type]
        if missing:
            for name, spans in _by_type(await self._read({"span_type": missing}, False)).items():
                if not self._complete:
                    self._by_type.setdefault(name, spans)
        return _kept(self._by_type, span_type)

    async def _read(self, filters: dict[str, Any], include_scorers: bool) -> list[SpanData]:
        assert self._reader is not None
        return [SpanData.from_dict(row) for row in await self._reader.rows(self._root_span_id, filters, include_scorers)]


def _by_type(spans: list[SpanData]) -> dict[str, list[SpanData]]:
    grouped: dict[str, list[SpanData]] = {}
    for span in spans:
        grouped.setdefault((span.span_attributes or {}).get("type", ""), []).append(span)
    return grouped


def _kept(by_type: dict[str, list[SpanData]], span_type: list[str] | None) -> list[SpanData]:
    """The kept spans of these types (all when None), type by type as they were first read."""
    return [span for name in (span_type or list(by_type)) for span in by_type.get(name, [])]


class EvalTrace(dict):
    """The trial's trace, as a scorer's ``trace`` argument."""

    def __init__(self, root_span: Any, experiment: Any, reader: TraceReader | None = None):
        self._root_span_id = getattr(root_span, "root_span_id", "") or ""
        self._experiment = experiment
        self._reader = reader if reader is not None or experiment is None else TraceReader(experiment)
        self._threads: dict[str, asyncio.Future] = {}  # preprocessor -> its answer (asked once per trace)
        self._read_back = _ReadBack(self._reader, self._root_span_id)
        super().__init__(trace_ref=self.get_configuration())

    def get_configuration(self) -> dict[str, Any]:
        experiment_id = self._experiment.id if self._experiment is not None else None
        return {"object_type": "experiment", "object_id": experiment_id, "root_span_id": self._root_span_id}

    async def get_spans(self, span_type: list[str] | str | None = None, *, filters: Mapping[str, Any] | None = None,
                        include_scorers: bool = False) -> list[SpanData]:
        """The trial's spans. As 0.48.1, from the span cache while it is on
        (``tracing.span_cache``: what the spans logged so far, in the order they started, without
        ``expected`` or ``scores``, no request); else read back from the experiment as stored
        (what was logged is sent first) and kept as 0.48.1 keeps them (``_ReadBack``: grouped
        by span type, a call it can answer sends nothing). Without an experiment (``no_send_logs=True``, ``parent=``)
        this raises ``RuntimeError`` rather than answer no spans, which a scorer would take for
        a trace without any."""
        wanted = _normalized_filters(filters, [span_type] if isinstance(span_type, str) else span_type)
        cached = span_cache.spans(self._root_span_id) if self._root_span_id else None
        if cached is not None:  # (0.48.1's span cache: no flush, no read)
            return [span for span in map(SpanData.from_dict, cached)
                    if (include_scorers or (span.span_attributes or {}).get("purpose") != "scorer") and _matches(span, wanted)]
        if self._reader is None or not self._root_span_id:
            raise RuntimeError(
                "trace.get_spans() reads the trial's spans back from the eval's experiment, and this eval has "
                "none (no_send_logs=True, or parent=): run it with an experiment, or score without the trace."
            )
        return await self._read_back.spans(wanted, include_scorers)

    async def get_thread(self, options: Mapping[str, Any] | None = None) -> list[Any]:
        """The trace's conversation (a list of messages), as 0.48.1 gets it: what was logged is
        sent, then ``options["preprocessor"]`` (default: the project's default, ``project_default``)
        is invoked in Braintrust on this trace (``function_type: "preprocessor"``, ``mode: "json"``,
        no parent), once per preprocessor; an answer that is not a list is ``[]``. Needs the
        experiment in Braintrust: in the local store (no API key), or with no experiment, this
        raises ``RuntimeError`` saying so."""
        from braintrust.state import global_state

        preprocessor = (options or {}).get("preprocessor") or "project_default"
        if self._experiment is None or not self._root_span_id or global_state().is_local():
            raise RuntimeError(
                "trace.get_thread() runs a Braintrust preprocessor on the trial's trace, and this eval's trace is "
                + ("in the local store (no BRAINTRUST_API_KEY)" if self._experiment is not None and self._root_span_id
                   else "in no experiment (no_send_logs=True, or parent=)")
                + ": run the eval against Braintrust, or score without the thread (e.g. with trace.get_spans())."
            )
        loop = asyncio.get_running_loop()
        future = self._threads.get(preprocessor)
        if future is None or future.get_loop() is not loop:  # (a sync scorer's own loop asks again)
            future = self._threads[preprocessor] = asyncio.ensure_future(self._fetch_thread(preprocessor))
        return await asyncio.shield(future)

    async def _fetch_thread(self, preprocessor: str) -> list[Any]:
        from braintrust.eval.threads import run_blocking
        from braintrust.functions.invoke import invoke

        await run_blocking(self._experiment.flush)
        result = await run_blocking(lambda: invoke(global_function=preprocessor, function_type="preprocessor", mode="json",
                                                   input={"trace_ref": self.get_configuration()}, parent=""))
        return result if isinstance(result, list) else []

    def __repr__(self) -> str:
        return f"EvalTrace(root_span_id={self._root_span_id!r})"


def _normalized_filters(filters: Any, span_type: list[str] | None) -> dict[str, Any]:
    """``filters`` checked, with ``span_type`` (the argument) folded in."""
    if filters is not None and not isinstance(filters, Mapping):
        raise ValueError("get_spans(filters=...) must be a dict, e.g. {'span_type': ['llm'], 'has_error': False}.")
    values = dict(filters or {})
    if span_type is not None:
        if "span_type" in values:
            raise ValueError("get_spans(): give span_type as the argument or in filters, not both.")
        if span_type:  # (an empty list is no constraint, as in 0.48.1)
            values["span_type"] = list(span_type)
    unknown = sorted(set(values) - set(_FILTER_FIELDS))
    if unknown:
        raise ValueError(f"get_spans(filters=...): unknown field(s) {unknown}; the filters are {', '.join(_FILTER_FIELDS)}.")
    for field in ("span_type", "name"):
        if field in values and (not isinstance(values[field], list) or not all(isinstance(v, str) for v in values[field])):
            raise ValueError(f"get_spans(filters=...): {field} must be a list of strings.")
    if "has_error" in values and not isinstance(values["has_error"], bool):
        raise ValueError("get_spans(filters=...): has_error must be True or False.")
    if "metadata" in values:
        if not isinstance(values["metadata"], Mapping):
            raise ValueError("get_spans(filters=...): metadata must be a dict of the values wanted at its keys.")
        _leaves(values["metadata"])
    if "duration" in values:
        bounds = values["duration"]
        if not isinstance(bounds, Mapping) or set(bounds) - {"min", "max"}:
            raise ValueError("get_spans(filters=...): duration must be a dict with min and/or max (seconds).")
        if not all(_finite(value) for value in bounds.values()):
            raise ValueError("get_spans(filters=...): duration bounds must be finite numbers.")
    return values


def _leaves(metadata: Mapping[str, Any], path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    leaves = []
    for key, value in metadata.items():
        if not isinstance(key, str):
            raise ValueError("get_spans(filters=...): metadata keys must be strings.")
        if isinstance(value, Mapping):
            leaves.extend(_leaves(value, (*path, key)))
        else:
            leaves.append(((*path, key), value))
    return leaves


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _json_equal(actual: Any, expected: Any) -> bool:
    """Equal as JSON values: ``True`` is not ``1``, inside lists and dicts too."""
    if isinstance(actual, bool) != isinstance(expected, bool):
        return False
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(map(_json_equal, actual, expected))
    if isinstance(expected, Mapping):
        return (isinstance(actual, Mapping) and actual.keys() == expected.keys()
                and all(_json_equal(actual[key], value) for key, value in expected.items()))
    return actual == expected


def _matches(span: SpanData, filters: Mapping[str, Any]) -> bool:
    attributes = span.span_attributes or {}
    for field, attribute in (("span_type", "type"), ("name", "name")):
        if field in filters and attributes.get(attribute) not in filters[field]:
            return False
    if "has_error" in filters and (span.error is not None) != filters["has_error"]:
        return False
    for path, expected in _leaves(filters.get("metadata") or {}):
        actual: Any = span.metadata
        for key in path:
            actual = actual.get(key) if isinstance(actual, Mapping) else None
        if not _json_equal(actual, expected):
            return False
    bounds = filters.get("duration")
    if bounds:
        metrics = span.metrics or {}
        start, end = metrics.get("start"), metrics.get("end")
        if not _finite(start) or not _finite(end):
            return False
        if ("min" in bounds and end - start < bounds["min"]) or ("max" in bounds and end - start > bounds["max"]):
            return False
    return True
