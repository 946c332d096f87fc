"""``start_span``, the ``Span`` methods, parent precedence and ``NOOP_SPAN``."""

from __future__ import annotations

import base64
import re
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

import braintrust
from braintrust import NOOP_SPAN, SpanComponentsV3, SpanComponentsV4, SpanObjectTypeV3, current_span, start_span

HEX16 = re.compile(r"^[0-9a-f]{16}$")
HEX32 = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
def logger(bt_logs):
    return braintrust.init_logger(project="span-tests")


# -- start_span arguments -------------------------------------------------------------------------


def test_start_span_arguments_reach_the_row(bt_logs, logger):
    with start_span(
        name="request",
        type="llm",
        span_attributes={"model": "m"},
        start_time=1_700_000_000.5,
        input={"q": 1},
        metadata={"user": "u1"},
        tags=["a"],
        metrics={"tokens": 3},
    ) as span:
        assert current_span() is span
    row = bt_logs.by_name()["request"]
    assert row["id"] == span.id
    assert row["span_attributes"]["type"] == "llm"
    assert row["span_attributes"]["model"] == "m"
    assert row["metrics"]["start"] == 1_700_000_000.5
    assert row["metrics"]["tokens"] == 3
    assert row["metrics"]["end"] > row["metrics"]["start"]
    assert row["input"] == {"q": 1}
    assert row["metadata"] == {"user": "u1"}
    assert row["tags"] == ["a"]
    assert row["span_parents"] is None


def test_default_names_and_types(bt_logs, logger):
    with start_span() as root:
        with start_span() as child:  # the child's default name points here
            pass
    child_line = _line_of("with start_span() as child:  # the child's default name")
    rows = {r["id"]: r for r in bt_logs.rows()}
    root_row, child_row = rows[root.id], rows[child.id]
    assert root_row["span_attributes"]["name"] == "root"
    assert root_row["span_attributes"]["type"] == "task"
    # A child is named after where it was started, and has no type.
    assert child_row["span_attributes"]["name"] == f"test_default_names_and_types:test_tracing_spans.py:{child_line}"
    assert "type" not in child_row["span_attributes"]
    assert child_row["context"]["caller_filename"] == __file__
    assert child_row["context"]["caller_functionname"] == "test_default_names_and_types"
    assert child_row["context"]["caller_lineno"] == child_line


