"""The ``pytest11`` entry point (``-p no:braintrust`` disables it).

Always: the options, the ``braintrust`` marker, and the ``braintrust_span`` / ``braintrust_case``
fixtures (which work without logging). Only with ``--braintrust`` is the SDK imported and the
session object registered, so an unused plugin costs next to nothing.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

import pytest

from pytest_braintrust.marks import MARKER_HELP
from pytest_braintrust.options import add_options, settings_from

#: Set while pytest runs with this plugin: the SDK core keeps its local store in the rootdir
#: and applies back-pressure instead of spilling when its queue is full.
active_rootdir: Any = None


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


_ROOTDIR_KEY = pytest.StashKey[Any]()
_OUTER_PROCESSOR_KEY = pytest.StashKey[Any]()
#: The configs of the --braintrust runs under way in this process (more than one: pytest in pytest);
#: read by the SDK core (``braintrust.delivery.runtime``).
braintrust_runs: list[pytest.Config] = []
_API_KEY_ENV_KEY = pytest.StashKey[Any]()
_SDK_COUNTS_KEY = pytest.StashKey[Any]()  # (a run without --braintrust: see pytest_terminal_summary)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    global active_rootdir
    config.addinivalue_line("markers", MARKER_HELP)
    config.stash[_ROOTDIR_KEY] = active_rootdir  # restored at unconfigure (pytest inside pytest)
    if braintrust_runs and config.getoption("braintrust"):
        # A --braintrust run inside another (a plugin's pytester test): each sends its rows to
        # its own store, through its own processor (set aside before the rootdir changes).
        from braintrust.delivery.runtime import set_aside

        config.stash[_OUTER_PROCESSOR_KEY] = set_aside()
    active_rootdir = config.rootpath
    if config.getoption("braintrust"):
        braintrust_runs.append(config)
    if config.pluginmanager.hasplugin("xdist") and not hasattr(config, "workerinput"):
        from pytest_braintrust.xdist import DatasetPins

        config.pluginmanager.register(DatasetPins(), "braintrust-dataset-pins")
    if not config.getoption("braintrust"):
        _warn_of_gates_not_applied(config)
        config.stash[_SDK_COUNTS_KEY] = _sdk_counts()  # (what an outer run logged: pytest in pytest)
        return  # options and ini values are only read (and validated) for --braintrust runs
    settings = settings_from(config)
    api_key = config.getoption("braintrust_api_key")
    if api_key:
        import os

        config.stash[_API_KEY_ENV_KEY] = os.environ.get("BRAINTRUST_API_KEY")
        os.environ["BRAINTRUST_API_KEY"] = api_key
        if not hasattr(config, "workerinput"):  # once per run, not once per xdist worker too
            message = ("--braintrust-api-key puts the key in your shell history and CI logs; "
                       "set the BRAINTRUST_API_KEY environment variable instead.")
            try:
                config.issue_config_time_warning(pytest.PytestWarning(message), stacklevel=2)
            except pytest.PytestWarning:  # (-W error or filterwarnings = error made it an error)
                raise pytest.UsageError(message) from None
    from pytest_braintrust.runtime import configure_session

    configure_session(config, settings)


def _warn_of_gates_not_applied(config: pytest.Config) -> None:
    """Gates given on the command line of a run without ``--braintrust`` (a CI step that forgot
    it) judge nothing: say so rather than pass silently. (Ini gates are defaults for the runs
    that log, so a plain run with them says nothing.)"""
    given = [option for option in ("--braintrust-fail-under", "--braintrust-max-regression", "--braintrust-gates-only")
             if config.getoption(option[2:].replace("-", "_"))]
    if not given or hasattr(config, "workerinput"):
        return
    message = (f"{', '.join(given)} given without --braintrust: not applied (no case is logged, no gate judged); "
               "add --braintrust to judge them.")
    try:
        config.issue_config_time_warning(pytest.PytestConfigWarning(message), stacklevel=2)
    except pytest.PytestWarning:  # (-W error or filterwarnings = error made it an error)
        raise pytest.UsageError(message) from None


def _sdk_counts() -> Any:
    """The SDK's delivery counts in this process so far (None: it has logged nothing, or is not
    even imported; importing it is not for a plain run to do)."""
    runtime = sys.modules.get("braintrust.delivery.runtime")
    return runtime.counts_if_logging() if runtime is not None else None


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """A run without ``--braintrust`` whose tests logged through the SDK: rows they could not
    deliver are said here. The SDK's own warning was made while a test ran, so pytest kept it
    in that test's captured log, shown only if the test failed."""
    if _SDK_COUNTS_KEY not in config.stash or hasattr(config, "workerinput"):
        return
    now = _sdk_counts()
    if now is None:
        return
    lost = now.since(config.stash[_SDK_COUNTS_KEY])
    if not (lost.spilled or lost.dropped_total or lost.attachments_spilled or sum(lost.attachments_dropped.values())):
        return
    import os

    from pytest_braintrust.report import _write

    line = f"braintrust: not every row your tests logged was delivered: {lost.describe()}."
    if lost.spill_files:
        line += f" Send what was spilled with `braintrust replay {os.path.dirname(lost.spill_files[-1])}`."
    _write(terminalreporter, line, red=True)
    for error in dict.fromkeys(lost.errors):  # (each once, in order)
        _write(terminalreporter, f"braintrust: {error}", red=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    global active_rootdir
    if config in braintrust_runs:
        braintrust_runs.remove(config)
    if _OUTER_PROCESSOR_KEY in config.stash:  # (before the rootdir goes back: the nested run's last rows)
        from braintrust.delivery.runtime import bring_back

        bring_back(config.stash[_OUTER_PROCESSOR_KEY])
    active_rootdir = config.stash.get(_ROOTDIR_KEY, None)
    if _API_KEY_ENV_KEY in config.stash:  # the key given with --braintrust-api-key
        import os

        previous = config.stash[_API_KEY_ENV_KEY]
        if previous is None:
            os.environ.pop("BRAINTRUST_API_KEY", None)
        else:
            os.environ["BRAINTRUST_API_KEY"] = previous


@pytest.hookimpl(tryfirst=True)  # (before pytest's own, which deselects by -m)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``-m braintrust`` selects every eval case, and ``-m "not braintrust"`` leaves them all out
    (a unit-test job): a test that is a case only by requesting ``braintrust_case`` gets the
    marker too. Only with a ``-m`` expression, the one thing the marker changes here."""
    if not getattr(config.option, "markexpr", ""):
        return
    for item in items:
        if "braintrust_case" in getattr(item, "fixturenames", ()) and item.get_closest_marker("braintrust") is None:
            item.add_marker("braintrust")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    try:
        _generate_cases(metafunc)
    except pytest.UsageError as exc:
        # A bad declaration or data source: a collection error of that module naming the
        # problem (and the file:line of a bad data line), without a traceback into the plugin.
        raise pytest.Collector.CollectError(str(exc)) from None


def _generate_cases(metafunc: pytest.Metafunc) -> None:
    from pytest_braintrust.marks import declared

    decl = declared(metafunc.definition)
    if decl is None:
        return
    if decl.data is not None:
        from pytest_braintrust.data import parametrize_data

        parametrize_data(metafunc, decl.data, decl.project)
    if decl.trials > 1:
        metafunc.fixturenames.append("braintrust_trial")
        metafunc.parametrize(
            "braintrust_trial", range(1, decl.trials + 1), ids=[f"trial-{i}" for i in range(1, decl.trials + 1)], indirect=True
        )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if type(item).__name__ == "TestCaseFunction" and item.get_closest_marker("braintrust") is not None:
        from pytest_braintrust.marks import unittest_problem

        problem = unittest_problem(item)
        if problem:
            pytest.fail(problem, pytrace=False)
        return  # (its return value: see capture_unittest_return_value)
    if inspect.iscoroutinefunction(getattr(item, "obj", None)):
        from pytest_braintrust.case import capture_async_return_value, is_case

        if is_case(item):
            capture_async_return_value(item)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """With ``--braintrust``, keep where a case's spans go as its body is called (an async body
    may be awaited in another context: ``case.capture_async_return_value``). Without it, a marked
    ``unittest.TestCase`` method's return value (its output, by design) is dropped, as
    ``call_sync_case`` drops a function's: Python 3.11+ warns about it (an error under ``-W
    error``). With it, the session plugin records it."""
    if item.config.option.braintrust and inspect.iscoroutinefunction(getattr(item, "obj", None)):
        from pytest_braintrust.case import CALL_CONTEXT_KEY, CASE_KEY

        if item.stash.get(CASE_KEY, None) is not None:
            from braintrust.tracing.context import snapshot

            # (the task span is current here: see capture_async_return_value; taken by the body
            # as it starts, so no item keeps spans alive to the session's end)
            item.stash[CALL_CONTEXT_KEY] = snapshot()
    if (type(item).__name__ == "TestCaseFunction" and not item.config.option.braintrust
            and item.get_closest_marker("braintrust") is not None):
        from pytest_braintrust.case import capture_unittest_return_value

        capture_unittest_return_value(item)


@pytest.hookimpl  # before pytest's own (trylast); declines what other plugins run (async tests)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A case's return value is its output (see ``case.call_sync_case``)."""
    from pytest_braintrust.case import call_sync_case

    return call_sync_case(pyfuncitem, bool(pyfuncitem.config.option.braintrust))


