"""The endpoints of the test server: request in, :class:`Response` out.

Each endpoint is a function ``(server, request, *path_groups)`` registered in :data:`ROUTES`;
it returns a :class:`Response` or a JSON-able value (sent with status 200), and raises
:class:`~.objects.ApiError` for error answers. ``server`` is the owning
:class:`~.server.BraintrustTestServer` (its ``store``, ``registry``, ``objstore``, settings).
Authentication is checked by the caller except for paths in :data:`PUBLIC_PREFIXES`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Callable
from urllib.parse import quote, unquote

from . import btql as btql_query
from .functions import invoke as function_invoke
from .objects import USER_ID, ApiError
from .store import RowError
from .summary import dataset_summary, experiment_summary

#: Paths that need no ``Authorization`` header: signed upload/download URLs and test controls.
PUBLIC_PREFIXES = ("/_objstore/", "/_test/")


@dataclass
class Response:
    """What the server answers. ``body``: dict/list → JSON, bytes/str → sent as is."""

    status: int = 200
    body: Any = None
    headers: dict = field(default_factory=dict)
    content_type: str = "application/json"


def _json_body(request) -> dict:
    if not isinstance(request.json, dict):
        raise ApiError(400, f"{request.method} {request.path} expects a JSON object body")
    return request.json


def _truthy(value: str | None, default: bool = True) -> bool:
    if value is None:
        return default
    return value.strip().lower() in ("true", "1", "yes", "y", "on")


# -- login and discovery ---------------------------------------------------------------------


def login(server, request) -> dict:
    """``POST /api/apikey/login``: the one organization, with api/proxy URLs on this server."""
    return {
        "org_info": [
            {
                "id": server.org_id,
                "name": server.org_name,
                "api_url": server.api_url or server.url,
                "proxy_url": server.proxy_url or server.api_url or server.url,
                "realtime_url": None,
                "is_universal_api": False,
                "git_metadata": server.git_metadata,
            }
        ]
    }


def ping(server, request) -> dict:
    """``GET /ping`` (``braintrust.user_info()``): the key's user and organization."""
    return {"id": USER_ID, "email": "tester@example.com", "given_name": "Test", "family_name": "User", "org_id": server.org_id}


def version(server, request) -> dict:
    """``GET /version``: advertises ``logs3_payload_max_bytes`` unless it is None."""
    answer: dict = {"version": "test-1.0"}
    if server.payload_max_bytes is not None:
        answer["logs3_payload_max_bytes"] = server.payload_max_bytes
    return answer


# -- objects ---------------------------------------------------------------------------------


def project_create(server, request) -> dict:
    return server.registry.project_create_or_get(_json_body(request))


def project_get(server, request, project_id: str) -> dict:
    return server.registry.project(project_id)


def project_list(server, request) -> dict:
    name = request.query.get("project_name")
    return {"objects": [p for p in server.registry.projects() if name is None or p["name"] == name]}


def experiment_create(server, request) -> dict:
    return server.registry.experiment_create(_json_body(request))


def experiment_list(server, request) -> dict:
    return {"objects": server.registry.experiment_list(request.query)}


def experiment_get(server, request, experiment_id: str) -> dict:
    return server.registry.experiment(experiment_id)


def base_experiment_get_id(server, request) -> dict:
    """``POST /api/base_experiment/get_id`` ``{"id"}``: the experiment a summary would compare with."""
    experiment = server.registry.experiment(_json_body(request)["id"])
    base = server.registry.comparison_for(experiment, None)
    return {"base_exp_id": base["id"] if base else None, "base_exp_name": base["name"] if base else None}


def dataset_create(server, request) -> dict:
    return server.registry.dataset_create_or_get(_json_body(request))


def dataset_get(server, request, dataset_id: str) -> dict:
    return server.registry.dataset(dataset_id)


def dataset_list(server, request) -> dict:
    return {"objects": server.registry.datasets(request.query.get("project_id"), request.query.get("dataset_name"))}


