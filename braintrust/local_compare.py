"""Summaries computed locally (the local store has no server to compare experiments for us).

The rules, mirroring what the Braintrust server reports:

* A *trace* is every row sharing a ``root_span_id``; its input is the root row's input.
* A trace's score ``s`` is the mean of every non-null ``scores[s]`` logged anywhere in the trace
  (on the root, or on the score spans ``Eval`` writes). An experiment's score is the mean over
  the traces that have it.
* Metrics, where lower is better: ``duration`` (root ``metrics.end - metrics.start``; none for
  a trace that ended before it started, the clock set back meanwhile), every
  token count (``*tokens``) and ``estimated_cost``/``cost`` summed over the trace's rows; only
  metrics that were logged appear. An experiment's metric is the mean over traces.
* Against a base experiment, traces are grouped by their canonical input JSON (keys sorted;
  ``1.0`` is ``1``, as JSON has one kind of number); a trace that logged no input is grouped
  by its pytest test instead (``metadata.pytest.nodeid``; the trials of one test by
  ``metadata.pytest.case``), else by its root span's name: pytest cases that declare no input
  are different tests, not one case. A trace whose root row was not written has no known
  input: it counts in its experiment's means, never in a comparison. For each group present in
  both, the group means are compared: higher score = improvement, lower = regression (the
  reverse for metrics; means within 1e-12 are the same). ``diff`` = experiment mean − base
  mean, for names present in both (0 for means within 1e-12). A score's ``regressed_cases``
  (``improved_cases``) names every group that regressed (improved), one name each: its root
  span's name when that is the group's own in the whole experiment (the group has no other
  name, the name no other group), else its input (cut to 40 characters), so a summary can say
  which cases changed.
* When the two ran different inputs (a ``-k`` or ``--lf`` rerun, a dataset that grew), both
  sides are first cut down to the inputs they share, so ``diff`` compares like with like; the
  result's ``coverage`` says how many inputs that is. (The server compares whole experiments.)
  An input that pytest cases of several tests ran (two tests over one dataset) is cut down,
  on both sides, to the traces of the tests both ran it in, when there are such tests (else,
  a renamed test, all of its traces stay): a ``-k`` run of one of those tests is compared with
  that test's traces, not with the group mean of every test.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Iterable, NamedTuple

from braintrust.summary import CaseCoverage, MetricSummary, ScoreSummary

try:
    import orjson as _orjson
except ImportError:  # (PyPy: orjson is a CPython-only dependency)
    _orjson = None

TOKEN_SUFFIX = "tokens"
COST_METRICS = ("estimated_cost", "cost")


def _json(value: Any) -> str:
    if _orjson is not None:  # (several times faster; the same text but for floats like 1e-07, written 1e-7)
        try:
            return _orjson.dumps(value, option=_orjson.OPT_SORT_KEYS).decode("utf-8")
        except TypeError:  # (not JSON's types, keys that are not strings, integers past 64 bits)
            pass
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _integral_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(item) for item in value]
    return value


def _canonical(value: Any) -> str:
    """The input as JSON with sorted keys, and ``1.0`` written ``1``: JSON has one kind of
    number, so the server (and a dataset read back) does not tell them apart."""
    text = _json(value)
    if ".0" in text or "e+" in text:  # (an integral float's repr has one of them)
        return _json(_integral_floats_as_ints(value))
    return text


_NO_INPUT = "\x00no input: "
#: Longer inputs are keyed by a prefix (to name the case) and a digest: one key per trace of
#: both experiments is alive at once, and inputs can be documents.
_LONGEST_KEY = 200
_LABEL = 40
_DIGEST = "\x00digest "


def _input_key(value: Any, name: str | None) -> str:
    if value is None and name:
        return _NO_INPUT + name  # (never canonical JSON, so never an input's key)
    text = _canonical(value)
    if len(text) <= _LONGEST_KEY:
        return text
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return text[:_LABEL] + _DIGEST + digest


def _pytest_test(row: dict[str, Any]) -> tuple[str | None, bool]:
    """A pytest case's node id (a trial's without its trial id) and whether it is a trial."""
    pytest_metadata = (row.get("metadata") or {}).get("pytest")
    if not isinstance(pytest_metadata, dict):
        return None, False
    case = pytest_metadata.get("case")
    if isinstance(case, str):
        return case, True
    nodeid = pytest_metadata.get("nodeid")
    return (nodeid, False) if isinstance(nodeid, str) else (None, False)


def _root_fields(row: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """A root row's name in a summary, what it is grouped by when it has no input, and its
    pytest test function (None for rows that are not pytest cases):

    * name: the span's (a pytest case's test name), a trial's without its trial id;
    * identity: its pytest test (tests of one name in two files are two; the trials of one
      test are one), else the span's name;
    * test function: a pytest case's node id without parameters or trial id."""
    test, trial = _pytest_test(row)
    span_name = (row.get("span_attributes") or {}).get("name")
    if test is None:
        return span_name, span_name, None
    head, sep, last = test.rpartition("::")
    return (last if trial and test else span_name), (test or span_name), head + sep + last.split("[", 1)[0]


