"""Reading an attachment back from its reference, for ``ReadonlyAttachment``.

With a key (and not ``BRAINTRUST_LOCAL``): ``GET /attachment?filename=&content_type=&org_id=&key=``
(``url=`` for an external attachment) answers ``{"downloadUrl", "status"}``; the bytes are a
plain ``GET`` of that URL, without the API key. Without a key, from the local store. An external
attachment is always read from its URL.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import requests

from braintrust.delivery.deadline import Deadline
from braintrust.state import global_state

__all__ = ["AttachmentConnectionError", "AttachmentHTTPError", "attachment_metadata", "read_attachment"]

READ_DEADLINE_SECONDS = 60.0


class AttachmentHTTPError(requests.HTTPError, RuntimeError):
    """``GET /attachment`` answered an error status: a ``requests.HTTPError``, as 0.48.1 raises
    it there (and a ``RuntimeError``, as the other failures of reading one back)."""


class AttachmentConnectionError(requests.ConnectionError, RuntimeError):
    """``GET /attachment`` got no answer: a ``requests.ConnectionError``, as 0.48.1 raises it."""


def attachment_metadata(reference: Mapping[str, Any]) -> dict[str, Any]:
    """``{"downloadUrl", "status"}`` for ``reference``."""
    _check_reference(reference)
    state = global_state()
    if state.is_local():
        if reference["type"] == "external_attachment":
            return {"downloadUrl": reference["url"], "status": {"upload_status": "done"}}
        stored = _local_attachment(reference)
        return {"downloadUrl": f"{stored['path'].as_uri()}#attachment={reference['key']}", "status": {"upload_status": "done"}}
    deadline = Deadline(READ_DEADLINE_SECONDS)
    state.login(deadline)
    params = {"filename": reference["filename"], "content_type": reference["content_type"], "org_id": state.org_id}
    if reference["type"] == "external_attachment":
        params["url"] = reference["url"]
    else:
        params["key"] = reference["key"]
    from braintrust.delivery.http_client import HttpError, TransportError

    try:
        answer = state.http_client().request("GET", f"{state.api_url}/attachment", deadline, params=params).json()
    except HttpError as exc:
        raise AttachmentHTTPError(f"Couldn't read attachment {reference['filename']!r}: {exc}",
                                  response=_answer(exc, f"{state.api_url}/attachment")) from None
    except TransportError as exc:
        raise AttachmentConnectionError(f"Couldn't read attachment {reference['filename']!r}: {exc}") from None
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("downloadUrl"), str) or not isinstance(answer.get("status"), dict):
        raise RuntimeError(f"Invalid response from API server for attachment {reference['filename']!r}: {answer!r}")
    return answer


def read_attachment(reference: Mapping[str, Any]) -> bytes:
    """The attachment's bytes."""
    _check_reference(reference)
    if global_state().is_local() and reference["type"] == "braintrust_attachment":
        return _local_attachment(reference)["data"]
    metadata = attachment_metadata(reference)
    status = metadata["status"].get("upload_status")
    if status != "done":
        raise RuntimeError(f'Couldn\'t download attachment {reference["filename"]!r}: Expected attachment status "done", got "{status}"'
                           + (f" ({metadata['status']['error_message']})" if metadata["status"].get("error_message") else ""))
    try:
        response = requests.get(metadata["downloadUrl"], timeout=READ_DEADLINE_SECONDS)
        response.raise_for_status()
    except requests.RequestException as exc:
        raise RuntimeError(f"Couldn't download attachment {reference['filename']!r}: {_without_queries(str(exc))}") from None
    return response.content


def _answer(error: Any, url: str) -> requests.Response:
    """The error answer as a ``requests.Response`` (``status_code``, ``text``, ``url``): what
    code written for 0.48.1 reads from ``HTTPError.response``."""
    response = requests.Response()
    response.status_code = error.status
    response._content = str(error.body).encode("utf-8")
    response.url = url
    return response


def _check_reference(reference: Mapping[str, Any]) -> None:
    """``ValueError`` naming what a reference lacks to be read (it is data, and may be incomplete)."""
    where = "key" if reference["type"] == "braintrust_attachment" else "url"
    missing = [name for name in ("filename", "content_type", where) if not isinstance(reference.get(name), str)]
    if missing:
        raise ValueError(f"Cannot read attachment {dict(reference)!r:.200}: its reference lacks {', '.join(missing)} "
                         "(a reference as logged has type, filename, content_type and key or url).")


def _without_queries(message: str) -> str:
    """``message`` with the query of every URL in it hidden: a signed URL's signature (and, on S3,
    a session token) is a credential, which must not reach logs."""
    return re.sub(r"\?[^\s'\"]+", "?<query hidden>", message)


def _local_attachment(reference: Mapping[str, Any]) -> dict[str, Any]:
    from braintrust.store.sqlite_store import LocalStore

    with LocalStore() as store:
        stored = store.get_attachment(reference["key"])
        path = store.path
    if stored is None:
        raise RuntimeError(
            f"Couldn't read attachment {reference['filename']!r}: the local store {path} has no attachment with key "
            f"{reference['key']}. It may still be pending (call braintrust.flush() first), or it went to another store "
            "or to Braintrust (set BRAINTRUST_API_KEY to read it there)."
        )
    return {**stored, "path": path}
