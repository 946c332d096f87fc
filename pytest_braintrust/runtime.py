"""The run as a whole (``--braintrust`` only): where results go, the session-end flush, the
summaries, gates, CI outputs and the exit status. Under pytest-xdist the controller owns the
experiment and the summary; workers log and flush (see ``pytest_braintrust.xdist``)."""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any

import pytest

from braintrust.gates import GATE_FAILED_EXIT_CODE, GateResult, evaluate
from pytest_braintrust.case import is_case
from pytest_braintrust.options import Settings
from pytest_braintrust.session import EvalSession, ExperimentRegistry

RUN_PLUGIN = "braintrust-run"


def configure_session(config: pytest.Config, settings: Settings) -> None:
    from braintrust.delivery import policy
    from braintrust.delivery.runtime import mark_counts

    _check_environment()

    saved_policy = (policy.quiet_local_notice, policy.queue_full_wait_seconds)
    policy.quiet_local_notice = True  # the report header says where results go
    policy.enable_pytest_backpressure()
    workerinput = getattr(config, "workerinput", None)
    attach = workerinput.get("braintrust_experiments") if workerinput else None
    from pytest_braintrust.data import DATASETS_KEY
    from pytest_braintrust.xdist import PINS_KEY, UNREACHABLE_KEY

    if (workerinput or {}).get(UNREACHABLE_KEY):
        from braintrust.state import global_state

        global_state().remember_unreachable(workerinput[UNREACHABLE_KEY])
    registry = ExperimentRegistry(settings, attach=attach, shared_dir=(workerinput or {}).get(PINS_KEY),
                                  datasets=config.stash.setdefault(DATASETS_KEY, {}))
    run = BraintrustRun(config, settings, registry, is_worker=workerinput is not None)
    if workerinput is not None and run.runs_nothing is None:
        # A worker logs into an experiment the controller made, so nothing imported the backend
        # before the tests: the sender imported it (``requests``) with its first batch, during a
        # test, where pytest's warning filters apply to every thread. Under ``-W error`` the
        # import's DependencyWarning (no PySocks) then failed it and the rows spilled as
        # ``internal_error``; without it, that warning was charged to whichever test ran.
        from braintrust.delivery.runtime import import_backend

        import_backend()
    run.saved_policy = saved_policy
    run.counts_at_start = mark_counts()  # this run's rows only, when pytest runs twice in a process
    config.pluginmanager.register(run, RUN_PLUGIN)
    run.eval_session = EvalSession(config, settings, registry)
    if run.runs_nothing is None:  # no per-test hooks when no test runs
        config.pluginmanager.register(run.eval_session, "braintrust-eval-session")
    if settings.gates_only:
        config.pluginmanager.register(DeclarationErrors(), "braintrust-declaration-errors")
        if workerinput is None:  # (the run's status is decided here, not on workers)
            config.pluginmanager.register(NonCaseFailures(run), "braintrust-non-case-failures")
    if workerinput is None:
        config.pluginmanager.register(GateStatus(run), "braintrust-gate-status")
    if workerinput is not None or _distributes(config):  # (not when pytest-xdist is merely installed)
        from pytest_braintrust.xdist import XdistBridge, XdistCaseCounter

        run.xdist_bridge = XdistBridge(run)
        config.pluginmanager.register(run.xdist_bridge, "braintrust-xdist")
        if workerinput is None:  # the controller: its per-report hook, which workers do not need
            config.pluginmanager.register(XdistCaseCounter(run.xdist_bridge), "braintrust-xdist-cases")
            if run.runs_nothing is None:
                # The controller logs nothing, so nothing installed the SDK's SIGTERM handler:
                # a cancelled CI job's SIGTERM killed it with no summary (without xdist: exit 2, summarized).
                from braintrust.delivery.runtime import prepare

                prepare()


