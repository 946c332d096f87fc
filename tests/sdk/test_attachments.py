"""Attachments: bytes stored once after their rows, through the test server or into the local
store; what cannot be stored is spilled and replayed once; what cannot be read is counted and
named; ``ReadonlyAttachment`` reads them back. (The rows and requests beside the public SDK's:
test_public_sdk_captures.py.)"""

from __future__ import annotations

import base64
import json
import logging
import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest

import braintrust
from braintrust import Attachment, ExternalAttachment, JSONAttachment, ReadonlyAttachment
from braintrust.delivery.spill import SpillWriter


def attachment_posts(server) -> list[dict]:
    return [r.json for r in server.requests_to("/attachment", "POST")]


def statuses(server) -> list[dict]:
    return [r.json["status"] for r in server.requests_to("/attachment/status", "POST")]


def test_bytes_are_stored_once_however_often_logged(bt_env):
    logger = braintrust.init_logger(project="att")
    shared = Attachment(data=b"shared", filename="s.txt", content_type="text/plain")
    logger.log(input={"file": shared}, output=[shared, {"again": shared}])
    logger.log(input=shared)
    assert braintrust.flush().ok
    logger.log(input=shared)
    result = braintrust.flush()
    assert result.ok and result.attachments_stored == 1
    assert [p["filename"] for p in attachment_posts(bt_env)] == ["s.txt"]
    assert bt_env.attachment_data(shared.reference["key"]) == b"shared"
    assert statuses(bt_env) == [{"upload_status": "done"}]
    assert shared.status == {"upload_status": "done"}
    rows = bt_env.rows("project_logs", bt_env.projects()[0]["id"])
    assert rows[0]["input"] == {"file": shared.reference} and rows[0]["output"][1] == {"again": shared.reference}


def test_upload_stores_now_and_the_processor_leaves_it(bt_env):
    logger = braintrust.init_logger(project="att")
    attachment = Attachment(data=b"now", filename="now.txt", content_type="text/plain")
    assert attachment.upload() == {"upload_status": "done"}
    assert attachment.upload() == {"upload_status": "done"}
    logger.log(input=attachment)
    assert braintrust.flush().ok
    assert len(attachment_posts(bt_env)) == 1
    assert ExternalAttachment(url="https://x/y.pdf", filename="y.pdf", content_type="application/pdf").upload() == {"upload_status": "done"}


def test_a_failed_upload_is_spilled_then_replayed_once(bt_env, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(tmp_path / "spill"))
    bt_env.fail_always("POST", "/attachment", 500)
    logger = braintrust.init_logger(project="att")
    image = Attachment(data=bytes(range(256)), filename="img.png", content_type="image/png")
    logger.log(input={"image": image})
    with caplog.at_level(logging.WARNING, logger="braintrust"):
        result = braintrust.flush()
    assert (result.accepted, result.attachments_spilled, result.attachments_stored) == (1, 1, 0)
    assert not result.ok and "attachments: 0 stored, 1 spilled" in result.describe()
    assert any("could not upload attachment 'img.png'" in error for error in result.errors)
    assert f"braintrust replay {tmp_path / 'spill'}" in caplog.text
    # Braintrust heard about the failure, as from the public SDK
    assert statuses(bt_env)[-1]["upload_status"] == "error"
    [spilled] = result.spill_files
    document = json.loads(open(spilled, encoding="utf-8").read())
    assert document["rows"] == [] and document["attachments"][0]["reference"] == image.reference
    assert base64.b64decode(document["attachments"][0]["data_base64"]) == bytes(range(256))
    assert oct(os.stat(spilled).st_mode & 0o777) == "0o600"

    bt_env.clear_faults()
    env = {**os.environ}
    replayed = subprocess.run([sys.executable, "-m", "braintrust", "replay", str(tmp_path / "spill")],
                              env=env, capture_output=True, text=True, timeout=60)
    assert replayed.returncode == 0, replayed.stderr
    assert "and 1 attachments" in replayed.stdout
    assert bt_env.attachment_data(image.reference["key"]) == bytes(range(256))
    assert statuses(bt_env)[-1] == {"upload_status": "done"}
    again = subprocess.run([sys.executable, "-m", "braintrust", "replay", str(tmp_path / "spill")],
                           env=env, capture_output=True, text=True, timeout=60)
    assert "nothing to replay" in again.stdout
    assert len([p for p in attachment_posts(bt_env) if p["key"] == image.reference["key"]]) == 2  # the failed try, the replay


