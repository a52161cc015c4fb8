"""The store contract on writes tried again after a lost reply: enqueue and insert_reused.

A caller that lost the reply of a write tries it again (``shared.retry``); whatever the
first try stored must then read as success, and a trial id holding another trial must
still be refused.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from shared.errors import StoreError
from shared.store.base import TrialStore
from shared.trials import Trial, TrialResult, TrialState

from .contract_support import ContractFixtures, FakeClock, new_trial, reserve_one, stored


class RepeatContract(ContractFixtures):
    """Repeated enqueues and reuses, and trial ids that hold another trial."""

    # -- enqueue ----------------------------------------------------------------------

    def test_repeating_an_enqueue_changes_nothing_stored_even_after_the_trials_moved_on(
            self, store: TrialStore, exp_key: str) -> None:
        # Given trials 0..2 queued in one call; then 0 finished and 1 reserved
        tids = store.next_tids(exp_key, 3)
        batch = [new_trial(tid) for tid in tids]
        store.enqueue(exp_key, batch)
        store.finish(reserve_one_queued(store, exp_key), TrialResult.ok(0.5))
        reserve_one_queued(store, exp_key)
        before = store.trials(exp_key)

        # When the same enqueue is made again, as a retry after a lost reply
        store.enqueue(exp_key, batch)

        # Then it succeeds, and every trial keeps its state, owner and version
        assert store.trials(exp_key) == before
        assert [t.state for t in before] == [TrialState.DONE, TrialState.RUNNING,
                                             TrialState.NEW]

    def test_a_retried_enqueue_whose_first_try_stored_only_the_first_trials_stores_the_rest(
            self, store: TrialStore, exp_key: str) -> None:
        # Given a batch of four whose first try stored the first two (an ordered insert
        # cut short), the first of them already reserved
        tids = store.next_tids(exp_key, 4)
        batch = [new_trial(tid) for tid in tids]
        store.enqueue(exp_key, batch[:2])
        reserved = reserve_one_queued(store, exp_key)

        # When the whole batch is queued again
        store.enqueue(exp_key, batch)

        # Then each trial is stored once, the reserved one untouched, the rest NEW
        trials = store.trials(exp_key)
        assert [t.tid for t in trials] == tids
        assert trials[0] == reserved
        assert [(t.state, t.params) for t in trials[1:]] == [
            (TrialState.NEW, trial.params) for trial in batch[1:]]

    def test_an_enqueue_of_a_tid_holding_another_configuration_names_it_and_stores_none(
            self, store: TrialStore, exp_key: str) -> None:
        # Given trial 0 queued
        tids = store.next_tids(exp_key, 2)
        store.enqueue(exp_key, [new_trial(tids[0])])

        # When a batch of a fresh trial 1 and another configuration as trial 0 is queued
        other = replace(new_trial(tids[0]), params={"other": True})
        with pytest.raises(StoreError, match=(
                f"trial {tids[0]} of experiment 'exp-a' is already in .* with another "
                "configuration .*config_key.*; allocate trial ids with next_tids")):
            store.enqueue(exp_key, [new_trial(tids[1]), other])

        # Then trial 0 is as it was and trial 1 was not stored
        assert [(t.tid, t.params) for t in store.trials(exp_key)] == [
            (tids[0], new_trial(tids[0]).params)]

    def test_a_tid_given_twice_in_one_enqueue_is_refused_naming_it(
            self, store: TrialStore, exp_key: str) -> None:
        # Given a free trial id
        (tid,) = store.next_tids(exp_key, 1)

        # When one call queues two trials with it / Then it is named and nothing stored
        with pytest.raises(StoreError, match=f"trial {tid} of experiment 'exp-a' is given "
                                             "more than once"):
            store.enqueue(exp_key, [new_trial(tid), new_trial(tid)])
        assert store.trials(exp_key) == []

    # -- insert_reused ----------------------------------------------------------------

    def test_repeating_an_insert_reused_returns_the_stored_trial_unchanged(
            self, store: TrialStore, clock: FakeClock, exp_key: str) -> None:
        # Given a reused result recorded for trial 1
        source = store.finish(reserve_one(store, exp_key), TrialResult.ok(0.3))
        (tid,) = store.next_tids(exp_key, 1)
        suggestion = replace(new_trial(tid), params=source.params)
        first = store.insert_reused(exp_key, suggestion, source)

        # When it is recorded again later, as a retry after a lost reply
        clock.advance(30)
        again = store.insert_reused(exp_key, suggestion, source)

        # Then the stored trial comes back as first recorded, stored once
        assert again == first == stored(store, first)
        assert [t.tid for t in store.trials(exp_key)] == [source.tid, tid]

    def test_a_tid_holding_another_trial_is_refused_by_insert_reused_and_enqueue_alike(
            self, store: TrialStore, exp_key: str) -> None:
        # Given trial 1, a reused result of trial 0's configuration
        source = store.finish(reserve_one(store, exp_key), TrialResult.ok(0.3))
        (tid,) = store.next_tids(exp_key, 1)
        suggestion = replace(new_trial(tid), params=source.params)
        reused = store.insert_reused(exp_key, suggestion, source)
        taken = f"trial {tid} of experiment 'exp-a' is already in .* with another"

        # When another configuration is reused under its id, or the same parameters are
        # queued under it / Then both are refused naming it, and trial 1 is unchanged
        with pytest.raises(StoreError, match=taken):
            store.insert_reused(exp_key, new_trial(tid), source)
        with pytest.raises(StoreError, match=taken + r" configuration .*reused_from"):
            store.enqueue(exp_key, [suggestion])
        assert stored(store, reused) == reused


def reserve_one_queued(store: TrialStore, exp_key: str) -> Trial:
    """Reserve the lowest queued trial, which the test has queued already."""
    reserved = store.reserve("w1", [exp_key])
    assert reserved is not None
    return reserved
