"""Masking and JSON safety held to 0.48.1 (QA round 3): what reaches the server for the same calls.

Each expectation was observed by running the same calls on 0.48.1 against the test server.
"""

from __future__ import annotations

import asyncio

import pytest

import braintrust
from braintrust import masking


@pytest.fixture(autouse=True)
def _reset_count():
    masking._reset_mask_error_count()
    yield
    masking._reset_mask_error_count()


# -- a masking function raising a BaseException ----------------------------------------------------


@pytest.mark.parametrize("raised", [asyncio.CancelledError, GeneratorExit])
def test_masking_function_raising_a_base_exception_masks_the_field_only(bt_logs, raised):
    """0.48.1 writes its marker for the field; here the whole batch was lost (spill_failed)."""

    def mask(value):
        if value == "RAISE":
            raise raised()
        return value.replace("SECRET", "***") if isinstance(value, str) else value

    braintrust.set_masking_function(mask)
    logger = braintrust.init_logger(project="mask-base")
    logger.log(input="RAISE", output="SECRET out", metadata={"k": 1})
    logger.log(input="fine", output="SECRET two")
    rows = sorted(bt_logs.rows(), key=lambda row: row["output"])
    assert [(row["input"], row["output"]) for row in rows] == [
        (f"ERROR: Failed to mask field 'input' - {raised.__name__}", "*** out"),
        ("fine", "*** two"),
    ]
    assert rows[0]["metadata"] == {"k": 1}
    assert masking.mask_error_count() == 1


def test_keyboard_interrupt_and_system_exit_still_propagate_from_mask_row():
    for raised in (KeyboardInterrupt, SystemExit):
        def mask(value, raised=raised):
            raise raised()

        masking.set_masking_function(mask)
        try:
            with pytest.raises(raised):
                masking.mask_row({"input": "x"})
        finally:
            masking.set_masking_function(None)


# -- attachments and the masking function ---------------------------------------------------------


def _redact(value):
    """A typical masking function: strings redacted, attachments under "private" taken out."""
    if isinstance(value, dict):
        return {k: _redact(v) for k, v in value.items() if not (k == "private" and isinstance(v, braintrust.Attachment))}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, str):
        return value.replace("SECRET", "***")
    return value


def test_an_attachment_the_masking_function_takes_out_is_never_uploaded(bt_logs):
    braintrust.set_masking_function(_redact)
    logger = braintrust.init_logger(project="mask-attachments")
    private = braintrust.Attachment(data=b"private bytes", filename="scan.png", content_type="image/png")
    public = braintrust.Attachment(data=b"public bytes", filename="SECRET-name.txt", content_type="text/plain")
    later = braintrust.Attachment(data=b"later bytes", filename="later.txt", content_type="text/plain")
    logger.log(input={"private": private, "public": public, "note": "SECRET note"})
    logger.log(input={"private": later})  # taken out here...
    with logger.start_span(name="keeps-it") as span:
        span.log(output={"kept": later})  # ...but kept by another row: uploaded, as 0.48.1 does
    rows = bt_logs.rows()
    server = bt_logs.server
    assert server.attachment_data(private.reference["key"]) is None
    assert server.attachment_data(public.reference["key"]) == b"public bytes"
    assert server.attachment_data(later.reference["key"]) == b"later bytes"
    inputs = [row["input"] for row in rows if "input" in row and row["input"]]
    # The reference reaches the server whole: the function saw the Attachment, not its dict.
    assert {"public": public.reference, "note": "*** note"} in inputs
    assert not any("private" in value for value in inputs if isinstance(value, dict))


def test_the_masking_function_gets_the_logged_attachment_objects(bt_logs):
    seen = []

    def mask(value):
        if isinstance(value, dict):
            seen.extend(v for v in value.values() if isinstance(v, braintrust.Attachment))
        return value

    braintrust.set_masking_function(mask)
    logger = braintrust.init_logger(project="mask-attachments")
    attachment = braintrust.Attachment(data=b"x", filename="x.txt", content_type="text/plain")
    logger.log(input={"file": attachment}, output="o")
    bt_logs.rows()
    assert seen == [attachment]
    assert bt_logs.server.attachment_data(attachment.reference["key"]) == b"x"


def test_an_attachment_taken_out_stays_unsent_after_the_function_is_removed(bt_logs):
    braintrust.set_masking_function(_redact)
    logger = braintrust.init_logger(project="mask-attachments")
    private = braintrust.Attachment(data=b"private", filename="p.txt", content_type="text/plain")
    logger.log(input={"private": private})
    bt_logs.flush()
    braintrust.set_masking_function(None)
    logger.log(input="after")
    bt_logs.rows()
    assert bt_logs.server.attachment_data(private.reference["key"]) is None


def test_an_attachment_the_masking_function_returns_is_uploaded(bt_logs):
    made = []

    def mask(value):
        if value == "replace me":
            made.append(braintrust.Attachment(data=b"made by mask", filename="m.txt", content_type="text/plain"))
            return made[-1]
        return value

    braintrust.set_masking_function(mask)
    logger = braintrust.init_logger(project="mask-attachments")
    logger.log(input="replace me", output="o")
    [row] = bt_logs.rows()
    assert row["input"] == made[0].reference
    assert bt_logs.server.attachment_data(made[0].reference["key"]) == b"made by mask"


# -- which rows and fields are masked: feedback, update_span, datasets, experiments ---------------


