"""Direct keep-alive HTTP/1.1 connections: the sender's hot path (``POST /logs3``).

``requests`` costs about 0.3 ms of CPU per request (three times the request itself), and before
the body is on the wire it releases the GIL four times (a poll for a dropped connection, a stat
of the CA bundle, the headers and the body sent apart). While the logging thread is busy, each
release can cost the sender its turn for a whole switch interval. Here a request is one
``write()`` and the answer one or two reads.

``HttpClient`` uses this only where it sends what ``requests`` would: no adapter given to
``set_http_adapter``, ``requests`` not patched (``responses``, ``requests-mock``), no proxy, no
``.netrc`` or URL credentials and no client certificate for the host; the session's default
headers, in the same order; TLS verified against the same CA bundle. Retries, deadlines and the
trusted-host rule stay in ``HttpClient``; a redirect is just a status.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import threading
import zlib
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Answer", "DirectConnections"]

#: Writing to the socket's file descriptor directly (see ``_Connection.send``) is POSIX only.
_WRITE_FD = os.name == "posix"
_TCP_ESTABLISHED = 1


class Answer:
    """What ``HttpClient`` reads of a response, named as in ``requests.Response``."""

    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status_code: int, headers: Message, content: bytes):
        self.status_code = status_code
        self.headers = headers
        self.content = content

    @property
    def text(self) -> str:
        data = self.content
        coding = (self.headers.get("Content-Encoding") or "").strip().lower()
        try:
            if coding == "gzip":
                data = zlib.decompress(data, 16 + zlib.MAX_WBITS)
            elif coding == "deflate":
                data = zlib.decompress(data)
        except zlib.error:
            pass
        charset = self.headers.get_content_charset() or "utf-8"
        try:
            return data.decode(charset, "replace")
        except LookupError:
            return data.decode("utf-8", "replace")


class DirectConnections:
    """Idle connections by (scheme, host, port, CA bundle); a request takes one for itself, so
    threads may share this object."""

    def __init__(self) -> None:
        self._idle: dict[tuple, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._contexts: dict[Any, ssl.SSLContext] = {}

    def post(self, url: str, body: bytes, headers: list[tuple[str, str]], timeout: tuple[float, float], verify: Any) -> Answer:
        """POST ``body`` with ``headers`` (in order; Host and Content-Length are added).
        ``timeout`` is (connect, read) seconds. Raises ``OSError`` (``ssl.SSLError``,
        ``TimeoutError``...) or ``http.client.HTTPException``."""
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname, parts.port, verify)
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        conn = self._take(key) or self._connect(parts, verify, timeout[0])
        return self._exchange(key, conn, target, body, headers, timeout[1])

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def _exchange(self, key: tuple, conn: http.client.HTTPConnection, target: str, body: bytes,
                  headers: list[tuple[str, str]], read_timeout: float) -> Answer:
        try:
            if conn.sock.gettimeout() != read_timeout:
                conn.sock.settimeout(read_timeout)  # an ioctl that releases the GIL: only on change
            conn.putrequest("POST", target, skip_accept_encoding=True)
            for name, value in headers:
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)  # headers and body together: one send (see _Connection)
            response = conn.getresponse()
            content = response.read()
        except ssl.SSLError as exc:  # past the handshake: a broken connection (as urllib3 says)
            conn.close()
            raise ConnectionAbortedError(f"TLS connection broken: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        if response.will_close:
            conn.close()
        else:
            with self._lock:
                self._idle.setdefault(key, []).append(conn)
        return Answer(response.status, response.headers, content)

    def _take(self, key: tuple) -> http.client.HTTPConnection | None:
        """An idle connection the server has not closed (as urllib3 checks before reuse)."""
        while True:
            with self._lock:
                conns = self._idle.get(key)
                if not conns:
                    return None
                conn = conns.pop()
            if _alive(conn):
                return conn
            conn.close()

    def _connect(self, parts: Any, verify: Any, connect_timeout: float) -> http.client.HTTPConnection:
        host, port = parts.hostname, parts.port
        if parts.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=connect_timeout, context=self._tls_context(verify)
            )
        else:
            conn = _Connection(host, port, timeout=connect_timeout)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _tls_context(self, verify: Any) -> ssl.SSLContext:
        """Verifying context for ``verify`` as ``requests`` reads it: True (its CA bundle), or
        the path of a CA file or directory."""
        with self._lock:
            context = self._contexts.get(verify)
            if context is None:
                if verify is True:
                    from requests.utils import DEFAULT_CA_BUNDLE_PATH

                    verify_path = DEFAULT_CA_BUNDLE_PATH
                else:
                    verify_path = verify
                try:
                    if os.path.isdir(verify_path):
                        context = ssl.create_default_context(capath=verify_path)
                    else:
                        context = ssl.create_default_context(cafile=verify_path)
                except (OSError, ValueError) as exc:
                    raise ssl.SSLError(f"cannot load the CA certificates {verify_path!r}: {exc}") from None
                self._contexts[verify] = context
            return context


class _Connection(http.client.HTTPConnection):
    def send(self, data: Any) -> None:
        """Send a request (bytes) starting with one ``write()`` of all of it. With a timeout set,
        CPython polls the socket before each send, and that poll releases the GIL before the
        request is on the wire; another thread then runs while the server waits for the request."""
        if not (_WRITE_FD and isinstance(data, bytes) and type(self.sock) is socket.socket):
            super().send(data)
            return
        try:
            sent = os.write(self.sock.fileno(), data)  # the socket is non-blocking (it has a timeout)
        except BlockingIOError:
            sent = 0
        if sent < len(data):
            self.sock.sendall(memoryview(data)[sent:])


def _alive(conn: http.client.HTTPConnection) -> bool:
    """False if the server closed (or reset) this idle connection, as far as can be seen
    without a system call that releases the GIL (Linux: the TCP state; elsewhere a poll)."""
    sock = conn.sock
    if sock is None:
        return False
    tcp_info = getattr(socket, "TCP_INFO", None)
    try:
        if tcp_info is not None:
            return sock.getsockopt(socket.IPPROTO_TCP, tcp_info, 1)[0] == _TCP_ESTABLISHED
        import select

        readable, _, _ = select.select([sock], [], [], 0)
        return not readable  # an idle connection that is readable was closed (or is garbled)
    except (OSError, IndexError):
        return False
