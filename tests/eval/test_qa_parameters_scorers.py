"""Adversarial checks of scorers' return values and calls, and of parameters' checks: each test
pins a case that once recorded a wrong score, hung, crashed or hid the real error."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from pydantic import BaseModel, Field, field_validator

from braintrust import Eval, Score
from braintrust.eval.scorers import to_scores
from braintrust.parameters import RemoteEvalParameters, validate_json_schema, validate_parameters
from eval_support import stored_rows, trace_of

# -- scores of other number types ---------------------------------------------------------------


def test_decimal_fraction_and_numpy_scores_are_recorded_as_numbers():
    """A Decimal or Fraction score was logged as text ("0.5", "1/3") and left out of the summary;
    numpy's bool was refused with "returned bool ...; a scorer must return ... a bool"."""

    def named(name, value):
        def scorer(output):
            return value

        scorer.__name__ = name
        return scorer

    returned = {"dec": Decimal("0.5"), "frac": Fraction(1, 4), "npbool": np.bool_(True), "npfloat": np.float32(0.75),
                "in_score": Score(name="in_score", score=Decimal("0.25"))}
    result = Eval("number-kinds", data=[{"input": "a"}], task=lambda x: x, scores=[named(n, v) for n, v in returned.items()])
    assert result.results[0].metadata.get("scorer_errors") is None
    assert result.results[0].scores == {"dec": 0.5, "frac": 0.25, "npbool": True, "npfloat": 0.75, "in_score": 0.25}
    _, spans = trace_of(stored_rows(result), "a")
    assert spans["dec"]["scores"] == {"dec": 0.5} and spans["frac"]["scores"] == {"frac": 0.25}
    assert spans["npbool"]["scores"] == {"npbool": 1}
    assert {name: s.score for name, s in result.summary.scores.items()} == pytest.approx(
        {"dec": 0.5, "frac": 0.25, "npbool": 1, "npfloat": 0.75, "in_score": 0.25})


def test_other_number_types_are_still_held_to_the_range():
    with pytest.raises(ValueError, match="must be between 0 and 1"):
        to_scores("s", Decimal("1.5"))
    with pytest.raises(ValueError, match="must be between 0 and 1"):
        to_scores("s", np.float64("nan"))


# -- names ------------------------------------------------------------------------------------------


def test_one_scorer_returning_two_scores_of_one_name_is_its_error_not_a_lost_score():
    """Its span logs one value per name: one of the two was dropped without a word."""

    def twice(output):
        return [Score(name="same", score=1), {"name": "same", "score": 0}, Score(name="other", score=1)]

    result = Eval("dup-in-one", data=[{"input": "a"}], task=lambda x: x, scores=[twice, lambda output: 1])
    errors = result.results[0].metadata["scorer_errors"]
    assert errors["twice"].rstrip().endswith("ValueError: scorer 'twice' returned several scores named 'same'; give each score a distinct name")
    assert result.results[0].scores == {"scorer_1": 1}


def test_two_scorers_giving_one_score_name_are_named_once(capsys):
    def a(output):
        return Score(name="same", score=1)

    def b(output):
        return Score(name="same", score=0)

    result = Eval("dup-across", data=[{"input": i} for i in range(3)], task=lambda x: x, scores=[a, b])
    assert [r.scores for r in result.results] == [{"same": 0}] * 3
    lines = [line for line in capsys.readouterr().err.splitlines() if "both give a score named" in line]
    assert lines == ["braintrust: scorers 'a' and 'b' both give a score named 'same': each scorer's span records its own, but a "
                     "case's result keeps only 'b''s. Give the scores distinct names (a scorer's name is its __name__, or its _name())."]


def test_a_score_without_a_string_name_names_its_scorer():
    def unnamed(output):
        return Score(name=None, score=0.5)

    result = Eval("unnamed", data=[{"input": "a"}], task=lambda x: x, scores=[unnamed])
    assert result.results[0].metadata["scorer_errors"]["unnamed"].rstrip().endswith(
        "TypeError: scorer 'unnamed' returned a score whose name is None; a score's name must be a string")


# -- how a sync scorer is run ---------------------------------------------------------------------


