"""Eval results and experiment summaries held to 0.48.1's where a side-by-side run of both SDKs
against the test server (and the local store) found ours different: the reprs, the reason of a
comparison that could not be retrieved, the order of ``no_send_logs`` scores, and the links of a
local summary without scores."""

from __future__ import annotations

import logging
import re

from braintrust import Eval, Score, init
from braintrust.summary import ExperimentSummary, MetricSummary, ScoreSummary, SummarySkipped, SummarySuccess

DATA = [{"input": "a", "expected": "a"}, {"input": "b", "expected": "B"}]
RETRIEVAL_FAILED = "Experiment comparison could not be retrieved"


def exact(output, expected):
    return 1.0 if output == expected else 0.0


def test_an_experiment_summary_reprs_as_0_48_1s_with_its_comparison():
    """Ours showed its own fields (scores=, comparison_status=, local_hint=...); 0.48.1's repr is
    its seven named fields, then ``comparison``."""
    score = ScoreSummary(name="exact", score=0.5, improvements=1, regressions=0, diff=0.25)
    metric = MetricSummary(name="duration", metric=1.5, unit="s", improvements=0, regressions=1, diff=0.5)
    summary = ExperimentSummary("p", "pid", "eid", "e", "http://x/p", "http://x/p/experiments/e", "base",
                                SummarySuccess(scores={"exact": score}, metrics={"duration": metric}), local_hint="ours")
    assert repr(summary) == (
        "ExperimentSummary(project_name='p', project_id='pid', experiment_id='eid', experiment_name='e', "
        "project_url='http://x/p', experiment_url='http://x/p/experiments/e', comparison_experiment_name='base', "
        "comparison=SummarySuccess(scores={'exact': ScoreSummary(name='exact', _longest_score_name=5, score=0.5, "
        "improvements=1, regressions=0, diff=0.25)}, metrics={'duration': MetricSummary(name='duration', "
        "_longest_metric_name=8, metric=1.5, unit='s', improvements=0, regressions=1, diff=0.5)}, status='success'))"
    )
    skipped = ExperimentSummary("p", None, None, "e", None, None, None, SummarySkipped(reason="Score summarization was disabled"))
    assert repr(skipped).endswith(", comparison_experiment_name=None, comparison=SummarySkipped(reason='Score summarization was disabled', status='skipped'))")
    assert hash(SummarySkipped(reason="x")) == hash(SummarySkipped(reason="x"))  # (frozen, as 0.48.1's)


def test_an_eval_result_reprs_and_prints_as_the_dataclass_it_is_in_0_48_1(bt_env):
    """``repr(result)`` was ``EvalResultWithSummary(summary="...", results=[...2 results])`` and
    ``str(result)`` the summary text; in 0.48.1 both are the dataclass's full repr (only IPython
    shows the short form)."""
    result = Eval("qa2-repr", data=DATA, task=lambda x: x, scores=[exact], experiment_name="first")
    text = repr(result)
    assert text.startswith(f"EvalResultWithSummary(summary={result.summary!r}, results=[EvalResult(input=")
    assert "scores={'exact': 1.0}" in text and "scores={'exact': 0.0}" in text
    assert str(result) == text

    class Printer:
        def text(self, value):
            self.value = value

    printer = Printer()
    result._repr_pretty_(printer, False)
    assert printer.value == 'EvalResultWithSummary(summary="...", results=[...])'


def test_a_comparison_the_server_cannot_give_has_0_48_1s_reason_and_keeps_the_cause(bt_env, monkeypatch, capsys, caplog):
    """The reason was ``Experiment comparison could not be retrieved: GET ... answered 500: ...``;
    0.48.1's is the fixed sentence (in ``comparison.reason``, ``as_dict`` and the printed text), and
    it logs the cause as a warning. The cause stays on ``skip_description()`` for our own messages."""
    monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    bt_env.fail_always("GET", "/v1/experiment/*", 500)
    with caplog.at_level(logging.WARNING, logger="braintrust"):
        result = Eval("qa2-fail", data=DATA, task=lambda x: x, scores=[exact], experiment_name="f1")
    summary = result.summary
    assert summary.comparison == SummarySkipped(reason=RETRIEVAL_FAILED)
    assert summary.as_dict()["comparison"] == {"reason": RETRIEVAL_FAILED, "status": "skipped"}
    url = f"{bt_env.url}/app/test-org/p/qa2-fail/experiments/f1"
    assert str(summary) == f"\n=========================SUMMARY=========================\nSummary skipped: {RETRIEVAL_FAILED}\n\nSee results for f1 at {url}"
    assert capsys.readouterr().out == str(summary) + "\n"
    assert re.fullmatch(rf"{RETRIEVAL_FAILED}: GET /v1/experiment/\S+/summarize answered 500: .*", summary.skip_description())
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "braintrust" and r.levelno == logging.WARNING]
    assert warning.startswith("Failed to fetch experiment scores and metrics: GET /v1/experiment/")
    assert warning.endswith("\n\nView complete results in Braintrust or run experiment.summarize() again.")


def test_no_send_logs_lists_scores_in_the_order_their_first_values_came():
    """A score whose first case gave None was listed first anyway; 0.48.1 lists a score when its
    first value comes (one that never gets a value is left out)."""
    def late(input):
        return None if input == "a" else 0.5

    def never(input):
        return Score(name="never", score=None)

    result = Eval("qa2-order", data=DATA, task=lambda x: x, scores=[late, never, exact], no_send_logs=True, max_concurrency=1)
    assert list(result.summary.scores) == ["exact", "late"]
    assert str(result.summary) == "\n=========================SUMMARY=========================\n50.00% 'exact' score\n50.00% 'late'  score\n\n"


def test_a_local_summary_without_scores_keeps_its_links():
    """With no key, ``summarize(summarize_scores=False)`` lost the links the summary with scores
    has (with a key, both have them)."""
    experiment = init("qa2-local", experiment="e")
    experiment.log(input="a", output="a", scores={"exact": 1})
    full = experiment.summarize()
    bare = experiment.summarize(summarize_scores=False)
    assert full.experiment_url and full.experiment_url.startswith("file://")
    assert (bare.project_url, bare.experiment_url) == (full.project_url, full.experiment_url)
    assert bare.comparison == SummarySkipped(reason="Score summarization was disabled")
    assert str(bare).endswith("Summary skipped: Score summarization was disabled\n\n" + full.local_hint)
