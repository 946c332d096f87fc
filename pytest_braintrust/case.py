"""One eval case: what a test item declares (``CaseSpec``) and what the test can do with it
through the ``braintrust_case`` fixture (``BraintrustCase``)."""

from __future__ import annotations

import copy
import functools
import importlib
import inspect
import re
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_braintrust.marks import MARKER, PLUGIN_METADATA_KEYS, Declared, declaration_problem, declared, param_marks_problem

#: Where an item keeps its ``BraintrustCase`` (set by the session, or by the fixture when the run
#: is not logged).
CASE_KEY = pytest.StashKey["BraintrustCase"]()
#: Set once the item's test function is wrapped to capture its return value.
_WRAPPED_KEY = pytest.StashKey[bool]()
#: The SDK's context variables as the case's test body was called (its task span current).
CALL_CONTEXT_KEY = pytest.StashKey[Any]()

#: Parametrize argument names that belong to the plugin, not to the case's input.
PLUGIN_PARAMS = frozenset({"braintrust_trial", "braintrust_case"})
#: A parametrize argument with this name is the case's expected value, not part of its input.
EXPECTED_PARAM = "expected"
INPUT_PARAM = "input"
#: pytest-repeat's ``--count N``: each repetition is a trial of the same case (0-based).
REPEAT_PARAM = "__pytest_repeat_step_number"
#: The score the plugin sets from the test's outcome (1 passed, 0 failed): a test or a scorer
#: setting it too would change the outcome the row reports.
OUTCOME_SCORE = "pass"


def _is_input_param(name: str) -> bool:
    """Params that are the case's input: not the plugin's own, and not another plugin's private
    ones (a leading ``__``, as pytest-repeat's), which would make each copy a different input."""
    return name not in PLUGIN_PARAMS and not name.startswith("__")


@dataclass
class CaseSpec:
    """Everything known about a case before its test runs."""

    name: str
    input: Any
    expected: Any
    metadata: dict[str, Any]
    tags: list[str]
    scorers: list[Any]
    project: str | None
    record_id: str | None = None
    trial_index: int | None = None  # 0-based; None when the case is not run in trials
    #: A trial's node id without its trial id (``t.py::test_x[a]`` for ``t.py::test_x[a-trial-2]``):
    #: one id for every trial of the case (None when the case is not run in trials).
    case_id: str | None = None
    origin: dict[str, Any] | None = None
    markers: list[str] = field(default_factory=list)  # names of every marker of the item
    #: The input as the case's rows record it: ``input``, except parameters with no stable text
    #: (see ``_stable_param``). None: the same as ``input``.
    logged_input: Any = None
    #: What is wrong with the item's marks that collection did not catch (``_declaration``):
    #: its setup fails with it.
    problem: str | None = None

    @property
    def row_input(self) -> Any:
        return self.input if self.logged_input is None else self.logged_input


@dataclass
class DataRecord:
    """A record a test was parametrized with (``data=``): the ``braintrust_case`` param."""

    input: Any = None
    expected: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    id: str | None = None
    origin: dict[str, Any] | None = None


def is_case(item: pytest.Item, all_marks: list[Any] | None = None) -> bool:
    """Marked ``braintrust`` (``all_marks``: ``list(item.iter_markers())`` if known), or
    requesting the case fixture. Only test functions are cases (a doctest in a marked module is not)."""
    if not isinstance(item, pytest.Function):
        return False
    if all_marks is None:
        marked = item.get_closest_marker("braintrust") is not None
    else:
        marked = any(mark.name == "braintrust" for mark in all_marks)
    return marked or "braintrust_case" in getattr(item, "fixturenames", ())


