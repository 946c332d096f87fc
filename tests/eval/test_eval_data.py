"""``Eval(data=...)``: every data form, cases as dicts or EvalCase, trials, hooks, datasets and
BaseExperiment, and the span tree each trial writes (local store)."""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest

from braintrust.framework import BaseExperiment, Eval, EvalCase, EvalHooks
from braintrust.eval.cases import case_matches, value_at
from eval_support import children, exact, roots, stored_rows, trace_of

CASES = [{"input": "a", "expected": "A"}, {"input": "b", "expected": "B"}, {"input": "c", "expected": "x"}]


def upper(input):
    return input.upper()


def _list():
    return list(CASES)


def _generator():
    yield from CASES


async def _async_generator():
    for case in CASES:
        await asyncio.sleep(0)
        yield case


async def _async_function():
    return list(CASES)


class _DataClass:
    def __iter__(self):
        return iter(CASES)


DATA_FORMS = {
    "list": lambda: list(CASES),
    "tuple": lambda: tuple(CASES),
    "iterator": lambda: iter(CASES),
    "generator": lambda: _generator(),
    "async generator": lambda: _async_generator(),
    "function": lambda: _list,
    "generator function": lambda: _generator,
    "async generator function": lambda: _async_generator,
    "async function": lambda: _async_function,
    "class": lambda: _DataClass,
    "EvalCase objects": lambda: [EvalCase(input=c["input"], expected=c["expected"]) for c in CASES],
}


@pytest.mark.parametrize("form", list(DATA_FORMS))
def test_every_data_form_runs_every_case(form):
    result = Eval("data-forms", data=DATA_FORMS[form](), task=upper, scores=[exact], experiment_name=form)
    assert [(r.input, r.output, r.scores) for r in result.results] == [
        ("a", "A", {"exact": 1.0}),
        ("b", "B", {"exact": 1.0}),
        ("c", "C", {"exact": 0.0}),
    ]
    assert result.summary.scores["exact"].score == pytest.approx(2 / 3)
    assert len(roots(stored_rows(result))) == 3


def test_unknown_case_keys_are_ignored_and_bad_items_are_refused():
    result = Eval("data-forms", data=[{"input": 1, "expected": 1, "color": "red"}], task=lambda x: x, scores=[exact])
    assert result.results[0].scores == {"exact": 1.0}
    with pytest.raises(TypeError, match="not an EvalCase or a dict"):
        Eval("data-forms", data=["just a string"], task=lambda x: x, scores=[exact])
    # A dict without its input names the item and the fix (not "EvalCase.__init__() missing ...").
    with pytest.raises(TypeError, match=r"data item 1 has no 'input' key \(keys: 'expected'\); every case needs one"):
        Eval("data-forms", data=[{"input": 1, "expected": 1}, {"expected": 2}], task=lambda x: x, scores=[exact])


@pytest.mark.parametrize("form", ["list", "generator"])  # (a generator is read on a helper thread)
def test_a_case_with_unusable_metadata_or_tags_fails_alone(form):
    # (metadata "m" used to hang the run forever; tags "ab" were logged as ["a", "b"])
    ran = []
    data = [{"input": 1, "metadata": "m"}, {"input": 2, "tags": "ab"}, {"input": 3, "tags": ["t", "t"]},
            {"input": 4, "metadata": {"k": 1}, "tags": ["ok"]}]
    if form == "generator":
        data = (item for item in data)
    result = Eval("bad-case-fields", data=data, task=lambda x: ran.append(x) or x, scores=[lambda output: 1], timeout=20)
    assert [r.input for r in result.results] == [1, 2, 3, 4]
    errors = {r.input: str(r.error) for r in result.results if r.error}
    assert errors == {
        1: "the case with input 1: metadata must be a dict, got str.",
        2: "the case with input 2: tags must be a list of unique strings, got the string 'ab' (write tags=['ab']).",
        3: "the case with input 3: tags must be unique, 't' appears twice.",
    }
    assert ran == [4]
    rows = stored_rows(result)
    assert "tags" not in trace_of(rows, 2)[0] and "the case with input 2: tags" in trace_of(rows, 2)[0]["error"]
    root, _ = trace_of(rows, 4)
    assert root["metadata"] == {"k": 1} and root["tags"] == ["ok"]


