"""Experiment and dataset summaries, and their text exactly as the public SDK prints it.

The numbers come from the server's ``/summarize`` answer, or (local store) from
``braintrust.local_compare``; this module only holds and formats them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from braintrust.serializable import SerializableDataClass

RULE = "=========================SUMMARY========================="


def _known_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """Keep the keys the dataclass knows (a newer server may send more; the public SDK crashes)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


@dataclass
class ScoreSummary(SerializableDataClass):
    name: str
    _longest_score_name: int = 0  # (second, as in the public SDK's field order)
    score: float | None = None
    improvements: int | None = None
    regressions: int | None = None
    diff: float | None = None
    #: Local store only: the names of the cases (traces) whose score went down against the base.
    #: Not part of the public SDK's summary: neither printed by ``str`` nor in ``as_dict``.
    regressed_cases: list[str] | None = field(default=None, compare=False, repr=False)
    #: Local store only: the names of the cases whose score went up (same rules).
    improved_cases: list[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "ScoreSummary":
        return cls(**_known_fields(cls, data))

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "_longest_score_name": self._longest_score_name,
            "score": self.score,
            "improvements": self.improvements,
            "regressions": self.regressions,
            "diff": self.diff,
        }

    def __str__(self) -> str:
        qname = ("'" + self.name + "'").ljust(self._longest_score_name + 2)
        value = f"{(self.score or 0) * 100:05.2f}%"
        if self.diff is None:
            return f"{value} {qname} score"
        return f"{value} ({_signed_percent(self.diff)}) {qname} score\t({self.improvements} improvements, {self.regressions} regressions)"


@dataclass
class MetricSummary(SerializableDataClass):
    name: str
    _longest_metric_name: int = 0  # (second, as in the public SDK's field order)
    metric: float | int = 0
    unit: str = ""
    improvements: int | None = None
    regressions: int | None = None
    diff: float | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "MetricSummary":
        return cls(**_known_fields(cls, data))

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "_longest_metric_name": self._longest_metric_name,
            "metric": self.metric,
            "unit": self.unit,
            "improvements": self.improvements,
            "regressions": self.regressions,
            "diff": self.diff,
        }

    def __str__(self) -> str:
        number = f"{self.metric:d}" if isinstance(self.metric, int) and not isinstance(self.metric, bool) else f"{self.metric:.2f}"
        if self.diff is None:
            return f"{number}{self.unit} {self.name}"
        qname = ("'" + self.name + "'").ljust(self._longest_metric_name + 2)
        return f"{number}{self.unit} ({_signed_percent(self.diff)}) {qname}\t({self.improvements} improvements, {self.regressions} regressions)"


def _signed_percent(diff: float) -> str:
    if diff == 0:
        return "-"
    sign = "+" if diff > 0 else "-"
    return f"{sign}{abs(diff) * 100:05.2f}%"


@dataclass(frozen=True)
class CaseCoverage:
    """Local store only: the experiment and its base ran different inputs (a ``-k`` or ``--lf``
    run, a grown dataset), so diffs, improvements and regressions are over the inputs both ran
    (``common``) rather than over two different sets of cases."""

    common: int
    current: int
    base: int

    def describe(self, base_name: str | None) -> str:
        base = base_name or "the base experiment"
        if not self.common:
            return f"no input in both: nothing to compare (this run has {self.current}, {base} has {self.base})"
        inputs = "the input" if self.common == 1 else f"the {self.common} inputs"
        return f"diffs over {inputs} in both (this run has {self.current}, {base} has {self.base})"

    def as_dict(self) -> dict[str, int]:
        return {"common": self.common, "this_run": self.current, "base": self.base}


@dataclass
class SummarySuccess(SerializableDataClass):
    """``summary.comparison`` when the scores and metrics were summarized."""

    scores: dict[str, ScoreSummary]
    metrics: dict[str, MetricSummary]
    status: str = field(default="success", init=False)


