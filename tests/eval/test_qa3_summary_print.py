"""Experiment summaries as printed and returned, held to 0.48.1's where a side-by-side run of both
SDKs (same scripts, same test server) found ours different."""

from __future__ import annotations

from braintrust.eval import registry
from braintrust.framework import Eval

DATA = [{"input": "a", "expected": "a"}, {"input": "b", "expected": "B"}]


def exact(output, expected):
    return 1.0 if output == expected else 0.0


def failing_on_b(input):
    if input == "b":
        raise ValueError("boom")
    return input


def test_a_script_running_eval_twice_under_one_name_keeps_the_name(capsys):
    """The second ``Eval("qa3-twice")`` of a script was named ``qa3-twice_1``: its no_send_logs
    summary (printed and returned) and its failure header said so. 0.48.1 makes names unique
    only under ``braintrust eval``; a script's every run keeps the name it was given."""
    for _ in range(2):
        result = Eval("qa3-twice", data=DATA, task=failing_on_b, scores=[exact], no_send_logs=True)
        assert result.summary.experiment_name == "qa3-twice"
    result = Eval("qa3-twice", data=DATA, task=lambda x: x, scores=[exact], experiment_name="x", no_send_logs=True)
    assert result.summary.experiment_name == "qa3-twice [experiment_name=x]"
    captured = capsys.readouterr()
    assert captured.err.count("Evaluator qa3-twice failed with 1 error") == 2
    assert "qa3-twice_" not in captured.out + captured.err


def test_braintrust_eval_names_a_repeated_evaluator_as_0_48_1_and_again_on_reload():
    """Under ``braintrust eval`` a repeated name gets ``_<evaluators recorded before it>`` (0.48.1:
    ``a``, ``b``, ``a_2``; ours said ``a_1``), and a second collection (``--watch`` re-importing
    the file) names them the same again (ours counted on: ``a_3``, ``b_1``...)."""

    def collect() -> list[str]:
        with registry.collecting() as recorded:
            for name in ("qa3-a", "qa3-b", "qa3-a", "qa3-a"):
                Eval(name, data=DATA, task=lambda x: x, scores=[exact])
            return [entry.evaluator.eval_name for entry in recorded]

    assert collect() == ["qa3-a", "qa3-b", "qa3-a_2", "qa3-a_3"]
    assert collect() == ["qa3-a", "qa3-b", "qa3-a_2", "qa3-a_3"]


def test_a_dataset_summary_without_data_prints_as_0_48_1s(bt_env):
    """``print(dataset.summarize(summarize_data=False))`` left the data line out; 0.48.1 prints
    the missing data summary as ``None`` between the rule and the links."""
    import braintrust

    dataset = braintrust.init_dataset(project="qa3-ds", name="d")
    dataset.insert(input=1)
    project_url = f"{bt_env.url}/app/test-org/p/qa3-ds"
    links = f"See results for all datasets in qa3-ds at {project_url}\nSee results for d at {project_url}/datasets/d"
    rule = "\n=========================SUMMARY=========================\n"
    assert str(dataset.summarize(summarize_data=False)) == f"{rule}None\n{links}"
    assert str(dataset.summarize()) == f"{rule}Total records: 1 (1 new or updated records)\n{links}"
