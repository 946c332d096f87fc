"""The ``pytest11`` entry point (``-p no:braintrust`` disables it).

Always: the options, the ``braintrust`` marker, and the ``braintrust_span`` / ``braintrust_case``
fixtures (which work without logging). Only with ``--braintrust`` is the SDK imported and the
session object registered, so an unused plugin costs next to nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_braintrust.marks import MARKER_HELP
from pytest_braintrust.options import add_options, settings_from

#: Set while pytest runs with this plugin: the SDK core keeps its local store in the rootdir
#: and applies back-pressure instead of spilling when its queue is full.
active_rootdir: Any = None

SESSION_PLUGIN = "braintrust-session"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    global active_rootdir
    config.addinivalue_line("markers", MARKER_HELP)
    active_rootdir = config.rootpath
    settings = settings_from(config)
    if not settings.enabled:
        return
    api_key = config.getoption("braintrust_api_key")
    if api_key:
        import os
        import warnings

        os.environ["BRAINTRUST_API_KEY"] = api_key
        warnings.warn(
            pytest.PytestWarning(
                "--braintrust-api-key puts the key in your shell history and CI logs; "
                "set the BRAINTRUST_API_KEY environment variable instead."
            )
        )
    from pytest_braintrust.runtime import configure_session

    configure_session(config, settings)


def pytest_unconfigure(config: pytest.Config) -> None:
    global active_rootdir
    active_rootdir = None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    from pytest_braintrust.marks import declared

    decl = declared(metafunc.definition)
    if decl is None:
        return
    if decl.data is not None:
        from pytest_braintrust.data import parametrize_data

        parametrize_data(metafunc, decl.data)
    if decl.trials > 1:
        metafunc.fixturenames.append("braintrust_trial")
        metafunc.parametrize(
            "braintrust_trial", range(1, decl.trials + 1), ids=[f"trial-{i}" for i in range(1, decl.trials + 1)], indirect=True
        )


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


def _case_of(request: pytest.FixtureRequest) -> Any:
    from pytest_braintrust.session import CASE_KEY

    case = request.node.stash.get(CASE_KEY, None)
    if case is not None:
        return case
    from braintrust.tracing.span import NOOP_SPAN
    from pytest_braintrust.case import BraintrustCase, spec_of
    from pytest_braintrust.scoring import run_scorers

    case = BraintrustCase(spec_of(request.node), NOOP_SPAN, run_scorers)
    request.node.stash[CASE_KEY] = case
    return case
