"""Experiments with cases of given inputs, written straight into a real store (for tests of what
reads across experiments: the default baseline, pruning)."""

from __future__ import annotations

from braintrust.store.sqlite_store import LocalStore


class Runs:
    """Experiments of one project, each given the inputs of its cases."""

    def __init__(self, store: LocalStore, project: str = "p"):
        self.store = store
        self.project = store.get_or_create_project(project)["id"]

    def run(self, name: str, inputs: list) -> str:
        experiment = self.store.create_experiment(self.project, name)
        rows = []
        for n, value in enumerate(inputs):
            trace = f"{name}-{n}"
            rows.append({"id": f"{trace}-root", "span_id": trace, "root_span_id": trace, "span_parents": None,
                         "experiment_id": experiment["id"], "input": value, "span_attributes": {"name": f"case-{n}"},
                         "scores": {"pass": 1}})
            rows.append({"id": f"{trace}-task", "span_id": f"{trace}-t", "root_span_id": trace, "span_parents": [trace],
                         "experiment_id": experiment["id"], "input": "the task's own input"})
        if rows:
            self.store.write_rows(rows)
        return experiment["id"]
