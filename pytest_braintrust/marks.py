"""``@eval_case`` and the ``braintrust`` marker: which tests are cases and what they declare.

``eval_case(...)`` is ``pytest.mark.braintrust(...)`` with a documented signature, so it works on
functions, classes and modules (``pytestmark = eval_case(...)``) and suites written for the
public SDK's marker keep working. Marks closer to the test win; ``metadata`` dicts merge and
``tags`` are unioned from the module down to the function.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import pytest

MARKER = "braintrust"
MARKER_HELP = (
    "braintrust(input=, expected=, metadata=, tags=, scorers=, trials=, name=, project=, data=): "
    "log this test as a case of the run's Braintrust experiment"
)
_UNSET: Any = object()
#: Keys of a case's metadata the plugin writes itself when the case ends (a user's would be lost).
PLUGIN_METADATA_KEYS = frozenset({"pytest", "score_metadata", "scorer_errors"})

_KNOWN = {"input", "expected", "metadata", "tags", "scorers", "trials", "name", "project", "data"}


def eval_case(
    *args: Any,
    input: Any = _UNSET,
    expected: Any = _UNSET,
    metadata: dict[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    scorers: Sequence[Callable[..., Any]] | None = None,
    trials: int = 1,
    name: str | None = None,
    project: str | None = None,
    data: Any = None,
) -> pytest.MarkDecorator:
    """Mark a test (or every test of a class/module) as an eval case:
    ``eval_case(input, expected, *, metadata, tags, scorers, trials, name, project, data)``.

    ``input``/``expected`` describe the case (default: the test's parametrize values are the
    input, except a parameter named ``expected``, which is the case's expected value, and one
    named ``input``, which is then the input itself);
    ``scorers`` are ``Eval`` scorers run on the test's output; ``trials`` runs the case N times
    (items ``[trial-1]``..``[trial-N]``); ``data`` parametrizes the test from a list, a callable,
    a ``.jsonl`` path or a Braintrust ``Dataset`` (the test then requests ``braintrust_case``).
    Written bare (``@eval_case``, no parentheses), it marks the function or class with the
    defaults, as pytest's own marks do: a lone positional function or class (``input=`` given
    by keyword is always the input).
    """
    if len(args) == 1 and _applied_bare(args[0], expected, metadata, tags, scorers, trials, name, project, data):
        return pytest.mark.braintrust(args[0])  # (pytest marks a lone function or class argument)
    if len(args) > 2 or any(value is not _UNSET for value in (input, expected)[: len(args)]):
        raise TypeError("eval_case() takes input and expected once each, positionally or by keyword")
    input, expected = (*args, *(input, expected)[len(args):])
    kwargs: dict[str, Any] = {}
    if input is not _UNSET:
        kwargs["input"] = input
    if expected is not _UNSET:
        kwargs["expected"] = expected
    for key, value in (("metadata", metadata), ("tags", tags), ("scorers", scorers), ("name", name), ("project", project), ("data", data)):
        if value is not None:
            kwargs[key] = value
    if trials != 1 or type(trials) is not int:
        kwargs["trials"] = trials
    problem = declaration_problem(kwargs)
    if problem:
        __tracebackhide__ = True  # (the error is the test file's line, not this one)
        raise ValueError(f"eval_case: {problem}")
    return pytest.mark.braintrust(**kwargs)


def _applied_bare(input: Any, expected: Any, *rest: Any) -> bool:
    """``@eval_case`` without parentheses: called with the test function (or class) alone."""
    metadata, tags, scorers, trials, name, project, data = rest
    others_default = all(v is None for v in (metadata, tags, scorers, name, project, data)) and trials == 1
    return expected is _UNSET and others_default and (inspect.isfunction(input) or inspect.isclass(input))


def _is_scorer(value: Any) -> bool:
    """What ``Eval`` can call: a function, or an object (or class) with ``eval``/``eval_async``."""
    return callable(value) or callable(getattr(value, "eval", None)) or callable(getattr(value, "eval_async", None))


#: Arguments whose values are never wrong (alone, no check applies).
_ANY_VALUE = frozenset({"input", "expected"})


def declaration_problem(kw: dict[str, Any]) -> str | None:
    """What is wrong with one mark's arguments, with the fix (None when nothing is)."""
    if _ANY_VALUE.issuperset(kw):  # (the common mark: input= and expected= take any value)
        return None
    if "data" in kw and kw["data"] is not None and ("input" in kw or "expected" in kw):
        given = " and ".join(f"{k}=" for k in ("input", "expected") if k in kw)
        them = "them" if " and " in given else "it"
        return f"{given} cannot be used with data=; drop {them} (each data record has its own input and expected)."
    metadata = kw.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        return f"metadata= must be a dict, got {type(metadata).__name__} {metadata!r:.60}."
    if metadata is not None and not all(isinstance(key, str) for key in metadata):
        key = next(key for key in metadata if not isinstance(key, str))
        return f"metadata= keys must be strings, got {key!r:.60} (write {str(key)!r:.60})."
    taken = sorted(PLUGIN_METADATA_KEYS & set(metadata or ()))
    if taken:
        return f"metadata= key {taken[0]!r} is written by the plugin (the row would lose yours); rename it."
    tags = kw.get("tags")
    if tags is not None:
        if isinstance(tags, str):
            return f"tags= must be a list of strings, got the string {tags!r} (write tags=[{tags!r}])."
        if not isinstance(tags, (list, tuple, set, frozenset)) or not all(isinstance(t, str) for t in tags):
            return f"tags= must be a list of strings, got {tags!r:.60}."
    scorers = kw.get("scorers")
    if scorers is not None:
        if not isinstance(scorers, (list, tuple)):
            return f"scorers= must be a list of scorers, got {type(scorers).__name__} (write scorers=[{getattr(scorers, '__name__', '...')}])."
        for scorer in scorers:
            if not _is_scorer(scorer):
                return (f"scorers= takes functions or scorer objects (e.g. autoevals' Factuality), got {scorer!r:.60} "
                        f"({type(scorer).__name__}); pass the scorer itself, not its name.")
    for key in ("name", "project"):
        if kw.get(key) is not None and not isinstance(kw[key], str):
            return f"{key}= must be a string, got {kw[key]!r:.60}."
    trials = kw.get("trials", 1)
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        return f"trials= must be a whole number >= 1, got {trials!r:.60}."
    return None


