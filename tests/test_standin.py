"""The MongoDB stand-in, driven by pymongo 4 over the wire as the trial store drives it."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import ASCENDING, DESCENDING, IndexModel, MongoClient, ReturnDocument
from pymongo.database import Database
from pymongo.errors import AutoReconnect, BulkWriteError, DuplicateKeyError, OperationFailure
from pymongo.write_concern import WriteConcern

from tests.standin import StandinServer
from tests.standin.process import REPO_ROOT

Client = MongoClient[dict[str, Any]]
_databases = iter(range(10_000))


@pytest.fixture(scope="module")
def standin() -> Iterator[StandinServer]:
    """A stand-in of this module's own, so that pausing and restarting it disturbs no other
    test module."""
    with StandinServer() as server:
        yield server


@pytest.fixture
def client(standin: StandinServer) -> Iterator[Client]:
    client: Client = MongoClient(standin.uri, serverSelectionTimeoutMS=10_000)
    yield client
    client.close()


@pytest.fixture
def db(client: Client) -> Database[dict[str, Any]]:
    return client[f"standin_test_{next(_databases)}"]


def test_inserted_documents_are_found_by_filter_sort_skip_limit_and_projection(
        db: Database[dict[str, Any]]) -> None:
    # Given ten documents, one inserted alone and nine in one batch
    db.jobs.insert_one({"tid": 0, "state": 0})
    db.jobs.insert_many([{"tid": tid, "state": tid % 2} for tid in range(1, 10)])

    # When they are found with a filter, sort, skip, limit and projection
    found = list(db.jobs.find({"state": 1}, {"_id": False, "tid": True})
                 .sort("tid", DESCENDING).skip(1).limit(2))

    # Then exactly the matching slice comes back, projected
    assert found == [{"tid": 7}, {"tid": 5}]
    assert db.jobs.find_one({"tid": 4}, {"_id": False}) == {"tid": 4, "state": 0}


def test_a_result_larger_than_one_batch_arrives_whole_through_get_more(
        db: Database[dict[str, Any]]) -> None:
    # Given more documents than the first batch holds
    db.jobs.insert_many([{"tid": tid} for tid in range(250)])

    # When they are read in batches of 40 / Then all arrive, in order
    tids = [doc["tid"] for doc in db.jobs.find().sort("tid", ASCENDING).batch_size(40)]
    assert tids == list(range(250))


def test_find_one_and_update_changes_the_first_match_in_sort_order_and_returns_it(
        db: Database[dict[str, Any]]) -> None:
    # Given three new jobs
    db.jobs.insert_many([{"tid": tid, "state": 0} for tid in (2, 0, 1)])

    # When one is taken with a sort on tid, returning the document after the change
    taken = db.jobs.find_one_and_update(
        {"state": 0}, {"$set": {"state": 1, "owner": "w1"}, "$inc": {"version": 1}},
        sort=[("tid", ASCENDING)], projection={"_id": False},
        return_document=ReturnDocument.AFTER)

    # Then it is the lowest tid, changed; the others are untouched
    assert taken == {"tid": 0, "state": 1, "owner": "w1", "version": 1}
    assert db.jobs.count_documents({"state": 0}) == 2


def test_find_one_and_update_returns_the_old_document_or_none_and_can_upsert(
        db: Database[dict[str, Any]]) -> None:
    # Given one counter
    db.counters.insert_one({"_id": "exp-a", "next_tid": 3})

    # When counters are incremented, returning the documents before the change
    before = db.counters.find_one_and_update({"_id": "exp-a"}, {"$inc": {"next_tid": 2}})
    missing = db.counters.find_one_and_update({"_id": "exp-b"}, {"$inc": {"next_tid": 2}})
    created = db.counters.find_one_and_update({"_id": "exp-b"}, {"$inc": {"next_tid": 5}},
                                              upsert=True,
                                              return_document=ReturnDocument.AFTER)

    # Then the old value, nothing for a missing one, and an upserted new one come back
    assert before == {"_id": "exp-a", "next_tid": 3}
    assert missing is None
    assert created == {"_id": "exp-b", "next_tid": 5}
    assert db.counters.find_one({"_id": "exp-a"}) == {"_id": "exp-a", "next_tid": 5}


def test_find_one_and_delete_removes_and_returns_the_match(
        db: Database[dict[str, Any]]) -> None:
    db.jobs.insert_many([{"tid": 0}, {"tid": 1}])

    removed = db.jobs.find_one_and_delete({"tid": 1}, projection={"_id": False})

    assert removed == {"tid": 1}
    assert db.jobs.count_documents({}) == 1


def test_updates_report_matched_modified_and_upserted_counts(
        db: Database[dict[str, Any]]) -> None:
    # Given three documents
    db.jobs.insert_many([{"tid": tid, "state": 0} for tid in range(3)])

    # When they are updated one, many, conditionally, by replacement and by upsert
    one = db.jobs.update_one({"tid": 0, "version": None}, {"$set": {"state": 1}})
    unmatched = db.jobs.update_one({"tid": 0, "state": 0}, {"$set": {"state": 2}})
    many = db.jobs.update_many({"state": 0}, {"$set": {"state": 3}})
    replaced = db.jobs.replace_one({"tid": 2}, {"tid": 2, "state": 9})
    upserted = db.jobs.update_one({"tid": 7}, {"$set": {"state": 0}}, upsert=True)

    # Then each reports what it did
    assert (one.matched_count, one.modified_count) == (1, 1)
    assert (unmatched.matched_count, unmatched.modified_count) == (0, 0)
    assert (many.matched_count, many.modified_count) == (2, 2)
    assert replaced.modified_count == 1
    assert upserted.upserted_id is not None
    assert sorted(d["state"] for d in db.jobs.find()) == [0, 1, 3, 9]


def test_count_documents_and_a_group_aggregation_count_by_state(
        db: Database[dict[str, Any]]) -> None:
    # Given jobs in three states
    db.jobs.insert_many([{"exp_key": "e", "state": s} for s in (0, 0, 0, 1, 2, 2)])

    # When they are counted
    groups = db.jobs.aggregate([{"$match": {"exp_key": "e"}},
                                {"$group": {"_id": "$state", "count": {"$sum": 1}}}])

    # Then the counts match, with and without skip and limit
    assert {g["_id"]: g["count"] for g in groups} == {0: 3, 1: 1, 2: 2}
    assert db.jobs.count_documents({"state": 0}) == 3
    assert db.jobs.count_documents({}, skip=2, limit=3) == 3
    assert sorted(db.jobs.distinct("state")) == [0, 1, 2]


def test_created_indexes_are_listed_and_a_unique_one_refuses_duplicates(
        db: Database[dict[str, Any]]) -> None:
    # Given a unique index and a plain one
    names = db.jobs.create_indexes([
        IndexModel([("exp_key", ASCENDING), ("tid", ASCENDING)], name="exp_tid", unique=True),
        IndexModel([("state", ASCENDING)], name="state")])
    db.jobs.insert_one({"exp_key": "e", "tid": 0})

    # When a duplicate key is inserted alone, or in the middle of a batch
    with pytest.raises(DuplicateKeyError):
        db.jobs.insert_one({"exp_key": "e", "tid": 0})
    with pytest.raises(BulkWriteError) as batch:
        db.jobs.insert_many([{"exp_key": "e", "tid": 1}, {"exp_key": "e", "tid": 0},
                             {"exp_key": "e", "tid": 2}])

    # Then the indexes are there, the duplicate is refused, and the batch stopped at it
    info = db.jobs.index_information()
    assert names == ["exp_tid", "state"]
    assert info["exp_tid"]["key"] == [("exp_key", 1), ("tid", 1)]
    assert info["exp_tid"]["unique"] is True
    assert batch.value.details["writeErrors"][0]["index"] == 1
    assert batch.value.details["writeErrors"][0]["code"] == 11000
    assert sorted(d["tid"] for d in db.jobs.find()) == [0, 1]


def test_collections_and_databases_can_be_listed_deleted_from_and_dropped(
        client: Client, db: Database[dict[str, Any]]) -> None:
    # Given two collections in a database
    db.jobs.insert_many([{"tid": t} for t in range(4)])
    db.workers.insert_one({"worker_id": "w1"})

    # When documents are deleted and a collection dropped
    assert db.jobs.delete_one({"tid": {"$lt": 2}}).deleted_count == 1
    assert db.jobs.delete_many({"tid": {"$lt": 3}}).deleted_count == 2
    db.workers.drop()

    # Then listings follow, and dropping the database removes it
    assert db.list_collection_names() == ["jobs"]
    assert db.name in client.list_database_names()
    client.drop_database(db.name)
    assert db.name not in client.list_database_names()


def test_an_unacknowledged_write_is_applied_without_a_reply(
        db: Database[dict[str, Any]]) -> None:
    # Given a collection written with w=0, where the client waits for no reply
    unacknowledged = db.get_collection("jobs", write_concern=WriteConcern(w=0))

    # When documents are inserted that way
    first = unacknowledged.insert_one({"tid": 0})
    unacknowledged.insert_one({"tid": 1})

    # Then they are stored all the same, and the connection still serves what follows
    assert not first.acknowledged
    assert sorted(d["tid"] for d in db.jobs.find()) == [0, 1]


def test_an_unknown_command_is_refused_naming_the_stand_in(
        db: Database[dict[str, Any]]) -> None:
    with pytest.raises(OperationFailure, match="test stand-in serves only") as refused:
        db.command("mapReduce", "jobs")

    assert refused.value.code == 59


def test_an_option_the_stand_in_would_get_wrong_is_refused_by_name(
        db: Database[dict[str, Any]]) -> None:
    db.jobs.insert_one({"name": "a"})

    with pytest.raises(OperationFailure, match="does not support collation") as refused:
        db.jobs.find_one({"name": "A"}, collation={"locale": "en", "strength": 2})

    assert refused.value.code == 115


def test_a_paused_stand_in_answers_nothing_and_after_resuming_has_lost_nothing(
        standin: StandinServer, db: Database[dict[str, Any]]) -> None:
    # Given stored documents and a client that gives up on a silent server after 0.5 s
    db.jobs.insert_many([{"tid": t} for t in range(5)])
    impatient: Client = MongoClient(standin.uri, socketTimeoutMS=500,
                                    serverSelectionTimeoutMS=500)
    patient_insert = threading.Thread(
        target=lambda: db.jobs.insert_one({"tid": 5}), daemon=True)

    # When the stand-in is paused, asked, and resumed
    standin.pause()
    try:
        with pytest.raises(AutoReconnect):
            impatient[db.name].jobs.count_documents({})
        patient_insert.start()
    finally:
        standin.resume()
        impatient.close()
    patient_insert.join(timeout=60)

    # Then the patient client's write went through after resuming, and nothing was lost
    assert not patient_insert.is_alive()
    assert sorted(d["tid"] for d in db.jobs.find()) == list(range(6))


def test_a_restarted_stand_in_keeps_its_documents_and_indexes_on_the_same_port(
        standin: StandinServer, db: Database[dict[str, Any]]) -> None:
    # Given documents and a unique index
    db.jobs.create_index([("tid", ASCENDING)], name="tid", unique=True)
    db.jobs.insert_many([{"tid": t, "state": 0} for t in range(20)])
    port = standin.port

    # When the stand-in is restarted
    standin.restart()

    # Then the same client finds everything on the same port, unique index included
    assert standin.port == port
    assert db.jobs.count_documents({"state": 0}) == 20
    with pytest.raises(DuplicateKeyError):
        db.jobs.insert_one({"tid": 3})


def test_the_command_line_reports_its_loopback_port_and_saves_its_state_on_sigterm(
        tmp_path: Path) -> None:
    # Given the stand-in started from the command line on a free port
    state_file = tmp_path / "state.bson"
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.standin", "--port", "0", "--state-file",
         str(state_file)], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        assert process.stdout is not None
        ready = process.stdout.readline()
        port = int(ready.rpartition(":")[2])
        cli: Client = MongoClient(f"mongodb://127.0.0.1:{port}")
        with cli:
            cli.cli_db.jobs.insert_one({"tid": 1})

        # When it is sent SIGTERM
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=60)
    finally:
        process.kill()

    # Then it said where it listened, exited cleanly and saved what it held
    assert ready.startswith("listening on 127.0.0.1:")
    assert process.returncode == 0, log
    assert state_file.stat().st_size > 0
    assert "Saved 1 documents" in log
