"""``HttpBackend`` against the loopback server: 413 splits, overflow, 401/403 stop, 4xx not
retried, ``/version`` discovery, request-size caps. Backoff sleeps go through a fake clock."""

from __future__ import annotations

import time

import pytest

from btserver import Step
from braintrust import jsonsafe
from braintrust.config import DeliverySettings
from braintrust.delivery.backend import BackendError
from braintrust.delivery.http_backend import HttpBackend
from braintrust.delivery.processor import Processor
from braintrust.delivery.spill import SpillWriter
from braintrust.state import BraintrustState
from delivery_helpers import FakeClock, assert_invariant, make_row, project_ref, spilled_rows


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_backend(**settings) -> HttpBackend:
    return HttpBackend(BraintrustState(), DeliverySettings(**settings))


def resolved_rows(backend: HttpBackend, clock: FakeClock, count: int, size: int = 50) -> list[dict]:
    ref = project_ref()
    ids = backend.resolve(ref, clock.deadline(10))
    return [{**make_row(f"row-{i}", output="x" * size), **ids} for i in range(count)]


def export(backend: HttpBackend, rows: list[dict], clock: FakeClock, seconds: float = 30):
    return backend.export(rows, [jsonsafe.dumps_row(r) for r in rows], clock.deadline(seconds))


def logs3_row_counts(server) -> list[int]:
    counts = []
    for request in server.requests_to("/logs3", "POST"):
        rows = request.json["rows"]
        counts.append(len(rows) if isinstance(rows, list) else -1)  # -1: an overflow reference
    return counts


@pytest.fixture
def serving(bt_server_factory, monkeypatch):
    """``serving(**options)``: a test server made with these options, which the backend logs in to."""

    def start(**options):
        server = bt_server_factory(**options)
        monkeypatch.setenv("BRAINTRUST_API_KEY", server.api_key)
        monkeypatch.setenv("BRAINTRUST_APP_URL", server.url)
        return server

    return start


def test_413_splits_the_batch_in_halves(bt_env, clock):
    backend = make_backend()
    rows = resolved_rows(backend, clock, 10)
    bt_env.script("POST", "/logs3", [Step(status=413)])
    result = export(backend, rows, clock)
    assert result.failed == [] and result.accepted == 10
    assert logs3_row_counts(bt_env) == [10, 5, 5]
    assert len(bt_env.rows()) == 10
    assert clock.sleeps == []  # a 413 is split, never retried unchanged


def test_every_payload_sent_is_copied_when_asked(bt_env, clock, tmp_path, monkeypatch):
    """``BRAINTRUST_ALL_PUBLISH_PAYLOADS_DIR`` (0.48.1's debugging aid): each /logs3 payload, as it
    went on the wire (a split batch: the whole one, then each half), in a private file."""
    folder = tmp_path / "copies"
    monkeypatch.setenv("BRAINTRUST_ALL_PUBLISH_PAYLOADS_DIR", str(folder))
    backend = HttpBackend(BraintrustState(), DeliverySettings.from_env())
    rows = resolved_rows(backend, clock, 10)
    bt_env.script("POST", "/logs3", [Step(status=413)])
    result = export(backend, rows, clock)
    assert result.accepted == 10 and logs3_row_counts(bt_env) == [10, 5, 5]
    copies = sorted(folder.iterdir(), key=lambda path: float(path.name.split("_")[1]))
    assert [path.name.startswith("payload_") and path.suffix == ".json" for path in copies] == [True] * 3
    assert [path.read_bytes() for path in copies] == [request.body for request in bt_env.requests_to("/logs3", "POST")]
    assert {path.stat().st_mode & 0o777 for path in copies} == {0o600} and folder.stat().st_mode & 0o777 == 0o700
    assert not any(bt_env.api_key.encode() in path.read_bytes() for path in copies)


def test_a_payload_copy_that_cannot_be_written_changes_nothing_but_one_warning(bt_env, clock, tmp_path, caplog):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the folder should be")
    backend = make_backend(payload_copy_dir=blocked / "copies")
    for _ in range(2):
        result = export(backend, resolved_rows(backend, clock, 3), clock)
        assert result.failed == [] and result.accepted == 3
    warnings = [r.getMessage() for r in caplog.records if "BRAINTRUST_ALL_PUBLISH_PAYLOADS_DIR" in r.getMessage()]
    assert len(warnings) == 1 and "rows are sent as usual" in warnings[0]