def unittest_problem(item: Any) -> str | None:
    """What is wrong with a ``unittest.TestCase`` method's declaration (None when nothing): a bad
    marker argument (``pytest_generate_tests``, which makes one a collection error of a test
    function, never sees these methods), or what pytest cannot do there: parametrize it
    (``data=``, ``trials=``), so the case would be logged without it."""
    try:
        decl = declared(item) or Declared()
    except pytest.UsageError as exc:
        return str(exc)
    argument = "data=" if decl.data is not None else "trials=" if decl.trials > 1 else None
    if argument is None:
        return None
    return (f"eval_case({argument}...) cannot be used on a unittest.TestCase method: pytest does not parametrize "
            "them; drop unittest.TestCase from the class (a plain test class) or declare the case on a test function.")


def param_marks_problem(item: Any) -> str | None:
    """What a braintrust mark declares that cannot take effect (None when nothing): ``data=``/
    ``trials=`` in a ``pytest.param(...)``'s marks, or in a mark added to the collected item
    (``item.add_marker`` in a ``pytest_collection_modifyitems`` hook): both come after pytest
    has parametrized the test, so they would be ignored."""
    callspec_marks = getattr(getattr(item, "callspec", None), "marks", ())
    for mark in callspec_marks:
        if _parametrizes(mark):
            return (f"{item.nodeid}: braintrust marker: {_argument(mark)} cannot be given in a pytest.param(...)'s marks, which "
                    "apply after pytest has parametrized the test; declare it on the test function (@eval_case(...)).")
    added = [mark for mark in getattr(item, "own_markers", ()) if _parametrizes(mark)]
    if added:  # (rare: only then are the marks declared before collection looked up)
        declared_before = [*getattr(getattr(item, "obj", None), "pytestmark", ()), *callspec_marks]
        for mark in added:
            if not any(mark is before for before in declared_before):
                return (f"{item.nodeid}: braintrust marker: {_argument(mark)} cannot be added to a collected test "
                        "(item.add_marker), as pytest has parametrized it already; declare it on the test, its class "
                        "or its module (pytestmark = eval_case(...)).")
    return None


