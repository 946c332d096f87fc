"""The public SDK's own scenario scripts, run unchanged on our package against the test server,
must produce the rows the public SDK produced (ids, times, caller locations aside)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from capture_compare import CAPTURES, capture_rows, diff, merge_like_server, normalize
from btserver import BraintrustTestServer
from delivery_helpers import subprocess_env


def run_scenario(name: str, server: BraintrustTestServer, tmp_path, **variables: str) -> subprocess.CompletedProcess:
    env = subprocess_env(BRAINTRUST_API_KEY=server.api_key, BRAINTRUST_APP_URL=server.url, BRAINTRUST_LOCAL_DIR=str(tmp_path / "store"), **variables)
    script = CAPTURES / f"scenario_{name}.py"
    return subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)


#: name -> (the server's payload limit, what 0.48.1 printed, or None where its output is not compared).
#: experiment_options: what it printed under BRAINTRUST_LEGACY_IDS; with its default ids its
#: as_dataset() yields nothing (it compares a root's 32-digit trace id with its 16-digit span id;
#: the .out.txt beside it), and the rest is the same either way.
SCENARIOS = {
    "logger": (6291456, None),
    "traced": (6291456, None),
    "overflow": (4096, None),
    "tracing_options": (6291456, "tracing_options.out.txt"),
    "experiment_options": (6291456, "experiment_options.legacy_ids.out.txt"),
    "anthropic_streams": (6291456, None),
    "responses_tools": (6291456, "responses_tools.out.txt"),
    "anthropic_server_tools": (6291456, None),
    "object_spans": (6291456, None),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_rows_match_public_sdk(name, tmp_path):
    payload_max_bytes, printed = SCENARIOS[name]
    with BraintrustTestServer(payload_max_bytes=payload_max_bytes, org_name="recorder-org") as server:
        proc = run_scenario(name, server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        ours = normalize(server.rows())
        port = server.url.rsplit(":", 1)[1]
    theirs = normalize(merge_like_server(capture_rows(name)))
    assert ours == theirs, diff(ours, theirs)
    if printed is not None:
        assert proc.stdout.replace(f"127.0.0.1:{port}", "127.0.0.1:PORT") == (CAPTURES / printed).read_text()


def test_logger_scenario_requests_match(tmp_path):
    """Same endpoints, same registration bodies, in a compatible order."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("logger", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        paths = [(r.method, r.path) for r in server.requests]
        project_bodies = [r.json for r in server.requests_to("/v1/project", "POST")]
    assert paths[:3] == [("POST", "/api/apikey/login"), ("POST", "/v1/project"), ("GET", "/version")]
    assert all(p == ("POST", "/logs3") for p in paths[3:])
    assert project_bodies == [{"name": "recorder-logs", "org_name": "recorder-org"}]
    assert proc.stdout.splitlines()[-1] == "flushed"


