"""Storing new trials in the MongoDB store's ``jobs`` collection, so that a retry is no error.

A queued or reused trial found stored already as the same trial (``shared.store.same_trial``)
is an earlier try of the same call whose reply was lost: it is skipped, not refused. The
functions here raise pymongo's errors; the store turns them into its own.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.errors import StoreError
from shared.store.documents import Document
from shared.store.same_trial import unstored

# MongoDB's error code for a write that would break a unique index.
DUPLICATE_KEY_CODE = 11000


def insert_trials(jobs: Collection[Document], docs: Sequence[Document], *, where: str) -> int:
    """Insert those of the trial documents ``docs`` (of one experiment) not stored yet.

    Returns how many this call inserted. Raises StoreError naming a tid stored with another
    trial; ``where`` names the store. Checking first means such a refusal stores nothing.
    """
    pending = unstored(docs, _stored(jobs, docs), where=where)
    inserted = 0
    while pending:
        try:
            jobs.insert_many(pending, ordered=True)
        except BulkWriteError as err:
            first = err.details["writeErrors"][0]
            if first.get("code") != DUPLICATE_KEY_CODE:
                raise
            # An ordered insert stores the documents before the first error and stops.
            # The clash is with a write since the check above: another process's (refused
            # below) or a slow earlier try of this very call (skipped, and the rest goes on).
            index = int(first["index"])
            inserted += index
            rest = pending[index:]
            pending = unstored(rest, _stored(jobs, rest), where=where)
            if pending and pending[0] is rest[0]:
                raise  # its tid is free: the clash was on another unique key
        else:
            return inserted + len(pending)
    return inserted


def insert_trial(jobs: Collection[Document], doc: Document, *, where: str) -> Document:
    """Insert the trial document ``doc``, or return the same trial's stored document.

    Raises StoreError naming the tid when it holds another trial.
    """
    try:
        jobs.insert_one(doc)
    except DuplicateKeyError as err:
        stored = _stored(jobs, [doc])
        if unstored([doc], stored, where=where):
            raise StoreError(f"trial {doc['tid']} of experiment {doc['exp_key']!r} clashes "
                             f"with a stored document in {where}: {err}") from err
        return stored[doc["tid"]]
    return doc


def _stored(jobs: Collection[Document], docs: Sequence[Document]) -> dict[int, Document]:
    """The stored documents that have the tids of ``docs`` (of one experiment), by tid."""
    if not docs:
        return {}
    found = jobs.find({"exp_key": docs[0]["exp_key"], "tid": {"$in": [d["tid"] for d in docs]}},
                      {"_id": False})
    return {doc["tid"]: doc for doc in found}
