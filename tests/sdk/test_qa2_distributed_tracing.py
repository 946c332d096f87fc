"""W3C trace context against 0.48.1, past tests/sdk/test_distributed_tracing.py: carriers
forwarded from a request (header names in other cases), baggage limits, a ``braintrust.parent``
naming no object, trace context with nowhere to log (capture trace_context_edges)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

import braintrust
from btserver import BraintrustTestServer
from capture_compare import CAPTURES, capture_rows, diff, merge_like_server, normalize
from delivery_helpers import subprocess_env

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE}-{PARENT}-01"


def test_trace_context_edges_match_public_sdk(tmp_path):
    """scenario_trace_context_edges.py: the rows 0.48.1 sent and what it printed."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        env = subprocess_env(BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url,
                             BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"))
        proc = subprocess.run([sys.executable, str(CAPTURES / "scenario_trace_context_edges.py")], env=env,
                              cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        rows = server.rows()
    theirs = normalize(merge_like_server(capture_rows("trace_context_edges")))
    assert normalize(rows) == theirs, diff(normalize(rows), theirs)
    assert proc.stdout == (CAPTURES / "trace_context_edges.out.txt").read_text()


def test_inject_into_forwarded_headers_sends_each_header_once(bt_logs):
    """A handler forwarding its request's headers (a framework's ``Traceparent``) and injecting
    its own span: one ``traceparent``, this span's, not the caller's beside it."""
    logger = braintrust.init_logger(project="forward")
    incoming = {"Traceparent": TRACEPARENT, "BAGGAGE": "tenant=acme", "Content-Type": "text/plain"}
    with logger.start_span(name="handler") as span:
        outgoing = span.inject(dict(incoming))
    names = [k.lower() for k in outgoing]
    assert sorted(names) == ["baggage", "content-type", "traceparent"]
    assert outgoing["traceparent"] == f"00-{span.root_span_id}-{span.span_id}-01"
    assert outgoing["baggage"] == "tenant=acme,braintrust.parent=project_name%3Aforward"


def test_baggage_is_kept_within_the_w3c_limits(bt_logs):
    """At most 64 members and 8192 bytes, as 0.48.1 sends: the ``braintrust.parent`` member
    always fits, the caller's members after the limit are dropped whole."""
    logger = braintrust.init_logger(project="limits")
    with logger.start_span(name="handler") as span:
        many = span.inject({"baggage": ",".join(f"m{i}=v" for i in range(100))})["baggage"].split(",")
        big = span.inject({"baggage": f"a={'x' * 5000},b={'y' * 5000}"})["baggage"].split(",")
    assert len(many) == 64 and many[62] == "m62=v" and many[-1] == "braintrust.parent=project_name%3Alimits"
    assert [m[:2] for m in big] == ["a=", "br"]


@pytest.mark.parametrize("value", ["dataset_id%3Ax", "project_id%3A", "experiment_id", "nonsense"])
def test_a_braintrust_parent_naming_no_object_starts_a_new_trace_with_a_warning(value, bt_logs, caplog):
    """0.48.1 logs a warning and starts a new trace; the trace was continued in the current
    logger instead, as if the baggage named it."""
    braintrust.init_logger(project="invalid-parent")
    headers = {"traceparent": TRACEPARENT, "baggage": f"braintrust.parent={value}"}
    with caplog.at_level(logging.WARNING, logger="braintrust"):
        with braintrust.start_span(name="request", parent=headers) as span:
            pass
        with braintrust.parent_context(headers):
            assert type(braintrust.get_span_parent_object()).__name__ == "Logger"
    assert span.root_span_id != TRACE and span.span_parents is None
    assert "invalid braintrust.parent" in caplog.text and "project_name:<name>" in caplog.text
    (row,) = bt_logs.rows()
    assert row["span_parents"] is None and row["span_attributes"]["type"] == "task"


def test_trace_context_with_nowhere_to_log_says_so(bt_logs, caplog):
    """A ``traceparent`` without ``braintrust.parent`` and no current logger or experiment: the
    span is the no-op span (as in 0.48.1), with a warning naming the fix instead of silence."""
    with caplog.at_level(logging.WARNING, logger="braintrust"):
        with braintrust.start_span(name="request", parent={"traceparent": TRACEPARENT}) as span:
            span.log(output="lost")
    assert span is braintrust.NOOP_SPAN
    assert "no current logger or experiment" in caplog.text and "init_logger()" in caplog.text


def test_otel_compat_wins_over_legacy_ids_and_says_so_once(monkeypatch, bt_logs, caplog):
    """Both set: hex ids and V4 slugs (W3C trace context keeps working), and one warning naming
    both variables, as 0.48.1 gives (ours said nothing)."""
    from braintrust.tracing import ids

    monkeypatch.setattr(ids, "_told_otel_compat_wins", False)
    monkeypatch.setenv("BRAINTRUST_LEGACY_IDS", "1")
    monkeypatch.setenv("BRAINTRUST_OTEL_COMPAT", "true")
    logger = braintrust.init_logger(project="otel-compat")
    with caplog.at_level(logging.WARNING, logger="braintrust"):
        for _ in range(2):
            with logger.start_span(name="span") as span:
                headers = span.inject()
    assert len(span.span_id) == 16 and span.export().startswith("BA") and "traceparent" in headers
    (record,) = [r for r in caplog.records if "BRAINTRUST_OTEL_COMPAT" in r.getMessage()]
    assert "BRAINTRUST_LEGACY_IDS is ignored" in record.getMessage()
