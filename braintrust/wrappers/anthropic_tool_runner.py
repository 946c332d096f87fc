"""Anthropic's tool runner under ``wrap_anthropic``, traced as 0.48.1 traces it.

``client.beta.messages.tool_runner(...)`` is a ``task`` span ``anthropic.messages.tool_runner``
(the request's messages as ``input``, its parameters as ``metadata``, the final message as
``output``), started when the runner first runs and current only while it runs (never across a
yield to the caller). Under it, each model call is the usual ``llm`` span (the runner sends
through the wrapped client) and each run of a tool given to it a ``tool`` span named after the
tool (its input and result; a toolset's member also ``toolset_name`` and ``tool_use_id``).
``client.beta.messages.thread(...)`` sends through the wrapped client too, and its
``tool_runner(...)`` is traced the same way. A runner that fails logs the error and re-raises it;
one closed or dropped early ends its span with no output.
"""

from __future__ import annotations

import copy
import inspect
from contextlib import contextmanager
from typing import Any, Iterator

from braintrust.tracing.api import start_span
from braintrust.tracing.span import NOOP_SPAN, instrumented_by
from braintrust.wrappers.anthropic import INSTRUMENTATION, PROVIDER, _parsed_message_fields, _start_fields, wrap_anthropic
from braintrust.wrappers.calls import NamedWrapper, as_dict, keep_iterators, warn_untraced

RUN_SPAN = "anthropic.messages.tool_runner"
_TRACED = "_braintrust_traced"  # marks a tool's call traced already (a tool given to two runners)


def traced_helper(messages: Any, name: str) -> Any:
    """``messages.tool_runner`` or ``messages.thread`` (``name``), bound to the wrapped client;
    a client without it raises its AttributeError."""
    getattr(messages, name)

    def helper(*args: Any, **kwargs: Any) -> Any:
        keep_iterators(kwargs, "messages", "tools")  # (the run's span and the runner both read them)
        try:
            resource = copy.copy(messages)  # (the caller's resource keeps its own client)
            resource._client = wrap_anthropic(messages._client)
            kwargs = _with_traced_tools(kwargs)
        except Exception as exc:  # tracing never stops the run
            warn_untraced(f"anthropic.messages.{name}: this run is not traced ({type(exc).__name__}: {exc})", stacklevel=3)
            return getattr(messages, name)(*args, **kwargs)
        result = getattr(resource, name)(*args, **kwargs)
        return TracedMessageThread(result) if name == "thread" else TracedToolRunner(result, kwargs)

    return helper


def _with_traced_tools(kwargs: dict) -> dict:
    tools = kwargs.get("tools")
    if tools is None or not hasattr(tools, "__iter__") or isinstance(tools, (str, bytes, dict)):
        return kwargs  # (the client's own markers and mistakes are the client's to report)
    return {**kwargs, "tools": [_traced_tool(tool) for tool in tools]}


def _traced_tool(tool: Any) -> Any:
    """A copy of ``tool`` whose runs are ``tool`` spans (a tool definition without code, as it is)."""
    is_toolset = callable(getattr(tool, "tool_result", None)) and isinstance(getattr(tool, "toolset_name", None), str)
    method = "tool_result" if is_toolset else "call"
    run = getattr(tool, method, None)
    if not callable(run) or getattr(run, _TRACED, False):
        return tool

    def start(tool_input: Any) -> Any:
        if is_toolset:
            return _start(getattr(tool_input, "name", None), "tool", input=as_dict(getattr(tool_input, "input", None)),
                          metadata={"provider": PROVIDER, "toolset_name": tool.toolset_name,
                                    "tool_use_id": getattr(tool_input, "id", None)})
        return _start(tool.name, "tool", input=tool_input, metadata={"provider": PROVIDER})

    def log_result(span: Any, result: Any) -> None:
        if not is_toolset:
            span.log(output=result)
            return
        output = as_dict(result.get("content") if isinstance(result, dict) else getattr(result, "content", None))
        span.log(output=output)
        if (result.get("is_error") if isinstance(result, dict) else getattr(result, "is_error", None)):
            span.log(error=output)

    if inspect.iscoroutinefunction(run):
        async def traced(tool_input: Any) -> Any:
            with start(tool_input) as span:
                result = await run(tool_input)
                log_result(span, result)
                return result
    else:
        def traced(tool_input: Any) -> Any:
            with start(tool_input) as span:
                result = run(tool_input)
                log_result(span, result)
                return result

    setattr(traced, _TRACED, True)
    try:
        traced_tool = copy.copy(tool)
        setattr(traced_tool, method, traced)
    except Exception:  # (a tool that cannot be copied runs untraced)
        return tool
    return traced_tool


def _start(name: Any, span_type: str, **fields: Any) -> Any:
    with instrumented_by(INSTRUMENTATION):
        return start_span(name=name, span_attributes={"type": span_type}, **fields)


