"""pytest-xdist: one experiment per project for the whole run, one summary.

The controller creates (registers) the default project's experiment before workers start and
hands its identity to them in ``workerinput``; experiments of other projects (marker
``project=``) are joined by a shared name. Each worker logs and flushes in its own session
finish and returns its cases and delivery counts in ``workeroutput``; the controller merges
them and prints the summary. Registered only when xdist is installed.
"""

from __future__ import annotations

from typing import Any

import pytest

WORKER_KEY = "braintrust"


class XdistBridge:
    def __init__(self, run: Any):
        self.run = run
        self._identities: dict[str, Any] | None = None
        self._pins: str | None = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Controller: register the experiment once, then tell each worker to join it."""
        self.run.is_controller = True
        if self._identities is None:
            registry = self.run.registry
            registry.get(None)
            self._identities = registry.identities()
        node.workerinput["braintrust_experiments"] = self._identities
        node.workerinput["braintrust_pins_dir"] = self._pins_dir()

    def _pins_dir(self) -> str:
        if self._pins is None:
            import tempfile

            self._pins = tempfile.mkdtemp(prefix="braintrust-pins-")
        return self._pins

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", {}).get(WORKER_KEY)
        if not output:
            return
        self.run.worker_outputs.append(output)
        self.run.errors.extend(output.get("errors") or [])
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
            "cases": self.run.session().cases,
            "flush": dict(result.__dict__) if result is not None else None,
            "experiments": self.run.registry.identities(),
            "errors": list(self.run.errors),
        }