def test_an_object_store_failure_spills_too(bt_env, tmp_path, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(tmp_path / "spill"))
    bt_env.fail_always("PUT", "/_objstore/*", 500)
    braintrust.init_logger(project="att").log(input=JSONAttachment({"big": [1] * 10}))
    result = braintrust.flush()
    assert result.attachments_spilled == 1
    assert statuses(bt_env)[-1]["error_message"].startswith("Failed to upload attachment to object store")


def test_an_unreadable_file_is_named_and_counted(bt_env, tmp_path, caplog):
    missing = tmp_path / "gone.png"
    with caplog.at_level(logging.WARNING, logger="braintrust"):
        attachment = Attachment(data=missing, filename="gone.png", content_type="image/png")
    assert f"cannot read {missing}" in caplog.text
    braintrust.init_logger(project="att").log(input=attachment)
    result = braintrust.flush()
    assert result.accepted == 1 and result.attachments_dropped == {"unreadable": 1}
    assert any("'gone.png' could not be stored: Failed to read file" in error for error in result.errors)
    assert attachment.status["upload_status"] == "error"


def test_a_file_is_read_when_stored_not_when_logged(bt_env, tmp_path):
    path = tmp_path / "late.txt"
    attachment = Attachment(data=str(path), filename="late.txt", content_type="text/plain")
    braintrust.init_logger(project="att").log(input=attachment)
    path.write_bytes(b"written after logging")
    assert braintrust.flush().ok
    assert bt_env.attachment_data(attachment.reference["key"]) == b"written after logging"


def test_without_a_key_attachments_go_to_the_local_store_and_read_back():
    logger = braintrust.init_logger(project="att")
    note = Attachment(data=b"local bytes", filename="n.txt", content_type="text/plain")
    logger.log(input=note)
    result = braintrust.flush()
    assert result.ok and result.attachments_stored == 1
    readback = ReadonlyAttachment(note.reference)
    assert readback.data == b"local bytes"
    assert readback.status() == {"upload_status": "done"}
    assert readback.metadata()["downloadUrl"].startswith("file://")
    with pytest.raises(RuntimeError, match=r"has no attachment with key nope.*call braintrust.flush"):
        ReadonlyAttachment({**note.reference, "key": "nope"}).data
    with pytest.raises(ValueError, match="Unknown attachment type"):
        ReadonlyAttachment({"type": "weird"})


def test_readonly_attachments_through_the_api(bt_env):
    logger = braintrust.init_logger(project="att")
    note = Attachment(data=b"api bytes", filename="n.txt", content_type="text/plain")
    logger.log(input=note)
    braintrust.flush()
    assert ReadonlyAttachment(note.reference).data == b"api bytes"
    assert ReadonlyAttachment(note.reference).status() == {"upload_status": "done"}
    [read] = bt_env.requests_to("/attachment", "GET")[:1]
    assert read.query == {"filename": "n.txt", "content_type": "text/plain", "org_id": bt_env.org_id, "key": note.reference["key"]}
    bt_env.attachments[note.reference["key"]]["status"] = {"upload_status": "error", "error_message": "boom"}
    with pytest.raises(RuntimeError, match='Expected attachment status "done", got "error" \\(boom\\)'):
        ReadonlyAttachment(note.reference).data


def test_a_readonly_attachment_logged_again_is_its_reference(bt_env):
    reference = {"type": "braintrust_attachment", "filename": "a.txt", "content_type": "text/plain", "key": "k-1"}
    braintrust.init_logger(project="att").log(input={"again": ReadonlyAttachment(reference)})
    result = braintrust.flush()
    assert result.ok and result.attachments_stored == 0
    assert bt_env.rows("project_logs", bt_env.projects()[0]["id"])[0]["input"] == {"again": reference}


def test_a_version_1_store_gains_the_attachments_table(tmp_path):
    from braintrust.store.sqlite_store import LocalStore

    path = tmp_path / "braintrust.sqlite"
    with LocalStore(path) as store:
        store.get_or_create_project("p")
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE attachments")
    conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    with LocalStore(path) as store:
        store.put_attachment("k", "f.txt", "text/plain", b"x")
        assert store.get_attachment("k")["data"] == b"x"
        assert store.get_project(name="p") is not None