def test_overflow_scenario_uses_overflow_upload(tmp_path):
    with BraintrustTestServer(payload_max_bytes=4096, org_name="recorder-org") as server:
        proc = run_scenario("overflow", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        overflow = server.requests_to("/logs3/overflow", "POST")
        assert len(overflow) == 1
        request = overflow[0].json
        assert request["content_type"] == "application/json"
        assert request["rows"][0]["object_ids"]["log_id"] == "g"
        assert all(len(r.body) <= 4096 for r in server.requests_to("/logs3", "POST"))


def test_experiment_scenario_matches_public_sdk(tmp_path):
    """init + log + summarize twice (base experiment by name, git metadata from the org policy)."""
    with BraintrustTestServer(org_name="recorder-org", git_metadata={"collect": "all"}) as server:
        proc = run_scenario("experiment", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        ours = normalize(server.rows())
        bodies = [r.json for r in server.requests_to("/v1/experiment", "POST")]
        url = server.url
    theirs = normalize(merge_like_server(capture_rows("experiment")))
    assert ours == theirs, diff(ours, theirs)

    captured = [json.loads(line) for line in (CAPTURES / "experiment.jsonl").read_text().splitlines()]
    their_bodies = [c["body"] for c in captured if c["path"] == "/v1/experiment" and c["method"] == "POST"]
    assert [sorted(b) for b in bodies] == [sorted(b) for b in their_bodies]
    for body in bodies:
        assert sorted(body["repo_info"]) == sorted(their_bodies[0]["repo_info"])
        assert body["repo_info"]["dirty"] is True and body["repo_info"]["branch"] == "main"
        assert body["repo_info"]["git_diff"].startswith("diff --git a/app.py b/app.py")
    assert len(bodies[0]["ancestor_commits"]) == 1 and bodies[0]["ancestor_commits"][0] == bodies[0]["repo_info"]["commit"]
    assert bodies[1]["base_exp_id"]  # resolved from base_experiment="baseline"

    # The printed summaries: same text apart from the port and timing-dependent duration lines.
    def comparable(text: str) -> list[str]:
        lines = text.replace(url, "http://127.0.0.1:PORT").split("\nas_dict:")[0].splitlines()
        return [line for line in lines if "duration" not in line]

    assert comparable(proc.stdout) == comparable((CAPTURES / "experiment.out.txt").read_text())


def test_wrap_openai_rows_match_public_sdk(tmp_path):
    """``wrap_openai`` over the OpenAI stub: the same llm spans as the public SDK's, except that a
    failed call also records its error (0.48.1 logs none)."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("openai", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        rows = server.rows()
    failed = [r for r in rows if (r.get("metadata") or {}).get("model") == "missing-model"]
    assert len(failed) == 1
    assert "BadRequestError: Error code: 400" in failed[0].pop("error")
    theirs = normalize(merge_like_server(capture_rows("openai")))
    assert normalize(rows) == theirs, diff(normalize(rows), theirs)
    assert proc.stdout.splitlines()[-1] == "flushed"


def test_wrap_openai_streams_match_public_sdk_but_keep_each_choice(tmp_path):
    """Streamed tool calls (arguments in pieces; sync, async, the stream helper) and a stream of two
    choices: 0.48.1's rows, except that the two choices stay two (0.48.1 runs their chunks into one
    message at index 0, the two answers interleaved)."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("openai_streams", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        rows = server.rows()
    theirs = merge_like_server(capture_rows("openai_streams"))
    (ours_two,) = [r for r in rows if r["metadata"].get("n") == 2]
    (theirs_two,) = [r for r in theirs if r["metadata"].get("n") == 2]
    assert [c["message"]["content"] for c in theirs_two["output"]] == ["The answerThe answer (1) is 4. is 4. (1)"]
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in ours_two["output"]] == [
        (0, "The answer is 4.", "stop"), (1, "The answer (1) is 4. (1)", "stop")]
    ours_two["output"] = theirs_two["output"]
    assert normalize(rows) == normalize(theirs), diff(normalize(rows), normalize(theirs))
    assert proc.stdout.splitlines()[-1] == "flushed"


def test_wrap_anthropic_rows_match_public_sdk(tmp_path):
    """``wrap_anthropic`` over the Anthropic stub: the same llm spans as the public SDK's."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("anthropic", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        ours = normalize(server.rows())
    theirs = normalize(merge_like_server(capture_rows("anthropic")))
    assert ours == theirs, diff(ours, theirs)
    assert proc.stdout.splitlines()[-1] == "flushed"


def test_load_prompt_matches_public_sdk(tmp_path):
    """``load_prompt`` and ``Prompt.build`` (scenario_prompt.py): the same prompt requests, the
    same built arguments (logged as rows), and the same llm span for a built prompt sent
    through ``wrap_openai``."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("prompt", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        rows = server.rows()
        ours_asked = [(r.path, r.query) for r in server.requests if r.path.startswith("/v1/prompt") and r.method == "GET"]
    captured = [json.loads(line) for line in (CAPTURES / "prompt.jsonl").read_text().splitlines()]
    theirs_asked = [(c["path"], c["query"]) for c in captured if c["path"].startswith("/v1/prompt") and c["method"] == "GET"]
    assert ours_asked == theirs_asked
    theirs = normalize(merge_like_server(capture_rows("prompt")))
    assert normalize(rows) == theirs, diff(normalize(rows), theirs)
    assert proc.stdout.splitlines() == [
        "latest: Support Reply support-reply True ['chat', 'model', 'params', 'position', 'tools']",
        "strict: ValueError",
        "missing: ValueError",
        "reply: The answer is 4.",
        "flushed",
    ]