def spec_of(item: pytest.Item, all_marks: list[Any] | None = None) -> CaseSpec:
    if all_marks is None:
        all_marks = list(item.iter_markers())
    decl, problem = _declaration(item, all_marks)
    callspec = getattr(item, "callspec", None)
    params = dict(callspec.params) if callspec is not None else {}
    record = params.get("braintrust_case")
    trial_index = int(params["braintrust_trial"]) - 1 if "braintrust_trial" in params else None
    trial_ids = [f"trial-{trial_index + 1}"] if trial_index is not None else []
    if isinstance(params.get(REPEAT_PARAM), int):
        step = params[REPEAT_PARAM]
        # pytest-repeat's copies (ids "2-3"): its marker's count, else --count, as pytest-repeat reads them
        marker = item.get_closest_marker("repeat")
        count = marker.args[0] if marker is not None and marker.args else getattr(item.config.option, "count", None)
        # (with trials= too, every copy of every trial is a trial of its own)
        trial_index = step if trial_index is None else step * decl.trials + trial_index
        if count:
            trial_ids.append(f"{step + 1}-{count}")
    # (an empty parameter set's NOTSET placeholder is no value: pytest skips that item)
    user_params = {k: v for k, v in params.items() if _is_input_param(k) and type(v) is not _NOT_SET}
    logged_input = None
    metadata = dict(decl.metadata)
    tags = list(decl.tags)
    if isinstance(record, DataRecord):
        input_value, expected_value = record.input, record.expected
        metadata.update(record.metadata)
        tags += [t for t in record.tags if t not in tags]
    else:
        if not decl.has_expected and EXPECTED_PARAM in user_params:
            # ``@pytest.mark.parametrize("question, expected", ...)``: the case's expected value.
            expected_value = user_params.pop(EXPECTED_PARAM)
        else:
            expected_value = decl.expected
        if not decl.has_input and INPUT_PARAM in user_params:
            # ``@pytest.mark.parametrize("input, expected", ...)``: the case's input itself.
            input_value = user_params.pop(INPUT_PARAM)
            stable = _logged_params({INPUT_PARAM: input_value}, all_marks, callspec)
            logged_input = stable[INPUT_PARAM] if stable else None
        elif decl.has_input:
            input_value = decl.input
        else:
            input_value, user_params = user_params or None, {}
            if input_value:
                logged_input = _logged_params(input_value, all_marks, callspec)
    if user_params:  # the parameters that are not the input (a model's, say) are recorded beside it
        metadata.setdefault("params", dict(user_params))
    return CaseSpec(
        name=decl.name or item.name,
        input=input_value,
        expected=expected_value,
        metadata=metadata,
        tags=tags,
        scorers=list(decl.scorers),
        project=decl.project,
        record_id=record.id if isinstance(record, DataRecord) else None,
        trial_index=trial_index,
        case_id=functools.reduce(_without_id, trial_ids, item.nodeid) if trial_ids else None,
        origin=record.origin if isinstance(record, DataRecord) else None,
        markers=sorted({mark.name for mark in all_marks}),
        logged_input=logged_input,
        problem=problem,
    )


def _declaration(item: pytest.Item, all_marks: list[Any]) -> tuple[Declared, str | None]:
    """The item's merged marks, and what is wrong with them that collection did not catch (None
    when nothing). Such a problem leaves the defaults: its setup fails the test naming it, and
    its row records that error instead of the whole run stopping here. That is a bad argument
    of a ``unittest.TestCase`` method's marker (its setup checks: ``unittest_problem``), or of a
    ``pytest.param(...)``'s under xdist (see ``EvalSession.pytest_collection_modifyitems``)."""
    try:
        decl = declared(item, all_marks) or Declared()
    except pytest.UsageError as exc:
        return Declared(), None if type(item).__name__ == "TestCaseFunction" else str(exc)
    problem = param_marks_problem(item)
    return (Declared(), problem) if problem else (decl, None)


def _without_id(name: str, part: str) -> str:
    """A test's name or node id without one part of its parametrize id: ``test_x[a-trial-2]``
    less ``trial-2`` is ``test_x[a]``, ``test_x[trial-2]`` is ``test_x``."""
    head, bracket, rest = name.partition("[")
    if not bracket or not rest.endswith("]"):
        return name
    whole = rest[:-1]
    if whole == part:
        return head
    if whole.endswith(f"-{part}"):
        return f"{head}[{whole[: -len(part) - 1]}]"
    if whole.startswith(f"{part}-"):
        return f"{head}[{whole[len(part) + 1 :]}]"
    if f"-{part}-" in whole:
        return f"{head}[{whole.replace(f'-{part}-', '-', 1)}]"
    return name


