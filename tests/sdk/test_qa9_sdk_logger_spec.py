"""The public SDK's own logger tests (``py/src/braintrust/test_logger.py``) read as a
specification: each test here is a place where a side-by-side run of 0.48.1 and ours against the
test server found ours different."""

from __future__ import annotations

import logging

import pytest

import braintrust

ERROR_LINK = "https://www.braintrust.dev/error-generating-link?msg="


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({}, "Must specify at least one of project or project_id"),
        ({"experiment": "e"}, "Must specify at least one of project or project_id"),
        ({"project": "p", "open": True, "update": True}, "Cannot open and update an experiment at the same time"),
        ({"project": "p", "open": True}, "Cannot open an experiment without specifying its name"),
    ],
)
def test_init_refusals_start_with_0_48_1s_words(kwargs, words):
    """Callers match these errors on 0.48.1's text; ours adds the fix after it."""
    with pytest.raises(ValueError) as raised:
        braintrust.init(**kwargs)
    assert str(raised.value).startswith(words)


@pytest.mark.parametrize("org_known, expected", [(False, "provide-app-url-or-org-name"), (True, "resolve-experiment-id")])
def test_an_experiment_span_link_when_the_login_fails_names_what_is_missing(bt_env, monkeypatch, org_known, expected):
    """``span.link()`` never raises and, as 0.48.1's, names no failure: with the experiment
    unresolvable (the key is refused) it says what it lacks, not the login error's text."""
    monkeypatch.setenv("BRAINTRUST_API_KEY", "not-the-key")
    if org_known:
        monkeypatch.setenv("BRAINTRUST_ORG_NAME", bt_env.org_name)
    experiment = braintrust.init(project="p", experiment="e")
    span = experiment.start_span(name="s")
    span.end()
    assert span.link() == ERROR_LINK + expected
    braintrust.flush()  # (the refused key spills the row: nothing is left for teardown)


def test_an_experiment_span_link_once_resolved_names_the_experiment(bt_env):
    experiment = braintrust.init(project="p", experiment="e")
    span = experiment.start_span(name="s")
    span.end()
    link = span.link()
    assert link == f"{bt_env.url}/app/{bt_env.org_name}/object?object_type=experiment&object_id={experiment.id}&id={span.id}"
    assert braintrust.flush().ok


def test_a_traced_generator_over_the_limit_warns_in_0_48_1s_words_once(bt_env, monkeypatch, caplog):
    """0.48.1 warns with this text (once per extra item; ours once per generator)."""
    monkeypatch.setenv("BRAINTRUST_MAX_GENERATOR_ITEMS", "3")
    braintrust.init_logger(project="p")

    @braintrust.traced
    def numbers():
        yield from range(10)

    with caplog.at_level(logging.WARNING, logger="braintrust"):
        assert list(numbers()) == list(range(10))
    assert braintrust.flush().ok
    warnings = [r.getMessage() for r in caplog.records if "Generator output exceeded limit of 3 items" in r.getMessage()]
    assert warnings == [
        "Generator output exceeded limit of 3 items, output not logged. "
        "Increase BRAINTRUST_MAX_GENERATOR_ITEMS or set to -1 to disable limit."
    ]


@pytest.mark.parametrize("where", ["logger", "experiment", "module", "child"])
def test_a_span_started_with_set_current_false_never_becomes_current(bt_env, where):
    """0.48.1: ``set_current()`` on such a span does nothing (``with span:`` already did nothing)."""
    logger = braintrust.init_logger(project="p")
    experiment = braintrust.init(project="p", experiment="e", set_current=False)
    parent = logger.start_span(name="parent")
    start = {
        "logger": logger.start_span,
        "experiment": experiment.start_span,
        "module": braintrust.start_span,
        "child": parent.start_span,
    }[where]
    span = start(name="s", set_current=False)
    span.set_current()
    try:
        assert braintrust.current_span() is not span
    finally:
        span.unset_current()
        span.end()
        parent.end()
        assert braintrust.flush().ok
