"""The ``trace`` argument scorers may take: the trial's spans, read back from its experiment."""

from __future__ import annotations

from typing import Any, Iterable


class EvalTrace:
    """The ``trace`` argument of scorers: the spans of the trial being scored."""

    def __init__(self, root_span: Any, experiment: Any):
        self._root = root_span
        self._experiment = experiment

    @property
    def root_span_id(self) -> str:
        return getattr(self._root, "root_span_id", "")

    def get_configuration(self) -> dict[str, Any]:
        experiment_id = self._experiment.id if self._experiment is not None else None
        return {"object_type": "experiment", "object_id": experiment_id, "root_span_id": self.root_span_id}

    def get_spans(self, span_type: str | Iterable[str] | None = None) -> list[dict[str, Any]]:
        """The trial's spans as stored so far (flushes first; needs an experiment)."""
        if self._experiment is None or not self.root_span_id:
            return []
        from braintrust.delivery.backend import EXPERIMENT
        from braintrust.objects.reads import reads

        self._experiment.flush()
        wanted = {span_type} if isinstance(span_type, str) else (set(span_type) if span_type else None)
        spans = []
        for row in reads().fetch(EXPERIMENT, self._experiment.id):
            if row.get("root_span_id") != self.root_span_id:
                continue
            kind = (row.get("span_attributes") or {}).get("type")
            if wanted is None or kind in wanted:
                spans.append(row)
        return spans

    def __repr__(self) -> str:
        return f"EvalTrace(root_span_id={self.root_span_id!r})"
