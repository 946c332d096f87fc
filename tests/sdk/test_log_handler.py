"""``BraintrustLogHandler`` beyond the public SDK's capture (tests/sdk/test_public_sdk_captures.py::
test_log_handler_matches_public_sdk): a handler run on another thread, arguments changed after
logging, this package's own HTTP records left out, errors kept away from the caller."""

from __future__ import annotations

import logging
import logging.handlers
import queue

import pytest
import requests

import braintrust
from braintrust.logs import _field_kinds, level_name


@pytest.fixture
def app_logger():
    """A logger of the application's, with the handler only (removed afterwards)."""
    app = logging.getLogger("tests.app")
    for handler in list(app.handlers):
        app.removeHandler(handler)
    app.setLevel(logging.DEBUG)
    app.propagate = False
    yield app
    for handler in list(app.handlers):
        app.removeHandler(handler)


def test_a_record_lands_in_the_span_where_it_was_made_even_when_handled_elsewhere(bt_logs, app_logger):
    """With a ``QueueHandler`` the handler runs on the listener's thread, outside any span: the
    record still joins the span current where ``app.info`` was called."""
    logger = braintrust.init_logger(project="queued")
    records: queue.Queue = queue.Queue()
    listener = logging.handlers.QueueListener(records, braintrust.BraintrustLogHandler(logger))
    app_logger.addHandler(logging.handlers.QueueHandler(records))
    listener.start()
    try:
        with logger.start_span(name="request") as span:
            app_logger.info("handled %s", "later")
        app_logger.info("outside")
    finally:
        listener.stop()
    rows = {r.get("output"): r for r in bt_logs.rows()}
    assert (rows["handled later"]["span_id"], rows["handled later"]["root_span_id"]) == (span.span_id, span.root_span_id)
    assert rows["outside"]["root_span_id"] != span.root_span_id


def test_arguments_are_logged_as_they_were_when_logged(bt_logs, app_logger):
    logger = braintrust.init_logger(project="frozen")
    records: queue.Queue = queue.Queue()
    app_logger.addHandler(logging.handlers.QueueHandler(records))
    items = [1, 2]
    app_logger.warning("cart %s", items)
    items.append(3)  # (changed before the handler sees the record)
    handler = braintrust.BraintrustLogHandler(logger)
    handler.handle(records.get_nowait())
    (row,) = bt_logs.rows()
    assert row["metadata"]["braintrust.template.parameter.0"] == "[1, 2]"


def test_records_about_its_own_requests_are_left_out_and_others_kept(bt_logs):
    """The handler on the root logger with urllib3 at DEBUG: the records urllib3 makes about this
    package's requests to Braintrust would be forwarded with more requests, without end; they are
    left out, and urllib3's records about the application's own requests are kept."""
    root, transport = logging.getLogger(), logging.getLogger("urllib3.connectionpool")
    saved = root.level, transport.level
    logger = braintrust.init_logger(project="transport")
    handler = braintrust.BraintrustLogHandler(logger)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    transport.setLevel(logging.DEBUG)
    try:
        logger.log(input="registers the project: a request of ours")
        braintrust.flush()
        requests.get(f"{bt_logs.server.url}/version", timeout=10)  # the application's own request
        braintrust.flush()
    finally:
        root.removeHandler(handler)
        root.setLevel(saved[0])
        transport.setLevel(saved[1])
    records = [r for r in bt_logs.rows() if (r.get("span_attributes") or {}).get("type") == "log"]
    about_version = [r for r in records if "/version" in str(r.get("output"))]
    assert about_version and all(r["metadata"]["logger.name"].startswith("urllib3") for r in about_version)
    assert not any("/v1/project" in str(r.get("output")) or "/logs3" in str(r.get("output")) for r in records)


def test_a_record_that_cannot_be_logged_never_reaches_the_caller(bt_logs, app_logger, monkeypatch):
    """An error in the handler goes to ``logging``'s ``handleError`` (stderr, by default), as
    with logging's own handlers; the application's call returns normally."""
    class Refusing(logging.Formatter):
        def format(self, record):
            if record.args:
                raise TypeError("cannot format")
            return super().format(record)

    handled = []
    handler = braintrust.BraintrustLogHandler(braintrust.init_logger(project="errors"))
    handler.setFormatter(Refusing())
    monkeypatch.setattr(handler, "handleError", handled.append)
    app_logger.addHandler(handler)
    app_logger.info("bad %s", "arguments")
    app_logger.info("still logging")
    assert [record.getMessage() for record in handled] == ["bad arguments"]
    assert [r["output"] for r in bt_logs.rows()] == ["still logging"]


@pytest.mark.parametrize("target", [None, logging.getLogger("app"), braintrust.NOOP_SPAN])
def test_a_handler_needs_a_braintrust_logger(target):
    with pytest.raises(TypeError, match=r"needs the Braintrust logger to write to, from braintrust.init_logger\(...\)"):
        braintrust.BraintrustLogHandler(target)


@pytest.mark.parametrize("levelno, name", [(1, "trace"), (10, "debug"), (15, "debug"), (20, "info"), (30, "warn"),
                                           (40, "error"), (50, "fatal"), (60, "fatal")])
def test_levels(levelno, name):
    assert level_name(levelno) == name


@pytest.mark.parametrize("template, kinds", [("%s and %d", (True, False)), ("%(user)s", (False, True)),
                                             ("100%% of %(user)s", (False, True)), ("%s %(x)s", (True, True)),
                                             ("no fields 100%", (False, False))])
def test_template_field_kinds(template, kinds):
    assert _field_kinds(template) == kinds
