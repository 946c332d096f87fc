"""Error messages a user meets with bad input: each names the problem, where it is, and the fix;
exception types stay those code written for the public SDK 0.48.1 may catch."""

from __future__ import annotations

import pytest

import braintrust
from braintrust.prompts.prompt import Prompt


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A suite of its own, run in process (its data errors come at collection, before any row)."""
    for name in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    return pytester


def _collect_error(suite: pytest.Pytester, source: str) -> str:
    suite.makepyfile(test_suite=source)
    result = suite.runpytest("-p", "no:cacheprovider", "-q")
    assert result.ret == 2  # (a collection error)
    output = result.stdout.str()
    assert "Traceback" not in output
    return output


def test_a_bad_record_in_a_list_names_the_test_and_the_record(suite):
    # (it named only "record 2": with a module's mark feeding several tests, which test was it?)
    output = _collect_error(suite, '''
        from pytest_braintrust import eval_case

        @eval_case(input=1)
        def test_fine(braintrust_case):
            pass

        @eval_case(data=[{"input": 1}, {"input": 2, "tags": [3]}])
        def test_listed(braintrust_case):
            pass
    ''')
    assert "test_suite.py::test_listed: data= record 2: tags must be a list of strings, got [3]." in output


def test_a_bad_record_from_a_data_function_names_the_function(suite):
    output = _collect_error(suite, '''
        from pytest_braintrust import eval_case

        def records():
            return [{"input": 1}, {"expected": 2}]

        @eval_case(data=records)
        def test_called(braintrust_case):
            pass
    ''')
    assert "test_suite.py::test_called: data=records() record 2: has \"expected\" but no \"input\"" in output


def test_metadata_that_is_not_an_object_is_shown_with_the_fix(suite):
    output = _collect_error(suite, '''
        from pytest_braintrust import eval_case

        @eval_case(data=[{"input": 1, "metadata": "urgent"}])
        def test_meta(braintrust_case):
            pass
    ''')
    assert "test_meta: data= record 1: metadata must be an object, got str." in output
    assert "dict of fields" in output and "not 'urgent'" in output


def test_a_template_that_cannot_be_parsed_raises_what_0_48_1_raises():
    # 0.48.1 renders with chevron: a bad template raises chevron.ChevronError, a SyntaxError.
    prompt = Prompt.from_prompt_data("greeting", {
        "prompt": {"type": "chat", "messages": [{"role": "user", "content": "Hi {{#name}} there"}]},
        "options": {"model": "gpt-4o"},
    })
    with pytest.raises(SyntaxError) as info:
        prompt.build(name="Bob")
    assert isinstance(info.value, ValueError)  # (our own type, as before)
    assert str(info.value) == "Prompt 'greeting' has a template that cannot be rendered: section 'name' opened at line 1 is never closed"
    chevron = pytest.importorskip("chevron")
    assert isinstance(info.value, chevron.ChevronError)


def test_a_refused_key_raises_a_value_error_as_0_48_1_does(bt_server):
    # 0.48.1: ValueError("Invalid API key wr*****ey: [401] ..."); ours raised BackendError, an
    # Exception only, past code that catches ValueError around init().
    experiment = braintrust.init(project="refused", api_key="wrong-key", app_url=bt_server.url)
    with pytest.raises(ValueError, match=r"Invalid API key wr\*\*\*\*\*ey: \[401\]"):
        experiment.id