def _keys_as_filenames(value):
    """Attachment references with their (random) key replaced by the file name."""
    from braintrust.attachments.kinds import map_attachment_references

    return map_attachment_references(value, lambda ref: {**ref, "key": f"<key of {ref.get('filename')}>"} if "key" in ref else ref)


def test_attachments_match_public_sdk(tmp_path):
    """Attachments (scenario_attachment.py): the same rows with references in place, one
    upload per attachment (a shared one once), and the same read-back."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("attachment", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        rows = server.rows()
        ours_uploaded = sorted((r.json["filename"], r.json["content_type"]) for r in server.requests_to("/attachment", "POST"))
        ours_done = [r.json["status"] for r in server.requests_to("/attachment/status", "POST")]
    captured = [json.loads(line) for line in (CAPTURES / "attachment.jsonl").read_text().splitlines()]
    theirs_uploaded = sorted((c["body"]["filename"], c["body"]["content_type"]) for c in captured
                             if c["path"] == "/attachment" and c["method"] == "POST")
    assert ours_uploaded == theirs_uploaded and len(ours_uploaded) == 8
    assert ours_done == [{"upload_status": "done"}] * 8
    theirs = normalize(_keys_as_filenames(merge_like_server(capture_rows("attachment"))))
    ours = normalize(_keys_as_filenames(rows))
    assert ours == theirs, diff(ours, theirs)
    assert proc.stdout == (CAPTURES / "attachment.out.txt").read_text()


def test_inline_files_match_public_sdk(tmp_path):
    """Base64 images and files in model calls (scenario_inline_files.py): logged as attachments,
    named and typed as 0.48.1 names them, each uploaded once; URLs and bad base64 left as they are."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("inline_files", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        rows = server.rows()
        ours_uploaded = sorted((r.json["filename"], r.json["content_type"]) for r in server.requests_to("/attachment", "POST"))
    captured = [json.loads(line) for line in (CAPTURES / "inline_files.jsonl").read_text().splitlines()]
    theirs_uploaded = sorted((c["body"]["filename"], c["body"]["content_type"]) for c in captured
                             if c["path"] == "/attachment" and c["method"] == "POST")
    assert ours_uploaded == theirs_uploaded and len(ours_uploaded) == 6
    theirs = normalize(_keys_as_filenames(merge_like_server(capture_rows("inline_files"))))
    ours = normalize(_keys_as_filenames(rows))
    assert ours == theirs, diff(ours, theirs)


def _invoke_calls(bodies: list[dict]) -> list[dict]:
    """``/function/invoke`` bodies with each parent slug replaced by what it points at."""
    from braintrust.tracing.span_components import SpanComponentsV4

    calls = []
    for body in bodies:
        body = dict(body)
        if body["parent"]:
            parent = SpanComponentsV4.from_str(body["parent"])
            body["parent"] = {"object_type": int(parent.object_type), "span": bool(parent.row_id),
                              "object": parent.object_id or parent.compute_object_metadata_args}
        calls.append(body)
    return calls


def test_invoke_matches_public_sdk(tmp_path):
    """``invoke`` and ``init_function`` (scenario_invoke.py) against the test server's stand-in
    functions: the same request bodies (parents compared by what they point at), the same
    output, streamed chunks and errors, and the same spans."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("invoke", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        calls = server.requests_to("/function/invoke", "POST")
        rows = server.rows()
    captured = [json.loads(line) for line in (CAPTURES / "invoke.jsonl").read_text().splitlines()]
    theirs = _invoke_calls([c["body"] for c in captured if c["path"] == "/function/invoke"])
    assert _invoke_calls([c.json for c in calls]) == theirs
    assert [c.headers["Accept"] for c in calls] == ["text/event-stream" if b["stream"] else "application/json" for b in theirs]
    assert proc.stdout == (CAPTURES / "invoke.out.txt").read_text()
    ours_rows, their_rows = normalize(rows), normalize(merge_like_server(capture_rows("invoke")))
    assert ours_rows == their_rows, diff(ours_rows, their_rows)


@pytest.mark.parametrize("name, spans", [("anthropic_beta", 4), ("openai_beta", 3)])
def test_wrap_beta_namespaces_match_public_sdk(name, spans, tmp_path):
    """The clients' beta namespaces (scenario_anthropic_beta.py, scenario_openai_beta.py), traced
    as the public SDK traces them: Anthropic's ``beta.messages`` as the Messages API, OpenAI's
    ``beta.chat.completions`` as ``chat.completions`` (its ``beta.responses`` in neither SDK)."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario(name, server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        ours = normalize(server.rows())
    theirs = normalize(merge_like_server(capture_rows(name)))
    assert len(theirs) == spans and ours == theirs, diff(ours, theirs)
    assert proc.stdout.splitlines()[-1] == "flushed"


