"""Big inputs (QA round 5, limits): scaled-down checks of what a large run showed."""

from __future__ import annotations

import time

from pytest_braintrust.case import DataRecord
from pytest_braintrust.data import unique_ids


def test_unique_ids_of_many_equal_inputs_is_linear():
    # 100,000 records with the same string input (a dataset of repeated questions) took minutes
    # to name at collection: each repeat rescanned every suffix taken before it.
    records = [DataRecord(input="same question") for _ in range(10_000)]
    started = time.perf_counter()
    ids = unique_ids(records)
    elapsed = time.perf_counter() - started
    assert ids[:3] == ["same_question", "same_question-2", "same_question-3"]
    assert ids[-1] == "same_question-10000"
    assert len(set(ids)) == len(ids)
    assert elapsed < 1.5, f"naming 10,000 equal inputs took {elapsed:.1f}s (quadratic?)"


def test_unique_ids_never_take_another_records_own_id():
    inputs = ["x", "x", "x-2", "x", "x-3", "x-3"]
    ids = unique_ids([DataRecord(input=value) for value in inputs])
    assert ids == ["x", "x-4", "x-2", "x-5", "x-3", "x-3-2"]