def test_attachment_spill_files_over_budget_count_as_dropped(tmp_path):
    from braintrust.delivery.accounting import Accounts
    from braintrust.delivery.attachment_delivery import AttachmentOutcome

    accounts = Accounts(lambda: SpillWriter(tmp_path, {"kind": "local", "path": "x"}, budget_bytes=600))
    reference = {"type": "braintrust_attachment", "filename": "f", "content_type": "c", "key": "k"}
    for _ in range(3):
        accounts.attachments(AttachmentOutcome(unstored=[(reference, b"y" * 200, "connection", "down")]))
    assert accounts.stats.attachments_spilled + accounts.stats.attachments_dropped["spill_budget"] == 3
    assert accounts.stats.attachments_dropped["spill_budget"] >= 1


def test_a_forked_child_stores_its_own_attachments_only(bt_env, tmp_path):
    script = tmp_path / "fork_attachments.py"
    script.write_text(textwrap.dedent("""
        import os, braintrust
        from braintrust import Attachment
        logger = braintrust.init_logger(project="att")
        logger.log(input=Attachment(data=b"parent", filename="parent.txt", content_type="text/plain"))
        pid = os.fork()
        if pid == 0:
            logger.log(input=Attachment(data=b"child", filename="child.txt", content_type="text/plain"))
            result = braintrust.flush()
            os._exit(0 if result.ok and result.attachments_stored == 1 else 3)
        _, status = os.waitpid(pid, 0)
        result = braintrust.flush()
        raise SystemExit(os.waitstatus_to_exitcode(status) or (0 if result.attachments_stored == 1 else 4))
    """))
    proc = subprocess.run([sys.executable, str(script)], env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p["filename"] for p in attachment_posts(bt_env)) == ["child.txt", "parent.txt"]


def test_prune_deletes_the_attachments_only_pruned_experiments_referred_to():
    from braintrust.store.sqlite_store import LocalStore

    shared = Attachment(data=b"kept: a kept experiment refers to it", filename="shared.txt", content_type="text/plain")
    own = []
    for index in range(3):
        experiment = braintrust.init(project="att", experiment=f"e{index}")
        own.append(Attachment(data=f"only e{index}".encode(), filename=f"e{index}.txt", content_type="text/plain"))
        experiment.log(input={"shared": shared}, output=own[-1], scores={})
        assert braintrust.flush().ok
    with LocalStore() as store:
        assert store.prune_experiments(keep=1)
        present = {key for key in (shared.reference["key"], *(a.reference["key"] for a in own)) if store.get_attachment(key)}
    assert present == {shared.reference["key"], own[2].reference["key"]}


def test_dataset_records_hold_readonly_attachments_that_log_as_references():
    dataset = braintrust.init_dataset(project="att", name="images")
    picture = Attachment(data=b"pixels", filename="p.png", content_type="image/png")
    dataset.insert(input={"image": picture, "caption": "a cat"}, expected="cat", metadata={"files": [picture]})
    dataset.flush()
    [record] = list(braintrust.init_dataset(project="att", name="images"))
    image = record["input"]["image"]
    assert isinstance(image, ReadonlyAttachment) and image.data == b"pixels"
    assert isinstance(record["metadata"]["files"][0], ReadonlyAttachment) and record["input"]["caption"] == "a cat"

    result = braintrust.Eval("att", data=braintrust.init_dataset(project="att", name="images"),
                             task=lambda input: len(input["image"].data), scores=[lambda output: output == 6])
    assert result.results[0].output == 6
    assert str(image) == "data:image/png;base64,cGl4ZWxz"  # (as 0.48.1's: a data URL of the bytes)
    braintrust.flush()
    from braintrust.store.sqlite_store import LocalStore
    with LocalStore() as store:
        experiment = store.list_experiments()[-1]
        root = next(r for r in store.fetch_rows("experiment", experiment["id"])[0] if not r.get("span_parents"))
    assert root["input"]["image"] == picture.reference


@pytest.mark.parametrize("mode", ["local", "api"])
def test_experiment_rows_read_back_hold_readonly_attachments(mode, request):
    if mode == "api":
        request.getfixturevalue("bt_env")
    experiment = braintrust.init(project="att", experiment="with-files")
    experiment.log(input={"file": Attachment(data=b"hi", filename="a.txt", content_type="text/plain")}, output=1, scores={})
    for rows in (list(experiment.fetch()), list(braintrust.init(project="att", experiment="with-files", open=True))):
        attachment = rows[0]["input"]["file"]
        assert isinstance(attachment, ReadonlyAttachment) and attachment.data == b"hi"  # (as 0.48.1 reads them)


