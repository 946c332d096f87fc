"""The public SDK's names and import paths (``tests/data/public-api-names.md``), what importing
``braintrust`` costs, and the warning when the public SDK is installed next to us."""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import braintrust
from delivery_helpers import subprocess_env

NAMES_FILE = Path(__file__).parent.parent / "data" / "public-api-names.md"

#: Names the public SDK documents that later work will add. Update this set when a name lands
#: (the test fails then, so the list stays true) -- never add a stub to make it pass.
EXPECTED_MISSING: set[str] = set()

#: ``module:name`` import paths from the names file that later work will make importable.
EXPECTED_MISSING_PATHS: set[str] = set()


def _section(text: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"no section {title!r} in {NAMES_FILE}"
    return match.group(1)


def documented_names() -> set[str]:
    text = NAMES_FILE.read_text(encoding="utf-8")
    names: set[str] = set()
    for title in ("Functions", "Classes"):
        names |= set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", _section(text, title)))
    return names


def documented_import_paths() -> set[tuple[str, str]]:
    text = _section(NAMES_FILE.read_text(encoding="utf-8"), "Import paths used in the wild")
    paths = set()
    for module, names in re.findall(r"`from (braintrust[\w.]*) import ([^`]+)`", text.replace("\n  ", " ")):
        for name in names.split(","):
            paths.add((module, name.strip()))
    return paths


def _importable(module: str, name: str) -> bool:
    try:
        return hasattr(importlib.import_module(module), name)
    except ImportError:
        return False


def test_names_file_parses():
    names = documented_names()
    assert {"traced", "start_span", "Span", "NOOP_SPAN", "projects", "SpanComponentsV4", "Eval"} <= names
    assert len(names) > 90
    paths = documented_import_paths()
    assert ("braintrust.logger", "NOOP_SPAN") in paths
    assert ("braintrust.framework", "set_thread_pool_max_workers") in paths
    assert ("braintrust.oai", "wrap_openai") in paths


def test_all_is_sorted_and_every_name_exists():
    assert braintrust.__all__ == sorted(braintrust.__all__)
    assert len(set(braintrust.__all__)) == len(braintrust.__all__)
    for name in braintrust.__all__:
        assert getattr(braintrust, name, None) is not None, name
    namespace: dict = {}
    exec("from braintrust import *", namespace)
    assert set(braintrust.__all__) <= set(namespace)


def test_documented_names_present_or_expected_missing():
    documented = documented_names()
    missing = {name for name in documented if not hasattr(braintrust, name)}
    print("still missing:", sorted(missing))
    landed = EXPECTED_MISSING - missing
    assert not landed, f"these names now exist: remove them from EXPECTED_MISSING: {sorted(landed)}"
    disappeared = missing - EXPECTED_MISSING
    assert not disappeared, f"these documented names are gone from braintrust: {sorted(disappeared)}"
    assert EXPECTED_MISSING <= documented, sorted(EXPECTED_MISSING - documented)
    # Whatever exists is exported.
    assert (documented - missing) <= set(braintrust.__all__), sorted((documented - missing) - set(braintrust.__all__))


def test_documented_import_paths_work_or_are_expected_missing():
    missing = {f"{module}:{name}" for module, name in documented_import_paths() if not _importable(module, name)}
    print("import paths still missing:", sorted(missing))
    landed = EXPECTED_MISSING_PATHS - missing
    assert not landed, f"these import paths work now: remove them from EXPECTED_MISSING_PATHS: {sorted(landed)}"
    assert missing == EXPECTED_MISSING_PATHS, sorted(missing - EXPECTED_MISSING_PATHS)


def test_submodule_paths_are_the_same_objects():
    from braintrust.logger import NOOP_SPAN, Span, SpanImpl
    from braintrust.span_types import SpanTypeAttribute

    assert NOOP_SPAN is braintrust.NOOP_SPAN
    assert Span is braintrust.Span and SpanImpl is braintrust.SpanImpl
    assert SpanTypeAttribute is braintrust.SpanTypeAttribute
    # (str() as 0.48.1's, an Enum's: "SpanTypeAttribute.SCORE"; equal to its value as a str)
    assert SpanTypeAttribute.LLM == "llm" and str(SpanTypeAttribute.SCORE) == "SpanTypeAttribute.SCORE"
    assert [t.value for t in SpanTypeAttribute] == [
        "llm", "score", "function", "eval", "task", "tool", "automation", "facet", "preprocessor",
        "classifier", "review", "decision", "question", "log",
    ]


def test_more_of_the_public_module_paths_work():
    """0.48.1's modules for the trace types, ``auto_instrument`` and ``SerializableDataClass``."""
    from braintrust.auto import auto_instrument
    from braintrust.eval.trace import EvalTrace
    from braintrust.serializable_data_class import SerializableDataClass
    from braintrust.trace import LocalTrace, SpanData, SpanDurationFilter, SpanFilters

    assert auto_instrument is braintrust.auto_instrument and LocalTrace is EvalTrace
    assert issubclass(braintrust.Score, SerializableDataClass) and issubclass(braintrust.EvalCase, SerializableDataClass)
    assert list(SpanFilters.__annotations__) == ["span_type", "name", "has_error", "metadata", "duration"]
    assert list(SpanDurationFilter.__annotations__) == ["min", "max"]
    assert SpanData.from_dict({"output": 1, "extra": 2}).to_dict() == {"output": 1, "extra": 2}


def test_the_other_module_paths_code_for_0_48_1_imports_from():
    """Span strings, git settings, the version, and ``braintrust.logger`` reached as an attribute
    (``e: braintrust.logger.Experiment`` in annotations) and its summary and metadata types."""
    from braintrust.git_fields import GitMetadataSettings, RepoInfo
    from braintrust.logger import BraintrustState, DatasetSummary, ExperimentSummary, ObjectMetadata, ScoreSummary
    from braintrust.span_identifier_v3 import SpanComponentsV3, SpanObjectTypeV3
    from braintrust.span_identifier_v4 import SpanComponentsV4
    from braintrust.version import VERSION

    assert braintrust.logger.Experiment is braintrust.Experiment
    assert (SpanComponentsV3, SpanComponentsV4, SpanObjectTypeV3) == (
        braintrust.SpanComponentsV3, braintrust.SpanComponentsV4, braintrust.SpanObjectTypeV3)
    assert (GitMetadataSettings, RepoInfo) == (braintrust.GitMetadataSettings, braintrust.RepoInfo)
    assert (ExperimentSummary, ScoreSummary, DatasetSummary) == (
        braintrust.ExperimentSummary, braintrust.ScoreSummary, braintrust.DatasetSummary)
    assert ObjectMetadata is braintrust.ObjectMetadata and BraintrustState is braintrust.BraintrustState
    assert [f.name for f in dataclasses.fields(ObjectMetadata)] == ["id", "name", "full_info"]
    assert VERSION == "0.48.1"
    from braintrust.framework import EvalParameters, RemoteEvalParameters
    from braintrust.logger import Attachment, ReadonlyAttachment
    from braintrust.parameters import ModelParameter, PromptParameter, serialize_eval_parameters

    assert EvalParameters is braintrust.EvalParameters and RemoteEvalParameters is braintrust.RemoteEvalParameters
    assert (Attachment, ReadonlyAttachment) == (braintrust.Attachment, braintrust.ReadonlyAttachment)
    model: ModelParameter = {"type": "model", "default": "m"}
    prompt: PromptParameter = {"type": "prompt", "description": "the prompt"}
    assert serialize_eval_parameters({"model": model, "prompt": prompt, "anything": None}) == {
        "model": {"type": "model", "default": "m"}, "prompt": {"type": "prompt", "description": "the prompt"},
        "anything": {"type": "data", "schema": {}}}


def test_an_object_s_project_is_its_metadata_with_the_full_record(bt_logs):
    experiment = braintrust.init(project="meta")
    project = experiment.project
    assert isinstance(project, braintrust.ObjectMetadata)
    assert project.name == "meta" and project.full_info["id"] == project.id and project.full_info["name"] == "meta"
    assert braintrust.init_logger(project="meta").project.full_info["id"] == project.id


def test_logger_module_offers_the_same_tracing_objects():
    import braintrust.logger as logger_module

    assert logger_module.__all__ == sorted(logger_module.__all__)
    for name in logger_module.__all__:
        assert getattr(logger_module, name) is getattr(braintrust, name), name


def test_get_span_parent_object(bt_logs):
    assert braintrust.get_span_parent_object() is braintrust.NOOP_SPAN
    logger = braintrust.init_logger(project="parents")
    assert braintrust.get_span_parent_object() is logger
    slug = logger.export()
    with braintrust.parent_context(slug):
        assert isinstance(braintrust.get_span_parent_object(), braintrust.SpanComponentsV4)
        with braintrust.start_span(name="s") as span:
            assert braintrust.get_span_parent_object() is span


def test_retry_adapter_is_importable_lazily():
    adapter = braintrust.RetryRequestExceptionsAdapter
    assert adapter.__name__ == "RetryRequestExceptionsAdapter"
    with pytest.raises(AttributeError):
        braintrust.no_such_name  # noqa: B018


def _run(code: str, tmp_path: Path, extra_path: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in subprocess_env().items() if k != "PYTHONPATH"}
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )


IMPORT_PROBE = """
    import json, sys, threading
    recording = True
    events = []

    def hook(event, args):
        if not recording:
            return
        if event == "open":
            path = str(args[0])
            if not path.endswith((".py", ".pyc", ".so", ".pth")) and "__pycache__" not in path:
                events.append([event, path])
        elif event.startswith(("socket.", "sqlite3.", "subprocess.", "os.fork", "_thread.start_new_thread")):
            events.append([event])

    sys.addaudithook(hook)
    before = set(threading.enumerate())
    import braintrust
    recording = False
    print(json.dumps({
        "threads": [t.name for t in threading.enumerate() if t not in before],
        "events": events,
        "modules": sorted(m for m in ("requests", "sqlite3", "urllib3", "orjson") if m in sys.modules),
    }))
"""


def test_import_has_no_side_effects(tmp_path):
    proc = _run(IMPORT_PROBE, tmp_path)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["threads"] == []
    assert report["events"] == []
    assert "requests" not in report["modules"] and "sqlite3" not in report["modules"]
    assert "urllib3" not in report["modules"]
    assert proc.stderr == ""


def _fake_public_sdk(root: Path) -> Path:
    dist = root / "braintrust-0.48.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: braintrust\nVersion: 0.48.1\n\nThe public SDK.\n")
    (dist / "RECORD").write_text("braintrust/__init__.py,,\n")
    return root