def _check_environment() -> None:
    """The ``BRAINTRUST_*`` variables, read now: a malformed one (``BRAINTRUST_HTTP_TIMEOUT=abc``,
    ``BRAINTRUST_LOCAL=maybe``) is a usage error naming it and the fix, before any test runs,
    rather than a traceback at the first case or rows lost at the end."""
    from braintrust.config import DeliverySettings, env_bool
    from braintrust.state import global_state
    from braintrust.tracing import ids, traced

    try:
        DeliverySettings.from_env()
        if global_state().is_local():
            # (First read by the first write otherwise: every row spilled, and the run passed.)
            from braintrust.store.connection import StoreError, busy_timeout_seconds

            try:
                busy_timeout_seconds()
            except StoreError as exc:
                raise ValueError(str(exc)) from None
        # (First read otherwise by the first span, an INTERNALERROR, and the first traced generator.)
        env_bool("BRAINTRUST_OTEL_COMPAT")
        ids.legacy_ids()
        traced._generator_limit()
    except ValueError as exc:
        raise pytest.UsageError(f"--braintrust: {exc}") from None


class GateStatus:
    """A failed gate's exit status (6, as the summary says) stands over the status a plugin sets
    in its own session finish after ours from the status pytest gave it (pytest-rerunfailures'
    ``--fail-on-flaky``: 7 for a run whose tests all passed)."""

    def __init__(self, run: "BraintrustRun"):
        self.run = run

    @pytest.hookimpl(wrapper=True)  # (its end runs after every plain implementation, trylast ones too)
    def pytest_sessionfinish(self, session: pytest.Session) -> Any:
        result = yield
        if any(not gate.passed for gate in self.run.gates):
            session.exitstatus = GATE_FAILED_EXIT_CODE
        return result


class NonCaseFailures:
    """With ``--braintrust-gates-only``: a failing test that is not an eval case still fails the
    run, and so does a file that failed to collect (``--continue-on-collection-errors``), so
    their failures are counted (only then: a report hook costs every test)."""

    def __init__(self, run: "BraintrustRun"):
        self.run = run

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed and (not getattr(report, "braintrust_case", False)
                              or getattr(report, "braintrust_declaration_error", False)):
            self.run.failed_non_cases += 1

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.run.failed_non_cases += 1


