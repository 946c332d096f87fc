"""``@traced`` on generators held to 0.48.1 (rows the test server receives): a generator stopped
by an interrupt (``KeyboardInterrupt``, ``SystemExit``, asyncio cancellation) logs no partial
output -- 0.48.1 keeps what was yielded only when an ``Exception`` ends it -- and a generator
whose own body raises ``GeneratorExit`` records it as its error (only the caller closing it
early is not an error here)."""

from __future__ import annotations

import asyncio
import inspect

import pytest

import braintrust
from braintrust import traced


def _drain(gen):
    seen = []
    for item in gen:
        seen.append(item)
    return seen


@pytest.mark.parametrize("error", [KeyboardInterrupt("stop"), SystemExit(2)], ids=lambda e: type(e).__name__)
def test_a_generator_ended_by_an_interrupt_logs_no_partial_output(bt_logs, error):
    braintrust.init_logger(project="qa8-traced-shapes")

    @traced
    def numbers():
        yield 1
        yield 2
        raise error

    with pytest.raises(type(error)) as raised:
        _drain(numbers())
    assert raised.value is error
    row = bt_logs.by_name()["numbers"]
    assert "output" not in row or row["output"] is None
    assert type(error).__name__ in row["error"]


def test_a_generator_ended_by_an_exception_still_logs_what_it_yielded(bt_logs):
    braintrust.init_logger(project="qa8-traced-shapes")

    @traced
    def numbers():
        yield 1
        raise ValueError("bad")

    with pytest.raises(ValueError):
        _drain(numbers())
    row = bt_logs.by_name()["numbers"]
    assert row["output"] == [1]
    assert "ValueError: bad" in row["error"]


def test_a_cancelled_async_generator_logs_no_partial_output(bt_logs):
    braintrust.init_logger(project="qa8-traced-shapes")

    @traced
    async def numbers():
        yield 1
        raise asyncio.CancelledError()

    async def main():
        return [item async for item in numbers()]

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(main())
    row = bt_logs.by_name()["numbers"]
    assert "output" not in row or row["output"] is None
    assert "CancelledError" in row["error"]


def test_generator_exit_raised_by_the_body_is_the_spans_error(bt_logs):
    braintrust.init_logger(project="qa8-traced-shapes")

    @traced
    def numbers():
        yield 1
        raise GeneratorExit("from the body")

    with pytest.raises(GeneratorExit):
        _drain(numbers())
    row = bt_logs.by_name()["numbers"]
    assert "GeneratorExit: from the body" in row["error"]


def test_generator_exit_raised_by_an_async_body_is_the_spans_error(bt_logs):
    braintrust.init_logger(project="qa8-traced-shapes")

    @traced
    async def numbers():
        yield 1
        raise GeneratorExit("from the async body")

    async def main():
        return [item async for item in numbers()]

    with pytest.raises(GeneratorExit):
        asyncio.run(main())
    row = bt_logs.by_name()["numbers"]
    assert "GeneratorExit: from the async body" in row["error"]


def test_closing_a_generator_early_is_still_not_an_error(bt_logs):
    braintrust.init_logger(project="qa8-traced-shapes")
    finished = []

    @traced
    def numbers():
        try:
            yield 1
            yield 2
        finally:
            finished.append(True)

    gen = numbers()
    assert next(gen) == 1
    gen.close()
    assert finished == [True]
    row = bt_logs.by_name()["numbers"]
    assert not row.get("error")
    assert "output" not in row or row["output"] is None


def test_a_traced_fixture_and_test_keep_their_signatures_for_pytest(pytester):
    pytester.makepyfile(
        """
        import pytest
        from braintrust import traced

        @pytest.fixture
        @traced
        def answer(tmp_path):
            return tmp_path.name

        @traced
        def test_uses(answer, tmp_path):
            assert answer == tmp_path.name
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:xdist", "-q")
    result.assert_outcomes(passed=1)


def test_introspection_of_a_traced_function():
    def ask(question: str, *, loud: bool = False) -> str:
        """Answer it."""
        return question

    wrapped = traced(ask)
    assert inspect.signature(wrapped) == inspect.signature(ask)
    assert (wrapped.__name__, wrapped.__qualname__, wrapped.__doc__, wrapped.__wrapped__) == (
        ask.__name__, ask.__qualname__, "Answer it.", ask)