def test_warns_when_the_public_sdk_is_installed_too(tmp_path):
    site = _fake_public_sdk(tmp_path / "site")
    code = """
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import braintrust
            braintrust._warn_if_shadowed()  # a second check warns no more
        for w in caught:
            print(w.category.__name__, "|", w.message)
    """
    proc = _run(code, tmp_path, extra_path=site)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, lines
    category, message = lines[0].split(" | ", 1)
    assert category == "UserWarning"
    assert "braintrust 0.48.1" in message
    assert str(site / "braintrust-0.48.1.dist-info") in message
    assert "pip uninstall braintrust" in message
    # Shown with the default warning filters too.
    plain = _run("import braintrust", tmp_path, extra_path=site)
    assert plain.returncode == 0
    assert plain.stderr.count("pip uninstall braintrust") == 1


def test_no_warning_for_similarly_named_distributions(tmp_path):
    site = tmp_path / "site"
    for name in ("braintrust_langchain-0.1.0.dist-info", "braintrust-core-0.0.5.dist-info", "pytest_braintrust-0.1.0.dist-info"):
        (site / name).mkdir(parents=True)
        (site / name / "METADATA").write_text("Name: x\nVersion: 1\n")
    proc = _run("import braintrust", tmp_path, extra_path=site)
    assert proc.returncode == 0
    assert proc.stderr == ""


def test_shadow_check_is_cheap():
    import time

    from pytest_braintrust.distribution import other_braintrust_distribution

    runs = 20
    start = time.perf_counter()
    for _ in range(runs):
        other_braintrust_distribution()
    per_call = (time.perf_counter() - start) / runs
    assert per_call < 0.005, f"the check takes {per_call * 1000:.2f} ms"


def test_span_id_and_scope_types_have_the_public_fields():
    import dataclasses

    from braintrust.functions.invoke import SpanScope, TraceScope
    from braintrust.logger import SpanIds

    assert [f.name for f in dataclasses.fields(SpanIds)] == ["span_id", "root_span_id", "span_parents"]
    assert SpanIds("s", "r", None) == SpanIds(span_id="s", root_span_id="r", span_parents=None)
    assert list(SpanScope.__annotations__) == ["type", "id", "root_span_id"]
    assert list(TraceScope.__annotations__) == ["type", "root_span_id"]
    assert braintrust.SpanScope is SpanScope and braintrust.TraceScope is TraceScope


def test_settings_and_identifier_types_are_the_ones_the_sdk_uses():
    from braintrust import git
    from braintrust.objects import experiment

    assert braintrust.GitMetadataSettings is git.GitMetadataSettings
    assert braintrust.GitMetadataSettings(collect="some", fields=["branch"]).fields == ["branch"]
    assert braintrust.ExperimentIdentifier is experiment.ExperimentIdentifier


