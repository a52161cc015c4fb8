"""Opening the store a command names: MongoDB by URI, or the local SQLite history file."""

from __future__ import annotations

from pathlib import Path

from shared.store.base import TrialStore
from shared.store.mongo import MongoTrialStore
from shared.store.sqlite import SqliteTrialStore
from shared.store.uri import parse_mongo_uri, redact_uri

DEFAULT_HISTORY = Path("runs/history.sqlite")


def open_store(*, mongo: str | None = None, history: Path | None = None,
               read_only: bool = False) -> TrialStore:
    """The MongoDB store when ``mongo`` is a URI, else the SQLite file ``history``.

    ``read_only`` opens without writing anything: no MongoDB index is created, and the
    history file must exist already (StoreError naming it otherwise); it is for the
    commands that only read, which a database user with the ``read`` role may then run.
    """
    if mongo:
        return MongoTrialStore(parse_mongo_uri(mongo), read_only=read_only)
    return SqliteTrialStore(history or DEFAULT_HISTORY, read_only=read_only)


def describe_store(*, mongo: str | None = None, history: Path | None = None) -> str:
    """Where the trials live, fit for a log line: never shows a password."""
    if mongo:
        return f"MongoDB at {redact_uri(mongo)}"
    return f"the history file {history or DEFAULT_HISTORY}"
