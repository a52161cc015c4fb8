"""Server-side cursors: results handed to the client in batches, as MongoDB does.

The stand-in computes a query's whole result at once and keeps what the first batch did
not return here until the client asks for more (``getMore``) or gives up (``killCursors``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bson.int64 import Int64

from tests.standin.errors import CommandError

# MongoDB's own first-batch size when the client names none; later batches return the rest.
DEFAULT_FIRST_BATCH = 101


@dataclass
class _OpenCursor:
    namespace: str
    remaining: list[Mapping[str, Any]] = field(default_factory=list)


class Cursors:
    """The open cursors of one stand-in, by id."""

    def __init__(self) -> None:
        self._open: dict[int, _OpenCursor] = {}
        self._ids = itertools.count(1)

    def first_batch(self, namespace: str, documents: Iterable[Mapping[str, Any]], *,
                    batch_size: int | None = None, single_batch: bool = False
                    ) -> dict[str, Any]:
        """The reply to a cursor-opening command; keeps the rest open unless all was sent."""
        everything = list(documents)
        size = DEFAULT_FIRST_BATCH if batch_size is None else batch_size
        # batchSize 0 means "open the cursor, return nothing yet".
        batch, rest = (everything, []) if single_batch else (everything[:size],
                                                              everything[size:])
        cursor_id = 0
        if rest:
            cursor_id = next(self._ids)
            self._open[cursor_id] = _OpenCursor(namespace, rest)
        return {"cursor": {"id": Int64(cursor_id), "ns": namespace, "firstBatch": batch}}

    def next_batch(self, cursor_id: int, *, batch_size: int | None = None) -> dict[str, Any]:
        cursor = self._open.get(cursor_id)
        if cursor is None:
            raise CommandError(43, "CursorNotFound", f"cursor id {cursor_id} not found")
        size = batch_size or len(cursor.remaining)
        batch, cursor.remaining = cursor.remaining[:size], cursor.remaining[size:]
        if not cursor.remaining:
            del self._open[cursor_id]
            cursor_id = 0
        return {"cursor": {"id": Int64(cursor_id), "ns": cursor.namespace,
                           "nextBatch": batch}}

    def kill(self, cursor_ids: Iterable[int]) -> dict[str, Any]:
        killed: list[Int64] = []
        not_found: list[Int64] = []
        for cursor_id in cursor_ids:
            found = self._open.pop(int(cursor_id), None)
            (killed if found else not_found).append(Int64(cursor_id))
        return {"cursorsKilled": killed, "cursorsNotFound": not_found,
                "cursorsAlive": [], "cursorsUnknown": []}

    def __len__(self) -> int:
        return len(self._open)
