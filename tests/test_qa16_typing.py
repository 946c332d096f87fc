"""Users who type-check their code: the PEP 561 markers ship, every public annotation resolves at
run time (``typing.get_type_hints``, as pydantic, FastAPI and typer call it), and the annotations
accept what 0.48.1's accept (a ``Sequence`` where it takes one, a ``Mapping`` likewise)."""

from __future__ import annotations

import collections.abc
import dataclasses
import importlib
import inspect
import sys
import tarfile
import types
import typing
import zipfile
from pathlib import Path

import pytest

import braintrust
from test_qa5_packaging import built  # noqa: F401 - the module-scoped wheel and sdist fixture

#: The submodule import paths real code uses (../shared/reference/public-api-names.md).
SUBMODULE_NAMES = {
    "braintrust.framework": ["EvalData", "EvalScorer", "EvalTask", "Input", "Output", "EvalResult", "EvalScorerArgs",
                             "ReporterDef", "EvalResultWithSummary", "default_error_score_handler",
                             "set_thread_pool_max_workers"],
    "braintrust.logger": ["Span", "NOOP_SPAN", "Experiment", "Dataset"],
    "braintrust.span_types": ["SpanTypeAttribute"],
    "braintrust.score": ["Score"],
    "braintrust.oai": ["NamedWrapper", "wrap_openai"],
}


def test_the_wheel_and_the_sdist_carry_both_py_typed_markers(built):  # noqa: F811
    wheel, sdist, _ = built
    assert {"braintrust/py.typed", "pytest_braintrust/py.typed"} <= set(zipfile.ZipFile(wheel).namelist())
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"braintrust/py.typed", "pytest_braintrust/py.typed"} <= names


def _public_objects() -> list[tuple[str, object]]:
    found = [(f"braintrust.{name}", getattr(braintrust, name)) for name in braintrust.__all__]
    for module_name, names in SUBMODULE_NAMES.items():
        module = importlib.import_module(module_name)
        found += [(f"{module_name}.{name}", getattr(module, name)) for name in names]
    return found


def _own_hints(cls: type) -> None:
    """The class-level annotations ``cls`` itself declares, resolved in its module (a base class
    from another package, like requests' ``HTTPAdapter``, answers for its own)."""
    holder = types.SimpleNamespace(__annotations__=dict(vars(cls).get("__annotations__", {})))
    typing.get_type_hints(holder, globalns=vars(sys.modules[cls.__module__]), localns=dict(vars(cls)))


def _callables_of(cls: type) -> list[tuple[str, object]]:
    out = []
    for attr, value in vars(cls).items():
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        elif isinstance(value, property):
            value = value.fget
        if inspect.isfunction(value):
            out.append((attr, value))
    return out


def test_every_public_annotation_resolves_with_get_type_hints():
    unresolved = []
    for label, obj in _public_objects():
        try:
            if inspect.isclass(obj):
                for klass in obj.__mro__:
                    if klass.__module__.split(".")[0] != "braintrust":
                        continue
                    _own_hints(klass)
                    for attr, function in _callables_of(klass):
                        try:
                            typing.get_type_hints(function)
                        except Exception as error:  # noqa: BLE001 - every failure is reported
                            unresolved.append(f"{label} ({klass.__qualname__}.{attr}): {error!r}")
            elif inspect.isfunction(obj) or inspect.ismethod(obj):
                typing.get_type_hints(obj)
        except Exception as error:  # noqa: BLE001
            unresolved.append(f"{label}: {error!r}")
    assert not unresolved, "\n".join(unresolved)


@dataclasses.dataclass
class Question:
    text: str


@braintrust.traced
def _answer(question: Question, attempts: int = 1) -> list[Question]:
    return [question]


@braintrust.traced(name="answer", type="tool")
async def _answer_async(question: Question) -> Question:
    return question


def test_a_traced_function_keeps_its_resolvable_annotations():
    """A framework reading a decorated handler's hints (this module's string annotations) sees the
    function's own."""
    assert typing.get_type_hints(_answer) == {"question": Question, "attempts": int, "return": list[Question]}
    assert typing.get_type_hints(_answer_async) == {"question": Question, "return": Question}


def _accepts(hint: object, abstract: type) -> bool:
    """Whether ``hint`` (or one member of its union) is ``abstract[...]``, or plain ``Any``."""
    members = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    return any(member is typing.Any or typing.get_origin(member) is abstract for member in members)


