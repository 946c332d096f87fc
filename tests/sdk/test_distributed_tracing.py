"""Distributed tracing through W3C trace context: ``span.inject()`` and ``start_span(parent=headers)``
across real processes and the local store, with web-framework header mappings, the pytest case
span (tests/plugin/test_fixture.py), legacy ids and malformed headers. (The wire format against the public SDK's is
tests/sdk/test_public_sdk_captures.py::test_distributed_tracing_and_log_records_match_public_sdk.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import braintrust
from braintrust.store.sqlite_store import LocalStore
from braintrust.tracing import w3c
from delivery_helpers import subprocess_env

SERVICE = textwrap.dedent("""
    import json, sys
    import braintrust

    headers = json.loads(sys.argv[1])
    braintrust.init_logger(project="other-default")  # the baggage names the caller's project instead
    with braintrust.start_span(name="service", parent=headers) as span:
        span.log(input="request", output="response")
        with span.start_span(name="query"):
            pass
    braintrust.flush()
""")


def _rows(store_dir: Path, project: str) -> dict[str, dict]:
    store = LocalStore(store_dir / "braintrust.sqlite")
    try:
        (found,) = [p for p in store.list_projects() if p["name"] == project]
        rows, _ = store.fetch_rows("project_logs", found["id"])
    finally:
        store.close()
    return {r["span_attributes"].get("name"): r for r in rows}


def test_a_trace_continues_in_another_process_through_the_local_store(tmp_path):
    """The caller injects headers, a second process (sharing the local store, as two services on
    a laptop do) continues the trace: its spans land in the caller's project and trace."""
    store_dir = Path(os.environ["BRAINTRUST_LOCAL_DIR"])
    logger = braintrust.init_logger(project="frontend")
    with logger.start_span(name="handle request") as client:
        headers = client.inject()
        proc = subprocess.run([sys.executable, "-c", SERVICE, json.dumps(headers)], cwd=tmp_path, timeout=60,
                              env=subprocess_env(BRAINTRUST_LOCAL_DIR=str(store_dir)), capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    assert braintrust.flush().ok
    rows = _rows(store_dir, "frontend")
    assert set(rows) == {"handle request", "service", "query"}
    assert rows["service"]["root_span_id"] == client.root_span_id == rows["query"]["root_span_id"]
    assert rows["service"]["span_parents"] == [client.span_id]
    assert rows["query"]["span_parents"] == [rows["service"]["span_id"]]
    assert rows["service"]["output"] == "response"


class RequestHeaders(Mapping):
    """A web framework's request headers: a read-only mapping, names matched in any case."""

    def __init__(self, raw: dict[str, str]):
        self._raw = {k.title(): v for k, v in raw.items()}

    def __getitem__(self, key: str) -> str:
        return self._raw[key.title()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def get(self, key, default=None):
        return self._raw.get(key.title(), default)


def test_request_headers_in_any_case_and_any_mapping(bt_logs):
    logger = braintrust.init_logger(project="web")
    with logger.start_span(name="client") as client:
        headers = RequestHeaders(client.inject())
    assert "Traceparent" in list(headers)

    @braintrust.traced(parent=headers)
    def endpoint():
        return "ok"

    endpoint()
    plain = {k.upper(): v for k, v in client.inject().items()}  # a dict with other capitals
    with braintrust.start_span(name="upper", parent=plain):
        pass
    rows = bt_logs.by_name()
    assert rows["endpoint"]["span_parents"] == [client.span_id] == rows["upper"]["span_parents"]
    assert rows["endpoint"]["root_span_id"] == client.root_span_id


def test_the_baggage_names_the_object_and_other_members_stay(bt_logs):
    logger = braintrust.init_logger(project="named")
    with logger.start_span(name="before") as span:
        by_name = span.inject({"baggage": "tenant=acme, braintrust.parent=old;p=1 ,user=u"})
    assert by_name["baggage"] == "tenant=acme,user=u,braintrust.parent=project_name%3Anamed"
    capitalized = span.inject({"Baggage": "tenant=acme"})  # (written as "baggage", as 0.48.1 writes it)
    assert capitalized == {"baggage": "tenant=acme,braintrust.parent=project_name%3Anamed", "traceparent": capitalized["traceparent"]}
    logger.id  # the project is registered now: the baggage names it by id
    with logger.start_span(name="after") as span:
        by_id = span.inject()
    assert by_id["baggage"] == f"braintrust.parent=project_id%3A{logger.id}"
    experiment = braintrust.init(project="named", experiment="e", set_current=False)
    with experiment.start_span(name="in experiment") as span:
        assert span.inject()["baggage"] == f"braintrust.parent=experiment_id%3A{experiment.id}"
    # The receiving side with a current logger elsewhere: the baggage's experiment wins.
    braintrust.init_logger(project="elsewhere")
    with braintrust.start_span(name="remote", parent=span.inject()):
        pass
    rows = bt_logs.rows("experiment", experiment.id)
    remote = next(r for r in rows if r["span_attributes"]["name"] == "remote")
    assert remote["span_parents"] == [span.span_id]


@pytest.mark.parametrize("headers", [
    {"traceparent": "garbage"},
    {"traceparent": "ff-" + "a" * 32 + "-" + "b" * 16 + "-01"},  # version ff is invalid
    {"traceparent": "00-" + "0" * 32 + "-" + "b" * 16 + "-01"},  # all-zero trace id
    {"traceparent": "00-" + "a" * 32 + "-" + "0" * 16 + "-01"},  # all-zero parent id
    {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01-extra"},  # version 00 has four fields
    {"baggage": "braintrust.parent=project_name%3Ax"},  # no traceparent at all
    {"unrelated": "1"},
])
def test_headers_without_a_valid_traceparent_carry_no_parent(headers, bt_logs):
    braintrust.init_logger(project="fallback")
    with braintrust.start_span(name="request", parent=headers) as span:
        pass
    (row,) = bt_logs.rows()
    assert row["span_parents"] is None and row["span_attributes"]["type"] == "task"
    assert row["root_span_id"] == span.root_span_id != "a" * 32


def test_baggage_members_it_does_not_know_are_ignored():
    traceparent = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    for baggage in ("braintrust.parent=dataset_id%3Ax", "braintrust.parent=project_id%3A", "other=1"):
        remote = w3c.extract({"traceparent": traceparent, "baggage": baggage})
        assert (remote.root_span_id, remote.span_id, remote.ref()) == ("a" * 32, "b" * 16, None)
    remote = w3c.extract({"traceparent": traceparent, "baggage": " braintrust.parent = project_id%3Ap1 ;prop=2"})
    assert (remote.root_span_id, remote.ref().ids) == ("a" * 32, {"project_id": "p1", "log_id": "g"})


def test_legacy_ids_inject_nothing(monkeypatch, bt_logs):
    """UUID span ids (BRAINTRUST_LEGACY_IDS) do not fit a traceparent: the carrier is left as it
    is, as 0.48.1 leaves it, so the receiving side starts its own trace rather than a wrong one."""
    monkeypatch.setenv("BRAINTRUST_LEGACY_IDS", "1")
    logger = braintrust.init_logger(project="legacy")
    with logger.start_span(name="client") as client:
        headers = client.inject()
        carrier = client.inject({"Baggage": "k=v"})
    assert "-" in client.span_id and headers == {} and carrier == {"Baggage": "k=v"}


def test_the_noop_span_injects_nothing():
    carrier = {"x": "1"}
    assert braintrust.NOOP_SPAN.inject(carrier) is carrier and carrier == {"x": "1"}
    assert braintrust.NOOP_SPAN.inject() == {}
    assert braintrust.current_span().name == "" and braintrust.current_span().id == ""



@pytest.mark.parametrize("parent", [[("traceparent", "00-" + "a" * 32 + "-" + "b" * 16 + "-01")], 42, b"slug"])
def test_a_parent_of_another_kind_is_refused_with_what_it_must_be(parent):
    braintrust.init_logger(project="kinds")
    with pytest.raises(ValueError, match=r"parent= must be an exported span \(span.export\(\)\) or W3C headers \(span.inject\(\)\), got "):
        braintrust.start_span(name="x", parent=parent)


def test_a_web_handler_continues_the_trace_through_parent_context(bt_logs):
    """The handler's spans (``@traced`` functions it calls, an LLM wrapper's) continue the
    caller's trace inside ``parent_context(extract_trace_context(request.headers))``, and pass
    on the caller's flags and ``tracestate`` when they call further."""
    logger = braintrust.init_logger(project="web")
    with logger.start_span(name="client") as client:
        outgoing = client.inject({"tracestate": "vendor=abc"})
    outgoing["traceparent"] = outgoing["traceparent"][:-2] + "00"  # (the caller did not sample)
    request_headers = RequestHeaders({**outgoing, "Content-Type": "application/json"})

    @braintrust.traced
    def lookup():
        return braintrust.inject_trace_context({})

    context = braintrust.extract_trace_context(request_headers)
    assert set(context) == {"traceparent", "tracestate", "baggage"}  # (the others left out)
    with braintrust.parent_context(context):
        forwarded = lookup()
    row = bt_logs.by_name()["lookup"]
    assert row["root_span_id"] == client.root_span_id and row["span_parents"] == [client.span_id]
    assert forwarded["traceparent"].startswith(f"00-{client.root_span_id}-") and forwarded["traceparent"].endswith("-00")
    assert forwarded["tracestate"] == "vendor=abc"


def test_inject_trace_context_never_breaks_the_request():
    class Broken(braintrust.Span):
        def inject(self, carrier=None):
            raise RuntimeError("boom")

    carrier = {"x": "1"}
    assert braintrust.inject_trace_context(carrier, span=Broken()) is carrier and carrier == {"x": "1"}
    assert braintrust.inject_trace_context() == {}  # no current span
    assert braintrust.extract_trace_context(None) is None and braintrust.extract_trace_context(["traceparent"]) is None
