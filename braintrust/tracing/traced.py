"""``@traced``: wrap a function in a span (arguments as input, return value as output,
exceptions as error). Works on sync, async, generator and async-generator functions; the span is
current while the function body runs, including across generator steps."""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import sys
import types
from typing import Any, Callable, TypeVar, overload

from braintrust.config import env_number
from braintrust.tracing import context
from braintrust.tracing.api import start_span
from braintrust.tracing.record import validate_event
from braintrust.tracing.span import NOOP_SPAN, checked_attributes

log = logging.getLogger("braintrust")


#: ``start_span``'s parameters, in order: ``@traced("name", "llm")`` passes them positionally.
_SPAN_PARAMETERS = ("name", "type", "span_attributes", "start_time", "set_current", "parent", "propagated_event")


F = TypeVar("F", bound=Callable[..., Any])


@overload
def traced(f: F, /) -> F: ...


@overload
def traced(*span_args: Any, **options: Any) -> Callable[[F], F]: ...


# (the overloads keep a decorated function's own type for type checkers, as 0.48.1's do)
def traced(*span_args: Any, **options: Any) -> Any:
    """``@traced`` or ``@traced(name=..., type=..., notrace_io=..., span_attributes=..., **event)``.

    Arguments other than ``notrace_io`` are ``start_span``'s (also positionally, name first);
    anything else, like ``metadata=``, is logged on the span when it starts.
    """
    if len(span_args) == 1 and not options and (callable(span_args[0]) or isinstance(span_args[0], (staticmethod, classmethod))):
        return _wrap(span_args[0], {})
    if len(span_args) > len(_SPAN_PARAMETERS):
        raise TypeError(f"traced takes at most {len(_SPAN_PARAMETERS)} positional arguments ({', '.join(_SPAN_PARAMETERS)}).")
    options = dict(options)
    for name, value in zip(_SPAN_PARAMETERS, span_args):
        if name in options:
            raise TypeError(f"traced got multiple values for argument {name!r}")
        options[name] = value
    return lambda f: _wrap(f, options)


def _input_of(func: Callable, signature: inspect.Signature | None, args: tuple, kwargs: dict) -> Any:
    if signature is None:
        return {"args": list(args), "kwargs": kwargs}
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:
        return {"args": list(args), "kwargs": kwargs}
    # As the public SDK logs it: parameter name -> value, with ``*args`` as a list and
    # ``**kwargs`` as a nested dict under their own parameter names.
    return dict(bound.arguments)


def _signature_of(func: Callable) -> inspect.Signature | None:
    """``func``'s signature, or None when it cannot be read (its input is then logged as
    ``args``/``kwargs``). Annotations are not evaluated: on Python 3.14 one naming a type imported
    only under ``TYPE_CHECKING`` would raise ``NameError`` where the function is decorated."""
    try:
        if sys.version_info >= (3, 14):
            import annotationlib

            return inspect.signature(func, annotation_format=annotationlib.Format.FORWARDREF)
        return inspect.signature(func)
    except Exception:
        return None


def _generator_limit() -> int:
    return int(env_number("BRAINTRUST_MAX_GENERATOR_ITEMS", 1000, minimum=-1, integer=True))