@dataclass(frozen=True)
class SummarySkipped(SerializableDataClass):
    """``summary.comparison`` when summarizing was disabled or the server could not answer."""

    reason: str
    status: str = field(default="skipped", init=False)


@dataclass(init=False)
class ExperimentSummary(SerializableDataClass):
    project_name: str
    project_id: str | None
    experiment_id: str | None
    experiment_name: str
    project_url: str | None
    experiment_url: str | None
    comparison_experiment_name: str | None
    scores: dict[str, ScoreSummary] = field(default_factory=dict)
    metrics: dict[str, MetricSummary] = field(default_factory=dict)
    comparison_status: str = "success"
    comparison_reason: str | None = None
    #: Offline runs: where the rows are and the command that shows them (replaces the URL line).
    local_hint: str | None = None
    #: Offline runs whose base ran other inputs: what the diffs are over (None: the same inputs).
    case_coverage: CaseCoverage | None = None
    #: Why the comparison could not be retrieved (the request's error), beside 0.48.1's fixed reason.
    comparison_error: str | None = field(default=None, compare=False)

    def __init__(self, project_name: str, project_id: str | None, experiment_id: str | None, experiment_name: str,
                 project_url: str | None, experiment_url: str | None, comparison_experiment_name: str | None,
                 comparison: "SummarySuccess | SummarySkipped | None" = None, *, scores: dict[str, ScoreSummary] | None = None,
                 metrics: dict[str, MetricSummary] | None = None, comparison_status: str = "success",
                 comparison_reason: str | None = None, local_hint: str | None = None,
                 case_coverage: CaseCoverage | None = None, comparison_error: str | None = None) -> None:
        """0.48.1's arguments (its eighth, ``comparison``: a ``SummarySuccess`` with the scores and
        metrics, or a ``SummarySkipped`` with the reason), or the scores and metrics by name."""
        self.project_name, self.project_id, self.experiment_id = project_name, project_id, experiment_id
        self.experiment_name, self.project_url, self.experiment_url = experiment_name, project_url, experiment_url
        self.comparison_experiment_name = comparison_experiment_name
        if isinstance(comparison, SummarySkipped):
            comparison_status, comparison_reason = "skipped", comparison.reason
        elif isinstance(comparison, SummarySuccess):
            scores = comparison.scores if scores is None else scores
            metrics = comparison.metrics if metrics is None else metrics
        self.scores, self.metrics = dict(scores or {}), dict(metrics or {})
        self.comparison_status, self.comparison_reason = comparison_status, comparison_reason
        self.local_hint, self.case_coverage = local_hint, case_coverage
        self.comparison_error = comparison_error
        self.__post_init__()

    def __post_init__(self) -> None:
        # (``from_dict`` leaves the entries as dicts, as the public SDK's does: they keep theirs.)
        longest_score = max((len(n) for n in self.scores), default=0)
        for score in self.scores.values():
            if isinstance(score, ScoreSummary):
                score._longest_score_name = longest_score
        longest_metric = max((len(n) for n in self.metrics), default=0)
        for metric in self.metrics.values():
            if isinstance(metric, MetricSummary):
                metric._longest_metric_name = longest_metric

    @classmethod
    def from_api(cls, answer: dict[str, Any], *, project_id: str | None, experiment_id: str | None, project_url: str | None, experiment_url: str | None) -> "ExperimentSummary":
        """From a ``/v1/experiment/{id}/summarize`` answer (URLs are built by the caller)."""
        return cls(
            project_name=answer.get("project_name") or "",
            project_id=project_id,
            experiment_id=experiment_id,
            experiment_name=answer.get("experiment_name") or "",
            project_url=project_url,
            experiment_url=experiment_url,
            comparison_experiment_name=answer.get("comparison_experiment_name"),
            scores={k: ScoreSummary.from_api(v) for k, v in (answer.get("scores") or {}).items()},
            metrics={k: MetricSummary.from_api(v) for k, v in (answer.get("metrics") or {}).items()},
        )

    def __repr__(self) -> str:
        """0.48.1's: its seven named fields, then ``comparison`` (ours only are left out)."""
        names = ("project_name", "project_id", "experiment_id", "experiment_name", "project_url", "experiment_url",
                 "comparison_experiment_name")
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"ExperimentSummary({fields}, comparison={self.comparison!r})"

    def skip_description(self) -> str:
        """Why there is no comparison, with the request's error when there was one."""
        reason = self.comparison_reason or ""
        return f"{reason}: {self.comparison_error}" if self.comparison_error else reason

    @property
    def comparison(self) -> SummarySuccess | SummarySkipped:
        """The scores and metrics against the base (``SummarySuccess``), or why there are none."""
        if self.comparison_status == "skipped":
            return SummarySkipped(reason=self.comparison_reason or "")
        return SummarySuccess(scores=self.scores, metrics=self.metrics)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ExperimentSummary":
        """From ``as_dict()`` (ours or the public SDK's): the scores and metrics of its
        ``comparison`` (or top level) stay dicts; ``from_dict_deep`` makes them summaries."""
        return cls._from(d, deep=False)

    @classmethod
    def from_dict_deep(cls, d: dict[str, Any]) -> "ExperimentSummary":
        return cls._from(d, deep=True)

    @classmethod
    def _from(cls, d: dict[str, Any], deep: bool) -> "ExperimentSummary":
        comparison = d.get("comparison") if isinstance(d.get("comparison"), dict) else {}
        scores = comparison.get("scores", d.get("scores")) or {}
        metrics = comparison.get("metrics", d.get("metrics")) or {}
        if deep:
            scores = {k: ScoreSummary.from_dict(v) if isinstance(v, dict) else v for k, v in scores.items()}
            metrics = {k: MetricSummary.from_dict(v) if isinstance(v, dict) else v for k, v in metrics.items()}
        names = ("project_name", "project_id", "experiment_id", "experiment_name", "project_url", "experiment_url",
                 "comparison_experiment_name")
        return cls(**{k: d.get(k) for k in names}, scores=scores, metrics=metrics,
                   comparison_status=comparison.get("status", "success"), comparison_reason=comparison.get("reason"))

    def as_dict(self) -> dict[str, Any]:
        scores = {k: v.as_dict() if isinstance(v, ScoreSummary) else v for k, v in self.scores.items()}
        metrics = {k: v.as_dict() if isinstance(v, MetricSummary) else v for k, v in self.metrics.items()}
        if self.comparison_status == "skipped":  # (as 0.48.1's SummarySkipped: the reason alone)
            comparison: dict[str, Any] = {"reason": self.comparison_reason or "", "status": "skipped"}
        else:
            comparison = {"scores": scores, "metrics": metrics, "status": self.comparison_status}
            if self.comparison_reason:
                comparison["reason"] = self.comparison_reason
        return {
            "project_name": self.project_name,
            "project_id": self.project_id,
            "experiment_id": self.experiment_id,
            "experiment_name": self.experiment_name,
            "project_url": self.project_url,
            "experiment_url": self.experiment_url,
            "comparison_experiment_name": self.comparison_experiment_name,
            "comparison": comparison,
            "scores": scores,
            "metrics": metrics,
        }

    def __str__(self) -> str:
        text = f"\n{RULE}\n"
        if self.comparison_experiment_name:
            text += f"{self.experiment_name} compared to {self.comparison_experiment_name}:\n"
            if self.case_coverage is not None:
                text += self.case_coverage.describe(self.comparison_experiment_name) + "\n"
        if self.comparison_status == "skipped":
            text += f"Summary skipped: {self.comparison_reason}\n\n"
        else:
            if self.scores:
                text += "\n".join(str(s) for s in self.scores.values()) + "\n\n"
            if self.metrics:
                text += "\n".join(str(m) for m in self.metrics.values()) + "\n\n"
        return text + (self.results_line() or "")

    def results_line(self) -> str | None:
        """Where the experiment's results are: the link (or, offline, the local store path and
        the command that shows them), as the summary's last line; None when there is neither."""
        if self.local_hint:
            return self.local_hint
        if self.experiment_url is not None:
            return f"See results for {self.experiment_name} at {self.experiment_url}"
        return None


