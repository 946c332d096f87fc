"""A run without ``--braintrust`` whose tests log through the SDK: rows they could not deliver
are said in pytest's summary (the SDK's own warning lands in a passing test's captured log)."""

from __future__ import annotations

from typing import Any


SUITE = '''
import braintrust

def test_logs():
    logger = braintrust.init_logger(project="plain-run")
    logger.log(input="a", output="b")
    logger.flush()

def test_other():
    assert True
'''


def test_rows_a_plain_run_could_not_deliver_are_said_in_its_summary(bt_api: Any) -> None:
    bt_api.server.fail_always("POST", "/logs3", 401)
    bt_api.pytester.makepyfile(test_plain_sdk=SUITE)
    spilled = bt_api.path / "spilled"
    result = bt_api.run_subprocess("-p", "no:randomly", env={"BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR": str(spilled)})
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([
        "braintrust: not every row your tests logged was delivered: 1 row writes, 0 accepted, 1 spilled (*)."
        f" Send what was spilled with `braintrust replay {spilled}*`.",
        "braintrust: *401*",
    ])


def test_a_plain_run_that_delivered_everything_says_nothing(bt_api: Any) -> None:
    bt_api.pytester.makepyfile(test_plain_sdk=SUITE)
    result = bt_api.run_subprocess("-p", "no:randomly")
    assert result.ret == 0
    assert "braintrust: " not in result.stdout.str()
    assert bt_api.server.rows()  # (the row was sent)


def test_a_plain_run_without_the_sdk_imported_does_not_import_it(bt: Any) -> None:
    bt.pytester.makepyfile(test_plain='''
import sys

def test_nothing_imported():
    pass

def pytest_sessionfinish():
    pass
''')
    bt.pytester.makeconftest('''
import sys

def pytest_unconfigure(config):
    print("SDK imported:", "braintrust.delivery.runtime" in sys.modules)
''')
    result = bt.run_subprocess("-s")
    result.stdout.fnmatch_lines(["SDK imported: False"])