def _wrap(func: Callable, options: dict[str, Any]) -> Callable:
    if isinstance(func, (staticmethod, classmethod)):
        # ``@traced`` written above ``@staticmethod`` / ``@classmethod``: trace the function and
        # keep the descriptor (else a static method was given ``self`` and a class method was
        # taken for a span name).
        return type(func)(_wrap(func.__func__, options))
    options = dict(options)
    notrace_io = bool(options.pop("notrace_io", False))
    options.pop("state", None)
    span_attributes = options.pop("span_attributes", None)
    if span_attributes is not None:
        checked_attributes(span_attributes)
    # "function" unless a type is given, as 0.48.1 defaults it: an explicit ``type=None`` is
    # start_span's (a root "task", a child untyped).
    given_type = "type" in options or bool(span_attributes and "type" in span_attributes)
    span_type = options.pop("type", None)
    if not given_type:
        span_type = "function"
    span_args = {
        "name": options.pop("name", None) or getattr(func, "__name__", None) or type(func).__name__,
        "type": span_type,
        "span_attributes": span_attributes,
        "start_time": options.pop("start_time", None),
        "parent": options.pop("parent", None),
        "propagated_event": options.pop("propagated_event", None),
    }
    set_current = options.pop("set_current", None) is not False
    span_args["set_current"] = set_current
    event = options  # anything else is logged on the span at start (e.g. metadata=)
    if event:
        try:  # (checked once here: else every call of the function raised it)
            validate_event(dict(event))
        except ValueError as exc:
            raise ValueError(f"@traced on {span_args['name']!r}: {exc}") from None
    signature = _signature_of(func)

    def open_span(args: tuple, kwargs: dict) -> Any:
        start_event = dict(event)
        if not notrace_io:
            start_event["input"] = _input_of(func, signature, args, kwargs)
        span = start_span(**span_args, **start_event)
        return span

    def finish(span: Any, output: Any, has_output: bool = True) -> None:
        _close(span, {"output": output} if has_output and not notrace_io else {})

    def fail(span: Any, collector: "_Collector | None" = None) -> None:
        error = sys.exc_info()
        # What a generator yielded before an ``Exception`` is its output; after an interrupt
        # (``KeyboardInterrupt``, ``SystemExit``, cancellation) there is none, as in 0.48.1.
        logged = (collector is not None and not notrace_io and collector.loggable() and collector.items
                  and isinstance(error[1], Exception))
        _close(span, {"output": collector.output()} if logged else {}, error)

    def abandon(span: Any) -> None:
        # The consumer stopped iterating early (``break``, ``close()``): not an error, and the
        # items seen so far are not the generator's output.
        _close(span, {})

    # Generators run every step with their span current (``_Steps``): the body sees its span
    # -- and spans it opens across a ``yield`` stay current for it -- while the caller's current
    # span is restored between steps. One made a ``with`` block by ``contextlib`` keeps its span
    # current in the block too (``_Entered``).

    kind = _kind_of(func)
    if inspect.isasyncgenfunction(kind):

        @functools.wraps(func)
        async def async_gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            span = open_span(args, kwargs)
            steps = _steps_for(span, set_current, sys._getframe().f_back)
            collector = _Collector(collect=not notrace_io)
            to_send: Any = None
            to_throw: BaseException | None = None
            closed = False  # (the caller closed the wrapper: GeneratorExit at its ``yield``)
            try:
                agen = func(*args, **kwargs)  # (arguments it cannot take: the span's error)
                while True:
                    try:
                        if to_throw is not None:
                            thrown, to_throw = to_throw, None
                            item = await _in_steps(steps, agen.athrow(thrown))
                        else:
                            item = await _in_steps(steps, agen.asend(to_send))
                    except StopAsyncIteration:
                        break
                    collector.add(item)
                    try:
                        to_send = yield item
                    except GeneratorExit:
                        closed = True
                        raise
                    except BaseException as exc:  # athrow() on the wrapper: pass it on
                        to_throw = exc
            except GeneratorExit:
                if not closed:  # (raised by the body itself: its error)
                    fail(span, collector)
                    raise
                try:
                    await _in_steps(steps, agen.aclose())
                finally:
                    abandon(span)
                raise
            except BaseException:
                fail(span, collector)
                raise
            finally:
                steps.done()
            finish(span, collector.output(), collector.loggable())

        return async_gen_wrapper

    if inspect.isgeneratorfunction(kind):

        @functools.wraps(func)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            span = open_span(args, kwargs)
            steps = _steps_for(span, set_current, sys._getframe().f_back)
            collector = _Collector(collect=not notrace_io)
            to_send: Any = None
            to_throw: BaseException | None = None
            closed = False  # (the caller closed the wrapper: GeneratorExit at its ``yield``)
            try:
                gen = func(*args, **kwargs)  # (arguments it cannot take: the span's error)
                while True:
                    try:
                        if to_throw is not None:
                            thrown, to_throw = to_throw, None
                            item = steps.run(gen.throw, thrown)
                        else:
                            item = steps.run(gen.send, to_send)
                    except StopIteration as stop:
                        result = stop.value
                        break
                    collector.add(item)
                    try:
                        to_send = yield item
                    except GeneratorExit:
                        closed = True
                        raise
                    except BaseException as exc:  # throw() on the wrapper: pass it on
                        to_throw = exc
            except GeneratorExit:
                if not closed:  # (raised by the body itself: its error)
                    fail(span, collector)
                    raise
                try:
                    steps.run(gen.close)
                finally:
                    abandon(span)
                raise
            except BaseException:
                fail(span, collector)
                raise
            finally:
                steps.done()
            finish(span, collector.output(), collector.loggable())
            return result

        return gen_wrapper

    if inspect.iscoroutinefunction(kind):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            span = open_span(args, kwargs)
            try:
                _enter(span, set_current)
                result = await func(*args, **kwargs)
            except BaseException:
                fail(span)
                raise
            finally:
                _leave(span, set_current)
            finish(span, result)
            return result

        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        span = open_span(args, kwargs)
        try:
            _enter(span, set_current)
            result = func(*args, **kwargs)
        except BaseException:
            fail(span)
            raise
        finally:
            _leave(span, set_current)
        finish(span, result)
        return result

    return wrapper


