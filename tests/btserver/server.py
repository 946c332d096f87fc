"""``BraintrustTestServer``: a real loopback HTTP server that speaks the Braintrust API.

Lifecycle: ``start()`` binds ``host:port`` (port 0 = any free port) and serves from daemon
threads; ``stop()`` closes the listening socket *and* every open connection (so pooled keep-alive
connections see the outage too); ``start()`` again re-binds the same port. State (rows, objects,
requests) survives stop/start; ``reset()`` clears it.

Faults: ``script(method, path, [Step, ...])`` queues one-shot answers for matching requests,
``fail_always(method, path, Step)`` a persistent one. A path ending in ``*`` is a prefix; ``method``
``"*"`` or None matches any method. Exact paths win over prefixes; queued steps over persistent
faults. A scripted non-2xx answer never applies the request's effect.
"""

from __future__ import annotations

import gzip
import sys
import io
import json
import socket
import ssl
import struct
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterable
from urllib.parse import parse_qsl, urlsplit

from . import handlers
from .handlers import Response
from .objects import ApiError, Registry, stable_id
from .prompts import PromptRegistry
from .store import RowStore

DEFAULT_PAYLOAD_MAX_BYTES = 6 * 1024 * 1024


@dataclass(frozen=True)
class Step:
    """One scripted answer.

    * ``delay_seconds``: sleep first (cut short when the server stops);
    * ``reset``: then close the connection with a TCP RST, answering nothing;
    * ``hang``: then answer nothing until the server stops;
    * ``status``: answer this status. Non-2xx (or any status with ``body``) answers without
      running the endpoint; 2xx without ``body`` runs the endpoint and, if it succeeded, answers
      this status instead. None: run the endpoint normally (with ``delay_seconds``/``retry_after``);
    * ``retry_after``: ``Retry-After`` header value (seconds or an HTTP-date);
    * ``body``: the JSON (dict/list) or raw bytes to answer; default ``{"error": ...}``;
    * ``headers``: extra response headers.
    """

    status: int | None = None
    retry_after: str | None = None
    delay_seconds: float = 0.0
    reset: bool = False
    hang: bool = False
    body: Any = None
    headers: dict | None = None


@dataclass
class RecordedRequest:
    """One request as received. ``status`` is 0 until answered (and stays 0 for reset/hang)."""

    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    json: Any
    status: int = 0
    time: float = 0.0

    def header(self, name: str, default: str | None = None) -> str | None:
        """Case-insensitive header lookup."""
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return default


def _as_step(entry) -> Step:
    if isinstance(entry, Step):
        return entry
    if isinstance(entry, int):
        return Step(status=entry)
    if isinstance(entry, dict):
        return Step(**entry)
    raise TypeError(f"a scripted response must be a Step, an int status or a dict of Step fields, got {entry!r}")


def _matches(pattern_method: str | None, pattern_path: str, method: str, path: str) -> bool:
    if pattern_method not in (None, "*") and pattern_method.upper() != method:
        return False
    if pattern_path.endswith("*"):
        return path.startswith(pattern_path[:-1])
    return path == pattern_path