#: The address in Python's default text of an object (``<x.Client object at 0x7f3a...>``), which
#: changes from run to run.
_ADDRESS = re.compile(r" at 0x[0-9A-Fa-f]+")


def _logged_params(params: dict[str, Any], all_marks: list[Any], callspec: Any) -> dict[str, Any] | None:
    """The parameters as the input records them, when some differ from the values (else None)."""
    stable = {name: _stable_param(value, lambda name=name, value=value: _position(all_marks, name, value, callspec))
              for name, value in params.items()}
    return stable if any(stable[name] is not params[name] for name in stable) else None


def _stable_param(value: Any, position: Any, depth: int = 0) -> Any:
    """A parameter's value as the input records it. Logged as text, an object without a text of
    its own (``<x.Client object at 0x7f3a...>``, ``<function rag at 0x...>``) would be another
    input on every run, and no run could be compared with another: the address is replaced by
    the value's position in its parametrize list (``position()``), e.g. ``<x.Client object #0>``;
    inside a dict, list or tuple too (a config holding a client)."""
    if type(value) in _ATOMS:
        return value
    if isinstance(value, (dict, list, tuple)):
        if depth > 20:
            return value
        items = list(value.items() if isinstance(value, dict) else enumerate(value))
        stable = {key: _stable_param(item, position, depth + 1) for key, item in items}
        if all(stable[key] is item for key, item in items):
            return value  # (unchanged: the same object)
        return stable if isinstance(value, dict) else list(stable.values())
    try:
        text = str(value)
    except Exception:
        return value
    stable = _ADDRESS.sub("", text)
    if stable == text:
        return value
    index = position()
    return f"{stable[:-1]} #{index}>" if stable.endswith(">") else f"{stable} #{index}"


def _position(all_marks: list[Any], name: str, value: Any, callspec: Any) -> int:
    """Where ``value`` is in the ``parametrize`` list of argument ``name`` (a fixture's params:
    pytest's index of it)."""
    for mark in all_marks:
        if mark.name != "parametrize" or not mark.args:
            continue
        argnames = mark.args[0]
        names = [n.strip() for n in argnames.split(",")] if isinstance(argnames, str) else list(argnames)
        if name not in names:
            continue
        argvalues = mark.args[1] if len(mark.args) > 1 else mark.kwargs.get("argvalues", ())
        index = _positions(argvalues, len(names), names.index(name)).get(id(value))
        if index is not None:
            return index
    return int(callspec.indices.get(name, 0))


#: id(argvalues), column -> (argvalues, {id(value): position}): each list is indexed once, not
#: searched once per item (the list is kept, so its id is not reused).
_POSITIONS: dict[tuple[int, int], tuple[Any, dict[int, int]]] = {}


def _positions(argvalues: Any, width: int, column: int) -> dict[int, int]:
    cached = _POSITIONS.get((id(argvalues), column))
    if cached is not None and cached[0] is argvalues:
        return cached[1]
    positions: dict[int, int] = {}
    for index, entry in enumerate(argvalues):
        values = entry.values if _is_param_set(entry) else (entry if width > 1 else (entry,))
        if column < len(values):
            positions.setdefault(id(values[column]), index)
    _POSITIONS[(id(argvalues), column)] = (argvalues, positions)
    return positions


def _is_param_set(entry: Any) -> bool:
    """``pytest.param(...)`` (a named tuple of values, marks and id)."""
    return isinstance(entry, tuple) and getattr(type(entry), "_fields", None) == ("values", "marks", "id")


