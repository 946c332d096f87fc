"""The public SDK's Eval scenarios (``scenario_eval.py``, ``scenario_eval_classifiers.py``,
``scenario_eval_options.py``, ``scenario_dataset.py``, ``scenario_no_send_logs.py``), run unchanged on our package against the test server, must send the
rows the public SDK sent and print the same summaries (ids, times, URLs and the server's stand-in
duration aside)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from btserver import BraintrustTestServer
from capture_compare import CAPTURES, capture_rows, diff, merge_like_server, normalize
from delivery_helpers import subprocess_env

from braintrust.summary import ExperimentSummary

#: Names the scenarios import from ``braintrust``. Until ``braintrust/__init__.py`` exports them
#: (see ``test_top_level_exports``), the runner below adds the missing ones before running the
#: script, which itself runs unchanged.
TOP_LEVEL = {
    "Eval": "braintrust.framework",
    "EvalAsync": "braintrust.framework",
    "EvalCase": "braintrust.framework",
    "EvalHooks": "braintrust.framework",
    "EvalResult": "braintrust.framework",
    "EvalResultWithSummary": "braintrust.framework",
    "EvalScorerArgs": "braintrust.framework",
    "Evaluator": "braintrust.framework",
    "BaseExperiment": "braintrust.framework",
    "Reporter": "braintrust.framework",
    "ReporterDef": "braintrust.framework",
    "set_thread_pool_max_workers": "braintrust.framework",
    "Score": "braintrust.score",
    "init": "braintrust.objects.experiment",
    "init_experiment": "braintrust.objects.experiment",
    "init_dataset": "braintrust.objects.dataset",
}

RUNNER = """
import importlib, runpy, sys
import braintrust
for name, module in {top_level!r}.items():
    if not hasattr(braintrust, name):
        setattr(braintrust, name, getattr(importlib.import_module(module), name))
