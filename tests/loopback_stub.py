"""What the loopback model-API stubs share (tests/openai_stub.py, tests/anthropic_stub.py): a
threaded HTTP server on a free loopback port that parses each POSTed JSON body, records it and
lets the stub answer it.

A stub subclasses ``LoopbackStub`` and defines ``answer(handler, path, body)``, which replies
with ``handler.send(status, data, content_type)``.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StubHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.stub.requests.append((self.path, body))
        self.server.stub.answer(self, self.path, body)

    def send(self, status: int, data: bytes, content_type: str, announced_bytes: int | None = None) -> None:
        """Answer ``data``; ``announced_bytes`` above its length makes a cut-off answer."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(announced_bytes or len(data)))
        self.end_headers()
        self.wfile.write(data)
        if announced_bytes:
            self.close_connection = True


class LoopbackStub:
    """The server; ``url`` is its root. ``requests`` holds ``(path, body)`` in arrival order."""

    def __init__(self):
        self.requests: list[tuple[str, dict]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), StubHandler)
        self._server.daemon_threads = True
        self._server.stub = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, handler: StubHandler, path: str, body: dict) -> None:
        raise NotImplementedError

    def start(self):
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