def test_a_case_error_names_the_case_by_its_id_else_by_its_input_shortened():
    class Unprintable:
        def __repr__(self):
            raise RuntimeError("no repr")

    data = [{"input": "q", "id": "record-7", "metadata": 3}, {"input": {"text": "x" * 500, "n": 1}, "tags": "a"},
            {"input": Unprintable(), "metadata": []}]
    result = Eval("case-names", data=data, task=lambda x: x, scores=[exact], timeout=20)
    errors = [str(r.error) for r in result.results]
    assert errors[0] == "the case with id 'record-7': metadata must be a dict, got int."
    assert errors[1].startswith("the case with input {'n': 1, 'text': 'xxxxxxxxxxxx") and "..." in errors[1]
    assert len(errors[1]) < 200
    assert errors[2].startswith("the case with input <Unprintable instance at 0x")
    assert errors[2].endswith(": metadata must be a dict, got list.")


def test_no_cases_warns_and_returns_an_empty_result(capsys):
    result = Eval("no-cases", data=[], task=lambda x: x, scores=[exact])
    assert result.results == []
    # (the public SDK's warning, word for word, in its yellow)
    assert "\033[93mWarning: no data rows found for evaluator 'no-cases'. The experiment will be empty.\033[0m" in capsys.readouterr().err


def test_span_tree_of_a_trial():
    def task(input, hooks):
        hooks.metadata["seen"] = True
        hooks.tags.append("from-task")
        return input.upper()

    result = Eval(
        "span-tree",
        data=[EvalCase(input="hi", expected="HI", metadata={"k": 1}, tags=["t1"])],
        task=task,
        scores=[exact],
    )
    rows = stored_rows(result)
    root, spans = trace_of(rows, "hi")
    assert root["span_attributes"]["name"] == "eval" and root["span_attributes"]["type"] == "eval"
    assert root["expected"] == "HI" and root["output"] == "HI"
    assert root["metadata"] == {"k": 1, "seen": True}
    assert root["tags"] == ["t1", "from-task"]
    assert "scores" not in root  # scores live on the score spans
    assert root["metrics"]["end"] >= root["metrics"]["start"]
    assert set(spans) == {"task", "exact"}
    assert spans["task"]["span_attributes"]["type"] == "task"
    assert spans["task"]["input"] == "hi" and spans["task"]["output"] == "HI"
    score = spans["exact"]
    assert score["span_attributes"] == {**score["span_attributes"], "type": "score", "purpose": "scorer", "name": "exact"}
    assert score["input"] == {"input": "hi", "expected": "HI", "metadata": {"k": 1, "seen": True}, "output": "HI", "id": None, "tags": ["t1", "from-task"]}
    assert score["output"] == {"score": 1.0} and score["scores"] == {"exact": 1.0} and score["metadata"] == {}
    assert result.results[0].metadata == {"k": 1, "seen": True}
    assert result.results[0].tags == ["t1", "from-task"]


def test_results_are_plain_dataclasses_as_the_public_sdks():
    """``vars(result)``, ``dataclasses.asdict`` and extra attributes work on an ``EvalResult``."""
    import dataclasses

    (result,) = Eval("plain", data=[{"input": 1, "expected": 2}], task=lambda x: x + 1, scores=[lambda output, expected: output == expected]).results
    assert vars(result)["output"] == 2 and dataclasses.asdict(result)["scores"] == {"scorer_0": True}
    result.note = "kept"
    assert vars(result)["note"] == "kept"


def test_trials_per_eval_and_per_case_with_trial_index():
    seen = []

    def task(input, hooks: EvalHooks):
        seen.append((input, hooks.trial_index))
        return input

    result = Eval(
        "trials",
        data=[{"input": "x"}, {"input": "y", "trial_count": 3}],
        task=task,
        scores=[lambda output: 1],
        trial_count=2,
    )
    assert sorted(seen) == [("x", 0), ("x", 1), ("y", 0), ("y", 1), ("y", 2)]
    assert [(r.input, r.trial_index) for r in result.results] == [("x", 0), ("x", 1), ("y", 0), ("y", 1), ("y", 2)]
    rows = stored_rows(result)
    assert len(roots(rows)) == 5
    assert len({r["root_span_id"] for r in roots(rows)}) == 5  # every trial is its own trace