script = sys.argv[1]
sys.argv = [script]
runpy.run_path(script, run_name="__main__")
"""


def run_scenario(name: str, server: BraintrustTestServer, tmp_path, *, api_key: bool = True) -> subprocess.CompletedProcess:
    env = subprocess_env(BRAINTRUST_APP_URL=server.url, BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"))
    if api_key:
        env["BRAINTRUST_API_KEY"] = server.api_key
    script = CAPTURES / f"scenario_{name}.py"
    code = RUNNER.format(top_level=TOP_LEVEL)
    return subprocess.run([sys.executable, "-c", code, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)


def _prepare(rows: list[dict]) -> list[dict]:
    """What ``normalize`` does not know about Eval rows yet, made comparable first:

    * ``metadata.scorer_errors`` and ``classifier_errors`` hold full tracebacks (frames of each
      SDK's own engine): keep the exception line, as ``normalize`` does for ``error``;
    * a dataset case's provenance (``origin`` on the root, ``id`` in the score spans' input) names
      a record id, transaction id and creation time: replace them by the record's input.
    """
    records = {r["id"]: r.get("input") for r in rows if "dataset_id" in r and "id" in r}
    _exec_counter_ranks(rows)
    for row in rows:
        for kind in ("scorer_errors", "classifier_errors"):
            errors = (row.get("metadata") or {}).get(kind)
            if isinstance(errors, dict):
                for key, text in errors.items():
                    errors[key] = text.strip().splitlines()[-1]
        origin = row.get("origin")
        if isinstance(origin, dict) and origin.get("object_type") == "dataset":
            for key in ("object_id", "_xact_id", "created"):
                if origin.get(key) is not None:
                    origin[key] = f"<{key}>"
        scorer_input = row.get("input") if (row.get("span_attributes") or {}).get("type") == "score" else None
        if isinstance(scorer_input, dict) and scorer_input.get("id") in records:
            scorer_input["id"] = f"<record {records[scorer_input['id']]}>"
    return rows


def _exec_counter_ranks(rows: list[dict]) -> None:
    """``exec_counter`` numbers spans in the order the process created them. Across the traces of
    an eval that order depends on thread timing (which trial's task finished first), so it differs
    from run to run, in the public SDK too. Check what is deterministic (within a trace: the eval
    root, then task, then the score spans and then the classifier spans, contiguously; an Eval run
    under ``parent=`` has the parent's span first), then replace each counter by its rank in its
    trace."""
    traces: dict = {}
    for row in rows:
        counter = (row.get("span_attributes") or {}).get("exec_counter")
        if counter is not None and row.get("root_span_id"):
            traces.setdefault(row["root_span_id"], []).append(row)
    for spans in traces.values():
        spans.sort(key=lambda r: r["span_attributes"]["exec_counter"])
        kinds = [r["span_attributes"].get("type") for r in spans]
        start = kinds.index("eval") if "eval" in kinds else 0  # (an Eval under a parent= span starts below it)
        assert kinds[start:start + 2] == ["eval", "task"][: len(kinds) - start], kinds
        scoring = kinds[start + 2:]
        assert scoring == sorted(scoring, key=lambda kind: ["score", "classifier"].index(kind)), kinds
        counters = [r["span_attributes"]["exec_counter"] for r in spans[start + 2:]]
        assert counters == list(range(counters[0], counters[0] + len(counters))) if counters else True, counters
        for rank, row in enumerate(spans):
            row["span_attributes"]["exec_counter"] = rank


def _capture_output(name: str) -> list[str]:
    return (CAPTURES / f"{name}.out.txt").read_text().splitlines()


def _stdout_lines_of_capture(name: str, stderr_patterns: list[str]) -> list[str]:
    """The capture's printed lines minus what went to stderr (progress bars, notices, failures)."""
    lines = []
    skipping_failure = False
    for line in _capture_output(name):
        if line.startswith("\x1b[91m") or skipping_failure:
            skipping_failure = not line.endswith("\x1b[0m")
            continue
        if any(re.search(p, line) for p in stderr_patterns):
            continue
        lines.append(line)
    # tqdm's blank separator lines went to stderr too; stdout's blank lines are inside summaries.
    return lines


STDERR_PATTERNS = [r"^Experiment .* is running at ", r"\(data\): ", r"\(tasks\): ", r"^Found exceptions for the following scorers"]


def _normalize_text(text: str, port: int | None = None) -> str:
    text = text.replace(f"127.0.0.1:{port}", "127.0.0.1:PORT") if port else text
    text = re.sub(r"\d+\.\d\ds duration", "N.NNs duration", text)
    text = re.sub(r"\(([+-]\d\d\.\d\d%|-)\) 'duration'", "(D) 'duration'", text)
    return text


def _strip_blank_runs(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return out


# -- rows ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["eval", "eval_classifiers", "eval_options", "dataset"])
def test_eval_scenario_rows_match_public_sdk(name, tmp_path):
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario(name, server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        ours = normalize(_prepare(server.rows()))
    theirs = normalize(_prepare(merge_like_server(capture_rows(name))))
    assert ours == theirs, diff(ours, theirs)


def test_no_send_logs_scenario_sends_nothing_and_prints_the_local_summary(tmp_path):
    with BraintrustTestServer(org_name="recorder-org") as server:
        for api_key in (False, True):  # the capture ran without a key; with one, still no login
            proc = run_scenario("no_send_logs", server, tmp_path, api_key=api_key)
            assert proc.returncode == 0, proc.stderr
            assert server.requests == []
            expected = [line for line in _capture_output("no_send_logs") if not re.search(r"\((data|tasks)\): ", line)]
            assert _strip_blank_runs(proc.stdout.splitlines()) == _strip_blank_runs(expected)
            assert "local store" not in proc.stderr  # nothing was written anywhere
    assert not (tmp_path / "store").exists()


# -- printed text ------------------------------------------------------------------------------------


def _summary_blocks(text: str) -> list[str]:
    return re.findall(r"\n={25}SUMMARY={25}\n.*?See results for [^\n]*", text, flags=re.S)


def test_eval_scenario_prints_like_public_sdk(tmp_path):
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("eval", server, tmp_path)
        port = server.port
    assert proc.returncode == 0, proc.stderr
    # stdout: the same lines (the capture interleaves stderr, whose blank lines cannot be told apart)
    expected = [_normalize_text(line) for line in _stdout_lines_of_capture("eval", STDERR_PATTERNS) if line]
    ours = [line for line in _normalize_text(proc.stdout, port).splitlines() if line]
    assert ours == expected
    # ... and the summary block byte for byte, blank lines included
    capture_text = _normalize_text((CAPTURES / "eval.out.txt").read_text())
    assert _summary_blocks(_normalize_text(proc.stdout, port)) == _summary_blocks(capture_text)
    # stderr: the running notices, the scorer failure line, the failure report of the second run
    err = _normalize_text(proc.stderr, port)
    assert "Experiment eval-clean is running at http://127.0.0.1:PORT/app/recorder-org/p/recorder-eval/experiments/eval-clean" in err
    assert "Found exceptions for the following scorers: bad_scorer [ValueError('scorer exploded')]" in err
    red = [line for line in err.splitlines() if line.startswith("\x1b[91m")]
    assert red[0] == "\x1b[91mEvaluator recorder-eval [experiment_name=eval-errors] failed with 1 error\x1b[0m"
    assert red[1] == "\x1b[91mTraceback (most recent call last):"
    assert red[2] == "\x1b[91mAdd --verbose to see full stack traces.\x1b[0m"
    assert "RuntimeError: task exploded\x1b[0m" in err.splitlines()


def test_eval_options_scenario_prints_like_public_sdk(tmp_path):
    """Data from generators, an iterable and an async generator, ``EvalAsync``, a base
    experiment, ``summarize_scores=False``, ``update=True``, ``parent=``: stdout is 0.48.1's
    (``eval_options.out.txt``, its stdout alone), durations aside."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("eval_options", server, tmp_path)
        port = server.port
    assert proc.returncode == 0, proc.stderr

    def scrub(text: str) -> str:
        return re.sub(r"\d+\.\d\ds\b", "N.NNs", _normalize_text(text, port))

    assert scrub(proc.stdout) == scrub((CAPTURES / "eval_options.out.txt").read_text())


def test_dataset_scenario_prints_like_public_sdk(tmp_path):
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("dataset", server, tmp_path)
        port = server.port
    assert proc.returncode == 0, proc.stderr

    def scrub(text: str) -> str:
        text = _normalize_text(text, port)
        text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "UUID", text)
        text = re.sub(r"\b1\d{18}\b", "XACT", text)
        return re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", "TIME", text)

    expected = [scrub(line) for line in _stdout_lines_of_capture("dataset", STDERR_PATTERNS) if line]
    assert [line for line in scrub(proc.stdout).splitlines() if line] == expected
    capture_text = scrub((CAPTURES / "dataset.out.txt").read_text())
    assert _summary_blocks(scrub(proc.stdout)) == _summary_blocks(capture_text)


def _summarize_answers(name: str) -> list[dict]:
    answers = []
    for line in (CAPTURES / f"{name}.jsonl").read_text().splitlines():
        request = json.loads(line)
        if request["path"].endswith("/summarize") and "/experiment/" in request["path"]:
            answers.append(request["response"])
    return answers


def test_eval_summary_text_from_the_captured_server_answer():
    """The capture's own /summarize answer, formatted by us, prints exactly what the public SDK printed."""
    answer = _summarize_answers("eval")[0]
    summary = ExperimentSummary.from_api(
        answer, project_id="p", experiment_id="e", project_url=answer["project_url"], experiment_url=answer["experiment_url"]
    )
    printed = "\n".join(_capture_output("eval"))
    assert f"{summary}\n" in printed + "\n"


def test_top_level_exports():
    import braintrust

    missing = [name for name in TOP_LEVEL if not hasattr(braintrust, name)]
    if missing:
        pytest.skip(f"braintrust/__init__.py does not export {', '.join(missing)} yet")
    from braintrust.framework import Eval

    assert braintrust.Eval is Eval


def _experiment_bodies(bodies: list[dict]) -> list[dict]:
    out = []
    for body in bodies:
        body = dict(body)
        for key in ("project_id", "dataset_id", "dataset_version"):
            if key in body:
                body[key] = f"<{key}>"
        out.append(body)
    return out


@pytest.mark.parametrize("name", ["eval", "dataset"])
def test_experiments_are_registered_like_the_public_sdk(name, tmp_path):
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario(name, server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        ours = [r.json for r in server.requests_to("/v1/experiment", "POST")]
        summarize = server.requests_to("/v1/experiment/*", "GET")
    theirs = []
    for line in (CAPTURES / f"{name}.jsonl").read_text().splitlines():
        request = json.loads(line)
        if request["method"] == "POST" and request["path"] == "/v1/experiment":
            theirs.append(request["body"])
    assert _experiment_bodies(ours) == _experiment_bodies(theirs)
    assert [r.query for r in summarize if r.path.endswith("/summarize")] == [{"summarize_scores": "true"}] * len(theirs)


def test_framework_module_exports_the_public_names():
    import braintrust.framework as framework
    import braintrust.score

    names = ["EvalData", "EvalScorer", "EvalTask", "Input", "Output", "EvalResult", "EvalScorerArgs", "ReporterDef",
             "EvalResultWithSummary", "default_error_score_handler", "set_thread_pool_max_workers", "Evaluator", "EvalCase",
             "EvalHooks", "Eval", "EvalAsync", "BaseExperiment", "Reporter"]
    assert [n for n in names if not hasattr(framework, n)] == []
    assert braintrust.score.Score is framework.Score
