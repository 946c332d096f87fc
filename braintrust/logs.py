"""``BraintrustLogHandler``: Python ``logging`` records forwarded to a Braintrust logger as log
records (``braintrust.objects.log_records``), as the public SDK forwards them.

``logging.getLogger("app").addHandler(BraintrustLogHandler(logger))``: each record becomes one
row, with
* the formatted message (the handler's formatter; an exception's traceback included) as output;
* its level as ``trace`` (below DEBUG) / ``debug`` / ``info`` / ``warn`` / ``error`` / ``fatal``;
* the record's time, and the span current *where the record was made*, not where the handler runs
  (a ``QueueHandler`` may run it on another thread): a record factory notes that span;
* metadata: fields given with ``extra=`` (not those starting with ``_``), ``logger.name``,
  ``code.file.path``, ``code.function.name``, ``code.line.number``, and for a ``%``-template its
  text and arguments as they were when logged (``braintrust.template``,
  ``braintrust.template.parameter.<0, 1... or name>``; an argument that is not a str, int, float
  or bool as its ``repr``).

Records of ``braintrust``'s own loggers, and those ``urllib3`` makes about this package's own
requests to Braintrust, are left out: forwarding them would log about logging, without end.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Mapping
from typing import Any

from braintrust.forks import ChildSafeLock
from braintrust.objects import log_records

__all__ = ["BraintrustLogHandler"]

_STANDARD_FIELDS = frozenset(vars(logging.LogRecord("", logging.NOTSET, "", 0, "", (), None))) | {"asctime", "message"}
_OWN_LOGGER = "braintrust"
_TRANSPORT_LOGGERS = ("urllib3.connectionpool", "urllib3.connection")
_PLACE = "_braintrust_place"  # (span_id, root_span_id) or None, noted when the record was made
_TEMPLATE = "_braintrust_template"  # (template, arguments), noted when the record was made
_OURS = "_braintrust_transport"  # set on urllib3's records about our own requests
_install_lock = ChildSafeLock()
_installed = threading.Event()


def level_name(levelno: int) -> str:
    """A ``logging`` level as a Braintrust log level."""
    for floor, name in ((logging.CRITICAL, "fatal"), (logging.ERROR, "error"), (logging.WARNING, "warn"),
                        (logging.INFO, "info"), (logging.DEBUG, "debug")):
        if levelno >= floor:
            return name
    return "trace"


class BraintrustLogHandler(logging.Handler):
    """Forwards the ``logging`` records it handles to ``logger`` (``init_logger(...)``) as log
    records. Attach it with ``addHandler``; ``flush()`` flushes the logger."""

    def __init__(self, logger: Any, level: int | str = logging.NOTSET):
        from braintrust.objects.project_logs import Logger

        if not isinstance(logger, Logger):
            raise TypeError(f"BraintrustLogHandler needs the Braintrust logger to write to, from braintrust.init_logger(...); "
                            f"got {type(logger).__name__}.")
        super().__init__(level=level)
        self._logger = logger
        _install_hooks()
        self.addFilter(_not_ours)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            log_records.emit(self._logger, self.format(record), level_name(record.levelno), record_metadata(record), {},
                             captured_at=record.created, place=getattr(record, _PLACE, log_records.CURRENT_SPAN))
        except Exception:
            self.handleError(record)

    def flush(self) -> None:
        self._logger.flush()


def record_metadata(record: logging.LogRecord) -> dict[str, Any]:
    """A record's row metadata (see the module docstring)."""
    metadata = {key: value for key, value in vars(record).items() if key not in _STANDARD_FIELDS and not key.startswith("_")}
    template, arguments = getattr(record, _TEMPLATE, (record.msg, record.args))
    if arguments and isinstance(template, str):
        metadata["braintrust.template"] = template
        metadata.update({f"braintrust.template.parameter.{key}": value for key, value in _parameters(template, arguments)})
    metadata.update({
        "logger.name": record.name,
        "code.file.path": record.pathname,
        "code.function.name": record.funcName,
        "code.line.number": record.lineno,
    })
    return metadata


def _parameters(template: str, arguments: Any) -> list[tuple[Any, Any]]:
    """A template's parameters: by position, or, for one mapping argument, by name (and the
    mapping itself as parameter 0 when the template also has positional fields)."""
    if not isinstance(arguments, Mapping):
        return list(enumerate(arguments if isinstance(arguments, tuple) else (arguments,)))
    positional, named = _field_kinds(template)
    return ([(0, arguments)] if positional or not named else []) + (list(arguments.items()) if named else [])


def _field_kinds(template: str) -> tuple[bool, bool]:
    """Whether a ``%``-template has positional fields (``%s``) and named ones (``%(name)s``);
    ``%%`` is a literal percent sign."""
    positional = named = False
    index = 0
    while index < len(template):
        if template[index] != "%":
            index += 1
            continue
        run = index
        while index < len(template) and template[index] == "%":
            index += 1
        if (index - run) % 2 == 0 or index == len(template):
            continue  # (%% escapes; a trailing % is no field)
        if template[index] == "(":
            named = True
        else:
            positional = True
    return positional, named


def _safe(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)):
        return value
    try:
        return repr(value)
    except Exception:
        return f"<{type(value).__module__}.{type(value).__qualname__} object>"


def _frozen_arguments(arguments: Any) -> Any:
    """The arguments as they are now (a list logged and then changed is logged as it was)."""
    if isinstance(arguments, tuple):
        return tuple(_safe(value) for value in arguments)
    if isinstance(arguments, Mapping):
        return {_safe(key): _safe(value) for key, value in arguments.items()}
    return _safe(arguments)


def _not_ours(record: logging.LogRecord) -> bool:
    """Leave out records of braintrust's own loggers and of its own requests."""
    name = record.name
    if name == _OWN_LOGGER or name.startswith(_OWN_LOGGER + "."):
        return False
    return not getattr(record, _OURS, False)


def _mark_transport(record: logging.LogRecord) -> bool:
    """(A filter on urllib3's loggers: it marks, never drops, so other handlers see every record.)"""
    client = sys.modules.get("braintrust.delivery.http_client")
    if client is not None and client.sending_now():
        setattr(record, _OURS, True)
    return True


def _install_hooks() -> None:
    """Once per process: the record factory that notes the current span and the template, and
    the marks on urllib3's records about this package's requests."""
    with _install_lock:
        if _installed.is_set():
            return
        previous = logging.getLogRecordFactory()

        def record_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if record.args and isinstance(record.msg, str):
                setattr(record, _TEMPLATE, (record.msg, _frozen_arguments(record.args)))
            setattr(record, _PLACE, log_records.span_place())
            return record

        logging.setLogRecordFactory(record_factory)
        for name in _TRANSPORT_LOGGERS:
            logging.getLogger(name).addFilter(_mark_transport)
        _installed.set()