@pytest.mark.parametrize("function, parameter, abstract", [
    (braintrust.Eval, "scores", collections.abc.Sequence),
    (braintrust.Eval, "classifiers", collections.abc.Sequence),
    (braintrust.Eval, "tags", collections.abc.Sequence),
    (braintrust.Eval, "metadata", collections.abc.Mapping),
    (braintrust.EvalAsync, "scores", collections.abc.Sequence),
    (braintrust.EvalAsync, "classifiers", collections.abc.Sequence),
    (braintrust.EvalAsync, "tags", collections.abc.Sequence),
    (braintrust.EvalAsync, "metadata", collections.abc.Mapping),
    (braintrust.init, "tags", collections.abc.Sequence),
    (braintrust.init, "metadata", collections.abc.Mapping),
    (braintrust.init_dataset, "metadata", collections.abc.Mapping),
    (braintrust.start_span, "span_attributes", collections.abc.Mapping),
    (braintrust.Logger.start_span, "span_attributes", collections.abc.Mapping),
], ids=lambda value: getattr(value, "__qualname__", None) if callable(value) and not isinstance(value, type) else None)
def test_parameters_take_the_read_only_abstractions_0_48_1_takes(function, parameter, abstract):
    """0.48.1 types these ``Sequence``/``Mapping``: a ``list``/``dict`` here made mypy and pyright
    refuse a tuple of scorers, or metadata a caller holds as ``Mapping[str, Any]``."""
    hint = typing.get_type_hints(function)[parameter]
    assert _accepts(hint, abstract), f"{function.__qualname__}({parameter}: {hint})"


@pytest.mark.parametrize("cls, field, abstract", [
    (braintrust.EvalCase, "metadata", collections.abc.Mapping),
    (braintrust.EvalCase, "tags", collections.abc.Sequence),
    (braintrust.Score, "metadata", collections.abc.Mapping),
])
def test_dataclass_fields_take_the_read_only_abstractions_0_48_1_takes(cls, field, abstract):
    hint = typing.get_type_hints(cls)[field]
    assert _accepts(hint, abstract), f"{cls.__name__}.{field}: {hint}"
    assert _accepts(typing.get_type_hints(cls.__init__)[field], abstract)


@pytest.mark.skipif(sys.version_info < (3, 11), reason="typing.get_overloads is new in 3.11")
def test_traced_is_typed_to_return_the_function_it_decorates():
    """Without overloads, ``traced`` returned ``Any``: ``mypy --strict`` (disallow_untyped_decorators)
    refused every ``@traced(...)`` function, and all of them lost their types."""
    bare, with_arguments = typing.get_overloads(braintrust.traced)
    hints = typing.get_type_hints(bare)
    (parameter,) = inspect.signature(bare).parameters.values()
    assert parameter.kind is inspect.Parameter.POSITIONAL_ONLY
    assert isinstance(hints[parameter.name], typing.TypeVar) and hints["return"] is hints[parameter.name]
    returned = typing.get_type_hints(with_arguments)["return"]
    assert typing.get_origin(returned) is collections.abc.Callable
    (argument,), result = typing.get_args(returned)
    assert isinstance(argument, typing.TypeVar) and result is argument


def test_py_typed_markers_are_installed_next_to_the_packages():
    for package in ("braintrust", "pytest_braintrust"):
        module = importlib.import_module(package)
        assert (Path(module.__file__).parent / "py.typed").is_file(), package


def test_type_checkers_see_eval_case_itself_not_the_lazy_module_getattr():
    """``pytest_braintrust.eval_case`` is imported on first use (a module ``__getattr__``), which
    type checkers read as ``Any``: the package names it under ``TYPE_CHECKING`` for them. Run the
    package's source as a checker reads it (``TYPE_CHECKING`` true): the name is bound to the
    real function, with its signature."""
    import pytest_braintrust
    from pytest_braintrust.marks import eval_case

    source = Path(pytest_braintrust.__file__).read_text()
    namespace: dict = {"__name__": "pytest_braintrust_as_checked"}
    checked = source.replace("from typing import TYPE_CHECKING, Any", "from typing import Any\nTYPE_CHECKING = True")
    assert checked != source
    exec(compile(checked, pytest_braintrust.__file__, "exec"), namespace)
    assert namespace["eval_case"] is eval_case
