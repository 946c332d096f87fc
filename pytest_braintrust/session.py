"""The run's experiments and the span tree of every case (registered only with ``--braintrust``).

Per case, the same layout as ``Eval()``::

    eval root (type "eval": input, expected, output, metadata, tags, scores {"pass", soft checks})
    ├── task  (type "task": the test body; spans of the code under test nest here)
    └── one span per declared scorer (type "score", purpose "scorer": the scorer's scores)
"""

from __future__ import annotations

from typing import Any

import pytest

from braintrust.tracing import context, ids
from braintrust.tracing.deferred import DeferredSpan
from braintrust.tracing.record import hide_refused_value
from pytest_braintrust.case import CASE_KEY, BraintrustCase, CaseSpec, capture_unittest_return_value, is_case, spec_of
from pytest_braintrust.marks import MARKER, check_mark, param_marks_problem
from pytest_braintrust.options import Settings
from pytest_braintrust.outcome import error_text, interrupted_outcome, outcome_of
from pytest_braintrust.report import junit_score_property
from pytest_braintrust.scoring import run_scorers, wall_clock


class CaseSpan(DeferredSpan):
    """A case's root or task span. What a test logs on it that belongs to the case (output,
    expected, tags, metadata, scores) goes to the case (``BraintrustCase.log``), which writes it
    on the root row when the case ends: the public SDK's plugin runs the test body in the root
    span, so suites written for it log these on ``braintrust.current_span()``, which here is the
    task span; and declared scorers see an output logged on either span. An input logged on the
    task span is the case's input too (the root's, as there), and stays the task's. Other fields
    stay on the span."""

    case: BraintrustCase | None = None  # (set once the case exists)

    def log(self, **event: Any) -> None:
        __tracebackhide__ = hide_refused_value
        case = self.case
        if case is not None:
            fields = {name: event.pop(name) for name in CASE_FIELDS if name in event}
            fields = {name: value for name, value in fields.items() if value is not None}  # (as span.log drops them)
            if fields:
                case.log(**fields)
            if event.get("input") is not None and case.span is not self:
                case.span.log(input=event["input"])
        if event:
            super().log(**event)


#: The fields a ``CaseSpan`` hands to its case.
CASE_FIELDS = ("output", "expected", "tags", "metadata", "scores")