class BraintrustCase:
    """The ``braintrust_case`` fixture: the case, its span, and ways to log and score.

    Without ``--braintrust`` the same object works but records nothing (its span is the no-op
    span): ``check`` still returns its verdict and ``run_scorers()`` still scores, but declared
    scorers are not run automatically (they may be costly, and nothing would record them).
    """

    def __init__(self, spec: CaseSpec, span: Any, scorer_runner: Any, hold_scores: bool = False):
        self.spec = spec
        self.span = span
        self._scorer_runner = scorer_runner
        #: Score spans keep their scores until ``settle_scores`` (set while the run is logged).
        self.hold_scores = hold_scores
        #: (scorer name, score span, its scores, when it ended) of each held score span.
        self.held_score_spans: list[tuple[str, Any, dict[str, Any], float]] = []
        self.reruns = 0  # earlier attempts of this test that were run again (--reruns)
        self.task: Any = None  # the task span of a test body that ran, until its report ends it
        self.task_ended: float | None = None
        self._start_attempt()

    def _start_attempt(self) -> None:
        """What one run of the test records (all of it again when the test is rerun)."""
        spec = self.spec
        self.input = _private_copy(spec.input)
        self.expected = _private_copy(spec.expected)
        self.metadata: dict[str, Any] = dict(spec.metadata)
        self.tags: list[str] = list(spec.tags)
        self.id = spec.record_id
        self.trial_index = spec.trial_index or 0
        self.output: Any = None
        self.has_output = False
        self.scores: dict[str, float | None] = {}  # logged on the root span (pass, soft checks)
        self.scorer_scores: dict[str, float | None] = {}  # logged on the scorers' own spans
        self.feedback_scores: dict[str, float | None] = {}  # merged into the root row by feedback(...)
        self.score_metadata: dict[str, Any] = {}
        self.scorer_errors: dict[str, str] = {}
        self.scorers_ran = False
        self._reports: dict[str, Any] = {}  # the item's setup/call/teardown reports (the session's)
        self._outcome: Any = None  # their combined outcome, once the teardown report is made
        self.running = False  # the test function is running (reports made now are subtests')
        self.subtests: dict[str, int] = {}  # subtests (the ``subtests`` fixture) per outcome
        self.subtest_errors: list[str] = []
        self.fields_checked = False  # (by repair_fields, once the test is over)
        self.ended = False  # the case's row is written: what is logged on it now would be lost

    def rerun(self) -> None:
        """The test runs again (pytest-rerunfailures): what the earlier attempt logged on the
        case is dropped, and its score spans end without their scores, so only the final attempt
        counts. (Its task span stays in the trace, with its error.)"""
        self.settle_scores(final=False)
        self.reruns += 1
        self._start_attempt()

    def settle_scores(self, final: bool = True) -> None:
        """End the held score spans: with their scores (``final``), or marked superseded."""
        held, self.held_score_spans = self.held_score_spans, []
        for _, span, scores, ended in held:
            if final:
                span.log(scores=scores)
                span.end(ended)
            else:
                _end_superseded(span, ended, "the test was run again; the last attempt's scores count")

    def supersede_scorers(self, names: set[str]) -> None:
        """Scorers about to run again in this attempt (``run_scorers`` called twice): their
        earlier held score spans end without their scores, so each scorer counts once, with its
        last run (as the case's row and ``run_scorers``' return value have it)."""
        kept = []
        for held in self.held_score_spans:
            name, span, scores, ended = held
            if name not in names:
                kept.append(held)
                continue
            _end_superseded(span, ended, "the scorer was run again on this case; its last run counts")
            for score_name in scores:
                self.scorer_scores.pop(score_name, None)
        self.held_score_spans = kept
        for name in names:
            self.scorer_errors.pop(name, None)

    # -- logging -------------------------------------------------------------------------------

    def _refuse_if_ended(self) -> None:
        __tracebackhide__ = True
        if self.ended:
            raise RuntimeError(f"braintrust_case of {self.spec.name} was used after its test ended: its row is written, "
                               "so this would be lost; log within the test, or use braintrust_case.feedback(...).")

    def log_output(self, output: Any) -> None:
        """Record the system's output for this case (scorers run on it)."""
        __tracebackhide__ = True
        self._refuse_if_ended()
        self.output = output
        self.has_output = True

    def log(self, **event: Any) -> None:
        """Log fields on the case's root span (``output`` is recorded as the case's output).

        Checked now, as ``span.log`` checks them: a wrong metadata, tags or scores value raises
        ``ValueError`` here, in the test, and nothing of that call is recorded."""
        from braintrust.tracing.record import hide_refused_value, validate_metadata, validate_scores, validate_tags

        __tracebackhide__ = hide_refused_value
        self._refuse_if_ended()

        case_fields = {name: event.pop(name) for name in ("output", "expected", "metadata", "tags", "scores") if name in event}
        metadata = _own_metadata(validate_metadata(case_fields["metadata"])) if case_fields.get("metadata") is not None else {}
        tags = validate_tags(case_fields["tags"]) if case_fields.get("tags") is not None else []
        scores = _not_outcome(validate_scores(case_fields["scores"])) if case_fields.get("scores") is not None else {}
        if event:
            self.span.log(**event)  # (the span checks the other fields)
        if "output" in case_fields:
            self.log_output(case_fields["output"])
        if "expected" in case_fields:
            self.expected = case_fields["expected"]
        self.metadata.update(metadata)
        self.tags.extend(tag for tag in tags if tag not in self.tags)
        self.scores.update(scores)

    def repair_fields(self) -> str | None:
        """Check the tags, metadata and scores the test may have changed directly
        (``braintrust_case.tags.append(...)``) as ``log`` checks them. A refused value is made
        valid without losing it (tags and metadata keys as strings; a refused score moves to
        ``metadata["refused_scores"]``, as text), and the problem is returned (None if there was none)."""
        from braintrust.tracing.record import validate_metadata, validate_scores, validate_tags

        self.fields_checked = True
        problems = []
        try:
            validate_tags(self.tags)
        except ValueError as exc:
            problems.append(f"braintrust_case.tags: {exc}")
            tags = self.tags if isinstance(self.tags, (list, tuple, set, frozenset)) else [self.tags]
            self.tags = list(dict.fromkeys(str(tag) for tag in tags))
        try:
            validate_metadata(self.metadata)
        except ValueError as exc:
            problems.append(f"braintrust_case.metadata: {exc}")
            metadata = self.metadata if isinstance(self.metadata, dict) else {"value": self.metadata}
            self.metadata = {str(key): value for key, value in metadata.items()}
        if not isinstance(self.scores, dict):
            problems.append(f"braintrust_case.scores: scores must be a dict, got {type(self.scores).__name__}.")
            self.metadata["refused_scores"] = repr(self.scores)
            self.scores = {}
        refused = {}
        for name, value in list(self.scores.items()):
            try:
                _not_outcome(validate_scores({name: value}))
            except ValueError as exc:
                problems.append(f"braintrust_case.scores: {exc}")
                refused[str(name)] = repr(value)
                del self.scores[name]
        if refused:
            self.metadata["refused_scores"] = refused
        return " ".join(problems) or None

    def log_metadata(self, **metadata: Any) -> None:
        __tracebackhide__ = True
        self._refuse_if_ended()
        self.metadata.update(_own_metadata(metadata))

    def score(self, name: str, value: float | bool | None, metadata: dict[str, Any] | None = None) -> None:
        """Add a score to the case (validated now: a number in [0, 1], a bool, or None)."""
        from braintrust.tracing.record import hide_refused_value, validate_scores

        __tracebackhide__ = hide_refused_value
        self._refuse_if_ended()

        self.scores.update(_not_outcome(validate_scores({name: value})))
        if metadata:
            self.score_metadata[name] = metadata
        self._tell_if_a_scorer_gave(name)

    def _tell_if_a_scorer_gave(self, name: str) -> None:
        """A score the declared scorers already gave (``run_scorers()`` earlier in the test):
        both are logged, and the experiment's average would mix them (``ScoreNameWarning``)."""
        for scorer, _, held, _ in self.held_score_spans:
            if name in held:
                from pytest_braintrust.scoring import ScoreNameWarning

                warnings.warn(ScoreNameWarning(
                    f"score {name!r} is given by both scorer {scorer!r} and the test (braintrust_case.check/score): each is "
                    f"logged, and the experiment's {name!r} average mixes the two; give the scores distinct names."),
                    stacklevel=4 if sys._getframe(2).f_code is BraintrustCase.check.__code__ else 3)
                return

    def check(self, name: str, condition: Any, message: str | None = None) -> bool:
        """A soft check: log score ``name`` as 1 or 0 without failing the test."""
        from braintrust.tracing.record import hide_refused_value

        __tracebackhide__ = hide_refused_value
        passed = bool(condition)
        self.score(name, passed, {"message": message} if message and not passed else None)
        return passed

    def run_scorers(self, output: Any = None, scorers: list[Any] | None = None) -> dict[str, float | None]:
        """Run the declared (or given) scorers on ``output`` (default: the logged output) now;
        returns their scores. Scorer errors are recorded, never raised; a ``scorers`` argument
        that is not a list of scorers raises ``ValueError`` (as in ``eval_case``)."""
        self._refuse_if_ended()
        if scorers is not None:
            problem = declaration_problem({"scorers": scorers})
            if problem:
                __tracebackhide__ = True  # (the test's line and the message: a refused value)
                raise ValueError(f"run_scorers: {problem}")
        if output is not None:
            self.log_output(output)
        results = self._scorer_runner(self, scorers if scorers is not None else self.spec.scorers)
        self.scorers_ran = self.scorers_ran or scorers is None  # (declared ones ran: not again at the end)
        return results

    def feedback(self, **feedback: Any) -> None:
        """Attach feedback (scores, expected, tags, comment, metadata) to the case's row. Its
        ``expected`` is the case's from now on: the row, written when the case ends, keeps it."""
        from braintrust.tracing.record import hide_refused_value, validate_scores

        __tracebackhide__ = hide_refused_value

        if feedback.get("scores") is not None:
            self.feedback_scores.update(_not_outcome(validate_scores(feedback["scores"])))
        self.span.log_feedback(**feedback)
        if feedback.get("expected") is not None:
            self.expected = feedback["expected"]

    def start_span(self, *args: Any, **kwargs: Any) -> Any:
        return self.span.start_span(*args, **kwargs)

    def __repr__(self) -> str:
        return f"BraintrustCase(name={self.spec.name!r}, input={self.input!r}, expected={self.expected!r})"