def test_upsert_id_fixes_root_row_ids_per_trial():
    result = Eval("trials", data=[{"input": 1, "upsert_id": "case-1"}], task=lambda x: x, scores=[lambda output: 1], trial_count=2)
    ids = sorted(r["id"] for r in roots(stored_rows(result)))
    assert ids == sorted(["case-1", str(uuid.uuid5(uuid.NAMESPACE_URL, "braintrust:eval:case-1:trial:1"))])


def test_hooks_expose_expected_span_parameters_and_meta():
    captured = {}

    def task(input, hooks):
        captured.update(expected=hooks.expected, span=hooks.span, parameters=hooks.parameters)
        with pytest.warns(DeprecationWarning, match="meta\\(\\) is deprecated"):  # (as 0.48.1 warns)
            hooks.meta(extra="yes")
        hooks.span.log(metadata={"inner": 1})
        return input

    result = Eval(
        "hooks",
        data=[{"input": 5, "expected": 6}],
        task=task,
        scores=[lambda output: 1],
        parameters={"model": {"type": "model", "default": "gpt-x"}},
    )
    assert captured["expected"] == 6
    assert captured["parameters"] == {"model": "gpt-x"}
    assert result.results[0].metadata == {"extra": "yes"}
    root, spans = trace_of(stored_rows(result), 5)
    assert spans["task"]["id"] == captured["span"].id
    assert spans["task"]["metadata"] == {"inner": 1}


def test_hooks_are_a_dict_as_the_public_ones_are():
    """0.48.1's hooks are a dict (``metadata``, ``expected`` when given, ``trial_index``, ``tags``),
    and ``parameters`` is None for an evaluator declared without any."""
    seen = []

    def task(input, hooks):
        seen.append((dict(hooks), hooks.get("expected"), hooks.parameters))
        hooks["metadata"]["added"] = 1
        hooks.tags = ["replaced"]
        return input

    result = Eval("dict-hooks", data=[{"input": 1, "expected": 2, "metadata": {"m": 1}}, {"input": 3}], task=task, scores=[])
    assert seen == [({"metadata": {"m": 1, "added": 1}, "expected": 2, "trial_index": 0, "tags": ["replaced"]}, 2, None),
                    ({"metadata": {"added": 1}, "trial_index": 0, "tags": ["replaced"]}, None, None)]
    assert [(r.metadata, r.tags) for r in result.results] == [({"m": 1, "added": 1}, ["replaced"]), ({"added": 1}, ["replaced"])]


def test_task_with_one_parameter_gets_no_hooks_and_async_tasks_are_awaited():
    async def task(input):
        await asyncio.sleep(0)
        return input * 2

    result = Eval("hooks", data=[{"input": 2}], task=task, scores=[lambda output: output / 10])
    assert result.results[0].output == 4 and result.results[0].scores == {"scorer_0": 0.4}


def test_spans_inside_the_task_nest_under_the_task_span():
    from braintrust import traced

    @traced
    def helper(x):
        return x + 1

    result = Eval("nesting", data=[{"input": 1}], task=lambda x: helper(x), scores=[lambda output: 1])
    rows = stored_rows(result)
    root, spans = trace_of(rows, 1)
    helper_rows = children(rows, spans["task"])
    assert [r["span_attributes"]["name"] for r in helper_rows] == ["helper"]
    assert helper_rows[0]["output"] == 2


# -- datasets and other experiments -----------------------------------------------------------------


def test_dataset_data_sets_origin_and_registers_the_dataset_version():
    from braintrust.objects.dataset import init_dataset
    from braintrust.store.sqlite_store import LocalStore

    dataset = init_dataset(project="ds-eval", name="greetings")
    first = dataset.insert(input="hi", expected="HI", metadata={"lang": "en"}, tags=["short"])
    dataset.insert(input="yo", expected="YO")
    dataset.flush()

    result = Eval("ds-eval", data=init_dataset(project="ds-eval", name="greetings"), task=upper, scores=[exact], experiment_name="over-ds")
    by_input = {r.input: r for r in result.results}
    assert set(by_input) == {"hi", "yo"}
    origin = by_input["hi"].origin
    assert list(origin) == ["object_type", "object_id", "id", "_xact_id", "created"]
    assert origin["object_type"] == "dataset" and origin["id"] == first and origin["object_id"] == dataset.id
    rows = stored_rows(result)
    root, spans = trace_of(rows, "hi")
    assert root["origin"] == origin
    assert root["tags"] == ["short"] and root["metadata"] == {"lang": "en"}
    assert spans["exact"]["input"]["id"] == first
    experiment = LocalStore().get_experiment(id=result.summary.experiment_id)
    assert experiment["dataset_id"] == dataset.id
    assert experiment["dataset_version"] == dataset.version


