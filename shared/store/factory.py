"""Opening the store a command names: MongoDB by URI, or the local SQLite history file."""

from __future__ import annotations

from pathlib import Path

from shared.store.base import TrialStore
from shared.store.mongo import MongoTrialStore
from shared.store.sqlite import SqliteTrialStore
from shared.store.uri import parse_mongo_uri, redact_uri

DEFAULT_HISTORY = Path("runs/history.sqlite")


def open_store(*, mongo: str | None = None, history: Path | None = None) -> TrialStore:
    """The MongoDB store when ``mongo`` is a URI, else the SQLite file ``history``."""
    if mongo:
        return MongoTrialStore(parse_mongo_uri(mongo))
    return SqliteTrialStore(history or DEFAULT_HISTORY)


def describe_store(*, mongo: str | None = None, history: Path | None = None) -> str:
    """Where the trials live, fit for a log line: never shows a password."""
    if mongo:
        return f"MongoDB at {redact_uri(mongo)}"
    return f"the history file {history or DEFAULT_HISTORY}"
