"""braintrust.masking: which fields are masked, error markers, counting, JSON safety, no-op cost."""

from __future__ import annotations

import json
import timeit

import pytest

from braintrust import masking
from braintrust.jsonsafe import dumps_row
from braintrust.masking import MASKED_FIELDS, mask_error_count, mask_row, set_masking_function


@pytest.fixture(autouse=True)
def _reset():
    set_masking_function(None)
    masking._reset_mask_error_count()
    yield
    set_masking_function(None)
    masking._reset_mask_error_count()


def full_row():
    return {
        "id": "row-1",
        "span_id": "1544d7c3f0729199",
        "root_span_id": "81e4f847c1e8ef59a17bc7006c4767a9",
        "span_parents": None,
        "project_id": "p",
        "log_id": "g",
        "input": {"email": "a@b.c"},
        "output": "secret output",
        "expected": "secret expected",
        "metadata": {"user": "alice"},
        "context": {"caller_filename": "/home/alice/x.py"},
        "scores": {"acc": 1},
        "metrics": {"start": 1.0},
        "tags": ["t"],
        "span_attributes": {"name": "root"},
        "error": "Traceback ...",
        "created": "2026-01-01T00:00:00+00:00",
        "_is_merge": False,
    }


def test_no_function_returns_the_same_row_object():
    row = full_row()
    assert mask_row(row) is row


def test_no_function_costs_almost_nothing():
    row = full_row()
    n = 20000
    per_call = min(timeit.repeat(lambda: mask_row(row), number=n, repeat=3)) / n
    assert per_call < 5e-6


def test_masks_exactly_the_public_sdk_fields():
    seen = []

    def fn(value):
        seen.append(value)
        return "REDACTED"

    set_masking_function(fn)
    row = full_row()
    out = mask_row(row)
    for field in ("input", "output", "expected", "metadata", "context", "scores", "metrics"):
        assert out[field] == "REDACTED", field
    assert MASKED_FIELDS == ("input", "output", "expected", "metadata", "context", "scores", "metrics")
    for field in ("id", "span_id", "root_span_id", "span_parents", "project_id", "log_id", "tags",
                  "span_attributes", "error", "created", "_is_merge"):
        assert out[field] == row[field], field
    assert len(seen) == 7
    # the input row is left alone
    assert row == full_row()
    assert mask_error_count() == 0


def test_function_gets_whole_field_values_and_absent_fields_are_skipped():
    calls = []

    def fn(value):
        calls.append(value)
        if isinstance(value, dict) and "email" in value:
            return {**value, "email": "***"}
        return value

    set_masking_function(fn)
    out = mask_row({"id": "x", "input": {"email": "a@b.c", "n": 1}})
    assert out == {"id": "x", "input": {"email": "***", "n": 1}}
    assert calls == [{"email": "a@b.c", "n": 1}]
    assert "output" not in out


def test_errors_become_markers_and_are_counted():
    class Boom(Exception):
        pass

    def fn(value):
        raise Boom("contains the secret " + json.dumps(value))

    set_masking_function(fn)
    out = mask_row(full_row())
    assert out["input"] == "ERROR: Failed to mask field 'input' - Boom"
    assert out["output"] == "ERROR: Failed to mask field 'output' - Boom"
    assert out["expected"] == "ERROR: Failed to mask field 'expected' - Boom"
    assert out["context"] == "ERROR: Failed to mask field 'context' - Boom"
    assert out["metadata"] == {"error": "ERROR: Failed to mask field 'metadata' - Boom"}
    assert "scores" not in out and "metrics" not in out
    assert out["error"] == (
        "Traceback ...; ERROR: Failed to mask field 'scores' - Boom; ERROR: Failed to mask field 'metrics' - Boom"
    )
    text = dumps_row(out).decode()
    for secret in ("a@b.c", "secret output", "secret expected", "alice", "contains the secret"):
        assert secret not in text
    assert mask_error_count() == 7


def test_scores_error_without_existing_error_field():
    def fn(value):
        if isinstance(value, dict) and "acc" in value:
            raise KeyError("acc")
        return value

    set_masking_function(fn)
    out = mask_row({"id": "x", "scores": {"acc": 1}, "output": "ok"})
    assert out == {"id": "x", "output": "ok", "error": "ERROR: Failed to mask field 'scores' - KeyError"}
    assert mask_error_count() == 1


def test_only_failing_fields_are_replaced():
    def fn(value):
        if value == "bad":
            raise ValueError
        return value.upper() if isinstance(value, str) else value

    set_masking_function(fn)
    out = mask_row({"input": "bad", "output": "good"})
    assert out == {"input": "ERROR: Failed to mask field 'input' - ValueError", "output": "GOOD"}
    assert mask_error_count() == 1


def test_odd_return_types_are_snapshotted():
    class Weird:
        def __str__(self):
            return "weird"

    set_masking_function(lambda value: {"set": {2, 1}, "nan": float("nan"), "obj": Weird(), 5: b"x"})
    out = mask_row({"input": "x"})
    assert out["input"] == {"set": [1, 2], "nan": "NaN", "obj": "weird", "5": "b'x'"}
    json.loads(dumps_row(out))


def test_returning_none_keeps_the_field_as_null():
    set_masking_function(lambda value: None)
    assert mask_row({"input": "x"}) == {"input": None}


def test_base_exceptions_propagate():
    def fn(value):
        raise KeyboardInterrupt

    set_masking_function(fn)
    with pytest.raises(KeyboardInterrupt):
        mask_row({"input": "x"})


def test_rejects_non_callable():
    with pytest.raises(TypeError):
        set_masking_function("not a function")  # type: ignore[arg-type]
    assert masking.get_masking_function() is None


def test_unset_restores_passthrough():
    set_masking_function(lambda v: "M")
    assert mask_row({"input": 1}) == {"input": "M"}
    set_masking_function(None)
    row = {"input": 1}
    assert mask_row(row) is row