def test_a_hanging_object_store_cannot_stretch_the_flush(bt_env, tmp_path, monkeypatch):
    """The flush deadline covers attachments too: a signed URL that never answers costs the
    deadline (plus a stated margin of 1.5 s), and the bytes are spilled."""
    import time

    from btserver import Step

    monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(tmp_path / "spill"))
    bt_env.fail_always("PUT", "/_objstore/*", Step(hang=True))
    braintrust.init_logger(project="att").log(input=Attachment(data=b"slow", filename="slow.bin", content_type="application/octet-stream"))
    started = time.monotonic()
    result = braintrust.flush(timeout=2.0)
    assert time.monotonic() - started < 2.0 + 1.5
    assert result.accepted == 1 and result.attachments_spilled == 1


def test_an_upload_the_sender_started_before_the_flush_is_spilled_at_its_deadline(bt_env, tmp_path, monkeypatch):
    """The sender stores attachments as it goes; when a flush's deadline comes while it is still
    uploading one, the flush spills that one's bytes (a later duplicate is harmless: same key,
    same bytes) instead of returning with it unaccounted for."""
    import time

    from btserver import Step

    monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(tmp_path / "spill"))
    bt_env.fail_always("PUT", "/_objstore/*", Step(delay_seconds=6))
    braintrust.init_logger(project="att").log(input=Attachment(data=b"big", filename="big.bin", content_type="application/octet-stream"))
    bt_env.wait_for(lambda: bt_env.requests_to("/attachment", "POST"), timeout=10)  # the sender is uploading it
    started = time.monotonic()
    result = braintrust.flush(timeout=1.0)
    assert time.monotonic() - started < 1.0 + 1.5
    assert (result.attachments_stored, result.attachments_spilled) == (0, 1), result
    [spilled] = result.spill_files
    assert json.loads(open(spilled, encoding="utf-8").read())["attachments"][0]["reference"]["filename"] == "big.bin"


def test_pending_attachments_are_bounded_in_bytes_and_the_excess_spills(tmp_path, monkeypatch):
    """Attachments waiting to be stored hold their bytes; past the queue's byte bound (lowered
    here to 100 bytes) the oldest are spilled at once, and replay stores them: none is lost."""
    from braintrust.attachments import pending
    from braintrust.delivery import runtime
    from braintrust.store.sqlite_store import LocalStore

    monkeypatch.setenv("BRAINTRUST_FAILED_PUBLISH_PAYLOADS_DIR", str(tmp_path / "spill"))
    logger = braintrust.init_logger(project="att")
    runtime.get_processor()
    monkeypatch.setattr(pending, "_limit_bytes", 100)
    files = [Attachment(data=bytes([i]) * 60, filename=f"f{i}.bin", content_type="application/octet-stream") for i in range(5)]
    logger.log(input={"files": files})  # 300 bytes at once: the oldest go to disk
    result = braintrust.flush()
    assert result.attachments_spilled >= 3 and result.attachments_stored + result.attachments_spilled == 5, result
    assert any("passed the queue's byte bound" in error for error in result.errors)
    replayed = subprocess.run([sys.executable, "-m", "braintrust", "replay", str(tmp_path / "spill")],
                              env=dict(os.environ), capture_output=True, text=True, timeout=60)
    assert replayed.returncode == 0, replayed.stderr
    with LocalStore() as store:
        assert [store.get_attachment(f.reference["key"])["data"] for f in files] == [f.data for f in files]


def test_an_upload_that_failed_is_stored_by_the_processor_later(bt_env, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_NUM_RETRIES", "0")
    attachment = Attachment(data=b"retry me", filename="r.txt", content_type="text/plain")
    bt_env.script("POST", "/attachment", [500])
    assert attachment.upload()["upload_status"] == "error"
    braintrust.init_logger(project="att").log(input=attachment)
    result = braintrust.flush()
    assert result.ok and result.attachments_stored == 1
    assert attachment.status == {"upload_status": "done"}
    assert bt_env.attachment_data(attachment.reference["key"]) == b"retry me"
