"""The store contract on experiments, trial ids, queueing and reading trials."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from shared.errors import ExperimentMismatchError, UnknownExperimentError
from shared.store.base import TrialStore
from shared.trials import Trial, TrialResult, TrialState

from .contract_support import (
    PROCESSES,
    THREADS,
    ContractFixtures,
    FakeClock,
    StoreFactory,
    allocate_tids,
    make_experiment,
    new_trial,
    queue_trials,
    run_in_processes,
    run_in_threads,
)


class ExperimentContract(ContractFixtures):
    """Experiments, trial ids, queueing and reading."""

    # -- experiments ------------------------------------------------------------------

    def test_ensure_experiment_creates_it_stamped_by_the_clock(
            self, store: TrialStore, clock: FakeClock) -> None:
        # Given an empty store
        # When an experiment is ensured
        created = store.ensure_experiment(make_experiment("exp-a"))

        # Then it is stored as given, created now
        assert created == replace(make_experiment("exp-a"), created_at=clock.now)
        assert store.get_experiment("exp-a") == created

    def test_ensure_experiment_returns_the_stored_one_when_only_data_dir_differs(
            self, store: TrialStore, clock: FakeClock) -> None:
        # Given an experiment stored with its dataset at one path
        first = store.ensure_experiment(make_experiment("exp-a", data_dir="/mnt/a"))
        clock.advance(60)

        # When it is ensured again with the dataset mounted elsewhere
        again = store.ensure_experiment(make_experiment("exp-a", data_dir="/mnt/b"))

        # Then the stored experiment comes back unchanged
        assert again == first
        assert store.list_experiments() == [first]

    def test_ensure_experiment_names_each_difference_when_the_objective_differs(
            self, store: TrialStore) -> None:
        # Given a stored experiment
        first = store.ensure_experiment(make_experiment("exp-a", version="1", lang="eng"))

        # When it is ensured with another objective version and language
        other = make_experiment("exp-a", version="2", lang="deu")
        with pytest.raises(ExperimentMismatchError) as raised:
            store.ensure_experiment(other)

        # Then the error names both differences and the stored experiment is kept
        differences = first.objective.differences(other.objective)
        assert len(differences) == 2
        for difference in differences:
            assert difference in str(raised.value)
        assert store.get_experiment("exp-a") == first

    def test_list_experiments_returns_them_oldest_first(
            self, store: TrialStore, clock: FakeClock) -> None:
        # Given two experiments created one after the other, the later one sorting first
        older = store.ensure_experiment(make_experiment("exp-z"))
        clock.advance(1)
        newer = store.ensure_experiment(make_experiment("exp-a"))

        # When they are listed / Then the older comes first
        assert store.list_experiments() == [older, newer]

    @pytest.mark.parametrize("call", [
        "get_experiment", "next_tids", "enqueue", "insert_reused", "trials", "state_counts",
        "requeue_stale"])
    def test_a_call_naming_an_unknown_experiment_raises_unknown_experiment_error(
            self, store: TrialStore, clock: FakeClock, call: str) -> None:
        # Given a store without the experiment "missing"
        source = Trial("missing", 0, TrialState.DONE, {"a": 1}, {},
                       result=TrialResult.ok(0.5))
        calls: dict[str, Callable[[], object]] = {
            "get_experiment": lambda: store.get_experiment("missing"),
            "next_tids": lambda: store.next_tids("missing", 1),
            "enqueue": lambda: store.enqueue("missing", [new_trial(0)]),
            "insert_reused": lambda: store.insert_reused("missing", new_trial(1), source),
            "trials": lambda: store.trials("missing"),
            "state_counts": lambda: store.state_counts("missing"),
            "requeue_stale": lambda: store.requeue_stale(
                "missing", older_than=clock.now, max_attempts=3),
        }

        # When the call names it / Then it raises, and nothing is created
        with pytest.raises(UnknownExperimentError, match="missing"):
            calls[call]()
        assert store.list_experiments() == []

    # -- trial ids --------------------------------------------------------------------

    def test_next_tids_are_consecutive_from_zero_and_never_repeat(
            self, store: TrialStore, exp_key: str) -> None:
        # Given a new experiment
        # When ids are allocated in several batches, one of them empty
        batches = [store.next_tids(exp_key, n) for n in (3, 0, 1, 2)]

        # Then they run on from 0 without a gap or a repeat
        assert batches == [[0, 1, 2], [], [3], [4, 5]]

    def test_next_tids_count_separately_for_each_experiment(
            self, store: TrialStore, exp_key: str) -> None:
        # Given a second experiment beside one that has handed out ids
        store.next_tids(exp_key, 5)
        store.ensure_experiment(make_experiment("exp-b"))

        # When the second allocates / Then it starts from 0
        assert store.next_tids("exp-b", 2) == [0, 1]

    def test_next_tids_from_several_threads_are_unique_and_consecutive(
            self, store: TrialStore, exp_key: str) -> None:
        self._skip_unless_threads()
        # Given threads that each allocate ten batches of three at once
        batches = [b for out in run_in_threads(store, allocate_tids, exp_key).values()
                   for b in out]

        # Then each batch is consecutive and together they cover every id once
        assert all(batch == list(range(batch[0], batch[0] + 3)) for batch in batches)
        assert sorted(tid for batch in batches for tid in batch) == list(range(THREADS * 30))

    def test_next_tids_from_several_processes_are_unique_and_consecutive(
            self, store: TrialStore, store_factory: StoreFactory, exp_key: str) -> None:
        self._skip_unless_processes()
        # Given processes that each allocate ten batches of three at once, each its own store
        outputs = run_in_processes(store_factory, allocate_tids, exp_key)
        batches = [batch for out in outputs.values() for batch in out]

        # Then each batch is consecutive and together they cover every id once
        assert all(batch == list(range(batch[0], batch[0] + 3)) for batch in batches)
        assert sorted(tid for batch in batches for tid in batch) == list(
            range(PROCESSES * 30))

    # -- queueing and reading ---------------------------------------------------------

    def test_enqueued_trials_are_new_with_their_params_and_hyperopt_misc(
            self, store: TrialStore, exp_key: str) -> None:
        # Given allocated ids
        tids = store.next_tids(exp_key, 3)

        # When trials are queued for them
        store.enqueue(exp_key, [new_trial(tid) for tid in tids])

        # Then they are stored NEW, unowned, at version 0, without attempts or result
        expected = [Trial(exp_key, t, TrialState.NEW, new_trial(t).params,
                          new_trial(t).hyperopt_misc) for t in tids]
        assert store.trials(exp_key) == expected
        assert [t.config_key for t in expected] == [new_trial(t).config_key for t in tids]

    def test_trials_filter_by_state_and_tid_in_tid_order(
            self, store: TrialStore, exp_key: str) -> None:
        # Given trials 0..4: 0 finished, 1 running, 2..4 queued
        queue_trials(store, exp_key, 5)
        first = store.reserve("w1", [exp_key])
        assert first is not None
        store.finish(first, TrialResult.ok(0.5))
        store.reserve("w1", [exp_key])

        # When they are read with filters / Then only the matching ones come, by tid
        def tids(**filters: Any) -> list[int]:
            return [t.tid for t in store.trials(exp_key, **filters)]

        assert tids() == [0, 1, 2, 3, 4]
        assert tids(states=[TrialState.RUNNING]) == [1]
        assert tids(states={TrialState.DONE, TrialState.NEW}) == [0, 2, 3, 4]
        assert tids(tids=[4, 0]) == [0, 4]
        assert tids(states=[TrialState.NEW], tids=[1, 3, 4]) == [3, 4]
        assert tids(states=[]) == []

    def test_state_counts_count_every_state_including_empty_ones(
            self, store: TrialStore, exp_key: str) -> None:
        # Given an empty experiment / Then every state counts zero
        assert store.state_counts(exp_key) == dict.fromkeys(TrialState, 0)

        # Given three queued trials, one reserved and failed
        queue_trials(store, exp_key, 3)
        reserved = store.reserve("w1", [exp_key])
        assert reserved is not None
        store.finish(reserved, TrialResult.failed("unreadable image"))

        # Then the counts follow
        assert store.state_counts(exp_key) == {
            TrialState.NEW: 2, TrialState.RUNNING: 0, TrialState.DONE: 0,
            TrialState.ERROR: 1}
