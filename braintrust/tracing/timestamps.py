"""``created`` timestamps: ISO 8601 in UTC, exactly as ``datetime.isoformat()`` writes them."""

from __future__ import annotations

import datetime

_UTC = datetime.timezone.utc
_cached: tuple[int, str] = (-1, "")  # (whole second, "YYYY-MM-DDTHH:MM:SS"): one tuple, swapped atomically


def iso_utc(seconds: float) -> str:
    """``datetime.fromtimestamp(seconds, timezone.utc).isoformat()``, about three times faster:
    the date and time of day are formatted once per second."""
    whole = int(seconds // 1)
    micros = round((seconds - whole) * 1e6)  # as fromtimestamp rounds (half to even)
    if micros >= 1_000_000:
        whole += 1
        micros -= 1_000_000
    cached_second, prefix = _cached
    if cached_second != whole:
        prefix = _remember(whole)
    if micros:
        return f"{prefix}.{micros:06d}+00:00"
    return f"{prefix}+00:00"


def _remember(whole: int) -> str:
    global _cached
    prefix = datetime.datetime.fromtimestamp(whole, _UTC).isoformat()[:19]
    _cached = (whole, prefix)
    return prefix
