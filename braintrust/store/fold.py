"""Folding the row log into row states: the server's write semantics, applied in log order.

Per row id: a replace (op 0) sets the row, keeping the ``created`` of a live row it replaces;
a merge (op 1) deep-merges into a live row (see ``merge.merge_row``) or, with none, inserts;
a delete (op 2) leaves a tombstone. JSON is parsed only when a merge needs it.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from braintrust.store.merge import merge_row, stored_form

REPLACE, MERGE, DELETE = 0, 1, 2

#: One log entry: (seq, row id, xact_id, created, op, data as JSON text).
Entry = tuple[int, str, int, "str | None", int, str]


class RowState:
    """A row folded so far. ``seq`` is the log seq of its first write (its place in reads)."""

    __slots__ = ("seq", "xact_id", "created", "deleted", "text", "data")

    def __init__(self, seq: int, xact_id: int, created: str | None, deleted: bool, text: str | None, data: dict[str, Any] | None = None):
        self.seq = seq
        self.xact_id = xact_id
        self.created = created
        self.deleted = deleted
        self.text = text  # JSON as stored, while unchanged by a merge
        self.data = data  # parsed and merged, once a merge touched the row

    def parsed(self) -> dict[str, Any]:
        if self.data is None:
            self.data = stored_form(json.loads(self.text or "{}"))
            self.text = None
        return self.data

    def json(self) -> str:
        if self.data is None:
            return self.text or "{}"
        return json.dumps(self.data, separators=(",", ":"))


def fold(entries: Iterable[Entry], states: dict[str, RowState]) -> set[str]:
    """Apply ``entries`` (in seq order) to ``states`` in place; returns the row ids touched."""
    touched: set[str] = set()
    for seq, row_id, xact_id, created, op, text in entries:
        touched.add(row_id)
        state = states.get(row_id)
        if state is None:
            states[row_id] = RowState(seq, xact_id, created, op == DELETE, text)
            continue
        if op == DELETE:
            state.deleted = True
        elif op == MERGE and not state.deleted:
            state.data = merge_row(state.parsed(), json.loads(text))
        else:
            if state.deleted:
                state.created = created
            state.deleted = False
            state.text, state.data = text, None
        state.xact_id = xact_id
    return touched
