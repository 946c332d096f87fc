"""The run's experiments and the span tree of every case (registered only with ``--braintrust``).

Per case, the same layout as ``Eval()``::

    eval root (type "eval": input, expected, output, metadata, tags, scores {"pass", soft checks})
    ├── task  (type "task": the test body; spans of the code under test nest here)
    └── one span per declared scorer (type "score", purpose "scorer": the scorer's scores)
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import pytest

from pytest_braintrust.case import BraintrustCase, CaseSpec, is_case, spec_of
from pytest_braintrust.options import Settings
from pytest_braintrust.outcome import outcome_of
from pytest_braintrust.scoring import run_scorers

CASE_KEY = pytest.StashKey[BraintrustCase]()
REPORTS_KEY = pytest.StashKey[dict]()
ROOT_KEY = pytest.StashKey[Any]()
OUTCOME_KEY = pytest.StashKey[Any]()


class ExperimentRegistry:
    """One experiment per project for the whole run (created lazily, or attached by id)."""

    def __init__(self, settings: Settings, attach: dict[str, dict[str, Any]] | None = None):
        self.settings = settings
        self.attach = attach or {}
        self.experiments: dict[str, Any] = {}

    def get(self, project: str | None) -> Any:
        project = project or self.settings.project
        experiment = self.experiments.get(project)
        if experiment is None:
            experiment = self.experiments[project] = self._open(project)
        return experiment

    def _open(self, project: str) -> Any:
        from braintrust.objects.experiment import attach_experiment, init

        known = self.attach.get(project)
        if known is not None:
            return attach_experiment(known)
        if self.settings.experiment_id and project == self.settings.project:
            return attach_experiment({"experiment_id": self.settings.experiment_id, "project_name": project})
        shared = self.attach.get(self.settings.project)
        if shared is not None:
            # An xdist worker: another project's experiment is joined by the run's shared name.
            return init(project=project, experiment=shared["experiment_name"], update=True, set_current=False, metadata={"runner": "pytest"})
        return init(
            project=project,
            experiment=self.settings.experiment,
            base_experiment=self.settings.base_experiment,
            update=self.settings.update or None,
            set_current=False,
            metadata={"runner": "pytest"},
        )

    def identities(self) -> dict[str, dict[str, Any]]:
        """Resolved ids of every experiment (registers them), for workers and shards."""
        result = {}
        for project, experiment in self.experiments.items():
            result[project] = {
                "experiment_id": experiment.id,
                "experiment_name": experiment.name,
                "project_name": project,
                "project_id": experiment.project.id,
            }
        return result


class EvalSession:
    """The pytest plugin object that turns eval tests into traces."""

    def __init__(self, config: pytest.Config, settings: Settings, registry: ExperimentRegistry):
        self.config = config
        self.settings = settings
        self.registry = registry
        self.cases: list[dict[str, Any]] = []  # per finished case: project, outcome, scores

    # -- per case ------------------------------------------------------------------------------

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Any) -> Any:
        if not is_case(item):
            yield
            return
        spec = spec_of(item)
        root = self._open_root(item, spec)
        case = BraintrustCase(spec, root, run_scorers)
        item.stash[CASE_KEY] = case
        item.stash[REPORTS_KEY] = {}
        item.stash[ROOT_KEY] = root
        _capture_return_value(item, case)
        root.set_current()
        try:
            yield
        finally:
            root.unset_current()
            self._close_root(item, case, root)

    def _open_root(self, item: pytest.Item, spec: CaseSpec) -> Any:
        experiment = self.registry.get(spec.project)
        event: dict[str, Any] = {"input": spec.input}
        if spec.expected is not None:
            event["expected"] = spec.expected
        if spec.tags:
            event["tags"] = spec.tags
        if spec.origin:
            event["origin"] = spec.origin
        return experiment.start_span(name=spec.name, type="eval", **event)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        case = item.stash.get(CASE_KEY, None)
        if case is None:
            yield
            return
        task = case.span.start_span(name="task", type="task", input=case.input)
        task.set_current()
        try:
            yield
        finally:
            task.unset_current()
            if case.has_output:
                task.log(output=case.output)
            task.end()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Any:
        outcome = yield
        case = item.stash.get(CASE_KEY, None)
        if case is None:
            return
        report = outcome.get_result()
        report.braintrust_case = True
        item.stash[REPORTS_KEY][report.when] = report
        if report.when == "call" and not case.scorers_ran and case.spec.scorers:
            case.run_scorers()
        if report.when == "teardown":
            result = outcome_of(item.stash[REPORTS_KEY])
            item.stash[OUTCOME_KEY] = result
            scores = {"pass": result.passed} if result.passed is not None else {}
            for name, value in {**scores, **case.scores, **case.scorer_scores}.items():
                if value is not None:
                    report.user_properties.append((f"braintrust.score.{name}", value))

    def _close_root(self, item: pytest.Item, case: BraintrustCase, root: Any) -> None:
        result = item.stash.get(OUTCOME_KEY, None) or outcome_of(item.stash[REPORTS_KEY])
        scores = dict(case.scores)
        if result.passed is not None:
            scores = {"pass": result.passed, **scores}
        metadata = {
            **case.metadata,
            "pytest": {
                "nodeid": item.nodeid,
                "file": str(item.location[0]),
                "line": (item.location[1] or 0) + 1,
                "outcome": result.outcome,
                "duration": round(result.duration, 6),
                "markers": sorted({m.name for m in item.iter_markers()}),
                **({"parametrize_id": item.callspec.id} if getattr(item, "callspec", None) else {}),
                **({"phase": result.phase} if result.phase else {}),
                **({"reason": result.reason} if result.reason else {}),
                **({"trial_index": case.trial_index} if case.trial_index else {}),
            },
        }
        if case.scorer_errors:
            metadata["scorer_errors"] = dict(case.scorer_errors)
        event: dict[str, Any] = {"scores": scores, "metadata": metadata, "tags": case.tags or None}
        if case.has_output:
            event["output"] = case.output
        if result.error:
            event["error"] = result.error
        root.log(**event)
        root.end()
        self.cases.append({
            "nodeid": item.nodeid,
            "project": case.spec.project or self.settings.project,
            "outcome": result.outcome,
            "scores": {**scores, **case.scorer_scores},
        })


def _capture_return_value(item: pytest.Item, case: BraintrustCase) -> None:
    """A test's return value is its output when it logged none (and pytest does not warn)."""
    original = getattr(item, "obj", None)
    if original is None or getattr(original, "__braintrust_wrapped__", False):
        return
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def async_wrapper(*args: Any, **kwargs: Any) -> None:
            value = await original(*args, **kwargs)
            if value is not None and not case.has_output:
                case.log_output(value)

        wrapper: Any = async_wrapper
    elif callable(original) and not inspect.isgeneratorfunction(original) and not inspect.isasyncgenfunction(original):

        @functools.wraps(original)
        def sync_wrapper(*args: Any, **kwargs: Any) -> None:
            value = original(*args, **kwargs)
            if value is not None and not case.has_output:
                case.log_output(value)

        wrapper = sync_wrapper
    else:
        return
    wrapper.__braintrust_wrapped__ = True
    item.obj = wrapper
