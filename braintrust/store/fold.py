"""Folding the row log into row states: the server's write semantics, applied in log order.

Per row id: a replace (op 0) sets the row, ``created`` included (a replacing row without one
keeps the ``created`` of the live row it replaces); a merge (op 1) deep-merges into a live row
(see ``merge.merge_row``), keeping its ``created``, or, with none, inserts; a delete (op 2)
leaves a tombstone. (So a row written twice reads the same whether the SDK merged the two
writes before sending, as it does within one batch, or the store folds them.)

A state that is exactly one log entry's JSON only points at that entry (``data_seq``); JSON
is read and parsed only when a merge needs it, through the ``load`` callable.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable

from braintrust.jsonsafe import loads_row
from braintrust.store.merge import merge_row, stored_form

REPLACE, MERGE, DELETE = 0, 1, 2

#: One log entry: (seq, row id, xact_id, created, op, JSON text or None if not read).
Entry = tuple[int, str, int, "str | None", int, "str | None"]
#: Reads the JSON text of the log entry with the given seq.
Loader = Callable[[int], str]


class RowState:
    """A row folded so far. ``seq`` is the log seq of its first write (its place in reads)."""

    __slots__ = ("seq", "xact_id", "created", "deleted", "data_seq", "text", "data")

    def __init__(self, seq: int, xact_id: int, created: str | None, deleted: bool,
                 data_seq: int | None, text: str | None = None, data: dict[str, Any] | None = None):
        self.seq = seq
        self.xact_id = xact_id
        self.created = created
        self.deleted = deleted
        self.data_seq = data_seq  # the log entry whose JSON is this row, while no merge changed it
        self.text = text  # that JSON, when already read (or the merged JSON loaded from the store)
        self.data = data  # the parsed row, once a merge touched it

    def parsed(self, load: Loader) -> dict[str, Any]:
        if self.data is None:
            text = self.text if self.text is not None else load(self.data_seq)  # type: ignore[arg-type]
            self.data = stored_form(loads_row(text))
            self.text, self.data_seq = None, None
        return self.data

    def storage(self) -> tuple[int | None, str | None]:
        """``(data_seq, data)`` for ``object_rows``: a log reference, or the JSON a merge made."""
        if self.data is not None:
            return None, json.dumps(self.data, separators=(",", ":"))
        if self.data_seq is not None:
            return self.data_seq, None
        return None, self.text

    def json(self, load: Loader) -> str:
        if self.data is not None:
            return json.dumps(self.data, separators=(",", ":"))
        return self.text if self.text is not None else load(self.data_seq)  # type: ignore[arg-type]


def fold(entries: Iterable[Entry], states: dict[str, RowState], load: Loader) -> None:
    """Apply ``entries`` (in seq order) to ``states`` in place."""
    for seq, row_id, xact_id, created, op, text in entries:
        state = states.get(row_id)
        if state is None:
            states[row_id] = RowState(seq, xact_id, created, op == DELETE, seq, text)
            continue
        if op == DELETE:
            state.deleted = True
        elif op == MERGE and not state.deleted:
            patch = loads_row(text if text is not None else load(seq))
            state.data = merge_row(state.parsed(load), patch)
        else:
            if state.deleted or _has_created(text if text is not None else load(seq)):
                state.created = created
            state.deleted = False
            state.data_seq, state.text, state.data = seq, text, None
        state.xact_id = xact_id


def _has_created(text: str) -> bool:
    """Whether a replacing row brings its own ``created`` (else its entry's is the write time)."""
    return loads_row(text).get("created") is not None