# -- prompts -------------------------------------------------------------------------------


def prompt_create(server, request) -> dict:
    return server.prompts.write(_json_body(request), replace=False)


def prompt_replace(server, request) -> dict:
    return server.prompts.write(_json_body(request), replace=True)


def prompt_list(server, request, prompts_only: bool = True) -> dict:
    """``GET /v1/prompt?project_name=|project_id=&slug=[&version=][&environment=]``."""
    query = request.query
    project_id = query.get("project_id")
    if project_id is None and query.get("project_name") is not None:
        project = server.registry.project_by_name(query["project_name"])
        project_id = project["id"] if project else None
    if project_id is None:
        return {"objects": []}
    return {"objects": server.prompts.find(project_id, query.get("slug"), query.get("version"), query.get("environment"),
                                           prompts_only=prompts_only)}


def prompt_get(server, request, prompt_id: str) -> dict:
    return server.prompts.get(prompt_id, request.query.get("version"), request.query.get("environment"))


def function_list(server, request) -> dict:
    """``GET /v1/function``: as ``/v1/prompt``, over every function (``load_parameters``)."""
    return prompt_list(server, request, prompts_only=False)


def btql(server, request) -> dict:
    """``POST /btql``: the queries the SDKs send. Rows of one object (``from: experiment(<id>)``
    or ``dataset(<id>)``, a ``filter``, ``limit``, ``cursor``: see btql.py) → ``{"data": [...],
    "cursor"}`` in first-write order; a prompt's versions (``get_prompt_versions``): ``from:
    project_prompts(<project id>)``, ``filter: id = <prompt id>``, with ``audit_log: true`` →
    ``{"data": [audit entry, ...]}``; without it, the prompt itself. Any other query → 400."""
    body = _json_body(request)
    query = body.get("query")
    if isinstance(query, dict) and btql_query.object_of(query) is not None:
        return _btql_rows(server, query, body.get("version"))
    source = query.get("from") if isinstance(query, dict) else None
    args = source.get("args") if isinstance(source, dict) else None
    if not isinstance(source, dict) or source.get("name") != {"op": "ident", "name": ["project_prompts"]} \
            or not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], dict):
        raise ApiError(400, f"this test server answers only BTQL over project_prompts(<project id>), got {query!r:.300}")
    project_id = args[0].get("value")
    condition = query.get("filter")
    if not (isinstance(condition, dict) and condition.get("op") == "eq" and condition.get("left") == {"op": "ident", "name": ["id"]}):
        raise ApiError(400, f"this test server answers only a filter 'id = <prompt id>', got {condition!r:.300}")
    prompt_id = (condition.get("right") or {}).get("value")
    if body.get("audit_log"):
        return {"data": server.prompts.audit_log(project_id, prompt_id)}
    try:
        prompt = server.prompts.get(prompt_id)
    except ApiError:
        return {"data": []}
    return {"data": [prompt] if prompt["project_id"] == project_id else []}


# -- reading rows ----------------------------------------------------------------------------


def _btql_rows(server, query: dict, version=None) -> dict:
    """Rows of one object, as of ``version`` (the body's, beside the query) if given."""
    object_type, object_id = btql_query.object_of(query)
    obj = server.registry.experiment(object_id) if object_type == "experiment" else server.registry.dataset(object_id)
    limit = query.get("limit", 1000)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        raise ApiError(400, f"BTQL: 'limit' must be a positive integer, got {limit!r}")
    offset = _decode_cursor(query["cursor"]) if query.get("cursor") else 0
    condition = query.get("filter")
    rows = [row for row in server.store.rows_as_of(object_type, obj["id"], _version(version))
            if "comment" not in row and (condition is None or btql_query.matches(condition, row))]
    page = [{**row, "project_id": row.get("project_id", obj["project_id"])} for row in rows[offset : offset + limit]]
    following = offset + limit
    return {"data": page, "cursor": _encode_cursor(following) if following < len(rows) else None}