class DeclarationErrors:
    """With ``--braintrust-gates-only`` (on xdist workers too): an eval case whose setup failed
    on its own wrong marks (a ``pytest.param``'s braintrust mark under xdist, a unittest method's
    marker) is marked so on its report, which travels to the controller: that is a suite to
    fix, not a low score, so ``NonCaseFailures`` counts it (without xdist, collection stops on it)."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo) -> Any:
        report = yield
        if report.when == "setup" and report.failed and _declaration_problem(item):
            report.braintrust_declaration_error = True
        return report


def _declaration_problem(item: pytest.Item) -> str | None:
    from pytest_braintrust.case import CASE_KEY

    case = item.stash.get(CASE_KEY, None)
    if case is not None and case.spec.problem:
        return case.spec.problem
    if type(item).__name__ == "TestCaseFunction" and item.get_closest_marker("braintrust") is not None:
        from pytest_braintrust.marks import unittest_problem

        return unittest_problem(item)
    return None


def _distributes(config: pytest.Config) -> bool:
    """This pytest is a pytest-xdist controller that will start workers (``-n N``, ``--dist``)."""
    return config.pluginmanager.hasplugin("xdist") and config.getoption("dist", "no") != "no"


def _option_that_runs_nothing(config: pytest.Config) -> str | None:
    for option, flag in (("collectonly", "--collect-only"), ("setupplan", "--setup-plan"), ("setuponly", "--setup-only"),
                         ("showfixtures", "--fixtures"), ("show_fixtures_per_test", "--fixtures-per-test"),
                         ("cacheshow", "--cache-show")):
        if config.getoption(option, False):
            return flag
    return None


class BraintrustRun:
    def __init__(self, config: pytest.Config, settings: Settings, registry: ExperimentRegistry, is_worker: bool):
        self.config = config
        self.settings = settings
        self.registry = registry
        self.is_worker = is_worker
        self.is_controller = False  # set by the xdist bridge
        self.worker_outputs: list[dict[str, Any]] = []
        self.summaries: list[Any] = []
        self.gates: list[GateResult] = []
        self.flush_result: Any = None
        self.flush_seconds = 0.0
        self.failed_non_cases = 0
        #: ``--braintrust-gates-only`` turned failing eval cases' exit status 1 into 0.
        self.failures_waived = False
        self.errors: list[str] = []
        #: Why some experiment has no summary (gates then say so instead of "no such score").
        self.summary_missing: str | None = None
        #: Why the summaries leave out some of this run's rows (not delivered), if they do.
        self.summary_incomplete: str | None = None
        self.gates_skipped: str | None = None
        #: The option under which no test runs (``--collect-only``, as IDEs collect, or
        #: ``--setup-only`` / ``--setup-plan``), if any: nothing is logged or reported, and no
        #: experiment is created to become the next run's baseline.
        self.runs_nothing = _option_that_runs_nothing(config)
        self.eval_session: EvalSession | None = None
        self.saved_policy: tuple[Any, ...] | None = None
        self.counts_at_start: Any = None
        self.xdist_bridge: Any = None
        #: Eval cases the controller saw finish on workers that never reported them back.
        self.unreported_cases = 0
        self.started_at = time.time()  # (wall clock: compared with spill files' modification times)
        #: Things worth knowing about the summaries (printed after them).
        self.notes: list[str] = []
        #: What Ctrl-C cut short at session finish ("the final flush", "the summary"), if anything.
        self.interrupted_in: str | None = None
        self.deselected = 0  # tests -k, -m, --lf... left out (every xdist worker sees them all)
        self.deselected_cases = 0  # eval cases among them (this process's)
        #: Set (once collected) when this run reruns only the last failures (``--lf`` with some
        #: of them selected): its averages are a few cases', so ``--braintrust-fail-under``,
        #: made for the suite, is not applied.
        self.reruns_failures = False
        #: Set (once collected) when ``--sw`` resumes at the last failure, leaving out the tests
        #: that passed before it: its averages are not the suite's either.
        self.resumes_stepwise = False

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected += len(items)
        self.deselected_cases += sum(1 for item in items if is_case(item))

    def deselected_tests(self) -> int:
        """Tests deselected in this run (under xdist each worker deselects the same ones)."""
        return max([self.deselected, *(o.get("deselected", 0) for o in self.worker_outputs)])

    def deselected_eval_cases(self) -> int | None:
        """Eval cases among the deselected tests (None when not known: an xdist controller
        collects nothing, and a worker that never reported said nothing)."""
        if self.xdist_bridge is None:
            return self.deselected_cases
        counts = [o.get("deselected_cases") for o in self.worker_outputs]
        return max(counts) if counts and None not in counts else None

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        """Give the process back as it was (matters when pytest runs inside a process that
        goes on, e.g. under ``pytester``)."""
        from braintrust.delivery import policy

        if self.saved_policy is not None:
            policy.quiet_local_notice, policy.queue_full_wait_seconds = self.saved_policy

    def session(self) -> EvalSession:
        assert self.eval_session is not None
        return self.eval_session

    # -- session start ---------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)  # before pytest-xdist starts workers, which attach to it
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """``--braintrust-experiment-id``: the experiment must exist (a typo would log rows
        under an id nothing shows); its name and project then label the summary."""
        experiment_id = self.settings.experiment_id
        if self.is_worker or self.runs_nothing or not experiment_id:
            return
        from braintrust.objects.reads import reads

        try:
            reader = reads()
            identity = reader.experiment_identity(experiment_id)
        except Exception as exc:  # unreachable: the rows spill, and the summary says why
            self.errors.append(f"could not check --braintrust-experiment-id {experiment_id}: {exc}")
            return
        if identity is None:
            from braintrust.state import global_state

            listing = "`braintrust experiments` lists them" if global_state().is_local() else "the experiment's page shows it"
            raise pytest.UsageError(
                f"--braintrust-experiment-id {experiment_id}: {reader.where()} has no experiment with that id; "
                f"check the id ({listing}), or give --braintrust-experiment NAME --braintrust-update "
                "to join or create one by name."
            )
        identity["project_name"] = identity.get("project_name") or self.settings.project
        self.registry.attach.setdefault(self.settings.project, identity)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self._selected(item.nodeid for item in session.items)
        self.resumes_stepwise = _stepwise_skipped(self.config)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self._selected(ids)  # (the controller collects nothing: each worker tells what it selected)

    def _selected(self, nodeids: Any) -> None:
        """With ``--lf``, pytest runs only the recorded failures among the selected tests, or,
        when none of them is selected, every selected test: only the first is a rerun. (The
        record, read before any test ran, holds the tests of a file that failed to collect.)"""
        if self.reruns_failures or not self.config.getoption("lf", False):
            return
        last_failed = getattr(self.config.pluginmanager.getplugin("lfplugin"), "lastfailed", None) or {}
        failed = {str(key) for key in last_failed}  # (pytest 9.2 keys it by NodeId objects, earlier by strings)
        self.reruns_failures = any(nodeid in failed for nodeid in nodeids)

    # -- header ----------------------------------------------------------------------------------

    def pytest_report_header(self, config: pytest.Config) -> str:
        from braintrust.state import global_state
        from braintrust.store.location import database_path

        if self.runs_nothing:
            return f"braintrust: {self.runs_nothing} runs no test, so nothing is logged and no experiment is created"
        state = global_state()
        settings = self.settings
        if state.is_local():
            where = f"the local store at {database_path()} ({state.local_reason()})"
        else:
            where = f"Braintrust at {state.shown_app_url()}"
        if settings.experiment_id:  # (its rows go to the experiment's own project, not the default one)
            return f"braintrust: logging eval cases to experiment id {settings.experiment_id} (in its own project), in {where}"
        if settings.experiment and settings.update:
            experiment = f"experiment {settings.experiment!r} (joined if it exists)"
        elif settings.experiment:
            experiment = f"a new experiment {settings.experiment!r}"
        else:
            experiment = "a new experiment"
        return f"braintrust: logging eval cases to project {self.settings.project!r}, {experiment}, in {where}"

    # -- session end -----------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from braintrust.delivery.accounting import FlushError
        from braintrust.delivery.runtime import flush, stats

        started = time.monotonic()
        try:
            self.flush_result = flush().since(self.counts_at_start)
        except KeyboardInterrupt as stop:  # the user will not wait: the processor spilled the rest at once
            self.flush_result = stats().since(self.counts_at_start)
            self._interrupted(session, stop, "the final flush", "rows not delivered by then were spilled")
        except FlushError as exc:  # (BRAINTRUST_SYNC_FLUSH: rows were lost; the counts say which)
            self.flush_result = exc.result.since(self.counts_at_start)
        except Exception as exc:  # never lose the test run's result to a reporting problem
            self.errors.append(f"flush failed: {exc}")
        self.flush_seconds = time.monotonic() - started
        if self.is_worker or self.runs_nothing:
            return
        if self.is_controller and self.xdist_bridge is not None:
            self.xdist_bridge.adopt_shared_experiments()
            workers, interrupted_cases = self.xdist_bridge.unreported()
            self.unreported_cases = interrupted_cases + self.xdist_bridge.crashed_cases
            if workers:
                self.errors.append(
                    f"the run ended before worker(s) {', '.join(workers)} reported back: {interrupted_cases} "
                    "finished eval case(s) are not counted above, nor the rows the workers sent; the summary "
                    "shows what had arrived" + self._spilled_since_start()
                )
        if self.interrupted_in is None:
            try:
                self._summarize()
            except KeyboardInterrupt as stop:
                delivered = "some rows were not delivered (counted above)" if self.summary_incomplete else "every row was delivered"
                self._interrupted(session, stop, "the summary", delivered)
        ran_through = self._judge(session)
        from pytest_braintrust.report import write_outputs

        write_outputs(self)
        if any(not gate.passed for gate in self.gates):
            session.exitstatus = GATE_FAILED_EXIT_CODE
        elif self.settings.gates_only and ran_through and session.exitstatus == pytest.ExitCode.TESTS_FAILED \
                and not self.failed_non_cases:  # (not when -x stopped on a case: the tests after it never ran)
            session.exitstatus = pytest.ExitCode.OK
            self.failures_waived = True
        self._summary_pytest_skips(exitstatus)

    def _spilled_since_start(self) -> str:
        """Workers that did not report may have spilled rows: say where, if files appeared."""
        from braintrust.delivery.runtime import spill_directory

        folder = spill_directory()
        try:
            files = [f for f in folder.glob("spill-*.json") if f.stat().st_mtime >= self.started_at]
        except OSError:
            return ""
        if not files:
            return ""
        return f"; {len(files)} spill file(s) appeared in {folder} meanwhile: send them with `braintrust replay {folder}`"

    def _interrupted(self, session: pytest.Session, stop: KeyboardInterrupt, what: str, rows_note: str) -> None:
        """Ctrl-C (or SIGTERM, which the SDK turns into a ``KeyboardInterrupt("SIGTERM")`` under
        pytest) at session finish: no more waiting; the run's status says it was interrupted."""
        by = "SIGTERM" if str(stop) == "SIGTERM" else "Ctrl-C"
        self.interrupted_in = what
        self.summary_missing = f"no summary: {by} interrupted {what}"
        self.errors.append(f"{by} interrupted {what}; {rows_note}")
        session.exitstatus = pytest.ExitCode.INTERRUPTED

    def _judge(self, session: pytest.Session) -> bool:
        """Apply the gates to a run that went through its eval cases (True); otherwise say why
        they were not applied (False)."""
        has_gates = bool(self.settings.fail_under or self.settings.max_regression)
        xdist_controller = self.config.pluginmanager.getplugin("dsession")  # (keeps its -x / --maxfail stop to itself)
        stopped = session.shouldfail or session.shouldstop or getattr(xdist_controller, "shouldstop", False)
        if stopped:
            # -x / --maxfail, --sw (or a plugin's stop): the scores of the cases run so far are not
            # the suite's. (Said before the status: pytest calls some of these stops "interrupted".)
            why = f"the run stopped early ({stopped})"
        elif session.exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            # Interrupted (Ctrl-C, pytest.exit) or broken: the scores cover part of the suite
            # at best, and the status already says the run is not a verdict.
            why = f"the run ended with exit status {int(session.exitstatus)} ({_status_name(session.exitstatus)})"
        elif self.outcome_counts().get("interrupted"):
            # pytest.exit(..., returncode=0) in a case: a status of 0, but the suite did not run through.
            why = "a case stopped the run (pytest.exit)"
        elif not sum(self.outcome_counts().values()):
            # Nothing to judge (``-k`` kept only other tests, a shard got none): pytest's own
            # status stands, rather than every gate failing as if its score had a typo.
            why = "no eval case ran"
        else:
            unscored = {
                scorer: f"scorer {scorer!r} failed in {failure['cases']} case{'s' if failure['cases'] != 1 else ''}: see above"
                for scorer, failure in self.scorer_failures().items()
            }
            fail_under = self.settings.fail_under
            if (self.reruns_failures or self.resumes_stepwise) and fail_under:
                # Bars on averages judge a suite; over the few cases --lf reruns (failures, mostly)
                # they would fail the run for what the full run already reported, and over the
                # tests --sw resumes with, for the tests before them it left out. The regression
                # gates still apply: they compare only the inputs both runs had.
                this_run = ("reran only the last failures (--lf)" if self.reruns_failures else
                            "resumed at the last failure (--sw), leaving out the tests that passed before it")
                named = fail_under[0].source or "--braintrust-fail-under"  # (as the user gave it: option or ini key)
                fail_under = ()
                self.gates_skipped = f"{named} not applied: this run {this_run}; a run of the whole suite applies it"
            # A summary missing (one project's) or leaving rows out: every gate is unchecked,
            # rather than judged on the summaries that happen to be there.
            missing = self.summary_incomplete or self.summary_missing
            self.gates = evaluate(fail_under, self.settings.max_regression, [] if missing else self.summaries, missing,
                                  unscored=unscored)
            return True
        if has_gates:
            self.gates_skipped = f"gates not applied: {why}"
        return False

    def _summarize(self) -> None:
        from braintrust.config import DeliverySettings
        from braintrust.objects.reads import bounded_by

        delivery = self.delivery_counts()
        lost = {"spilled": delivery["spilled"], "dropped": sum(delivery["dropped"].values())}
        counts = ", ".join(f"{n} {what}" for what, n in lost.items() if n)
        if any(lost.values()) and not delivery["accepted"]:
            # Nothing reached the destination (it is down, refused the key, or the store cannot
            # be written): asking it for a summary would only fail again, after the same waits.
            self.summary_missing = f"no summary, because none of this run's rows were delivered ({counts})"
            return
        if any(lost.values()):
            # The destination summarizes what it received: without the rows that did not reach
            # it (failures, often), its averages are not this run's, so no gate may pass on them.
            self.summary_incomplete = (f"the summary leaves out {lost['spilled'] + lost['dropped']} of this run's "
                                       f"{delivery['produced']} rows, which were not delivered ({counts})")
            self.notes.append(f"note: {self.summary_incomplete}; its scores are not this run's")
        if self.unreported_cases and not self.summary_incomplete:
            # xdist workers that went down (or were stopped) before reporting: the rows they had
            # not sent are missing, so a gate judged on what arrived could pass a worse run.
            self.summary_incomplete = (f"the summary may leave out the rows of {self.unreported_cases} eval case(s) "
                                       "that xdist workers finished but never reported (see below)")
            self.notes.append(f"note: {self.summary_incomplete}; its scores may not be this run's")
        # The summary requests share one deadline, the flush's: a slow or hanging Braintrust
        # must not keep the run from ending (each request alone would wait up to a minute).
        with bounded_by(DeliverySettings.from_env().flush_timeout_seconds):
            self._summarize_projects()

    def _summarize_projects(self) -> None:
        summarized: set[str] = set()  # experiment ids: one summary per experiment
        for project in self.projects():
            known = project in self.registry.experiments or project in self.registry.attach
            if self.is_controller and not known:
                # No worker could register it (its rows are spilled); do not create an empty one.
                self.errors.append(f"no summary for project {project!r}: its experiment was never registered")
                self.summary_missing = f"no summary for project {project!r}"
                continue
            try:
                experiment = self.registry.get(project)
                summary = experiment.summarize()
            except Exception as exc:
                self.errors.append(f"could not summarize the experiment of project {project!r}: {exc}")
                self.summary_missing = f"the experiment of project {project!r} could not be summarized"
                continue
            if summary.experiment_id and summary.experiment_id in summarized:
                # --braintrust-experiment-id naming an experiment of a marker's project: the default
                # project's cases and that project's logged into one experiment, summarized once.
                continue
            summarized.add(summary.experiment_id)
            self.summaries.append(summary)
            if summary.comparison_status == "skipped":  # (the request failed: its scores are unknown, not absent)
                self.errors.append(f"could not summarize the experiment of project {project!r}: {summary.skip_description()}")
                self.summary_missing = f"the experiment of project {project!r} could not be summarized"
                continue  # (appended above: it still says where the experiment is)
            # (-m braintrust deselects only tests that are not cases)
            deselected_cases = self.deselected_eval_cases()
            cases_left_out = None if deselected_cases is None else deselected_cases > 0
            selection = partial_selection(self.config, lf_reran=self.reruns_failures, sw_skipped=self.resumes_stepwise,
                                          cases_deselected=cases_left_out)
            if selection and summary.comparison_experiment_name and summary.case_coverage is None and not summary.local_hint:
                # (The local store compares the inputs both ran; Braintrust compares whole experiments.)
                self.notes.append(
                    f"note: this run selected part of the suite ({selection}); Braintrust compares it with the whole of "
                    f"{summary.comparison_experiment_name}, so its diffs (and --braintrust-max-regression) may count cases this "
                    "run did not run; to compare like with like, pass --braintrust-base-experiment with a run of the same selection"
                )
            # (Every project's experiment is made with the name and base given, so each is checked.)
            project = summary.project_name or project
            named = self.settings.experiment
            if named and not self.settings.update and not self.settings.experiment_id \
                    and summary.experiment_name not in ("", named):
                self.notes.append(f"note: project {project!r} already has an experiment named {named!r}, so this run is "
                                  f"{summary.experiment_name!r}; --braintrust-update adds this run's cases to {named!r} instead")
            wanted = self.settings.base_experiment
            if wanted and summary.comparison_experiment_name != wanted:
                instead = summary.comparison_experiment_name
                self.errors.append(
                    f"--braintrust-base-experiment {wanted!r}: no such experiment in project {project!r}; "
                    + (f"compared with {instead!r} (the default baseline) instead" if instead else "nothing to compare with")
                )

    def projects(self) -> list[str]:
        """Projects that had cases, in the order their first case finished (this process first)."""
        seen = list(self.session().outcomes)
        for output in self.worker_outputs:
            seen += [project for project in output.get("outcomes", {}) if project not in seen]
        if self.unreported_cases:  # workers that did not report may have logged into these
            seen += [project for project in [*self.registry.experiments, *self.registry.attach] if project not in seen]
        return seen

    def outcome_counts(self) -> Counter:
        """Cases per outcome, over this process and every worker."""
        counts: Counter = Counter()
        for per_project in [self.session().outcomes, *(o.get("outcomes", {}) for o in self.worker_outputs)]:
            for outcomes in per_project.values():
                counts.update(outcomes)
        return counts

    def scorer_failures(self) -> dict[str, dict[str, Any]]:
        """Scorers that raised, over this process and every worker (their scores are missing
        from those cases; each score span holds the traceback)."""
        from pytest_braintrust.session import merge_scorer_failures

        return merge_scorer_failures(self.session().scorer_failures, *(o.get("scorer_failures") for o in self.worker_outputs))

    def delivery_counts(self) -> dict[str, Any]:
        """Rows produced/accepted/spilled/dropped, attachments stored/spilled/dropped, spill
        files and why they were not delivered (each error once), over this process and every worker."""
        totals = {"produced": 0, "accepted": 0, "spilled": 0, "dropped": {}, "spill_files": [], "errors": [],
                  "attachments_stored": 0, "attachments_spilled": 0, "attachments_dropped": {}}
        results = [self.flush_result.__dict__ if self.flush_result is not None else None]
        results += [o.get("flush") for o in self.worker_outputs]
        for result in results:
            if not result:
                continue
            for key in ("produced", "accepted", "spilled", "attachments_stored", "attachments_spilled"):
                totals[key] += result.get(key, 0)
            for field in ("dropped", "attachments_dropped"):
                for reason, count in (result.get(field) or {}).items():
                    totals[field][reason] = totals[field].get(reason, 0) + count
            totals["spill_files"] += result.get("spill_files") or []
            totals["errors"] += [error for error in result.get("errors") or [] if error not in totals["errors"]]
        return totals

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
        if self.is_worker:
            return
        from pytest_braintrust.report import terminal_summary

        terminal_summary(self, terminalreporter, exitstatus)

    def _summary_pytest_skips(self, exitstatus: int) -> None:
        """pytest calls ``pytest_terminal_summary`` for its own statuses only: after an internal
        error (3, a plugin's bug) or ``pytest.exit(returncode=N)`` the run's counts, rows and
        spill files would go untold, so the section is printed here instead."""
        terminalreporter = self.config.pluginmanager.getplugin("terminalreporter")
        if self.is_worker:
            return
        if terminalreporter is None:  # (-p no:terminal: a failed gate, where the results went, still told)
            from pytest_braintrust.report import summary_without_terminal

            summary_without_terminal(self, exitstatus)
            return
        if exitstatus in _TERMINAL_SUMMARY_STATUSES:
            return
        from pytest_braintrust.report import terminal_summary

        try:
            terminal_summary(self, terminalreporter, exitstatus)
        except Exception as exc:  # (the run's status already says it broke; never hide that)
            terminalreporter.write_line(f"braintrust: could not print the summary: {exc}", red=True)


