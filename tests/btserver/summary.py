"""Stand-in experiment and dataset summaries (braintrust-api.md §9, §11).

Not the service's algorithm, but a documented local equivalent with the exact response shape:

* rows are grouped into traces by ``root_span_id`` (the row id when absent);
* a trace's score ``s`` is the mean of the non-null values of ``scores[s]`` on its root row
  (``span_parents`` null, empty or absent) and on its score spans (``span_attributes.type ==
  "score"``); booleans count as 1/0; the experiment's score is the mean over traces that have it;
* ``duration`` = mean over traces of the root's ``metrics.end - metrics.start``; every other numeric
  metric (not ``start``/``end``) is summed over the spans of a trace, then averaged over traces;
* with a comparison experiment, traces are matched on the JSON of their root ``input``: a higher
  score / lower metric on a matched input is an improvement, the opposite a regression, and
  ``diff`` = mean - comparison mean (only for names the comparison also has).

Score entries carry exactly ``name, score, improvements, regressions[, diff]`` and metric entries
``name, metric, unit, improvements, regressions[, diff]`` (an extra key crashes the public SDK).
"""

from __future__ import annotations

import json
from urllib.parse import quote


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and value == value  # bool is an int; NaN excluded


def _mean(values: list) -> float:
    return sum(values) / len(values)


def _unit(metric: str) -> str:
    if metric.endswith("tokens"):
        return "tok"
    if "cost" in metric:
        return "$"
    if metric in ("duration", "time_to_first_token", "llm_duration"):
        return "s"
    return ""


def _traces(rows: list[dict]) -> dict:
    """root_span_id → {"input": key|None, "scores": {name: [v]}, "metrics": {name: [v]}}."""
    traces: dict = {}
    for row in rows:
        trace = traces.setdefault(
            row.get("root_span_id") or row.get("id"), {"input": None, "scores": {}, "metrics": {}}
        )
        parents = row.get("span_parents")
        is_root = not parents
        attributes = row.get("span_attributes") if isinstance(row.get("span_attributes"), dict) else {}
        scores = row.get("scores") if isinstance(row.get("scores"), dict) else {}
        if is_root or attributes.get("type") == "score":
            for name, value in scores.items():
                if _is_number(value):
                    trace["scores"].setdefault(name, []).append(float(value))
        metrics = row.get("metrics") if isinstance(row.get("metrics"), dict) else {}
        if is_root:
            if "input" in row:
                trace["input"] = json.dumps(row["input"], sort_keys=True, default=str)
            if _is_number(metrics.get("start")) and _is_number(metrics.get("end")):
                trace["metrics"].setdefault("duration", []).append(metrics["end"] - metrics["start"])
        for name, value in metrics.items():
            if name not in ("start", "end", "duration") and _is_number(value):
                trace["metrics"].setdefault(name, []).append(float(value))
    return traces


def _per_trace(traces: dict, kind: str) -> dict:
    """name → list of (input key, per-trace value); scores average, metrics sum (duration: root)."""
    out: dict = {}
    for trace in traces.values():
        for name, values in trace[kind].items():
            value = _mean(values) if kind == "scores" else sum(values)
            out.setdefault(name, []).append((trace["input"], value))
    return out


def _by_input(pairs: list) -> dict:
    grouped: dict = {}
    for key, value in pairs:
        if key is not None:
            grouped.setdefault(key, []).append(value)
    return {key: _mean(values) for key, values in grouped.items()}


def _compare(current: list, previous: list | None, higher_is_better: bool) -> tuple[int, int]:
    if previous is None:
        return 0, 0
    before = _by_input(previous)
    improvements = regressions = 0
    for key, value in _by_input(current).items():
        if key in before and value != before[key]:
            better = value > before[key] if higher_is_better else value < before[key]
            if better:
                improvements += 1
            else:
                regressions += 1
    return improvements, regressions


def _entries(kind: str, current: dict, previous: dict | None, names: list) -> dict:
    out = {}
    for name in names:
        mine = current[name]
        theirs = previous.get(name) if previous is not None else None
        improvements, regressions = _compare(mine, theirs, higher_is_better=(kind == "scores"))
        value = _mean([v for _, v in mine])
        if kind == "scores":
            entry = {"name": name, "score": value}
        else:
            entry = {"name": name, "metric": value, "unit": _unit(name)}
        entry["improvements"] = improvements
        entry["regressions"] = regressions
        if theirs:
            entry["diff"] = value - _mean([v for _, v in theirs])
        out[name] = entry
    return out


def project_url(base_url: str, org_name: str, project_name: str) -> str:
    return f"{base_url}/app/{quote(org_name)}/p/{quote(project_name)}"


def experiment_summary(
    base_url: str,
    org_name: str,
    project: dict,
    experiment: dict,
    rows: list[dict],
    comparison: dict | None,
    comparison_rows: list[dict] | None,
    summarize_scores: bool = True,
) -> dict:
    """The ``GET /v1/experiment/{id}/summarize`` answer."""
    purl = project_url(base_url, org_name, project["name"])
    answer = {
        "project_name": project["name"],
        "experiment_name": experiment["name"],
        "project_url": purl,
        "experiment_url": f"{purl}/experiments/{quote(experiment['name'])}",
        "comparison_experiment_name": comparison["name"] if comparison else None,
        "scores": {},
        "metrics": {},
    }
    if not summarize_scores:
        return answer
    traces = _traces(rows)
    scores = _per_trace(traces, "scores")
    metrics = _per_trace(traces, "metrics")
    prev_scores = prev_metrics = None
    if comparison is not None:
        prev_traces = _traces(comparison_rows or [])
        prev_scores = _per_trace(prev_traces, "scores")
        prev_metrics = _per_trace(prev_traces, "metrics")
    answer["scores"] = _entries("scores", scores, prev_scores, sorted(scores))
    metric_names = (["duration"] if "duration" in metrics else []) + sorted(m for m in metrics if m != "duration")
    answer["metrics"] = _entries("metrics", metrics, prev_metrics, metric_names)
    return answer


def dataset_summary(
    base_url: str, org_name: str, project: dict, dataset: dict, total_records: int, summarize_data: bool = True
) -> dict:
    """The ``GET /v1/dataset/{id}/summarize`` answer."""
    purl = project_url(base_url, org_name, project["name"])
    return {
        "project_name": project["name"],
        "dataset_name": dataset["name"],
        "project_url": purl,
        "dataset_url": f"{purl}/datasets/{quote(dataset['name'])}",
        "data_summary": {"total_records": total_records} if summarize_data else None,
    }