def _version(pinned):
    """A read's ``version``: a transaction id of digits, or None (the latest)."""
    if pinned is not None and not str(pinned).isdigit():
        raise ApiError(400, f"'version' must be a transaction id of digits, got {pinned!r}")
    return pinned


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        offset = int(base64.b64decode(cursor.encode(), validate=True).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ApiError(400, f"invalid cursor {cursor!r}") from None
    if offset < 0:
        raise ApiError(400, f"invalid cursor {cursor!r}")
    return offset


def _fetch(server, request, object_type: str, obj: dict) -> dict:
    """``{"limit", "cursor"?, "version"?}`` → ``{"events": [...], "cursor": str|None}``.

    Rows come in order of first write, each with ``_xact_id`` and the object's ``project_id``;
    ``version`` returns the rows as they were right after that transaction; the cursor is the
    base64 of the next offset (so ``"MQ=="`` for 1, as in the captures). Comments
    (``log_feedback(comment=...)``) are not rows: Braintrust keeps them beside the row they
    annotate, so a fetch leaves them out (0.48.1's ``as_dataset`` would fail on one).
    """
    params = request.json if request.method == "POST" and isinstance(request.json, dict) else request.query
    try:
        limit = int(params.get("limit") or 1000)
    except (TypeError, ValueError):
        raise ApiError(400, f"'limit' must be a positive integer, got {params.get('limit')!r}") from None
    if limit <= 0:
        raise ApiError(400, f"'limit' must be a positive integer, got {limit}")
    offset = _decode_cursor(params["cursor"]) if params.get("cursor") else 0
    pinned = _version(params.get("version"))
    rows = [row for row in server.store.rows_as_of(object_type, obj["id"], pinned) if "comment" not in row]
    page = rows[offset : offset + limit]
    events = []
    for row in page:
        event = dict(row)
        event.setdefault("project_id", obj["project_id"])
        events.append(event)
    following = offset + limit
    return {"events": events, "cursor": _encode_cursor(following) if following < len(rows) else None}


def dataset_fetch(server, request, dataset_id: str) -> dict:
    return _fetch(server, request, "dataset", server.registry.dataset(dataset_id))


def experiment_fetch(server, request, experiment_id: str) -> dict:
    return _fetch(server, request, "experiment", server.registry.experiment(experiment_id))


def experiment_summarize(server, request, experiment_id: str) -> dict:
    """``GET /v1/experiment/{id}/summarize?summarize_scores=true[&comparison_experiment_id=]``."""
    registry = server.registry
    experiment = registry.experiment(experiment_id)
    project = registry.project(experiment["project_id"])
    comparison = registry.comparison_for(experiment, request.query.get("comparison_experiment_id"))
    return experiment_summary(
        server.url,
        server.org_name,
        project,
        experiment,
        server.store.rows_as_of("experiment", experiment_id),
        comparison,
        server.store.rows_as_of("experiment", comparison["id"]) if comparison else None,
        summarize_scores=_truthy(request.query.get("summarize_scores")),
    )


def dataset_summarize(server, request, dataset_id: str) -> dict:
    """``GET /v1/dataset/{id}/summarize?summarize_data=true``."""
    dataset = server.registry.dataset(dataset_id)
    project = server.registry.project(dataset["project_id"])
    return dataset_summary(
        server.url,
        server.org_name,
        project,
        dataset,
        server.store.count("dataset", dataset_id),
        summarize_data=_truthy(request.query.get("summarize_data")),
    )


# -- ingestion -------------------------------------------------------------------------------


def logs3(server, request) -> dict:
    """``POST /logs3``: ``{"rows": [...] | {"type": "logs3_overflow", "key", "size_bytes"}, "api_version": 2}``.

    Needs no Content-Type. Bodies over ``payload_max_bytes`` are answered 413 when
    ``enforce_payload_limit`` is on. Malformed rows → 400, nothing stored.
    """
    body = request.json
    if not isinstance(body, dict) or "rows" not in body:
        raise ApiError(400, "/logs3 expects a JSON object with 'rows'")
    limit = server.payload_max_bytes
    if server.enforce_payload_limit and limit is not None and len(request.body) > limit:
        raise ApiError(413, f"payload of {len(request.body)} bytes exceeds logs3_payload_max_bytes={limit}")
    rows = body["rows"]
    if isinstance(rows, dict):
        rows = _overflow_rows(server, rows)
    try:
        xact_id, ids = server.store.apply(rows)
    except RowError as exc:
        raise ApiError(400, str(exc)) from None
    server._accepted_logs3(body)
    return {"ids": ids, "xact_id": xact_id}


def _overflow_rows(server, reference: dict) -> list:
    if reference.get("type") != "logs3_overflow":
        raise ApiError(400, f"unknown rows reference type {reference.get('type')!r}")
    key = reference.get("key")
    data = server.objstore.get(f"logs3/{key}")
    if data is None:
        raise ApiError(400, f"overflow key {key!r} was never uploaded")
    size = reference.get("size_bytes")
    if size is not None and size != len(data):
        raise ApiError(400, f"overflow size_bytes={size} but {len(data)} bytes were uploaded for {key!r}")
    try:
        payload = json.loads(data)
        return payload["rows"]
    except (ValueError, TypeError, KeyError):
        raise ApiError(400, f"overflow upload {key!r} is not a /logs3 payload") from None


def logs3_overflow(server, request) -> dict:
    """``POST /logs3/overflow`` → where to upload the oversized payload (on this server)."""
    body = _json_body(request)
    if not isinstance(body.get("size_bytes"), int):
        raise ApiError(400, "'size_bytes' (int) is required")
    key = f"{uuid.uuid4()}.json"
    url = f"{server.url}/_objstore/logs3/{key}"
    if server.overflow_upload_method == "POST":
        return {"method": "POST", "signedUrl": url, "fields": {"key": f"logs3/{key}"}, "key": key}
    return {"method": "PUT", "signedUrl": url, "headers": {"Content-Type": "application/json"}, "key": key}


# -- object storage (signed URLs) and attachments ----------------------------------------------


def _multipart_file(request) -> bytes:
    content_type = request.header("Content-Type") or ""
    if not content_type.startswith("multipart/form-data"):
        raise ApiError(400, "POST upload must be multipart/form-data with a 'file' part")
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + request.body
    )
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            return part.get_payload(decode=True) or b""
    raise ApiError(400, "multipart upload has no 'file' part")


