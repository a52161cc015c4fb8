"""The MongoDB trial store: the shared contract, plus what only MongoDB brings (indexes,
documents in hyperopt's layout, unreachable and restarting servers, redacted URIs).

Runs against the server ``mongo_target`` gives: a real one when OCRTUNE_TEST_MONGO_URI is
set, else the wire-protocol stand-in (see the pytest header).
"""

from __future__ import annotations

import functools
import logging
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from pymongo import MongoClient
from pymongo.collection import Collection

from shared.errors import LeaseLostError, StoreError, StoreUnavailableError
from shared.store.mongo import MongoTrialStore
from shared.store.uri import MongoTarget, parse_mongo_uri
from shared.trials import Trial, TrialResult, TrialState
from tests.standin import StandinServer

from .contract import MALFORMED_SPEC, CorruptTrial, StoreFactory, TrialStoreContract
from .contract_support import FakeClock, make_experiment, new_trial, queue_trials

PASSWORD = "pa55-w0rd-Xyz"
# Long enough for a busy two-core machine, short enough that a dead server fails a test
# in seconds rather than pymongo's default half minute.
_SELECTION_TIMEOUT_MS = 10_000
# How long a resumed stand-in may take to apply the write it got before its pause.
_LANDING_TIMEOUT_S = 10.0
T = TypeVar("T")


class TestMongoTrialStore(TrialStoreContract):
    @pytest.fixture
    def store_factory(self, mongo_target: MongoTarget) -> StoreFactory:
        return functools.partial(MongoTrialStore, mongo_target,
                                 server_selection_timeout_ms=_SELECTION_TIMEOUT_MS)

    @pytest.fixture
    def corrupt_trial(self, raw: Any) -> CorruptTrial:
        def corrupt(exp_key: str, tid: int) -> None:
            raw.jobs.update_one({"exp_key": exp_key, "tid": tid},
                                {"$set": {"spec": MALFORMED_SPEC}})
        return corrupt


