"""Without ``--braintrust`` installing the plugin changes nothing: no network, no store, no
header, the SDK not even imported; the fixtures still work. ``-p no:braintrust`` removes it."""

from __future__ import annotations

import pytest

SUITE = '''
import sys

import pytest
from pytest_braintrust import eval_case


def test_sdk_not_loaded():
    # runs first: nothing so far needed the SDK
    assert not [m for m in sys.modules if m == "braintrust" or m.startswith("braintrust.")]


def exact(output, expected):
    return 1.0 if output == expected else 0.0


@eval_case(input={"q": 1}, expected=2, scorers=[exact])
def test_case_fixture_works(braintrust_case, braintrust_span):
    assert braintrust_case.input == {"q": 1}
    assert braintrust_case.expected == 2
    braintrust_case.log_output(2)
    braintrust_span.log(output=2, metadata={"ignored": True})
    assert braintrust_case.check("soft", False) is False
    assert braintrust_case.run_scorers() == {"exact": 1}
    braintrust_case.feedback(comment="nobody hears this")
    with braintrust_case.start_span(name="child") as span:
        span.log(output=1)


@pytest.mark.braintrust(input="x")
def test_public_marker_and_span(braintrust_span):
    braintrust_span.log(output="y")


def test_unmarked_fixture(braintrust_case):
    assert braintrust_case.input is None


@eval_case(input=3)
def test_failing_case():
    assert False
'''


def test_disabled_plugin_is_inert(bt_api):
    server = bt_api.server
    bt_api.monkeypatch.delenv("BRAINTRUST_LOCAL_DIR")  # the default store would be <rootdir>/.braintrust
    bt_api.pytester.makepyfile(test_suite_disabled=SUITE)
    result = bt_api.run_subprocess("-p", "no:randomly", "-v")
    result.assert_outcomes(passed=4, failed=1)
    assert "braintrust:" not in result.stdout.str()  # no header, no summary
    assert "Braintrust" not in result.stdout.str()
    assert server.requests == []  # no network at all
    assert not (bt_api.path / ".braintrust").exists()
    assert not bt_api.local_dir.joinpath("braintrust.sqlite").exists()


def test_no_braintrust_plugin(bt):
    bt.pytester.makepyfile(
        test_suite_off='''
        import pytest
        from pytest_braintrust import eval_case

        @eval_case(input=1)
        def test_marked():
            pass

        @pytest.mark.braintrust
        def test_public_marker():
            pass
        '''
    )
    result = bt.run("-p", "no:braintrust")
    result.assert_outcomes(passed=2)
    assert "braintrust:" not in result.stdout.str()
    result = bt.run("-p", "no:braintrust", "--braintrust")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*unrecognized arguments: --braintrust*"])
    assert not bt.local_dir.joinpath("braintrust.sqlite").exists()


def test_braintrust_settings_are_only_read_for_braintrust_runs(bt):
    bt.pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nbraintrust_fail_under = typo\n")
    bt.pytester.makepyfile(test_suite_settings="from pytest_braintrust import eval_case\n\n@eval_case(input=1)\ndef test_it():\n    pass\n")
    bt.run().assert_outcomes(passed=1)
    result = bt.run("--braintrust")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*braintrust_fail_under (in tox.ini): 'typo' should look like SCORE=VALUE, "
                                 "e.g. braintrust_fail_under = exact=0.8,relevance=75%"])


def test_without_logging_a_case_may_still_return_its_output_without_a_warning(bt):
    """A case's return value is its output by design: plain ``pytest`` (no ``--braintrust``)
    under ``-W error`` must not fail it. Other tests keep pytest's warning."""
    bt.pytester.makepyfile(
        test_suite_returning='''
        import pytest
        from pytest_braintrust import eval_case

        @eval_case(input=1)
        def test_case_returns():
            return {"answer": 42}

        @pytest.mark.braintrust
        class TestMarkedClass:
            @pytest.mark.parametrize("n", [1, 2])
            def test_method_returns(self, n):
                return n

        def test_unmarked_returns():
            return "a mistake pytest warns about"
        '''
    )
    result = bt.run("-W", "error::pytest.PytestReturnNotNoneWarning", "-rf")
    result.assert_outcomes(passed=3, failed=1)
    # (the traceback's line: the short summary's copy is cut to the terminal's width)
    result.stdout.fnmatch_lines(["E *PytestReturnNotNoneWarning: *::test_unmarked_returns returned *", "FAILED *::test_unmarked_returns*"])


@pytest.mark.parametrize("variable, value, message", [
    ("BRAINTRUST_HTTP_TIMEOUT", "abc", "BRAINTRUST_HTTP_TIMEOUT='abc' is not a number; set it to e.g. 30.0 or unset it."),
    ("BRAINTRUST_LOCAL", "maybe", "BRAINTRUST_LOCAL='maybe' is not a boolean: use one of true/1/yes/on or false/0/no/off."),
])
def test_a_malformed_braintrust_variable_is_a_usage_error_before_any_test(bt, variable, value, message):
    """Read at configure time: once, a malformed delivery variable stopped the run with an
    INTERNALERROR traceback at the first case, and a malformed ``BRAINTRUST_LOCAL`` lost every
    row at the end while the run passed. Without ``--braintrust`` nothing reads them."""
    bt.pytester.makepyfile(test_suite_env="from pytest_braintrust import eval_case\n\n@eval_case(input=1)\ndef test_it():\n    pass\n")
    bt.monkeypatch.setenv(variable, value)
    bt.run().assert_outcomes(passed=1)
    result = bt.run("--braintrust")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --braintrust: {message}"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert not bt.local_dir.joinpath("braintrust.sqlite").exists()