def _mean(values: list[float]) -> float:
    # (fsum: the same values in another order, trials finishing in another order, give the
    # same mean, not one a rounding error away that would count as a change)
    return math.fsum(values) / len(values)


class _Trace:
    """Per-trace aggregates, kept small (one per trace of both experiments is alive at once):
    score sums, and counts only for scores logged more than once in the trace."""

    __slots__ = ("input_key", "test", "name", "scores", "counts", "duration", "metrics")

    def __init__(self) -> None:
        self.input_key: str | None = None
        self.test: str | None = None  # a pytest case's test function
        self.name: str | None = None  # the root span's name (a pytest case: the test's name; a trial: the case's)
        self.scores: dict[str, float] = {}
        self.counts: dict[str, int] | None = None
        self.duration: float | None = None
        self.metrics: dict[str, float] | None = None  # tokens and cost, when logged

    def add_metric(self, name: str, value: float) -> None:
        if self.metrics is None:
            self.metrics = {}
        self.metrics[name] = self.metrics.get(name, 0.0) + value

    def metric(self, name: str) -> float | None:
        if name == "duration":
            return self.duration
        return self.metrics.get(name) if self.metrics else None

    def add_score(self, name: str, value: float) -> None:
        if name in self.scores:
            self.scores[name] += value
            if self.counts is None:
                self.counts = {}
            self.counts[name] = self.counts.get(name, 1) + 1
        else:
            self.scores[name] = value


def _traces(rows: Iterable[dict[str, Any]], score_order: list[str], metric_order: list[str], inputs: bool = True) -> list[_Trace]:
    """Rows grouped into traces. Scores are ordered as they first appear on root rows, then as
    they first appear on other rows (a trace's root row may be written after its children).
    ``inputs=False``: no input keys (only comparisons with a base use them)."""
    child_scores: list[str] = []
    traces = _group(rows, score_order, child_scores, metric_order, inputs)
    score_order.extend(name for name in child_scores if name not in score_order)
    return traces


def _group(rows: Iterable[dict[str, Any]], score_order: list[str], child_scores: list[str], metric_order: list[str],
           inputs: bool) -> list[_Trace]:
    traces: dict[str, _Trace] = {}
    for row in rows:
        trace_key = row.get("root_span_id") or row.get("id")
        trace = traces.get(trace_key)
        if trace is None:
            trace = traces[trace_key] = _Trace()
        is_root = not row.get("span_parents")
        if is_root and inputs:
            trace.name, identity, trace.test = _root_fields(row)
            trace.input_key = _input_key(row.get("input"), identity)
        names = score_order if is_root else child_scores
        for name, value in (row.get("scores") or {}).items():
            if isinstance(value, (int, float)):
                trace.add_score(name, float(value))
                if name not in names:
                    names.append(name)
        metrics = row.get("metrics") or {}
        duration = duration_of(metrics) if is_root else None
        if duration is not None:
            trace.duration = duration
            if "duration" not in metric_order:
                metric_order.insert(0, "duration")
        for name, value in metrics.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            if name.endswith(TOKEN_SUFFIX) or name in COST_METRICS:
                trace.add_metric(name, float(value))
                if name not in metric_order:
                    metric_order.append(name)
    return list(traces.values())


