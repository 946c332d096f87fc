"""Spans started while a declared scorer runs nest under its score span."""

from __future__ import annotations

from plugin_helpers import tree


def test_spans_a_scorer_starts_nest_under_its_score_span(bt):
    """Declared scorers, and ``run_scorers`` from an async test (which scores on a helper thread)."""
    bt.pytester.makepyfile(
        test_suite_scorer_spans='''
        import pytest
        from braintrust import traced
        from pytest_braintrust import eval_case

        @traced
        def ask_judge(output):
            return 1.0 if output else 0.0

        def judged(output):
            return ask_judge(output)

        @eval_case(input="q", scorers=[judged])
        def test_declared(braintrust_case):
            return "answer"

        @eval_case(input="r")
        @pytest.mark.asyncio
        async def test_scored_in_an_async_test(braintrust_case):
            assert braintrust_case.run_scorers("answer", scorers=[judged]) == {"judged": 1.0}
        '''
    )
    result = bt.run("--braintrust", "test_suite_scorer_spans.py")
    result.assert_outcomes(passed=2)
    spans = tree(bt.rows())
    for name, row in bt.roots().items():
        judge = spans.child(spans.child(row, "judged"), "ask_judge")
        assert judge["output"] == 1.0, name