def _tag(value):
    return {"M": value} if isinstance(value, dict) else ["M", value]


def test_feedback_update_span_dataset_and_experiment_rows_are_masked_as_in_the_public_sdk(bt_logs):
    """Observed on 0.48.1: every user-data field is masked, feedback's metadata (sent as
    ``_audit_metadata``), tags and comments are not."""
    braintrust.set_masking_function(_tag)
    logger = braintrust.init_logger(project="mask-rows")
    with logger.start_span(name="s", input="i") as span:
        span.log(output="o", scores={"x": 1}, metadata={"m": 1}, tags=["t"], expected="e")
        exported, span_id = span.export(), span.id
    bt_logs.flush()
    braintrust.update_span(exported, output="upd", metadata={"u": 2})
    logger.log_feedback(id=span_id, scores={"fb": 0.5}, comment="c", metadata={"fm": 1}, expected="fe")
    dataset = braintrust.init_dataset(project="mask-rows", name="d")
    dataset.insert(input="di", expected="de", metadata={"dm": 1}, tags=["dt"], id="r1")
    dataset.update(id="r1", input="di2")
    experiment = braintrust.init(project="mask-rows", experiment="e")
    experiment.log(input="ei", output="eo", scores={"s": 1}, metrics={"tok": 3})
    bt_logs.flush()

    sent = bt_logs.sent_rows()
    [feedback] = [row for row in sent if "_audit_source" in row and "comment" not in row]
    assert (feedback["output"], feedback["expected"], feedback["scores"]) == (["M", "upd"], ["M", "fe"], {"M": {"fb": 0.5}})
    assert feedback["metadata"] == {"M": {"u": 2}} and feedback["_audit_metadata"] == {"fm": 1}
    [comment] = [row for row in sent if "comment" in row]
    assert comment["comment"] == {"text": "c"}
    [dataset_row] = [row for row in sent if row.get("dataset_id")]
    assert {k: dataset_row[k] for k in ("input", "expected", "metadata", "tags")} == {
        "input": ["M", "di2"], "expected": ["M", "de"], "metadata": {"M": {"dm": 1}}, "tags": ["dt"]}
    [experiment_row] = [row for row in sent if row.get("experiment_id")]
    assert experiment_row["scores"] == {"M": {"s": 1}} and experiment_row["metrics"]["M"]["tok"] == 3
    [span_row] = [row for row in sent if (row.get("span_attributes") or {}).get("name") == "s"]
    assert span_row["tags"] == ["t"] and span_row["metrics"] == {"M": span_row["metrics"]["M"]}


def test_an_attachment_taken_out_holds_no_memory_and_a_later_row_keeping_it_uploads_it(bt_logs):
    from braintrust.attachments import pending

    braintrust.set_masking_function(_redact)
    logger = braintrust.init_logger(project="mask-attachments")
    image = braintrust.Attachment(data=b"i" * 1000, filename="i.png", content_type="image/png")
    logger.log(input={"private": image})
    bt_logs.flush()
    # Let go, not held (it would reach a spill file, and `braintrust replay` would upload it).
    assert pending.count() == 0
    assert bt_logs.server.attachment_data(image.reference["key"]) is None
    logger.log(input={"shown": image})
    bt_logs.flush()
    assert bt_logs.server.attachment_data(image.reference["key"]) == b"i" * 1000


def test_a_pydantic_root_model_is_sent_as_its_root_value():
    """``RootModel`` values were sent as their text (``"root=[1, 2, 3]"``); 0.48.1 sends what
    ``model_dump`` gives: the root value itself."""
    from pydantic import BaseModel, RootModel

    from braintrust.jsonsafe import snapshot

    class Ints(RootModel[list[int]]):
        pass

    class Name(RootModel[str]):
        pass

    class Holder(BaseModel):
        ints: Ints

    assert snapshot({"a": Ints([1, 2, 3]), "b": Name("ada"), "c": Holder(ints=Ints([4]))})[0] == {
        "a": [1, 2, 3], "b": "ada", "c": {"ints": [4]}}


def test_metrics_of_other_number_kinds_are_sent_as_numbers_and_a_complex_is_refused():
    """``Decimal`` / ``Fraction`` / numpy metrics reached the server as text (``"0.25"``,
    ``"1/2"``), and a complex one as ``"(1+2j)"``: now plain numbers, and a complex is refused."""
    import decimal
    import fractions

    import numpy as np
    import pytest

    from braintrust.tracing.record import validate_event

    given = {"a": decimal.Decimal("0.25"), "b": fractions.Fraction(1, 2), "c": np.float32(1.5), "d": np.int64(3),
             "e": np.bool_(True), "f": True, "g": 2, "h": None}
    clean = validate_event({"metrics": given})["metrics"]
    assert clean == {"a": 0.25, "b": 0.5, "c": 1.5, "d": 3, "e": True, "f": True, "g": 2, "h": None}
    assert [type(clean[k]) for k in "abcdefg"] == [float, float, float, int, bool, bool, int]
    assert type(given["a"]) is decimal.Decimal  # (the caller's dict is left as it was)
    plain = {"tokens": 3, "cost": 0.5}
    assert validate_event({"metrics": plain})["metrics"] is plain
    with pytest.raises(ValueError, match="metric 'x' must be a number"):
        validate_event({"metrics": {"x": 1 + 2j}})
    with pytest.raises(ValueError, match="metric 'y' must be a number"):
        validate_event({"metrics": {"y": "fast"}})