def _by_specificity(entries: Iterable, method: str, path: str) -> list:
    """Entries ``(method, path, x)`` matching the request, exact paths first."""
    matching = [e for e in entries if _matches(e[0], e[1], method, path)]
    return [e for e in matching if not e[1].endswith("*")] + [e for e in matching if e[1].endswith("*")]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address, owner: "BraintrustTestServer") -> None:
        self.owner = owner
        self.stop_event = threading.Event()
        self._conns: dict = {}  # socket -> handler thread
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn) -> bool:
        """Register a live connection; False when the server is already stopping."""
        with self._conns_lock:
            if self.stop_event.is_set():
                return False
            self._conns[conn] = threading.current_thread()
            return True

    def untrack(self, conn) -> None:
        with self._conns_lock:
            self._conns.pop(conn, None)

    def close_connections(self, join_timeout: float = 2.0) -> None:
        """Mark stopping, wake every handler (hangs, delays, idle keep-alive reads) and join them."""
        with self._conns_lock:
            self.stop_event.set()
            live = list(self._conns.items())
        for conn, _ in live:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + join_timeout
        for _, thread in live:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def handle_error(self, request, client_address) -> None:
        # Resets and closed sockets are routine here (faults, stop()); anything else is a bug.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "braintrust-test-server"
    server: _HTTPServer

    def handle(self) -> None:
        if not self.server.track(self.connection):
            return
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().handle()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format, *args) -> None:  # noqa: A002 - signature of the base class
        pass

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline(65537).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            body = b"".join(chunks)
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            if len(body) != length:
                raise ConnectionError("client closed the connection mid-body")
        if (self.headers.get("Content-Encoding") or "").lower() == "gzip":
            body = gzip.decompress(body)
        return body

    def _dispatch(self) -> None:
        arrived = time.time()
        try:
            body = self._read_body()
        except (OSError, ValueError, EOFError):
            self.close_connection = True
            return
        split = urlsplit(self.path)
        parsed = None
        if body and not (self.headers.get("Content-Type") or "").startswith("multipart/"):
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
        request = RecordedRequest(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers=dict(self.headers.items()),
            body=body,
            json=parsed,
            time=arrived,
        )
        owner = self.server.owner
        internal = request.path.startswith("/_test/")
        step = None
        if not internal:
            owner._note_request(request)
            step = owner._take_step(request.method, request.path)
        extra_headers: dict = {}
        status_override = None
        if step is not None:
            stop_event = self.server.stop_event
            if step.delay_seconds and stop_event.wait(step.delay_seconds):
                self.close_connection = True  # stopped while delaying: no answer, no effect
                return
            if step.reset:
                self._reset_connection()
                return
            if step.hang:
                stop_event.wait()
                self.close_connection = True
                return
            if step.retry_after is not None:
                extra_headers["Retry-After"] = str(step.retry_after)
            extra_headers.update(step.headers or {})
            if step.status is not None and (step.body is not None or not 200 <= step.status < 300):
                answer = step.body if step.body is not None else {"error": f"bt_server: scripted {step.status}"}
                self._respond(request, Response(step.status, answer, extra_headers))
                return
            status_override = step.status
        response = owner._handle(request)
        if status_override is not None and 200 <= response.status < 300:
            response.status = status_override
        response.headers = {**response.headers, **extra_headers}
        self._respond(request, response)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _dispatch

    def _reset_connection(self) -> None:
        """Close with SO_LINGER 0 so the peer sees a TCP RST instead of a response."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.wfile.close()
            self.wfile = io.BytesIO()  # the base class flushes wfile after every request
            self.connection.close()
        except OSError:
            pass

    def _respond(self, request: RecordedRequest, response: Response) -> None:
        body = response.body
        if isinstance(body, (bytes, bytearray)):
            payload = bytes(body)
        elif isinstance(body, str):
            payload = body.encode("utf-8")
        else:
            payload = json.dumps(body).encode("utf-8")
        try:
            phrase = HTTPStatus(response.status).phrase
        except ValueError:
            phrase = ""
        lines = [
            f"HTTP/1.1 {response.status} {phrase}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(payload)}",
        ]
        lines += [f"{name}: {value}" for name, value in response.headers.items()]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        request.status = response.status
        try:
            self.wfile.write(head if self.command == "HEAD" else head + payload)
        except OSError:
            self.close_connection = True


class BraintrustTestServer:
    """A loopback Braintrust API server for tests (see the package docstring for the contract).

    Arguments: ``api_key`` required as ``Authorization: Bearer <key>`` on every endpoint but
    ``/_objstore/*`` (signed URLs) and ``/_test/*``; ``org_name``; ``payload_max_bytes`` advertised
    by ``/version`` (None → not advertised, and no 413 limit); ``merge_rows=False`` only counts
    ``/logs3`` rows (benchmarks); ``record=False`` keeps no requests or bodies (long benchmark runs);
    ``git_metadata`` for the login answer; ``enforce_payload_limit`` answers 413 to ``/logs3``
    bodies over the limit; ``overflow_upload_method`` ``"PUT"`` or ``"POST"`` (multipart); ``tls``
    a server-side ``ssl.SSLContext``: the server speaks HTTPS.
    Settable attributes: ``api_key``, ``other_api_keys`` (keys accepted besides it: other users of
    the organization), ``payload_max_bytes``, ``git_metadata``, ``api_url`` and ``proxy_url`` (login
    answers these instead of the server's own url when set).
    """

    def __init__(
        self,
        api_key: str = "test-api-key",
        org_name: str = "test-org",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        payload_max_bytes: int | None = DEFAULT_PAYLOAD_MAX_BYTES,
        merge_rows: bool = True,
        record: bool = True,
        git_metadata: dict | None = None,
        enforce_payload_limit: bool = True,
        overflow_upload_method: str = "PUT",
        tls: "ssl.SSLContext | None" = None,
    ) -> None:
        self.api_key = api_key
        self.tls = tls
        self.other_api_keys: set[str] = set()
        self.org_name = org_name
        self.org_id = stable_id("org", org_name)
        self.host = host
        self.port = port
        self.payload_max_bytes = payload_max_bytes
        self.record = record
        self.git_metadata = git_metadata
        self.enforce_payload_limit = enforce_payload_limit
        self.overflow_upload_method = overflow_upload_method.upper()
        self.api_url: str | None = None
        self.proxy_url: str | None = None
        self.store = RowStore(merge_rows=merge_rows)
        self.registry = Registry(self.org_id, org_name)
        self.prompts = PromptRegistry(self.org_id, self.store.next_xact_id)
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._scripts: list = []  # [method, path, deque[Step]]
        self._faults: list = []  # (method, path, Step)
        self.reset()

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https://`` with ``tls``; the port is known once started)."""
        return f"{'https' if self.tls is not None else 'http'}://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._httpd is not None

    def start(self) -> "BraintrustTestServer":
        """Bind and serve in a daemon thread; after ``stop()`` this re-binds the same port."""
        if self._httpd is not None:
            return self
        httpd = _HTTPServer((self.host, self.port), self)
        if self.tls is not None:  # (each connection's handshake then happens as it is accepted)
            httpd.socket = self.tls.wrap_socket(httpd.socket, server_side=True)
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"bt-server-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop every open connection (hung requests end too)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None

    def __enter__(self) -> "BraintrustTestServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget rows, objects, uploads, recorded requests, counters, scripts and faults."""
        with self._lock:
            self._requests: list[RecordedRequest] = []
            self._logs3_bodies: list = []
            self._request_count = 0
            self._bytes_received = 0
            self._scripts = []
            self._faults = []
            self.objstore: dict[str, bytes] = {}
            self.objstore_types: dict[str, str] = {}
            self.attachments: dict[str, dict] = {}
            #: ``(object type, object id, environment) -> version`` (``/environment-object``).
            self.environment_objects: dict[tuple[str, str, str], str] = {}
            #: Function definitions received by ``POST /insert-functions``, in order.
            self.inserted_functions: list[dict] = []
            self.errors: list[str] = []
        self.store.clear()
        self.registry.clear()
        self.prompts.clear()

    # -- scripting ----------------------------------------------------------------------------

    def script(self, method: str | None, path: str, responses: Iterable) -> None:
        """Queue one-shot answers for ``method path`` (consumed in order, then normal behaviour).

        Entries: :class:`Step`, an int status, or a dict of Step fields.
        """
        steps = [_as_step(r) for r in responses]
        with self._lock:
            for entry in self._scripts:
                if entry[0] == method and entry[1] == path:
                    entry[2].extend(steps)
                    return
            self._scripts.append([method, path, deque(steps)])

    def fail_always(self, method: str | None, path: str, step=500) -> None:
        """Answer every matching request with ``step`` until ``clear_faults()``."""
        with self._lock:
            self._faults.append((method, path, _as_step(step)))

    def clear_faults(self) -> None:
        """Drop queued scripts and persistent faults."""
        with self._lock:
            self._scripts = []
            self._faults = []

    def steps_remaining(self) -> int:
        """How many scripted one-shot steps have not been consumed yet."""
        with self._lock:
            return sum(len(entry[2]) for entry in self._scripts)

    def _take_step(self, method: str, path: str) -> Step | None:
        with self._lock:
            for entry in _by_specificity(self._scripts, method, path):
                if entry[2]:
                    return entry[2].popleft()
            for entry in _by_specificity(self._faults, method, path):
                return entry[2]
        return None

    # -- request handling (called from handler threads) ----------------------------------------

    def _note_request(self, request: RecordedRequest) -> None:
        with self._lock:
            self._request_count += 1
            self._bytes_received += len(request.body)
            if self.record:
                self._requests.append(request)

    def _accepted_logs3(self, body) -> None:
        if self.record:
            with self._lock:
                self._logs3_bodies.append(body)

    def _handle(self, request: RecordedRequest) -> Response:
        try:
            if not request.path.startswith(handlers.PUBLIC_PREFIXES):
                given = request.header("Authorization") or ""
                if given != f"Bearer {self.api_key}" and given.removeprefix("Bearer ") not in self.other_api_keys:
                    return Response(401, {"error": "Unauthorized: missing or invalid API key (Authorization: Bearer <key>)"})
            return handlers.route(self, request)
        except ApiError as exc:
            return Response(exc.status, {"error": exc.message})
        except Exception:  # a bug in the test server: answer 500 and keep it for the test to see
            trace = traceback.format_exc()
            with self._lock:
                self.errors.append(trace)
            return Response(500, {"error": "bt_server internal error", "traceback": trace})

    # -- inspection ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received (except ``/_test/*``), in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests to ``path`` (``*`` suffix = prefix), optionally of one method."""
        return [r for r in self.requests if _matches(method, path, r.method, r.path)]

    @property
    def logs3_bodies(self) -> list:
        """Parsed bodies of the accepted ``/logs3`` requests (overflow references as sent)."""
        with self._lock:
            return list(self._logs3_bodies)

    @property
    def rows_received(self) -> int:
        """Row entries in accepted ``/logs3`` bodies, including rows read from overflow uploads."""
        return self.store.rows_received

    @property
    def stats(self) -> dict:
        """What ``GET /_test/stats`` answers."""
        with self._lock:
            return {
                "rows_received": self.store.rows_received,
                "requests": self._request_count,
                "bytes_received": self._bytes_received,
            }

    def rows(self, object_type: str | None = None, object_id: str | None = None) -> list[dict]:
        """Current merged rows (copies), in order of first write.

        ``object_type``: ``"experiment"``, ``"dataset"``, ``"project_logs"`` or
        ``"playground_logs"``; ``object_id``: the experiment/dataset/project/prompt-session id.
        """
        return self.store.rows(object_type, object_id)

    def projects(self) -> list[dict]:
        return self.registry.projects()

    def experiments(self, project_id: str | None = None) -> list[dict]:
        return self.registry.experiments(project_id)

    def datasets(self, project_id: str | None = None) -> list[dict]:
        return self.registry.datasets(project_id)

    def add_prompt(self, project: str, slug: str, prompt_data: dict, **fields) -> dict:
        """Create the project if needed and write a new version of prompt ``slug`` (name defaults
        to the slug); returns the stored version, whose ``_xact_id`` is its version."""
        project_id = self.registry.project_create_or_get({"name": project})["id"]
        body = {"project_id": project_id, "slug": slug, "name": slug, "prompt_data": prompt_data, **fields}
        return self.prompts.write(body, replace=True)

    def set_environment_object(self, object_type: str, object_id: str, environment: str, version: str) -> None:
        """Point ``environment`` (e.g. "production") of an object (a dataset) at one of its versions."""
        with self._lock:
            self.environment_objects[(object_type, object_id, environment)] = str(version)

    def attachment_data(self, key: str) -> bytes | None:
        """Bytes uploaded for an attachment key (None if not uploaded)."""
        return self.objstore.get(f"attachments/{key}")

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01):
        """Poll ``predicate`` until truthy and return its value; AssertionError after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(f"condition not met within {timeout} s: {predicate}")
            time.sleep(interval)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<BraintrustTestServer {self.url} {state} rows_received={self.rows_received}>"