_ATOMS = (str, int, float, bool, type(None))
#: The type of pytest's placeholder for the parameters of an empty parameter set (``NOTSET``).
_NOT_SET = type(getattr(importlib.import_module("_pytest.compat"), "NOTSET", type("_NoPlaceholder", (), {})()))


def _not_outcome(scores: dict[str, Any]) -> dict[str, Any]:
    """``scores``, unless one is named like the outcome's score (``ValueError``, naming the fix)."""
    __tracebackhide__ = True  # (the test's line and the message: a refused value)
    if OUTCOME_SCORE in scores:
        raise ValueError(f"score {OUTCOME_SCORE!r} is the test's outcome (1 passed, 0 failed), which the plugin sets; "
                         "log this score under another name.")
    return scores


def _own_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """``metadata``, unless a key is one the plugin writes itself (``ValueError``, naming the fix)."""
    __tracebackhide__ = True  # (the test's line and the message: a refused value)
    taken = sorted(PLUGIN_METADATA_KEYS & set(metadata))
    if taken:
        raise ValueError(f"metadata key {taken[0]!r} is written by the plugin when the case ends (yours would be lost); "
                         "rename it.")
    return metadata


def _end_superseded(span: Any, ended: float, why: str) -> None:
    """End a held score span without its scores, saying why."""
    span.log(metadata={"superseded": why})
    span.end(ended)


