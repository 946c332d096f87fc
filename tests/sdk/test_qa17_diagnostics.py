"""How the SDK's diagnostics reach users (``warnings``, ``logging``, stderr) where that choice
changes what a program does: a warning that tracing failed must never stop the traced call, even
under an error filter (``-W error``, pytest's ``filterwarnings = error``)."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

import pytest
from openai import OpenAI

import braintrust
from braintrust import wrap_openai

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from openai_stub import OpenAIStub  # noqa: E402

QUESTION = [{"role": "user", "content": "What is 2+2?"}]


@pytest.fixture
def stub():
    with OpenAIStub() as running:
        yield running


def test_an_untraceable_call_still_runs_under_an_error_filter(bt_logs, stub, caplog):
    braintrust.init_logger(project="diagnostics")
    client = wrap_openai(OpenAI(api_key="sk-stub", base_url=stub.base_url, max_retries=0))
    with warnings.catch_warnings(), caplog.at_level(logging.WARNING, logger="braintrust"):
        warnings.simplefilter("error")
        reply = client.chat.completions.create(model="m", messages=QUESTION, span_info={"colour": "red"})
    assert reply.choices[0].message.content == "The answer is 4."
    assert len(stub.requests) == 1 and "span_info" not in stub.requests[-1][1]
    # The warning is not lost: it goes through logging instead, once.
    said = [r for r in caplog.records if r.name == "braintrust" and "this call is not traced" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING
    assert "Unexpected log field" in said[0].getMessage()
    assert bt_logs.rows() == []


def test_without_an_error_filter_it_stays_a_warning_and_is_not_logged_too(bt_logs, stub, caplog):
    braintrust.init_logger(project="diagnostics")
    client = wrap_openai(OpenAI(api_key="sk-stub", base_url=stub.base_url, max_retries=0))
    with pytest.warns(UserWarning, match="this call is not traced") as said, caplog.at_level(logging.DEBUG, logger="braintrust"):
        client.chat.completions.create(model="m", messages=QUESTION, span_info={"colour": "red"})
    assert [Path(w.filename).name for w in said] == [Path(__file__).name]  # (the caller's line)
    assert not [r for r in caplog.records if "this call is not traced" in r.getMessage()]
