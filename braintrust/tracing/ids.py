"""Identifiers for rows, spans and traces, in the formats the Braintrust server expects.

Default: span ids are 16 lowercase hex chars and trace (root span) ids 32, as the public SDK
sends them; ``BRAINTRUST_LEGACY_IDS`` switches both to UUID strings.

Random bits come from one ``random.Random`` per process, seeded from ``os.urandom`` and seeded
again in a forked child (so parent and child never share a stream). Ids are unique, not secret;
this avoids an ``os.urandom`` system call per id, each of which releases the GIL and, under
contention, costs the caller its turn.
"""

from __future__ import annotations

import itertools
import logging
import random
from dataclasses import dataclass

from braintrust.config import env_bool
from braintrust.forks import at_fork

_exec_counter = itertools.count(1)

_random = random.Random()  # seeded from os.urandom
_getrandbits = _random.getrandbits
at_fork(after_in_child=_random.seed)

# Version 4 (random) UUID: version nibble 0100, variant bits 10 (as uuid.UUID(version=4) sets them).
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID4_SET = (4 << 76) | (0x8000 << 48)


def uuid4_str() -> str:
    """A random UUID string, in the form ``str(uuid.uuid4())`` gives."""
    h = ((_getrandbits(128) & _UUID4_CLEAR) | _UUID4_SET).to_bytes(16, "big").hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def hex_id(nbytes: int) -> str:
    """``nbytes`` random bytes as lowercase hex."""
    return _getrandbits(8 * nbytes).to_bytes(nbytes, "big").hex()


def row_id() -> str:
    return uuid4_str()


_told_otel_compat_wins = False


def legacy_ids() -> bool:
    """``BRAINTRUST_LEGACY_IDS``, unless ``BRAINTRUST_OTEL_COMPAT`` (hex ids) is set too: then
    False, said once per process, as 0.48.1 says it."""
    global _told_otel_compat_wins
    if not env_bool("BRAINTRUST_LEGACY_IDS"):
        return False
    if not env_bool("BRAINTRUST_OTEL_COMPAT"):
        return True
    if not _told_otel_compat_wins:
        _told_otel_compat_wins = True
        logging.getLogger("braintrust").warning(
            "BRAINTRUST_LEGACY_IDS is ignored because BRAINTRUST_OTEL_COMPAT is set, which needs "
            "OpenTelemetry-compatible hex span ids: using hex ids. Unset one of the two."
        )
    return False


def span_id(legacy: bool | None = None) -> str:
    if legacy_ids() if legacy is None else legacy:
        return uuid4_str()
    return hex_id(8)


def trace_id(legacy: bool | None = None) -> str:
    if legacy_ids() if legacy is None else legacy:
        return uuid4_str()
    return hex_id(16)


@dataclass
class SpanIds:
    """The three ids that place a span in its trace: its own, its trace's (the root span's),
    and its parents' (None for a root span)."""

    span_id: str
    root_span_id: str
    span_parents: list[str] | None


def next_exec_counter() -> int:
    """Process-wide counter stamped on every span (``span_attributes.exec_counter``)."""
    return next(_exec_counter)