def test_a_single_oversized_row_goes_through_the_overflow_upload(serving, clock):
    server = serving(payload_max_bytes=4096)
    backend = make_backend()
    rows = resolved_rows(backend, clock, 3)
    rows[1]["output"] = "y" * 10_000
    result = export(backend, rows, clock)
    assert result.failed == [] and result.accepted == 3
    assert len(server.requests_to("/logs3/overflow", "POST")) == 1
    uploads = server.requests_to("/_objstore/*", "PUT")
    assert len(uploads) == 1 and uploads[0].header("Authorization") is None  # a signed URL gets no key
    assert -1 in logs3_row_counts(server)
    stored = {row["id"]: row for row in server.rows()}
    assert set(stored) == {"row-0", "row-1", "row-2"} and stored["row-1"]["output"] == "y" * 10_000


def test_the_overflow_upload_as_a_multipart_post(serving, clock):
    """When ``/logs3/overflow`` answers ``method: POST`` with form ``fields`` (S3's presigned POST),
    the payload goes as the ``file`` part of a multipart form, with those fields and no key."""
    server = serving(payload_max_bytes=4096, overflow_upload_method="POST")
    backend = make_backend()
    rows = resolved_rows(backend, clock, 2)
    rows[0]["output"] = "z" * 10_000
    result = export(backend, rows, clock)
    assert result.failed == [] and result.accepted == 2
    [upload] = server.requests_to("/_objstore/*", "POST")
    assert upload.header("Authorization") is None
    assert upload.header("Content-Type").startswith("multipart/form-data; boundary=")
    assert b'name="file"; filename="logs3.json"' in upload.body and b'name="key"' in upload.body  # (the fields, then the file)
    assert {row["id"]: row.get("output") for row in server.rows()}["row-0"] == "z" * 10_000


def test_an_oversized_row_without_an_advertised_limit_fails_as_http_413(serving, clock):
    server = serving(payload_max_bytes=None)
    backend = make_backend()
    rows = resolved_rows(backend, clock, 1, size=20_000)
    server.script("POST", "/logs3", [Step(status=413)])
    result = export(backend, rows, clock)
    assert [reason for _, reason in result.failed] == ["http_413"]
    assert server.requests_to("/logs3/overflow") == []
    assert len(server.requests_to("/logs3", "POST")) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_stop_every_later_send(bt_env, clock, status):
    backend = make_backend()
    rows = resolved_rows(backend, clock, 9)
    bt_env.fail_always("POST", "/logs3", Step(status=status))
    results = [export(backend, rows[i : i + 3], clock) for i in range(0, 9, 3)]
    assert len(bt_env.requests_to("/logs3", "POST")) == 1
    assert all(reason == "auth" for r in results for _, reason in r.failed)
    assert sum(len(r.failed) for r in results) == 9
    assert "refused the API key" in results[0].error and bt_env.api_key not in results[0].error
    with pytest.raises(BackendError) as info:
        backend.resolve(project_ref("another"), clock.deadline(5))
    assert info.value.reason == "auth"