def test_logger_options_match_public_sdk_but_for_two_documented_placeholders(tmp_path):
    """scenario_logger_options.py: masking, async_flush=False, logging beside an open span,
    set_current=False, braintrust.log and the current objects, update_span by export, and values
    that are not JSON. Two of those are written differently on purpose (README, "Where this
    differs"): a datetime as ISO 8601 (0.48.1: ``str()``) and an integer beyond 64 bits as its
    digits in a string (0.48.1: the number, which JSON readers round past 2**53)."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("logger_options", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        ours = server.rows()
    theirs = merge_like_server(capture_rows("logger_options"))
    [odd] = [row for row in theirs if isinstance(row.get("input"), dict) and "when" in row["input"]]
    assert (odd["input"]["when"], odd["metadata"]["big"]) == ("2026-01-02 03:04:05", 10 ** 30)
    odd["input"]["when"], odd["metadata"]["big"] = "2026-01-02T03:04:05", str(10 ** 30)
    assert normalize(ours) == normalize(theirs), diff(normalize(ours), normalize(theirs))
    assert proc.stdout.splitlines() == ["current logger is it: True", "current experiment is it: True", "flushed"]


def test_wrap_openai_raw_response_variants_match_public_sdk(tmp_path):
    """``with_raw_response`` (chat plain and streamed, Responses API, async) and
    ``with_streaming_response`` (sync and async) are traced as ``create`` (scenario_openai_variants.py):
    six spans, 0.48.1's; and the caller gets the raw response (headers, status, ``parse()``)."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("openai_variants", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        ours = normalize(server.rows())
    theirs = normalize(merge_like_server(capture_rows("openai_variants")))
    assert len(theirs) == 6 and ours == theirs, diff(ours, theirs)
    assert proc.stdout.splitlines()[0] == "raw: 200 application/json The answer is 4."
    assert proc.stdout.splitlines()[-1] == "async streaming response: The answer is 4."


def _record_places(rows: list[dict]) -> list[tuple]:
    """Where each log record sits: its output, level, and the span whose ids it carries (by name),
    or the trace it shares with the other records of its logger outside spans."""
    spans = {r["span_id"]: r["span_attributes"].get("name") for r in rows if r["span_attributes"].get("type") != "log"}
    records = [r for r in rows if r["span_attributes"].get("type") == "log"]
    traces: dict[str, list[str]] = {}  # records outside spans, by trace
    for r in records:
        if r["span_id"] not in spans:
            traces.setdefault(r["root_span_id"], []).append(json.dumps(r.get("output")))
    return sorted(
        (json.dumps(r.get("output")), r["span_attributes"]["log_level"],
         spans.get(r["span_id"]) or f"outside spans, with {sorted(traces[r['root_span_id']])}")
        for r in records
    )


@pytest.mark.parametrize("name", ["distributed", "trace_context", "log_records"])
def test_distributed_tracing_and_log_records_match_public_sdk(name, tmp_path):
    """W3C trace context (scenario_distributed.py: ``span.inject()``, ``start_span(parent=headers)``,
    ``@traced(parent=headers)``; scenario_trace_context.py: ``extract_trace_context``,
    ``inject_trace_context``, ``parent_context`` with trace context, flags and ``tracestate``
    passed on) and log records (scenario_log_records.py: ``logger.info`` and the
    other levels, templates): the same rows and output as the public SDK, each record in the same
    span's trace (the ids it carries) or in its logger's trace outside spans."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario(name, server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        rows = server.rows()
    theirs = merge_like_server(capture_rows(name))
    assert normalize(rows) == normalize(theirs), diff(normalize(rows), normalize(theirs))
    assert _record_places(rows) == _record_places(theirs)
    assert proc.stdout == (CAPTURES / f"{name}.out.txt").read_text()


def test_span_origin_environment_matches_public_sdk(tmp_path):
    """``context.span_origin.environment`` (scenario_environment.py, recorded with
    ``GITHUB_ACTIONS=true``): detected on every kind of row, replaced by ``init_logger(environment=)``
    for every later span, detected again by a later ``init_logger()``."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("environment", server, tmp_path, GITHUB_ACTIONS="true")
        assert proc.returncode == 0, proc.stderr
        ours = normalize(server.rows())
    theirs = normalize(merge_like_server(capture_rows("environment")))
    assert len(theirs) == 12 and ours == theirs, diff(ours, theirs)
    assert sum('"environment": {"name": "github_actions", "type": "ci"}' in row for row in ours) == 8