class TracedToolRunner(NamedWrapper):
    """A tool runner (sync or async) whose run is a ``task`` span, current only while it runs."""

    def __init__(self, runner: Any, kwargs: dict):
        super().__init__(runner)
        self._bt_runner = runner
        self._bt_kwargs = kwargs
        self._bt_span: Any = None
        self._bt_finished = False
        self._bt_has_items = False

    def __del__(self) -> None:
        try:
            if self.__dict__.get("_bt_finished") is False:
                self._bt_finish()
        except Exception:  # (at collection: nothing to tell anyone)
            pass

    @contextmanager
    def _bt_running(self) -> Iterator[None]:
        if self._bt_span is None:
            try:
                fields = _start_fields(dict(self._bt_kwargs))
                self._bt_span = _start(RUN_SPAN, "task", **fields)
            except Exception:  # tracing never stops the run
                self._bt_span = NOOP_SPAN
        self._bt_span.set_current()
        try:
            yield
        except BaseException as exc:
            self._bt_finish(error=exc)
            raise
        finally:
            self._bt_span.unset_current()

    def _bt_finish(self, result: Any = None, error: BaseException | None = None) -> None:
        if self._bt_finished or self._bt_span is None:
            return
        self._bt_finished = True
        if result is not None:
            self._bt_span.log(output=_parsed_message_fields(result)["output"])
        if error is not None and not isinstance(error, (GeneratorExit, StopIteration, StopAsyncIteration)):
            self._bt_span.log(error=str(error))
        self._bt_span.end()

    def __iter__(self) -> "TracedToolRunner":
        return self

    def __next__(self) -> Any:
        with self._bt_running():
            try:
                item = next(self._bt_runner)
            except StopIteration:
                self._bt_finish(self._bt_runner.until_done() if self._bt_has_items else None)
                raise
            self._bt_has_items = True
            return self._bt_reply(item)

    def __aiter__(self) -> "TracedToolRunner":
        return self

    async def __anext__(self) -> Any:
        with self._bt_running():
            try:
                item = await self._bt_runner.__anext__()
            except StopAsyncIteration:
                self._bt_finish(await self._bt_runner.until_done() if self._bt_has_items else None)
                raise
            self._bt_has_items = True
            return self._bt_reply(item)

    def _bt_reply(self, item: Any) -> Any:
        return _RunScopedStream(item, self._bt_running) if self._bt_kwargs.get("stream") is True else item

    def until_done(self) -> Any:
        if inspect.iscoroutinefunction(self._bt_runner.until_done):
            return self._bt_until_done_async()
        with self._bt_running():
            result = self._bt_runner.until_done()
            self._bt_finish(result)
            return result

    async def _bt_until_done_async(self) -> Any:
        with self._bt_running():
            result = await self._bt_runner.until_done()
            self._bt_finish(result)
            return result

    def add_tools(self, *tools: Any) -> Any:
        return self._bt_runner.add_tools(*(_traced_tool(tool) for tool in tools))

    def generate_tool_call_response(self) -> Any:
        if inspect.iscoroutinefunction(self._bt_runner.generate_tool_call_response):
            return self._bt_tool_call_response_async()
        with self._bt_running():
            return self._bt_runner.generate_tool_call_response()

    async def _bt_tool_call_response_async(self) -> Any:
        with self._bt_running():
            return await self._bt_runner.generate_tool_call_response()

    def close(self) -> Any:
        if inspect.iscoroutinefunction(self._bt_runner.close):
            return self._bt_close_async()
        try:
            return self._bt_runner.close()
        finally:
            self._bt_finish()

    async def _bt_close_async(self) -> Any:
        try:
            return await self._bt_runner.close()
        finally:
            self._bt_finish()


class _RunScopedStream(NamedWrapper):
    """A streaming runner's reply, read with the run's span current (a tool the runner runs
    eagerly while the reply is read is the run's), never across a yield to the caller."""

    SCOPED = ("get_final_message", "get_final_text", "until_done", "close")

    def __init__(self, stream: Any, running: Any):
        super().__init__(stream)
        self._bt_stream = stream
        self._bt_running = running

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_bt_"):  # (not set yet: a copy being made)
            raise AttributeError(name)
        value = getattr(self._bt_stream, name)
        if name == "text_stream":
            return _RunScopedStream(value, self._bt_running)
        if name not in self.SCOPED:
            return value

        def scoped(*args: Any, **kwargs: Any) -> Any:
            with self._bt_running():
                result = value(*args, **kwargs)
            return self._bt_awaited(result) if inspect.isawaitable(result) else result

        return scoped

    async def _bt_awaited(self, result: Any) -> Any:
        with self._bt_running():
            return await result

    def __iter__(self) -> "_RunScopedStream":
        return self

    def __next__(self) -> Any:
        with self._bt_running():
            try:
                return next(self._bt_stream)
            except StopIteration:
                pass  # (raised outside: the end of a reply is not the end of the run)
        raise StopIteration

    def __aiter__(self) -> "_RunScopedStream":
        return self

    async def __anext__(self) -> Any:
        with self._bt_running():
            try:
                return await self._bt_stream.__anext__()
            except StopAsyncIteration:
                pass
        raise StopAsyncIteration

    def __enter__(self) -> "_RunScopedStream":
        with self._bt_running():
            self._bt_stream.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> Any:
        with self._bt_running():
            return self._bt_stream.__exit__(*exc_info)

    async def __aenter__(self) -> "_RunScopedStream":
        with self._bt_running():
            await self._bt_stream.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> Any:
        with self._bt_running():
            return await self._bt_stream.__aexit__(*exc_info)


class TracedMessageThread(NamedWrapper):
    """A message thread: it sends through the wrapped client; its tool runners are traced."""

    def __init__(self, thread: Any):
        super().__init__(thread)
        self._bt_thread = thread

    def tool_runner(self, *args: Any, **kwargs: Any) -> TracedToolRunner:
        return TracedToolRunner(self._bt_thread.tool_runner(*args, **kwargs), {**self._bt_thread.params, **kwargs})

    def update(self, *args: Any, **kwargs: Any) -> Any:
        return self._bt_thread.update(*args, **_with_traced_tools(kwargs))

    def fork(self) -> "TracedMessageThread":
        return TracedMessageThread(self._bt_thread.fork())