def _private_copy(value: Any) -> Any:
    """A deep copy the test may change freely (immutable atoms are their own copy). A value
    that cannot be copied (a client holding a lock or a connection, passed as a parameter) is
    the test's own object: the row keeps the snapshot taken when the case started."""
    if type(value) in _ATOMS:
        return value
    try:
        return copy.deepcopy(value)
    except Exception:
        return value


def _record_return_value(item: pytest.Item, value: Any) -> None:
    if value is None:  # (most tests return nothing: no case to look up)
        return
    case = item.stash.get(CASE_KEY, None)
    if case is not None and not case.has_output:
        case.log_output(value)


def call_sync_case(item: pytest.Item, logging: bool) -> bool | None:
    """Run a case's plain (sync) test function as pytest would, keeping its return value as the
    case's output when it logged none, without pytest's ``PytestReturnNotNoneWarning``. None
    (pytest calls it as usual) for items without a case and for functions pytest runs otherwise.
    Without ``--braintrust`` (``logging`` False) a test marked as a case, or requesting the case
    fixture, is called here too, so its return value, an output by design, raises no warning (an
    error under ``-W error``)."""
    # (``keywords`` holds the marks' names of the item and its parents: a cheap first look. A
    # node merely named "braintrust" would only lose pytest's warning about a returned value.
    # A test requesting the case fixture is a case too.)
    if item.stash.get(CASE_KEY, None) is None and (
        logging or (MARKER not in item.keywords and "braintrust_case" not in getattr(item, "fixturenames", ()))
    ):
        return None
    function = getattr(item, "obj", None)
    if not _plain_sync(function):
        return None
    funcargs = item.funcargs  # type: ignore[attr-defined]
    value = function(**{name: funcargs[name] for name in item._fixtureinfo.argnames})  # type: ignore[attr-defined]
    if hasattr(value, "__await__") or hasattr(value, "__aiter__"):  # (pytest fails it too: its body never ran)
        pytest.fail(f"{item.nodeid} returned a {type(value).__name__} that nothing awaited: an async test must be an "
                    "`async def` function run by an async plugin (pytest-asyncio, anyio).", pytrace=False)
    _record_return_value(item, value)
    return True


