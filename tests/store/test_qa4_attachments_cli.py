"""Attachments beside the public SDK 0.48.1 (helper QA, round 4): what reading one back raises
when Braintrust answers an error, what ``upload()`` and ``status`` say once a flush failed to
store it, and how a flush's deadline counts one whose earlier ``upload()`` failed.

Both were observed by running the same script with 0.48.1 and with ours against the loopback
test server: 0.48.1's ``ReadonlyAttachment.metadata()`` raises ``requests.HTTPError`` (from
``raise_for_status()``) on a non-2xx answer; its ``Attachment.upload()`` is computed once, so
after the flush's failed upload it answers that error again and sends nothing.
"""

from __future__ import annotations

import json

import pytest
import requests

import braintrust
from braintrust import Attachment, ReadonlyAttachment


def _attachment_requests(server) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in server.requests if "attachment" in r.path]


def test_reading_back_a_key_braintrust_does_not_know_raises_requests_http_error(bt_env):
    """Code written for 0.48.1 catches ``requests.HTTPError`` and reads ``response.status_code``;
    the error stays a ``RuntimeError`` too, as the other failures of reading one back are."""
    reference = {"type": "braintrust_attachment", "key": "no-such-key", "filename": "x.txt", "content_type": "text/plain"}
    for read in (lambda a: a.status(), lambda a: a.metadata(), lambda a: a.data):
        with pytest.raises(requests.HTTPError) as raised:
            read(ReadonlyAttachment(reference))
        assert isinstance(raised.value, RuntimeError)
        assert raised.value.response is not None and raised.value.response.status_code == 404
        assert "no-such-key" in raised.value.response.text
        assert "x.txt" in str(raised.value) and "404" in str(raised.value)


def test_reading_back_with_no_answer_raises_requests_connection_error(bt_env, monkeypatch):
    bt_env.fail_always("GET", "/attachment", {"reset": True})
    monkeypatch.setattr("braintrust.attachments.reading.READ_DEADLINE_SECONDS", 0.5)
    reference = {"type": "braintrust_attachment", "key": "k", "filename": "x.txt", "content_type": "text/plain"}
    with pytest.raises(requests.ConnectionError) as raised:
        ReadonlyAttachment(reference).status()
    assert isinstance(raised.value, RuntimeError) and "x.txt" in str(raised.value)


def test_upload_after_a_flush_that_could_not_store_it_answers_that_error_and_sends_nothing(bt_env, tmp_path, monkeypatch):
    """Before: ``upload()`` sent the bytes again (three more requests 0.48.1 never sends), the
    retry stayed pending when it failed, and the exit flush spilled the same bytes a second
    time: one attachment counted as two spilled, in two spill files."""
    spill = tmp_path / "spill"
    monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(spill))
    bt_env.fail_always("PUT", "/_objstore/*", 403)
    attachment = Attachment(data=b"abc", filename="a.txt", content_type="text/plain")
    braintrust.init_logger(project="att").log(input=attachment)
    first = braintrust.flush()
    assert first.attachments_spilled == 1 and first.attachments_stored == 0
    sent = _attachment_requests(bt_env)
    assert sent == [("POST", "/attachment"), ("PUT", f"/_objstore/attachments/{attachment.reference['key']}"),
                    ("POST", "/attachment/status")]
    spill_files = sorted(spill.iterdir())

    status = attachment.upload()
    assert status["upload_status"] == "error" and "403" in status["error_message"]
    assert attachment.status == status and attachment.upload() == status
    braintrust.flush()
    assert _attachment_requests(bt_env) == sent
    assert sorted(spill.iterdir()) == spill_files


def test_an_attachment_stored_after_an_earlier_failure_reads_done(bt_env, tmp_path, monkeypatch):
    """The error kept after a failed flush does not hide a later success (``upload()`` that
    failed first, then the processor storing it, still ends ``done``)."""
    monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(tmp_path / "spill"))
    bt_env.fail_always("PUT", "/_objstore/*", 403)
    attachment = Attachment(data=b"abc", filename="a.txt", content_type="text/plain")
    assert attachment.upload()["upload_status"] == "error"
    bt_env.clear_faults()
    braintrust.init_logger(project="att").log(input=attachment)
    assert braintrust.flush().attachments_stored == 1
    assert attachment.status == {"upload_status": "done"}
    assert bt_env.attachment_data(attachment.reference["key"]) == b"abc"
    assert ReadonlyAttachment(attachment.reference).data == b"abc"


def test_a_file_that_cannot_be_read_answers_the_status_braintrust_was_told(bt_env, tmp_path):
    """0.48.1's ``upload()`` answers exactly the status it posted (``Failed to read file: ...``);
    ours answered it with a prefix of its own, so the two disagreed."""
    path = tmp_path / "gone.txt"
    path.write_bytes(b"x")
    attachment = Attachment(data=str(path), filename="gone.txt", content_type="text/plain")
    braintrust.init_logger(project="att").log(input=attachment)
    path.unlink()
    assert braintrust.flush().attachments_dropped == {"unreadable": 1}
    [posted] = [r.json["status"] for r in bt_env.requests_to("/attachment/status", "POST")]
    assert posted["error_message"].startswith("Failed to read file: ")
    assert attachment.status == posted and attachment.upload() == posted
    assert ReadonlyAttachment(attachment.reference).status() == posted


def test_an_upload_that_failed_then_was_still_being_stored_at_the_deadline_keeps_its_bytes(bt_env, tmp_path, monkeypatch):
    """``upload()`` failed (Braintrust refused the bytes), so the attachment's status is an error;
    the processor was storing it again when a flush's deadline came. The flush took that error
    for an unreadable file: counted as dropped, its bytes (readable all along) lost."""
    from btserver import Step

    monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(tmp_path / "spill"))
    bt_env.fail_always("PUT", "/_objstore/*", 403)
    attachment = Attachment(data=b"kept", filename="k.bin", content_type="application/octet-stream")
    assert attachment.upload()["upload_status"] == "error"
    bt_env.clear_faults()
    bt_env.fail_always("PUT", "/_objstore/*", Step(delay_seconds=6))
    braintrust.init_logger(project="att").log(input=attachment)
    bt_env.wait_for(lambda: len(bt_env.requests_to("/attachment", "POST")) == 2, timeout=10)  # the sender is storing it
    result = braintrust.flush(timeout=1.0)
    assert (result.attachments_spilled, result.attachments_dropped) == (1, {}), result
    [spilled] = result.spill_files
    [kept] = json.loads(open(spilled, encoding="utf-8").read())["attachments"]
    assert kept["reference"]["key"] == attachment.reference["key"]