#: The exit statuses after which pytest calls ``pytest_terminal_summary`` (``TerminalReporter.pytest_sessionfinish``).
_TERMINAL_SUMMARY_STATUSES = (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.INTERRUPTED,
                              pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.NO_TESTS_COLLECTED,
                              *(code for code in pytest.ExitCode if code.name == "MAX_WARNINGS_ERROR"))  # (pytest 9.2+)


def partial_selection(config: pytest.Config, lf_reran: bool, sw_skipped: bool | None,
                      cases_deselected: bool | None) -> str | None:
    """How this run selected part of the suite's eval cases (``-k``, ``-m``, ``--lf``, ...), if
    it did. ``--lf`` counts only when it reran just the last failures (``lf_reran``), ``--sw``
    unless it is known to have skipped nothing (``sw_skipped`` False): with no failure on record
    both run every selected test. ``-k``, ``-m`` and ``--deselect`` count unless they are known
    to have left out no eval case (``cases_deselected`` False: ``-m braintrust``)."""
    parts = []
    by_keyword = cases_deselected is not False
    if by_keyword and config.getoption("keyword", ""):
        parts.append(f"-k {config.getoption('keyword')!r}")
    if by_keyword and config.getoption("markexpr", ""):
        parts.append(f"-m {config.getoption('markexpr')!r}")
    for option, flag, applies in (("lf", "--lf", lf_reran), ("stepwise", "--sw", sw_skipped is not False),
                                  ("deselect", "--deselect", by_keyword)):
        if applies and config.getoption(option, None):
            parts.append(flag)
    if any("::" in str(arg) for arg in config.args):
        parts.append("test ids")
    return ", ".join(parts) or None


def _stepwise_skipped(config: pytest.Config) -> bool | None:
    """Whether ``--sw`` resumed past tests that passed before (None: not known here, as on an
    xdist controller, which collects nothing). pytest's stepwise plugin says so in its status,
    "skipping N already passed items" (a string before pytest 8, a list since); it resumes at
    the first test too ("skipping 0 ..."), which leaves nothing out."""
    status = getattr(config.pluginmanager.getplugin("stepwiseplugin"), "report_status", None)
    if not status:
        return None
    for line in [status] if isinstance(status, str) else status:
        match = re.search(r"skipping (\d+) already passed", line)
        if match:
            return int(match.group(1)) > 0
        if "already passed" in line:  # (a wording not known here: take it as a resume)
            return True
    return False


def _status_name(status: Any) -> str:
    try:
        return pytest.ExitCode(status).name.lower().replace("_", " ")
    except ValueError:
        return "set by the suite"


__all__ = ["BraintrustRun", "configure_session"]