def _plain_sync(function: Any) -> bool:
    """A plain function or method: not a coroutine, generator or async generator function."""
    if inspect.isfunction(function):
        return _plain_sync_function(function)
    return inspect.ismethod(function) and _plain_sync_function(function.__func__)


@functools.lru_cache(maxsize=1024)  # the parametrized items of one test share its function
def _plain_sync_function(function: Any) -> bool:
    return not (inspect.iscoroutinefunction(function) or inspect.isgeneratorfunction(function) or inspect.isasyncgenfunction(function))


def _call_context(item: pytest.Item) -> Any:
    """The context the case's body was called in (``plugin.pytest_runtest_call``), taken off the
    item: it holds the case's spans, which the item must not keep to the session's end."""
    context = item.stash.get(CALL_CONTEXT_KEY, None)
    if context is not None:
        del item.stash[CALL_CONTEXT_KEY]
    return context


def capture_async_return_value(item: pytest.Item) -> None:
    """An async case's return value is its output too: its coroutine function is wrapped (the
    async plugin that runs it, e.g. pytest-asyncio, discards the value)."""
    original = getattr(item, "obj", None)
    if not inspect.iscoroutinefunction(original) or item.stash.get(_WRAPPED_KEY, False):
        return

    @functools.wraps(original)
    async def async_wrapper(*args: Any, **kwargs: Any) -> None:
        # (anyio's runner awaits every test of a runner's life in one task, whose context is the
        # first test's: the case's spans go where the body was called, under its task span)
        from braintrust.tracing.context import carried

        with carried(_call_context(item)):
            _record_return_value(item, await original(*args, **kwargs))

    item.stash[_WRAPPED_KEY] = True
    item.obj = async_wrapper


def capture_unittest_return_value(item: pytest.Item) -> None:
    """A logged case's ``unittest.TestCase`` method's return value is its output too. unittest
    calls the method itself, looked up by name on the test instance (where pytest puts
    ``item.obj`` for a sync method), so the wrapper goes in both places, once the item is set up
    (pytest before 8.2 makes the instance in its setup). The wrapper
    returns None: Python 3.11+ warns (``DeprecationWarning``) about a test method that returns a
    value, which a case's output is by design. Generator methods are left alone: their body
    never runs, and unittest's warning says so."""
    instance = getattr(item, "_testcase", None)  # (set up: the instance, on every pytest)
    method = getattr(instance, item.name, None)
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def async_wrapper() -> None:
            # (IsolatedAsyncioTestCase runs it in a context copied when pytest collected the test)
            from braintrust.tracing.context import carried

            with carried(_call_context(item)):
                _record_return_value(item, await method())

        wrapper: Any = async_wrapper
    elif _plain_sync(method):

        @functools.wraps(method)
        def sync_wrapper() -> Any:
            value = method()
            if hasattr(value, "__await__"):
                return value  # (a coroutine nothing awaits: unittest's warning names it)
            _record_return_value(item, value)
            return None

        wrapper = sync_wrapper
    else:
        return
    item.obj = wrapper  # type: ignore[attr-defined]  # (what pytest puts on the instance for a sync method)
    setattr(instance, item.name, wrapper)  # (where an async one is looked up)
