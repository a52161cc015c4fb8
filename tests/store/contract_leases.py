"""The store contract on reserving trials and on the leases that writes must hold."""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.errors import IllegalTransitionError, LeaseLostError
from shared.store.base import TrialStore
from shared.trials import ResultStatus, Trial, TrialResult, TrialState

from .contract_support import (
    ContractFixtures,
    CorruptTrial,
    FakeClock,
    StoreFactory,
    assert_each_reserved_once,
    lease_write,
    make_experiment,
    new_trial,
    queue_trials,
    reserve_one,
    reserve_until_empty,
    run_in_processes,
    run_in_threads,
    stored,
)


class LeaseContract(ContractFixtures):
    """Reserving, heartbeats, results and hand-backs."""

    # -- reserving --------------------------------------------------------------------

    def test_reserve_leases_the_lowest_new_tid_to_the_worker(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given trials queued out of order
        tids = store.next_tids(exp_key, 3)
        store.enqueue(exp_key, [new_trial(tid) for tid in reversed(tids)])
        clock.advance(5)

        # When a worker reserves
        reserved = store.reserve("w1", [exp_key])

        # Then it holds trial 0: running, booked now, one attempt, one version on
        assert reserved == Trial(
            exp_key, 0, TrialState.RUNNING, new_trial(0).params, new_trial(0).hyperopt_misc,
            version=1, attempts=1, owner="w1", book_time=clock.now, refresh_time=clock.now)
        assert stored(store, reserved) == reserved
        assert [t.tid for t in store.trials(exp_key, states=[TrialState.NEW])] == [1, 2]

    def test_reserve_returns_none_when_nothing_is_queued(
            self, store: TrialStore, exp_key: str) -> None:
        # Given one trial, already reserved
        queue_trials(store, exp_key, 1)
        assert store.reserve("w1", [exp_key]) is not None

        # When another reservation is asked for / Then there is none
        assert store.reserve("w2", [exp_key]) is None
        assert store.reserve("w2") is None

    def test_reserve_takes_only_trials_of_the_experiments_named(
            self, store: TrialStore, exp_key: str) -> None:
        # Given a queued trial in each of two experiments
        store.ensure_experiment(make_experiment("exp-b"))
        queue_trials(store, exp_key, 1)
        queue_trials(store, "exp-b", 1)

        # When workers reserve naming no experiment, or ones without queued trials
        # Then they get nothing
        assert store.reserve("w1", []) is None
        assert store.reserve("w1", ["not-there"]) is None

        # When a worker names the second experiment / Then it gets that one's trial
        reserved = store.reserve("w1", ["exp-b", "not-there"])
        assert reserved is not None
        assert (reserved.exp_key, reserved.tid) == ("exp-b", 0)
        assert store.state_counts(exp_key)[TrialState.NEW] == 1

    def test_reserve_without_experiment_keys_takes_from_any_experiment(
            self, store: TrialStore, exp_key: str) -> None:
        # Given queued trials in two experiments
        store.ensure_experiment(make_experiment("exp-b"))
        queue_trials(store, exp_key, 2)
        queue_trials(store, "exp-b", 1)

        # When a worker reserves until nothing is left, naming no experiment
        taken = []
        while (trial := store.reserve("w1")) is not None:
            taken.append((trial.exp_key, trial.tid))

        # Then it got every trial once
        assert sorted(taken) == [(exp_key, 0), (exp_key, 1), ("exp-b", 0)]

    def test_reserve_from_several_threads_hands_out_each_trial_once(
            self, store: TrialStore, exp_key: str) -> None:
        self._skip_unless_threads()
        # Given 80 queued trials
        queue_trials(store, exp_key, 80)

        # When threads sharing one store reserve at once until nothing is left
        outputs = run_in_threads(store, reserve_until_empty, exp_key)

        # Then every trial went to exactly one of them, the one the store names as owner
        assert_each_reserved_once(store, exp_key, outputs, 80)

    def test_reserve_from_several_processes_hands_out_each_trial_once(
            self, store: TrialStore, store_factory: StoreFactory, exp_key: str) -> None:
        self._skip_unless_processes()
        # Given 200 queued trials
        queue_trials(store, exp_key, 200)

        # When processes, each with its own store, reserve at once until nothing is left
        outputs = run_in_processes(store_factory, reserve_until_empty, exp_key)

        # Then every trial went to exactly one of them, the one the store names as owner
        assert_each_reserved_once(store, exp_key, outputs, 200)

    # -- leases -----------------------------------------------------------------------

    def test_a_trial_whose_document_is_unreadable_is_failed_and_the_next_one_reserved(
            self, store: TrialStore, exp_key: str, corrupt_trial: CorruptTrial) -> None:
        # Given trials 0, 1 and 2 queued, and trial 0's stored document damaged
        queue_trials(store, exp_key, 3)
        corrupt_trial(exp_key, 0)

        # When two workers reserve
        first = store.reserve("w1", [exp_key])
        second = store.reserve("w2", [exp_key])

        # Then they get trials 1 and 2; trial 0 is failed, and offered to nobody again
        assert (first and first.tid, second and second.tid) == (1, 2)
        assert store.reserve("w3", [exp_key]) is None
        counts = store.state_counts(exp_key)
        assert (counts[TrialState.ERROR], counts[TrialState.RUNNING]) == (1, 2)

        # And it reads as a failed trial of the worker that found it, of a later version,
        # with no parameters and an error naming the damage and where the document is kept
        (failed,) = store.trials(exp_key, tids=[0])
        assert (failed.state, failed.owner, failed.attempts, failed.params, failed.loss) == (
            TrialState.ERROR, "w1", 1, {}, None)
        assert failed.version > 0
        assert failed.result is not None and failed.result.error is not None
        assert failed.result.error.startswith(
            "trial 0 of experiment 'exp-a': field 'spec' is ")
        assert failed.result.error.endswith("kept in its field unreadable_doc")
        assert [t.tid for t in store.trials(exp_key)] == [0, 1, 2]

    def test_heartbeat_refreshes_the_lease_and_keeps_its_version(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given a reserved trial
        reserved = reserve_one(store, exp_key)

        # When its worker beats 30 s later
        clock.advance(30)
        beaten = store.heartbeat(reserved)

        # Then only refresh_time moved; the lease is unchanged
        assert beaten == replace(reserved, refresh_time=clock.now)
        assert stored(store, reserved) == beaten
        assert store.heartbeat(beaten).version == reserved.version

    def test_finish_with_an_ok_result_makes_the_trial_done(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given a reserved trial
        reserved = reserve_one(store, exp_key)
        result = TrialResult.ok(0.25, duration_s=12.5,
                                details={"images": {"a.png": {"cer": 0.2}}, "mean_cer": 0.25})

        # When its worker records an OK result
        clock.advance(20)
        finished = store.finish(reserved, result)

        # Then it is DONE with that result and loss, ended now, one version on
        assert finished == replace(reserved, state=TrialState.DONE, result=result,
                                   end_time=clock.now, version=reserved.version + 1)
        assert finished.loss == 0.25
        assert stored(store, reserved) == finished

    def test_finish_with_a_fail_result_makes_the_trial_error(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given a reserved trial
        reserved = reserve_one(store, exp_key)

        # When its worker records a failure
        finished = store.finish(reserved, TrialResult.failed("objective returned NaN"))

        # Then it is ERROR with the reason and no loss
        assert finished.state is TrialState.ERROR
        assert finished.result is not None
        assert finished.result.status is ResultStatus.FAIL
        assert finished.result.error == "objective returned NaN"
        assert finished.loss is None
        assert stored(store, reserved) == finished

    def test_a_result_is_recorded_exactly_once(
            self, store: TrialStore, exp_key: str) -> None:
        # Given a trial whose result was recorded
        reserved = reserve_one(store, exp_key)
        finished = store.finish(reserved, TrialResult.ok(0.25))

        # When the same lease records another result / Then it is refused
        with pytest.raises(LeaseLostError):
            store.finish(reserved, TrialResult.ok(0.1))
        with pytest.raises(LeaseLostError):
            store.finish(reserved, TrialResult.failed("late failure"))

        # And the first result stands
        assert stored(store, reserved) == finished

    @pytest.mark.parametrize("write", ["heartbeat", "finish", "release"])
    def test_a_write_by_another_owner_raises_lease_lost_and_changes_nothing(
            self, store: TrialStore, exp_key: str, write: str) -> None:
        # Given a trial reserved by w1
        reserved = reserve_one(store, exp_key, "w1")

        # When a write claims it for w2 / Then it is refused and the trial is untouched
        with pytest.raises(LeaseLostError):
            lease_write(store, write, replace(reserved, owner="w2"))
        assert stored(store, reserved) == reserved

    @pytest.mark.parametrize("write", ["heartbeat", "finish", "release"])
    def test_a_write_with_a_lease_voided_by_requeueing_raises_lease_lost_and_changes_nothing(
            self, store: TrialStore, clock: FakeClock, exp_key: str, write: str) -> None:
        # Given a lease that expired and was requeued, then taken again by the same worker
        stale = reserve_one(store, exp_key, "w1")
        clock.advance(600)
        store.requeue_stale(exp_key, older_than=clock.now, max_attempts=5)
        current = store.reserve("w1", [exp_key])
        assert current is not None
        assert current.owner == stale.owner

        # When the old lease writes / Then it is refused and the current lease is untouched
        with pytest.raises(LeaseLostError):
            lease_write(store, write, stale)
        assert stored(store, stale) == current

    def test_a_write_to_a_trial_not_in_the_store_raises_lease_lost(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given a lease on a trial id the experiment never stored
        ghost = Trial(exp_key, 42, TrialState.RUNNING, {}, {}, version=1, attempts=1,
                      owner="w1", book_time=clock.now, refresh_time=clock.now)

        # When its worker beats or records / Then the lease is lost
        with pytest.raises(LeaseLostError):
            store.heartbeat(ghost)
        with pytest.raises(LeaseLostError):
            store.finish(ghost, TrialResult.ok(0.5))
        assert store.trials(exp_key) == []

    def test_release_hands_the_trial_back_new_with_the_attempt_undone(
            self, store: TrialStore, exp_key: str) -> None:
        # Given a reserved trial
        reserved = reserve_one(store, exp_key)

        # When its worker hands it back
        released = store.release(reserved)

        # Then it is NEW, nobody's, its attempt undone, one version on
        assert (released.state, released.owner, released.attempts, released.version) == (
            TrialState.NEW, None, 0, reserved.version + 1)
        assert stored(store, reserved) == released

        # And the next reservation counts as its first attempt
        again = store.reserve("w2", [exp_key])
        assert again is not None
        assert (again.tid, again.attempts, again.owner) == (reserved.tid, 1, "w2")

    @pytest.mark.parametrize(("state", "write"), [
        (TrialState.NEW, "heartbeat"), (TrialState.NEW, "finish"),
        (TrialState.NEW, "release"), (TrialState.DONE, "heartbeat"),
        (TrialState.DONE, "finish"), (TrialState.DONE, "release")])
    def test_a_write_for_a_trial_that_is_not_running_raises_illegal_transition(
            self, store: TrialStore, exp_key: str, state: TrialState, write: str) -> None:
        # Given a trial as the store last returned it in a state that holds no lease
        queued = queue_trials(store, exp_key, 1)
        if state is TrialState.NEW:
            (trial,) = store.trials(exp_key, tids=queued)
        else:
            trial = store.finish(reserve_one(store, exp_key), TrialResult.ok(0.5))

        # When a worker writes with it / Then the write is refused and nothing changes
        before = store.trials(exp_key)
        with pytest.raises(IllegalTransitionError):
            lease_write(store, write, trial)
        assert store.trials(exp_key) == before