def _line_of(text: str) -> int:
    with open(__file__, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if text in line:
                return number
    raise AssertionError(text)


def test_set_current_false(bt_logs, logger):
    with start_span(name="detached", set_current=False) as detached:
        assert current_span() is NOOP_SPAN
        with start_span(name="sibling") as sibling:
            pass
    rows = bt_logs.by_name()
    assert rows["sibling"]["span_parents"] is None
    assert rows["sibling"]["root_span_id"] != rows["detached"]["root_span_id"]
    assert detached.id == rows["detached"]["id"]


def test_span_start_span_always_parents_to_that_span(bt_logs, logger):
    with start_span(name="a") as a:
        with start_span(name="b"):
            c = a.start_span(name="c")
            c.end()
    rows = bt_logs.by_name()
    assert rows["c"]["span_parents"] == [rows["a"]["span_id"]]
    assert rows["b"]["span_parents"] == [rows["a"]["span_id"]]



def test_span_start_span_with_a_parent_goes_under_that_parent(bt_logs, logger):
    """``span.start_span(parent=<export>)``: the given parent wins over the span it is called on
    (as in the public SDK, probed side by side)."""
    a = logger.start_span(name="a")
    other = logger.start_span(name="other")
    c = a.start_span(name="c", parent=other.export())
    c.end(), other.end(), a.end()
    rows = bt_logs.by_name()
    assert rows["c"]["span_parents"] == [rows["other"]["span_id"]]
    assert rows["c"]["root_span_id"] == rows["other"]["root_span_id"] != rows["a"]["root_span_id"]

# -- parent precedence ----------------------------------------------------------------------------


def test_parent_precedence(bt_logs):
    logger = braintrust.init_logger(project="precedence")
    with logger.start_span(name="exported") as exported:
        pass
    slug = exported.export()
    with logger.start_span(name="other-trace") as other:
        pass
    other_slug = other.export()

    with start_span(name="current") as current:
        # An explicit parent slug wins over the current span.
        with start_span(name="explicit", parent=slug):
            pass
        # The current span wins over parent_context.
        with braintrust.parent_context(other_slug):
            with start_span(name="under-current"):
                pass
    # parent_context wins over the current logger.
    with braintrust.parent_context(other_slug):
        with start_span(name="under-context"):
            pass
    # The current logger is the last resort.
    with start_span(name="under-logger"):
        pass
    rows = bt_logs.by_name()
    assert rows["explicit"]["span_parents"] == [exported.span_id]
    assert rows["explicit"]["root_span_id"] == exported.root_span_id
    assert rows["under-current"]["span_parents"] == [current.span_id]
    assert rows["under-context"]["span_parents"] == [other.span_id]
    assert rows["under-context"]["root_span_id"] == other.root_span_id
    assert rows["under-logger"]["span_parents"] is None
    assert rows["under-logger"]["span_attributes"]["type"] == "task"


def test_no_logger_no_span_gives_noop_and_no_rows(bt_env):
    span = start_span(name="nothing", input="x")
    assert span is NOOP_SPAN
    with span:
        assert current_span() is NOOP_SPAN
        span.log(output=1)
    braintrust.flush()
    assert bt_env.requests == []


def test_parent_slug_without_row_starts_a_root_in_that_project(bt_logs):
    logger = braintrust.init_logger(project="by-slug", set_current=False)
    with start_span(name="root-from-slug", parent=logger.export()) as span:
        pass
    rows = bt_logs.rows()
    (row,) = rows
    assert row["id"] == span.id
    assert row["span_parents"] is None
    assert HEX32.match(row["root_span_id"])
    assert bt_logs.server.projects()[0]["name"] == "by-slug"


def test_init_logger_set_current_false_is_not_a_parent(bt_env):
    braintrust.init_logger(project="hidden", set_current=False)
    assert braintrust.current_logger() is None
    assert start_span(name="x") is NOOP_SPAN


# -- Span methods ---------------------------------------------------------------------------------


def test_log_merges_into_the_row(bt_logs, logger):
    with start_span(name="s", metadata={"a": 1}) as span:
        span.log(metadata={"b": 2}, output="first")
        span.log(output="second", scores={"q": 0.5})
        span.log()  # nothing to log: no row
    row = bt_logs.by_name()["s"]
    assert row["metadata"] == {"a": 1, "b": 2}
    assert row["output"] == "second"
    assert row["scores"] == {"q": 0.5}


def test_ids_are_hex_and_children_share_the_trace(bt_logs, logger):
    with start_span(name="root") as root:
        with root.start_span(name="child") as child:
            pass
    assert HEX16.match(root.span_id) and HEX16.match(child.span_id)
    assert HEX32.match(root.root_span_id)
    assert child.root_span_id == root.root_span_id
    assert uuid.UUID(root.id)
    rows = bt_logs.by_name()
    assert rows["child"]["span_parents"] == [root.span_id]
    assert rows["root"]["span_parents"] is None


def test_end_is_idempotent_and_close_is_an_alias(bt_logs, logger):
    span = start_span(name="ended")
    assert span.end(end_time=1_800_000_000.0) == 1_800_000_000.0
    assert span.end(end_time=1_900_000_000.0) == 1_800_000_000.0
    assert span.close() == 1_800_000_000.0
    other = start_span(name="closed")
    t = other.close()
    assert abs(t - time.time()) < 5
    bt_logs.flush()
    end_rows = [r for r in bt_logs.sent_rows() if r["id"] == span.id and "end" in (r.get("metrics") or {})]
    assert [r["metrics"]["end"] for r in end_rows] == [1_800_000_000.0]
    assert bt_logs.server.rows()[0]["metrics"]["end"] == 1_800_000_000.0


def test_times_the_caller_gives_are_kept(bt_logs, logger):
    """Back-filled logs: a metrics.start or .end given by the caller stands, as 0.48.1 keeps it."""
    logger.log(input="old", metrics={"start": 5.0, "end": 6.0, "tokens": 3})
    logger.log(input="next")  # (starts where the previous log ended: at its given end)
    span = start_span(name="given-end")
    span.log(metrics={"end": 150.0})
    assert span.end() == 150.0
    zero = start_span(name="zero")
    assert abs(zero.end(end_time=0) - time.time()) < 5  # (0 is no time: now, as in 0.48.1)
    bt_logs.flush()
    rows = {r.get("input") or r["span_attributes"]["name"]: r["metrics"] for r in bt_logs.server.rows()}
    assert rows["old"] == {"start": 5.0, "end": 6.0, "tokens": 3}
    assert rows["next"]["start"] == 6.0
    assert rows["given-end"]["end"] == 150.0
    assert rows["zero"]["end"] > 1_000_000


def test_set_attributes(bt_logs, logger):
    with start_span(name="before") as span:
        span.set_attributes(name="after", type="tool", span_attributes={"extra": 1})
    row = bt_logs.rows()[0]
    assert row["span_attributes"]["name"] == "after"
    assert row["span_attributes"]["type"] == "tool"
    assert row["span_attributes"]["extra"] == 1
    assert isinstance(row["span_attributes"]["exec_counter"], int)


def test_set_current_and_unset_current(bt_logs, logger):
    span = start_span(name="manual")
    assert current_span() is NOOP_SPAN
    span.set_current()
    assert current_span() is span
    child = start_span(name="child-of-manual")
    child.end()
    span.unset_current()
    assert current_span() is NOOP_SPAN
    span.end()
    rows = bt_logs.by_name()
    assert rows["child-of-manual"]["span_parents"] == [span.span_id]


def test_context_manager_logs_error_and_reraises(bt_logs, logger):
    with pytest.raises(ZeroDivisionError):
        with start_span(name="fails") as span:
            assert current_span() is span
            1 / 0
    assert current_span() is NOOP_SPAN
    row = bt_logs.by_name()["fails"]
    assert row["error"].startswith("Traceback (most recent call last):")
    assert "ZeroDivisionError: division by zero" in row["error"]
    assert "end" in row["metrics"]


def test_span_flush_sends(bt_logs, logger, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_SYNC_FLUSH", "1")
    braintrust.delivery.runtime.reset_for_tests()
    logger = braintrust.init_logger(project="span-flush")
    with logger.start_span(name="f") as span:
        pass
    assert bt_logs.server.requests == []
    span.flush()
    assert [r["span_attributes"]["name"] for r in bt_logs.server.rows()] == ["f"]


def test_span_log_feedback(bt_logs, logger):
    with start_span(name="answered") as span:
        span.log(output="42")
    bt_logs.flush()
    span.log_feedback(scores={"correct": 1}, comment="nice", metadata={"by": "me"})
    rows = bt_logs.rows()
    target = next(r for r in rows if r["id"] == span.id)
    assert target["scores"] == {"correct": 1}
    comment = next(r for r in rows if "comment" in r)
    assert comment["comment"] == {"text": "nice"}
    assert comment["origin"] == {"id": span.id}


# -- export, link, permalink ----------------------------------------------------------------------


def test_export_v4_before_and_after_the_project_is_known(bt_logs, logger):
    with start_span(name="x") as span:
        pass
    slug = span.export()
    assert base64.b64decode(slug)[0] == 4
    components = SpanComponentsV4.from_str(slug)
    assert components.object_type == SpanObjectTypeV3.PROJECT_LOGS
    assert components.object_id is None
    assert components.compute_object_metadata_args == {"project_name": "span-tests", "project_id": None}
    assert (components.row_id, components.span_id, components.root_span_id) == (span.id, span.span_id, span.root_span_id)
    # Once the project is resolved, the slug carries its id.
    project_id = logger.id
    components = SpanComponentsV4.from_str(span.export())
    assert components.object_id == project_id
    assert components.compute_object_metadata_args is None
    assert bt_logs.rows()[0]["project_id"] == project_id


def test_legacy_ids_give_uuids_and_v3_slugs(bt_logs, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_LEGACY_IDS", "1")
    logger = braintrust.init_logger(project="legacy")
    with logger.start_span(name="root") as root:
        with root.start_span(name="child") as child:
            pass
    for value in (root.span_id, root.root_span_id, child.span_id):
        assert str(uuid.UUID(value)) == value
    assert root.root_span_id == root.span_id  # legacy: the trace id is the root's span id
    assert child.root_span_id == root.span_id
    slug = child.export()
    assert base64.b64decode(slug)[0] == 3
    components = SpanComponentsV3.from_str(slug)
    assert (components.row_id, components.span_id, components.root_span_id) == (child.id, child.span_id, child.root_span_id)
    assert base64.b64decode(logger.export())[0] == 3
    rows = bt_logs.by_name()
    assert rows["child"]["span_parents"] == [root.span_id]
    logged_id = logger.log(input=1)
    row = next(r for r in bt_logs.rows() if r["id"] == logged_id)
    assert row["root_span_id"] == row["span_id"]
    assert str(uuid.UUID(row["span_id"])) == row["span_id"]


def test_permalink_and_link(bt_logs, logger, monkeypatch):
    with start_span(name="linked") as span:
        pass
    # Before any login no org is known: the link says so (as 0.48.1's), and asks nothing.
    assert span.link() == "https://www.braintrust.dev/error-generating-link?msg=login-or-provide-org-name"
    assert bt_logs.server.requests == []
    monkeypatch.setenv("BRAINTRUST_ORG_NAME", "test-org")  # (known without a login: the logs' link by name)
    assert span.link() == f"{bt_logs.server.url}/app/test-org/p/span-tests/logs?oid={span.id}"
    monkeypatch.delenv("BRAINTRUST_ORG_NAME")
    link = span.permalink()
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == bt_logs.server.url
    assert parts.path == "/app/test-org/object"
    assert parse_qs(parts.query) == {"object_type": ["project_logs"], "object_id": [logger.id], "id": [span.id]}
    assert link.startswith(f"{bt_logs.server.url}/app/test-org/object?object_type=project_logs&object_id=")
    assert span.link() == link  # once resolved, link is the same object URL
    experiment = braintrust.init(project="span-tests", experiment="linked")
    with experiment.start_span(name="in-experiment") as in_experiment:
        pass
    assert in_experiment.link() == (f"{bt_logs.server.url}/app/test-org/object?object_type=experiment"
                                    f"&object_id={experiment.id}&id={in_experiment.id}")  # (it names the experiment)


def test_permalink_never_raises(bt_env):
    bt_env.api_key = "another-key"  # the server now refuses ours: login fails
    logger = braintrust.init_logger(project="nolink")
    with logger.start_span(name="x") as span:
        pass
    link = span.permalink()
    assert link.startswith("https://www.braintrust.dev/error-generating-link?msg=")


# -- NOOP_SPAN ------------------------------------------------------------------------------------


def test_noop_span_methods_do_nothing(bt_env):
    assert NOOP_SPAN.id == ""
    assert NOOP_SPAN.log(input=1, output=2) is None
    assert NOOP_SPAN.log_feedback(scores={"x": 1}) is None
    assert NOOP_SPAN.start_span(name="child", input=1) is NOOP_SPAN
    assert NOOP_SPAN.export() == ""
    assert NOOP_SPAN.link() == "https://www.braintrust.dev/noop-span"
    assert NOOP_SPAN.permalink() == "https://www.braintrust.dev/noop-span"
    assert NOOP_SPAN.end(end_time=12.5) == 12.5
    assert abs(NOOP_SPAN.end() - time.time()) < 5
    assert NOOP_SPAN.close(3.0) == 3.0
    assert NOOP_SPAN.flush() is None
    assert NOOP_SPAN.set_attributes(name="n", type="llm", span_attributes={"a": 1}) is None
    NOOP_SPAN.set_current()
    NOOP_SPAN.unset_current()
    assert NOOP_SPAN.propagated_event is None
    assert current_span() is NOOP_SPAN
    with NOOP_SPAN as entered:
        assert entered is NOOP_SPAN
    with pytest.raises(KeyError):
        with NOOP_SPAN:
            raise KeyError("not swallowed")
    assert isinstance(NOOP_SPAN, braintrust.Span)
    assert braintrust.permalink("") == "https://www.braintrust.dev/noop-span"
    braintrust.flush()
    assert bt_env.requests == []


def test_empty_parent_means_no_parent(bt_logs, logger):
    with start_span(name="a", parent="") as a:
        with a.start_span(name="b", parent="") as b:
            pass
    with logger.start_span(name="c", parent=""):
        pass
    rows = bt_logs.by_name()
    assert rows["a"]["span_parents"] is None
    assert rows["b"]["span_parents"] == [a.span_id]
    assert rows["c"]["span_parents"] is None
    assert b.root_span_id == a.root_span_id


def test_otel_compat_forces_hex_ids(bt_logs, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_LEGACY_IDS", "1")
    monkeypatch.setenv("BRAINTRUST_OTEL_COMPAT", "1")
    logger = braintrust.init_logger(project="otel")
    with logger.start_span(name="r") as span:
        pass
    assert HEX16.match(span.span_id) and HEX32.match(span.root_span_id)
    assert base64.b64decode(span.export())[0] == 4
