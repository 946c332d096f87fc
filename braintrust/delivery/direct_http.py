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
import select
import socket
import ssl
import struct
import threading
import zlib
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Answer", "DirectConnections"]

#: Writing to the socket's file descriptor directly (see ``_Connection.send``) is POSIX only.
_WRITE_FD = os.name == "posix"
_TCP_ESTABLISHED = 1
#: ``struct tcp_info`` (linux/tcp.h): ``tcpi_bytes_received`` (a u64, Linux 4.1+) and the length read.
_BYTES_RECEIVED_OFFSET = 128
_TCP_INFO_LENGTH = 136


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
                data = _inflate(data)
        except zlib.error:
            pass
        charset = self.headers.get_content_charset() or "utf-8"
        try:
            return data.decode(charset, "replace")
        except LookupError:
            return data.decode("utf-8", "replace")


def _inflate(data: bytes) -> bytes:
    """A ``deflate`` body: zlib-wrapped as the standard says, or raw as some servers send it
    (``requests`` reads both)."""
    try:
        return zlib.decompress(data)
    except zlib.error:
        return zlib.decompress(data, -zlib.MAX_WBITS)


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
        # Bytes the server sent past this response (a second response, garbage) would be read
        # as the answer to the next request on this connection: such a connection is not reused
        # (as urllib3 drops it). Bytes here now are seen by a poll; bytes arriving later, by
        # the count of bytes received (``_alive``), read before the poll so none slips between.
        conn.received_when_idle = _received(conn.sock) if not response.will_close else None
        if response.will_close or _unread(conn.sock):
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
    """False if the server closed (or reset) this idle connection or sent anything since it went
    idle (``received_when_idle``), as far as can be seen without a system call that releases
    the GIL (Linux: the TCP state and byte count; elsewhere a poll)."""
    if conn.sock is None:
        return False
    info = _tcp_info(conn.sock)
    if info is not None:
        state, received = info
        if state != _TCP_ESTABLISHED:
            return False
        if received is not None and getattr(conn, "received_when_idle", None) is not None:
            return received == conn.received_when_idle
    return not _unread(conn.sock)


def _received(sock: Any) -> int | None:
    """The bytes this TCP connection has received so far (Linux 4.1+), else None."""
    info = _tcp_info(sock)
    return info[1] if info is not None else None


def _tcp_info(sock: Any) -> tuple[int, int | None] | None:
    """(TCP state, bytes received so far or None before Linux 4.1) from ``TCP_INFO``, a call
    that keeps the GIL; None where there is no such option."""
    option = getattr(socket, "TCP_INFO", None)
    if option is None or sock is None:
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, option, _TCP_INFO_LENGTH)
    except OSError:
        return None
    if not info:
        return None
    received = struct.unpack_from("=Q", info, _BYTES_RECEIVED_OFFSET)[0] if len(info) >= _TCP_INFO_LENGTH else None
    return info[0], received


def _unread(sock: Any) -> bool:
    """True if bytes (or the end of the stream) wait to be read on this idle connection."""
    if sock is None:
        return True
    try:
        if getattr(sock, "pending", None) is not None and sock.pending():  # (TLS: decrypted, unread)
            return True
        if hasattr(select, "poll"):  # (select() fails for descriptors past 1023)
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