def test_dataset_environment_matches_public_sdk(tmp_path):
    """``init_dataset(environment=...)`` (scenario_dataset_environment.py): the same
    ``/environment-object`` lookups, reads pinned to the version they answer (``version=`` winning
    over ``environment=``), the experiment over it recording that version, the same records read.
    Deliberate difference: an environment that is not set raises a ``ValueError`` naming the
    dataset and the environment (the public SDK: its HTTP error)."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("dataset_environment", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        ours = [{"seq": 0, "method": r.method, "path": r.path, "query": r.query, "body": r.json} for r in server.requests]
    theirs = [json.loads(line) for line in (CAPTURES / "dataset_environment.jsonl").read_text().splitlines()]

    def reads(requests):
        lookups = [(r["path"].rsplit("/", 1)[1], r["query"]) for r in requests if r["path"].startswith("/environment-object/")]
        pinned = sorted({r["body"].get("version") for r in requests if r["path"].endswith("/fetch")} - {None})
        (created,) = [r["body"] for r in requests if r["path"] == "/v1/experiment"]
        return lookups, pinned, created["dataset_version"]

    assert reads(ours) == reads(theirs) == ([("production", {"org_name": "recorder-org"}), ("staging", {"org_name": "recorder-org"}),
                                             ("production", {"org_name": "recorder-org"})], ["1000000000000000000", "1000000000000000001"],
                                            "1000000000000000000")
    printed = [line for line in proc.stdout.splitlines() if line.startswith(("production", "version wins", "unset environment", "cases"))]
    expected = (CAPTURES / "dataset_environment.out.txt").read_text().replace("unset environment: AugmentedHTTPError", "unset environment: ValueError")
    assert "\n".join(printed) + "\n" == expected


def test_functions_defined_in_code_publish_as_the_public_sdk_does(tmp_path):
    """``braintrust.projects`` (scenario_projects.py): tools, prompts and scorers defined in code,
    then ``project.publish()``: the same project registration and the same ``/insert-functions``
    body (prompts, their tools, the LLM scorer), the same output, and the same warning that code
    functions need ``braintrust push``."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("projects", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        ours = [(r.method, r.path, r.json) for r in server.requests if r.path != "/api/apikey/login"]
    captured = [json.loads(line) for line in (CAPTURES / "projects.jsonl").read_text().splitlines()]
    theirs = [(c["method"], c["path"], c["body"]) for c in captured if c["path"] != "/api/apikey/login"]
    assert ours == theirs
    assert proc.stdout == (CAPTURES / "projects.out.txt").read_text()
    assert proc.stderr.strip() == "Code functions cannot be published directly. Use `braintrust push` instead."