def objstore_put(server, request, path: str) -> Response:
    """``PUT``/``POST /_objstore/<path>``: store the uploaded bytes (no auth: a signed URL)."""
    path = unquote(path)
    data = _multipart_file(request) if request.method == "POST" else request.body
    server.objstore[path] = data
    server.objstore_types[path] = request.header("Content-Type") or "application/octet-stream"
    return Response(200, {})


def objstore_get(server, request, path: str) -> Response:
    path = unquote(path)
    if path not in server.objstore:
        raise ApiError(404, f"no object at {path!r}")
    return Response(200, server.objstore[path], content_type=server.objstore_types.get(path, "application/octet-stream"))


def _require_org(server, org_id) -> None:
    """The attachment endpoints name the organization: it must be this server's (login's ``id``)."""
    if org_id != server.org_id:
        raise ApiError(400 if org_id is None else 403, f"'org_id' must be the organization's id from login ({server.org_id}), got {org_id!r}")


def attachment_create(server, request) -> dict:
    """``POST /attachment`` ``{"key","filename","content_type","org_id"}`` (all required) →
    ``{"signedUrl","headers"}``."""
    body = _json_body(request)
    for name in ("key", "filename", "content_type"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise ApiError(400, f"'{name}' is required and must be a non-empty string")
    _require_org(server, body.get("org_id"))
    key = body["key"]
    content_type = body["content_type"]
    server.attachments[key] = {
        "filename": body.get("filename"),
        "content_type": content_type,
        "org_id": body.get("org_id"),
        "status": {"upload_status": "uploading"},
    }
    return {"signedUrl": f"{server.url}/_objstore/attachments/{quote(key, safe='')}", "headers": {"Content-Type": content_type}}


def attachment_status(server, request) -> dict:
    """``POST /attachment/status`` ``{"key","org_id","status": {"upload_status", "error_message"?}}``."""
    body = _json_body(request)
    key = body.get("key")
    status = body.get("status")
    if not isinstance(key, str) or not key:
        raise ApiError(400, "'key' is required")
    if not isinstance(status, dict) or status.get("upload_status") not in ("uploading", "done", "error"):
        raise ApiError(400, "'status.upload_status' must be one of uploading, done, error")
    if status["upload_status"] == "error" and not isinstance(status.get("error_message"), str):
        raise ApiError(400, "'status.error_message' (a string) is required with upload_status 'error'")
    _require_org(server, body.get("org_id"))
    # A status may arrive for a key whose POST /attachment failed: the SDKs then report
    # {"upload_status": "error", "error_message"} for it, which is recorded like any other.
    record = server.attachments.setdefault(key, {"filename": None, "content_type": None, "org_id": body.get("org_id")})
    record["status"] = status
    return {}


def attachment_get(server, request) -> dict:
    """``GET /attachment?filename=&content_type=&org_id=&key=|url=`` → ``{"downloadUrl", "status"}``."""
    for name in ("filename", "content_type"):
        if name not in request.query:
            raise ApiError(400, f"query parameter '{name}' is required")
    _require_org(server, request.query.get("org_id"))
    if request.query.get("url"):
        return {"downloadUrl": request.query["url"], "status": {"upload_status": "done"}}
    key = request.query.get("key")
    if key not in server.attachments:
        raise ApiError(404, f"attachment {key!r} not found")
    return {
        "downloadUrl": f"{server.url}/_objstore/attachments/{quote(key, safe='')}",
        "status": server.attachments[key]["status"],
    }


def environment_object_get(server, request, object_type: str, object_id: str, environment: str) -> dict:
    """``GET /environment-object/{type}/{id}/{environment}?org_name=`` → ``{"object_version"}``
    (braintrust-api.md §4: a dataset's ``environment=``); 404 when the environment is not set."""
    version = server.environment_objects.get((object_type, object_id, environment))
    if version is None:
        raise ApiError(404, f"{object_type} {object_id} has no version in environment {environment!r}")
    return {"object_type": object_type, "object_id": object_id, "environment": environment, "object_version": version}


def insert_functions(server, request) -> dict:
    """``POST /insert-functions`` ``{"functions": [definition, ...]}`` (``Project.publish()``):
    each definition needs a ``project_id`` and a ``slug``; answers their ids (stable per project
    and slug), and whether one existed. Each is stored as a function (a new version with
    ``if_exists: "replace"``; otherwise an existing one stays as it was)."""
    functions = _json_body(request).get("functions")
    if not isinstance(functions, list):
        raise ApiError(400, "insert-functions expects {\"functions\": [...]}")
    answers = []
    for definition in functions:
        if not isinstance(definition, dict) or not definition.get("project_id") or not definition.get("slug"):
            raise ApiError(400, f"a function definition needs project_id and slug, got {definition!r:.200}")
        with server._lock:
            existing = any(f["project_id"] == definition["project_id"] and f["slug"] == definition["slug"] for f in server.inserted_functions)
            server.inserted_functions.append(definition)
        stored = server.prompts.write({"name": definition["slug"], **definition}, replace=definition.get("if_exists") == "replace")
        answers.append({"id": stored["id"], "slug": definition["slug"],
                        "project_id": definition["project_id"], "found_existing": existing})
    return {"functions": answers}


# -- test controls ---------------------------------------------------------------------------


def control_stats(server, request) -> dict:
    """``GET /_test/stats`` (no auth) → ``{"rows_received", "requests", "bytes_received"}``."""
    return server.stats


def control_environment_object(server, request, object_type: str, object_id: str, environment: str) -> dict:
    """``POST /_test/environment-object/{type}/{id}/{environment}`` ``{"object_version"}`` (no
    auth): as ``server.set_environment_object`` (scenarios run in another process)."""
    server.set_environment_object(object_type, object_id, environment, _json_body(request)["object_version"])
    return {}


def control_reset(server, request) -> dict:
    """``POST /_test/reset`` (no auth): forget all state, as ``server.reset()``."""
    server.reset()
    return {}


_ID = r"([^/]+)"
ROUTES: list[tuple[str, re.Pattern, Callable]] = [
    (method, re.compile(f"^{pattern}$"), fn)
    for method, pattern, fn in [
        ("POST", "/api/apikey/login", login),
        ("GET", "/version", version),
        ("GET", "/ping", ping),
        ("POST", "/v1/project", project_create),
        ("GET", "/v1/project", project_list),
        ("GET", f"/v1/project/{_ID}", project_get),
        ("POST", "/v1/experiment", experiment_create),
        ("GET", "/v1/experiment", experiment_list),
        ("GET", f"/v1/experiment/{_ID}", experiment_get),
        ("POST", "/api/base_experiment/get_id", base_experiment_get_id),
        ("POST", f"/v1/experiment/{_ID}/fetch", experiment_fetch),
        ("GET", f"/v1/experiment/{_ID}/fetch", experiment_fetch),
        ("GET", f"/v1/experiment/{_ID}/summarize", experiment_summarize),
        ("POST", "/v1/prompt", prompt_create),
        ("PUT", "/v1/prompt", prompt_replace),
        ("GET", "/v1/prompt", prompt_list),
        ("GET", f"/v1/prompt/{_ID}", prompt_get),
        ("GET", "/v1/function", function_list),
        ("GET", f"/v1/function/{_ID}", prompt_get),
        ("POST", "/btql", btql),
        ("POST", "/v1/dataset", dataset_create),
        ("GET", "/v1/dataset", dataset_list),
        ("GET", f"/v1/dataset/{_ID}", dataset_get),
        ("POST", f"/v1/dataset/{_ID}/fetch", dataset_fetch),
        ("GET", f"/v1/dataset/{_ID}/fetch", dataset_fetch),
        ("GET", f"/v1/dataset/{_ID}/summarize", dataset_summarize),
        ("POST", "/logs3", logs3),
        ("POST", "/logs3/overflow", logs3_overflow),
        ("PUT", "/_objstore/(.+)", objstore_put),
        ("POST", "/_objstore/(.+)", objstore_put),
        ("GET", "/_objstore/(.+)", objstore_get),
        ("POST", "/function/invoke", function_invoke),
        ("POST", "/attachment", attachment_create),
        ("POST", "/attachment/status", attachment_status),
        ("GET", "/attachment", attachment_get),
        ("GET", f"/environment-object/{_ID}/{_ID}/{_ID}", environment_object_get),
        ("POST", "/insert-functions", insert_functions),
        ("GET", "/_test/stats", control_stats),
        ("POST", f"/_test/environment-object/{_ID}/{_ID}/{_ID}", control_environment_object),
        ("POST", "/_test/reset", control_reset),
    ]
]


def route(server, request) -> Response:
    """Run the endpoint for ``request``; 404 for unknown paths, 405 for a known path's wrong method."""
    path_known = False
    for method, pattern, fn in ROUTES:
        match = pattern.match(request.path)
        if match is None:
            continue
        path_known = True
        if method == request.method or (method == "GET" and request.method == "HEAD"):
            result = fn(server, request, *match.groups())
            return result if isinstance(result, Response) else Response(200, result)
    if path_known:
        raise ApiError(405, f"{request.method} is not allowed on {request.path}")
    raise ApiError(404, f"no endpoint {request.method} {request.path} on the Braintrust test server")