def _kind_of(func: Callable) -> Callable:
    """What tells the wrapper's kind (async, generator, ...): ``func``, or for a callable object
    its ``__call__`` (which ``inspect``'s checks do not look at)."""
    if inspect.isroutine(func) or inspect.isclass(func) or isinstance(func, functools.partial):
        return func
    return getattr(func, "__call__", func)


def _close(span: Any, fields: dict[str, Any], error: tuple | None = None) -> None:
    """Log ``fields`` (and ``error``, an exc_info) and end ``span``. Never raises: if the SDK
    fails (near the recursion limit, say), the function's own result or error goes on."""
    if span is NOOP_SPAN:
        return
    try:
        try:
            if fields:
                span.log(**fields)
            if error is not None:
                span.log_error(*error)
        finally:
            span.end()
    except Exception:
        log.debug("@traced could not record its span", exc_info=True)


class _Steps:
    """Runs a generator's steps with its current span: set around each step in the caller's
    context (which the body shares, as a plain generator's does) and the caller's restored
    after it; a span the body leaves current across a ``yield`` stays current for it."""

    def __init__(self, span: Any, set_current: bool) -> None:
        self.current = span if set_current and span is not NOOP_SPAN else context.current_span_var.get()

    def run(self, step: Callable, *args: Any) -> Any:
        token = context.current_span_var.set(self.current)
        try:
            return step(*args)
        finally:
            self.current = context.current_span_var.get()
            context.current_span_var.reset(token)

    def done(self) -> None:
        pass


class _Entered:
    """The steps of a generator that ``contextlib.contextmanager`` (or ``asynccontextmanager``)
    turned into a ``with`` block: its span is current in the block as well, as if the block
    were inside ``with start_span(...)`` (0.48.1 nests the block's spans under it too)."""

    def __init__(self, span: Any, set_current: bool) -> None:
        self.span, self.set_current = span, set_current
        _enter(span, set_current)

    def run(self, step: Callable, *args: Any) -> Any:
        return step(*args)

    def done(self) -> None:
        _leave(self.span, self.set_current)


#: The code that enters a ``contextlib`` context manager made from a generator: the frame that
#: first resumes a ``@traced`` generator's wrapper when it is used that way.
_CONTEXT_ENTRIES = tuple(
    method.__code__
    for method in (getattr(contextlib._GeneratorContextManager, "__enter__", None),
                   getattr(contextlib._AsyncGeneratorContextManager, "__aenter__", None))
    if hasattr(method, "__code__")
)


def _steps_for(span: Any, set_current: bool, resumer: Any) -> "_Steps | _Entered":
    """``_Entered`` for a generator first resumed by ``contextlib``'s entry, else ``_Steps``."""
    if resumer is not None and resumer.f_code in _CONTEXT_ENTRIES:
        return _Entered(span, set_current)
    return _Steps(span, set_current)


@types.coroutine
def _in_steps(steps: _Steps, awaitable: Any) -> Any:
    """Await ``awaitable`` with each of its steps run by ``steps`` (whatever it yields to the
    event loop, and whatever the loop sends or throws back, passes through unchanged)."""
    inner = awaitable.__await__()
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            if error is not None:
                thrown, error = error, None
                yielded = steps.run(inner.throw, thrown)
            else:
                yielded = steps.run(inner.send, value)
        except StopIteration as stop:
            return stop.value
        try:
            value = yield yielded
        except BaseException as exc:  # cancellation and the like go to the awaitable
            error = exc
            value = None


def _enter(span: Any, set_current: bool) -> None:
    if set_current and span is not NOOP_SPAN:
        span.set_current()


def _leave(span: Any, set_current: bool) -> None:
    if set_current and span is not NOOP_SPAN:
        span.unset_current()


class _Collector:
    """Yielded items kept as a generator's output, up to ``BRAINTRUST_MAX_GENERATOR_ITEMS``."""

    def __init__(self, collect: bool = True) -> None:
        self.limit = _generator_limit() if collect else 0
        self.items: list[Any] = []
        self.overflowed = False

    def add(self, item: Any) -> None:
        if self.limit == 0 or self.overflowed:
            return
        if self.limit > 0 and len(self.items) >= self.limit:
            self.overflowed = True
            self.items = []
            # (0.48.1's words, which callers filter on; said once per generator, not per item)
            log.warning(
                "Generator output exceeded limit of %d items, output not logged. "
                "Increase BRAINTRUST_MAX_GENERATOR_ITEMS or set to -1 to disable limit.",
                self.limit,
            )
            return
        self.items.append(item)

    def loggable(self) -> bool:
        return self.limit != 0 and not self.overflowed

    def output(self) -> list[Any]:
        return self.items
