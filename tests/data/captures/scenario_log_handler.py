"""BraintrustLogHandler: Python logging records forwarded as log records (level mapping, %-style
templates and their parameters, named parameters, extra fields, exceptions), inside and outside
spans (the span current where the record was made), records of braintrust's own loggers ignored,
flush() through the handler."""
import logging

import braintrust


class Opaque:
    def __repr__(self):
        return "<opaque>"


logger = braintrust.init_logger(project="recorder-log-handler")
handler = braintrust.BraintrustLogHandler(logger)
app = logging.getLogger("support.app")
app.setLevel(1)
app.propagate = False
app.addHandler(handler)

app.info("plain message")
app.warning("user %s failed %d times", "ada", 3)
app.error("named %(user)s", {"user": "bob"})
app.debug("with extra", extra={"order_id": 42, "_hidden": 1})
app.log(5, "below debug")
with logger.start_span(name="request") as span:
    app.info("inside a span")
    with span.start_span(name="child"):
        app.critical("deep %s and %r", Opaque(), [1, 2])
try:
    1 / 0
except ZeroDivisionError:
    app.exception("it failed")

internal = logging.getLogger("braintrust.internal")
internal.addHandler(handler)
internal.warning("ignored: braintrust's own")
handler.flush()
print("flushed")
