"""``Evaluator``: everything one ``Eval(...)`` call describes, validated, with its display name."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Generic, TypeVar

Input = TypeVar("Input")
Output = TypeVar("Output")
Expected = TypeVar("Expected")

def eval_display_name(project_name: str, experiment_name: str | None) -> str:
    """``name`` or ``"<name> [experiment_name=<x>]"``, as 0.48.1 names an evaluator. Only
    ``braintrust eval`` makes names unique (``registry.record``): each ``Eval()`` a script runs keeps its own."""
    return project_name if experiment_name is None else f"{project_name} [experiment_name={experiment_name}]"


@dataclasses.dataclass
class Evaluator(Generic[Input, Output, Expected]):  # (0.48.1's three type arguments)
    """An evaluator: data, task and scorers, plus the experiment it writes to."""

    project_name: str
    eval_name: str
    data: Any
    task: Callable[..., Any]
    scores: list[Any] | None = None  # None: not given; [] runs the tasks only
    experiment_name: str | None = None
    metadata: dict[str, Any] | None = None
    tags: list[str] | None = None
    trial_count: int = 1
    is_public: bool = False
    update: bool = False
    timeout: float | None = None
    max_concurrency: int | None = None
    project_id: str | None = None
    base_experiment_name: str | None = None
    base_experiment_id: str | None = None
    git_metadata_settings: Any = None
    repo_info: Any = None
    error_score_handler: Callable[..., Any] | None = None
    description: str | None = None
    summarize_scores: bool = True
    parameters: Any = None
    classifiers: list[Any] | None = None
    #: Values of ``parameters`` chosen already (a playground's): the task sees these, not the defaults.
    parameter_values: dict[str, Any] | None = None
    cancel_event: Any = None
    # (The fields above are the public SDK's, in its order; these are Eval()'s other arguments.)
    on_start: Callable[[Any], Any] | None = None
    stream: Callable[[Any], Any] | None = None
    parent: Any = None
    state: Any = None
    enable_cache: bool = True
    no_send_logs: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.project_name, str) or not self.project_name:
            raise ValueError("Eval needs a name (the project the experiment goes to), e.g. Eval('my-project', data=..., task=..., scores=[...]).")
        if not callable(self.task):
            raise TypeError(f"Eval task must be a function taking (input) or (input, hooks); got {type(self.task).__name__}.")
        if self.scores is None and self.classifiers is None:  # (an explicit [] runs the tasks only, as in the public SDK)
            raise ValueError("Eval needs scores= (a list of scorers, or [] to run the task only) or classifiers=.")
        self.scores = list(self.scores or [])
        self.classifiers = list(self.classifiers or [])
        for kind, entries in (("scores", self.scores), ("classifiers", self.classifiers)):
            for index, entry in enumerate(entries):
                if not callable(entry) and not hasattr(entry, "eval_async") and not hasattr(entry, "eval"):
                    raise TypeError(f"{kind}[{index}] is a {type(entry).__name__}, not a scorer (a function, a class or an object with eval/eval_async).")
        if not isinstance(self.trial_count, int) or isinstance(self.trial_count, bool) or self.trial_count < 1:
            raise ValueError(f"trial_count must be a positive integer, got {self.trial_count!r}.")
        if self.max_concurrency is not None and (not isinstance(self.max_concurrency, int) or self.max_concurrency < 1):
            raise ValueError(f"max_concurrency must be a positive integer or None, got {self.max_concurrency!r}.")
        if self.timeout is not None and (not isinstance(self.timeout, (int, float)) or self.timeout <= 0):
            raise ValueError(f"timeout must be a positive number of seconds or None, got {self.timeout!r}.")