class ExperimentRegistry:
    """One experiment per project for the whole run (created when its first case starts, or
    attached: ``attach``, by id).

    Under pytest-xdist a project's experiment is created by the first worker that needs it,
    which shares its identity with the other workers through a file in the run's shared folder
    (``shared_dir``, set on workers only), so they all log into that one; the controller reads
    those files too (``adopt_shared``).
    """

    #: How long a worker waits for another worker to create a project's experiment.
    SHARED_WAIT_SECONDS = 60.0

    def __init__(self, settings: Settings, attach: dict[str, dict[str, Any]] | None = None, shared_dir: str | None = None,
                 datasets: dict[str | None, set[tuple[str, str]]] | None = None):
        self.settings = settings
        self.attach = attach or {}
        self.shared_dir = shared_dir
        #: The datasets cases were read from, per project (``pytest_braintrust.data.DATASETS_KEY``).
        self.datasets = datasets if datasets is not None else {}
        self.experiments: dict[str, Any] = {}

    def get(self, project: str | None) -> Any:
        project = project or self.settings.project
        experiment = self.experiments.get(project)
        if experiment is None:
            experiment = self.experiments[project] = self._open(project)
        return experiment

    def _open(self, project: str) -> Any:
        from braintrust.objects.experiment import attach_experiment

        known = self.attach.get(project)
        if known is not None:
            return attach_experiment(known)
        if self.settings.experiment_id and project == self.settings.project:
            return attach_experiment({"experiment_id": self.settings.experiment_id, "project_name": project})
        if self.shared_dir is not None:  # an xdist worker
            return self._open_shared(project, self.attach.get(self.settings.project))
        return self._create(project)

    def _create(self, project: str) -> Any:
        from braintrust.objects.experiment import init

        name, update = self.settings.experiment, self.settings.update
        joined = self.attach.get(self.settings.project) if self.settings.experiment_id else None
        if joined and (name or joined.get("experiment_name")):
            # Shards joining by id: another project's cases (marker project=) join that project's
            # experiment of the same name, one for the run rather than a new one per shard.
            name, update = name or joined["experiment_name"], True
        return init(
            project=project,
            experiment=name,
            base_experiment=self.settings.base_experiment,
            update=update or None,
            set_current=False,
            metadata={"runner": "pytest"},
            dataset=self._dataset_of(project),
        )

    def _dataset_of(self, project: str) -> dict[str, str] | None:
        """The dataset the project's experiment is linked to: the one its cases were read from,
        when that is one version of one dataset (cases from several stay linked row by row,
        through each row's ``origin``)."""
        read = set(self.datasets.get(project, ()))
        if project == self.settings.project:
            read |= self.datasets.get(None, set())
        if len(read) != 1:
            return None
        ((dataset_id, version),) = read
        return {"id": dataset_id, "version": version}

    def _open_shared(self, project: str, shared: dict[str, Any] | None) -> Any:
        """An experiment agreed between xdist workers: the first one to need it creates it.

        ``shared`` is the default project's experiment as the controller created it (None when
        the controller could not create it: then the workers agree on that one too)."""
        import hashlib
        import json
        import os
        import time
        from pathlib import Path

        from braintrust.objects.experiment import attach_experiment, init, share_experiment

        def join_by_name() -> Any:  # the creator failed: join the run's experiment name
            if shared is None or not shared.get("experiment_name"):
                return self._create(project)
            return init(project=project, experiment=shared["experiment_name"], update=True, set_current=False, metadata={"runner": "pytest"})

        def join(identity: dict[str, Any]) -> Any:
            if identity.get("experiment_id"):
                return attach_experiment(identity)
            if identity.get("reference"):  # not registered yet: write under the creator's reference
                return share_experiment(identity["reference"])
            return join_by_name()

        folder = Path(self.shared_dir) / "experiments"
        folder.mkdir(parents=True, exist_ok=True)
        key = hashlib.sha256(project.encode()).hexdigest()[:20]
        identity_file, lock_file = folder / f"{key}.json", folder / f"{key}.lock"
        try:
            os.close(os.open(lock_file, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            deadline = time.monotonic() + self.SHARED_WAIT_SECONDS
            while time.monotonic() < deadline:
                if identity_file.exists():
                    return join(json.loads(identity_file.read_text()))
                time.sleep(0.01)
            return join_by_name()
        identity: dict[str, Any] = {"error": "the worker creating it failed"}
        try:  # (the identity is written whatever happens: the others wait for it)
            experiment = self._create(project)
            try:
                identity = {
                    "experiment_id": experiment.id,
                    "experiment_name": experiment.name,
                    "project_name": project,
                    "project_id": experiment.project.id,
                }
            except Exception as exc:
                # Not registered now (the store locked, Braintrust unreachable): the others share
                # this reference, so the run's rows still make one experiment once it is
                # registered, in the run or by `braintrust replay`.
                identity = {"error": str(exc), "reference": experiment.ref.to_json()}
            return experiment
        finally:
            draft = identity_file.with_name(f"{identity_file.name}.{os.getpid()}")
            draft.write_text(json.dumps(identity))
            os.replace(draft, identity_file)

    def adopt_shared(self, shared_dir: str) -> None:
        """Controller: attach the experiments the workers created (their identity files), so
        that the summary finds one whose only worker went down before reporting it."""
        import json
        from pathlib import Path

        for file in sorted((Path(shared_dir) / "experiments").glob("*.json")):
            try:
                identity = json.loads(file.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(identity, dict) and identity.get("experiment_id") and identity.get("project_name"):
                self.attach.setdefault(identity["project_name"], identity)

    def identities(self, errors: list[str] | None = None, registered_only: bool = False) -> dict[str, dict[str, Any]]:
        """Resolved ids of every experiment (registers them), for workers and shards. An
        experiment that cannot be registered now (Braintrust unreachable) is left out, and the
        reason appended to ``errors``; ``registered_only`` leaves out, without trying, those
        not registered yet."""
        result = {}
        for project, experiment in self.experiments.items():
            if registered_only and not experiment.ref.ids:
                continue
            try:
                result[project] = {
                    "experiment_id": experiment.id,
                    "experiment_name": experiment.name,
                    "project_name": project,
                    "project_id": experiment.project.id,
                }
            except Exception as exc:
                if errors is not None:
                    errors.append(f"could not register the experiment of project {project!r}: {exc}")
        return result


class EvalSession:
    """The pytest plugin object that turns eval tests into traces."""

    def __init__(self, config: pytest.Config, settings: Settings, registry: ExperimentRegistry):
        self.config = config
        self.settings = settings
        self.registry = registry
        # Finished cases per project and outcome (only counts: nothing per case outlives it).
        self.outcomes: dict[str, dict[str, int]] = {}
        #: Scorers that raised: ``{scorer: {"cases": n, "first": "case: ExcType: message"}}``.
        self.scorer_failures: dict[str, dict[str, Any]] = {}
        self.worker = (getattr(config, "workerinput", None) or {}).get("workerid")  # pytest-xdist
        self.legacy_ids = ids.legacy_ids()  # read once per run, as a logger does
        self.running_case: BraintrustCase | None = None  # the case whose test function runs (its subtests')
        self._subtest_labels: SubtestLabels | None = None  # (registered at the first subtest report)

    @pytest.hookimpl(trylast=True)  # (after deselection, and after other plugins add their marks)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Marks that arrive after collection checked a test function's own (a ``pytest.param``'s,
        another plugin's ``add_marker``): a wrong one stops the run here, before any test runs.
        (Not on an xdist worker, where that would be an internal error with the message lost:
        the case errors at setup instead; see ``case._declaration``.) Only the item's own marks
        are read: its class's and module's were checked with the function's."""
        if self.worker:
            return
        for item in items:
            if type(item).__name__ == "TestCaseFunction":
                continue
            for mark in item.own_markers:
                if mark.name == MARKER:
                    check_mark(item, mark)  # (raises on a bad argument)
            problem = param_marks_problem(item)
            if problem:
                raise pytest.UsageError(problem)

    # -- per case ------------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Any) -> Any:
        all_marks = list(item.iter_markers())
        if not is_case(item, all_marks):
            return (yield)
        spec = spec_of(item, all_marks)
        experiment = self.registry.get(spec.project)
        root = self._open_root(item, spec, experiment)
        case = BraintrustCase(spec, root, run_scorers, hold_scores=True)
        root.case = case
        item.stash[CASE_KEY] = case
        root.set_current()
        # The case runs in its experiment, as the public plugin's tests run in the experiment
        # its ``braintrust.init`` made current (``braintrust.current_experiment()``, ``braintrust.log``).
        outer_experiment = context.experiment_var.get()
        context.experiment_var.set(experiment)
        try:
            return (yield)
        except BaseException as stop:  # Ctrl-C or pytest.exit() in this test: pytest stops the run
            case._outcome = interrupted_outcome(case._reports, stop)
            raise
        finally:
            context.experiment_var.set(outer_experiment)
            root.unset_current()
            self._close_root(item, case, root)
            _release(item)

    def _open_root(self, item: pytest.Item, spec: CaseSpec, experiment: Any) -> CaseSpan:
        event: dict[str, Any] = {"input": spec.row_input}
        if spec.expected is not None:
            event["expected"] = spec.expected
        if spec.tags:
            event["tags"] = spec.tags
        if spec.origin:
            event["origin"] = spec.origin
        path, line, _ = item.location
        caller = {
            "caller_functionname": getattr(item, "originalname", None) or item.name,
            "caller_filename": str(getattr(item, "path", path)),
            "caller_lineno": (line or 0) + 1,
        }
        return CaseSpan(experiment.ref, spec.name, "eval", event, caller, legacy=self.legacy_ids)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """A case set up again within one protocol is rerun (pytest-rerunfailures). A case whose
        marks are wrong in a way collection did not catch errors here, naming the problem."""
        case = item.stash.get(CASE_KEY, None)
        if case is None:
            return
        if case._reports:
            case.rerun()
        if case.spec.problem:
            pytest.fail(case.spec.problem, pytrace=False)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        case = item.stash.get(CASE_KEY, None)
        if case is None:
            return (yield)
        if type(item).__name__ == "TestCaseFunction":  # (unittest calls the method: its return value is caught there)
            capture_unittest_return_value(item)
        root = case.span
        task_input = case.input if case.spec.logged_input is None else case.spec.logged_input
        task = CaseSpan(root.ref, "task", "task", {"input": task_input}, root.caller, parent=root)
        task.case = case
        task.set_current()
        case.running, self.running_case = True, case
        try:
            return (yield)
        finally:
            case.running, self.running_case = False, None
            task.unset_current()
            case.task, case.task_ended = task, wall_clock()  # (it ends with the call's report: _finish_task)

    @staticmethod
    def _finish_task(case: BraintrustCase, call_report: Any = None) -> None:
        """End the task span of the test body that ran: its output, and the test's error when
        the call failed (as ``Eval``'s task span carries the task's)."""
        task, case.task = case.task, None
        if task is None:
            return
        task.case = None  # (no cycle left for the garbage collector: see _close_root)
        fields: dict[str, Any] = {"output": case.output} if case.has_output else {}
        if call_report is not None and call_report.failed:
            fields["error"] = error_text(call_report)
        task.finish(fields, case.task_ended)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Any:
        report = yield
        case = item.stash.get(CASE_KEY, None)
        if case is None:
            return report
        report.braintrust_case = True  # (travels with the report to the xdist controller; see gates_only)
        if case.running:  # a subtest's report (the ``subtests`` fixture), made while the test runs
            case.subtests[report.outcome] = case.subtests.get(report.outcome, 0) + 1
            if report.failed:
                case.subtest_errors.append(error_text(report))
                if self._subtest_labels is None:  # (a report hook costs every test: only once there are subtests)
                    self._subtest_labels = SubtestLabels(self)
                    self.config.pluginmanager.register(self._subtest_labels, "braintrust-subtest-labels")
            return report
        case._reports[report.when] = report
        if report.when == "call":
            self._finish_task(case, report)
            skipped = report.skipped and not hasattr(report, "wasxfail")  # (no output to score, as for a skip mark)
            if not case.scorers_ran and case.spec.scorers and not skipped:
                case.run_scorers()
        if report.when == "teardown":
            problem = case.repair_fields()
            if problem is not None and report.passed:  # (told as an error at teardown, as pytest tells a fixture's)
                report.outcome = "failed"
                report.longrepr = f"{problem} The row keeps them as text. braintrust_case.log(...) checks such values in the test itself."
            result = case._outcome = outcome_of(case._reports, case.subtests.get("failed", 0))
            scores = {"pass": result.passed} if result.passed is not None else {}
            for name, value in {**scores, **case.scores, **case.feedback_scores, **case.scorer_scores}.items():
                if value is not None:
                    report.user_properties.append((junit_score_property(name), float(value)))  # (True: 1.0, as every score)
        return report

    def _close_root(self, item: pytest.Item, case: BraintrustCase, root: Any) -> None:
        self._finish_task(case)  # (when the run stopped before the call's report)
        case.settle_scores()
        if not case.fields_checked:  # (no teardown report checked them: the run stopped)
            case.repair_fields()
        result = case._outcome or outcome_of(case._reports, case.subtests.get("failed", 0))
        scores = {"pass": result.passed, **case.scores} if result.passed is not None else dict(case.scores)
        path, line, _ = item.location
        spec = case.spec
        pytest_fields: dict[str, Any] = {
            "nodeid": item.nodeid,
            "file": str(path),
            "line": (line or 0) + 1,
            "outcome": result.outcome,
            "duration": round(result.duration, 6),
            "markers": spec.markers,
        }
        callspec = getattr(item, "callspec", None)
        if callspec:
            pytest_fields["parametrize_id"] = callspec.id
        if result.phase:
            pytest_fields["phase"] = result.phase
        if result.reason:
            pytest_fields["reason"] = result.reason
        if spec.trial_index is not None:
            pytest_fields["trial_index"] = spec.trial_index
        if spec.case_id:
            pytest_fields["case"] = spec.case_id
        if case.reruns:
            pytest_fields["reruns"] = case.reruns
        if case.subtests:
            pytest_fields["subtests"] = dict(case.subtests)
        if self.worker:
            pytest_fields["worker"] = self.worker
        metadata = {**case.metadata, "pytest": pytest_fields}
        if case.score_metadata:  # e.g. the message of a failed soft check
            metadata["score_metadata"] = dict(case.score_metadata)
        if case.scorer_errors:
            metadata["scorer_errors"] = dict(case.scorer_errors)
            self._count_scorer_failures(case)
        event: dict[str, Any] = {"scores": scores, "metadata": metadata, "tags": case.tags or None}
        if case.expected is not None:  # as declared, or as the test set it (case.expected = ...)
            event["expected"] = case.expected
        if case.has_output:
            event["output"] = case.output
        if result.error:
            event["error"] = "\n".join([result.error, *(f"subtest failed: {e}" for e in case.subtest_errors)])
        root.finish(event)
        case.ended = True
        # The span and the case refer to each other: broken here, the case and all it holds
        # (reports, outputs) go when the item lets go of it, not at the next full collection.
        root.case = None
        per_project = self.outcomes.setdefault(case.spec.project or self.settings.project, {})
        per_project[result.outcome] = per_project.get(result.outcome, 0) + 1


    def _count_scorer_failures(self, case: BraintrustCase) -> None:
        for scorer, formatted in case.scorer_errors.items():
            failure = self.scorer_failures.setdefault(scorer, {"cases": 0, "first": None})
            failure["cases"] += 1
            if failure["first"] is None:
                last_line = formatted.rstrip().splitlines()[-1] if formatted.strip() else "(no message)"
                failure["first"] = f"{case.spec.name}: {last_line}"


def merge_scorer_failures(*per_process: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The scorer failures of this process and every xdist worker, as one mapping."""
    merged: dict[str, dict[str, Any]] = {}
    for failures in per_process:
        for scorer, failure in (failures or {}).items():
            into = merged.setdefault(scorer, {"cases": 0, "first": failure.get("first")})
            into["cases"] += failure.get("cases", 0)
    return merged


def _release(item: pytest.Item) -> None:
    """Drop what this case held: items live until the session ends, so whatever they keep
    (spans, outputs, reports) would grow memory, and garbage-collection time, with every test."""
    if CASE_KEY in item.stash:
        del item.stash[CASE_KEY]


class SubtestLabels:
    """Names a failed subtest in its case's error as pytest's summary does (``[msg] (k=v)``): only
    the report logged after ``pytest_runtest_makereport`` (pytest 9's ``SubtestReport``) carries
    the subtest's ``msg`` and keyword arguments."""

    def __init__(self, session_plugin: Any):
        self.session_plugin = session_plugin

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        case, context = self.session_plugin.running_case, getattr(report, "context", None)
        if case is None or context is None or not report.failed or not case.subtest_errors:
            return
        label = " ".join(([f"[{context.msg}]"] if context.msg is not None else [])
                         + ([f"({', '.join(f'{k}={v}' for k, v in context.kwargs.items())})"] if context.kwargs else []))
        if label:
            case.subtest_errors[-1] = f"{label}: {case.subtest_errors[-1]}"
