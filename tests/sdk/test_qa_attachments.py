"""Attachments given hostile inputs: names that point outside a folder, files that are pipes or
devices, paths that vanish while memory is over its bound, names that are not strings (or a
content type with a line break), references that lack fields, and download errors that would
show a signed URL; and JSON attachments of values JSON cannot hold as they are."""

from __future__ import annotations

import datetime
import io
import json
import os
import subprocess
import sys
import textwrap

import pytest

import braintrust
from braintrust import Attachment, ExternalAttachment, JSONAttachment, ReadonlyAttachment
from braintrust.attachments import pending
from braintrust.cli.attachment_command import save_attachment
from braintrust.delivery import runtime
from braintrust.store.sqlite_store import LocalStore
from btserver import Step


def test_saving_into_a_folder_never_writes_outside_it(tmp_path):
    hostile = ["../escaped.txt", str(tmp_path / "absolute.txt"), "..", "", "a\\..\\..\\win.txt", "bell\x07\x1b[2J.txt"]
    store_path = tmp_path / "store" / "braintrust.sqlite"
    store_path.parent.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    with LocalStore(store_path) as local:
        for index, name in enumerate(hostile):
            local.put_attachment(f"{index}0000000-key", name, "text/plain", f"bytes {index}".encode())
        for index in range(len(hostile)):
            err = io.StringIO()
            assert save_attachment(local, f"{index}0000000", str(out), io.BytesIO(), err, False) == 0
            assert "\x1b" not in err.getvalue()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "store"]  # nothing escaped the folder
    assert sorted(p.name for p in out.iterdir()) == [
        "absolute.txt", "attachment-20000000", "attachment-30000000", "bell[2J.txt", "escaped.txt", "win.txt"]
    assert (out / "escaped.txt").read_bytes() == b"bytes 0"


def test_a_pipe_or_a_device_is_refused_not_waited_on(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    script = textwrap.dedent(f"""
        import braintrust
        logger = braintrust.init_logger(project="att")
        logger.log(input=braintrust.Attachment(data={str(fifo)!r}, filename="pipe", content_type="text/plain"))
        logger.log(input=braintrust.Attachment(data="/dev/zero", filename="zero", content_type="text/plain"))
        result = braintrust.flush(timeout=5)
        print(result.accepted, result.attachments_dropped, result.errors)
    """)
    env = {**os.environ, "BRAINTRUST_LOCAL_DIR": str(tmp_path / "store")}
    try:
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("flush() waited on a pipe (or read /dev/zero) past its deadline")
    assert done.returncode == 0, done.stderr
    assert "2 {'unreadable': 2}" in done.stdout
    assert "not a regular file (a folder, a pipe or a device)" in done.stdout
    assert f"cannot read {fifo}" in done.stderr  # named when the attachment was made


def test_memory_over_its_bound_spills_bytes_and_leaves_files_pending(bt_logs, tmp_path, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(tmp_path / "spill"))
    runtime.get_processor()
    monkeypatch.setattr(pending, "_limit_bytes", 1000)
    on_disk = tmp_path / "on_disk.txt"
    on_disk.write_bytes(b"file bytes")
    missing = Attachment(data=tmp_path / "missing.bin", filename="missing.bin", content_type="application/octet-stream")
    present = Attachment(data=on_disk, filename="on_disk.txt", content_type="text/plain")
    big = Attachment(data=b"x" * 2000, filename="big.bin", content_type="application/octet-stream")
    logger = braintrust.init_logger(project="att")
    logger.log(input={"missing": missing, "present": present})
    logger.log(input={"big": big})
    result = braintrust.flush()
    # every attachment is accounted for: the bytes spilled, the file stored, the missing file named
    assert (result.attachments_stored, result.attachments_spilled, result.attachments_dropped) == (1, 1, {"unreadable": 1})
    assert bt_logs.server.attachment_data(present.reference["key"]) == b"file bytes"
    inputs = [row["input"] for row in bt_logs.server.rows("project_logs")]
    assert {"big": big.reference} in inputs  # the row keeps its reference
    assert {"missing": missing.reference, "present": present.reference} in inputs


def test_names_that_storing_would_refuse_are_refused_when_made():
    with pytest.raises(TypeError, match="Attachment filename must be a string"):
        Attachment(data=b"x", filename=None, content_type="text/plain")
    with pytest.raises(TypeError, match="Attachment content_type must be a string"):
        Attachment(data=b"x", filename="x.txt", content_type=7)
    with pytest.raises(ValueError, match="content_type must be a MIME type without control characters"):
        Attachment(data=b"x", filename="x.txt", content_type="text/plain\r\nX-Injected: 1")  # (every upload would fail)
    with pytest.raises(TypeError, match="Attachment filename must be a string"):
        JSONAttachment([1], filename=None)
    with pytest.raises(TypeError, match="ExternalAttachment url must be a non-empty string"):
        ExternalAttachment(url=None, filename="x", content_type="text/plain")
    with pytest.raises(TypeError, match="ExternalAttachment filename must be a string"):
        ExternalAttachment(url="https://x/y", filename=b"y", content_type="text/plain")


def test_a_reference_that_lacks_fields_says_what_it_lacks(bt_env):
    with pytest.raises(ValueError, match="its reference lacks filename, content_type"):
        ReadonlyAttachment({"type": "braintrust_attachment", "key": "k"}).data
    with pytest.raises(ValueError, match="its reference lacks url"):
        ReadonlyAttachment({"type": "external_attachment", "filename": "f", "content_type": "text/plain"}).metadata()
    assert bt_env.requests_to("/attachment", "GET") == []


def test_a_failed_download_does_not_show_the_signed_url(bt_logs):
    note = Attachment(data=b"bytes", filename="n.txt", content_type="text/plain")
    braintrust.init_logger(project="att").log(input=note)
    bt_logs.flush()
    signed = f"{bt_logs.server.url}/_objstore/gone?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=deadbeefsignature"
    bt_logs.server.script("GET", "/attachment", [Step(status=200, body={"downloadUrl": signed, "status": {"upload_status": "done"}})])
    with pytest.raises(RuntimeError, match="Couldn't download attachment 'n.txt': 404") as raised:
        ReadonlyAttachment(note.reference).data
    assert "deadbeefsignature" not in str(raised.value) and "AKIAEXAMPLE" not in str(raised.value)
    assert "/_objstore/gone?<query hidden>" in str(raised.value)


def test_a_json_attachment_is_valid_json_whatever_it_holds():
    when = datetime.datetime(2026, 1, 2, 3, 4, 5)
    loop: list = []
    loop.append(loop)
    attachment = JSONAttachment({"when": when, "score": float("nan"), "tags": {"a"}, "loop": loop})
    assert json.loads(attachment.data) == {"when": "2026-01-02T03:04:05", "score": "NaN", "tags": ["a"],
                                           "loop": ["<circular reference>"]}
    assert JSONAttachment({"plain": [1, "two"]}, pretty=True).data == b'{\n  "plain": [\n    1,\n    "two"\n  ]\n}'
