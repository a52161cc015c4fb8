"""Queueing trials in MongoDB when a trial id is stored between the store's check and its
insert: by a slow earlier try of the same call (skipped) or by another trial (refused).

Runs on the server ``mongo_target`` gives (the stand-in, or a real one).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.collection import Collection

from shared.errors import StoreError
from shared.store.documents import Document, new_trial_document
from shared.store.mongo_client import create_indexes
from shared.store.mongo_inserts import insert_trials
from shared.store.uri import MongoTarget
from shared.trials import NewTrial

from .contract_support import new_trial


@pytest.fixture
def jobs(mongo_target: MongoTarget) -> Iterator[Collection[Document]]:
    """The test database's ``jobs`` collection, with the store's indexes."""
    client: MongoClient[Document] = MongoClient(mongo_target.uri, tz_aware=True)
    database = client[mongo_target.database]
    create_indexes(database)
    yield database["jobs"]
    client.close()


def _store_just_before_the_insert(monkeypatch: pytest.MonkeyPatch, trial: NewTrial) -> None:
    """Make the next insert_many find ``trial`` stored, as if written after the check."""
    insert_many = Collection.insert_many

    def store_then_insert(self: Collection[Any], *args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(Collection, "insert_many", insert_many)
        self.insert_one(new_trial_document("exp-a", trial))
        return insert_many(self, *args, **kwargs)

    monkeypatch.setattr(Collection, "insert_many", store_then_insert)


def _stored_params(jobs: Collection[Document]) -> list[tuple[int, Any]]:
    return [(doc["tid"], doc["spec"]) for doc in jobs.find().sort("tid", 1)]


def test_a_trial_stored_by_a_slow_earlier_try_after_the_check_is_skipped_and_the_rest_stored(
        jobs: Collection[Document], monkeypatch: pytest.MonkeyPatch) -> None:
    # Given trial 1 of a batch of three stored just after the check, as by an earlier try
    _store_just_before_the_insert(monkeypatch, new_trial(1))
    docs = [new_trial_document("exp-a", new_trial(tid)) for tid in range(3)]

    # When the batch is inserted
    inserted = insert_trials(jobs, docs, where="the test server")

    # Then trials 0 and 2 were inserted by this call and each trial is stored once
    assert inserted == 2
    assert _stored_params(jobs) == [(tid, new_trial(tid).params) for tid in range(3)]


def test_a_tid_taken_by_another_trial_after_the_check_is_refused_naming_it(
        jobs: Collection[Document], monkeypatch: pytest.MonkeyPatch) -> None:
    # Given another configuration stored as trial 1 just after the check
    _store_just_before_the_insert(monkeypatch, replace(new_trial(1), params={"other": 1}))
    docs = [new_trial_document("exp-a", new_trial(tid)) for tid in range(3)]

    # When the batch is inserted / Then trial 1 is named; the ordered insert stored 0 only
    with pytest.raises(StoreError, match="trial 1 of experiment 'exp-a' is already in the "
                                         "test server with another configuration"):
        insert_trials(jobs, docs, where="the test server")
    assert _stored_params(jobs) == [(0, new_trial(0).params), (1, {"other": 1})]
