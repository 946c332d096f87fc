"""Datasets against 0.48.1 (helper QA, third round): ``init_dataset(_internal_btql=...)`` reads
through ``POST /btql`` as 0.48.1 does (it was refused), ``summarize(summarize_data=False)`` asks
Braintrust as 0.48.1 does (it sent nothing), the local store answers what it can of a BTQL read
and refuses the rest, and the dev server passes the playground's ``_internal_btql`` on."""

from __future__ import annotations

import builtins
import json
import re

import pytest

import braintrust
from btserver import BraintrustTestServer
from capture_compare import CAPTURES
from devserver.test_dev_server import call, plain, serving
from sdk.test_public_sdk_captures import run_scenario

AT_LEAST_2 = {"op": "ge", "left": {"op": "ident", "name": ["metadata", "i"]}, "right": {"op": "literal", "value": 2}}


def _reads(requests: list[dict]) -> list:
    """The reads a run sent (``/btql``, ``/fetch``, ``/summarize``), ids as placeholders, and the
    dataset version its experiment was created with."""
    ids: dict[str, str] = {}

    def placeholder(match: re.Match) -> str:
        return ids.setdefault(match.group(0), f"<id{len(ids)}>")

    uuid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    found = []
    for r in requests:
        if r["path"] == "/btql" or r["path"].endswith(("/fetch", "/summarize")):
            found.append(uuid.sub(placeholder, json.dumps([r["method"], r["path"], r["query"], r["body"]], sort_keys=True)))
        elif r["path"] == "/v1/experiment":
            found.append(("experiment dataset_version", r["body"].get("dataset_version")))
    return found


def test_internal_btql_and_summaries_without_data_send_what_0481_sends(tmp_path):
    """scenario_dataset_btql.py: the same ``POST /btql`` bodies (limit, filter by pages of two,
    pinned at a version, a limit of 0 reading nothing), ``summarize_data=false`` asked, the
    experiment over the filtered dataset linked to its version, and the same lines printed. Ours
    refused ``_internal_btql``, and sent no request for ``summarize(summarize_data=False)``."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("dataset_btql", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        ours = [{"method": r.method, "path": r.path, "query": r.query, "body": r.json} for r in server.requests]
    theirs = [json.loads(line) for line in (CAPTURES / "dataset_btql.jsonl").read_text().splitlines()]
    assert _reads(ours) == _reads(theirs)
    assert sum(r["path"] == "/btql" for r in ours) == 5
    printed = [line for line in proc.stdout.splitlines() if line.startswith(("limit", "filter", "summary", "cases"))]
    assert "\n".join(printed) + "\n" == (CAPTURES / "dataset_btql.out.txt").read_text()


def test_a_summary_without_data_is_what_braintrust_answers(bt_env):
    """0.48.1 builds the data summary from the answer whatever it asked for: a server that
    answers one gives it, one that answers none gives None."""
    dataset = braintrust.init_dataset(project="p", name="d")
    dataset.insert(input=1)
    assert dataset.summarize(summarize_data=False).data_summary is None
    bt_env.script("GET", f"/v1/dataset/{dataset.id}/summarize", [{"status": 200, "body": {"data_summary": {"total_records": 7}}}])
    summary = dataset.summarize(summarize_data=False)
    assert (summary.data_summary.total_records, summary.data_summary.new_records) == (7, 1)
    assert [r.query["summarize_data"] for r in bt_env.requests_to(f"/v1/dataset/{dataset.id}/summarize")] == ["false", "false"]


def test_the_eval_runners_btql_applies_to_every_dataset(bt_env, monkeypatch):
    """A runner (``builtins.__bt_eval_internal_btql``) filters every dataset; a dataset's own
    clauses win over it, as in 0.48.1."""
    dataset = braintrust.init_dataset(project="p", name="d")
    for i in range(4):
        dataset.insert(input=i, metadata={"i": i}, id=f"r{i}")
    dataset.flush()
    monkeypatch.setattr(builtins, "__bt_eval_internal_btql", {"filter": AT_LEAST_2, "limit": 1}, raising=False)
    assert [r["id"] for r in braintrust.init_dataset(project="p", name="d")] == ["r2"]
    assert sorted(r["id"] for r in braintrust.init_dataset(project="p", name="d", _internal_btql={"limit": 10})) == ["r2", "r3"]


def test_internal_btql_must_be_a_dict(bt_env):
    with pytest.raises(ValueError, match=r"_internal_btql=\.\.\.\) must be a dict of BTQL clauses .*got str"):
        braintrust.init_dataset(project="p", name="d", _internal_btql="filter: metadata.i >= 2")
    assert bt_env.requests_to("/v1/dataset", "POST") == []


def test_the_local_store_answers_a_limit_and_refuses_the_rest():
    """No key: a BTQL ``limit`` is the first records (at a version too); a filter cannot be run
    there, which the error says with the fixes (never all the records, unfiltered)."""
    dataset = braintrust.init_dataset(project="p", name="d")
    for i in range(5):
        dataset.insert(input=i, id=f"r{i}")
    dataset.flush()
    version = dataset.version
    dataset.insert(input=5, id="r5")
    dataset.flush()
    assert [r["id"] for r in braintrust.init_dataset(project="p", name="d", _internal_btql={"limit": 2}).fetch(batch_size=1)] == ["r0", "r1"]
    pinned = braintrust.init_dataset(project="p", name="d", version=version, _internal_btql={"limit": 10})
    assert sorted(r["id"] for r in pinned) == [f"r{i}" for i in range(5)]
    assert list(braintrust.init_dataset(project="p", name="d", _internal_btql={"limit": 0})) == []
    filtered = braintrust.init_dataset(project="p", name="d", _internal_btql={"filter": AT_LEAST_2, "limit": 2})
    with pytest.raises(ValueError, match=r"the local store cannot run BTQL \(filter\); set BRAINTRUST_API_KEY .* or select the records in Python"):
        list(filtered)
    assert repr(filtered) == f"Dataset(project='p', name='d', _internal_btql={{'filter': {AT_LEAST_2!r}, 'limit': 2}})"  # (collection errors name it so)
    with pytest.raises(ValueError, match=r"'limit' must be a non-negative integer, got -1"):
        list(braintrust.init_dataset(project="p", name="d", _internal_btql={"limit": -1}))


def test_the_dev_server_runs_only_the_records_the_playground_filtered(bt_env):
    """The playground sends its dataset filter as ``data._internal_btql``, which 0.48.1's dev
    server passes to ``init_dataset``; ours ignored it and ran every record."""
    dataset = braintrust.init_dataset(project="dev-project", name="graded")
    for i in range(4):
        dataset.insert(input=f"q{i}", metadata={"i": i}, id=f"g{i}")
    braintrust.flush()
    with serving(bt_env, {"plain": plain()}) as dev:
        data = {"project_name": "dev-project", "dataset_name": "graded", "_internal_btql": {"filter": AT_LEAST_2}}
        answer = call(dev, "POST", "/eval", json={"name": "plain", "data": data})
        assert answer.status_code == 200, answer.text
        wrong = call(dev, "POST", "/eval", json={"name": "plain", "data": {**data, "_internal_btql": "i >= 2"}})
        assert wrong.status_code == 400 and "data._internal_btql must be an object" in wrong.text, wrong.text
    braintrust.flush()
    roots = [r for r in bt_env.rows() if r.get("span_attributes", {}).get("type") == "eval"]
    assert sorted(r["input"] for r in roots) == ["q2", "q3"]