#: The public SDK 0.48.1's dataclass fields, in their order (probed with ``dataclasses.fields``):
#: positional construction (``EvalCase("q", "a", None, [], 3)``) must mean the same here. Ours may
#: add fields after them; ``ExperimentSummary``, whose 0.48.1 fields end with one ``comparison``
#: object where ours keeps its parts, is checked up to there.
PUBLIC_FIELD_ORDER = {
    "EvalCase": ["input", "expected", "metadata", "tags", "trial_count", "id", "_xact_id", "created", "origin", "upsert_id"],
    "EvalResult": ["input", "output", "scores", "classifications", "expected", "metadata", "tags", "error", "exc_info", "origin"],
    "EvalResultWithSummary": ["summary", "results"],
    "EvalScorerArgs": ["input", "output", "expected", "metadata"],
    "Evaluator": ["project_name", "eval_name", "data", "task", "scores", "experiment_name", "metadata", "tags", "trial_count",
                  "is_public", "update", "timeout", "max_concurrency", "project_id", "base_experiment_name",
                  "base_experiment_id", "git_metadata_settings", "repo_info", "error_score_handler", "description",
                  "summarize_scores", "parameters", "classifiers", "parameter_values", "cancel_event"],
    "ScoreSummary": ["name", "_longest_score_name", "score", "improvements", "regressions", "diff"],
    "MetricSummary": ["name", "_longest_metric_name", "metric", "unit", "improvements", "regressions", "diff"],
    "DatasetSummary": ["project_name", "dataset_name", "project_url", "dataset_url", "data_summary"],
    "ExperimentSummary": ["project_name", "project_id", "experiment_id", "experiment_name", "project_url", "experiment_url",
                          "comparison_experiment_name"],
}
#: The classes 0.48.1 derives from its ``SerializableDataClass`` (``as_dict``, ``as_json``,
#: ``from_dict``, ``from_dict_deep`` and ``obj["field"]``) that ours has too.
PUBLIC_SERIALIZABLE = ["Classification", "DataSummary", "DatasetSummary", "EvalCase", "EvalResult", "EvalResultWithSummary",
                       "EvalScorerArgs", "ExperimentSummary", "GitMetadataSettings", "MetricSummary", "RepoInfo",
                       "ReporterDef", "Score", "ScoreSummary", "SummarySkipped", "SummarySuccess"]


def test_dataclasses_take_their_fields_in_the_public_order():
    import dataclasses

    import braintrust.framework as framework

    for name, public in PUBLIC_FIELD_ORDER.items():
        cls = getattr(braintrust, name, None) or getattr(framework, name)
        ours = [f.name for f in dataclasses.fields(cls) if f.init]
        assert ours[: len(public)] == public, name
    case = braintrust.EvalCase("q", "a", {"k": 1}, ["t"], 3)
    assert (case.trial_count, case.id) == (3, None)
    assert braintrust.ScoreSummary("exact", 5, 0.5).score == 0.5


def test_results_and_summaries_serialize_as_the_public_ones(bt_logs):
    import braintrust.framework as framework

    for name in PUBLIC_SERIALIZABLE:
        cls = getattr(braintrust, name, None) or getattr(framework, name)
        assert all(hasattr(cls, method) for method in ("as_dict", "as_json", "from_dict", "from_dict_deep", "__getitem__")), name
    result = braintrust.Eval("serializable", data=[{"input": "a", "expected": "A"}], task=str.upper,
                             scores=[lambda output, expected: output == expected])
    as_dict = json.loads(result.as_json())
    assert list(as_dict) == ["summary", "results"]
    assert as_dict["results"] == [{"input": "a", "output": "A", "scores": {"scorer_0": True}, "classifications": None, "expected": "A",
                                   "metadata": {}, "tags": None, "error": None, "exc_info": None, "origin": None}]
    assert as_dict["summary"]["scores"]["scorer_0"]["score"] == 1.0
    assert result["results"][0]["output"] == "A" and result.summary["experiment_name"] == result.summary.experiment_name


def test_state_is_the_process_state_or_refused_not_silently_ignored():
    """0.48.1 logs through the ``state=`` given; this SDK keeps one state per process, so another
    one is refused, naming the fix, instead of its rows going elsewhere unnoticed."""
    from braintrust.state import BraintrustState, global_state

    braintrust.init_logger(project="p", state=global_state()).log(input=1)  # (the process's own: fine)
    other = BraintrustState()
    calls = {
        "init_logger": lambda: braintrust.init_logger(project="p", state=other),
        "init": lambda: braintrust.init(project="p", state=other),
        "init_dataset": lambda: braintrust.init_dataset(project="p", name="d", state=other),
        "start_span": lambda: braintrust.start_span(name="s", state=other),
        "parent_context": lambda: braintrust.parent_context(None, state=other).__enter__(),
        "Eval": lambda: braintrust.Eval("p", data=[{"input": 1}], task=lambda x: x, scores=[], state=other),
    }
    for call, run in calls.items():
        with pytest.raises(ValueError, match=rf"^{call}\(state=\.\.\.\): pytest-braintrust keeps one BraintrustState per process"):
            run()