def _parametrizes(mark: Any) -> bool:
    """A braintrust mark with ``data=`` or ``trials=`` (what pytest must know when it parametrizes)."""
    return mark.name == MARKER and (mark.kwargs.get("data") is not None or mark.kwargs.get("trials", 1) != 1)


def _argument(mark: Any) -> str:
    return "data=" if mark.kwargs.get("data") is not None else "trials="


@dataclass
class Declared:
    """What the marks of one test declare, merged from module to function."""

    has_input: bool = False
    input: Any = None
    has_expected: bool = False
    expected: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    scorers: list[Any] = field(default_factory=list)
    trials: int = 1
    name: str | None = None
    project: str | None = None
    data: Any = None


def check_mark(node: Any, mark: Any) -> None:
    """``pytest.UsageError`` naming ``node`` when one braintrust mark's arguments are wrong."""
    if mark.args:
        raise pytest.UsageError(f"{node.nodeid}: the braintrust marker takes keyword arguments only (input=..., expected=...).")
    unknown = set(mark.kwargs) - _KNOWN
    if unknown:
        raise pytest.UsageError(f"{node.nodeid}: unknown braintrust marker argument(s) {sorted(unknown)}; known: {sorted(_KNOWN)}.")
    problem = declaration_problem(mark.kwargs)
    if problem:
        raise pytest.UsageError(f"{node.nodeid}: braintrust marker: {problem}")


def _put_subclass_marks_first(cls: type, marks: list[Any]) -> None:
    """Reorder, in place, the marks ``cls`` and its bases declared so that a subclass's come before
    its bases' (pytest lists them base first; here the first mark is the closest)."""
    in_mro_order = [mark for klass in cls.__mro__ for mark in _own_marks(klass)]
    rank = {id(mark): position for position, mark in enumerate(in_mro_order)}
    slots = [i for i, mark in enumerate(marks) if id(mark) in rank]
    for slot, mark in zip(slots, sorted((marks[i] for i in slots), key=lambda m: rank[id(m)])):
        marks[slot] = mark


def _own_marks(klass: type) -> list[Any]:
    declared_here = klass.__dict__.get("pytestmark", [])
    listed = declared_here if isinstance(declared_here, list) else [declared_here]
    return [getattr(mark, "mark", mark) for mark in listed if getattr(mark, "name", None) == MARKER]


def declared(node: Any, all_marks: list[Any] | None = None) -> Declared | None:
    """The merged ``braintrust`` marks of a node (item or function definition), or None.
    ``all_marks``: ``list(node.iter_markers())`` when the caller has it already."""
    marks = [m for m in all_marks if m.name == MARKER] if all_marks is not None else list(node.iter_markers(MARKER))
    if not marks:
        return None
    if len(marks) > 1:  # (``cls`` walks up the node's parents: only looked up when it matters)
        cls = getattr(node, "cls", None)
        if cls is not None:
            _put_subclass_marks_first(cls, marks)
    result = Declared()
    for mark in reversed(marks):  # outermost first, so closer marks override
        check_mark(node, mark)
        kw = mark.kwargs
        if "input" in kw:
            result.has_input, result.input = True, kw["input"]
        if "expected" in kw:
            result.has_expected, result.expected = True, kw["expected"]
        if kw.get("metadata"):
            result.metadata.update(kw["metadata"])
        for tag in kw.get("tags") or []:
            if tag not in result.tags:
                result.tags.append(tag)
        if "scorers" in kw:
            result.scorers = list(kw["scorers"] or [])
        for key in ("trials", "name", "project", "data"):
            if kw.get(key) is not None:
                setattr(result, key, kw[key])
    return result
