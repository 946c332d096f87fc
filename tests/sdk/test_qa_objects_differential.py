"""The objects API held to 0.48.1's behaviour where a side-by-side run of both SDKs against the
test server found ours different (the wire side of the first test is also pinned by the
``object_spans`` capture)."""

from __future__ import annotations

import pytest

import braintrust

DEPRECATED_CLOSE = "close is deprecated and will be removed in a future version of braintrust. It is now a no-op and can be removed"


def _rows_by_name(server) -> dict:
    result = braintrust.flush()
    assert result.ok, result.describe()
    return {r["span_attributes"]["name"]: r for r in server.rows() if r.get("span_attributes")}


def test_a_span_started_on_an_object_under_a_current_span_is_its_child(bt_env):
    """``logger.start_span`` inside another span was a new trace; 0.48.1 makes it the current
    span's child (of this object's root type, an explicit ``root_span_id`` ignored, an explicit
    ``span_id`` kept), whichever object the current span is in."""
    logger = braintrust.init_logger(project="nesting")
    experiment = braintrust.init(project="nesting", experiment="e", set_current=False)
    with logger.start_span(name="outer") as outer:
        logger.start_span(name="inner", span_id="my-span-id", root_span_id="ignored").end()
        experiment.start_span(name="in another object").end()
        logger.start_span(name="typed", type="llm").end()
    logger.start_span(name="top", root_span_id="my-root-id").end()
    rows = _rows_by_name(bt_env)

    inner = rows["inner"]
    assert (inner["span_id"], inner["root_span_id"], inner["span_parents"]) == ("my-span-id", outer.root_span_id, [outer.span_id])
    assert inner["span_attributes"]["type"] == "task"
    other = rows["in another object"]
    assert other["experiment_id"] == experiment.id and other["span_parents"] == [outer.span_id]
    assert other["span_attributes"]["type"] == "eval"
    assert rows["typed"]["span_attributes"]["type"] == "llm"
    top = rows["top"]
    assert (top["root_span_id"], top["span_parents"]) == ("my-root-id", None)


def test_a_dataset_given_by_id_links_the_experiment_but_is_not_its_dataset(bt_env):
    """``experiment.dataset`` was the dict given; 0.48.1 keeps only a ``Dataset`` there."""
    dataset = braintrust.init_dataset(project="linked", name="d")
    dataset.insert(input=1, expected=1)
    dataset.flush()
    by_id = braintrust.init(project="linked", experiment="by-id", dataset={"id": dataset.id, "version": "7"})
    by_object = braintrust.init(project="linked", experiment="by-object", dataset=dataset)
    assert by_id.dataset is None and by_object.dataset is dataset
    by_id.log(input=1, output=1, scores={})
    braintrust.flush()
    (body,) = [r.json for r in bt_env.requests_to("/v1/experiment", "POST") if r.json["name"] == "by-id"]
    assert (body["dataset_id"], body["dataset_version"]) == (dataset.id, "7")


def test_deprecated_calls_say_so_on_stderr_in_0_48_1s_words(capsys):
    """``close()`` and the module's ``log`` / ``summarize`` said nothing; 0.48.1 prints a notice."""
    experiment = braintrust.init(project="deprecated", experiment="e")
    braintrust.log(input=1, output=1, scores={"ok": 1})
    braintrust.summarize()
    assert experiment.close() == experiment.id
    dataset = braintrust.init_dataset(project="deprecated", name="d")
    assert dataset.close() == dataset.id
    lines = capsys.readouterr().err.splitlines()
    assert "braintrust.log is deprecated and will be removed in a future version of braintrust. Use `experiment.log` instead." in lines
    assert "braintrust.summarize is deprecated and will be removed in a future version of braintrust. Use `experiment.summarize` instead." in lines
    assert lines.count(DEPRECATED_CLOSE) == 2


def test_module_log_without_an_experiment_still_refuses(capsys):
    with pytest.raises(ValueError, match=r"Please call braintrust\.init"):
        braintrust.log(input=1, output=1, scores={})
    assert "braintrust.log is deprecated" in capsys.readouterr().err
