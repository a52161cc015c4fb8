"""The stand-in's commands and state file, run in-process without a socket."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mongomock
from bson import ObjectId
from bson.int64 import Int64

from tests.standin.commands import Executor
from tests.standin.state import load_state, save_state


def _run(executor: Executor, command: dict[str, Any]) -> dict[str, Any]:
    return executor.execute("db", command)


def test_a_cursor_hands_out_the_rest_in_batches_and_closes_when_empty() -> None:
    # Given 25 documents
    executor = Executor()
    _run(executor, {"insert": "jobs", "documents": [{"tid": t} for t in range(25)]})

    # When they are found 10 at a time
    first = _run(executor, {"find": "jobs", "sort": {"tid": 1}, "batchSize": 10})
    cursor_id = first["cursor"]["id"]
    second = _run(executor, {"getMore": cursor_id, "collection": "jobs", "batchSize": 10})
    last = _run(executor, {"getMore": cursor_id, "collection": "jobs", "batchSize": 10})
    after = _run(executor, {"getMore": cursor_id, "collection": "jobs"})

    # Then the batches follow each other and the cursor is gone after the last
    assert [len(r["cursor"]["nextBatch"]) for r in (second, last)] == [10, 5]
    assert last["cursor"]["id"] == 0
    assert (after["ok"], after["code"]) == (0, 43)


def test_a_killed_cursor_cannot_be_continued() -> None:
    executor = Executor()
    _run(executor, {"insert": "jobs", "documents": [{"tid": t} for t in range(5)]})
    cursor_id = _run(executor, {"find": "jobs", "batchSize": 2})["cursor"]["id"]

    killed = _run(executor, {"killCursors": "jobs", "cursors": [cursor_id]})

    assert killed["cursorsKilled"] == [cursor_id]
    assert _run(executor, {"getMore": cursor_id, "collection": "jobs"})["code"] == 43


def test_an_unordered_insert_goes_on_past_a_duplicate_and_reports_it() -> None:
    # Given a unique index and one stored key
    executor = Executor()
    _run(executor, {"createIndexes": "jobs",
                    "indexes": [{"key": {"tid": 1}, "name": "tid", "unique": True}]})
    _run(executor, {"insert": "jobs", "documents": [{"tid": 0}]})

    # When a batch with that key in the middle is inserted unordered
    reply = _run(executor, {"insert": "jobs", "ordered": False,
                            "documents": [{"tid": 1}, {"tid": 0}, {"tid": 2}]})

    # Then the others are stored and the duplicate is reported by its index
    assert reply["n"] == 2
    assert [(e["index"], e["code"]) for e in reply["writeErrors"]] == [(1, 11000)]


def test_find_and_modify_without_update_or_remove_is_refused() -> None:
    reply = _run(Executor(), {"findAndModify": "jobs", "query": {}})

    assert reply["ok"] == 0
    assert "either update or remove" in str(reply["errmsg"])


def test_hello_describes_a_writable_standalone_server() -> None:
    reply = _run(Executor(), {"hello": 1, "client": {"driver": {"name": "PyMongo"}}})

    assert reply["ok"] == 1
    assert reply["isWritablePrimary"] is True
    assert "setName" not in reply
    assert "msg" not in reply  # "isdbgrid" would make pymongo treat it as mongos


def test_the_state_file_brings_back_documents_types_indexes_and_empty_collections(
        tmp_path: Path) -> None:
    # Given databases holding BSON-only types, a unique index and an empty collection
    before: Any = mongomock.MongoClient()
    stamp = datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC).replace(tzinfo=None)
    document = {"_id": ObjectId(), "when": stamp, "big": Int64(2**40), "nested": {"a": [1]}}
    before.db1.jobs.insert_one(dict(document))
    before.db1.jobs.create_index([("when", 1), ("big", -1)], name="when_big", unique=True)
    before.db2.create_collection("empty")
    state_file = tmp_path / "state.bson"

    # When the state is saved and loaded into a fresh client
    saved = save_state(before, state_file)
    after: Any = mongomock.MongoClient()
    loaded = load_state(after, state_file)

    # Then everything is back
    assert saved == loaded == 1
    assert after.db1.jobs.find_one() == document
    info = after.db1.jobs.index_information()["when_big"]
    assert (info["key"], info["unique"]) == ([("when", 1), ("big", -1)], True)
    assert after.db2.list_collection_names() == ["empty"]
    assert not state_file.with_name("state.bson.partial").exists()