def test_a_legacy_dataset_read_with_use_output_gives_its_output_as_expected():
    from braintrust.objects.dataset import init_dataset

    dataset = init_dataset(project="ds-eval", name="legacy")
    dataset.insert(input="hi", expected="HI")
    dataset.flush()
    result = Eval("ds-eval", data=init_dataset(project="ds-eval", name="legacy", use_output=True), task=upper, scores=[exact],
                  experiment_name="over-legacy")
    [case] = result.results
    assert case.expected == "HI" and case.scores == {"exact": 1}


def test_base_experiment_reruns_another_experiments_cases():
    Eval("rerun", data=[{"input": "a", "expected": "A"}, {"input": "b", "expected": "B"}], task=upper, scores=[exact], experiment_name="first")
    # BaseExperiment(): the new experiment's base (here: the previous experiment of the project)
    second = Eval("rerun", data=BaseExperiment(), task=lambda x: x, scores=[exact], experiment_name="second")
    assert sorted((r.input, r.expected) for r in second.results) == [("a", "A"), ("b", "B")]
    assert second.summary.comparison_experiment_name == "first"
    # BaseExperiment(name=...): that experiment, which is also what the summary compares with
    third = Eval("rerun", data=BaseExperiment(name="first"), task=upper, scores=[exact], experiment_name="third")
    assert sorted((r.input, r.output) for r in third.results) == [("a", "A"), ("b", "B")]
    assert third.summary.comparison_experiment_name == "first"


def test_base_experiment_expected_falls_back_to_output():
    Eval("rerun-out", data=[{"input": "a"}], task=upper, scores=[lambda output: 1], experiment_name="no-expected")
    again = Eval("rerun-out", data=BaseExperiment(name="no-expected"), task=upper, scores=[exact])
    assert [(r.input, r.expected, r.scores) for r in again.results] == [("a", "A", {"exact": 1.0})]


# -- filters (braintrust eval --filter) ---------------------------------------------------------------


def test_value_at_and_case_filters():
    case = EvalCase(input={"name": "foo-and-bar", "n": 3}, metadata={"priority": "P0"}, tags=["a", "b"])
    assert value_at(case, "metadata.priority") == (True, "P0")
    assert value_at(case, "input.n") == (True, 3)
    assert value_at(case, "tags.1") == (True, "b")
    assert value_at(case, "metadata.missing") == (False, None)
    assert case_matches(case, [("metadata.priority", re.compile("^P0$")), ("input.name", re.compile("foo.*bar"))])
    assert not case_matches(case, [("metadata.priority", re.compile("^P1$"))])
    assert case_matches(case, [("input", re.compile(r'\{"name"'))])  # non-strings are matched as JSON
    assert not case_matches(case, [("expected.x", re.compile(".*"))])
    # As 0.48.1's CLI: a None value matches nothing (not the text "null"), and JSON escapes non-ASCII.
    assert not case_matches(EvalCase(input=1, metadata={"priority": None}), [("metadata.priority", re.compile("null"))])
    assert case_matches(EvalCase(input={"w": "é"}), [("input", re.compile(r'\{"w": "\\u00e9"'))])


def test_an_evaluators_chosen_parameter_values_replace_the_defaults():
    """``Evaluator(parameter_values=...)`` (values chosen already, as a playground chooses them):
    the task sees them instead of the parameters' defaults."""
    from braintrust import Evaluator
    from braintrust.eval.api import run_and_report
    from braintrust.eval.loop import run_sync

    seen = []
    evaluator = Evaluator(project_name="chosen", eval_name="chosen", data=[{"input": 1}],
                          task=lambda input, hooks: seen.append(hooks.parameters) or input, scores=[lambda output: 1],
                          parameters={"temperature": {"default": 0.5}}, parameter_values={"temperature": 0.9})
    run_sync(run_and_report(evaluator, None))
    assert seen == [{"temperature": 0.9}]