def _is_time(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def duration_of(metrics: dict[str, Any]) -> float | None:
    """``end - start`` of a root row, or None when either is missing or not a number, or the end
    is before the start (the clock was set back while the trace ran: its length is unknown)."""
    start, end = metrics.get("start"), metrics.get("end")
    if not (_is_time(start) and _is_time(end)):
        return None
    try:
        duration = float(end) - float(start)
    except OverflowError:  # (an integer too large for a float)
        return None
    return duration if 0 <= duration < math.inf else None


def _score_of(trace: _Trace, name: str) -> float | None:
    total = trace.scores.get(name)
    if total is None:
        return None
    return total / (trace.counts.get(name, 1) if trace.counts else 1)


def _per_input(traces: list[_Trace], value_of) -> dict[str, float]:
    groups: dict[str, list[float]] = {}
    for trace in traces:
        value = value_of(trace)
        if value is not None and trace.input_key is not None:
            groups.setdefault(trace.input_key, []).append(value)
    return {key: _mean(values) for key, values in groups.items()}


def _overall(traces: list[_Trace], value_of) -> float | None:
    values = [v for v in (value_of(t) for t in traces) if v is not None]
    return _mean(values) if values else None


#: Group means this close are the same (a score logged twice in a trace is summed in the order
#: its spans were written, which may differ from run to run).
_SAME = 1e-12


def _same(value: float, other: float) -> bool:
    return math.isclose(value, other, rel_tol=_SAME, abs_tol=_SAME)


def _compare(current: dict[str, float], base: dict[str, float], higher_is_better: bool) -> tuple[list[str], list[str]]:
    """The keys (inputs) of the groups that improved, and of those that regressed."""
    improved: list[str] = []
    regressed: list[str] = []
    for key, value in current.items():
        if key not in base or _same(value, base[key]):
            continue
        better = value > base[key] if higher_is_better else value < base[key]
        (improved if better else regressed).append(key)
    return improved, regressed


def _key_label(key: str) -> str:
    """A case named by its input key: the test, for one without input; else its input (cut)."""
    if key.startswith(_NO_INPUT):
        return key[len(_NO_INPUT):]
    text, _, digest = key.partition(_DIGEST)
    cut = "..." if digest or len(text) > _LABEL else ""
    return "input " + text[:_LABEL].encode("ascii", "backslashreplace").decode("ascii") + cut  # (escaped as pytest's ids)


def _names(traces: list[_Trace], all_traces: list[_Trace], keys: list[str]) -> list[str]:
    """The cases with these input keys (one name each), in the experiment's order: by name when
    the name is only that case's in the whole experiment (a pytest case's test id; its trials'
    common name), else by input (``Eval``'s roots are all "eval")."""
    if not keys:
        return []
    wanted = set(keys)
    cases_of_name: dict[str | None, set[str | None]] = {}
    names_of_case: dict[str | None, set[str | None]] = {}
    for trace in all_traces:
        cases_of_name.setdefault(trace.name, set()).add(trace.input_key)
        names_of_case.setdefault(trace.input_key, set()).add(trace.name)
    named: dict[str, str] = {}
    taken: set[str] = set()
    for trace in traces:
        key = trace.input_key
        if key in wanted and key not in named:
            # (an input two tests ran is a group of both: named by either test, it would blame
            # the one that did not change)
            own = trace.name and len(cases_of_name[trace.name]) == 1 and len(names_of_case[key]) == 1
            name = trace.name if own else _key_label(key)
            if name in taken:  # two inputs alike in their first characters
                n = 2
                while f"{name} ({n})" in taken:
                    n += 1
                name = f"{name} ({n})"
            named[key] = name
            taken.add(name)
    return list(named.values())


def _unit(name: str) -> str:
    if name == "duration":
        return "s"
    if name in COST_METRICS:
        return "$"
    return "tok"


class LocalComparison(NamedTuple):
    scores: dict[str, ScoreSummary]
    metrics: dict[str, MetricSummary]
    #: Set when the two experiments ran different inputs (then the comparison is over those in both).
    coverage: CaseCoverage | None = None


def _matched(traces: list[_Trace], base_traces: list[_Trace]) -> tuple[list[_Trace], list[_Trace], CaseCoverage | None]:
    """The traces of both experiments whose input both ran; and, when their inputs differ (or
    none is known in common), how many there are. A trace whose root row was not written has
    no known input: it is in its experiment's means, never matched."""
    keys = {trace.input_key for trace in traces if trace.input_key is not None}
    base_keys = {trace.input_key for trace in base_traces if trace.input_key is not None}
    common = keys & base_keys
    coverage = None
    if keys != base_keys or (not common and (traces or base_traces)):
        coverage = CaseCoverage(common=len(common), current=len(keys), base=len(base_keys))
    matched, base_matched = _same_tests([t for t in traces if t.input_key in common],
                                        [t for t in base_traces if t.input_key in common])
    return matched, base_matched, coverage


def _same_tests(traces: list[_Trace], base_traces: list[_Trace]) -> tuple[list[_Trace], list[_Trace]]:
    """Of each input's traces on both sides, those of the tests that ran it on both sides (all
    of them when there is no such test: rows that are not pytest cases, a renamed test)."""
    tests: dict[str | None, set[str | None]] = {}
    base_tests: dict[str | None, set[str | None]] = {}
    for side, found in ((traces, tests), (base_traces, base_tests)):
        for trace in side:
            found.setdefault(trace.input_key, set()).add(trace.test)
    shared = {key: tests[key] & base_tests.get(key, set()) for key in tests}

    def kept(trace: _Trace) -> bool:
        both = shared.get(trace.input_key)
        return not both or trace.test in both

    return [t for t in traces if kept(t)], [t for t in base_traces if kept(t)]


class ExperimentTraces(NamedTuple):
    """An experiment's rows grouped into per-trace aggregates: what a comparison reads, so an
    experiment read once can be compared (and matched against candidates) without reading it again."""

    traces: list[_Trace]
    score_order: list[str]
    metric_order: list[str]

    def keys(self) -> set[str]:
        """The keys its traces are matched by in a comparison (one per distinct case whose root
        row was written)."""
        return {trace.input_key for trace in self.traces if trace.input_key is not None}

    def cases(self) -> set[tuple[str, str | None]]:
        """Its distinct cases: each key with the pytest test that ran it (None for rows that are
        not pytest cases), so two tests over one dataset are different cases."""
        return {(trace.input_key, trace.test) for trace in self.traces if trace.input_key is not None}


def group_traces(rows: Iterable[dict[str, Any]], inputs: bool = True) -> ExperimentTraces:
    """``rows`` (one experiment's) grouped into traces; ``inputs=False`` skips the input keys
    (needed only to compare with another experiment)."""
    score_order: list[str] = []
    metric_order: list[str] = []
    traces = _traces(rows, score_order, metric_order, inputs=inputs)
    return ExperimentTraces(traces, score_order, metric_order)


def compare_experiments(rows: Iterable[dict[str, Any]], base_rows: Iterable[dict[str, Any]] | None) -> LocalComparison:
    """Scores and metrics of an experiment, compared with ``base_rows`` when given."""
    base = group_traces(base_rows) if base_rows is not None else None
    return compare_traces(group_traces(rows, inputs=base is not None), base)


def compare_traces(current: ExperimentTraces, base: ExperimentTraces | None) -> LocalComparison:
    """Scores and metrics of an experiment, compared with ``base`` when given (both grouped
    with their input keys then)."""
    traces, score_order, metric_order = current
    base_traces = base.traces if base is not None else None
    coverage = None
    if base_traces is not None:
        matched, base_matched, coverage = _matched(traces, base_traces)
    scores: dict[str, ScoreSummary] = {}
    for name in score_order:
        value_of = lambda t, n=name: _score_of(t, n)  # noqa: E731
        summary = ScoreSummary(name=name, score=_overall(traces, value_of), improvements=0, regressions=0)
        if base_traces is not None and _overall(base_traces, value_of) is not None:
            _compare_into(summary, matched, base_matched, value_of, True, traces)
        scores[name] = summary
    metrics: dict[str, MetricSummary] = {}
    for name in metric_order:
        value_of = lambda t, n=name: t.metric(n)  # noqa: E731
        average = _overall(traces, value_of)
        if average is None:
            continue
        metric = MetricSummary(name=name, metric=average, unit=_unit(name), improvements=0, regressions=0)
        if base_traces is not None and _overall(base_traces, value_of) is not None:
            _compare_into(metric, matched, base_matched, value_of, False, traces)
        metrics[name] = metric
    return LocalComparison(scores, metrics, coverage)


def _compare_into(summary: Any, traces: list[_Trace], base_traces: list[_Trace], value_of: Any, higher_is_better: bool,
                  all_traces: list[_Trace]) -> None:
    """Improvements, regressions (by input) and the diff of the means, over matched traces
    (``all_traces``: the experiment's, to tell whether a name is one case's)."""
    improved, regressed = _compare(_per_input(traces, value_of), _per_input(base_traces, value_of), higher_is_better)
    summary.improvements, summary.regressions = len(improved), len(regressed)
    average, base_average = _overall(traces, value_of), _overall(base_traces, value_of)
    if average is not None and base_average is not None:
        # (means the same to within rounding differ by 0, not by 1e-17: printed "(-)", as
        # they count neither improvements nor regressions)
        summary.diff = 0.0 if _same(average, base_average) else average - base_average
    if isinstance(summary, ScoreSummary):
        summary.regressed_cases = _names(traces, all_traces, regressed)
        summary.improved_cases = _names(traces, all_traces, improved)
