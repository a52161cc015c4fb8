"""The SQLite store's rows: documents as JSON text, times as ISO-8601 UTC text.

A trial's row holds its whole document beside copies of the fields that queries filter
and sort on; ``trial_row`` makes both from one document, so they cannot disagree.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from shared.errors import StoreError
from shared.store.documents import Document, trial_from_document
from shared.trials import Trial

_DATETIME_FIELDS = ("book_time", "refresh_time", "end_time", "created_at", "last_seen")
UPDATE_TRIAL = """UPDATE trials SET state = :state, owner = :owner, version = :version,
    refresh_time = :refresh_time, doc = :doc WHERE exp_key = :exp_key AND tid = :tid"""
INSERT_TRIAL = """INSERT INTO trials
    (exp_key, tid, state, owner, version, refresh_time, config_key, doc) VALUES
    (:exp_key, :tid, :state, :owner, :version, :refresh_time, :config_key, :doc)"""


def iso(value: datetime) -> str:
    """A UTC time as fixed-width ISO-8601 text, so that text order is time order."""
    if value.tzinfo is None:
        raise ValueError(f"{value} has no time zone; the store compares UTC times only")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def dumps(doc: Document) -> str:
    return json.dumps(doc, default=_datetime_as_text)


def _datetime_as_text(value: object) -> str:
    if isinstance(value, datetime):
        return iso(value)
    raise StoreError(f"cannot store {value!r} of type {type(value).__name__}: documents hold "
                     "plain JSON values and datetimes only; convert it before storing")


def loads(text: str, *, where: str = "a stored document") -> Document:
    """The document a row's text holds; StoreError naming ``where`` if it is no JSON object."""
    try:
        doc = json.loads(text)
    except ValueError as err:
        raise StoreError(f"{where}: the stored document is not JSON ({err}); fix or delete "
                         "its row") from err
    if not isinstance(doc, dict):
        raise StoreError(f"{where}: the stored document is {type(doc).__name__} JSON, not an "
                         "object; fix or delete its row")
    for field in _DATETIME_FIELDS:
        if isinstance(doc.get(field), str):
            # Text that is no time stays text: the document reader names the bad field.
            with suppress(ValueError):
                doc[field] = datetime.fromisoformat(doc[field])
    return doc


def stored_documents(db: sqlite3.Connection, exp_key: str, tids: Sequence[int]
                     ) -> dict[int, Document]:
    """The stored documents of the experiment's trials ``tids``, by tid.

    A document that is no JSON object reads as empty: it matches no trial, so its tid is
    refused rather than taken for a retry.
    """
    rows = db.execute(f"SELECT tid, doc FROM trials WHERE exp_key = ? AND tid IN "
                      f"({', '.join('?' * len(tids))})", [exp_key, *tids])
    return {tid: _document_or_empty(text) for tid, text in rows}


def _document_or_empty(text: str) -> Document:
    try:
        return loads(text)
    except StoreError:
        return {}


def trial_of(exp_key: str, tid: int, text: str) -> Trial:
    """The trial the row (exp_key, tid, doc) describes; a StoreError names the trial."""
    return trial_from_document(loads(text, where=f"trial {tid} of experiment {exp_key!r}"))


def attempts_before(text: str) -> int:
    """The reservations a damaged trial document records, if it still says; else 0."""
    try:
        attempts = loads(text).get("attempts")
    except StoreError:
        return 0
    return attempts if isinstance(attempts, int) and not isinstance(attempts, bool) else 0


def trial_row(doc: Document) -> dict[str, Any]:
    """The column values of a trial's row, for ``INSERT_TRIAL`` and ``UPDATE_TRIAL``."""
    refresh = doc["refresh_time"]
    return {"exp_key": doc["exp_key"], "tid": doc["tid"], "state": doc["state"],
            "owner": doc["owner"], "version": doc["version"],
            "refresh_time": None if refresh is None else iso(refresh),
            "config_key": doc["config_key"], "doc": dumps(doc)}
