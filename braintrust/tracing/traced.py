"""``@traced``: wrap a function in a span (arguments as input, return value as output,
exceptions as error). Works on sync, async, generator and async-generator functions; the span is
current while the function body runs, including across generator steps."""

from __future__ import annotations

import functools
import inspect
import logging
import sys
from typing import Any, Callable

from braintrust.config import env_number
from braintrust.tracing.api import start_span
from braintrust.tracing.span import NOOP_SPAN

log = logging.getLogger("braintrust")


def traced(*fn: Callable, **options: Any) -> Any:
    """``@traced`` or ``@traced(name=..., type=..., notrace_io=..., span_attributes=..., **event)``."""
    if fn and callable(fn[0]) and len(fn) == 1 and not options:
        return _wrap(fn[0], {})
    if fn:
        raise TypeError("traced takes a function, or only keyword arguments: @traced(name='step').")
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


def _generator_limit() -> int:
    return int(env_number("BRAINTRUST_MAX_GENERATOR_ITEMS", 1000, minimum=-1, integer=True))


def _wrap(func: Callable, options: dict[str, Any]) -> Callable:
    options = dict(options)
    notrace_io = bool(options.pop("notrace_io", False))
    span_args = {
        "name": options.pop("name", None) or getattr(func, "__name__", "function"),
        "type": options.pop("type", "function"),
        "span_attributes": options.pop("span_attributes", None),
    }
    set_current = options.pop("set_current", True)
    event = options  # anything else is logged on the span at start (e.g. metadata=)
    try:
        signature: inspect.Signature | None = inspect.signature(func)
    except (TypeError, ValueError):
        signature = None

    def open_span(args: tuple, kwargs: dict) -> Any:
        start_event = dict(event)
        if not notrace_io:
            start_event["input"] = _input_of(func, signature, args, kwargs)
        span = start_span(**span_args, **start_event)
        return span

    def finish(span: Any, output: Any, has_output: bool = True) -> None:
        if span is NOOP_SPAN:
            return
        if has_output and not notrace_io:
            span.log(output=output)
        span.end()

    def fail(span: Any, collector: "_Collector | None" = None) -> None:
        if span is NOOP_SPAN:
            return
        exc_type, exc, tb = sys.exc_info()
        if collector is not None and not notrace_io and collector.loggable() and collector.items:
            span.log(output=collector.output())  # what was yielded before the failure
        span.log_error(exc_type, exc, tb)
        span.end()

    def abandon(span: Any) -> None:
        # The consumer stopped iterating early (``break``, ``close()``): not an error, and the
        # items seen so far are not the generator's output.
        if span is not NOOP_SPAN:
            span.end()

    if inspect.isasyncgenfunction(func):

        @functools.wraps(func)
        async def async_gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            span = open_span(args, kwargs)
            collector = _Collector()
            agen = func(*args, **kwargs)
            to_send: Any = None
            to_throw: BaseException | None = None
            try:
                while True:
                    _enter(span, set_current)
                    try:
                        if to_throw is not None:
                            thrown, to_throw = to_throw, None
                            item = await agen.athrow(thrown)
                        else:
                            item = await agen.asend(to_send)
                    except StopAsyncIteration:
                        break
                    finally:
                        _leave(span, set_current)
                    collector.add(item)
                    try:
                        to_send = yield item
                    except GeneratorExit:
                        raise
                    except BaseException as exc:  # athrow() on the wrapper: pass it on
                        to_throw = exc
            except GeneratorExit:
                _enter(span, set_current)
                try:
                    await agen.aclose()
                finally:
                    _leave(span, set_current)
                    abandon(span)
                raise
            except BaseException:
                fail(span, collector)
                raise
            finish(span, collector.output(), collector.loggable())

        return async_gen_wrapper

    if inspect.isgeneratorfunction(func):

        @functools.wraps(func)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            span = open_span(args, kwargs)
            collector = _Collector()
            gen = func(*args, **kwargs)
            to_send: Any = None
            to_throw: BaseException | None = None
            try:
                while True:
                    _enter(span, set_current)
                    try:
                        if to_throw is not None:
                            thrown, to_throw = to_throw, None
                            item = gen.throw(thrown)
                        else:
                            item = gen.send(to_send)
                    except StopIteration as stop:
                        result = stop.value
                        break
                    finally:
                        _leave(span, set_current)
                    collector.add(item)
                    try:
                        to_send = yield item
                    except GeneratorExit:
                        raise
                    except BaseException as exc:  # throw() on the wrapper: pass it on
                        to_throw = exc
            except GeneratorExit:
                _enter(span, set_current)
                try:
                    gen.close()
                finally:
                    _leave(span, set_current)
                    abandon(span)
                raise
            except BaseException:
                fail(span, collector)
                raise
            finish(span, collector.output(), collector.loggable())
            return result

        return gen_wrapper

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            span = open_span(args, kwargs)
            _enter(span, set_current)
            try:
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
        _enter(span, set_current)
        try:
            result = func(*args, **kwargs)
        except BaseException:
            fail(span)
            raise
        finally:
            _leave(span, set_current)
        finish(span, result)
        return result

    return wrapper


def _enter(span: Any, set_current: bool) -> None:
    if set_current and span is not NOOP_SPAN:
        span.set_current()


def _leave(span: Any, set_current: bool) -> None:
    if set_current and span is not NOOP_SPAN:
        span.unset_current()


class _Collector:
    """Yielded items kept as a generator's output, up to ``BRAINTRUST_MAX_GENERATOR_ITEMS``."""

    def __init__(self) -> None:
        self.limit = _generator_limit()
        self.items: list[Any] = []
        self.overflowed = False

    def add(self, item: Any) -> None:
        if self.limit == 0 or self.overflowed:
            return
        if self.limit > 0 and len(self.items) >= self.limit:
            self.overflowed = True
            self.items = []
            log.warning(
                "@traced generator yielded more than %d items; its output is not logged "
                "(raise BRAINTRUST_MAX_GENERATOR_ITEMS, or -1 for no limit).",
                self.limit,
            )
            return
        self.items.append(item)

    def loggable(self) -> bool:
        return self.limit != 0 and not self.overflowed

    def output(self) -> list[Any]:
        return self.items