@pytest.fixture
def braintrust_trial(request: pytest.FixtureRequest) -> int:
    """The 1-based trial number of an ``eval_case(trials=N)`` item (1 when not trialled)."""
    return getattr(request, "param", 1)


@pytest.fixture
def braintrust_span(request: pytest.FixtureRequest) -> Any:
    """The case's root span (the no-op span when the test is not being logged)."""
    case = _case_of(request)
    return case.span


@pytest.fixture
def braintrust_case(request: pytest.FixtureRequest) -> Any:
    """The eval case: input, expected, metadata; log output, scores, soft checks; run scorers."""
    return _case_of(request)


#: The case the fixtures give a test that is not being logged (no ``--braintrust``, or a test
#: that only requests ``braintrust_span``): kept apart from the logged cases' key, which the
#: per-test hooks act on.
_UNLOGGED_CASE_KEY = pytest.StashKey[Any]()


def _case_of(request: pytest.FixtureRequest) -> Any:
    from pytest_braintrust.case import CASE_KEY

    stash = request.node.stash
    case = stash.get(CASE_KEY, None) or stash.get(_UNLOGGED_CASE_KEY, None)
    if case is not None:
        return case
    from braintrust.tracing.span import NOOP_SPAN
    from pytest_braintrust.case import BraintrustCase, spec_of
    from pytest_braintrust.scoring import run_scorers

    case = stash[_UNLOGGED_CASE_KEY] = BraintrustCase(spec_of(request.node), NOOP_SPAN, run_scorers)
    request.addfinalizer(lambda: stash.__delitem__(_UNLOGGED_CASE_KEY))  # (items outlive their test)
    return case