#: How many regressed (or improved) cases ``regression_lines`` (``improvement_lines``) names per score.
NAMED_REGRESSIONS = 10


def regression_lines(summary: ExperimentSummary) -> list[str]:
    """One line per score that regressed in named cases (local store summaries), e.g.
    ``'exact' regressed in 2 cases: test_a, test_b[x]``."""
    return _named_lines(summary, "regressed_cases", "regressed")


def improvement_lines(summary: ExperimentSummary) -> list[str]:
    """The same for the cases whose score went up: ``'exact' improved in 1 case: test_c``."""
    return _named_lines(summary, "improved_cases", "improved")


def _named_lines(summary: ExperimentSummary, attribute: str, verb: str) -> list[str]:
    lines = []
    for name, score in summary.scores.items():
        cases = getattr(score, attribute)
        if not cases:
            continue
        shown = ", ".join(cases[:NAMED_REGRESSIONS])
        more = f" and {len(cases) - NAMED_REGRESSIONS} more" if len(cases) > NAMED_REGRESSIONS else ""
        lines.append(f"'{name}' {verb} in {len(cases)} case{'s' if len(cases) != 1 else ''}: {shown}{more}")
    return lines


def report_entry(summary: ExperimentSummary) -> dict[str, Any]:
    """An experiment's entry in the JSON reports (``pytest --braintrust-json``, ``braintrust gate --json``)."""
    return {
        "project": summary.project_name,
        "experiment": summary.experiment_name,
        "experiment_id": summary.experiment_id,
        "link": summary.experiment_url,
        "comparison_experiment": summary.comparison_experiment_name,
        **({"compared_inputs": summary.case_coverage.as_dict()} if summary.case_coverage is not None else {}),
        "scores": {
            name: {
                "score": s.score, "diff": s.diff, "improvements": s.improvements, "regressions": s.regressions,
                **({"regressed_cases": s.regressed_cases} if s.regressed_cases is not None else {}),
                **({"improved_cases": s.improved_cases} if s.improved_cases is not None else {}),
            }
            for name, s in summary.scores.items()
        },
        "metrics": {
            name: {"value": m.metric, "unit": m.unit, "diff": m.diff, "improvements": m.improvements, "regressions": m.regressions}
            for name, m in summary.metrics.items()
        },
    }


@dataclass
class DataSummary(SerializableDataClass):
    new_records: int
    total_records: int

    def __str__(self) -> str:
        return f"Total records: {self.total_records} ({self.new_records} new or updated records)"


@dataclass
class DatasetSummary(SerializableDataClass):
    project_name: str
    dataset_name: str
    project_url: str | None
    dataset_url: str | None
    data_summary: DataSummary | None
    local_hint: str | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "project_name": self.project_name,
            "dataset_name": self.dataset_name,
            "project_url": self.project_url,
            "dataset_url": self.dataset_url,
            "data_summary": dataclasses.asdict(self.data_summary) if self.data_summary else None,
        }

    def __str__(self) -> str:
        text = f"\n{RULE}\n"
        if self.local_hint:
            return text + (f"{self.data_summary}\n" if self.data_summary is not None else "") + self.local_hint
        return (
            text
            + f"{self.data_summary}\n"  # ("None" without one, as 0.48.1 prints it)
            + f"See results for all datasets in {self.project_name} at {self.project_url}\n"
            + f"See results for {self.dataset_name} at {self.dataset_url}"
        )
