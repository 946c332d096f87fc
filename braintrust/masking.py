"""The process-wide masking function (``braintrust.set_masking_function``).

Contract (the public SDK's semantics, 0.48.1)
---------------------------------------------
* ``set_masking_function(fn)`` installs ``fn`` for the whole process; ``None`` removes it.
* ``mask_row(row)`` calls ``fn(value)`` once for each of these top-level fields present in the row,
  with the field's whole value: ``input``, ``output``, ``expected``, ``metadata``, ``context``,
  ``scores``, ``metrics`` (``MASKED_FIELDS``). Other fields (ids, ``span_attributes``, ``tags``,
  ``error``, ``created``, ``comment``...) are not passed to it, as in the public SDK.
* The result replaces the field after a fresh ``jsonsafe.snapshot``, so a function returning odd
  types (sets, datetimes, NaN...) still yields JSON-safe rows.
* If ``fn`` raises for a field (any exception, ``asyncio.CancelledError`` and ``GeneratorExit``
  included, as in 0.48.1; only ``KeyboardInterrupt`` and ``SystemExit`` propagate), the original
  value is dropped, never kept, and ``mask_error_count()`` goes up by one. With ``marker = "ERROR:
  Failed to mask field '<field>' - <ExceptionType>"`` (no message, no traceback: they could leak
  the data):

  - ``metadata`` becomes ``{"error": marker}`` (it must stay an object);
  - ``scores`` / ``metrics`` are removed and ``marker`` is written to the row's ``error`` field
    (appended after ``"; "`` when the row already has an error);
  - every other field becomes the string ``marker``.

* Attachments: ``fn`` gets the ``Attachment`` objects that were logged (as 0.48.1 hands them to
  it), where the row holds their references, and only an attachment a masked row still holds is
  stored (``attachments.pending.masked``): one the function took out is never uploaded.
* ``mask_row`` returns a new dict when a function is set (the input row is not modified, nested
  values the function did not replace are shared) and the very same row object when none is set.
  Call it exactly once per row, after merging rows and before the row reaches the HTTP body, a
  spill file, the local store or a report.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from braintrust.attachments import pending as pending_attachments
from braintrust.forks import ChildSafeLock
from braintrust.jsonsafe import snapshot

__all__ = [
    "MASKED_FIELDS",
    "get_masking_function",
    "mask_error_count",
    "mask_row",
    "set_masking_function",
]

MASKED_FIELDS = ("input", "output", "expected", "metadata", "context", "scores", "metrics")
_DROPPED_ON_ERROR = ("scores", "metrics")

_masking_function: Optional[Callable[[Any], Any]] = None
_error_count = 0
_count_lock = ChildSafeLock()  # (the sender of a parent may hold it when the process forks)


def set_masking_function(masking_function: Optional[Callable[[Any], Any]]) -> None:
    """Install (or with ``None`` remove) the function applied to each logged field before upload."""
    global _masking_function
    if masking_function is not None and not callable(masking_function):
        raise TypeError(f"masking_function must be callable or None, got {type(masking_function).__name__}")
    _masking_function = masking_function


def get_masking_function() -> Optional[Callable[[Any], Any]]:
    return _masking_function


def mask_error_count() -> int:
    """How many field values were replaced by an error marker since the process started."""
    return _error_count


def _reset_mask_error_count() -> None:
    """For tests."""
    global _error_count
    with _count_lock:
        _error_count = 0


def _count_error() -> None:
    global _error_count
    with _count_lock:
        _error_count += 1


def _marker(field: str, error: BaseException) -> str:
    return f"ERROR: Failed to mask field '{field}' - {type(error).__name__}"


def mask_row(row: dict) -> dict:
    """Apply the masking function to ``row``'s user-data fields (see the module docstring)."""
    fn = _masking_function
    if fn is None:
        return row
    out = dict(row)
    errors = []
    track = pending_attachments.any_logged()  # (attachments: see the module docstring)
    held: set[str] = set()
    kept: set[str] = set()
    for field in MASKED_FIELDS:
        if field not in row:
            continue
        value = _with_attachments(row[field], held) if track else row[field]
        try:
            masked = fn(value)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:
            _count_error()
            marker = _marker(field, e)
            if field in _DROPPED_ON_ERROR:
                del out[field]
                errors.append(marker)
            elif field == "metadata":
                out[field] = {"error": marker}
            else:
                out[field] = marker
            continue
        out[field] = snapshot(masked)[0]
        track = track or pending_attachments.any_logged()  # (the function may return a new one)
        if track:
            _attachment_keys(out[field], kept)
    if track:
        for name, value in out.items():  # (fields the function does not see keep theirs)
            if name not in MASKED_FIELDS and isinstance(value, (dict, list)):
                _attachment_keys(value, kept)
        if held or kept:
            pending_attachments.masked(kept, held - kept)
    if errors:
        previous = out.get("error")
        parts = ([] if previous is None else [str(previous)]) + errors
        out["error"] = "; ".join(parts)
    return out


def _reference_key(value: dict) -> Any:
    if value.get("type") == "braintrust_attachment":
        key = value.get("key")
        if isinstance(key, str):
            return key
    return None


def _with_attachments(value: Any, keys: set[str]) -> Any:
    """``value`` (snapshotted data) with each attachment reference replaced by the attachment
    logged under its key, when it is still alive; the keys met are added to ``keys``."""
    if isinstance(value, dict):
        key = _reference_key(value)
        if key is not None:
            keys.add(key)
            live = pending_attachments.live(key)
            return value if live is None else live
        out = {k: _with_attachments(v, keys) for k, v in value.items()}
        return value if all(out[k] is value[k] for k in value) else out
    if isinstance(value, list):
        items = [_with_attachments(v, keys) for v in value]
        return value if all(a is b for a, b in zip(items, value)) else items
    return value


def _attachment_keys(value: Any, keys: set[str]) -> None:
    if isinstance(value, dict):
        key = _reference_key(value)
        if key is not None:
            keys.add(key)
            return
        for v in value.values():
            _attachment_keys(v, keys)
    elif isinstance(value, list):
        for v in value:
            _attachment_keys(v, keys)
