"""The direct HTTP/1.1 client (``direct_http``) against servers scripted byte for byte: what real
servers, proxies and load balancers send. Each case is checked against the ``requests`` path
(``HttpClient.request``), the reference, for the same bytes. Sleeps go through a fake clock."""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
import zlib

import pytest

import braintrust
from braintrust.config import DeliverySettings
from braintrust.delivery import policy
from braintrust.delivery.http_client import HttpClient, HttpError, TransportError
from delivery_helpers import FakeClock, client_for

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
ERROR_500 = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
BAD_400 = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
STRAY_200 = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
CLOSE = "close"


class RawServer:
    """A loopback server that reads whole requests and answers each with the next scripted
    action: bytes to send, or ``action(conn)``, which may return ``CLOSE`` to end the
    connection. Unscripted requests to ``/logs3`` get ``OK``; others, the JSON ``answers``
    gives for their path (registration, ``/version``)."""

    def __init__(self, actions, answers=None):
        self.actions = list(actions)
        self.answers = answers or {}
        self.requests: list[tuple[str, bytes]] = []
        self.connections = 0
        self._sockets: list[socket.socket] = []
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def logs3_requests(self) -> int:
        return sum(1 for line, _ in self.requests if " /logs3 " in line)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            self._sockets.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        pending = b""
        with conn:
            while True:
                try:
                    request, pending = _read_request(conn, pending)
                except OSError:
                    return
                if request is None:
                    return
                self.requests.append(request)
                line = request[0]
                path = line.split(" ")[1]
                if path in self.answers:
                    action = _json_answer(self.answers[path])
                else:
                    action = self.actions.pop(0) if self.actions else OK
                try:
                    if callable(action):
                        if action(conn) == CLOSE:
                            return
                    else:
                        conn.sendall(action)
                except OSError:
                    return

    def close(self) -> None:
        self._listener.close()
        for conn in self._sockets:
            try:
                conn.close()
            except OSError:
                pass


def _read_request(conn: socket.socket, pending: bytes):
    """((request line, body), bytes read past it), or (None, b"") at the end of the stream."""
    while b"\r\n\r\n" not in pending:
        data = conn.recv(65536)
        if not data:
            return None, b""
        pending += data
    head, rest = pending.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(rest) < length:
        data = conn.recv(65536)
        if not data:
            return None, b""
        rest += data
    return (lines[0], rest[:length]), rest[length:]


def _json_answer(text: str) -> bytes:
    body = text.encode()
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


def _then_close(data: bytes):
    def act(conn):
        conn.sendall(data)
        return CLOSE
    return act