def test_a_scorer_raising_stop_iteration_is_its_error_not_a_hang():
    """asyncio refuses to put a StopIteration into a future: the trial waited forever. In a child
    process, so that a regression fails on the timeout rather than hanging the suite."""
    script = textwrap.dedent("""
        from braintrust import Eval

        def first_word(output):
            return len(next(iter(output.split()))) / 10  # StopIteration on an empty output

        result = Eval("stop-iteration", data=[{"input": ""}, {"input": "x"}], task=lambda x: x, scores=[first_word, lambda output: 1])
        for r in result.results:
            print(repr(r.scores), (r.metadata.get("scorer_errors") or {}).get("first_word", "").rstrip().splitlines()[-1:])
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    empty, word = [line for line in done.stdout.splitlines() if line.startswith("{")]  # (the summary is printed too)
    assert empty.startswith("{'scorer_1': 1} ['RuntimeError: StopIteration raised (next() on an empty iterator?); a StopIteration cannot leave a task or a scorer")
    assert word == "{'first_word': 0.1, 'scorer_1': 1} []"


def test_a_task_raising_stop_iteration_is_its_error_not_a_hang():
    """The same for a task (any sync callable run on the pool): that case fails with a
    RuntimeError naming it, and the others run. In a child process, for the same reason."""
    script = textwrap.dedent("""
        from braintrust import Eval

        def first_word(input):
            return next(iter(input.split()))  # StopIteration on an empty input

        result = Eval("task-stop-iteration", data=[{"input": ""}, {"input": "x y"}], task=first_word, scores=[lambda output: 1])
        for r in result.results:
            print("RESULT", repr(r.output), repr(r.error))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    results = [line for line in done.stdout.splitlines() if line.startswith("RESULT")]
    assert results[1] == "RESULT 'x' None"
    assert results[0].startswith("RESULT None RuntimeError('StopIteration raised (next() on an empty iterator?); a StopIteration "
                                 "cannot leave a task or a scorer")


def test_a_generator_scorer_is_read_on_the_pool_not_the_event_loop():
    import threading

    threads = []

    def several(output):
        threads.append(threading.current_thread().name)
        yield Score(name="g1", score=1)
        yield Score(name="g2", score=0.5)

    result = Eval("generator", data=[{"input": "a"}], task=lambda x: x, scores=[several])
    assert result.results[0].scores == {"g1": 1, "g2": 0.5}
    assert threads and threads[0] != threading.main_thread().name


# -- parameters -----------------------------------------------------------------------------------


class Even(BaseModel):
    value: int = Field(default=3, validate_default=True)

    @field_validator("value")
    @classmethod
    def even(cls, value):
        if value % 2:
            raise ValueError("must be even")
        return value


class Lookup(BaseModel):
    key: str = "a"

    @field_validator("key")
    @classmethod
    def known(cls, value):
        return {"a": "A"}[value]


def test_a_default_its_validators_refuse_is_named_not_called_missing():
    with pytest.raises(ValueError, match=r"(?s)Invalid parameter .n.: Parameter .n. has no value and its default is invalid: .*must be even"):
        validate_parameters({}, {"n": Even})
    with pytest.raises(ValueError, match=r"^Invalid parameter 'l': KeyError: 'b'$"):
        validate_parameters({"l": {"key": "b"}}, {"l": Lookup})


def test_an_eval_with_such_a_default_fails_with_the_validators_message():
    with pytest.raises(ValueError, match="must be even"):
        Eval("bad-default", data=[{"input": 1}], task=lambda x, hooks: x, scores=[lambda output: 1], parameters={"n": Even})


@pytest.mark.parametrize("schema", [
    {"$ref": "#"},
    {"type": "object", "properties": {"x": {"$ref": "#/definitions/a"}},
     "definitions": {"a": {"allOf": [{"$ref": "#/definitions/b"}]}, "b": {"anyOf": [{"$ref": "#/definitions/a"}]}}},
])
def test_a_circular_ref_is_a_clear_error_not_a_recursion_error(schema):
    with pytest.raises(ValueError, match="the schema is circular"):
        validate_json_schema({"x": 1}, schema)
    saved = RemoteEvalParameters(id="p1", project_id="proj", name="P", slug="p", version="1", schema=schema, data={})
    assert saved.validate({"x": 1}) is False


def test_a_recursive_schema_that_consumes_the_value_still_checks_it():
    schema = {"type": "object", "properties": {"tree": {"$ref": "#/$defs/node%20type"}},
              "$defs": {"node type": {"type": "object", "properties": {"child": {"$ref": "#/$defs/node%20type"}}, "additionalProperties": False}}}
    assert validate_json_schema({"tree": {"child": {"child": {}}}}, schema) == {"tree": {"child": {"child": {}}}}
    with pytest.raises(ValueError, match=r"tree\.child: Additional properties are not allowed \('leaf' was unexpected\)"):
        validate_json_schema({"tree": {"child": {"leaf": 1}}}, schema)


def test_what_a_task_changes_in_saved_parameters_stays_out_of_the_next_eval():
    saved = RemoteEvalParameters(id="p1", project_id="proj", name="P", slug="p", version="1",
                                 schema={"type": "object", "properties": {"cfg": {"type": "object"}}}, data={"cfg": {"k": 1}})
    first = validate_parameters({}, saved)
    first["cfg"]["k"] = 99
    assert saved.data == {"cfg": {"k": 1}} and validate_parameters({}, saved) == {"cfg": {"k": 1}}
