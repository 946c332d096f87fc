"""Log records: logger.info / debug / warn / error / fatal / trace and emit_log, outside spans (one
trace per logger), in a span, in a child span and in a @traced function (that span's ids); a body
that is a template with parameters (rendered, template and parameters in metadata), one whose
parameter is missing (logged as written), metadata, a structured body; a bad level and a
structured body with parameters (refused). Public API only."""
import braintrust

logger = braintrust.init_logger(project="recorder-log-records")
other = braintrust.init_logger(project="recorder-log-records-2", set_current=False)

logger.info("service started")
logger.info("user {user} placed {n} orders", user="ada", n=3)
logger.warn("disk at {pct:.0%} on {host!r}", metadata={"region": "eu"}, pct=0.91, host="db-1")
logger.debug({"structured": [1, 2]}, metadata={"k": "v"})
logger.error("missing {name}", other=1)
logger.emit_log("custom level", "fatal")
logger.trace("tick")
other.info("from the other logger")

with logger.start_span(name="request") as span:
    logger.info("inside the request")
    with span.start_span(name="db"):
        logger.error("query failed: {q}", q="SELECT 1")


@braintrust.traced
def job():
    logger.warn("in a traced function")
    return 1


job()

for call in (lambda: logger.emit_log("x", "verbose"), lambda: logger.info({"a": 1}, x=1)):
    try:
        call()
    except (ValueError, TypeError) as exc:
        print(f"{type(exc).__name__}: {exc}")

print("returns a row id:", len(logger.info("done")) == 36)
logger.flush()
other.flush()
print("flushed")