@pytest.fixture
def mongo_store(mongo_target: MongoTarget, clock: FakeClock) -> Iterator[MongoTrialStore]:
    with MongoTrialStore(mongo_target, clock=clock,
                         server_selection_timeout_ms=_SELECTION_TIMEOUT_MS) as opened:
        assert isinstance(opened, MongoTrialStore)
        yield opened


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def raw(mongo_target: MongoTarget) -> Iterator[Any]:
    """The test's database through plain pymongo, to look at the stored documents."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_target.uri, tz_aware=True)
    yield client[mongo_target.database]
    client.close()


def test_opening_the_store_creates_the_documented_indexes(mongo_store: MongoTrialStore,
                                                          raw: Any) -> None:
    # Given a freshly opened store / When its collections' indexes are listed
    def keys(collection: str) -> dict[str, tuple[list[tuple[str, int]], bool]]:
        return {name: (info["key"], bool(info.get("unique")))
                for name, info in raw[collection].index_information().items()}

    # Then each documented index is there, unique where the docstring says so
    assert keys("jobs") == {
        "_id_": ([("_id", 1)], False),
        "exp_key_tid": ([("exp_key", 1), ("tid", 1)], True),
        "reserve": ([("state", 1), ("exp_key", 1), ("tid", 1)], False),
        "lease_reaper": ([("exp_key", 1), ("state", 1), ("refresh_time", 1)], False),
        "config_key": ([("exp_key", 1), ("config_key", 1)], False),
    }
    assert keys("experiments")["exp_key"] == ([("exp_key", 1)], True)
    assert keys("workers")["worker_id"] == ([("worker_id", 1)], True)
    assert keys("workers")["last_seen"] == ([("last_seen", 1)], False)


def test_opening_the_store_twice_keeps_its_indexes_and_data(
        mongo_target: MongoTarget, mongo_store: MongoTrialStore) -> None:
    # Given a store holding trials
    mongo_store.ensure_experiment(make_experiment("exp-a"))
    queue_trials(mongo_store, "exp-a", 3)

    # When a second store opens the same database / Then it sees the same trials
    with MongoTrialStore(mongo_target) as again:
        assert [t.tid for t in again.trials("exp-a")] == [0, 1, 2]


def test_a_reserved_trial_is_stored_in_hyperopts_job_layout(
        mongo_store: MongoTrialStore, clock: FakeClock, raw: Any) -> None:
    # Given a queued trial
    mongo_store.ensure_experiment(make_experiment("exp-a"))
    queue_trials(mongo_store, "exp-a", 1)

    # When a worker reserves it
    mongo_store.reserve("w1", ["exp-a"])

    # Then its job document reads as hyperopt's, with native datetimes
    job = raw.jobs.find_one({"exp_key": "exp-a", "tid": 0})
    assert job["state"] == 1
    assert job["owner"] == "w1"
    assert job["book_time"] == job["refresh_time"] == clock.now
    assert isinstance(job["book_time"], datetime)
    assert job["spec"] == new_trial(0).params
    assert job["misc"]["tid"] == 0
    assert job["misc"]["idxs"] == new_trial(0).hyperopt_misc["idxs"]
    assert job["result"] == {"status": "new"}
    assert (job["version"], job["attempts"]) == (1, 1)


def test_a_job_that_is_no_trial_is_replaced_by_a_failed_trial_that_keeps_it(
        mongo_store: MongoTrialStore, raw: Any) -> None:
    # Given a queued trial whose spec was overwritten behind the store's back
    mongo_store.ensure_experiment(make_experiment("exp-a"))
    queue_trials(mongo_store, "exp-a", 1)
    raw.jobs.update_one({"tid": 0}, {"$set": {"spec": MALFORMED_SPEC, "extra": 1}})
    found = raw.jobs.find_one({"tid": 0})

    # When a worker reserves
    assert mongo_store.reserve("w1", ["exp-a"]) is None

    # Then the job is a readable failed trial under the same _id, and what was found is
    # kept whole beside it (with the reservation's owner, version and attempt)
    job = raw.jobs.find_one({"tid": 0})
    assert (job["_id"], job["state"], job["spec"], job["version"]) == (
        found["_id"], TrialState.ERROR, {}, 2)
    assert "extra" not in job
    kept = job["unreadable_doc"]
    assert (kept["spec"], kept["extra"], kept["owner"], kept["version"]) == (
        MALFORMED_SPEC, 1, "w1", 1)
    assert mongo_store.trials("exp-a")[0].state is TrialState.ERROR


def test_trial_ids_come_from_one_counter_document_per_experiment(
        mongo_store: MongoTrialStore, raw: Any) -> None:
    mongo_store.ensure_experiment(make_experiment("exp-a"))
    mongo_store.ensure_experiment(make_experiment("exp-b"))

    mongo_store.next_tids("exp-a", 4)
    mongo_store.next_tids("exp-b", 1)

    assert list(raw.counters.find().sort("_id", 1)) == [
        {"_id": "exp-a", "next_tid": 4}, {"_id": "exp-b", "next_tid": 1}]


def test_queueing_a_taken_trial_id_names_it_and_stores_none_of_the_batch(
        mongo_store: MongoTrialStore) -> None:
    # Given trials 0 and 1 queued
    mongo_store.ensure_experiment(make_experiment("exp-a"))
    queue_trials(mongo_store, "exp-a", 2)

    # When a batch of 2, another configuration as 1, and 3 is queued
    other = replace(new_trial(1), params={"other": True})
    with pytest.raises(StoreError, match="trial 1 of experiment 'exp-a' is already in"):
        mongo_store.enqueue("exp-a", [new_trial(2), other, new_trial(3)])

    # Then trial 1 is named and 2, 3 are not stored
    assert [t.tid for t in mongo_store.trials("exp-a")] == [0, 1]


def test_times_are_kept_to_the_millisecond_and_read_back_equal(
        mongo_store: MongoTrialStore, clock: FakeClock) -> None:
    # Given a clock with microseconds, which BSON cannot keep
    mongo_store.ensure_experiment(make_experiment("exp-a"))
    queue_trials(mongo_store, "exp-a", 1)
    clock.now = clock.now.replace(microsecond=123_456)

    # When a trial is reserved
    reserved = mongo_store.reserve("w1", ["exp-a"])

    # Then the returned trial equals the stored one, both cut to the millisecond
    assert reserved is not None
    assert reserved.book_time is not None
    assert reserved.book_time.microsecond == 123_000
    assert mongo_store.trials("exp-a") == [reserved]


def test_leases_are_stamped_with_the_servers_clock_not_this_hosts(
        caplog: pytest.LogCaptureFixture) -> None:
    # Given a server whose clock is an hour behind this host's
    with StandinServer(clock_offset_s=-3600) as standin:
        target = parse_mongo_uri(f"{standin.uri}/skew")
        with caplog.at_level(logging.WARNING, logger="shared.store.server_clock"), \
                MongoTrialStore(target, server_selection_timeout_ms=_SELECTION_TIMEOUT_MS
                                ) as store:
            store.ensure_experiment(make_experiment("exp-a"))
            queue_trials(store, "exp-a", 1)

            # When a trial is reserved
            before = datetime.now(UTC)
            reserved = store.reserve("w1", ["exp-a"])
            told = store.now()

    # Then it is booked by the server's clock, which the store also tells, and the
    # host's clock is named as off
    assert reserved is not None and reserved.book_time is not None
    an_hour_ago = before - timedelta(hours=1)
    assert abs(reserved.book_time - an_hour_ago) < timedelta(seconds=5)
    assert abs(told - an_hour_ago) < timedelta(seconds=5)
    assert "This host's clock is 3600.0 s ahead of the MongoDB server's" in caplog.text


def _closed_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there


def test_an_unreachable_server_raises_store_unavailable_naming_the_redacted_uri() -> None:
    # Given a URI with a password, pointing where no server listens
    target = parse_mongo_uri(
        f"mongodb://alice:{PASSWORD}@127.0.0.1:{_closed_loopback_port()}/trials")

    # When the store is opened with a short server selection timeout
    with pytest.raises(StoreUnavailableError) as raised:
        MongoTrialStore(target, server_selection_timeout_ms=300)

    # Then the error names the server without its password and says what to check
    message = str(raised.value)
    assert "mongodb://alice:***@127.0.0.1" in message
    assert PASSWORD not in message
    assert "check that the server runs" in message


def test_refused_credentials_raise_store_error_with_a_hint_and_no_password() -> None:
    # Given the stand-in, which knows no users, and a URI with credentials
    with StandinServer() as standin:
        target = parse_mongo_uri(f"mongodb://alice:{PASSWORD}@127.0.0.1:{standin.port}/x")

        # When the store is opened
        with pytest.raises(StoreError) as raised:
            MongoTrialStore(target, server_selection_timeout_ms=_SELECTION_TIMEOUT_MS)

    # Then it is refused, with the hint and without the password
    message = str(raised.value)
    assert not isinstance(raised.value, StoreUnavailableError)
    assert "check the user, password and authSource" in message
    assert "alice:***@" in message
    assert PASSWORD not in message


def _until_reachable(call: Callable[[], T], attempts: int = 20) -> T:
    """``call``, retried while the store is unavailable, as workers retry with backoff."""
    for _ in range(attempts - 1):
        try:
            return call()
        except StoreUnavailableError:
            continue
    return call()


def test_a_server_restart_mid_run_loses_no_trial() -> None:
    # Given a stand-in of this test's own, 30 queued trials and 10 of them done
    with StandinServer() as standin:
        target = parse_mongo_uri(f"{standin.uri}/restart")
        with MongoTrialStore(target, server_selection_timeout_ms=2_000) as store:
            store.ensure_experiment(make_experiment("exp-a"))
            queue_trials(store, "exp-a", 30)
            held = [store.reserve("w1", ["exp-a"]) for _ in range(12)]
            for trial in held[:10]:
                assert trial is not None
                store.finish(trial, TrialResult.ok(0.5))

            # When the server stops (calls fail as unavailable), then starts again
            standin.stop()
            with pytest.raises(StoreUnavailableError):
                store.state_counts("exp-a")
            standin.start()

            # Then the held leases still work, and the run finishes every trial once
            for trial in held[10:]:
                assert trial is not None
                _until_reachable(functools.partial(store.finish, trial, TrialResult.ok(0.5)))
            while (trial := _until_reachable(lambda: store.reserve("w2", ["exp-a"]))):
                store.finish(trial, TrialResult.ok(0.5))
            counts = store.state_counts("exp-a")
            owners = [t.owner for t in store.trials("exp-a")]

    assert counts[TrialState.DONE] == 30
    assert owners == ["w1"] * 12 + ["w2"] * 18


def test_a_paused_server_makes_calls_unavailable_and_after_resuming_nothing_is_lost() -> None:
    # Given a stand-in with queued trials and a store that waits 0.5 s for an answer
    with StandinServer() as standin:
        target = parse_mongo_uri(f"{standin.uri}/pause")
        with MongoTrialStore(target, server_selection_timeout_ms=2_000,
                             socket_timeout_ms=500) as store:
            store.ensure_experiment(make_experiment("exp-a"))
            queue_trials(store, "exp-a", 5)

            # When the server is paused, asked, then resumed
            standin.pause()
            try:
                with pytest.raises(StoreUnavailableError, match=r"127\.0\.0\.1"):
                    store.reserve("w1", ["exp-a"])
            finally:
                standin.resume()

            # Then the trials are all still there, and can be reserved
            reserved = _until_reachable(lambda: store.reserve("w1", ["exp-a"]))
            counts = store.state_counts("exp-a")

    assert reserved is not None
    assert counts[TrialState.NEW] + counts[TrialState.RUNNING] == 5


def test_repeating_a_finish_that_was_applied_returns_the_stored_trial(
        mongo_store: MongoTrialStore) -> None:
    # Given a trial whose result was recorded
    mongo_store.ensure_experiment(make_experiment("exp-a"))
    queue_trials(mongo_store, "exp-a", 1)
    reserved = mongo_store.reserve("w1", ["exp-a"])
    assert reserved is not None
    first = mongo_store.finish(reserved, TrialResult.ok(0.25, details={"cer": 0.25}))

    # When the same lease records the same result again, as a retry after a lost reply
    again = mongo_store.finish(reserved, TrialResult.ok(0.25, details={"cer": 0.25}))

    # Then it gets the stored trial, recorded once; another result is still refused
    assert again == first == mongo_store.trials("exp-a")[0]
    with pytest.raises(LeaseLostError):
        mongo_store.finish(reserved, TrialResult.ok(0.5))


def test_a_finish_whose_reply_was_lost_in_a_pause_succeeds_when_retried() -> None:
    # Given a reserved trial and a store that waits 0.5 s for an answer
    with StandinServer() as standin:
        target = parse_mongo_uri(f"{standin.uri}/lost_reply")
        with MongoTrialStore(target, server_selection_timeout_ms=2_000,
                             socket_timeout_ms=500) as store:
            store.ensure_experiment(make_experiment("exp-a"))
            queue_trials(store, "exp-a", 1)
            reserved = store.reserve("w1", ["exp-a"])
            assert reserved is not None
            record = functools.partial(store.finish, reserved, TrialResult.ok(0.25))

            # When the result is sent while the server is paused (it arrives, the reply
            # does not) and sent again once the server is back
            standin.pause()
            try:
                with pytest.raises(StoreUnavailableError):
                    record()
            finally:
                standin.resume()
            finished = _until_reachable(record)

            # Then the retry succeeds and the trial was recorded once
            assert finished == store.trials("exp-a")[0]
    assert (finished.state, finished.version, finished.loss) == (
        TrialState.DONE, reserved.version + 1, 0.25)


def test_an_enqueue_whose_insert_reply_was_lost_in_a_pause_succeeds_when_retried(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    # Given a store that waits 0.5 s for an answer, and a server that is paused just as
    # the store sends its insert (after its check of the trial ids has been answered)
    with StandinServer() as standin:
        target = parse_mongo_uri(f"{standin.uri}/lost_insert")
        with MongoTrialStore(target, server_selection_timeout_ms=2_000,
                             socket_timeout_ms=500) as store:
            store.ensure_experiment(make_experiment("exp-a"))
            batch = [new_trial(tid) for tid in store.next_tids("exp-a", 3)]
            _pause_before_the_next_insert(monkeypatch, standin)
            enqueue = functools.partial(store.enqueue, "exp-a", batch)

            # When the trials are queued (the insert arrives, its reply does not), and
            # queued again once the server is back and has stored them
            try:
                with pytest.raises(StoreUnavailableError):
                    enqueue()
            finally:
                standin.resume()
            first_try = _stored_trials(store, "exp-a", count=3)
            with caplog.at_level(logging.INFO, logger="shared.store"):
                _until_reachable(enqueue)

            # Then the retry succeeds, finding the first try's trials, and stores none again
            trials = store.trials("exp-a")
    assert trials == first_try
    assert [t.tid for t in trials] == [0, 1, 2]
    assert "Trials [0, 1, 2] of experiment exp-a are in" in caplog.text


def _pause_before_the_next_insert(monkeypatch: pytest.MonkeyPatch,
                                  standin: StandinServer) -> None:
    """Pause the stand-in as pymongo's next insert_many is called, once."""
    insert_many = Collection.insert_many

    def pause_then_insert(self: Collection[Any], *args: Any, **kwargs: Any) -> Any:
        monkeypatch.setattr(Collection, "insert_many", insert_many)
        standin.pause()
        return insert_many(self, *args, **kwargs)

    monkeypatch.setattr(Collection, "insert_many", pause_then_insert)


def _stored_trials(store: MongoTrialStore, exp_key: str, *, count: int) -> list[Trial]:
    """The experiment's trials once ``count`` are stored: a resumed server answers the
    request it got before its pause in its own time."""
    deadline = time.monotonic() + _LANDING_TIMEOUT_S
    while len(trials := _until_reachable(lambda: store.trials(exp_key))) < count:
        assert time.monotonic() < deadline, f"only {len(trials)} of {count} trials landed"
        time.sleep(0.05)
    return trials