def test_a_refused_login_is_tried_once(bt_env, clock, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_API_KEY", "wrong-key-123456")
    backend = make_backend()
    for _ in range(3):
        with pytest.raises(BackendError) as info:
            backend.resolve(project_ref(), clock.deadline(5))
        assert info.value.reason == "auth"
    assert len(bt_env.requests_to("/api/apikey/login")) == 1
    assert "wrong-key-123456" not in str(info.value)


@pytest.mark.parametrize("status", [400, 404, 409, 422])
def test_other_4xx_fail_once_as_http_4xx_and_do_not_stop_sending(bt_env, clock, status):
    backend = make_backend()
    rows = resolved_rows(backend, clock, 4)
    bt_env.script("POST", "/logs3", [Step(status=status)])
    first = export(backend, rows[:2], clock)
    assert [reason for _, reason in first.failed] == ["http_4xx", "http_4xx"]
    assert clock.sleeps == []
    second = export(backend, rows[2:], clock)
    assert second.failed == [] and second.accepted == 2
    assert len(bt_env.requests_to("/logs3", "POST")) == 2


def test_5xx_is_retried_then_fails_as_http_5xx(bt_env, clock):
    backend = make_backend()
    rows = resolved_rows(backend, clock, 2)
    bt_env.fail_always("POST", "/logs3", Step(status=502))
    result = export(backend, rows, clock, seconds=100)
    assert [reason for _, reason in result.failed] == ["http_5xx", "http_5xx"]
    assert len(bt_env.requests_to("/logs3", "POST")) == 5


def test_5xx_cut_short_by_the_deadline_fails_as_deadline(bt_env, clock):
    backend = make_backend()
    rows = resolved_rows(backend, clock, 2)
    bt_env.fail_always("POST", "/logs3", Step(status=500))
    result = export(backend, rows, clock, seconds=1.2)
    assert {reason for _, reason in result.failed} == {"deadline"}


def test_a_failed_overflow_upload_fails_the_row_without_raising(serving, clock):
    server = serving(payload_max_bytes=4096)
    backend = make_backend()
    rows = resolved_rows(backend, clock, 1, size=10_000)
    server.fail_always("PUT", "/_objstore/*", Step(reset=True))
    result = export(backend, rows, clock)
    assert [reason for _, reason in result.failed] == ["connection"]


def test_version_is_discovered_once(bt_env, clock):
    backend = make_backend()
    rows = resolved_rows(backend, clock, 6)
    for i in range(0, 6, 2):
        backend.max_batch_bytes(clock.deadline(5))
        assert export(backend, rows[i : i + 2], clock).accepted == 2
    assert len(bt_env.requests_to("/version", "GET")) == 1


def test_a_server_without_version_is_not_asked_again(bt_env, clock):
    bt_env.script("GET", "/version", [Step(status=404)])
    backend = make_backend()
    rows = resolved_rows(backend, clock, 4)
    assert export(backend, rows[:2], clock).accepted == 2
    assert export(backend, rows[2:], clock).accepted == 2
    assert len(bt_env.requests_to("/version", "GET")) == 1
    assert backend.max_batch_bytes(clock.deadline(5)) == 6 * 1024 * 1024 - 30


def test_project_resolution_is_cached_on_the_ref(bt_env, clock):
    backend = make_backend()
    ref = project_ref("cached")
    first = backend.resolve(ref, clock.deadline(5))
    assert backend.resolve(ref, clock.deadline(5)) == first == {"project_id": first["project_id"], "log_id": "g"}
    assert len(bt_env.requests_to("/v1/project", "POST")) == 1


def test_max_request_size_caps_the_batches(bt_env, tmp_path, monkeypatch):
    monkeypatch.setenv("BRAINTRUST_MAX_REQUEST_SIZE", "2048")
    settings = DeliverySettings.from_env()
    assert settings.max_request_bytes == 2048
    settings = DeliverySettings(**{**settings.__dict__, "sync_flush": True})
    processor = Processor(
        lambda: HttpBackend(BraintrustState(), settings),
        lambda: SpillWriter(tmp_path / "spill", {"kind": "api"}),
        settings,
    )
    ref = project_ref()
    for i in range(40):
        processor.enqueue(ref, make_row(f"r{i}", output="z" * 300), 400)
    result = processor.flush(timeout=10)
    assert_invariant(result)
    assert result.accepted == 40 and result.spilled == 0
    bodies = [r.body for r in bt_env.requests_to("/logs3", "POST")]
    assert len(bodies) >= 8 and all(len(body) <= 2048 for body in bodies)
    assert len(bt_env.rows()) == 40
    assert spilled_rows(tmp_path / "spill") == []
    processor.close()


def test_flush_abandons_a_hanging_server_within_its_deadline(bt_env, tmp_path):
    bt_env.fail_always("POST", "/logs3", Step(hang=True))
    settings = DeliverySettings()
    processor = Processor(
        lambda: HttpBackend(BraintrustState(), settings),
        lambda: SpillWriter(tmp_path / "spill", {"kind": "api"}),
        settings,
    )
    ref = project_ref()
    for i in range(20):
        processor.enqueue(ref, make_row(f"h{i}"), 100)
    bt_env.wait_for(lambda: bt_env.requests_to("/logs3", "POST"))  # the sender is stuck in a request
    started = time.monotonic()
    result = processor.flush(timeout=0.5)
    elapsed = time.monotonic() - started
    assert elapsed < 0.5 + 0.5 + 0.3, elapsed
    assert_invariant(result)
    assert result.accepted == 0 and result.spilled_by_reason == {"deadline": 20}
    assert sorted(row["id"] for row in spilled_rows(tmp_path / "spill")) == sorted(f"h{i}" for i in range(20))
    # Let the stuck request end (a restart drops it; the sender's retry then succeeds, and its
    # late result is ignored: those rows were counted as spilled).
    bt_env.clear_faults()
    bt_env.stop()
    bt_env.start()
    bt_env.wait_for(lambda: bt_env.logs3_bodies, timeout=5)
    assert_invariant(processor.close(timeout=1))
