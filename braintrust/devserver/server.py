"""The dev server of ``braintrust eval --dev``: the playground's remote evals run here.

An HTTP server from the standard library, one thread per request. ``GET /`` says hello,
``GET /list`` lists the evaluators, ``POST /eval`` runs one with the playground's data,
parameters and extra scorers (``braintrust.devserver.protocol``), as the caller
(``braintrust.devserver.access``). A request that cannot run is answered with a JSON error;
once a streamed answer has started, a failure is its ``error`` event, then ``done``. A streamed
run whose caller goes away (closes the connection, or stops reading) is cancelled. A request
that does not arrive whole within ``request_timeout_seconds`` is answered 408 (or dropped, when
not even its headers came).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import selectors
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Mapping

from braintrust.devserver.access import AccessDenied, Caller, CredentialGate, TokenChecker, caller_of, cors_headers
from braintrust.devserver.protocol import (
    BadRequest,
    EvalRequest,
    evaluator_listing,
    format_summary,
    parse_eval_request,
    sse_event,
)

__all__ = ["DevServer", "serve"]

MAX_BODY_BYTES = 64 * 1024 * 1024
#: How long a request may take to arrive, and a streamed answer's reader to take the next event.
REQUEST_TIMEOUT_SECONDS = 60.0
#: How often a streamed run checks that its caller is still connected.
HANGUP_POLL_SECONDS = 0.1
JSON_TYPE = "application/json; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"


class DevServer(ThreadingHTTPServer):
    """Serves ``evaluators`` (``{name: Evaluator}``) on ``(host, port)`` (port 0: any free one)."""

    daemon_threads = True

    def __init__(self, evaluators: Mapping[str, Any], host: str = "localhost", port: int = 8300, org_name: str | None = None,
                 request_timeout_seconds: float = REQUEST_TIMEOUT_SECONDS):
        if ":" in host:  # an IPv6 address (``::``: every interface), as 0.48.1's server takes it
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)
        self.evaluators = dict(evaluators)
        self.request_timeout_seconds = request_timeout_seconds
        self.tokens = TokenChecker(org_name)
        self.gate = CredentialGate()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(evaluators: Mapping[str, Any], host: str = "localhost", port: int = 8300, org_name: str | None = None) -> None:
    """Run the dev server until Ctrl-C (or SIGTERM)."""
    from braintrust.delivery.runtime import get_processor

    # Made here, on the main thread, so that its SIGTERM handler is installed (it cannot be from
    # a request's thread, where the first eval would otherwise make it): a SIGTERM then flushes
    # what the running evals logged instead of killing the process with their rows.
    get_processor()
    server = DevServer(evaluators, host, port, org_name)
    print(f"Starting dev server on http://{host}:{server.server_address[1]}", flush=True)
    print(f"Loaded {len(evaluators)} evaluator(s): {list(evaluators)}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


#: Each path and the methods it answers (OPTIONS, the CORS preflight, everywhere).
ENDPOINTS = {"/": ("GET", "HEAD"), "/list": ("GET", "HEAD"), "/eval": ("POST",)}
ENDPOINTS_TEXT = "the dev server answers GET /, GET /list and POST /eval"


class _Handler(BaseHTTPRequestHandler):
    server: DevServer
    protocol_version = "HTTP/1.0"  # (a streamed answer ends when the connection closes)
    _head = False  # (a HEAD request: answers carry no body)

    @property
    def timeout(self) -> float:  # (read by setup(): every read and write of the connection)
        return self.server.request_timeout_seconds

    def log_message(self, format: str, *args: Any) -> None:  # one line per request, on stderr
        sys.stderr.write(f"braintrust dev server: {self.address_string()} {format % args}\n")

    def _headers(self) -> dict[str, str]:
        """The request's headers, names in lower case, values without the whitespace around them
        (not part of a value in HTTP: a token sent as ``"KEY "`` is ``KEY``, as 0.48.1's server reads it)."""
        return {name.lower(): value.strip() for name, value in self.headers.items()}

    def _answer(self, status: int, body: Any, content_type: str = JSON_TYPE, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else (json.dumps(body) if content_type == JSON_TYPE else str(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        for name, value in cors_headers(self._headers()).items():
            self.send_header(name, value)
        self.end_headers()
        if not self._head:
            self.wfile.write(data)

    def do_OPTIONS(self) -> None:  # noqa: N802 - the http.server naming
        self._answer(200, b"", "text/plain")

    def _not_allowed_here(self, method: str) -> bool:
        """405 (with ``Allow`` and the CORS headers a browser needs to read it) for a known path
        asked with another method, and 307 to a known path asked with a trailing slash (``/list/``),
        as 0.48.1's server answers; False for an unknown path."""
        path, _, query = self.path.partition("?")
        if path.endswith("/") and path[:-1] in ENDPOINTS:
            target = path[:-1] + (f"?{query}" if query else "")
            host = self.headers.get("Host", "").strip()
            self._answer(307, b"", TEXT_TYPE, {"Location": f"http://{host}{target}" if host else target})
            return True
        allowed = ENDPOINTS.get(path)
        if allowed is None or method in allowed:
            return False
        self._answer(405, "Method Not Allowed", TEXT_TYPE, {"Allow": ", ".join(allowed)})
        return True

    def _unsupported(self) -> None:
        if not self._not_allowed_here(self.command):
            self._answer(404, {"error": f"no endpoint {self.command} {self.path.split('?', 1)[0]}: {ENDPOINTS_TEXT}"})

    do_PUT = do_DELETE = do_PATCH = _unsupported  # noqa: N815

    def do_HEAD(self) -> None:  # noqa: N802
        """As GET, without the body (0.48.1's server answers HEAD wherever it answers GET)."""
        self._head = True
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        if self._not_allowed_here("GET"):
            return
        if path == "/":
            self._answer(200, "Hello, world!", TEXT_TYPE)
        elif path == "/list":
            if self._authorized() is not None:
                try:
                    listing = evaluator_listing(self.server.evaluators)
                except BadRequest as exc:  # (an evaluator's own declaration: this server's fault, not the caller's)
                    self._answer(500, {"error": f"Failed to list the evaluators: {exc}"})
                    return
                self._answer(200, listing)
        else:
            self._answer(404, {"error": f"no endpoint GET {path}: {ENDPOINTS_TEXT}"})

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        if self._not_allowed_here("POST"):
            return
        if path != "/eval":
            self._answer(404, {"error": f"no endpoint POST {path}: {ENDPOINTS_TEXT}"})
            return
        caller = self._authorized()
        if caller is None:
            return
        body = self._body()
        if body is None:
            return
        try:
            request = parse_eval_request(body)
        except BadRequest as exc:
            self._answer(400, {"error": str(exc)})
            return
        request.scorer_project_id = caller.project_id
        registered = self.server.evaluators.get(request.name)
        if registered is None:
            self._answer(404, {"error": f"Evaluator '{request.name}' not found"})
            return
        try:
            chosen = _chosen_parameters(request, registered)
        except ValueError as exc:
            self._answer(400, {"error": f"Invalid parameters: {exc}"})
            return
        try:
            with self.server.gate.using(caller):  # (the dataset too is read as the caller)
                try:
                    data = _data_of(request, registered)
                except Exception as exc:
                    print(f"braintrust dev server: Error loading dataset: {exc}", file=sys.stderr)
                    self._answer(400, {"error": f"Failed to load dataset: {exc}"})
                    return
                if request.stream:
                    self._run_streamed(request, registered, data, chosen)
                else:
                    self._run(request, registered, data, chosen)
        except AccessDenied as exc:  # (raised only on entering the gate)
            print(f"braintrust dev server: {exc.message}", file=sys.stderr)
            self._answer(exc.status, {"error": exc.message})

    def _body(self) -> bytes | None:
        """The request's body; None when the answer (an error) is already sent."""
        if self.headers.get("Transfer-Encoding"):
            self._answer(411, {"error": f"this dev server does not read a body sent with Transfer-Encoding: "
                                        f"{self.headers['Transfer-Encoding']}; send it with a Content-Length"})
            return None
        declared = self.headers.get("Content-Length") or "0"
        try:
            length = int(declared)
        except ValueError:
            length = -1
        if length < 0:
            self._answer(400, {"error": f"Content-Length must be a number of bytes, got {declared!r}"})
        elif length > MAX_BODY_BYTES:
            self._answer(413, {"error": f"request body of {length} bytes is over the dev server's limit of {MAX_BODY_BYTES} bytes; "
                                        "send fewer rows, or name a dataset instead of sending its rows"})
        else:
            try:
                return self.rfile.read(length)
            except TimeoutError:
                self._answer(408, {"error": f"the request body of {length} bytes did not arrive within "
                                            f"{self.server.request_timeout_seconds:g} s"})
        return None

    def _authorized(self) -> Caller | None:
        """The caller, once checked; None when the answer (an error) is already sent."""
        try:
            caller = caller_of(self._headers())
            self.server.tokens.check(caller)
            return caller
        except AccessDenied as exc:
            self._answer(exc.status, {"error": exc.message})
            return None

    def _run(self, request: EvalRequest, registered: Any, data: Any, chosen: Any) -> None:
        try:
            result = _run_evaluator(_evaluator_for(request, registered, data, chosen))
        except Exception as exc:
            print(f"braintrust dev server: Failed to run evaluation: {exc} (evaluator {request.name!r})", file=sys.stderr)
            self._answer(500, {"error": f"Failed to run evaluation: {exc}"})
            return
        self._answer(200, format_summary(result.summary))

    def _run_streamed(self, request: EvalRequest, registered: Any, data: Any, chosen: Any) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")  # (as 0.48.1)
        self.send_header("Cache-Control", "no-cache")
        for name, value in cors_headers(self._headers()).items():
            self.send_header(name, value)
        self.end_headers()
        cancel = threading.Event()
        finished = threading.Event()
        lock = threading.Lock()
        threading.Thread(target=self._watch_for_hangup, args=(cancel, finished), daemon=True,
                         name="braintrust-devserver-hangup").start()

        def send(event: str, payload: Any) -> None:
            with lock:
                if cancel.is_set():
                    return
                try:
                    self.wfile.write(sse_event(event, payload))
                    self.wfile.flush()
                except OSError:  # the caller went away: stop the run
                    cancel.set()

        # A run under the playground's parent makes no experiment: no start event, as 0.48.1 sends none.
        on_start = None if request.parent else (lambda summary: send("start", format_summary(summary)))
        try:  # (from here on, whatever fails is the stream's error event)
            evaluator = _evaluator_for(request, registered, data, chosen, cancel_event=cancel, on_start=on_start,
                                       stream=lambda event: send("progress", event))
            result = _run_evaluator(evaluator)
            send("summary", format_summary(result.summary))
        except asyncio.CancelledError:
            if not cancel.is_set():
                raise
            print(f"braintrust dev server: the caller of eval {request.name} went away; its run was cancelled", file=sys.stderr)
        except Exception as exc:
            print(f"braintrust dev server: Error running eval: {exc} (evaluator {request.name!r})", file=sys.stderr)
            send("error", json.dumps(str(exc)))  # (a JSON string, as a function's stream sends it)
        finally:
            send("done", "")
            finished.set()

    def _watch_for_hangup(self, cancel: threading.Event, finished: threading.Event) -> None:
        """Set ``cancel`` when the caller closes the connection while the run goes on (a task
        that sends no progress for a while would otherwise run on for nobody)."""
        with selectors.DefaultSelector() as selector:
            try:
                selector.register(self.connection, selectors.EVENT_READ)
            except (ValueError, OSError):  # (started after a quick answer ended: the connection is closed)
                return
            while not finished.is_set():
                if not selector.select(HANGUP_POLL_SECONDS):
                    continue
                try:
                    gone = self.connection.recv(1, socket.MSG_PEEK) == b""
                except OSError:  # (reset)
                    gone = True
                if gone:
                    cancel.set()
                return  # (the caller hung up, or sent more than its request: nothing more to tell)


def _data_of(request: EvalRequest, registered: Any) -> Any:
    """The cases: a Braintrust dataset by project and name or by id, rows given inline, or (no
    ``data``) the evaluator's own."""
    data = request.data
    if data is None:
        return registered.data
    if isinstance(data, dict):
        from braintrust.objects.dataset import init_dataset

        options = {key: data[f"dataset_{key}"] for key in ("version", "environment") if data.get(f"dataset_{key}") is not None}
        if data.get("_internal_btql") is not None:  # (the playground's filter: the rows it selected, no others)
            options["_internal_btql"] = data["_internal_btql"]
        if "project_name" in data and "dataset_name" in data:
            dataset = init_dataset(project=data["project_name"], name=data["dataset_name"], **options)
        elif "dataset_id" in data:
            dataset = init_dataset(dataset_id=data["dataset_id"], **options)
        else:
            dataset = None
        if dataset is not None:
            dataset.id  # (looked up now: a dataset that cannot be read is the request's error, answered 400)
            return dataset
        if "data" in data:
            return data["data"]
        raise ValueError("data must name a dataset (project_name and dataset_name, or dataset_id) or hold the rows in data")
    return data


def _chosen_parameters(request: EvalRequest, registered: Any) -> dict[str, Any] | None:
    """The parameters the playground chose, checked against the evaluator's (None: it has none)."""
    if not registered.parameters:
        return None
    from braintrust.parameters.values import validate_parameters

    return validate_parameters(request.parameters, registered.parameters)


def _evaluator_for(request: EvalRequest, registered: Any, data: Any, chosen: Any, **callbacks: Any) -> Any:
    scores = list(registered.scores or []) + [_remote_scorer(score["name"], score["function_id"], request.scorer_project_id)
                                              for score in request.scores]
    # (named as 0.48.1's server names the run: its progress events and a parent's summary say it)
    eval_name = request.name if request.experiment_name is None else f"{request.name} [experiment_name={request.experiment_name}]"
    return dataclasses.replace(
        registered, eval_name=eval_name, data=data, task=_reporting_output(registered.task), scores=scores,
        parameter_values=chosen, experiment_name=request.experiment_name, parent=request.parent,
        project_id=request.project_id or registered.project_id, **callbacks,
    )


def _reporting_output(task: Callable[..., Any]) -> Callable[..., Any]:
    """``task`` (taking ``(input)`` or ``(input, hooks)``, sync or async) as a two-parameter task
    that also reports its output as a ``json_delta`` progress event, as 0.48.1's dev server does:
    the playground shows each case's output from it. (``Eval``'s own ``stream`` sends only what a
    task reports.)"""
    import inspect

    from braintrust.eval.scorers import is_async_callable

    try:
        takes_hooks = len(inspect.signature(task).parameters) == 2
    except (TypeError, ValueError):
        takes_hooks = False

    def report(hooks: Any, output: Any) -> Any:
        try:
            data = json.dumps(output, default=str)
        except (TypeError, ValueError):
            data = json.dumps(str(output))
        hooks.report_progress({"format": "code", "output_type": "completion", "event": "json_delta", "data": data})
        return output

    async def report_awaited(hooks: Any, awaitable: Any) -> Any:
        return report(hooks, await awaitable)

    if is_async_callable(task):
        async def run_async(input: Any, hooks: Any) -> Any:
            return report(hooks, await (task(input, hooks) if takes_hooks else task(input)))

        return run_async

    def run(input: Any, hooks: Any) -> Any:
        output = task(input, hooks) if takes_hooks else task(input)
        return report_awaited(hooks, output) if inspect.isawaitable(output) else report(hooks, output)

    return run


def _remote_scorer(name: str, function_id: dict[str, Any], project_id: str | None) -> Callable[..., Any]:
    """A scorer that calls a Braintrust function (the playground's scorers), in the scorer's span:
    the request 0.48.1's dev server sends (the function as named, the scorer's arguments as input,
    the org's and the playground project's headers)."""
    def scorer(input: Any, output: Any, expected: Any, metadata: Any) -> Any:
        from braintrust.functions.invoke import call_function
        from braintrust.tracing.span import current_span

        return call_function({**function_id, "input": {"input": input, "output": output, "expected": expected, "metadata": metadata},
                              "parent": current_span().export(), "stream": False, "mode": "auto", "strict": True},
                             project_id=project_id)

    scorer.__name__ = name
    return scorer


def _run_evaluator(evaluator: Any) -> Any:
    from braintrust.eval.api import run_and_report
    from braintrust.eval.loop import run_sync

    return run_sync(run_and_report(evaluator, None))
