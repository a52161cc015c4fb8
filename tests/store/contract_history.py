"""The store contract on expired leases, reused results, workers, and reopening the store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from shared.errors import LeaseLostError, StoreError
from shared.store.base import TrialStore
from shared.trials import ResultStatus, Trial, TrialResult, TrialState, WorkerInfo

from .contract_support import (
    ContractFixtures,
    FakeClock,
    StoreFactory,
    make_experiment,
    new_trial,
    queue_trials,
    reserve_one,
    stored,
)


class HistoryContract(ContractFixtures):
    """Reaping expired leases, reused results, worker presence, persistence."""

    # -- expired leases ---------------------------------------------------------------

    def test_requeue_stale_requeues_leases_older_than_the_cutoff_and_keeps_fresh_ones(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given leases on trials 0 and 1 taken at t0; at t0+100 s, trial 1's heartbeat and
        # a lease on trial 2
        old = reserve_one(store, exp_key, "w0")
        beaten = reserve_one(store, exp_key, "w1")
        clock.advance(100)
        beaten = store.heartbeat(beaten)
        fresh = reserve_one(store, exp_key, "w2")

        # When leases not refreshed in the last 50 s are reaped
        report = store.requeue_stale(exp_key, older_than=clock.now - timedelta(seconds=50),
                                     max_attempts=3)

        # Then trial 0 is back in the queue, its attempt kept, and the others are untouched
        assert (report.requeued, report.failed) == ((0,), ())
        requeued = stored(store, old)
        assert (requeued.state, requeued.owner, requeued.attempts, requeued.version) == (
            TrialState.NEW, None, 1, old.version + 1)
        assert stored(store, beaten) == beaten
        assert stored(store, fresh) == fresh

    def test_a_requeued_trial_is_reserved_again_with_one_more_attempt(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given a lease that expired and was requeued
        first = reserve_one(store, exp_key, "w1")
        clock.advance(600)
        store.requeue_stale(exp_key, older_than=clock.now, max_attempts=3)

        # When another worker reserves
        second = store.reserve("w2", [exp_key])

        # Then it gets the same trial on its second attempt
        assert second is not None
        assert (second.tid, second.owner, second.attempts) == (first.tid, "w2", 2)
        assert second.version > first.version

    def test_requeue_stale_fails_a_trial_whose_lease_expired_max_attempts_times(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given a trial whose lease expired once and was requeued, then taken again
        reserve_one(store, exp_key, "w1")
        clock.advance(600)
        assert store.requeue_stale(exp_key, older_than=clock.now, max_attempts=2).requeued
        second = store.reserve("w2", [exp_key])
        assert second is not None

        # When its second lease expires too, with two attempts allowed
        clock.advance(600)
        report = store.requeue_stale(exp_key, older_than=clock.now, max_attempts=2)

        # Then it is failed for good, with a reason and without a loss
        assert (report.requeued, report.failed) == ((), (second.tid,))
        failed = stored(store, second)
        assert failed.state is TrialState.ERROR
        assert failed.result is not None
        assert failed.result.status is ResultStatus.FAIL
        assert failed.result.error
        assert failed.loss is None
        assert failed.version == second.version + 1
        with pytest.raises(LeaseLostError):
            store.finish(second, TrialResult.ok(0.5))

    def test_requeue_stale_reaps_one_experiment_or_all_of_them(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given an expired lease in each of two experiments
        store.ensure_experiment(make_experiment("exp-b"))
        reserve_one(store, exp_key)
        reserve_one(store, "exp-b")
        clock.advance(600)

        # When the first experiment is reaped / Then only its lease is requeued
        assert store.requeue_stale(exp_key, older_than=clock.now, max_attempts=3).requeued
        assert store.state_counts("exp-b")[TrialState.RUNNING] == 1

        # When every experiment is reaped / Then the other lease is requeued too
        report = store.requeue_stale(None, older_than=clock.now, max_attempts=3)
        assert report.requeued == (0,)
        assert store.state_counts("exp-b")[TrialState.NEW] == 1

    # -- reused results ---------------------------------------------------------------

    def test_insert_reused_stores_the_trial_done_with_the_source_result(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given a finished trial
        source = store.finish(reserve_one(store, exp_key),
                              TrialResult.ok(0.3, duration_s=8.0, details={"mean_cer": 0.3}))
        (tid,) = store.next_tids(exp_key, 1)
        suggestion = replace(new_trial(tid), params=source.params)

        # When a suggestion of the same configuration is recorded as reused
        clock.advance(10)
        reused = store.insert_reused(exp_key, suggestion, source)

        # Then it is DONE at once with the source's result, and never reserved
        assert reused == Trial(exp_key, tid, TrialState.DONE, source.params,
                               suggestion.hyperopt_misc, end_time=clock.now,
                               result=source.result, reused_from=source.tid)
        assert reused.config_key == source.config_key
        assert stored(store, reused) == reused
        assert store.reserve("w1", [exp_key]) is None

    def test_insert_reused_refuses_a_source_without_a_loss(
            self, store: TrialStore, exp_key: str) -> None:
        # Given a failed trial
        source = store.finish(reserve_one(store, exp_key), TrialResult.failed("blank"))
        (tid,) = store.next_tids(exp_key, 1)

        # When its result is offered for reuse / Then the store refuses and stores nothing
        with pytest.raises(StoreError):
            store.insert_reused(exp_key, new_trial(tid), source)
        assert [t.tid for t in store.trials(exp_key)] == [source.tid]

    # -- workers ----------------------------------------------------------------------

    def test_an_announced_worker_is_live_until_it_is_not_seen_since(
            self, store: TrialStore, clock: FakeClock) -> None:
        # Given a worker announced now
        info = WorkerInfo("w1", "host-1", 4242, clock.now, "exp-a", ("ocr",))
        store.announce_worker(info)

        # When live workers are listed / Then it counts as seen since up to its last_seen
        assert store.live_workers(seen_since=clock.now - timedelta(minutes=1)) == [info]
        assert store.live_workers(seen_since=clock.now) == [info]
        assert store.live_workers(seen_since=clock.now + timedelta(seconds=1)) == []

    def test_announcing_a_worker_again_refreshes_its_record(
            self, store: TrialStore, clock: FakeClock) -> None:
        # Given a worker announced a minute ago
        store.announce_worker(WorkerInfo("w1", "host-1", 4242, clock.now, None, ("ocr",)))
        clock.advance(60)

        # When it announces itself again, now serving one experiment
        again = WorkerInfo("w1", "host-1", 4242, clock.now, "exp-a", ("ocr", "toy"))
        store.announce_worker(again)

        # Then one record remains: the new one
        assert store.live_workers(seen_since=clock.now - timedelta(hours=1)) == [again]

    def test_a_retired_worker_is_no_longer_live_and_the_others_are(
            self, store: TrialStore, clock: FakeClock) -> None:
        # Given two workers announced now
        first, second = (WorkerInfo(worker_id, "host-1", pid, clock.now, "exp-a", ("ocr",))
                         for worker_id, pid in (("w1", 1), ("w2", 2)))
        store.announce_worker(first)
        store.announce_worker(second)

        # When one stops, and a worker never announced stops too
        store.retire_worker("w1")
        store.retire_worker("never-announced")

        # Then only the other one is live
        assert store.live_workers(seen_since=clock.now - timedelta(minutes=1)) == [second]

    def test_live_workers_of_an_experiment_include_workers_serving_every_experiment(
            self, store: TrialStore, clock: FakeClock) -> None:
        # Given workers serving experiment a, experiment b, and any experiment
        workers = [WorkerInfo(f"w-{key}", "host", 1, clock.now, key, ("ocr",))
                   for key in ("a", "b", None)]
        for info in workers:
            store.announce_worker(info)
        since = clock.now - timedelta(minutes=1)

        # When the workers of experiment a are listed / Then a's and the general one come
        def ids(exp_key: str | None) -> list[str]:
            found = store.live_workers(seen_since=since, exp_key=exp_key)
            return sorted(w.worker_id for w in found)

        assert ids("a") == ["w-None", "w-a"]
        assert ids("unknown") == ["w-None"]
        assert ids(None) == ["w-None", "w-a", "w-b"]

    # -- lifetime ---------------------------------------------------------------------

    def test_everything_stored_survives_close_and_reopen(
            self, store_factory: StoreFactory, clock: FakeClock) -> None:
        # Given a store holding an experiment with a trial in each state, and a worker
        with store_factory(clock=clock) as store:
            store.ensure_experiment(make_experiment("exp-a"))
            queue_trials(store, "exp-a", 4)
            for result in (TrialResult.ok(0.5), TrialResult.failed("blank page")):
                reserved = store.reserve("w1", ["exp-a"])
                assert reserved is not None
                store.finish(reserved, result)
            store.reserve("w1", ["exp-a"])
            store.announce_worker(WorkerInfo("w1", "host", 7, clock.now, "exp-a", ("ocr",)))
            before = (store.list_experiments(), store.trials("exp-a"),
                      store.live_workers(seen_since=clock.now))

        # When it is closed and opened again
        with store_factory(clock=clock) as reopened:
            after = (reopened.list_experiments(), reopened.trials("exp-a"),
                     reopened.live_workers(seen_since=clock.now))

            # Then everything is there, and trial ids go on where they stopped
            assert after == before
            assert [t.state for t in after[1]] == [
                TrialState.DONE, TrialState.ERROR, TrialState.RUNNING, TrialState.NEW]
            assert reopened.next_tids("exp-a", 1) == [4]

    def test_a_store_opened_to_read_only_reads_everything_and_refuses_every_write(
            self, store_factory: StoreFactory, clock: FakeClock) -> None:
        # Given a store holding an experiment, a queued trial, a running one and a worker
        with store_factory(clock=clock) as store:
            store.ensure_experiment(make_experiment("exp-a"))
            queue_trials(store, "exp-a", 1)
            running = reserve_one(store, "exp-a")
            worker = WorkerInfo("w1", "host", 7, clock.now, "exp-a", ("ocr",))
            store.announce_worker(worker)
            before = (store.list_experiments(), store.trials("exp-a"),
                      store.live_workers(seen_since=clock.now))

        # When it is opened to read only
        with store_factory(clock=clock, read_only=True) as reader:
            # Then it reads what is stored
            assert (reader.list_experiments(), reader.trials("exp-a"),
                    reader.live_workers(seen_since=clock.now)) == before
            assert reader.state_counts("exp-a")[TrialState.NEW] == 1
            assert reader.get_experiment("exp-a") == before[0][0]
            # And every writing method is refused, naming the method and the fix
            writes: dict[str, Callable[[], object]] = {
                "ensure_experiment": lambda: reader.ensure_experiment(make_experiment("b")),
                "next_tids": lambda: reader.next_tids("exp-a", 1),
                "enqueue": lambda: reader.enqueue("exp-a", [new_trial(9)]),
                "insert_reused": lambda: reader.insert_reused("exp-a", new_trial(9), running),
                "requeue_stale": lambda: reader.requeue_stale(
                    "exp-a", older_than=clock.now + timedelta(hours=1), max_attempts=3),
                "reserve": lambda: reader.reserve("w2", ["exp-a"]),
                "heartbeat": lambda: reader.heartbeat(running),
                "finish": lambda: reader.finish(running, TrialResult.ok(0.5)),
                "release": lambda: reader.release(running),
                "announce_worker": lambda: reader.announce_worker(worker),
                "retire_worker": lambda: reader.retire_worker(worker.worker_id),
            }
            for name, write in writes.items():
                with pytest.raises(StoreError, match=(
                        f"opened to read only, so {name} is refused; open the store "
                        "without read_only")):
                    write()

        # And nothing changed
        with store_factory(clock=clock) as store:
            assert (store.list_experiments(), store.trials("exp-a"),
                    store.live_workers(seen_since=clock.now)) == before
            assert store.next_tids("exp-a", 1) == [2]
