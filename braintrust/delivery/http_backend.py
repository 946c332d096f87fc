"""``HttpBackend``: rows to the Braintrust API (``/logs3``), objects via ``/v1/*``.

Splits a batch on 413, uploads a payload over the server's advertised limit through
``/logs3/overflow``, stops sending after 401/403 (one clear error; the rest spills), and never
retries other 4xx. Everything runs under the deadline it is given.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from typing import Any, Iterator

from braintrust.config import DEFAULT_MAX_REQUEST_BYTES, DeliverySettings, secret
from braintrust.delivery.backend import (
    DATASET, EXPERIMENT, PROJECT_LOGS, BackendError, Deadline, ExportResult, KeyRefused, ObjectRef, backend_error,
)
from braintrust.delivery.http_client import HttpError, TransportError
from braintrust.delivery.payload_copies import PayloadCopies
from braintrust.state import LOCK_GRACE_SECONDS, BraintrustState, LoginError
from braintrust.tracing.record import OBJECT_ID_FIELDS

#: How long a project's registration answer is reused by later loggers (0.48.1's 15 minutes).
PROJECT_CACHE_SECONDS = 15 * 60

_ENVELOPE_BYTES = len('{"rows": [], "api_version": 2}')


_PAYLOAD_HEAD = b'{"rows": ['
_PAYLOAD_TAIL = b'], "api_version": 2}'


def logs3_payload(encoded: list[bytes]) -> bytes:
    if len(encoded) < 2:
        return _PAYLOAD_HEAD + b"".join(encoded) + _PAYLOAD_TAIL
    # One join, so the rows are copied once (a body is ~100 rows of a few KB each).
    return b",".join([_PAYLOAD_HEAD + encoded[0], *encoded[1:-1], encoded[-1] + _PAYLOAD_TAIL])


def _failure_reason(exc: Exception) -> str:
    if isinstance(exc, HttpError):
        if exc.status in (401, 403):
            return "auth"
        if exc.status == 413:
            return "http_413"
        if exc.deadline_reached:
            return "deadline"
        return f"http_{exc.status // 100}xx"
    if isinstance(exc, TransportError):
        return exc.reason
    if isinstance(exc, LoginError):
        return exc.reason
    return "error"


def checked_object(answer: Any, request: str) -> dict[str, Any]:
    """``answer`` when it is a JSON object with a string ``id``, else a ``BackendError``."""
    if isinstance(answer, dict) and isinstance(answer.get("id"), str) and answer["id"]:
        return answer
    what = "an object without a string id" if isinstance(answer, dict) else f"a JSON {type(answer).__name__}"
    raise BackendError(
        f"{request} answered {what} where an object with an id belongs; "
        "is BRAINTRUST_API_URL (or the api_url login returned) the Braintrust API?",
        "bad_response",
    )


class HttpBackend:
    def __init__(self, state: BraintrustState, settings: DeliverySettings):
        self.state = state
        self.settings = settings
        self._lock = threading.Lock()
        self._payload_limit: int | None = None
        self._overflow_enabled = False
        self._stopped: tuple[str, str | None] | None = None  # (error, the key that was refused)
        self._copies = PayloadCopies(settings.payload_copy_dir) if settings.payload_copy_dir else None
        self._projects: dict[tuple, tuple[float, dict[str, Any]]] = {}  # see _logs_project

    @property
    def stopped_error(self) -> str | None:
        """Why sending stopped (a refused key); cleared once a different key is configured
        (``login(api_key=..., force_login=True)``)."""
        if self._stopped is not None and self._stopped[1] != self.state.api_key():
            self._stopped = None
        return self._stopped[0] if self._stopped is not None else None

    @stopped_error.setter
    def stopped_error(self, message: str | None) -> None:
        self._stopped = (message, secret(self.state.api_key())) if message is not None else None

    @property
    def label(self) -> str:
        return self.state.api_url or self.state.app_url()

    def describe(self) -> dict[str, Any]:
        return self.state.target_description()

    # -- objects -------------------------------------------------------------------------------

    def _login(self, deadline: Deadline) -> None:
        try:
            self.state.login(deadline)
        except LoginError as exc:
            if exc.reason == "auth":
                self.stopped_error = str(exc)
            raise backend_error(str(exc), exc.reason) from None

    def _call(self, method: str, path: str, deadline: Deadline, *, body: Any = None, params: dict | None = None, retry: bool = True) -> Any:
        self._login(deadline)
        client = self.state.http_client()
        try:
            response = client.request(method, f"{self.state.api_url}{path}", deadline, json_body=body, params=params, retry=retry)
        except (HttpError, TransportError) as exc:
            reason = _failure_reason(exc)
            if reason == "auth":
                self.stopped_error = f"Braintrust refused the API key ({exc})."
            raise backend_error(str(exc), reason) from None
        try:
            return response.json()
        except ValueError:
            raise BackendError(f"{method} {path} answered {response.status_code} with a body that is not JSON", "bad_response") from None

    def _call_object(self, method: str, path: str, deadline: Deadline, **kwargs: Any) -> dict[str, Any]:
        """``_call`` for an endpoint that answers one object (a project, experiment, dataset)."""
        return checked_object(self._call(method, path, deadline, **kwargs), f"{method} {path}")

    @contextlib.contextmanager
    def _holding_lock(self, deadline: Deadline, purpose: str) -> Iterator[None]:
        """``_lock``, waited for no longer than ``deadline`` (``LOCK_GRACE_SECONDS`` at least):
        another thread holds it through its requests (registering an object, asking the
        payload limit), and a name lookup there is bounded by no timeout. Past the deadline,
        a ``BackendError`` (reason ``deadline``) says so."""
        remaining = deadline.remaining()
        if remaining >= threading.TIMEOUT_MAX:
            acquired = self._lock.acquire()
        else:
            acquired = self._lock.acquire(timeout=max(LOCK_GRACE_SECONDS, remaining))
        if not acquired:
            raise BackendError(
                f"Could not {purpose} at {self.label} before the deadline: another thread's request to Braintrust "
                "has taken longer (a name lookup or connection that does not end?); check the network and "
                "BRAINTRUST_APP_URL (to work offline, set BRAINTRUST_LOCAL=1 and rows go to the local store)",
                "deadline",
            )
        try:
            yield
        finally:
            self._lock.release()

    def resolve(self, ref: ObjectRef, deadline: Deadline) -> dict[str, str]:
        if ref.ids:
            return ref.ids
        with self._holding_lock(deadline, f"register the {'project' if ref.object_type == PROJECT_LOGS else ref.object_type}"):
            if ref.ids:
                return ref.ids
            if self.stopped_error:
                raise KeyRefused(self.stopped_error)
            self._login(deadline)
            if ref.object_type == PROJECT_LOGS:
                project = self._logs_project(ref.create_args, deadline)
                ref.info.update(project_id=project["id"], project_name=project.get("name"), project_record=project)
                ref.ids = {"project_id": project["id"], "log_id": "g"}
            elif ref.object_type in (EXPERIMENT, DATASET):
                from braintrust.delivery.http_objects import resolve_object

                resolve_object(self, ref, deadline)
            else:
                raise BackendError(f"cannot resolve objects of type {ref.object_type!r}", "unsupported")
            return ref.ids

    def _project(self, args: dict[str, Any], deadline: Deadline) -> dict[str, Any]:
        name, project_id = args.get("project_name"), args.get("project_id")
        if project_id and name:
            return {"id": project_id, "name": name}
        if project_id:
            return self._call_object("GET", f"/v1/project/{project_id}", deadline)
        body = {"name": name or "Global", "org_name": self.state.org_name}
        if args.get("project_group_name"):  # a new project goes into this group
            body["project_group_name"] = args["project_group_name"]
        return self._call_object("POST", "/v1/project", deadline, body=body)

    def _logs_project(self, args: dict[str, Any], deadline: Deadline) -> dict[str, Any]:
        """``_project`` for project logs, its answer kept per server, org and key for a while as
        0.48.1 keeps it: a logger made per request registers its project once, not per logger.
        (0.48.1 keeps no such answer for experiments and datasets.)"""
        project_id = args.get("project_id")
        if project_id and args.get("project_name"):  # (no request to keep)
            return self._project(args, deadline)
        key = (self.state.api_url, self.state.org_id, secret(self.state.api_key()), project_id,
               None if project_id else args.get("project_name") or "Global",
               None if project_id else args.get("project_group_name"))
        cached = self._projects.get(key)
        if cached is not None and time.monotonic() < cached[0]:
            return dict(cached[1])
        project = self._project(args, deadline)
        if len(self._projects) >= 1000:
            self._projects.clear()
        self._projects[key] = (time.monotonic() + PROJECT_CACHE_SECONDS, dict(project))
        return project

    # -- rows ----------------------------------------------------------------------------------

    def max_batch_rows(self, configured: int) -> int:
        return configured

    def max_batch_bytes(self, deadline: Deadline) -> int:
        if self._payload_limit is None:
            with self._holding_lock(deadline, "ask the payload limit"):
                if self._payload_limit is None:
                    self._discover_limit(deadline)
        limit = self._payload_limit or DEFAULT_MAX_REQUEST_BYTES
        if self.settings.max_request_bytes:
            limit = min(limit, self.settings.max_request_bytes)
        return limit - _ENVELOPE_BYTES

    def _discover_limit(self, deadline: Deadline) -> None:
        try:
            info = self._call("GET", "/version", deadline)
        except BackendError as exc:
            if exc.reason.startswith("http_4"):
                # A server without /version (404...): it advertises no limit, and asking again
                # would not change that.
                self._payload_limit = DEFAULT_MAX_REQUEST_BYTES
            return  # otherwise try again next batch; use the default meanwhile
        advertised = info.get("logs3_payload_max_bytes") if isinstance(info, dict) else None
        if type(advertised) in (int, float) and math.isfinite(advertised) and advertised >= 1:
            self._payload_limit = int(advertised)
            self._overflow_enabled = True
        else:
            self._payload_limit = DEFAULT_MAX_REQUEST_BYTES

    def export(self, rows: list[dict[str, Any]], encoded: list[bytes], deadline: Deadline) -> ExportResult:
        result = ExportResult()
        if self.stopped_error:
            result.failed = [(row, "auth") for row in rows]
            result.error = self.stopped_error
            return result
        try:
            self._login(deadline)
            limit = self.max_batch_bytes(deadline) + _ENVELOPE_BYTES
        except BackendError as exc:
            result.failed = [(row, exc.reason) for row in rows]
            result.error = str(exc)
            return result
        self._send(rows, encoded, deadline, limit, result)
        return result

    def _send(self, rows: list[dict], encoded: list[bytes], deadline: Deadline, limit: int, result: ExportResult) -> None:
        if self.stopped_error:
            result.failed.extend((row, "auth") for row in rows)
            return
        payload = logs3_payload(encoded)
        try:
            if len(payload) > limit and len(rows) > 1:
                raise HttpError("POST", "/logs3", 413, "batch over the payload limit (split locally)")
            if self._copies is not None:
                self._copies.write(payload)
            if len(payload) > limit and self._overflow_enabled:
                self._send_overflow(rows, encoded, payload, deadline)
            else:
                self._post_logs3(payload, deadline)
            result.accepted += len(rows)
        except HttpError as exc:
            if exc.status == 413 and len(rows) > 1:
                middle = len(rows) // 2
                self._send(rows[:middle], encoded[:middle], deadline, limit, result)
                self._send(rows[middle:], encoded[middle:], deadline, limit, result)
                return
            if exc.status == 413 and self._overflow_enabled and len(payload) <= limit:
                try:
                    self._send_overflow(rows, encoded, payload, deadline)
                    result.accepted += len(rows)
                    return
                except (HttpError, TransportError, BackendError) as overflow_exc:
                    exc = overflow_exc  # type: ignore[assignment]
            self._record_failure(rows, exc, result)
        except (TransportError, BackendError) as exc:
            self._record_failure(rows, exc, result)

    def _record_failure(self, rows: list[dict], exc: Exception, result: ExportResult) -> None:
        reason = exc.reason if isinstance(exc, BackendError) else _failure_reason(exc)
        if reason == "auth" and not self.stopped_error:
            self.stopped_error = (
                f"Braintrust refused the API key ({exc}); no more rows will be sent this run. "
                "Check BRAINTRUST_API_KEY; the rows are spilled for `braintrust replay`."
            )
        result.failed.extend((row, reason) for row in rows)
        result.error = self.stopped_error if reason == "auth" else str(exc)

    def _post_logs3(self, payload: bytes, deadline: Deadline) -> None:
        client = self.state.http_client()
        client.post(f"{self.state.api_url}/logs3", payload, deadline)

    def _send_overflow(self, rows: list[dict], encoded: list[bytes], payload: bytes, deadline: Deadline) -> None:
        """Upload the payload to object storage, then post a reference to it."""
        client = self.state.http_client()
        descriptors = [
            {
                "object_ids": {k: row[k] for k in OBJECT_ID_FIELDS if row.get(k) is not None},
                "has_comment": "comment" in row,
                "is_delete": row.get("_object_delete") is True,
                "input_row": {"byte_size": len(data)},
            }
            for row, data in zip(rows, encoded)
        ]
        request = {"content_type": "application/json", "size_bytes": len(payload), "rows": descriptors}
        answer = client.request("POST", f"{self.state.api_url}/logs3/overflow", deadline, json_body=request)
        try:
            upload = answer.json()
            url, key = upload["signedUrl"], upload["key"]
            method = str(upload.get("method") or "PUT").upper()
            headers = {str(k): str(v) for k, v in dict(upload.get("headers") or {}).items()}
            fields = dict(upload.get("fields") or {})
        except (ValueError, TypeError, KeyError, AttributeError):
            raise BackendError("POST /logs3/overflow answered without a usable signedUrl and key", "bad_response") from None
        # A signed URL carries its own authorisation: never the API key (authenticate=False).
        if method == "POST":
            # (a form upload: the file part's type is the one its fields sign, as 0.48.1 sends it)
            files = {"file": ("logs3.json", payload, str(fields.get("Content-Type") or "application/json"))}
            form_headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            client.request("POST", url, deadline, data=fields, files=files, headers=form_headers, authenticate=False)
        else:
            if "blob.core.windows.net" in url:
                headers["x-ms-blob-type"] = "BlockBlob"
            client.request("PUT", url, deadline, data=payload, headers=headers, authenticate=False)
        # The reference is JSON sent as JSON (with its Content-Type), as 0.48.1 posts it; only
        # the row payloads themselves go without one.
        reference = {"rows": {"type": "logs3_overflow", "key": key, "size_bytes": len(payload)}, "api_version": 2}
        client.request("POST", f"{self.state.api_url}/logs3", deadline, json_body=reference)

    # -- attachments ------------------------------------------------------------------------------

    def store_attachment(self, reference: dict[str, Any], data: bytes, deadline: Deadline) -> None:
        """``POST /attachment`` for a signed URL, ``PUT`` the bytes there (never with the API
        key), then ``POST /attachment/status`` done; a failure posts the error status too."""
        if self.stopped_error:
            raise KeyRefused(self.stopped_error)
        self._login(deadline)
        client = self.state.http_client()
        key = reference["key"]
        request = {"key": key, "filename": reference["filename"], "content_type": reference["content_type"], "org_id": self.state.org_id}
        try:
            answer = client.request("POST", f"{self.state.api_url}/attachment", deadline, json_body=request)
            upload = answer.json()
            url = upload["signedUrl"]
            if not isinstance(url, str) or not url:
                raise ValueError(url)
            headers = {str(k): str(v) for k, v in dict(upload.get("headers") or {}).items()}
        except (HttpError, TransportError) as exc:
            self._attachment_failed(key, f"Failed to request signed URL from API server: {exc}", deadline)
            raise BackendError(f"could not upload attachment {reference['filename']!r}: {exc}", _failure_reason(exc)) from None
        except (ValueError, TypeError, KeyError, AttributeError):
            self._attachment_failed(key, f"Invalid response from API server: {str(answer.text)[:500]}", deadline)
            raise BackendError(f"could not upload attachment {reference['filename']!r}: POST /attachment answered "
                               "without a usable signedUrl", "bad_response") from None
        if "blob.core.windows.net" in url:
            headers["x-ms-blob-type"] = "BlockBlob"
        try:
            client.request("PUT", url, deadline, data=data, headers=headers, authenticate=False)
        except (HttpError, TransportError) as exc:
            self._attachment_failed(key, f"Failed to upload attachment to object store: {exc}", deadline)
            raise BackendError(f"could not upload attachment {reference['filename']!r}: {exc}", _failure_reason(exc)) from None
        status = {"key": key, "org_id": self.state.org_id, "status": {"upload_status": "done"}}
        self._call("POST", "/attachment/status", deadline, body=status)

    def attachment_unreadable(self, reference: dict[str, Any], message: str, deadline: Deadline) -> None:
        """An attachment whose file cannot be read: Braintrust hears of it as from the public SDK
        (which asks for the signed URL before reading, then posts the error status), so its
        status says why it has no bytes. Best effort: nothing raises."""
        if self.stopped_error or deadline.expired():
            return
        request = {"key": reference["key"], "filename": reference["filename"], "content_type": reference["content_type"]}
        try:
            self._call("POST", "/attachment", deadline, body={**request, "org_id": self.state.org_id}, retry=False)
        except BackendError:
            pass
        self._attachment_failed(reference["key"], message, deadline)

    def _attachment_failed(self, key: str, message: str, deadline: Deadline) -> None:
        """Tell Braintrust the upload failed, as the public SDK does (best effort: the bytes are
        spilled for ``braintrust replay`` whatever the answer)."""
        if deadline.expired():
            return
        body = {"key": key, "org_id": self.state.org_id, "status": {"upload_status": "error", "error_message": message}}
        try:
            self._call("POST", "/attachment/status", deadline, body=body, retry=False)
        except BackendError:
            pass

    def close(self) -> None:
        pass
