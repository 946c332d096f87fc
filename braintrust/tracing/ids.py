"""Identifiers for rows, spans and traces, in the formats the Braintrust server expects.

Default: span ids are 16 lowercase hex chars and trace (root span) ids 32, as the public SDK
sends them; ``BRAINTRUST_LEGACY_IDS`` switches both to UUID strings.
"""

from __future__ import annotations

import itertools
import os
import uuid

from braintrust.config import env_bool

_exec_counter = itertools.count(1)


def row_id() -> str:
    return str(uuid.uuid4())


def legacy_ids() -> bool:
    return env_bool("BRAINTRUST_LEGACY_IDS") and not env_bool("BRAINTRUST_OTEL_COMPAT")


def span_id() -> str:
    if legacy_ids():
        return str(uuid.uuid4())
    return os.urandom(8).hex()


def trace_id() -> str:
    if legacy_ids():
        return str(uuid.uuid4())
    return os.urandom(16).hex()


def next_exec_counter() -> int:
    """Process-wide counter stamped on every span (``span_attributes.exec_counter``)."""
    return next(_exec_counter)