def test_prompt_versions_match_public_sdk(tmp_path):
    """``get_prompt_versions`` (scenario_prompt_versions.py): the same ``POST /btql`` bodies, the
    versions in the same 16-hex-digit form, each accepted by ``load_prompt(version=...)`` (the
    same ``GET /v1/prompt`` queries), and the same output."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("prompt_versions", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        ours = [(r.method, r.path, r.query, r.json) for r in server.requests if r.path in ("/btql", "/v1/prompt") and r.method != "PUT"]
    captured = [json.loads(line) for line in (CAPTURES / "prompt_versions.jsonl").read_text().splitlines()]
    theirs = [(c["method"], c["path"], c["query"], c["body"]) for c in captured if c["path"] in ("/btql", "/v1/prompt") and c["method"] != "PUT"]
    assert ours == theirs
    assert proc.stdout == (CAPTURES / "prompt_versions.out.txt").read_text()


def test_log_handler_matches_public_sdk(tmp_path):
    """``BraintrustLogHandler`` (scenario_log_handler.py): Python logging records as the public
    SDK's log records, with the same output, level, metadata and span (the one current where the
    record was made); braintrust's own loggers left out. (A traceback's text differs between
    Python versions: an exception's record is compared by its first and last lines.)"""
    def comparable(rows):
        for row in rows:
            output = row.get("output")
            if isinstance(output, str) and "Traceback" in output:
                lines = output.splitlines()
                row["output"] = [lines[0], lines[-1]]
            metadata = row.get("metadata") or {}
            if "code.file.path" in metadata:  # (the capture's paths are written <app>)
                metadata["code.file.path"] = metadata["code.file.path"].replace(str(CAPTURES), "<app>")
        return rows

    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("log_handler", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        rows = server.rows()
    theirs = merge_like_server(capture_rows("log_handler"))
    ours, expected = normalize(comparable(rows)), normalize(comparable(theirs))
    assert ours == expected, diff(ours, expected)
    assert _record_places(rows) == _record_places(theirs)
    assert proc.stdout == (CAPTURES / "log_handler.out.txt").read_text()


def test_saved_parameters_match_public_sdk(tmp_path):
    """Saved parameters (scenario_parameters.py): ``project.parameters.create`` + ``publish()``
    send the same ``/insert-functions`` body (the declaration's JSON schema and defaults),
    ``load_parameters`` the same ``GET /v1/function`` queries, the experiment run with the saved
    parameters records their id and version, the task sees the same values (a ``Prompt``, a model
    name, a pydantic model's value), and the rows and printed lines are the same."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("parameters", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        wanted = ("/v1/project", "/insert-functions", "/v1/function", "/v1/experiment")
        ours = [(r.method, r.path, r.query, r.json) for r in server.requests if r.path in wanted]
        rows = server.rows()
    captured = [json.loads(line) for line in (CAPTURES / "parameters.jsonl").read_text().splitlines()]
    theirs = [(c["method"], c["path"], c["query"], c["body"]) for c in captured if c["path"] in wanted]
    assert ours == theirs
    assert normalize(rows) == normalize(merge_like_server(capture_rows("parameters"))), "rows differ"
    printed = [line for line in proc.stdout.splitlines()
               if line.startswith(("create", "published", "loaded", "schema", "data", "validate", "declared", "saved", "error"))]
    assert "\n".join(printed) + "\n" == (CAPTURES / "parameters.out.txt").read_text()


def test_wrap_openai_images_and_audio_match_public_sdk(tmp_path):
    """OpenAI's images and audio endpoints (scenario_openai_media.py): 0.48.1's rows (generated
    images and speech, uploaded images and audio files as attachments; a streamed generation
    ended at once, without images; failed calls with their error; the raw-response variants not
    traced), the same uploads, and what the caller got. An image call's ``duration`` (a time) is
    compared as present only."""
    with BraintrustTestServer(org_name="recorder-org") as server:
        proc = run_scenario("openai_media", server, tmp_path)
        assert proc.returncode == 0, proc.stderr
        rows = server.rows()
        ours_uploaded = sorted((r.json["filename"], r.json["content_type"]) for r in server.requests_to("/attachment", "POST"))
    captured = [json.loads(line) for line in (CAPTURES / "openai_media.jsonl").read_text().splitlines()]
    theirs_uploaded = sorted((c["body"]["filename"], c["body"]["content_type"]) for c in captured
                             if c["path"] == "/attachment" and c["method"] == "POST")
    assert ours_uploaded == theirs_uploaded and len(ours_uploaded) == 23

    def comparable(rows: list[dict]) -> list[str]:
        for row in rows:
            if isinstance((row.get("metrics") or {}).get("duration"), float):
                row["metrics"]["duration"] = "<seconds>"
        return normalize(_keys_as_filenames(rows))

    theirs = comparable(merge_like_server(capture_rows("openai_media")))
    ours = comparable(rows)
    assert len(theirs) == 25 and ours == theirs, diff(ours, theirs)
    assert proc.stdout == (CAPTURES / "openai_media.out.txt").read_text()
