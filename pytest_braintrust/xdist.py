"""pytest-xdist: one experiment per project for the whole run, one summary, the same dataset
version on every worker.

``XdistBridge`` (with ``--braintrust``): each project's experiment is created by the first
worker that logs a case into it, and the others join it (``ExperimentRegistry``), so a run
with no eval cases leaves no empty experiment to become the next run's baseline, and the
experiment is linked to the dataset its cases were read from, as without xdist. The controller
hands the workers only an experiment given by id and whether Braintrust was reachable. Each
worker logs and flushes in its own session finish and returns its cases, delivery counts and
experiments in ``workeroutput``; the controller merges them and prints the summary.

``DatasetPins`` (always, under xdist): the controller hands every worker the same pins folder;
the first worker to read an unpinned dataset records the version it read there and every other
worker reads that version (``pytest_braintrust.data``), so all collect the same ids. The same
folder holds the identities of the experiments workers create (``ExperimentRegistry``). It is
only created when a worker needs it, and removed by the controller at the end.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

WORKER_KEY = "braintrust"
#: How the controller's errors before its workers start begin (the report tells one that repeats a worker's once).
WORKERS_START = "before starting the workers"
#: ``workerinput`` key of the folder where workers agree on dataset versions.
PINS_KEY = "braintrust_pins_dir"
#: ``workerinput`` key of the controller's "could not reach Braintrust" (``BraintrustState.unreachable_verdict``).
UNREACHABLE_KEY = "braintrust_unreachable"


class DatasetPins:
    def __init__(self) -> None:
        self.path: str | None = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if self.path is None:
            import tempfile
            import uuid

            self.path = os.path.join(tempfile.gettempdir(), f"braintrust-pins-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        node.workerinput[PINS_KEY] = self.path

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)


class XdistCaseCounter:
    """Controller only: count each worker's finished cases (what a crashed worker may have lost)."""

    def __init__(self, bridge: "XdistBridge"):
        self.bridge = bridge

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown" and getattr(report, "braintrust_case", False):
            worker = getattr(getattr(getattr(report, "node", None), "gateway", None), "id", None)
            if worker is not None:
                self.bridge._cases_by_worker.setdefault(worker, set()).add(report.nodeid)


class XdistBridge:
    def __init__(self, run: Any):
        self.run = run
        self._checked_reachable = False
        #: Controller: the eval cases each worker finished (node ids: a rerun case counts once).
        self._cases_by_worker: dict[str, set[str]] = {}
        self._accounted: set[str] = set()  # controller: workers that reported back or were reported down
        #: Controller: eval cases finished by workers that crashed before reporting them.
        self.crashed_cases = 0

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Controller: tell each worker the experiments given by id, and whether Braintrust
        was reachable (checked once, by logging in)."""
        from braintrust.state import global_state

        self.run.is_controller = True
        if self.run.runs_nothing:
            return
        state = global_state()
        if not self._checked_reachable and not state.is_local():
            self._checked_reachable = True
            try:
                state.login()
            except Exception as exc:  # the workers spill their rows; the summary says why
                self.run.errors.append(f"{WORKERS_START}: {exc}")
        node.workerinput["braintrust_experiments"] = dict(self.run.registry.attach)
        # Unreachable just now: workers do not wait through the same login retries again at once.
        node.workerinput[UNREACHABLE_KEY] = state.unreachable_verdict()

    def adopt_shared_experiments(self) -> None:
        """Controller, before the summary: know every experiment the workers created, reported
        or not; under ``--dist each``, say that the cases ran once per worker."""
        pins = self.run.config.pluginmanager.getplugin("braintrust-dataset-pins")
        if pins is not None and pins.path is not None:
            self.run.registry.adopt_shared(pins.path)
        note = self.each_note()
        if note:
            self.run.notes.append(note)

    def each_note(self) -> str | None:
        """``--dist each`` runs every test on every worker: the experiment holds each eval case
        once per worker, and the counts and scores count every copy (as pytest's own counts do).
        None under the other modes, or when fewer than two workers reported eval cases."""
        if self.run.config.getoption("dist", None) != "each":
            return None
        workers = sum(1 for output in self.run.worker_outputs if any((output.get("outcomes") or {}).values()))
        if workers < 2:
            return None
        return (f"note: --dist each ran every eval case on each of {workers} workers: the experiment holds each case "
                f"{workers} times (metadata.pytest.worker tells the copies apart), and the counts and scores above "
                "count every copy; without --dist each every case runs once")

    def unreported(self) -> tuple[list[str], int]:
        """Controller: the workers that finished eval cases but neither reported them nor were
        reported down (the run was interrupted first: Ctrl-C), and how many cases those were."""
        workers = sorted(w for w in self._cases_by_worker if w not in self._accounted)
        return workers, sum(len(self._cases_by_worker[w]) for w in workers)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", {}).get(WORKER_KEY)
        worker = getattr(getattr(node, "gateway", None), "id", "?")
        if worker in self._accounted:  # (pytest-xdist reports a worker that exited with status 2 down twice)
            return
        self._accounted.add(worker)
        if not output:
            # It crashed (or was killed) before its session finish: what it held is gone.
            finished = len(self._cases_by_worker.get(worker, ()))
            if not finished:  # (pytest-xdist reports the crash and the test that was running)
                return
            self.crashed_cases += finished
            ids = sorted(self._cases_by_worker[worker])
            named = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            self.run.errors.append(
                f"worker {worker} went down before flushing: of the {finished} eval case(s) it finished ({named}), "
                "those whose rows it had not sent yet are lost and not in the counts above; rerun them "
                "(pass their ids to pytest; the test that crashed the worker is reported failed, so --lf reruns it)"
            )
            return
        self.run.worker_outputs.append(output)
        for error in output.get("errors") or []:
            if error not in self.run.errors:  # every worker may hit the same trouble
                self.run.errors.append(error)
        for project, identity in (output.get("experiments") or {}).items():
            self.run.registry.attach.setdefault(project, identity)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Worker: report cases and delivery counts to the controller (after the flush)."""
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is None:
            return
        result = self.run.flush_result
        workeroutput[WORKER_KEY] = {
            "outcomes": self.run.session().outcomes,
            "scorer_failures": self.run.session().scorer_failures,
            "flush": dict(result.__dict__) if result is not None else None,
            "experiments": self.run.registry.identities(self.run.errors, registered_only=True),
            "errors": list(self.run.errors),
            "deselected": self.run.deselected,
            "deselected_cases": self.run.deselected_cases,
        }
