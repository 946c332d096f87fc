"""Log records (``logger.info(...)`` and the other levels): checked arguments, templates, and the
logger's flush mode. (Rows against the public SDK's:
tests/sdk/test_public_sdk_captures.py::test_distributed_tracing_and_log_records_match_public_sdk;
``braintrust logs`` showing them: tests/cli/test_cli_store.py.)"""

from __future__ import annotations

import pytest

import braintrust
from braintrust.objects.log_records import render


def test_a_synchronous_logger_sends_each_record_at_once(bt_logs):
    logger = braintrust.init_logger(project="sync", async_flush=False)
    row_id = logger.fatal("stopping", metadata={"reason": "test"})
    (row,) = bt_logs.server.rows("project_logs")  # no flush by the test: the call sent it
    assert row["id"] == row_id and row["metadata"] == {"reason": "test"}
    assert row["span_attributes"] == {"type": "log", "log_level": "fatal", "exec_counter": row["span_attributes"]["exec_counter"]}


def test_bad_arguments_name_the_problem_and_log_nothing(bt_logs):
    logger = braintrust.init_logger(project="bad")
    with pytest.raises(ValueError, match="Invalid log level 'warning'. Expected one of: trace, debug, info, warn, error, fatal"):
        logger.emit_log("x", "warning")
    with pytest.raises(TypeError, match="Log body must be a string when template parameters are provided"):
        logger.info(["a"], n=1)
    with pytest.raises(ValueError, match="metadata must be a dict"):
        logger.info("x", metadata="not a dict")
    logger.info("ok")
    assert [r["output"] for r in bt_logs.rows()] == ["ok"]


@pytest.mark.parametrize("body, parameters, output", [
    ("plain", {}, "plain"),
    ("{a} and {b!r}", {"a": 1, "b": "x"}, "1 and 'x'"),
    ("{missing}", {"a": 1}, "{missing}"),  # a name not given: logged as written
    ("{0}", {"a": 1}, "{0}"),  # positional: no positional parameters
    ("{a:%Y}", {"a": 1}, "{a:%Y}"),  # a format spec the value refuses
    ("{a.real}", {"a": 2}, "2"),
    ("{{literal}} {a}", {"a": "v"}, "{literal} v"),
])
def test_templates_render_with_str_format_or_stay_as_written(body, parameters, output):
    rendered, metadata = render(body, parameters)
    assert rendered == output
    expected_metadata = {"braintrust.template": body, **{f"braintrust.template.parameter.{k}": v for k, v in parameters.items()}}
    assert metadata == (expected_metadata if parameters else {})
