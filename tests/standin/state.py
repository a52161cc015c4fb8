"""The state file: every database, collection, index and document, kept across restarts.

A sequence of BSON documents, one per collection::

    {"database": str, "collection": str,
     "indexes": [{"name": str, "key": [[field, direction], ...], "unique": bool,
                  "sparse": bool}, ...],
     "documents": [...]}

BSON keeps what JSON would lose (ObjectId, datetimes, int64). The file is replaced
atomically, so a stand-in killed while saving leaves the previous state intact.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import bson

logger = logging.getLogger(__name__)

_DEFAULT_INDEX = "_id_"


def save_state(client: Any, path: Path) -> int:
    """Write everything in the mongomock ``client`` to ``path``; returns the document count."""
    written = 0
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as out:
        for database_name in sorted(client.list_database_names()):
            database = client[database_name]
            for name in sorted(database.list_collection_names()):
                record = _collection_record(database_name, database[name])
                written += len(record["documents"])
                out.write(bson.encode(record))
        out.flush()
        os.fsync(out.fileno())
    partial.replace(path)
    logger.info("Saved %s documents to the state file %s.", written, path)
    return written


def _collection_record(database_name: str, collection: Any) -> dict[str, Any]:
    indexes = [
        {"name": name, "key": [list(pair) for pair in info["key"]],
         "unique": bool(info.get("unique")), "sparse": bool(info.get("sparse"))}
        for name, info in collection.index_information().items() if name != _DEFAULT_INDEX
    ]
    return {"database": database_name, "collection": collection.name, "indexes": indexes,
            "documents": list(collection.find())}


def load_state(client: Any, path: Path) -> int:
    """Fill the mongomock ``client`` from ``path``; returns the document count."""
    loaded = 0
    with path.open("rb") as source:
        for record in bson.decode_file_iter(source):
            collection = client[record["database"]].get_collection(record["collection"])
            # An empty collection still exists after a restart, as in MongoDB.
            client[record["database"]].create_collection(record["collection"])
            for index in record["indexes"]:
                collection.create_index([tuple(pair) for pair in index["key"]],
                                        name=index["name"], unique=index["unique"],
                                        sparse=index["sparse"])
            if record["documents"]:
                collection.insert_many(record["documents"])
            loaded += len(record["documents"])
    logger.info("Loaded %s documents from the state file %s.", loaded, path)
    return loaded
