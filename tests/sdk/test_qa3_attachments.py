"""Attachments beside the public SDK 0.48.1 (helper QA, round 3): what Braintrust hears about an
attachment that could not be stored, and how one reads back."""

from __future__ import annotations

import array
import io

import pytest

import braintrust
from braintrust import Attachment, BaseAttachment, ExternalAttachment, ReadonlyAttachment
from btserver import Step


def _requests(server, key):
    return [(r.method, r.path, r.json) for r in server.requests
            if r.path.startswith("/attachment") and (r.json or {}).get("key", r.query.get("key")) == key]


def test_a_file_gone_before_the_flush_is_reported_to_braintrust_as_0_48_1_reports_it(bt_env, tmp_path):
    """0.48.1 asks for the signed URL, fails to read the file, and posts the error status: the
    attachment's status then says why it has no bytes (it was unknown to Braintrust)."""
    path = tmp_path / "gone.txt"
    path.write_bytes(b"x")
    attachment = Attachment(data=str(path), filename="gone.txt", content_type="text/plain")
    braintrust.init_logger(project="att").log(input={"file": attachment})
    path.unlink()
    result = braintrust.flush()
    assert result.accepted == 1 and result.attachments_dropped == {"unreadable": 1}
    key = attachment.reference["key"]
    [create, status] = _requests(bt_env, key)
    assert create[:2] == ("POST", "/attachment") and create[2]["filename"] == "gone.txt"
    assert status[:2] == ("POST", "/attachment/status")
    assert status[2]["status"]["upload_status"] == "error"
    assert status[2]["status"]["error_message"].startswith("Failed to read file: ")
    assert str(path) in status[2]["status"]["error_message"]
    assert ReadonlyAttachment(attachment.reference).status() == status[2]["status"]


def test_upload_of_a_file_that_cannot_be_read_reports_the_error_status(bt_env, tmp_path):
    missing = tmp_path / "missing.bin"
    attachment = Attachment(data=missing, filename="missing.bin", content_type="application/octet-stream")
    status = attachment.upload()
    assert status["upload_status"] == "error" and status["error_message"].startswith("Failed to read file: ")
    assert [r[2]["status"] for r in _requests(bt_env, attachment.reference["key"]) if r[1] == "/attachment/status"] == [status]


@pytest.mark.parametrize("answer", [{"nope": 1}, {"signedUrl": None, "headers": {}}, "not json"],
                         ids=["no signedUrl", "null signedUrl", "not json"])
def test_a_signed_url_request_answered_without_one_posts_the_error_status(bt_env, tmp_path, monkeypatch, answer):
    """0.48.1 posts ``Invalid response from API server: ...`` as the attachment's status; the
    flush error names the attachment, and the bytes are spilled for replay."""
    monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(tmp_path / "spill"))
    body = answer.encode() if isinstance(answer, str) else answer
    bt_env.fail_always("POST", "/attachment", Step(status=200, body=body))
    attachment = Attachment(data=b"abc", filename="a.txt", content_type="text/plain")
    braintrust.init_logger(project="att").log(input=attachment)
    result = braintrust.flush()
    assert result.attachments_spilled == 1
    assert any("could not upload attachment 'a.txt'" in error for error in result.errors), result.errors
    [status] = [r[2]["status"] for r in _requests(bt_env, attachment.reference["key"]) if r[1] == "/attachment/status"]
    assert status["upload_status"] == "error" and status["error_message"].startswith("Invalid response from API server: ")


@pytest.mark.parametrize("data", [memoryview(b"bytes-like"), io.BytesIO(b"bytes-like").getbuffer(),
                                  array.array("B", b"bytes-like"), bytearray(b"bytes-like")],
                         ids=["memoryview", "getbuffer", "array", "bytearray"])
def test_bytes_like_data_is_taken_as_0_48_1_takes_it(bt_env, data):
    attachment = Attachment(data=data, filename="b.bin", content_type="application/octet-stream")
    braintrust.init_logger(project="att").log(input=attachment)
    assert braintrust.flush().attachments_stored == 1
    assert bt_env.attachment_data(attachment.reference["key"]) == b"bytes-like"


@pytest.mark.parametrize("data", [5, None, ["a"], io.BytesIO(b"x")], ids=["int", "None", "list", "BytesIO"])
def test_data_that_is_neither_bytes_nor_a_path_is_refused_when_made(data):
    with pytest.raises(TypeError, match="Attachment data must be bytes .* or a file path, not "):
        Attachment(data=data, filename="b.bin", content_type="application/octet-stream")


def test_an_external_attachments_bytes_are_fetched_once(bt_env):
    """0.48.1 fetches them on first access and keeps them (a lazy value)."""
    bt_env.objstore["external/report.pdf"] = b"%PDF external"
    url = f"{bt_env.url}/_objstore/external/report.pdf"
    external = ExternalAttachment(url=url, filename="report.pdf", content_type="application/pdf")
    assert external.data == b"%PDF external" and external.data == b"%PDF external"
    assert len(bt_env.requests_to("/attachment", "GET")) == 1
    assert len(bt_env.requests_to("/_objstore/external/report.pdf", "GET")) == 1


def test_the_attachment_names_0_48_1_offers_in_braintrust_logger():
    import braintrust.logger

    for name in ("Attachment", "AttachmentMetadata", "AttachmentReference", "AttachmentStatus", "BaseAttachment",
                 "ExternalAttachment", "JSONAttachment", "ReadonlyAttachment"):
        assert getattr(braintrust.logger, name) is getattr(braintrust, name), name


class _OwnKind(BaseAttachment):
    """An attachment kind of the caller's own, as 0.48.1's abstract BaseAttachment allows: it
    stores its bytes itself (here, in a list) when ``upload()`` is called."""

    def __init__(self, stored: list, fail: bool = False):
        self._stored, self._fail = stored, fail

    @property
    def reference(self):
        return {"type": "external_attachment", "filename": "own.txt", "content_type": "text/plain",
                "url": "https://example.com/own.txt"}

    @property
    def data(self):
        return b"own bytes"

    def upload(self):
        if self._fail:
            raise OSError("bucket unreachable")
        self._stored.append(self.data)
        return {"upload_status": "done"}

    def debug_info(self):
        return {"reference": self.reference}


def test_an_attachment_of_the_callers_own_kind_is_uploaded_after_its_rows(bt_env):
    stored: list = []
    own = _OwnKind(stored)
    braintrust.init_logger(project="att").log(input={"file": own}, output=[own])
    assert stored == []  # (not while logging)
    result = braintrust.flush()
    assert stored == [b"own bytes"] and result.ok and result.attachments_stored == 1
    assert bt_env.rows("project_logs", bt_env.projects()[0]["id"])[0]["input"] == {"file": own.reference}
    assert not bt_env.requests_to("/attachment", "POST")


def test_an_own_kind_whose_upload_fails_is_counted_and_named(bt_env):
    braintrust.init_logger(project="att").log(input=_OwnKind([], fail=True))
    result = braintrust.flush()
    assert result.accepted == 1 and result.attachments_dropped == {"upload_failed": 1}
    assert any("_OwnKind could not be stored: upload() raised OSError: bucket unreachable" in e for e in result.errors), result.errors


def test_an_own_kind_still_uploading_at_the_flush_deadline_is_counted_not_a_crash():
    from braintrust.delivery.attachment_delivery import _outcome_at_deadline

    outcome = _outcome_at_deadline([_OwnKind([])])
    assert outcome.stored == 0 and not outcome.unstored
    assert outcome.upload_failed == ["attachment _OwnKind: its upload() was still running when the flush deadline came"]