def _reset(conn):
    """Abort the connection (RST) right after reading the request."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return CLOSE


@pytest.fixture
def servers():
    made: list[RawServer] = []

    def make(actions, answers=None) -> RawServer:
        server = RawServer(actions, answers)
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture(autouse=True)
def no_adapter(monkeypatch):
    monkeypatch.setattr(policy, "http_adapter", None)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _outcome(send):
    try:
        send()
    except HttpError as exc:
        return ("http", exc.status, str(exc))
    except TransportError as exc:
        return ("transport", exc.reason)
    return ("ok",)


def _both_paths(servers, clock, script, batches=1, gap=0.0):
    """Send ``batches`` POSTs through the direct path and through ``requests``, each to a server
    running ``script``: [(outcomes, requests received, connections)] for each path."""
    results = []
    for direct in (True, False):
        server = servers(script)
        client = client_for(server.url)
        url = f"{server.url}/logs3"
        outcomes = []
        for _ in range(batches):
            if direct:
                outcomes.append(_outcome(lambda: client.post(url, b'{"rows": []}', clock.deadline(20))))
            else:
                outcomes.append(_outcome(lambda: client.request("POST", url, clock.deadline(20), data=b'{"rows": []}')))
            time.sleep(gap)
        client.close()
        results.append((outcomes, server.logs3_requests(), server.connections))
    return results


# -- answers as real servers frame them: the direct path reads them as requests does ----------------

WIRE_CASES = {
    "chunked with extensions and trailers": [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;name=value\r\n{}\r\n0\r\nX-Trailer: 1\r\n\r\n"],
    "no Content-Length, Connection: close": [_then_close(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{}")],
    "HTTP/1.0 status line": [_then_close(b"HTTP/1.0 200 OK\r\n\r\n{}")],
    "100 Continue first": [b"HTTP/1.1 100 Continue\r\n\r\n" + OK],
    "204 without a body": [b"HTTP/1.1 204 No Content\r\n\r\n"],
    "header names in odd case": [b"HTTP/1.1 200 OK\r\ncOnTeNt-lEnGtH: 2\r\n\r\n{}"],
    "duplicate equal Content-Length": [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}"],
    "body shorter than Content-Length, then closed": [_then_close(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{")],
    "chunked body cut by a close": [_then_close(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{")],
    "reset right after reading the request": [_reset],
    "503 with an HTML page, then 200": [
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\nContent-Length: 26\r\n\r\n<html><b>down</b></html>\r\n"],
    "304 Not Modified": [b"HTTP/1.1 304 Not Modified\r\n\r\n"],
}


@pytest.mark.parametrize("case", list(WIRE_CASES))
def test_each_answer_reads_as_requests_reads_it(servers, clock, case):
    direct, reference = _both_paths(servers, clock, WIRE_CASES[case], batches=2)
    assert direct[0] == reference[0], f"{case}: direct {direct[0]} vs requests {reference[0]}"
    assert direct[1] == reference[1], f"{case}: the server got {direct[1]} POSTs (direct) vs {reference[1]} (requests)"


def test_an_idle_connection_the_server_closed_is_not_used_and_nothing_is_sent_twice(servers, clock):
    def answer_then_close(conn):
        conn.sendall(OK)
        return CLOSE

    (outcomes, received, connections), _ = _both_paths(servers, clock, [answer_then_close], batches=2, gap=0.2)
    assert outcomes == [("ok",), ("ok",)]
    assert (received, connections) == (2, 2)
    assert clock.sleeps == [], "a batch was retried: the stale connection was used"


# -- bytes past a response -----------------------------------------------------------------------


def _answer_then_stray(stray: bytes, sent: threading.Event):
    def act(conn):
        conn.sendall(OK)
        time.sleep(0.05)  # (after the client has read the answer)
        conn.sendall(stray)
        sent.set()
    return act


@pytest.mark.parametrize("tcp_info", [True, False], ids=["tcp_info", "poll"])
def test_bytes_sent_after_an_answer_are_never_read_as_the_next_answer(servers, clock, monkeypatch, tcp_info):
    """A server (or proxy) that sends a second response after the first: the next batch must get
    its own answer (here a 400), not the stray 200, which would count its rows as accepted."""
    if not tcp_info:
        monkeypatch.delattr("socket.TCP_INFO", raising=False)  # (the other platforms' check)
    sent = threading.Event()
    server = servers([_answer_then_stray(STRAY_200, sent), BAD_400])
    client = client_for(server.url)
    client.post(f"{server.url}/logs3", b'{"rows": [1]}', clock.deadline(20))
    assert sent.wait(5)
    time.sleep(0.05)
    with pytest.raises(HttpError) as raised:
        client.post(f"{server.url}/logs3", b'{"rows": [2]}', clock.deadline(20))
    assert raised.value.status == 400
    assert server.logs3_requests() == 2 and server.connections == 2
    client.close()


def test_a_stray_answer_does_not_hide_a_rejected_batch_from_the_flush(servers, bt_server, monkeypatch):
    """End to end: the second batch is refused (400) after a stray 200 on the kept connection;
    the flush must count its row spilled, not accepted (produced == accepted + spilled + dropped)."""
    sent = threading.Event()
    answers = {"/v1/project": '{"id": "00000000-0000-4000-8000-000000000001", "name": "wire"}', "/version": "{}"}
    api = servers([_answer_then_stray(STRAY_200, sent), BAD_400], answers)
    monkeypatch.setenv("BRAINTRUST_API_KEY", bt_server.api_key)
    monkeypatch.setenv("BRAINTRUST_APP_URL", bt_server.url)
    monkeypatch.setenv("BRAINTRUST_API_URL", api.url)
    logger = braintrust.init_logger(project="wire")
    logger.log(input=1)
    first = braintrust.flush()
    assert (first.produced, first.accepted) == (1, 1), first
    assert sent.wait(5)
    time.sleep(0.05)
    logger.log(input=2)
    second = braintrust.flush()
    assert second.accepted == 1, f"the refused batch was counted accepted: {second}"
    assert second.produced == second.accepted + second.spilled + sum(second.dropped.values())
    assert api.logs3_requests() == 2


# -- error messages --------------------------------------------------------------------------------

HTML_PAGE = (b"<html>\r\n<head><title>400 Bad Request</title></head>\r\n<body>\r\n"
             b"<center><h1>400 Bad Request</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "requests"])
def test_a_proxys_html_error_page_makes_a_one_line_error(servers, clock, direct):
    answer = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s" % (len(HTML_PAGE), HTML_PAGE)
    server = servers([answer])
    client = client_for(server.url)
    url = f"{server.url}/logs3"
    with pytest.raises(HttpError) as raised:
        if direct:
            client.post(url, b"{}", clock.deadline(20))
        else:
            client.request("POST", url, clock.deadline(20), data=b"{}")
    message = str(raised.value)
    assert "\n" not in message and "\r" not in message, message
    assert "<title>400 Bad Request</title>" in message
    assert raised.value.body == HTML_PAGE.decode()  # (the whole body stays on the exception)
    client.close()


@pytest.mark.parametrize("wrap", ["zlib", "raw"])
def test_a_deflate_error_body_is_read_as_requests_reads_it(servers, clock, wrap):
    text = b'{"error": "rows rejected: bad field"}'
    if wrap == "zlib":
        body = zlib.compress(text)
    else:
        compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        body = compressor.compress(text) + compressor.flush()
    answer = b"HTTP/1.1 400 Bad Request\r\nContent-Encoding: deflate\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    direct, reference = _both_paths(servers, clock, [answer])
    assert direct[0] == reference[0]
    assert direct[0][0][2].endswith(text.decode())


# -- waits -------------------------------------------------------------------------------------------


def test_an_answer_trickled_a_byte_at_a_time_ends_at_the_deadline(servers):
    stop = threading.Event()

    def trickle(conn):
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b" " * 100000:
            if stop.is_set():
                return CLOSE
            conn.sendall(bytes([byte]))
            time.sleep(0.02)
        return CLOSE

    server = servers([trickle])
    client = client_for(server.url)
    started = time.monotonic()
    try:
        with pytest.raises(TransportError) as raised:
            client.post(f"{server.url}/logs3", b"{}", braintrust.delivery.deadline.Deadline(1.0))
    finally:
        stop.set()
    assert raised.value.reason == "deadline"
    assert time.monotonic() - started < 2.0
    client.close()


def test_retry_after_as_an_http_date_is_honoured_on_the_direct_path(servers, clock):
    now = 1_700_000_000.0
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 3))
    answer = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: %s\r\nContent-Length: 0\r\n\r\n" % date.encode()
    server = servers([answer])
    client = HttpClient("test-api-key", DeliverySettings(), rng=random.Random(0), wall_clock=lambda: now)
    client.trust(server.url)
    client.post(f"{server.url}/logs3", b"{}", clock.deadline(20))
    assert clock.sleeps == [pytest.approx(3.0)]
    assert server.logs3_requests() == 2
    client.close()


def test_a_login_answered_by_an_html_error_page_fails_in_one_line(servers, monkeypatch):
    page = HTML_PAGE.replace(b"400 Bad Request", b"404 Not Found")
    server = servers([b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s" % (len(page), page)])
    monkeypatch.setenv("BRAINTRUST_API_KEY", "test-api-key")
    monkeypatch.setenv("BRAINTRUST_APP_URL", server.url)
    with pytest.raises(Exception) as raised:
        braintrust.login(force_login=True)
    message = str(raised.value)
    assert "404" in message and "<title>404 Not Found</title>" in message
    assert "\n" not in message and "\r" not in message, message
