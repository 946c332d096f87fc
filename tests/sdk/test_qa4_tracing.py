"""The tracing API held to 0.48.1 (differential checks against the public SDK, as rows the
test server receives): a span's own tags and the tags its propagated event carries are merged
as 0.48.1 merges them (their union), not replaced; ``@traced`` on a function whose signature
cannot be read (Python 3.14 evaluating an annotation imported only under ``TYPE_CHECKING``)
traces it with its input as ``args``/``kwargs`` rather than raising where it is decorated;
the module functions 0.48.1's reference documents under ``braintrust.logger`` import from there."""

from __future__ import annotations

import functools
import sys

import pytest

import braintrust
from braintrust import start_span


def test_a_childs_own_tags_join_the_tags_its_propagated_event_carries(bt_logs):
    logger = braintrust.init_logger(project="qa4-tracing")
    with logger.start_span(name="parent", propagated_event={"tags": ["propagated"], "metadata": {"p": 1}}) as parent:
        with start_span(name="child", tags=["own", "propagated"], metadata={"own": 1}):
            pass
        with start_span(name="untagged-child"):
            pass
        slug = parent.export()
    with start_span(name="remote-child", parent=slug, tags=["remote-own"]):
        pass
    rows = bt_logs.by_name()
    assert rows["child"]["tags"] == ["own", "propagated"]
    assert rows["child"]["metadata"] == {"own": 1, "p": 1}
    assert rows["untagged-child"]["tags"] == ["propagated"]
    assert rows["remote-child"]["tags"] == ["remote-own", "propagated"]
    # (first writes carry the union: no merge on the server makes it up)
    sent = {row["span_attributes"]["name"]: row for row in bt_logs.sent_rows() if row.get("tags")}
    assert sent["child"]["tags"] == ["own", "propagated"]


class _UnreadableSignature:
    """A callable whose signature cannot be read: reading it raises ``NameError``, as Python
    3.14 does for an annotation naming a type imported only under ``TYPE_CHECKING``."""

    @property
    def __signature__(self):
        raise NameError("name 'Prompt' is not defined")

    def __call__(self, question):
        return question.upper()


def test_traced_traces_a_function_whose_signature_cannot_be_read(bt_logs):
    braintrust.init_logger(project="qa4-tracing")
    model = _UnreadableSignature()

    @functools.wraps(model, assigned=())
    def ask(question):
        return model(question)

    ask.__wrapped__ = model  # (inspect.signature follows it, as for any functools.wraps wrapper)
    assert braintrust.traced(ask)("hi") == "HI"
    row = bt_logs.by_name()["ask"]
    assert row["input"] == {"args": ["hi"], "kwargs": {}}  # (0.48.1's fallback)
    assert row["output"] == "HI"


@pytest.mark.skipif(sys.version_info < (3, 14), reason="annotations are deferred from Python 3.14 on")
def test_traced_reads_a_signature_whose_annotation_names_a_type_checking_only_import(bt_logs):
    braintrust.init_logger(project="qa4-tracing")
    namespace: dict = {}
    # (compiled without this file's ``from __future__ import annotations``: evaluated lazily, as 3.14 does)
    exec(compile("def answer(question: Prompt) -> str:\n    return question.upper()\n", "<qa4>", "exec",
                 dont_inherit=True), namespace)
    assert braintrust.traced(namespace["answer"])("hi") == "HI"
    assert bt_logs.by_name()["answer"]["input"] == {"question": "hi"}


def test_the_functions_0_48_1_documents_in_braintrust_logger_import_from_there(bt_logs):
    from braintrust.logger import (
        NOOP_SPAN,
        NOOP_SPAN_PERMALINK,
        RetryRequestExceptionsAdapter,
        SpanComponentsV3,
        SpanComponentsV4,
        SpanObjectTypeV3,
        log,
        set_http_adapter,
        summarize,
    )

    assert NOOP_SPAN.permalink() == NOOP_SPAN_PERMALINK == "https://www.braintrust.dev/noop-span"
    assert (RetryRequestExceptionsAdapter, set_http_adapter) == (braintrust.RetryRequestExceptionsAdapter, braintrust.set_http_adapter)
    assert (SpanComponentsV3, SpanComponentsV4, SpanObjectTypeV3) == (
        braintrust.SpanComponentsV3, braintrust.SpanComponentsV4, braintrust.SpanObjectTypeV3)
    braintrust.init(project="qa4-tracing", experiment="module-functions")
    log(input="q", output="a", scores={"exact": 1})  # (to the current experiment)
    assert summarize(summarize_scores=True).scores["exact"].score == 1


def test_span_log_refuses_an_id_other_than_the_spans(bt_logs):
    """0.48.1 raises a TypeError for ``span.log(id=...)``; ours dropped the id without a word, so
    the caller never learned the row kept its own."""
    logger = braintrust.init_logger(project="qa4-span-id")
    with logger.start_span(name="s", id="chosen") as span:
        with pytest.raises(ValueError, match=r"span.log\(id=...\).*'chosen'"):
            span.log(id="other", output=1)
        span.log(id="chosen", output=2)  # (its own id: nothing changes)
    [row] = bt_logs.rows()
    assert row["id"] == "chosen" and row["output"] == 2
